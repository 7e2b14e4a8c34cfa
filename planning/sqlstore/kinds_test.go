package sqlstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// kindsFixture is a round planning revenue, a market share weighted by
// revenue, a customer count taken at period end and a rating of the
// branch's customer plans (1 to 5 in steps of 0.5), with these cells in
// the first quarter (April to June 2027):
//
// Targets: B-SH-KA POS revenue 100, 300, 100 and share 10.00, 20.00,
// 30.00; B-SH POS revenue 500 and share 25.00 each month (its teams' need
// not add up to it);
// B-SH-KA POS customers 5, 7, (none); B-SH POS plan rating 4.0 in June.
//
// Actuals: B-SH-KA POS revenue 100, 100, 200 and share 12.00, 18.00,
// 30.00; B-SH-CH POS revenue 300 in June and share 40.00 in June;
// B-SH-KA POS customers 6, 8; B-SH POS plan rating 3.5 in June (a rating
// belongs to the branch itself, not to a leaf).
func kindsFixture(t *testing.T, e *env) (*roundEnv, map[string]*planning.Measure) {
	t.Helper()
	ctx := e.as("strategy")
	re := openRound(t, e)
	ms := map[string]*planning.Measure{"revenue": re.revenue}
	for _, m := range []*planning.Measure{
		{Code: "t_share", Name: "Market share", Unit: "percent", Scale: 2, Aggregation: planning.AggWeightedAverage, WeightMeasureID: &re.revenue.ID},
		{Code: "t_customers", Name: "Customers", Unit: "count", Scale: 0, Aggregation: planning.AggLastValue},
		{Code: "t_plans", Name: "Quality of customer plans", Unit: "points", Scale: 1, Kind: planning.MeasureRating, Aggregation: planning.AggNone,
			Rating: &planning.RatingScale{Min: dec("1"), Max: dec("5"), Step: dec("0.5")}},
	} {
		if err := e.svcs.Measures.CreateMeasure(ctx, m); err != nil {
			t.Fatalf("create %s: %v", m.Code, err)
		}
		ms[m.Code] = m
	}
	ids := []int64{re.revenue.ID, ms["t_share"].ID, ms["t_customers"].ID, ms["t_plans"].ID}
	r := &planning.Round{Code: "FY2027K", Name: "Kinds", FiscalYear: 2027, FirstMonth: 4, MeasureIDs: ids}
	if err := e.svcs.Rounds.CreateRound(ctx, r); err != nil {
		t.Fatal(err)
	}
	r, err := e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundOpen, "go", nil)
	if err != nil {
		t.Fatal(err)
	}
	re.round = r
	var edits []planning.CellEdit
	set := func(unit, line, measure string, p int, amount string) {
		edits = append(edits, planning.CellEdit{CellKey: planning.CellKey{OrgUnitID: re.unitID(unit), ProductLineID: re.lines[line].ID,
			MeasureID: ms[measure].ID, Period: p}, Amount: dec(amount)})
	}
	for p, v := range []string{"100.00", "300.00", "100.00"} {
		set("B-SH-KA", "POS", "revenue", p+1, v)
		set("B-SH", "POS", "revenue", p+1, "500.00")
	}
	for p, v := range []string{"10.00", "20.00", "30.00"} {
		set("B-SH-KA", "POS", "t_share", p+1, v)
		set("B-SH", "POS", "t_share", p+1, "25.00")
	}
	set("B-SH-KA", "POS", "t_customers", 1, "5")
	set("B-SH-KA", "POS", "t_customers", 2, "7")
	set("B-SH", "POS", "t_plans", 3, "4.0")
	if _, err := e.svcs.Targets.EditCells(ctx, *r.WorkingVersionID, edits, nil); err != nil {
		t.Fatal(err)
	}
	file := rows(
		"B-SH-KA,POS,revenue,2027-04,100.00", "B-SH-KA,POS,revenue,2027-05,100.00", "B-SH-KA,POS,revenue,2027-06,200.00",
		"B-SH-KA,POS,t_share,2027-04,12.00", "B-SH-KA,POS,t_share,2027-05,18.00", "B-SH-KA,POS,t_share,2027-06,30.00",
		"B-SH-CH,POS,revenue,2027-06,300.00", "B-SH-CH,POS,t_share,2027-06,40.00",
		"B-SH-KA,POS,t_customers,2027-04,6", "B-SH-KA,POS,t_customers,2027-05,8",
		"B-SH,POS,t_plans,2027-06,3.5",
	)
	if _, err := e.svcs.Actuals.ImportActuals(ctx, planning.ActualImport{Rows: file}); err != nil {
		t.Fatal(err)
	}
	return re, ms
}

// TestMeasureKindsAttainment checks attainment by each aggregation rule
// against hand-computed values, on every store.
func TestMeasureKindsAttainment(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		sh := re.unitID("B-SH")
		for _, c := range []struct {
			basis planning.Basis
			want  map[string]string
		}{
			{planning.BasisMonth, map[string]string{
				// June: the team's share of 30.00 against 30.00; the year
				// target weighted by the revenue targets:
				// (10 × 100 + 20 × 300 + 30 × 100) ÷ 500 = 20.00; the year
				// to date by the revenue actuals:
				// (12 × 100 + 18 × 100 + 30 × 200) ÷ 400 = 22.50, which a
				// rate projects as itself.
				"B-SH-KA/POS/t_share": "30.00 30.00 0.00 100.00 | 20.00 22.50 22.50 112.50",
				// The branch: its own target of 25.00; its actual is its
				// teams' shares weighted by their June revenue:
				// (30 × 200 + 40 × 300) ÷ 500 = 36.00; to date
				// (1200 + 1800 + 6000 + 12000) ÷ 700 = 30.00.
				"B-SH/POS/t_share": "25.00 36.00 11.00 144.00 | 25.00 30.00 30.00 120.00",
				// Customers: June holds no count, so the month has none;
				// the year's last target is May's 7, the last count to
				// date May's 8, rolled up to the branch.
				"B-SH-KA/POS/t_customers": "0 0 0 null | 7 8 8 114.29",
				"B-SH/POS/t_customers":    "0 0 0 null | 0 8 8 null",
				// The rating is the branch's own: 3.5 of 4.0.
				"B-SH/POS/t_plans": "4.0 3.5 -0.5 87.50 | 0.0 3.5 3.5 null",
				"B-SH/*/t_plans":   "4.0 3.5 -0.5 87.50 | 0.0 3.5 3.5 null",
			}},
			{planning.BasisQTD, map[string]string{
				// The quarter is the year so far.
				"B-SH-KA/POS/t_share":     "20.00 22.50 2.50 112.50 | 20.00 22.50 22.50 112.50",
				"B-SH/POS/t_share":        "25.00 30.00 5.00 120.00 | 25.00 30.00 30.00 120.00",
				"B-SH-KA/POS/t_customers": "7 8 1 114.29 | 7 8 8 114.29",
				"B-SH/*/t_customers":      "0 8 8 null | 0 8 8 null",
			}},
		} {
			got, _ := re.attainment(t, "strategy", planning.AttainmentFilter{OrgUnitID: &sh, Subtree: true, Period: 3, Basis: c.basis,
				MeasureIDs: []int64{ms["t_share"].ID, ms["t_customers"].ID, ms["t_plans"].ID}})
			for k, w := range c.want {
				if got[k] != w {
					t.Errorf("%s %s:\n got %s\nwant %s", c.basis, k, got[k], w)
				}
			}
		}
	})
}

// TestMeasureKindsRules checks what a measure that does not add up may
// not do: be cascaded, hold a rating off its scale; and what it need not:
// add up from children to parent.
func TestMeasureKindsRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		ctx := e.as("strategy")
		vid := *re.round.WorkingVersionID
		// The branch's share of 25.00 is not its teams' sum: no
		// inconsistency is reported for it.
		inc, _, err := re.svcs.Targets.FindInconsistencies(ctx, vid, planning.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range inc {
			if x.MeasureID != re.revenue.ID {
				t.Errorf("inconsistency of a measure that does not add up: %+v", x)
			}
		}
		// Allocation refuses it, naming the field.
		for _, code := range []string{"t_share", "t_customers", "t_plans"} {
			_, err = re.svcs.Targets.Allocate(re.as("pm-industry"), planning.AllocationRequest{VersionID: vid, MeasureID: ms[code].ID,
				RootID: re.unitID("CO"), Targets: []planning.AllocationTarget{{ProductLineID: re.lines["POS"].ID, Amount: dec("10")}},
				Levels: []planning.LevelSpec{{Method: planning.MethodEven}}})
			wantField(t, err, "measure")
		}
		// A rating off its scale: between steps, below min, above max.
		for _, v := range []string{"3.2", "0.5", "5.5"} {
			_, err = re.svcs.Targets.EditCells(ctx, vid, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH"),
				ProductLineID: re.lines["POS"].ID, MeasureID: ms["t_plans"].ID, Period: 4}, Amount: dec(v)}}, nil)
			wantField(t, err, "cells[0].amount")
		}
		rep, err := re.svcs.Actuals.ImportActuals(ctx, planning.ActualImport{Rows: rows("B-SH,POS,t_plans,2027-07,4.2")})
		if err == nil || len(rep.Problems) != 1 || rep.Problems[0].Column != "amount" {
			t.Errorf("an off-scale rating imported: %v %+v", err, rep)
		}
		// Amounts that roll up stay at the leaves.
		rep, err = re.svcs.Actuals.ImportActuals(ctx, planning.ActualImport{Rows: rows("B-SH,POS,t_share,2027-07,40.00")})
		if err == nil || len(rep.Problems) != 1 || rep.Problems[0].Column != "org_unit" {
			t.Errorf("a share imported for a branch: %v %+v", err, rep)
		}
		// A weight must be an amount that adds up.
		err = e.svcs.Measures.CreateMeasure(ctx, &planning.Measure{Code: "t_bad", Name: "Bad", Unit: "percent", Scale: 2,
			Aggregation: planning.AggWeightedAverage, WeightMeasureID: &ms["t_customers"].ID})
		wantField(t, err, "weight_measure")
		agg := planning.AggLastValue
		_, err = e.svcs.Measures.UpdateMeasure(ctx, re.revenue.ID, planning.MeasureUpdate{Aggregation: &agg})
		wantField(t, err, "aggregation")
	})
}

// TestMeasureKindsGrid checks the grid's quarter and year by each rule.
func TestMeasureKindsGrid(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		ka := re.unitID("B-SH-KA")
		// A copy reads through to its source's cells (copy-on-write), and
		// the source moves on to a new layer over them: both read the same
		// by every rule, the weights included.
		cp, err := re.svcs.Versions.CopyVersion(re.as("strategy"), *re.round.WorkingVersionID, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, vid := range []int64{*re.round.WorkingVersionID, cp.ID} {
			for _, c := range []struct {
				measure string
				grain   planning.Grain
				want    string
			}{
				// A period without a value of a measure that does not add up
				// is absent (-), not zero; a sum's missing cells are zero.
				{"t_share", planning.GrainQuarter, "20.00 - - - | 20.00"},
				{"t_share", planning.GrainYear, "20.00 | 20.00"},
				{"t_share", planning.GrainMonth, "10.00 20.00 30.00 - - - - - - - - - | 20.00"},
				{"t_customers", planning.GrainQuarter, "7 - - - | 7"},
				{"t_customers", planning.GrainMonth, "5 7 - - - - - - - - - - | 7"},
				{"revenue", planning.GrainQuarter, "500.00 0.00 0.00 0.00 | 500.00"},
				{"revenue", planning.GrainMonth, "100.00 300.00 100.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 | 500.00"},
			} {
				rows, _, err := re.svcs.Targets.FindGrid(re.as("strategy"), planning.GridFilter{VersionID: vid, OrgUnitID: &ka,
					MeasureIDs: []int64{ms[c.measure].ID}, Grain: c.grain})
				if err != nil || len(rows) != 1 {
					t.Fatalf("%s: %v %d rows", c.measure, err, len(rows))
				}
				got := ""
				for _, p := range rows[0].Periods {
					got += shown(p.Amount, p.Absent, rows[0].Scale) + " "
				}
				got += "| " + shown(rows[0].Total, rows[0].TotalAbsent, rows[0].Scale)
				if got != c.want {
					t.Errorf("version %d, %s by %s: %s, want %s", vid, c.measure, c.grain, got, c.want)
				}
			}
		}
	})
}

// shown is a grid amount at scale, "-" when absent.
func shown(d decimal.Decimal, absent bool, scale int32) string {
	if absent {
		return "-"
	}
	return d.StringFixed(scale)
}

// wantField fails unless err is EINVALID naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var pe *planning.Error
	if !errors.As(err, &pe) || pe.Code != planning.EINVALID {
		t.Fatalf("error %v, want EINVALID on %s", err, field)
	}
	for _, f := range pe.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("error %v names %+v, not %s", err, pe.Fields, field)
}

// TestMeasureKindsScores scores B-SH in June on revenue (50%), its market
// share (30%) and the rating of its customer plans (20%), each KPI by its
// measure's rule:
//
//	revenue 500.00 of 500.00 (its teams' 200 + 300)  = 100.00% → 100 × 50% = 50
//	share   36.00 of 25.00 (weighted by revenue)     = 144.00% → capped 120 × 30% = 36
//	plans   3.5 of 4.0 (the branch's own rating)     =  87.50% → 87.5 × 20% = 17.5
//	score 103.5 → 103.50
func TestMeasureKindsScores(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		re.clearScorecards(t)
		lin := planning.Curve{Kind: planning.CurveLinear, FloorPct: dec("0"), CapPct: dec("120")}
		card := &planning.Scorecard{RoundID: re.round.ID, Level: planning.KindBranch, Name: "Branch", Rounding: planning.Rounding{Places: 2, Mode: planning.RoundHalfUp},
			KPIs: []planning.KPI{
				{MeasureID: re.revenue.ID, Weight: dec("50"), Direction: planning.HigherIsBetter, Curve: lin},
				{MeasureID: ms["t_share"].ID, Weight: dec("30"), Direction: planning.HigherIsBetter, Curve: lin},
				{MeasureID: ms["t_plans"].ID, Weight: dec("20"), Direction: planning.HigherIsBetter, Curve: lin},
			}}
		if _, err := e.svcs.Scorecards.PutScorecard(e.as("strategy"), card, nil); err != nil {
			t.Fatal(err)
		}
		sh := re.unitID("B-SH")
		rep, err := e.svcs.Scorecards.FindScores(e.as("strategy"), planning.ScoreFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID,
			Level: planning.KindBranch, OrgUnitID: &sh, Period: 3, Basis: planning.BasisMonth})
		if err != nil || len(rep.Units) != 1 {
			t.Fatalf("%v %+v", err, rep)
		}
		u := rep.Units[0]
		got := u.Total.StringFixed(2)
		for _, k := range u.KPIs {
			got += fmt.Sprintf(" | %s/%s %s %s %s", k.Target.StringFixed(k.Scale), k.Actual.StringFixed(k.Scale), k.AttainmentPct.StringFixed(2), k.Points, k.Weighted)
		}
		if want := "103.50 | 500.00/500.00 100.00 100 50 | 25.00/36.00 144.00 120 36 | 4.0/3.5 87.50 87.5 17.5"; got != want {
			t.Errorf("B-SH scored\n %s\nwant\n %s", got, want)
		}
		// Each KPI says how its target and actual were formed.
		if k := rep.Scorecard.KPIs; k[0].Aggregation != planning.AggSum || k[1].Aggregation != planning.AggWeightedAverage ||
			k[1].WeightCode != "revenue" || k[2].Aggregation != planning.AggNone {
			t.Errorf("KPIs %+v", k)
		}
	})
}

// TestMeasureKindsActuals checks the actuals listing rolls up each kind by
// its rule: B-SH's market share is its teams' weighted by their revenue
// (June (30 × 200 + 40 × 300) ÷ 500 = 36.00; over the quarter 21000 ÷ 700
// = 30.00), its customers at the end of the quarter are the team's May
// count, and its rating is its own.
func TestMeasureKindsActuals(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		sh := re.unitID("B-SH")
		rows, _, err := e.svcs.Actuals.FindActuals(e.as("strategy"), planning.ActualFilter{OrgUnitID: &sh, Subtree: true,
			MeasureIDs: []int64{ms["t_share"].ID, ms["t_customers"].ID, ms["t_plans"].ID}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range rows {
			line := ""
			for _, m := range r.Months {
				line += m.Month + ":" + m.Amount.StringFixed(r.Scale) + " "
			}
			got[r.OrgUnitCode+"/"+r.MeasureCode] = line + "= " + r.Total.StringFixed(r.Scale)
		}
		want := map[string]string{
			"B-SH/t_share":        "2027-04:12.00 2027-05:18.00 2027-06:36.00 = 30.00",
			"B-SH-KA/t_share":     "2027-04:12.00 2027-05:18.00 2027-06:30.00 = 22.50",
			"B-SH-CH/t_share":     "2027-06:40.00 = 40.00",
			"B-SH/t_customers":    "2027-04:6 2027-05:8 = 8",
			"B-SH-KA/t_customers": "2027-04:6 2027-05:8 = 8",
			"B-SH/t_plans":        "2027-06:3.5 = 3.5",
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %q, want %q", k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("rows %v", got)
		}
	})
}

// TestMeasureKindsCounterproposals checks that a counterproposal on a
// rate or a rating is decided onto the unit's own cells only: no re-split
// of its subtree, nothing rebalanced or raised in its parent; a rating on
// its scale, an apply mode refused, each field named.
func TestMeasureKindsCounterproposals(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		r, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		vid := *r.WorkingVersionID
		line := func(measure string, period int, amount string) planning.LineInput {
			return planning.LineInput{ProductLineID: re.lines["POS"].ID, MeasureID: ms[measure].ID, Period: period, Proposed: dec(amount), Reason: "market"}
		}
		bm := e.as("bm-sh")
		_, err = e.svcs.Proposals.CreateCounterproposal(bm, vid, re.unitID("B-SH"), "plans", []planning.LineInput{line("t_plans", 3, "4.2")})
		wantField(t, err, "lines[0].proposed")
		cp, err := e.svcs.Proposals.CreateCounterproposal(bm, vid, re.unitID("B-SH"), "kinds",
			[]planning.LineInput{line("t_share", 3, "20.00"), line("t_plans", planning.YearPeriod, "4.5")})
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = e.svcs.Proposals.Submit(bm, cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		grid := func() map[string]string {
			out := map[string]string{}
			for _, u := range []string{"R-EAST", "B-SH", "B-SH-KA", "B-SH-CH"} {
				id := re.unitID(u)
				rows, _, err := e.svcs.Targets.FindGrid(e.as("strategy"), planning.GridFilter{VersionID: vid, OrgUnitID: &id,
					MeasureIDs: []int64{ms["t_share"].ID, ms["t_plans"].ID, re.revenue.ID}})
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range rows {
					got := ""
					for _, p := range g.Periods {
						got += shown(p.Amount, p.Absent, g.Scale) + " "
					}
					out[u+"/"+g.MeasureCode] = got
				}
			}
			return out
		}
		was := grid()
		pm := e.as("pm-industry")
		share, plans := cp.Lines[0].ID, cp.Lines[1].ID
		// Refused, changing nothing: a rating off its scale, an apply mode.
		_, err = e.svcs.Proposals.Decide(pm, cp.ID, []planning.LineDecision{{LineID: share, Action: planning.DecisionAccept},
			{LineID: plans, Action: planning.DecisionModify, Amount: ptr(dec("4.2"))}}, nil)
		wantField(t, err, "decisions[1].amount")
		_, err = e.svcs.Proposals.Decide(pm, cp.ID, []planning.LineDecision{{LineID: share, Action: planning.DecisionAccept, Apply: planning.ApplyRaiseParent}}, nil)
		wantField(t, err, "decisions[0].apply")
		if now := grid(); fmt.Sprint(now) != fmt.Sprint(was) {
			t.Fatalf("a refused decision changed cells:\n%v\n%v", was, now)
		}
		// The preview compares each unit's year by the measure's rule:
		// B-SH's share weighted by its revenue, 500.00 a month: 25.00,
		// then (25 × 2 + 20) ÷ 3 = 23.33; its plans rating is the last
		// month's, none before and 3.5 after. Only the unit moves.
		decisions := []planning.LineDecision{{LineID: share, Action: planning.DecisionAccept},
			{LineID: plans, Action: planning.DecisionModify, Amount: ptr(dec("3.5"))}}
		effects, err := e.svcs.Proposals.PreviewDecision(pm, cp.ID, decisions)
		if err != nil {
			t.Fatal(err)
		}
		var moved []string
		for _, x := range effects {
			if !x.Before.Equal(x.After) {
				moved = append(moved, fmt.Sprintf("%d %s %s %s→%s", x.LineID, x.Relation, x.OrgUnit.Code, x.Before, x.After))
			}
		}
		if want := []string{fmt.Sprintf("%d unit B-SH 25→23.33", share), fmt.Sprintf("%d unit B-SH 0→3.5", plans)}; fmt.Sprint(moved) != fmt.Sprint(want) {
			t.Errorf("preview moves %q, want %q", moved, want)
		}
		if now := grid(); fmt.Sprint(now) != fmt.Sprint(was) {
			t.Fatalf("the preview changed cells")
		}
		cp, err = e.svcs.Proposals.Decide(pm, cp.ID, decisions, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Status != planning.CPClosed || cp.Lines[0].ApplyMode != "" {
			t.Errorf("decided: %s, apply %q", cp.Status, cp.Lines[0].ApplyMode)
		}
		now := grid()
		want := map[string]string{}
		for k, v := range was {
			want[k] = v
		}
		// B-SH's own June share and every month of its plans rating; its
		// teams, its region and every revenue cell as they were.
		want["B-SH/t_share"] = "25.00 25.00 20.00 " + strings.Repeat("- ", 9)
		want["B-SH/t_plans"] = strings.Repeat("3.5 ", 12)
		for k, v := range want {
			if now[k] != v {
				t.Errorf("%s: %q, want %q", k, now[k], v)
			}
		}
		if len(now) != len(want) {
			t.Errorf("rows %v, want %v", now, want)
		}
	})
}

// TestMeasureKindsDiff checks that a diff's rollups sum the changes of
// measures that add up only: a market share, a customer count at period
// end or a rating changed is listed cell by cell and counted as not
// summed, never added into a unit's, a line's, a measure's or a month's
// total.
func TestMeasureKindsDiff(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re, ms := kindsFixture(t, e)
		ctx := e.as("strategy")
		v1 := *re.round.WorkingVersionID
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "revised", "")
		if err != nil {
			t.Fatal(err)
		}
		pos := re.lines["POS"].ID
		set := func(unit, measure string, p int, amount string) planning.CellEdit {
			return planning.CellEdit{CellKey: planning.CellKey{OrgUnitID: re.unitID(unit), ProductLineID: pos, MeasureID: ms[measure].ID, Period: p}, Amount: dec(amount)}
		}
		// B-SH: revenue +50.00 in April; its share 25.00 → 30.00 in April
		// and May; its plans rating 4.0 → 4.5; B-SH-KA's customers 7 → 9.
		edits := []planning.CellEdit{set("B-SH", "revenue", 1, "550.00"), set("B-SH", "t_share", 1, "30.00"), set("B-SH", "t_share", 2, "30.00"),
			set("B-SH", "t_plans", 3, "4.5"), set("B-SH-KA", "t_customers", 2, "9")}
		if _, err := e.svcs.Targets.EditCells(ctx, v2.ID, edits, nil); err != nil {
			t.Fatal(err)
		}
		d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: v1})
		if err != nil {
			t.Fatal(err)
		}
		if d.ChangedCells != 5 || len(d.Changes) != 5 {
			t.Fatalf("changed %d, listed %d, want 5", d.ChangedCells, len(d.Changes))
		}
		level := re.unit("B-SH").Depth()
		for name, rs := range map[string][]planning.DiffRollup{"by_org_unit": d.ByOrgUnit, "by_product_line": d.ByProductLine,
			"by_measure": d.ByMeasure, "by_period": d.ByPeriod} {
			if len(rs) != 1 || rs[0].Level != level || !rs[0].Before.Equal(dec("500")) || !rs[0].After.Equal(dec("550")) || !rs[0].Delta.Equal(dec("50")) {
				t.Errorf("%s: %+v, want revenue's 500.00 → 550.00 alone", name, rs)
			}
		}
		want := []planning.DiffNotSummed{{MeasureID: ms["t_share"].ID, Aggregation: planning.AggWeightedAverage, ChangedCells: 2},
			{MeasureID: ms["t_customers"].ID, Aggregation: planning.AggLastValue, ChangedCells: 1},
			{MeasureID: ms["t_plans"].ID, Aggregation: planning.AggNone, ChangedCells: 1}}
		slices.SortFunc(want, func(a, b planning.DiffNotSummed) int { return int(a.MeasureID - b.MeasureID) })
		if fmt.Sprint(d.NotSummed) != fmt.Sprint(want) {
			t.Errorf("not summed %+v, want %+v", d.NotSummed, want)
		}
	})
}
