package sqlstore_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// TestConsistencyChecksTheBufferedRule: under a buffered level the report
// checks the children's months against exactly the stated rule
// (planning.BufferedMonths: the buffered year rounded half away from
// zero, its months by largest remainder), not against each month × (1 + b)
// rounded on its own. A month where the two differ is found; children
// adding up to the rule there are consistent, children adding up to the
// month-by-month rounding are reported, with the rule's amount expected.
func TestConsistencyChecksTheBufferedRule(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vid := *re.round.WorkingVersionID
		buffer := dec("0.05")
		re.cascadeBuf(t, "pm-industry", "POS", "12000000.03", "0.05")
		re.consistent(t)
		pos := re.lines["POS"].ID
		g := re.grid(t, "strategy", planning.GridFilter{VersionID: vid, ProductLineIDs: []int64{pos}})
		found := false
		for _, region := range []string{"R-EAST", "R-NORTH", "R-SOUTH"} {
			rid := re.unitID(region)
			months := g[[3]int64{rid, pos, re.revenue.ID}]
			rule, err := planning.BufferedMonths(months, buffer, 2)
			if err != nil {
				t.Fatal(err)
			}
			for j, m := range months {
				naive := m.Mul(decimal.NewFromInt(1).Add(buffer)).Round(2) // half away from zero
				if naive.Equal(rule[j]) {
					continue
				}
				found = true
				// Move a branch's month so the branches add up to the
				// month-by-month rounding.
				kids, _, err := e.svcs.OrgUnits.FindOrgUnits(e.as("admin"), planning.OrgUnitFilter{ParentID: &rid})
				if err != nil || len(kids) == 0 {
					t.Fatalf("branches of %s: %v", region, err)
				}
				k := planning.CellKey{OrgUnitID: kids[0].ID, ProductLineID: pos, MeasureID: re.revenue.ID, Period: j + 1}
				cur := g[[3]int64{kids[0].ID, pos, re.revenue.ID}][j]
				v, _ := e.svcs.Versions.FindVersionByID(e.as("strategy"), vid)
				if _, err := e.svcs.Targets.EditCells(e.as("pm-industry"), vid, []planning.CellEdit{{CellKey: k, Amount: cur.Add(naive.Sub(rule[j]))}}, &v.Revision); err != nil {
					t.Fatal(err)
				}
				inc, _, err := e.svcs.Targets.FindInconsistencies(e.as("strategy"), vid, planning.PageRequest{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				reported := false
				for _, x := range inc {
					if x.ParentID == rid && x.Period == j+1 && x.ProductLineID == pos {
						reported = true
						if !x.Expected.Equal(rule[j]) || !x.ChildrenSum.Equal(naive) {
							t.Fatalf("%s month %d: expected %s and children %s, want %s and %s", region, j+1, x.Expected, x.ChildrenSum, rule[j], naive)
						}
					}
				}
				if !reported {
					t.Fatalf("%s month %d: children add up to %s (month × 1.05 rounded alone), the rule says %s, and the report is silent: %+v",
						region, j+1, naive, rule[j], inc)
				}
				// Children adding up to the plain, unbuffered parent month
				// are reported too.
				v, _ = e.svcs.Versions.FindVersionByID(e.as("strategy"), vid)
				if _, err := e.svcs.Targets.EditCells(e.as("pm-industry"), vid, []planning.CellEdit{{CellKey: k, Amount: cur.Add(m.Sub(rule[j]))}}, &v.Revision); err != nil {
					t.Fatal(err)
				}
				inc, _, err = e.svcs.Targets.FindInconsistencies(e.as("strategy"), vid, planning.PageRequest{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				reported = false
				for _, x := range inc {
					if x.ParentID == rid && x.Period == j+1 && x.ProductLineID == pos {
						reported = x.Expected.Equal(rule[j]) && x.ChildrenSum.Equal(m)
					}
				}
				if !reported {
					t.Fatalf("%s month %d: children add up to the unbuffered %s and the report does not say so: %+v", region, j+1, m, inc)
				}
				return
			}
		}
		if !found {
			t.Fatal("no month where the rule and month-by-month rounding differ: pick other amounts")
		}
	})
}
