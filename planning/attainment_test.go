package planning_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestAttainmentPctRoundsHalfToEven(t *testing.T) {
	for _, c := range []struct {
		name, actual, target string
		want                 string // "" for nil
	}{
		{"exact", "105", "100", "105.00"},
		{"zero target", "5", "0", ""},
		{"zero actual", "0", "7", "0.00"},
		{"one third", "1", "3", "33.33"},
		{"two thirds", "2", "3", "66.67"},
		{"exact at two places", "0.0125", "1", "1.25"},
		{"below half", "1.0125", "100", "1.01"},
		{"above half", "1.0175", "100", "1.02"},
		{"half after an odd digit goes up", "1.015", "100", "1.02"},
		{"half after an even digit stays", "1.025", "100", "1.02"},
		{"negative half", "-1.015", "100", "-1.02"},
		{"negative target", "50", "-100", "-50.00"},
		{"large", "123456789012345678.91", "98765432109876543.21", "125.00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := planning.AttainmentPct(d(c.actual), d(c.target))
			switch {
			case c.want == "" && got != nil:
				t.Fatalf("got %s, want nil", got)
			case c.want != "" && (got == nil || got.StringFixed(2) != c.want):
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestRunRateRoundsHalfAwayFromZero(t *testing.T) {
	for _, c := range []struct {
		ytd    string
		months int
		scale  int32
		want   string
	}{
		{"300", 3, 2, "1200.00"},
		{"100.00", 7, 2, "171.43"}, // 171.428571…
		{"0.01", 8, 2, "0.02"},     // 0.015 exactly → away from zero
		{"-0.01", 8, 2, "-0.02"},   // −0.015 → away from zero
		{"5", 8, 0, "8"},           // 7.5 → 8
		{"1", 5, 0, "2"},           // 2.4 → 2
		{"1234567.89", 12, 2, "1234567.89"},
		{"100", 0, 2, "0.00"},
	} {
		got := planning.RunRate(d(c.ytd), c.months, c.scale)
		if got.StringFixed(c.scale) != c.want {
			t.Errorf("RunRate(%s, %d) = %s, want %s", c.ytd, c.months, got.StringFixed(c.scale), c.want)
		}
	}
}

func TestBasisSpan(t *testing.T) {
	for _, c := range []struct {
		b      planning.Basis
		p      int
		tf, tt int
		af, at int
	}{
		{planning.BasisMonth, 6, 6, 6, 6, 6},
		{planning.BasisQTD, 5, 4, 5, 4, 5},
		{planning.BasisQTD, 3, 1, 3, 1, 3},
		{planning.BasisYTD, 5, 1, 5, 1, 5},
		{planning.BasisYear, 5, 1, 12, 1, 5},
	} {
		tf, tt, af, at := c.b.Span(c.p)
		if tf != c.tf || tt != c.tt || af != c.af || at != c.at {
			t.Errorf("%s as of %d: %d-%d / %d-%d", c.b, c.p, tf, tt, af, at)
		}
	}
}

func TestRankRowsSharesRanksAndPutsNoTargetLast(t *testing.T) {
	pct := func(s string) *decimal.Decimal { x := d(s); return &x }
	rows := []planning.AttainmentRow{
		{OrgUnitCode: "B-A", Pct: pct("90.00"), Actual: d("90")},
		{OrgUnitCode: "B-B", Pct: nil, Actual: d("50")},
		{OrgUnitCode: "B-C", Pct: pct("110.00"), Actual: d("110")},
		{OrgUnitCode: "B-D", Pct: pct("90.00"), Actual: d("180")},
		{OrgUnitCode: "B-E", Pct: pct("80.00"), Actual: d("8")},
	}
	got := planning.RankRows(rows)
	want := []struct {
		code string
		rank int
	}{{"B-C", 1}, {"B-D", 2}, {"B-A", 2}, {"B-E", 4}, {"B-B", 5}}
	for i, w := range want {
		if got[i].OrgUnitCode != w.code || got[i].Rank != w.rank {
			t.Errorf("place %d: %s rank %d, want %s rank %d", i, got[i].OrgUnitCode, got[i].Rank, w.code, w.rank)
		}
	}
}

func TestImportProblemRendering(t *testing.T) {
	p := planning.ImportProblem{Row: 12, Column: "amount", Value: "1.005", Reason: "has 3 decimal places; this measure keeps 2"}
	if f := p.FieldError(); f.Field != "rows[12].amount" || f.Message != `"1.005": has 3 decimal places; this measure keeps 2` {
		t.Errorf("field error %+v", f)
	}
	if s := p.String(); s != `row 12, amount "1.005": has 3 decimal places; this measure keeps 2` {
		t.Errorf("string %q", s)
	}
	var rep planning.ActualImportReport
	if rep.Err() != nil {
		t.Fatal("a report without problems is an error")
	}
	for i := 0; i < planning.MaxImportProblems+5; i++ {
		rep.Add(p)
	}
	if rep.ProblemCount != planning.MaxImportProblems+5 || len(rep.Problems) != planning.MaxImportProblems || planning.ErrorCode(rep.Err()) != planning.EINVALID {
		t.Errorf("count %d, listed %d", rep.ProblemCount, len(rep.Problems))
	}
}

func TestParseMonth(t *testing.T) {
	for s, ok := range map[string]bool{"2027-06": true, "2027-6": false, "2027-13": false, "27-06-01": false, "0999-01": false, "2027-00": false, "abcd-ef": false} {
		if _, err := planning.ParseMonth(s); (err == nil) != ok {
			t.Errorf("ParseMonth(%q): %v", s, err)
		}
	}
}
