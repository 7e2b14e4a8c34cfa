// Command servicecalls counts, for every HTTP handler in a directory (an
// echo handler: a Server method taking one echo.Context), the service call
// sites (s.svcs.X.Y(…) or svcs.X.Y(…)) it reaches through the Server's own
// methods, the resolver's and the package's functions. It is a static
// count: a call in a loop counts once, and a service method passed as a
// value is not counted.
//
//	go run ./scripts/servicecalls api      # the histogram
//	go run ./scripts/servicecalls api -v   # and every handler
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
	dir := os.Args[1]
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	funcs := map[string]*ast.FuncDecl{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			panic(err)
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
	direct := map[string]int{}
	callees := map[string][]string{}
	for name, fd := range funcs {
		ast.Inspect(fd, func(n ast.Node) bool {
			ce, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := ce.Fun.(*ast.SelectorExpr); ok {
				if inner, ok := sel.X.(*ast.SelectorExpr); ok {
					if svcs, ok := inner.X.(*ast.SelectorExpr); ok && svcs.Sel.Name == "svcs" {
						direct[name]++
						return true
					}
					if id, ok := inner.X.(*ast.Ident); ok && id.Name == "svcs" {
						direct[name]++
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
	var total func(string, map[string]bool) int
	total = func(n string, seen map[string]bool) int {
		if seen[n] {
			return 0
		}
		seen[n] = true
		t := direct[n]
		for _, c := range callees[n] {
			t += total(c, seen)
		}
		return t
	}
	type row struct {
		name string
		n    int
	}
	var rows []row
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
		rows = append(rows, row{name, total(name, map[string]bool{})})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].name < rows[j].name
	})
	hist := map[int]int{}
	for _, r := range rows {
		hist[r.n]++
		if len(os.Args) > 2 {
			fmt.Printf("%3d %s\n", r.n, r.name)
		}
	}
	var ks []int
	for k := range hist {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	fmt.Printf("handlers: %d; by service call sites reached:", len(rows))
	for _, k := range ks {
		fmt.Printf(" %d→%d", k, hist[k])
	}
	fmt.Println()
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
