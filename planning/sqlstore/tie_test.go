package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// TestRebalanceTieGoesToSmallerCode: accepting +150,000.02 for Shanghai
// with rebalance re-splits East China's other branches, whose current
// amounts (so exact shares) are identical; the one cent left over goes to
// the smallest org-unit code, B-AH, as the README says, for a year line and
// for a month line alike.
func TestRebalanceTieGoesToSmallerCode(t *testing.T) {
	for _, period := range []int{planning.YearPeriod, 3} {
		t.Run(fmt.Sprintf("period %d", period), func(t *testing.T) { testRebalanceTie(t, period) })
	}
}

func testRebalanceTie(t *testing.T, period int) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		re.cascadeBuf(t, "pm-industry", "POS", "12000000.00", "0.05")
		r, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		re.round = r
		vid := *re.round.WorkingVersionID
		sh, pos := re.unitID("B-SH"), re.lines["POS"].ID
		cur := re.year(t, "B-SH", "POS")
		if period != planning.YearPeriod {
			cur = re.grid(t, "strategy", planning.GridFilter{VersionID: vid})[[3]int64{sh, pos, re.revenue.ID}][period-1]
		}
		cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, sh, "", []planning.LineInput{{ProductLineID: pos,
			MeasureID: re.revenue.ID, Period: period, Proposed: cur.Add(dec("150000.02")), Reason: "three new bank branches"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err = e.svcs.Proposals.Submit(e.as("bm-sh"), cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err = e.svcs.Proposals.Decide(e.as("pm-industry"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID,
			Action: planning.DecisionAccept, Apply: planning.ApplyRebalance}}, nil); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"B-SH": "1350000.02", "B-AH": "1150000.00", "B-JS": "1149999.99", "B-ZJ": "1149999.99"}
		for u, w := range want {
			if got := re.year(t, u, "POS"); !got.Equal(dec(w)) {
				t.Errorf("period %d: %s = %s, want %s", period, u, got, w)
			}
		}
		re.consistent(t)
	})
}

// cascadeBuf cascades a line's revenue like the README: regions by weight,
// branches evenly with a buffer, teams evenly, months by a profile.
func (re *roundEnv) cascadeBuf(t *testing.T, user, line, amount, buf string) {
	t.Helper()
	profiles, _, err := re.svcs.Seasonality.FindSeasonalityProfiles(re.as(user), planning.SeasonalityProfileFilter{Code: "year-end-peak"})
	if err != nil || len(profiles) != 1 {
		t.Fatalf("profile: %v", err)
	}
	_, err = re.svcs.Targets.Allocate(re.as(user), planning.AllocationRequest{
		VersionID: *re.round.WorkingVersionID, MeasureID: re.revenue.ID, RootID: re.unitID("CO"),
		Targets: []planning.AllocationTarget{{ProductLineID: re.lines[line].ID, Amount: dec(amount)}},
		Levels: []planning.LevelSpec{
			{Method: planning.MethodProportional, Weights: map[int64]decimal.Decimal{
				re.unitID("NKA"): dec("2"), re.unitID("NCH"): dec("1"), re.unitID("R-EAST"): dec("4"),
				re.unitID("R-NORTH"): dec("2"), re.unitID("R-SOUTH"): dec("1.5")}},
			{Method: planning.MethodEven, Buffer: dec(buf)},
			{Method: planning.MethodEven},
		},
		Phasing: planning.Phasing{Method: planning.PhaseProfile, ProfileID: &profiles[0].ID},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRebalanceLargestRemainderBeforeCode: after Shanghai's 1,300,000.00
// is accepted, B-AH and B-JS hold 1,166,666.67 and B-ZJ one cent less.
// Accepting +150,000.02 more re-splits 3,349,999.98 over them in proportion:
// B-AH's and B-JS's exact shares are equal (1,116,666.6647…), B-ZJ's is
// smaller (1,116,666.6552…) but has the largest remainder, so the leftover
// cent goes to B-ZJ, before any tie is looked at, and all three end at
// 1,116,666.66. The tie rule only orders equal remainders.
func TestRebalanceLargestRemainderBeforeCode(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		re.cascadeBuf(t, "pm-industry", "POS", "12000000.00", "0.05")
		r, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		re.round = r
		vid := *re.round.WorkingVersionID
		sh, pos := re.unitID("B-SH"), re.lines["POS"].ID
		accept := func(amount decimal.Decimal) {
			t.Helper()
			cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, sh, "", []planning.LineInput{{ProductLineID: pos,
				MeasureID: re.revenue.ID, Period: planning.YearPeriod, Proposed: amount, Reason: "new customers"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svcs.Proposals.Submit(e.as("bm-sh"), cp.ID, nil); err != nil {
				t.Fatal(err)
			}
			if _, err = e.svcs.Proposals.Decide(e.as("pm-industry"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID, Action: planning.DecisionAccept}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		accept(dec("1300000.00"))
		for u, w := range map[string]string{"B-AH": "1166666.67", "B-JS": "1166666.67", "B-ZJ": "1166666.66"} {
			if got := re.year(t, u, "POS"); !got.Equal(dec(w)) {
				t.Fatalf("after the first accept %s = %s, want %s", u, got, w)
			}
		}
		accept(dec("1450000.02"))
		for _, u := range []string{"B-AH", "B-JS", "B-ZJ"} {
			if got := re.year(t, u, "POS"); !got.Equal(dec("1116666.66")) {
				t.Errorf("%s = %s, want 1116666.66", u, got)
			}
		}
		re.consistent(t)
	})
}
