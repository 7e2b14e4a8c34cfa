package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// TestProbeFillVersionCells fills a fresh version in the database, on both
// databases, and reads it back through the services: one cell per org
// unit, line, measure and month, the count recorded on the version, every
// amount of a branch's grid the one the fill's formula gives, and a second
// fill of the same version refused.
func TestProbeFillVersionCells(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		re := openRound(t, e)
		version := *re.round.WorkingVersionID
		p := e.db.Probe()
		units, _, err := e.svcs.OrgUnits.FindOrgUnits(re.as("strategy"), planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		measures := []*planning.Measure{re.revenue, re.units}
		var written []int64
		n, err := p.FillVersionCells(ctx, version, []int64{re.revenue.ID, re.units.ID}, func(w int64, _ time.Duration) { written = append(written, w) })
		if err != nil {
			t.Fatal(err)
		}
		want := int64(len(units) * len(re.lines) * len(measures) * 12)
		if n != want || len(written) != 2 || written[1] != want {
			t.Fatalf("wrote %d cells (progress %v), want %d", n, written, want)
		}
		if c, err := p.VersionCounts(ctx, version); err != nil || c.Cells != want || c.CellCount != want {
			t.Fatalf("counts %+v (%v), want %d cells recorded", c, err, want)
		}
		branch := re.unit("B-SH")
		rows, _, err := e.svcs.Targets.FindGrid(re.as("strategy"), planning.GridFilter{VersionID: version, OrgUnitID: &branch.ID, Page: planning.PageRequest{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(re.lines)*len(measures) {
			t.Fatalf("the branch's grid has %d rows, want %d", len(rows), len(re.lines)*len(measures))
		}
		for _, r := range rows {
			total := decimal.Zero
			for i, pa := range r.Periods {
				period := int64(i + 1)
				amount := decimal.NewFromInt((r.OrgUnitID*7919 + r.ProductLineID*104729 + period*31 + r.MeasureID*17) % 1000000)
				if !pa.Amount.Equal(amount) {
					t.Fatalf("%s/%s/%s month %d: %s, want %s", r.OrgUnitCode, r.ProductLineCode, r.MeasureCode, period, pa.Amount, amount)
				}
				total = total.Add(amount)
			}
			if !r.Total.Equal(total) {
				t.Fatalf("%s/%s/%s total %s, want %s", r.OrgUnitCode, r.ProductLineCode, r.MeasureCode, r.Total, total)
			}
		}
		if _, err := p.FillVersionCells(ctx, version, []int64{re.margin.ID}, nil); err == nil {
			t.Fatal("a second fill of the version was not refused")
		}
	})
}
