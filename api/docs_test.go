package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// swagArgs is the one command that generates docs/ (see gen.go), run from
// the repository root.
var swagArgs = []string{"tool", "swag", "init", "--quiet", "--generalInfo", "doc.go", "--dir", "api",
	"--output", "docs", "--outputTypes", "go,json,yaml", "--packageName", "docs"}

// TestDocsUpToDate regenerates the OpenAPI description into a temporary
// directory and fails if the committed docs/ differ: run `go generate ./api`.
func TestDocsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating docs is slow; skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot regenerate docs")
	}
	out := filepath.Join(t.TempDir(), "docs")
	args := append([]string{}, swagArgs...)
	for i, a := range args {
		if a == "--output" {
			args[i+1] = out
		}
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, b)
	}
	for _, name := range []string{"docs.go", "swagger.json", "swagger.yaml"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "docs", name))
		if err != nil {
			t.Fatalf("docs/%s: %v (run go generate ./api)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale: run go generate ./api and commit the result", name)
		}
	}
}
