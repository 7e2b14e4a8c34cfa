// Command build makes the console's committed assets: it writes the
// TypeScript types of the API's schemas from the OpenAPI document (so the
// console is typed against the public contract), then bundles web/src with
// esbuild, pinned in go.mod and used as a Go library, into web/dist. Node is
// not needed. Run it from anywhere in the module:
//
//	(cd web && npm ci)                      # the pinned chart library, once
//	go run ./web/build                      # regenerate web/src/api.gen.ts and web/dist
//	go run ./web/build -out DIR -types FILE # write elsewhere (CI compares)
//
// Packages the sources import (uPlot) are resolved from web/node_modules,
// installed from web/package-lock.json; the licence of every package in
// the bundle is written beside it and linked from index.html.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	esbuild "github.com/evanw/esbuild/pkg/api"

	"github.com/cascade-planning/cascade/api"
)

func main() {
	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	out := flag.String("out", filepath.Join(root, "web", "dist"), "directory to write the bundle to (replaced)")
	types := flag.String("types", filepath.Join(root, "web", "src", "api.gen.ts"), "file to write the API types to")
	flag.Parse()
	ts, err := apiTypes()
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*types, ts, 0o644); err != nil {
		fail(err)
	}
	if err := bundle(root, *out, *types); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "web/build:", err)
	os.Exit(1)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// bundle builds web/src/main.ts (and the CSS it imports) into out/assets
// with content-hashed names, and writes out/index.html naming them. The
// types file, when written elsewhere (CI), stands in for the committed one.
func bundle(root, out, types string) error {
	src := filepath.Join(root, "web", "src")
	opts := esbuild.BuildOptions{
		EntryPoints:       []string{filepath.Join(src, "main.ts")},
		Bundle:            true,
		Write:             false,
		Outdir:            filepath.Join(out, "assets"),
		EntryNames:        "[name]-[hash]",
		AssetNames:        "[name]-[hash]",
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Target:            esbuild.ES2020,
		Format:            esbuild.FormatESModule,
		Platform:          esbuild.PlatformBrowser,
		LegalComments:     esbuild.LegalCommentsNone,
		Charset:           esbuild.CharsetUTF8,
		AbsWorkingDir:     root,
		LogLevel:          esbuild.LogLevelWarning,
		Metafile:          true,
	}
	if abs, _ := filepath.Abs(types); abs != filepath.Join(src, "api.gen.ts") {
		opts.Plugins = []esbuild.Plugin{{Name: "types", Setup: func(b esbuild.PluginBuild) {
			b.OnResolve(esbuild.OnResolveOptions{Filter: `api\.gen$`}, func(esbuild.OnResolveArgs) (esbuild.OnResolveResult, error) {
				return esbuild.OnResolveResult{Path: abs}, nil
			})
		}}}
	}
	res := esbuild.Build(opts)
	if len(res.Errors) > 0 {
		var b strings.Builder
		for _, m := range res.Errors {
			loc := ""
			if m.Location != nil {
				loc = fmt.Sprintf("%s:%d: ", m.Location.File, m.Location.Line)
			}
			fmt.Fprintf(&b, "\n  %s%s", loc, m.Text)
			if strings.HasPrefix(m.Text, "Could not resolve") {
				b.WriteString(" (run `npm ci` in web first)")
			}
		}
		return fmt.Errorf("esbuild:%s", b.String())
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "assets"), 0o755); err != nil {
		return err
	}
	var js, css string
	for _, f := range res.OutputFiles {
		name := filepath.Base(f.Path)
		switch filepath.Ext(name) {
		case ".js":
			js = name
		case ".css":
			css = name
		}
		if err := os.WriteFile(filepath.Join(out, "assets", name), f.Contents, 0o644); err != nil {
			return err
		}
	}
	if js == "" || css == "" {
		return fmt.Errorf("esbuild wrote no JavaScript or no CSS")
	}
	notice, err := licences(root, res.Metafile)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(notice)
	licName := "third-party-licences-" + strings.ToUpper(hex.EncodeToString(sum[:4])) + ".txt"
	if err := os.WriteFile(filepath.Join(out, "assets", licName), notice, 0o644); err != nil {
		return err
	}
	html, err := os.ReadFile(filepath.Join(src, "index.html"))
	if err != nil {
		return err
	}
	html = bytes.ReplaceAll(html, []byte("{{LICENCES}}"), []byte("/assets/"+licName))
	html = bytes.ReplaceAll(html, []byte("{{JS}}"), []byte("/assets/"+js))
	html = bytes.ReplaceAll(html, []byte("{{CSS}}"), []byte("/assets/"+css))
	return os.WriteFile(filepath.Join(out, "index.html"), html, 0o644)
}

// licences gathers the licence of every npm package the bundle took code
// from, as the packages' MIT, BSD and similar licences ask of copies.
func licences(root, metafile string) ([]byte, error) {
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(metafile), &meta); err != nil {
		return nil, err
	}
	pkgs := map[string]bool{}
	for in := range meta.Inputs {
		_, rest, ok := strings.Cut(filepath.ToSlash(in), "node_modules/")
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, "/", 3)
		name := parts[0]
		if strings.HasPrefix(name, "@") && len(parts) > 1 {
			name += "/" + parts[1]
		}
		pkgs[name] = true
	}
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("The Cascade console bundles code of these packages, under these licences.\n")
	for _, n := range names {
		dir := filepath.Join(root, "web", "node_modules", filepath.FromSlash(n))
		var pj struct{ Version, License string }
		if raw, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
			_ = json.Unmarshal(raw, &pj)
		}
		var text []byte
		for _, f := range []string{"LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE"} {
			if t, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				text = t
				break
			}
		}
		if text == nil {
			return nil, fmt.Errorf("package %s has no LICENSE file to ship with the bundle", n)
		}
		fmt.Fprintf(&b, "\n== %s %s (%s)\n\n%s", n, pj.Version, pj.License, bytes.TrimSpace(text))
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// apiTypes renders every schema of the OpenAPI document as a TypeScript
// interface: required properties are required, nullable ones admit null,
// enums become unions of literals.
func apiTypes() ([]byte, error) {
	doc, err := api.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var generic struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("// Generated by `go run ./web/build` from the API's OpenAPI document. Do not edit.\n")
	names := make([]string, 0, len(generic.Components.Schemas))
	for n := range generic.Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := generic.Components.Schemas[n]
		if desc, ok := s["description"].(string); ok {
			fmt.Fprintf(&b, "\n/** %s */\n", strings.ReplaceAll(desc, "*/", "* /"))
		} else {
			b.WriteString("\n")
		}
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			fmt.Fprintf(&b, "export type %s = %s;\n", n, tsType(s))
			continue
		}
		required := map[string]bool{}
		if rs, ok := s["required"].([]any); ok {
			for _, r := range rs {
				required[r.(string)] = true
			}
		}
		fmt.Fprintf(&b, "export interface %s {\n", n)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			opt := "?"
			if required[k] {
				opt = ""
			}
			fmt.Fprintf(&b, "  %s%s: %s;\n", k, opt, tsType(props[k].(map[string]any)))
		}
		b.WriteString("}\n")
	}
	return b.Bytes(), nil
}

func tsType(s map[string]any) string {
	t := tsBase(s)
	if n, _ := s["nullable"].(bool); n {
		t += " | null"
	}
	return t
}

func tsBase(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		return ref[strings.LastIndex(ref, "/")+1:]
	}
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		return tsBase(all[0].(map[string]any))
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		var lits []string
		for _, e := range enum {
			j, _ := json.Marshal(e)
			lits = append(lits, string(j))
		}
		return strings.Join(lits, " | ")
	}
	switch s["type"] {
	case "string":
		return "string"
	case "integer", "number":
		return "number"
	case "boolean":
		return "boolean"
	case "array":
		if items, ok := s["items"].(map[string]any); ok {
			inner := tsType(items)
			if strings.Contains(inner, " ") {
				inner = "(" + inner + ")"
			}
			return inner + "[]"
		}
		return "unknown[]"
	case "object":
		return "Record<string, unknown>"
	}
	return "unknown"
}
