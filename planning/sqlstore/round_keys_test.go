package sqlstore_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// TestRoundKeysMigrationKeepsCells takes a database holding cells (a
// version, its copy over it with an edit, so a layer under a negated id,
// and their allocation runs) back to before the round keys and forward
// again: every row comes back with its version's round, and every
// version reads the same cells.
func TestRoundKeysMigrationKeepsCells(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascadeInto(t, "pm-commercial", v1, "CPC", "3000000.00", false)
		v2, err := e.svcs.Versions.CopyVersion(re.as("pm-commercial"), v1, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		re.cascadeInto(t, "pm-commercial", v2.ID, "HPC", "1200000.00", false)
		re.cascadeInto(t, "pm-commercial", v1, "HPC", "900000.00", false)
		// A second round with cells of its own, so a row given the wrong
		// round shows.
		r2 := &planning.Round{Code: "FY2028", Name: "Plan 2028", FiscalYear: 2028, FirstMonth: 4, MeasureIDs: re.round.MeasureIDs}
		if err := e.svcs.Rounds.CreateRound(re.as("strategy"), r2); err != nil {
			t.Fatal(err)
		}
		r2, err = e.svcs.Rounds.TransitionRound(re.as("strategy"), r2.ID, planning.RoundOpen, "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		re2 := *re
		re2.round = r2
		w2 := *r2.WorkingVersionID
		re2.cascadeInto(t, "pm-commercial", w2, "CPC", "500000.00", false)
		before := map[int64]cowCells{v1: re.revenueCells(t, v1), v2.ID: re.revenueCells(t, v2.ID), w2: re2.revenueCells(t, w2)}
		bdb := storetest.Bun(e.db)
		count := func(q string) int64 {
			t.Helper()
			var n int64
			if err := bdb.NewRaw(q).Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("SELECT COUNT(*) FROM target_cells WHERE version_id < 0"); n == 0 {
			t.Fatal("no layer under a negated id: the test does not cover copies")
		}
		cells, buffers, runs := count("SELECT COUNT(*) FROM target_cells"), count("SELECT COUNT(*) FROM allocation_buffers"), count("SELECT COUNT(*) FROM allocation_runs")
		for {
			name, err := e.db.MigrateDown(ctx)
			if err != nil || name == "" {
				t.Fatalf("down: %q %v", name, err)
			}
			if strings.HasPrefix(name, "20261201000850") {
				break
			}
		}
		if _, err := e.db.MigrateUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got := []int64{count("SELECT COUNT(*) FROM target_cells"), count("SELECT COUNT(*) FROM allocation_buffers"), count("SELECT COUNT(*) FROM allocation_runs")}; got[0] != cells || got[1] != buffers || got[2] != runs {
			t.Fatalf("cells, buffers, runs after down and up: %v, want %d %d %d", got, cells, buffers, runs)
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM target_cells AS c JOIN versions AS v ON v.id = abs(c.version_id) WHERE c.round_id <> v.round_id",
			"SELECT COUNT(*) FROM allocation_buffers AS b JOIN versions AS v ON v.id = b.version_id WHERE b.round_id <> v.round_id",
			"SELECT COUNT(*) FROM allocation_runs AS r JOIN versions AS v ON v.id = r.version_id WHERE r.round_id <> v.round_id",
		} {
			if n := count(q); n != 0 {
				t.Errorf("%s: %d", q, n)
			}
		}
		if n := count("SELECT COUNT(DISTINCT round_id) FROM target_cells"); n != 2 {
			t.Errorf("cells in %d rounds, want 2", n)
		}
		for id, want := range before {
			if got := re.revenueCells(t, id); !maps.Equal(got, want) {
				t.Errorf("version %d reads %d cells after down and up, %d before", id, len(got), len(want))
			}
		}
		// And the store writes on: another allocation into the copy.
		re.cascadeInto(t, "pm-commercial", v2.ID, "CPC", "2000000.00", false)
		if _, _, err := e.svcs.Targets.FindInconsistencies(re.as("strategy"), v2.ID, planning.PageRequest{}); err != nil {
			t.Fatal(err)
		}
	})
}
