package sqlstore_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// TestCopyOnWriteCopyCost measures, when CASCADE_TEST_COPY_CELLS names a
// number of cells (say 10000000; CASCADE_TEST_COPY_DIALECT=postgres keeps
// to one database), copying a version of that many cells
// against copying them with INSERT … SELECT (what a copy cost before
// copy-on-write), through the service's own driver, in one run: the
// baseline before and after the copy, on equal table states. It reports
// the ratio and asserts nothing about time; it fails only if the copy does
// not hold the cells.
func TestCopyOnWriteCopyCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CASCADE_TEST_COPY_CELLS"))
	if n <= 0 {
		t.Skip("set CASCADE_TEST_COPY_CELLS to a number of cells to measure")
	}
	only := os.Getenv("CASCADE_TEST_COPY_DIALECT") // sqlite or postgres: that one only
	forEachDB(t, func(t *testing.T, e *env) {
		if only != "" && string(e.db.Dialect()) != only {
			t.Skipf("CASCADE_TEST_COPY_DIALECT=%s", only)
		}
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		ctx := context.Background()
		bdb, p := storetest.Bun(e.db), e.db.Probe()
		// n cells: units × lines × measures × months of made-up ids (the
		// cell table has no foreign keys), amounts at scale 2.
		start := time.Now()
		series := "generate_series(0, ? - 1) AS s(i)"
		if e.db.Dialect() == sqlstore.SQLite {
			series = "(WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < ? - 1) SELECT i FROM r) AS s"
		}
		amount := "CAST(CAST(i % 100000 AS text) || '.25' AS numeric)"
		if e.db.Dialect() == sqlstore.SQLite {
			amount = "CAST(i % 100000 AS text) || '.25'"
		}
		if _, err := bdb.NewRaw(`INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
			SELECT (SELECT round_id FROM versions WHERE id = ?), ?, 1000000 + i / 480, 1000 + (i / 12) % 40, 1, 1 + i % 12, `+amount+` FROM `+series, v1, v1, n).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := bdb.NewRaw("UPDATE versions SET cell_count = ? WHERE id = ?", n, v1).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d cells written in %s", n, time.Since(start).Round(time.Millisecond))
		const scratch = 999_999_999
		baseline := func() time.Duration {
			took, err := p.Exec(ctx, p.CopyCellsSQL(v1, scratch))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.DeleteCells(ctx, scratch); err != nil {
				t.Fatal(err)
			}
			return took
		}
		before := baseline()
		start = time.Now()
		v2, err := e.svcs.Versions.CopyVersion(re.as("pm-commercial"), v1, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		p.WaitStats()
		took := time.Since(start)
		if got, err := p.CountCells(ctx, v2.ID); err != nil || got != int64(n) {
			t.Fatalf("the copy holds %d cells, want %d (%v)", got, n, err)
		}
		after := baseline()
		mean := (before + after) / 2
		t.Logf("copy of %d cells: %s; INSERT … SELECT through the same driver: %s before, %s after (mean %s); ratio %.5f× (%.0f× faster)",
			n, took.Round(time.Microsecond), before.Round(time.Millisecond), after.Round(time.Millisecond), mean.Round(time.Millisecond),
			took.Seconds()/mean.Seconds(), mean.Seconds()/took.Seconds())
	})
}
