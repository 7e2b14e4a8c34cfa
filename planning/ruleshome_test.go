package planning_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestPermissionRulesLiveInPlanning keeps "may this actor do this, and if
// not why" in planning (permission.go and the aggregates' methods): the
// packages around it ask a May… rule and pass its error on. A role test
// (HasRole, or a Can… predicate on the actor's roles) or a 403 made up in
// the store, the api or notify is a rule living outside its home, the way
// the store's role checks once answered 409 before 403. The only 403s the
// api makes itself are transport ones: the CSRF header and the Origin of a
// cookie-authenticated write.
func TestPermissionRulesLiveInPlanning(t *testing.T) {
	transport := map[string]bool{"authenticateSession": true}
	// Scope predicates answer what an actor sees, asked row by row while
	// reading; the rule itself is the actor's method.
	scope := map[string]bool{"CanSeeOrgPath": true}
	for _, dir := range []string{"sqlstore", "../api", "../notify"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					name := sel.Sel.Name
					switch {
					case name == "HasRole",
						strings.HasPrefix(name, "Can") && len(name) > 3 && name[3] >= 'A' && name[3] <= 'Z' && !scope[name] && isActorCall(sel):
						t.Errorf("%s: %s asks %s: ask a May… rule in planning instead", fset.Position(call.Pos()), fd.Name.Name, name)
					case name == "Errorf" && len(call.Args) > 0 && isForbidden(call.Args[0]) && !transport[fd.Name.Name]:
						t.Errorf("%s: %s makes its own 403: the refusal and its reason belong to a May… rule in planning", fset.Position(call.Pos()), fd.Name.Name)
					}
					return true
				})
			}
		}
	}
}

// isForbidden reports whether e is planning.EFORBIDDEN.
func isForbidden(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "EFORBIDDEN"
}

// isActorCall reports whether sel is a method called on something that
// reads as an actor (a, actor, w.actor, …): Can… methods of other types,
// such as a state's CanMove, are state rules asked of their owner.
func isActorCall(sel *ast.SelectorExpr) bool {
	switch x := sel.X.(type) {
	case *ast.Ident:
		return x.Name == "a" || strings.Contains(strings.ToLower(x.Name), "actor")
	case *ast.SelectorExpr:
		return strings.Contains(strings.ToLower(x.Sel.Name), "actor")
	}
	return false
}
