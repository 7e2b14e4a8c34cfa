package sqlstore

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestCellQueriesNameTheRound keeps the round-scoped bulk tables ready for
// a database sharded by round (see distribution_test.go): every statement
// that names target_cells or allocation_buffers names round_id too, the
// first column of their keys, so it finds its rows by the key's prefix and
// a sharded database can send it to the round's node. A statement is the
// source from the table's name on (300 characters, comments left out);
// statements on the whole table (statistics, vacuum, the benchmark's copy
// of its shape) are exempt.
func TestCellQueriesNameTheRound(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	wholeTable := regexp.MustCompile(`ANALYZE |VACUUM |LIKE target_cells|sqlite_master|refreshStaleStats\(|BaselineTable|ReplaceAll\(`)
	trailing := regexp.MustCompile(`\s//\s.*$`)
	table := regexp.MustCompile(`\b(target_cells|allocation_buffers)\b`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "//") {
				lines[i] = ""
			} else {
				lines[i] = trailing.ReplaceAllString(l, "")
			}
		}
		code := strings.Join(lines, "\n")
		for _, m := range table.FindAllStringIndex(code, -1) {
			line := strings.Count(code[:m[0]], "\n")
			if wholeTable.MatchString(lines[line]) {
				continue
			}
			found++
			stmt := code[m[0]:min(len(code), m[0]+300)]
			if !strings.Contains(stmt, "round_id") && !strings.Contains(stmt, "anyRound") {
				t.Errorf("%s:%d: a statement on %s that does not name round_id: %s", f, line+1, code[m[0]:m[1]], strings.TrimSpace(lines[line]))
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d statements on the cell tables: the scan is broken", found)
	}
}

// TestSavepointsAreUndone keeps every savepoint of the store in
// DB.undone, which also forgets the events the undone write emitted
// (they are held until the commit, beyond a savepoint's reach): a
// savepoint opened by hand would let a dry run's events out.
func TestSavepointsAreUndone(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "event.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "SAVEPOINT") { // the statement, in capitals as the store writes SQL
			t.Errorf("%s opens a savepoint of its own: run the write through DB.undone", f)
		}
	}
}
