package sqlstore_test

import (
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestDiffCellsOnEitherSide checks that a diff lists the cells only one of
// the two versions holds, whichever side that is, in key order across
// pages: the cells a later allocation added to the parent after the copy.
func TestDiffCellsOnEitherSide(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
		ctx := e.as("pm-commercial")
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		re.cascade(t, "pm-commercial", "HPC", "1200000.00", false) // into v1 only
		hpc := re.lines["HPC"].ID
		want := map[planning.CellKey]string{}
		for k, months := range re.grid(t, "strategy", planning.GridFilter{VersionID: v1, ProductLineIDs: []int64{hpc}}) {
			for m, amt := range months {
				if !amt.IsZero() {
					want[planning.CellKey{OrgUnitID: k[0], ProductLineID: k[1], MeasureID: k[2], Period: m + 1}] = amt.String()
				}
			}
		}
		if len(want) == 0 {
			t.Fatal("the allocation wrote no cells")
		}
		for _, tc := range []struct {
			name        string
			this, other int64
			added       bool // the cells are in this version, not the other
		}{
			{"missing from this version", v2.ID, v1, false},
			{"new in this version", v1, v2.ID, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page := planning.PageRequest{Limit: 7}
				var last *planning.CellKey
				seen := 0
				for {
					d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: tc.this, AgainstID: tc.other, Page: page})
					if err != nil {
						t.Fatal(err)
					}
					if d.ChangedCells != int64(len(want)) {
						t.Fatalf("%d changed cells, want %d", d.ChangedCells, len(want))
					}
					for _, c := range d.Changes {
						amt, ok := want[c.CellKey]
						got, zero := c.Before, c.After
						if tc.added {
							got, zero = c.After, c.Before
						}
						if !ok || got.String() != amt || !zero.IsZero() {
							t.Fatalf("change %+v, want %s on one side only", c, amt)
						}
						if last != nil && !keyLess(*last, c.CellKey) {
							t.Fatalf("%+v listed after %+v", c.CellKey, *last)
						}
						k := c.CellKey
						last = &k
						seen++
					}
					if d.NextCursor == "" {
						break
					}
					page.Cursor = d.NextCursor
				}
				if seen != len(want) {
					t.Fatalf("pages listed %d changes, want %d", seen, len(want))
				}
			})
		}
	})
}

func keyLess(a, b planning.CellKey) bool {
	for _, c := range [][2]int64{{a.OrgUnitID, b.OrgUnitID}, {a.ProductLineID, b.ProductLineID}, {a.MeasureID, b.MeasureID}, {int64(a.Period), int64(b.Period)}} {
		if c[0] != c[1] {
			return c[0] < c[1]
		}
	}
	return false
}

// TestDiffRollupsPerLevel: one change that flows up the tree changes a cell
// at every level; the product-line, measure and period rollups keep the
// levels apart, so each total is what changed at one level, never the same
// change counted once per level.
func TestDiffRollupsPerLevel(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
		ctx := e.as("pm-commercial")
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "revised", "")
		if err != nil {
			t.Fatal(err)
		}
		cpc := re.lines["CPC"].ID
		g := re.grid(t, "strategy", planning.GridFilter{VersionID: v2.ID})
		// +10.00 in April at a team and every ancestor, as raising a parent does.
		var edits []planning.CellEdit
		for _, u := range []string{"B-SH-KA", "B-SH", "R-EAST", "CO"} {
			id := re.unitID(u)
			edits = append(edits, planning.CellEdit{CellKey: planning.CellKey{OrgUnitID: id, ProductLineID: cpc, MeasureID: re.revenue.ID, Period: 1},
				Amount: g[[3]int64{id, cpc, re.revenue.ID}][0].Add(dec("10.00"))})
		}
		if _, err := e.svcs.Targets.EditCells(ctx, v2.ID, edits, &v2.Revision); err != nil {
			t.Fatal(err)
		}
		d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: v1})
		if err != nil || d.ChangedCells != 4 {
			t.Fatalf("diff %+v %v", d, err)
		}
		for name, rs := range map[string][]planning.DiffRollup{"by_product_line": d.ByProductLine, "by_measure": d.ByMeasure, "by_period": d.ByPeriod} {
			if len(rs) != 4 {
				t.Fatalf("%s: %d rollups, want one per level: %+v", name, len(rs), rs)
			}
			for i, r := range rs {
				if r.Level != i+1 || !r.Delta.Equal(dec("10.00")) {
					t.Fatalf("%s[%d] = level %d delta %s, want level %d delta 10.00", name, i, r.Level, r.Delta, i+1)
				}
			}
		}
		for _, r := range d.ByOrgUnit {
			if !r.Delta.Equal(dec("10.00")) {
				t.Fatalf("by_org_unit %+v", r)
			}
		}
	})
}
