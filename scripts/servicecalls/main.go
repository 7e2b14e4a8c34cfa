// Command servicecalls counts, for every HTTP handler in a directory (an
// echo handler: a Server method taking one echo.Context), the service
// methods (s.svcs.X.Y(…) or svcs.X.Y(…)) it reaches through the Server's
// own methods, the resolver's and the package's functions. It is a static
// count of distinct methods: one called in a loop (the pages of a
// workbook, the polls of a stream) or on two branches counts once, and a
// service method passed as a value is not counted.
//
//	go run ./scripts/servicecalls api      # the histogram
//	go run ./scripts/servicecalls api -v   # and every handler: operations, lookups, name
//
// A lookup is a call of the Resolve service: the one translation of a
// request's codes to ids (and of an answer's ids to codes) at the edge.
// Every other service call is an operation.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: servicecalls DIR [-v]")
		os.Exit(2)
	}
	rows, err := count(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opsHist, lookHist := map[int]int{}, map[int]int{}
	for _, r := range rows {
		opsHist[r.ops]++
		lookHist[r.looks]++
		if len(os.Args) > 2 {
			fmt.Printf("%3d %3d %s\n", r.ops, r.looks, r.name)
		}
	}
	fmt.Printf("handlers: %d\n", len(rows))
	histogram("operations (service methods other than Resolve) per handler", opsHist)
	histogram("lookups (Resolve) per handler", lookHist)
}

// handler is one handler's count.
type handler struct {
	name       string
	ops, looks int
}

// count counts the handlers of the Go package in dir, most operations
// first.
func count(dir string) ([]handler, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s (%v)", dir, err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				name := fd.Name.Name
				if fd.Recv != nil {
					name = recvName(fd) + "." + name
				}
				funcs[name] = fd
			}
		}
	}
	// direct: service call sites in a function; callees: own funcs it calls
	// direct and lookups: the service methods (Service.Method) a function
	// calls itself
	direct := map[string]map[string]bool{}
	lookups := map[string]map[string]bool{}
	add := func(m map[string]map[string]bool, fn, method string) {
		if m[fn] == nil {
			m[fn] = map[string]bool{}
		}
		m[fn][method] = true
	}
	callees := map[string][]string{}
	for name, fd := range funcs {
		ast.Inspect(fd, func(n ast.Node) bool {
			ce, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			// A planning function handed the services (one orchestration
			// in the domain) and a service method handed over as a value
			// are operations too.
			for _, arg := range ce.Args {
				if fn := exprName(ce.Fun); isSvcs(arg) && strings.HasPrefix(fn, "planning.") {
					add(direct, name, fn)
				} else if sel, ok := arg.(*ast.SelectorExpr); ok {
					if inner, ok := sel.X.(*ast.SelectorExpr); ok && isSvcs(inner.X) {
						add(direct, name, inner.Sel.Name+"."+sel.Sel.Name)
					}
				}
			}
			if sel, ok := ce.Fun.(*ast.SelectorExpr); ok {
				if inner, ok := sel.X.(*ast.SelectorExpr); ok {
					svcs, ok := inner.X.(*ast.SelectorExpr)
					isSvcs := ok && svcs.Sel.Name == "svcs"
					if id, ok := inner.X.(*ast.Ident); ok && id.Name == "svcs" {
						isSvcs = true
					}
					if isSvcs {
						if method := inner.Sel.Name + "." + sel.Sel.Name; inner.Sel.Name == "Resolve" {
							add(lookups, name, method)
						} else {
							add(direct, name, method)
						}
						return true
					}
				}
				// methods of the Server (on s) and of the resolver
				if id, ok := sel.X.(*ast.Ident); ok {
					if id.Name == "s" {
						if _, ok := funcs["Server."+sel.Sel.Name]; ok {
							callees[name] = append(callees[name], "Server."+sel.Sel.Name)
						}
					} else if _, ok := funcs["resolver."+sel.Sel.Name]; ok {
						callees[name] = append(callees[name], "resolver."+sel.Sel.Name)
					}
				}
			}
			if id, ok := ce.Fun.(*ast.Ident); ok {
				if _, ok := funcs[id.Name]; ok {
					callees[name] = append(callees[name], id.Name)
				}
			}
			return true
		})
	}
	// reached is the service methods in count that function n and the
	// functions it calls reach.
	var reached func(count map[string]map[string]bool, n string, seen, out map[string]bool)
	reached = func(count map[string]map[string]bool, n string, seen, out map[string]bool) {
		if seen[n] {
			return
		}
		seen[n] = true
		for m := range count[n] {
			out[m] = true
		}
		for _, c := range callees[n] {
			reached(count, c, seen, out)
		}
	}
	total := func(count map[string]map[string]bool, n string) int {
		out := map[string]bool{}
		reached(count, n, map[string]bool{}, out)
		return len(out)
	}
	var rows []handler
	for name, fd := range funcs {
		// handlers: func (s *Server) x(c echo.Context) error
		if fd.Recv == nil || fd.Type.Params == nil || len(fd.Type.Params.List) != 1 {
			continue
		}
		if se, ok := fd.Type.Params.List[0].Type.(*ast.SelectorExpr); !ok || se.Sel.Name != "Context" {
			continue
		}
		if x, ok := fd.Type.Params.List[0].Type.(*ast.SelectorExpr).X.(*ast.Ident); !ok || x.Name != "echo" {
			continue
		}
		rows = append(rows, handler{name, total(direct, name), total(lookups, name)})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.ops != b.ops {
			return a.ops > b.ops
		}
		if a.looks != b.looks {
			return a.looks > b.looks
		}
		return a.name < b.name
	})
	return rows, nil
}

// histogram prints "title: k→handlers …" in ascending k.
func histogram(title string, h map[int]int) {
	var ks []int
	for k := range h {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	fmt.Printf("%s:", title)
	for _, k := range ks {
		fmt.Printf(" %d→%d", k, h[k])
	}
	fmt.Println()
}

// isSvcs reports whether e is the services: svcs or s.svcs.
func isSvcs(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "svcs"
	case *ast.SelectorExpr:
		return x.Sel.Name == "svcs"
	}
	return false
}

// exprName is a called function's name: f or pkg.f.
func exprName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprName(x.X) + "." + x.Sel.Name
	}
	return "?"
}

func recvName(fd *ast.FuncDecl) string {
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}
