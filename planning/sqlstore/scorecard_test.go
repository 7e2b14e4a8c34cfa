package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// fixtureScorecard assesses branches on revenue (60%, linear from 0 to a
// cap of 120%) and on POS revenue as a key product (40%, steps).
func fixtureScorecard(re *roundEnv) *planning.Scorecard {
	return &planning.Scorecard{RoundID: re.round.ID, Level: planning.KindBranch, Name: "Branch manager",
		Rounding: planning.Rounding{Places: 1, Mode: planning.RoundHalfUp},
		KPIs: []planning.KPI{
			{MeasureID: re.revenue.ID, Label: "Revenue", Weight: dec("60"), Direction: planning.HigherIsBetter,
				Curve: planning.Curve{Kind: planning.CurveLinear, FloorPct: dec("0"), CapPct: dec("120")}},
			{MeasureID: re.revenue.ID, ProductLineIDs: []int64{re.lines["POS"].ID}, Label: "Key product POS", Weight: dec("40"),
				Direction: planning.HigherIsBetter, Curve: planning.Curve{Kind: planning.CurveSteps, Steps: []planning.Step{
					{MinPct: dec("90"), Points: dec("80")}, {MinPct: dec("100"), Points: dec("100")}, {MinPct: dec("110"), Points: dec("120")}}}},
		}}
}

func scoreLine(u planning.UnitScore) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", u.Rank, u.OrgUnitCode, u.Total.StringFixed(1))
	for _, k := range u.KPIs {
		pct := "null"
		if k.AttainmentPct != nil {
			pct = k.AttainmentPct.StringFixed(2)
		}
		fmt.Fprintf(&b, " | %s/%s %s %s %s", k.Target.StringFixed(2), k.Actual.StringFixed(2), pct, k.Points.String(), k.Weighted.String())
	}
	return b.String()
}

// TestScoresHandChecked scores the attainment fixture's branches year to
// date as of June (targets and actuals as in TestAttainmentHandChecked):
//
//	B-SH revenue 800.00 of 900.00 = 88.89% → 88.89 points × 60% = 53.334
//	     POS     770.00 of 750.00 = 102.67% → step 100% → 100 × 40% = 40
//	     total 93.334 → 93.3 (one place, half up)
//	B-JS revenue 600.00 of 600.00 and POS 600.00 of 600.00 → 100.0
//
// Correcting an actual restates the score: B-SH-KA's June CPC revenue
// 30.00 → 130.00 brings B-SH to 100.0, tied with B-JS on every key of the
// tie rule, so both are first, listed by code.
func TestScoresHandChecked(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := attainmentFixture(t, e)
		re.clearScorecards(t)
		card := fixtureScorecard(re)
		created, err := e.svcs.Scorecards.PutScorecard(e.as("strategy"), card, nil)
		if err != nil || !created {
			t.Fatal(created, err)
		}
		if card.KPIs[1].ProductLineCodes[0] != "POS" || card.KPIs[0].MeasureCode != "revenue" || card.Revision != 1 {
			t.Fatalf("stored scorecard not labelled: %+v", card.KPIs)
		}
		version := *re.round.WorkingVersionID
		filter := planning.ScoreFilter{RoundID: re.round.ID, VersionID: &version, Level: planning.KindBranch, Period: 3, Basis: planning.BasisYTD}
		scores := func(user string) []string {
			rep, err := e.svcs.Scorecards.FindScores(e.as(user), filter)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, u := range rep.Units[:min(3, len(rep.Units))] {
				out = append(out, scoreLine(u))
			}
			return out
		}
		want := []string{
			"1 B-JS 100.0 | 600.00/600.00 100.00 100 60 | 600.00/600.00 100.00 100 40",
			"2 B-SH 93.3 | 900.00/800.00 88.89 88.89 53.334 | 750.00/770.00 102.67 100 40",
			// Units with no targets score zero and share the next rank.
			"3 B-AH 0.0 | 0.00/0.00 null 0 0 | 0.00/0.00 null 0 0",
		}
		if got := scores("strategy"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("scores\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// A branch manager sees their own branch only, at its place.
		if got := scores("bm-sh"); len(got) != 1 || !strings.HasPrefix(got[0], "1 B-SH 93.3") {
			t.Fatalf("Shanghai's manager sees %v", got)
		}
		_, err = e.svcs.Scorecards.IssueScores(e.as("pm-industry"), filter)
		wantCode(t, err, planning.EFORBIDDEN)
		first, err := e.svcs.Scorecards.IssueScores(e.as("strategy"), filter)
		if err != nil || len(first.Units) != 8 || scoreLine(first.Units[1]) != want[1] {
			t.Fatalf("issued %v %v", first, err)
		}
		// Restatement: a corrected actual changes the score. An import
		// replaces the months it holds, so June comes again whole.
		june := rows("B-SH-KA,POS,revenue,2027-06,120.00", "B-SH-CH,POS,revenue,2027-06,160.00", "B-SH-KA,CPC,revenue,2027-06,130.00",
			"B-JS-KA,POS,revenue,2027-06,200.00", "B-SH-KA,POS,units,2027-06,1")
		if _, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: june}); err != nil {
			t.Fatal(err)
		}
		got := scores("strategy")
		if !strings.HasPrefix(got[0], "1 B-JS 100.0") || !strings.HasPrefix(got[1], "1 B-SH 100.0 | 900.00/900.00 100.00") {
			t.Fatalf("after the correction: %v", got)
		}
		// The earlier issue keeps the earlier score; a new issue has the new.
		if _, err := e.svcs.Scorecards.IssueScores(e.as("strategy"), filter); err != nil {
			t.Fatal(err)
		}
		issues, err := e.svcs.Scorecards.FindScoreIssues(e.as("bm-sh"), re.round.ID, planning.KindBranch)
		if err != nil || len(issues) != 2 {
			t.Fatal(issues, err)
		}
		for i, want := range []string{"2 B-SH 93.3 | 900.00/800.00 88.89 88.89 53.334", "1 B-SH 100.0 | 900.00/900.00 100.00 100 60"} {
			if got := issues[i].Units; len(got) != 1 || !strings.HasPrefix(scoreLine(got[0]), want) {
				t.Fatalf("issue %d as Shanghai's manager: %v", i, got)
			}
		}
		if issues[0].Period != 3 || issues[0].Basis != planning.BasisYTD || issues[0].Scorecard.ID != card.ID || issues[0].Scorecard.KPIs[1].ProductLineCodes[0] != "POS" {
			t.Fatalf("issue header %+v", issues[0])
		}
		// One unit keeps its place among the level.
		sh := re.unitID("B-SH")
		filter.OrgUnitID = &sh
		if got := scores("strategy"); len(got) != 1 || !strings.HasPrefix(got[0], "1 B-SH") {
			t.Fatalf("one unit: %v", got)
		}
		ka := re.unitID("B-SH-KA")
		filter.OrgUnitID = &ka
		_, err = e.svcs.Scorecards.FindScores(e.as("strategy"), filter)
		wantCode(t, err, planning.EINVALID)
		bj := re.unitID("B-BJ")
		filter.OrgUnitID = &bj
		_, err = e.svcs.Scorecards.FindScores(e.as("bm-sh"), filter)
		wantCode(t, err, planning.ENOTFOUND)
	})
}

func TestScorecardWrites(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		re.clearScorecards(t)
		before := e.auditCount()
		card := fixtureScorecard(re)
		// Out of role: 403, before any validation.
		bad := fixtureScorecard(re)
		bad.KPIs[0].Weight = dec("10")
		_, err := e.svcs.Scorecards.PutScorecard(e.as("pm-industry"), bad, nil)
		wantCode(t, err, planning.EFORBIDDEN)
		_, err = e.svcs.Scorecards.PutScorecard(e.as("strategy"), bad, nil)
		wantCode(t, err, planning.EINVALID)
		// A measure not of the round.
		ms, _, _ := e.svcs.Measures.FindMeasures(e.as("strategy"), planning.MeasureFilter{Code: "collections"})
		bad = fixtureScorecard(re)
		bad.KPIs[0].MeasureID = ms[0].ID
		_, err = e.svcs.Scorecards.PutScorecard(e.as("strategy"), bad, nil)
		wantCode(t, err, planning.EINVALID)
		if e.auditCount() != before {
			t.Fatal("a refused write left an audit event")
		}
		if _, err := e.svcs.Scorecards.PutScorecard(e.as("strategy"), card, nil); err != nil {
			t.Fatal(err)
		}
		card.KPIs[0].Weight, card.KPIs[1].Weight = dec("70"), dec("30")
		stale := int64(7)
		_, err = e.svcs.Scorecards.PutScorecard(e.as("strategy"), card, &stale)
		wantCode(t, err, planning.EPRECONDITION)
		rev := card.Revision
		created, err := e.svcs.Scorecards.PutScorecard(e.as("strategy"), card, &rev)
		if err != nil || created || card.Revision != 2 {
			t.Fatal(created, err, card.Revision)
		}
		got, err := e.svcs.Scorecards.FindScorecard(e.as("bm-sh"), re.round.ID, planning.KindBranch)
		if err != nil || !got.KPIs[0].Weight.Equal(decimal.NewFromInt(70)) {
			t.Fatal(got, err)
		}
		list, err := e.svcs.Scorecards.FindScorecards(e.as("auditor"), re.round.ID)
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		if e.auditCount() != before+2 {
			t.Fatalf("audit events %d, want %d", e.auditCount(), before+2)
		}
		_, err = e.svcs.Scorecards.FindScores(e.as("strategy"), planning.ScoreFilter{RoundID: re.round.ID, Level: planning.KindRegion})
		wantCode(t, err, planning.ENOTFOUND)
		if err := e.svcs.Scorecards.DeleteScorecard(e.as("strategy"), re.round.ID, planning.KindBranch); err != nil {
			t.Fatal(err)
		}
		_, err = e.svcs.Scorecards.FindScorecard(e.as("strategy"), re.round.ID, planning.KindBranch)
		wantCode(t, err, planning.ENOTFOUND)
	})
}

// clearScorecards removes the scorecards the round received from the
// demo's templates, for tests that write their own.
func (re *roundEnv) clearScorecards(t *testing.T) {
	t.Helper()
	cards, err := re.svcs.Scorecards.FindScorecards(re.as("strategy"), re.round.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		if err := re.svcs.Scorecards.DeleteScorecard(re.as("strategy"), re.round.ID, c.Level); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewRoundReceivesTemplates checks that a round is created with the
// organisation's default scorecards (the demo's are the deck's), each
// holding the KPIs whose measures the round plans, reweighted to exactly
// 100, in the same write as the round; and that the templates are the
// strategy office's to set, valid ones only.
func TestNewRoundReceivesTemplates(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e) // revenue, gross margin, units
		cards, err := e.svcs.Scorecards.FindScorecards(e.as("auditor"), re.round.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[planning.OrgUnitKind]string{}
		for _, c := range cards {
			sum := decimal.Zero
			line := ""
			for _, k := range c.KPIs {
				sum = sum.Add(k.Weight)
				line += fmt.Sprintf("%s%v:%s ", k.MeasureCode, k.ProductLineCodes, k.Weight)
			}
			if !sum.Equal(decimal.NewFromInt(100)) {
				t.Errorf("%s: weights sum to %s", c.Level, sum)
			}
			got[c.Level] = line
		}
		// The branch's 32, 12 and 16 of the deck's 100 become
		// 53.33 (+0.01 of truncation), 20 and 26.66.
		want := map[planning.OrgUnitKind]string{
			planning.KindBranch:         "revenue[]:53.34 revenue[POS ATM]:20 gross_margin[]:26.66 ",
			planning.KindKeyAccountTeam: "revenue[]:71.43 revenue[POS ATM]:28.57 ",
			planning.KindChannelTeam:    "revenue[]:71.43 revenue[POS ATM]:28.57 ",
			planning.KindRegion:         "revenue[]:62.5 gross_margin[]:37.5 ",
		}
		for level, w := range want {
			if got[level] != w {
				t.Errorf("%s: %q, want %q", level, got[level], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("scorecards of %v", got)
		}

		// Only the strategy office sets templates, and only valid ones.
		tpls := planning.DeckScorecards()
		err = e.svcs.Scorecards.SetScorecardTemplates(e.as("pm-industry"), tpls)
		wantCode(t, err, planning.EFORBIDDEN)
		tpls[0].KPIs[0].Weight = dec("33")
		err = e.svcs.Scorecards.SetScorecardTemplates(e.as("strategy"), tpls)
		wantCode(t, err, planning.EINVALID)
		// Without templates a new round has no scorecards.
		if err := e.svcs.Scorecards.SetScorecardTemplates(e.as("strategy"), nil); err != nil {
			t.Fatal(err)
		}
		r := &planning.Round{Code: "FY2028", Name: "Plan 2028", FiscalYear: 2028, FirstMonth: 1, MeasureIDs: []int64{re.revenue.ID}}
		if err := e.svcs.Rounds.CreateRound(e.as("strategy"), r); err != nil {
			t.Fatal(err)
		}
		if cards, err := e.svcs.Scorecards.FindScorecards(e.as("strategy"), r.ID); err != nil || len(cards) != 0 {
			t.Fatalf("%d scorecards without templates (%v)", len(cards), err)
		}
	})
}
