package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// toCounterproposals cascades two lines and moves the round on to its
// counterproposal phase.
func toCounterproposals(t *testing.T, e *env) *roundEnv {
	t.Helper()
	re := openRound(t, e)
	re.cascadeFlat(t, "pm-industry", "POS", "1200000.00")
	re.cascadeFlat(t, "pm-agency", "EPSON", "600000.00")
	r, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	re.round = r
	return re
}

// cascadeFlat allocates a line's revenue evenly, without buffers, from the
// company to every team and month.
func (re *roundEnv) cascadeFlat(t *testing.T, user, line, amount string) {
	t.Helper()
	_, err := re.svcs.Targets.Allocate(re.as(user), planning.AllocationRequest{
		VersionID: *re.round.WorkingVersionID, MeasureID: re.revenue.ID, RootID: re.unitID("CO"),
		Targets: []planning.AllocationTarget{{ProductLineID: re.lines[line].ID, Amount: dec(amount)}},
		Levels:  []planning.LevelSpec{{Method: planning.MethodEven}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (re *roundEnv) year(t *testing.T, unit, line string) decimal.Decimal {
	t.Helper()
	id := re.unitID(unit)
	g := re.grid(t, "strategy", planning.GridFilter{VersionID: *re.round.WorkingVersionID, OrgUnitID: &id, Grain: planning.GrainYear})
	v := g[[3]int64{id, re.lines[line].ID, re.revenue.ID}]
	if len(v) == 0 {
		return decimal.Zero
	}
	return v[0]
}

func (re *roundEnv) consistent(t *testing.T) {
	t.Helper()
	inc, _, err := re.svcs.Targets.FindInconsistencies(re.as("strategy"), *re.round.WorkingVersionID, planning.PageRequest{})
	if err != nil || len(inc) != 0 {
		t.Fatalf("inconsistent: %+v %v", inc, err)
	}
}

func TestCounterproposalStateMachine(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		sh, js := re.unitID("B-SH"), re.unitID("B-JS")
		line := []planning.LineInput{{ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod,
			Proposed: dec("50000.00"), Reason: "two big customers left"}}
		bm := e.as("bm-sh")
		// Who may draft, and for which unit.
		_, err := e.svcs.Proposals.CreateCounterproposal(bm, vid, js, "", line)
		wantCode(t, err, planning.EINVALID) // another branch: invisible
		_, err = e.svcs.Proposals.CreateCounterproposal(e.as("pm-industry"), vid, sh, "", line)
		wantCode(t, err, planning.EFORBIDDEN)
		_, err = e.svcs.Proposals.CreateCounterproposal(e.as("tl-sh-ka"), vid, sh, "", line)
		wantCode(t, err, planning.EINVALID) // the team lead does not see the branch
		_, err = e.svcs.Proposals.CreateCounterproposal(bm, vid, sh, "", []planning.LineInput{{ProductLineID: re.lines["POS"].ID,
			MeasureID: re.units.ID, Period: 3, Proposed: dec("1.5")}})
		wantCode(t, err, planning.EINVALID)

		cp, err := e.svcs.Proposals.CreateCounterproposal(bm, vid, sh, "Shanghai 2027", line)
		if err != nil {
			t.Fatal(err)
		}
		l := cp.Lines[0]
		if !l.Current.Equal(re.year(t, "B-SH", "POS")) || !l.Delta.Equal(l.Proposed.Sub(l.Current)) {
			t.Fatalf("line current %s delta %s", l.Current, l.Delta)
		}
		// Draft: editable, not decidable.
		_, err = e.svcs.Proposals.Decide(e.as("pm-industry"), cp.ID, []planning.LineDecision{{LineID: l.ID, Action: planning.DecisionAccept}}, nil)
		wantCode(t, err, planning.ECONFLICT)
		title := "Shanghai, revised"
		cp, err = e.svcs.Proposals.UpdateCounterproposal(bm, cp.ID, &title, nil, &cp.Revision)
		if err != nil || cp.Title != title {
			t.Fatalf("update draft: %v", err)
		}
		_, err = e.svcs.Proposals.UpdateCounterproposal(bm, cp.ID, &title, nil, &[]int64{1}[0])
		wantCode(t, err, planning.EPRECONDITION)
		// Submitted: no more edits; withdrawable while undecided.
		if cp, err = e.svcs.Proposals.Submit(bm, cp.ID, nil); err != nil || cp.Status != planning.CPSubmitted {
			t.Fatalf("submit: %v", err)
		}
		_, err = e.svcs.Proposals.Submit(bm, cp.ID, nil)
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Proposals.UpdateCounterproposal(bm, cp.ID, &title, nil, nil)
		wantCode(t, err, planning.ECONFLICT)
		if cp, err = e.svcs.Proposals.Withdraw(bm, cp.ID, nil); err != nil || cp.Status != planning.CPWithdrawn {
			t.Fatalf("withdraw: %v", err)
		}
		_, err = e.svcs.Proposals.Withdraw(bm, cp.ID, nil)
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Proposals.Submit(bm, cp.ID, nil)
		wantCode(t, err, planning.ECONFLICT)

		// A second one, two lines; partly decided it cannot be withdrawn.
		two := append(line, planning.LineInput{ProductLineID: re.lines["EPSON"].ID, MeasureID: re.revenue.ID, Period: 2, Proposed: dec("0.00")})
		cp, err = e.svcs.Proposals.CreateCounterproposal(bm, vid, sh, "", two)
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = e.svcs.Proposals.Submit(bm, cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		inbox, _, err := e.svcs.Proposals.FindCounterproposals(e.as("pm-agency"), planning.CounterproposalFilter{VersionID: vid,
			AwaitingDecisionBy: &planning.ActorFromContext(e.as("pm-agency")).User.ID})
		if err != nil || len(inbox) != 1 {
			t.Fatalf("pm-agency inbox %d %v", len(inbox), err)
		}
		_, err = e.svcs.Proposals.Decide(e.as("pm-agency"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID, Action: planning.DecisionReject}}, nil)
		wantCode(t, err, planning.EFORBIDDEN) // POS is not theirs
		cp, err = e.svcs.Proposals.Decide(e.as("pm-agency"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[1].ID, Action: planning.DecisionReject, Comment: "no"}}, nil)
		if err != nil || cp.Status != planning.CPSubmitted {
			t.Fatalf("partial decision: %v", err)
		}
		_, err = e.svcs.Proposals.Withdraw(bm, cp.ID, nil)
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Proposals.Decide(e.as("pm-agency"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[1].ID, Action: planning.DecisionReject}}, nil)
		wantCode(t, err, planning.ECONFLICT) // decided already
		cp, err = e.svcs.Proposals.Decide(e.as("pm-industry"), cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID, Action: planning.DecisionReject, Comment: "no"}}, nil)
		if err != nil || cp.Status != planning.CPClosed {
			t.Fatalf("closing decision: %+v %v", cp, err)
		}
		// Nothing is applied by rejections.
		re.consistent(t)
		// Comments form a thread visible to both sides, invisible to others.
		if _, err := e.svcs.Proposals.AddComment(e.as("pm-industry"), cp.ID, "see you in review"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs.Proposals.AddComment(bm, cp.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		cs, err := e.svcs.Proposals.FindComments(e.as("auditor"), cp.ID)
		if err != nil || len(cs) != 2 {
			t.Fatalf("comments %v %v", cs, err)
		}
		_, err = e.svcs.Proposals.FindComments(e.as("bm-js"), cp.ID)
		wantCode(t, err, planning.ENOTFOUND)
		// Outside the phase: 409.
		if _, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundReview, "", nil); err != nil {
			t.Fatal(err)
		}
		_, err = e.svcs.Proposals.CreateCounterproposal(bm, vid, sh, "", line)
		wantCode(t, err, planning.ECONFLICT)
	})
}

func TestCounterproposalDeadline(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		past := []planning.Deadline{{Phase: planning.RoundCounterproposals, Due: time.Now().Add(-time.Hour)}}
		if _, err := e.svcs.Rounds.UpdateRound(e.as("strategy"), re.round.ID, planning.RoundUpdate{Calendar: &past}); err != nil {
			t.Fatal(err)
		}
		_, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), *re.round.WorkingVersionID, re.unitID("B-SH"), "",
			[]planning.LineInput{{ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Proposed: dec("1.00")}})
		if planning.ErrorCode(err) != planning.ECONFLICT || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("after the deadline: %v", err)
		}
	})
}

func TestDecisionsKeepTheTreeConsistent(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		pos := re.lines["POS"].ID
		coBefore, eastBefore := re.year(t, "CO", "POS"), re.year(t, "R-EAST", "POS")
		jsBefore := re.year(t, "B-JS", "POS")

		// Shanghai wants more for the year, Jiangsu less in June.
		sh, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, re.unitID("B-SH"), "",
			[]planning.LineInput{{ProductLineID: pos, MeasureID: re.revenue.ID, Proposed: dec("80000.00"), Reason: "new bank branches"}})
		if err != nil {
			t.Fatal(err)
		}
		js, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-js"), vid, re.unitID("B-JS"), "",
			[]planning.LineInput{{ProductLineID: pos, MeasureID: re.revenue.ID, Period: 3, Proposed: dec("1000.00"), Reason: "factory move"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			user string
			id   int64
		}{{"bm-sh", sh.ID}, {"bm-js", js.ID}} {
			if _, err := e.svcs.Proposals.Submit(e.as(c.user), c.id, nil); err != nil {
				t.Fatal(err)
			}
		}
		pm := e.as("pm-industry")
		// Accept Shanghai with sibling rebalancing: East China stays.
		if _, err := e.svcs.Proposals.Decide(pm, sh.ID, []planning.LineDecision{{LineID: sh.Lines[0].ID, Action: planning.DecisionAccept,
			Apply: planning.ApplyRebalance}}, nil); err != nil {
			t.Fatal(err)
		}
		if got := re.year(t, "B-SH", "POS"); !got.Equal(dec("80000")) {
			t.Fatalf("Shanghai now %s", got)
		}
		if got := re.year(t, "R-EAST", "POS"); !got.Equal(eastBefore) {
			t.Fatalf("East China moved from %s to %s", eastBefore, got)
		}
		if got := re.year(t, "B-JS", "POS"); !got.LessThan(jsBefore) {
			t.Fatalf("Jiangsu did not give way: %s", got)
		}
		re.consistent(t)
		// Modify Jiangsu's June and raise the parents: the total moves.
		jsJune := re.grid(t, "strategy", planning.GridFilter{VersionID: vid, OrgUnitID: &[]int64{re.unitID("B-JS")}[0]})[[3]int64{re.unitID("B-JS"), pos, re.revenue.ID}][2]
		if _, err := e.svcs.Proposals.Decide(pm, js.ID, []planning.LineDecision{{LineID: js.Lines[0].ID, Action: planning.DecisionModify,
			Amount: &[]decimal.Decimal{dec("2000.00")}[0], Apply: planning.ApplyRaiseParent, Comment: "meet halfway"}}, nil); err != nil {
			t.Fatal(err)
		}
		delta := dec("2000.00").Sub(jsJune)
		if got := re.year(t, "CO", "POS"); !got.Equal(coBefore.Add(delta)) {
			t.Fatalf("company %s, want %s + %s", got, coBefore, delta)
		}
		re.consistent(t)
		// The cell's history shows the allocation, then the decision.
		hist, err := e.svcs.Audit.FindCellHistory(e.as("bm-js"), vid, planning.CellKey{OrgUnitID: re.unitID("B-JS"), ProductLineID: pos, MeasureID: re.revenue.ID, Period: 3})
		if err != nil || len(hist) < 2 {
			t.Fatalf("history %+v %v", hist, err)
		}
		last := hist[len(hist)-1]
		if last.Action != "counterproposal.decide" || !last.After.Equal(dec("2000")) || last.Before == nil || !last.Before.Equal(jsJune) {
			t.Fatalf("last change %+v", last)
		}
		if hist[0].AllocationRunID == nil || hist[0].Action != "targets.allocate" {
			t.Fatalf("first change %+v", hist[0])
		}
		_, err = e.svcs.Audit.FindCellHistory(e.as("bm-sh"), vid, planning.CellKey{OrgUnitID: re.unitID("B-JS"), ProductLineID: pos, MeasureID: re.revenue.ID, Period: 3})
		wantCode(t, err, planning.ENOTFOUND)
		// The overview names the branches that did not respond.
		counts, err := e.svcs.Proposals.CountCounterproposals(e.as("strategy"), vid)
		if err != nil {
			t.Fatal(err)
		}
		silent := 0
		for _, c := range counts {
			if c.Status == "none" {
				silent++
			}
		}
		if silent != 6 {
			t.Fatalf("%d silent branches in %+v, want 6", silent, counts)
		}
	})
}

func TestApprovalStateMachine(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		act := func(user, action, comment string) error {
			_, err := e.svcs.Approvals.Act(e.as(user), vid, action, comment, nil)
			return err
		}
		// Not in review yet.
		wantCode(t, act("pm-industry", planning.ActSubmit, ""), planning.ECONFLICT)
		if _, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundReview, "", nil); err != nil {
			t.Fatal(err)
		}
		wantCode(t, act("sales-director", planning.ActApprove, ""), planning.ECONFLICT) // nothing submitted
		wantCode(t, act("sales-director", planning.ActSubmit, ""), planning.EFORBIDDEN)
		wantCode(t, act("pm-industry", "bless", ""), planning.EINVALID)
		if err := act("pm-industry", planning.ActSubmit, "the plan"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, act("pm-agency", planning.ActSubmit, ""), planning.ECONFLICT)
		// A version going up the chain is not edited.
		_, err := e.svcs.Targets.EditCells(e.as("pm-industry"), vid, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: re.unitID("CO"),
			ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: 1}, Amount: dec("1.00")}}, nil)
		wantCode(t, err, planning.ECONFLICT)
		wantCode(t, act("president", planning.ActApprove, ""), planning.EFORBIDDEN)   // out of turn
		wantCode(t, act("sales-director", planning.ActReject, ""), planning.EINVALID) // no reason
		if err := act("sales-director", planning.ActReject, "Q4 is too heavy"); err != nil {
			t.Fatal(err)
		}
		ap, _ := e.svcs.Approvals.FindApproval(e.as("auditor"), vid)
		if ap.State != planning.ApprovalNone || ap.NextRole == nil || *ap.NextRole != planning.RoleProductManager {
			t.Fatalf("after rejection %+v", ap)
		}
		// Resubmitted; reopen by the submitter; resubmitted again.
		if err := act("pm-industry", planning.ActSubmit, "lighter Q4"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, act("pm-agency", planning.ActReopen, ""), planning.EFORBIDDEN)
		if err := act("pm-industry", planning.ActReopen, "one more fix"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, act("pm-industry", planning.ActReopen, ""), planning.ECONFLICT)
		if err := act("pm-agency", planning.ActSubmit, "again"); err != nil {
			t.Fatal(err)
		}
		for _, step := range []string{"sales-director", "marketing-director"} {
			if err := act(step, planning.ActApprove, "fine"); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		ap, _ = e.svcs.Approvals.FindApproval(e.as("auditor"), vid)
		if ap.State != planning.ApprovalInProgress || ap.Current != 3 || *ap.NextRole != planning.RolePresident || ap.Steps[1].State != "done" || ap.Steps[3].State != "current" {
			t.Fatalf("before the president %+v", ap)
		}
		if err := act("president", planning.ActApprove, "signed"); err != nil {
			t.Fatal(err)
		}
		ap, _ = e.svcs.Approvals.FindApproval(e.as("auditor"), vid)
		if ap.State != planning.ApprovalApproved || len(ap.History) != 8 || ap.NextRole != nil {
			t.Fatalf("approved %+v", ap)
		}
		r, _ := e.svcs.Rounds.FindRoundByID(e.as("auditor"), re.round.ID)
		v, _ := e.svcs.Versions.FindVersionByID(e.as("auditor"), vid)
		if r.Status != planning.RoundApproved || r.RecordVersionID == nil || *r.RecordVersionID != vid || v.Status != planning.VersionFrozen {
			t.Fatalf("round %+v version %+v", r, v)
		}
		wantCode(t, act("president", planning.ActApprove, ""), planning.ECONFLICT)
		// A re-forecast goes up the chain again; the record changes only
		// when it is approved.
		v2, err := e.svcs.Versions.CopyVersion(e.as("pm-industry"), vid, "re-forecast Q2", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs.Approvals.Act(e.as("pm-industry"), v2.ID, planning.ActSubmit, "", nil); err != nil {
			t.Fatal(err)
		}
		// Nobody approves what they submitted, whatever else they are.
		for _, step := range []string{"sales-director", "marketing-director", "president"} {
			if _, err := e.svcs.Approvals.Act(e.as(step), v2.ID, planning.ActApprove, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		r, _ = e.svcs.Rounds.FindRoundByID(e.as("auditor"), re.round.ID)
		if *r.RecordVersionID != v2.ID || r.Status != planning.RoundApproved {
			t.Fatalf("record after the re-forecast: %+v", r)
		}
	})
}
