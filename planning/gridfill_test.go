package planning_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

func TestFillBlankRows(t *testing.T) {
	units := []*planning.OrgUnit{{ID: 1, Code: "CO", Path: "/1/"}, {ID: 3, Code: "B", Path: "/1/3/"}, {ID: 2, Code: "A", Path: "/1/2/"}}
	lines := []*planning.ProductLine{{ID: 20, Code: "PL-B"}, {ID: 10, Code: "PL-A"}}
	measures := []*planning.Measure{{ID: 7, Code: "revenue", Scale: 2}}
	paths := map[int64]string{1: "/1/", 2: "/1/2/", 3: "/1/3/", 9: "/1/9/"}
	// One row the version holds, of a unit in the view, and one of a unit
	// outside it (inactive, still holding cells).
	held := planning.GridRow{OrgUnitID: 2, OrgUnitCode: "A", ProductLineID: 10, ProductLineCode: "PL-A", MeasureID: 7, MeasureCode: "revenue",
		Total: decimal.RequireFromString("5"), Periods: []planning.PeriodAmount{{Period: "Q1", Amount: decimal.RequireFromString("5")}}}
	outside := planning.GridRow{OrgUnitID: 9, OrgUnitCode: "Z", ProductLineID: 20, ProductLineCode: "PL-B", MeasureID: 7, MeasureCode: "revenue", Total: decimal.RequireFromString("1")}
	g := planning.GridCombinations{Units: units, Lines: lines, Measures: measures, Periods: []string{"Q1", "Q2"}}
	got := planning.FillBlankRows([]planning.GridRow{outside, held}, g, func(id int64) string { return paths[id] })

	var order []string
	for _, r := range got {
		order = append(order, fmt.Sprintf("%s/%s/%s=%s", r.OrgUnitCode, r.ProductLineCode, r.MeasureCode, r.Total))
	}
	want := []string{
		"CO/PL-A/revenue=0", "CO/PL-B/revenue=0",
		"A/PL-A/revenue=5", "A/PL-B/revenue=0",
		"B/PL-A/revenue=0", "B/PL-B/revenue=0",
		"Z/PL-B/revenue=1",
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("rows\n%v\nwant\n%v", order, want)
	}
	for _, r := range got {
		if r.OrgUnitCode == "A" && r.ProductLineCode == "PL-A" {
			if len(r.Periods) != 1 || !r.Periods[0].Amount.Equal(decimal.RequireFromString("5")) {
				t.Errorf("a held row changed: %+v", r.Periods)
			}
			continue
		}
		if r.OrgUnitCode == "Z" {
			continue
		}
		if len(r.Periods) != 2 || r.Periods[0].Period != "Q1" || r.Periods[1].Period != "Q2" || !r.Periods[0].Amount.IsZero() || r.Scale != 2 {
			t.Errorf("blank row %s/%s: periods %+v scale %d, want Q1 and Q2 at zero, scale 2", r.OrgUnitCode, r.ProductLineCode, r.Periods, r.Scale)
		}
	}
	// A second fill adds nothing: every combination has its row.
	if again := planning.FillBlankRows(got, g, func(id int64) string { return paths[id] }); len(again) != len(got) {
		t.Errorf("a second fill has %d rows, want %d", len(again), len(got))
	}
}

func TestGridCombinationsCheckSize(t *testing.T) {
	g := planning.GridCombinations{Units: make([]*planning.OrgUnit, 10), Lines: make([]*planning.ProductLine, 10), Measures: make([]*planning.Measure, 3)}
	if err := g.CheckSize(300); err != nil {
		t.Errorf("300 combinations under a maximum of 300: %v", err)
	}
	if err := g.CheckSize(299); planning.ErrorCode(err) != planning.ETOOLARGE {
		t.Errorf("300 combinations over a maximum of 299: %v, want ETOOLARGE", err)
	}
}
