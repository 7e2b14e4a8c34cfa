package sqlstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCellReadsGoThroughLayers keeps copy-on-write versions exact as the
// store grows: a version's cells are its own layer over a base (cells.go),
// so a query that names target_cells with a version id reads only part of
// a copied version. Outside the files below, which handle the layers
// themselves, every read goes through cellsFrom or cellsOf, and a new
// file that names the table fails here.
func TestCellReadsGoThroughLayers(t *testing.T) {
	layered := map[string]string{
		"cells.go":   "the layers themselves: cellsFrom, cellsOf, hideBase",
		"bulk.go":    "allocation writes into the version's layer",
		"edit.go":    "cell edits read the layer, then the base, and write the layer",
		"orgunit.go": "the deletion check probes every layer",
		"diff.go":    "diffs of versions over one base read the layers",
		"version.go": "a copy copies the source's own layer",
		"probe.go":   "the benchmark's baselines and checks, on whole tables",
		"db.go":      "statistics of the table",
		"target.go":  "the grid reads both layers in one pass",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := layered[f]; !ok && strings.Contains(string(src), "target_cells") {
			t.Errorf("%s names target_cells: read a version's cells through cellsFrom or cellsOf (cells.go), which see through to its base", f)
		}
	}
}
