package sqlstore_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// TestProbe checks the tools' view below the services against what an
// allocation wrote through them, on both databases: the counts agree, the
// cells add up to the allocated amount, the baseline copy copies every
// cell and its clean-up removes them, the CSV export has a row per cell.
func TestProbe(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		re := openRound(t, e)
		re.cascade(t, "pm-industry", "POS", "12000000.00", false)
		version := *re.round.WorkingVersionID
		p := e.db.Probe()

		c, err := p.VersionCounts(ctx, version)
		if err != nil || c.Cells == 0 || c.Cells != c.CellCount || c.Runs != 1 || c.AuditedRuns != 1 {
			t.Fatalf("counts %+v (%v): want cells = cell_count > 0, one run, one audit event", c, err)
		}
		if n, err := p.CountCells(ctx, version); err != nil || n != c.Cells {
			t.Fatalf("CountCells %d (%v), want %d", n, err, c.Cells)
		}
		top, err := p.Cells(ctx, version, []string{"POS"}, "CO")
		if err != nil || len(top) != 12 {
			t.Fatalf("the company's POS cells: %d (%v), want 12 months", len(top), err)
		}
		sum := decimal.Zero
		for _, cell := range top {
			sum = sum.Add(dec(cell.Amount))
		}
		if !sum.Equal(dec("12000000")) {
			t.Fatalf("the company's months add up to %s", sum)
		}
		if none, err := p.Cells(ctx, version, []string{"NO-SUCH-LINE"}, ""); err != nil || len(none) != 0 {
			t.Fatalf("cells of an unknown line: %v %v", none, err)
		}

		const scratch = 999_999_999
		if _, err := p.Exec(ctx, p.CopyCellsSQL(version, scratch)); err != nil {
			t.Fatal(err)
		}
		if n, _ := p.CountCells(ctx, scratch); n != c.Cells {
			t.Fatalf("the baseline copy holds %d cells, want %d", n, c.Cells)
		}
		if _, err := p.Query(ctx, p.DiffCellsSQL(version, scratch)); err != nil {
			t.Fatal(err)
		}
		if err := p.DeleteCells(ctx, scratch); err != nil {
			t.Fatal(err)
		}
		if n, _ := p.CountCells(ctx, 0); n != c.Cells {
			t.Fatalf("after the clean-up the database holds %d cells, want %d", n, c.Cells)
		}

		var csv bytes.Buffer
		n, err := p.ExportCellsCSV(ctx, version, re.revenue.ID, &csv)
		if err != nil || n != c.Cells || int64(strings.Count(csv.String(), "\n")) != n {
			t.Fatalf("exported %d cells in %d lines (%v), want %d", n, strings.Count(csv.String(), "\n"), err, c.Cells)
		}
		if err := p.CreateBaselineTable(ctx); err != nil {
			t.Fatal(err)
		}
		if rows, err := p.DropBaselineTable(ctx); err != nil || rows != 0 {
			t.Fatalf("baseline table: %d rows, %v", rows, err)
		}
		if v, err := p.ServerVersion(ctx); err != nil || v == "" {
			t.Fatalf("server version %q %v", v, err)
		}
		if err := p.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.WaitIdle(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	})
}
