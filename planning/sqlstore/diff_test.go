package sqlstore_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
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

// TestDiffMatchesNaiveComparison compares diffs of random versions with a
// comparison of their cells in Go, on both ways a diff of versions over
// one base reads (by primary key and by scanning): the changed cells,
// every page at random sizes, the rollups per level and the counts of the
// measures not summed. The versions hold cells on one side only, explicit
// zeros against missing cells, equal and changed amounts, in measures of
// scales 0 to 4, summed and not.
func TestDiffMatchesNaiveComparison(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		ctx := e.as("strategy")
		ms := []*planning.Measure{re.revenue}
		for _, m := range []*planning.Measure{
			{Code: "d_qty", Name: "Quantity", Unit: "count", Scale: 0, Aggregation: planning.AggSum},
			{Code: "d_fx", Name: "Rate-weighted volume", Unit: "points", Scale: 4, Aggregation: planning.AggSum},
			{Code: "d_share", Name: "Share", Unit: "percent", Scale: 2, Aggregation: planning.AggWeightedAverage, WeightMeasureID: &re.revenue.ID},
			{Code: "d_cust", Name: "Customers", Unit: "count", Scale: 0, Aggregation: planning.AggLastValue},
		} {
			if err := e.svcs.Measures.CreateMeasure(ctx, m); err != nil {
				t.Fatalf("create %s: %v", m.Code, err)
			}
			ms = append(ms, m)
		}
		var ids []int64
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		r := &planning.Round{Code: "FY2027D", Name: "Diffs", FiscalYear: 2027, FirstMonth: 1, MeasureIDs: ids}
		if err := e.svcs.Rounds.CreateRound(ctx, r); err != nil {
			t.Fatal(err)
		}
		r, err := e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundOpen, "go", nil)
		if err != nil {
			t.Fatal(err)
		}
		units, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var lines []int64
		for _, l := range re.lines {
			lines = append(lines, l.ID)
		}
		slices.Sort(lines)
		lines = lines[:min(4, len(lines))]
		rng := rand.New(rand.NewPCG(15, 2))
		key := func() planning.CellKey {
			return planning.CellKey{OrgUnitID: units[rng.IntN(len(units))].ID, ProductLineID: lines[rng.IntN(len(lines))],
				MeasureID: ms[rng.IntN(len(ms))].ID, Period: 1 + rng.IntN(12)}
		}
		scale := map[int64]int32{}
		summed := map[int64]bool{}
		for _, m := range ms {
			scale[m.ID], summed[m.ID] = m.Scale, m.RollsUp()
		}
		amount := func(k planning.CellKey) decimal.Decimal {
			if rng.IntN(6) == 0 {
				return decimal.Zero
			}
			if summed[k.MeasureID] {
				return decimal.New(rng.Int64N(2_000_000)-1_000_000, -scale[k.MeasureID])
			}
			return decimal.New(rng.Int64N(10_000), -scale[k.MeasureID])
		}
		type model map[planning.CellKey]decimal.Decimal
		edit := func(v int64, m model, n int, from model) {
			t.Helper()
			var edits []planning.CellEdit
			seen := map[planning.CellKey]bool{}
			held := slices.SortedFunc(maps.Keys(from), func(x, y planning.CellKey) int {
				if keyLess(x, y) {
					return -1
				}
				return 1
			})
			for len(edits) < n {
				k := key()
				if len(held) > 0 && rng.IntN(3) == 0 { // a key the other version holds: same amount, or another
					k = held[rng.IntN(len(held))]
				}
				if seen[k] {
					continue
				}
				seen[k] = true
				amt := amount(k)
				if from != nil && rng.IntN(4) == 0 {
					amt = from[k]
				}
				edits = append(edits, planning.CellEdit{CellKey: k, Amount: amt})
				m[k] = amt
			}
			if _, err := e.svcs.Targets.EditCells(ctx, v, edits, nil); err != nil {
				t.Fatal(err)
			}
		}
		v1 := *r.WorkingVersionID
		m1 := model{}
		edit(v1, m1, 300, nil)
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		m2 := maps.Clone(m1)
		edit(v1, m1, 120, nil)
		edit(v2.ID, m2, 150, m1)

		level := map[int64]int{}
		path := map[int64]string{}
		for _, u := range units {
			level[u.ID], path[u.ID] = u.Depth(), u.Path
		}
		region := units[1+rng.IntN(len(units)-1)]
		for _, f := range []planning.DiffFilter{
			{VersionID: v2.ID, AgainstID: v1},
			{VersionID: v1, AgainstID: v2.ID},
			{VersionID: v2.ID, AgainstID: v1, MeasureIDs: []int64{re.revenue.ID, ms[3].ID}, PeriodFrom: 3, PeriodTo: 9},
			{VersionID: v1, AgainstID: v2.ID, OrgUnitID: &region.ID, Subtree: true},
		} {
			keep := func(k planning.CellKey) bool {
				if len(f.MeasureIDs) > 0 && !slices.Contains(f.MeasureIDs, k.MeasureID) {
					return false
				}
				if f.PeriodFrom > 0 && (k.Period < f.PeriodFrom || k.Period > f.PeriodTo) {
					return false
				}
				return f.OrgUnitID == nil || strings.HasPrefix(path[k.OrgUnitID], region.Path)
			}
			after, before := m2, m1
			if f.VersionID == v1 {
				after, before = m1, m2
			}
			want := naiveDiff(after, before, keep, level, summed)
			for _, factor := range []int64{0, 1 << 40} {
				name := map[int64]string{0: "probe", 1 << 40: "scan"}[factor]
				t.Run(fmt.Sprintf("%s %d against %d %v", name, f.VersionID, f.AgainstID, f.MeasureIDs), func(t *testing.T) {
					defer sqlstore.SetDiffScanFactor(factor)()
					var changes []planning.CellChange
					page := planning.PageRequest{Limit: 1 + rng.IntN(40)}
					for pages := 0; ; pages++ {
						f.Page = page
						d, err := e.svcs.Targets.DiffVersions(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						if d.ChangedCells != want.ChangedCells {
							t.Fatalf("%d changed cells, want %d", d.ChangedCells, want.ChangedCells)
						}
						for name, pair := range map[string][2][]planning.DiffRollup{"by_org_unit": {d.ByOrgUnit, want.ByOrgUnit},
							"by_product_line": {d.ByProductLine, want.ByProductLine}, "by_measure": {d.ByMeasure, want.ByMeasure}, "by_period": {d.ByPeriod, want.ByPeriod}} {
							if !sameRollups(pair[0], pair[1]) {
								t.Fatalf("%s:\n%v\nwant\n%v", name, pair[0], pair[1])
							}
						}
						if notSummedCounts(d.NotSummed) != notSummedCounts(want.NotSummed) {
							t.Fatalf("not summed %v, want %v", d.NotSummed, want.NotSummed)
						}
						if len(d.Changes) > page.Limit || (d.NextCursor != "" && len(d.Changes) != page.Limit) {
							t.Fatalf("a page of %d lists %d changes, next %q", page.Limit, len(d.Changes), d.NextCursor)
						}
						if want.ChangedCells == 0 || len(want.NotSummed) == 0 && len(f.MeasureIDs) == 0 {
							t.Fatalf("the versions differ too little to test: %d changes, %v", want.ChangedCells, want.NotSummed)
						}
						changes = append(changes, d.Changes...)
						if d.NextCursor == "" {
							break
						}
						page.Cursor = d.NextCursor
					}
					if len(changes) != len(want.Changes) {
						t.Fatalf("pages list %d changes, want %d", len(changes), len(want.Changes))
					}
					for i, c := range changes {
						w := want.Changes[i]
						if c.CellKey != w.CellKey || !c.Before.Equal(w.Before) || !c.After.Equal(w.After) || !c.Delta.Equal(w.Delta) {
							t.Fatalf("change %d: %+v, want %+v", i, c, w)
						}
					}
				})
			}
		}
	})
}

// naiveDiff is what a diff of after against before must say, computed
// from their cells (a missing cell is zero).
func naiveDiff(after, before map[planning.CellKey]decimal.Decimal, keep func(planning.CellKey) bool, level map[int64]int, summed map[int64]bool) *planning.Diff {
	d := &planning.Diff{}
	keys := map[planning.CellKey]bool{}
	for k := range after {
		keys[k] = true
	}
	for k := range before {
		keys[k] = true
	}
	type rk struct {
		level int
		key   int64
	}
	sums := [4]map[rk]*planning.DiffRollup{{}, {}, {}, {}}
	notSummed := map[int64]int64{}
	for k := range keys {
		a, b := after[k], before[k]
		if !keep(k) || a.Equal(b) {
			continue
		}
		d.ChangedCells++
		d.Changes = append(d.Changes, planning.CellChange{CellKey: k, Before: b, After: a, Delta: a.Sub(b)})
		if !summed[k.MeasureID] {
			notSummed[k.MeasureID]++
			continue
		}
		l := level[k.OrgUnitID]
		for i, key := range []int64{k.OrgUnitID, k.ProductLineID, k.MeasureID, int64(k.Period)} {
			x := sums[i][rk{l, key}]
			if x == nil {
				x = &planning.DiffRollup{Level: l, Key: key}
				sums[i][rk{l, key}] = x
			}
			x.Before, x.After, x.Delta = x.Before.Add(b), x.After.Add(a), x.Delta.Add(a.Sub(b))
		}
	}
	slices.SortFunc(d.Changes, func(x, y planning.CellChange) int {
		if keyLess(x.CellKey, y.CellKey) {
			return -1
		}
		return 1
	})
	list := func(m map[rk]*planning.DiffRollup) []planning.DiffRollup {
		var out []planning.DiffRollup
		for _, x := range m {
			out = append(out, *x)
		}
		slices.SortFunc(out, func(x, y planning.DiffRollup) int {
			if x.Level != y.Level {
				return x.Level - y.Level
			}
			return int(x.Key - y.Key)
		})
		return out
	}
	d.ByOrgUnit, d.ByProductLine, d.ByMeasure, d.ByPeriod = list(sums[0]), list(sums[1]), list(sums[2]), list(sums[3])
	for id, n := range notSummed {
		d.NotSummed = append(d.NotSummed, planning.DiffNotSummed{MeasureID: id, ChangedCells: n})
	}
	slices.SortFunc(d.NotSummed, func(x, y planning.DiffNotSummed) int { return int(x.MeasureID - y.MeasureID) })
	return d
}

func sameRollups(got, want []planning.DiffRollup) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Level != w.Level || g.Key != w.Key || !g.Before.Equal(w.Before) || !g.After.Equal(w.After) || !g.Delta.Equal(w.Delta) {
			return false
		}
	}
	return true
}

// notSummedCounts is each measure's count of changes not summed, as text.
func notSummedCounts(xs []planning.DiffNotSummed) string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%d:%d", x.MeasureID, x.ChangedCells))
	}
	return strings.Join(out, " ")
}
