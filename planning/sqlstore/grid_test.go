package sqlstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestGridPages reads a grid in small pages and checks that the pages,
// put together, are the grid read at once: every series once, in order of
// org unit path, line code and measure code, each with its months.
func TestGridPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
		re.cascade(t, "pm-commercial", "HPC", "1200000.00", false)
		for _, f := range []planning.GridFilter{
			{VersionID: v1},
			{VersionID: v1, PeriodFrom: 4, PeriodTo: 6, Grain: planning.GrainQuarter},
			{VersionID: v1, OrgUnitID: ptr(re.unitID("R-EAST")), Subtree: true},
		} {
			t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
				all := f
				all.Page.Limit = 1000
				whole, next, err := re.svcs.Targets.FindGrid(re.as("strategy"), all)
				if err != nil || next != "" || len(whole) < 10 {
					t.Fatalf("%d rows, next %q, %v", len(whole), next, err)
				}
				var paged []planning.GridRow
				f.Page.Limit = 7
				for {
					rows, next, err := re.svcs.Targets.FindGrid(re.as("strategy"), f)
					if err != nil {
						t.Fatal(err)
					}
					if len(rows) > 7 || (next != "" && len(rows) != 7) {
						t.Fatalf("a page of %d rows, next %q", len(rows), next)
					}
					paged = append(paged, rows...)
					if next == "" {
						break
					}
					f.Page.Cursor = next
				}
				if got, want := gridString(paged), gridString(whole); got != want {
					t.Fatalf("pages:\n%s\nwhole:\n%s", got, want)
				}
				keys := make([]string, len(whole))
				for i, r := range whole {
					keys[i] = e.unit(r.OrgUnitCode).Path + "\x1f" + r.ProductLineCode + "\x1f" + r.MeasureCode
					if want := map[planning.Grain]int{"": 12, planning.GrainQuarter: 1}[f.Grain]; len(r.Periods) != want {
						t.Fatalf("row %+v has %d periods, want %d", r, len(r.Periods), want)
					}
				}
				if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
					t.Fatalf("rows out of order or repeated: %q", keys)
				}
			})
		}
	})
}

func ptr[T any](v T) *T { return &v }

func gridString(rows []planning.GridRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %s %s", r.OrgUnitCode, r.ProductLineCode, r.MeasureCode, r.Total)
		for _, p := range r.Periods {
			fmt.Fprintf(&b, " %s=%s", p.Period, p.Amount)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
