package planning_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// The state machines of the counterproposal, the approval chain and the
// round, without a database: every action in every state, by someone with
// the right (the listed moves succeed, every other is ECONFLICT) and by
// someone without it (EFORBIDDEN whatever the state, and before a stale
// revision or invalid input).

func actor(id int64, roles ...planning.Role) *planning.Actor {
	a := &planning.Actor{User: &planning.User{ID: id}}
	for _, r := range roles {
		ra := planning.RoleAssignment{Role: r}
		if r.Scoped() {
			ra.OrgUnitPath = "/1/4/"
		}
		a.Roles = append(a.Roles, ra)
	}
	return a
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := planning.ErrorCode(err); (err == nil && code != "") || (err != nil && got != code) {
		t.Errorf("%s: %v (code %q), want code %q", what, err, got, code)
	}
}

var (
	now       = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	branchMgr = actor(10, planning.RoleBranchManager) // manages unit 4
	pmOwner   = actor(20, planning.RoleProductManager)
	pmOther   = actor(21, planning.RoleProductManager)
	auditor   = actor(30, planning.RoleAuditor)
	strategy  = actor(40, planning.RoleStrategyOffice)
	president = actor(50, planning.RolePresident)
	stale     = int64(99)
)

func proposalContext(a *planning.Actor, roundStatus planning.RoundStatus) *planning.ProposalContext {
	wv := int64(7)
	owner := pmOwner.UserID()
	return &planning.ProposalContext{Actor: a, Now: now,
		Unit:    &planning.OrgUnit{ID: 4, Code: "B-SH", Path: "/1/4/"},
		Version: &planning.Version{ID: 7, Status: planning.VersionWorking, ApprovalState: planning.ApprovalNone},
		Round: &planning.Round{ID: 1, Code: "FY", Status: roundStatus, WorkingVersionID: &wv,
			Calendar: []planning.Deadline{{Phase: planning.RoundCounterproposals, Due: now.Add(time.Hour)}}},
		ProductLines: map[int64]*planning.ProductLine{3: {ID: 3, Code: "POS", OwnerID: &owner}},
		Scales:       map[int64]int32{2: 2}}
}

func counterproposalIn(status planning.CounterproposalStatus) *planning.Counterproposal {
	return &planning.Counterproposal{ID: 1, VersionID: 7, OrgUnitID: 4, Status: status, AuthorID: branchMgr.UserID(), Revision: 3,
		Lines: []planning.CounterproposalLine{
			{ID: 100, ProductLineID: 3, MeasureID: 2, Period: planning.YearPeriod, Proposed: decimal.RequireFromString("10.00")},
			{ID: 101, ProductLineID: 3, MeasureID: 2, Period: 1, Proposed: decimal.RequireFromString("1.00")},
		}}
}

var cpStatuses = []planning.CounterproposalStatus{planning.CPDraft, planning.CPSubmitted, planning.CPClosed, planning.CPWithdrawn}

// cpAction runs one action on cp; the decision covers the first line only.
func cpAction(action planning.CounterproposalAction, cp *planning.Counterproposal, c *planning.ProposalContext, valid bool) error {
	switch action {
	case planning.CPActUpdate:
		title := "new title"
		if !valid {
			title = "bad\x00title"
		}
		return cp.Update(c, &title, nil)
	case planning.CPActSubmit:
		return cp.Submit(c)
	case planning.CPActWithdraw:
		return cp.Withdraw(c)
	case planning.CPActDecide:
		d := planning.LineDecision{LineID: 100, Action: planning.DecisionAccept}
		if !valid {
			d.Action = planning.DecisionModify // without the amount
		}
		_, err := cp.Decide(c, []planning.LineDecision{d})
		return err
	}
	panic(action)
}

func listed(action planning.CounterproposalAction, s planning.CounterproposalStatus) bool {
	for _, r := range planning.CounterproposalMovesFrom(s) {
		if r.Action == action {
			return true
		}
	}
	return false
}

func TestCounterproposalStateMachine(t *testing.T) {
	actions := []planning.CounterproposalAction{planning.CPActUpdate, planning.CPActSubmit, planning.CPActWithdraw, planning.CPActDecide}
	// The round phase each action is taken in when it is possible at all.
	phase := map[planning.CounterproposalAction]planning.RoundStatus{
		planning.CPActUpdate: planning.RoundCounterproposals, planning.CPActSubmit: planning.RoundCounterproposals,
		planning.CPActWithdraw: planning.RoundCounterproposals, planning.CPActDecide: planning.RoundReview}
	right := map[planning.CounterproposalAction]*planning.Actor{
		planning.CPActUpdate: branchMgr, planning.CPActSubmit: branchMgr, planning.CPActWithdraw: branchMgr, planning.CPActDecide: pmOwner}
	wrong := map[planning.CounterproposalAction][]*planning.Actor{
		planning.CPActUpdate:   {auditor, pmOwner, strategy},
		planning.CPActSubmit:   {auditor, pmOwner, strategy},
		planning.CPActWithdraw: {auditor, pmOwner, president},
		planning.CPActDecide:   {auditor, branchMgr, pmOther, president},
	}
	for _, action := range actions {
		for _, st := range cpStatuses {
			name := fmt.Sprintf("%s %s", action, st)
			t.Run(name, func(t *testing.T) {
				cp := counterproposalIn(st)
				err := cpAction(action, cp, proposalContext(right[action], phase[action]), true)
				if listed(action, st) {
					wantCode(t, "by right", err, "")
				} else {
					wantCode(t, "by right", err, planning.ECONFLICT)
				}
				c := proposalContext(right[action], phase[action])
				c.IfMatch = &stale
				wantCode(t, "by right, stale", cpAction(action, counterproposalIn(st), c, true), planning.EPRECONDITION)
				if listed(action, st) && (action == planning.CPActUpdate || action == planning.CPActDecide) {
					wantCode(t, "by right, invalid", cpAction(action, counterproposalIn(st), proposalContext(right[action], phase[action]), false), planning.EINVALID)
				}
				for _, a := range wrong[action] {
					for _, ph := range planning.RoundStatuses {
						c := proposalContext(a, ph)
						c.IfMatch = &stale
						for _, valid := range []bool{true, false} {
							cp := counterproposalIn(st)
							wantCode(t, fmt.Sprintf("by %v in round %s", a.Roles[0].Role, ph), cpAction(action, cp, c, valid), planning.EFORBIDDEN)
							if cp.Status != st || cp.Lines[0].Decided() {
								t.Errorf("a refused action changed the counterproposal: %+v", cp)
							}
						}
					}
				}
			})
		}
	}
}

func TestCounterproposalMoves(t *testing.T) {
	t.Run("submit and update only in the counterproposals phase before the deadline", func(t *testing.T) {
		for _, ph := range planning.RoundStatuses {
			err := counterproposalIn(planning.CPDraft).Submit(proposalContext(branchMgr, ph))
			if ph == planning.RoundCounterproposals {
				wantCode(t, string(ph), err, "")
			} else {
				wantCode(t, string(ph), err, planning.ECONFLICT)
			}
		}
		c := proposalContext(branchMgr, planning.RoundCounterproposals)
		c.Now = now.Add(2 * time.Hour)
		wantCode(t, "after the deadline", counterproposalIn(planning.CPDraft).Submit(c), planning.ECONFLICT)
	})
	t.Run("withdraw refused once a line is decided", func(t *testing.T) {
		cp := counterproposalIn(planning.CPSubmitted)
		cp.Lines[1].Decision = planning.DecisionReject
		wantCode(t, "withdraw", cp.Withdraw(proposalContext(branchMgr, planning.RoundCounterproposals)), planning.ECONFLICT)
	})
	t.Run("decide closes when the last line is decided", func(t *testing.T) {
		cp := counterproposalIn(planning.CPSubmitted)
		c := proposalContext(pmOwner, planning.RoundCounterproposals)
		amount := decimal.RequireFromString("12.50")
		apps, err := cp.Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionModify, Amount: &amount, Apply: planning.ApplyRaiseParent}})
		wantCode(t, "first", err, "")
		if cp.Status != planning.CPSubmitted || len(apps) != 1 || !apps[0].Amount.Equal(amount) || apps[0].Mode != planning.ApplyRaiseParent || apps[0].Scale != 2 {
			t.Fatalf("after one of two lines: %s, %+v", cp.Status, apps)
		}
		if l := cp.Lines[0]; l.Decision != planning.DecisionModify || !l.DecidedAmount.Equal(amount) || *l.DecidedBy != pmOwner.UserID() {
			t.Errorf("line 100: %+v", l)
		}
		_, err = cp.Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionReject}})
		wantCode(t, "decided already", err, planning.ECONFLICT)
		apps, err = cp.Decide(c, []planning.LineDecision{{LineID: 101, Action: planning.DecisionReject}})
		wantCode(t, "last", err, "")
		if cp.Status != planning.CPClosed || cp.ClosedAt == nil || len(apps) != 0 {
			t.Errorf("after the last line: %s, %+v", cp.Status, apps)
		}
	})
	t.Run("a rate or rating is decided onto the unit's own cells", func(t *testing.T) {
		for _, m := range []*planning.Measure{
			{ID: 2, Code: "share", Scale: 2, Aggregation: planning.AggWeightedAverage},
			{ID: 2, Code: "plans", Scale: 2, Kind: planning.MeasureRating, Aggregation: planning.AggNone,
				Rating: &planning.RatingScale{Min: decimal.RequireFromString("1"), Max: decimal.RequireFromString("5"), Step: decimal.RequireFromString("0.5")}},
		} {
			c := proposalContext(pmOwner, planning.RoundCounterproposals)
			c.Measures = map[int64]*planning.Measure{2: m}
			_, err := counterproposalIn(planning.CPSubmitted).Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept, Apply: planning.ApplyRaiseParent}})
			wantFieldErr(t, err, "decisions[0].apply")
			cp := counterproposalIn(planning.CPSubmitted)
			amount := decimal.RequireFromString("4.50")
			apps, err := cp.Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionModify, Amount: &amount}, {LineID: 101, Action: planning.DecisionAccept}})
			wantCode(t, m.Code, err, "")
			if len(apps) != 2 || !apps[0].OwnCells || apps[0].Mode != "" || cp.Lines[0].ApplyMode != "" {
				t.Fatalf("%s: %+v", m.Code, apps)
			}
			var old [12]decimal.Decimal
			old[0], old[5] = decimal.RequireFromString("3"), decimal.RequireFromString("2")
			// A year line sets every month; a month line its month.
			for p, v := range apps[0].OwnMonths(old) {
				if !v.Equal(amount) {
					t.Errorf("%s: year line month %d = %s", m.Code, p+1, v)
				}
			}
			if got := apps[1].OwnMonths(old); !got[0].Equal(decimal.RequireFromString("1.00")) || !got[5].Equal(old[5]) || !got[1].IsZero() {
				t.Errorf("%s: month line %v", m.Code, got)
			}
		}
		c := proposalContext(pmOwner, planning.RoundCounterproposals)
		c.Measures = map[int64]*planning.Measure{2: {ID: 2, Code: "plans", Scale: 1, Kind: planning.MeasureRating, Aggregation: planning.AggNone,
			Rating: &planning.RatingScale{Min: decimal.RequireFromString("1"), Max: decimal.RequireFromString("5"), Step: decimal.RequireFromString("0.5")}}}
		off := decimal.RequireFromString("4.2")
		_, err := counterproposalIn(planning.CPSubmitted).Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionModify, Amount: &off}})
		wantFieldErr(t, err, "decisions[0].amount")
	})
	t.Run("decide needs a writable working version in counterproposals or review", func(t *testing.T) {
		for _, ph := range planning.RoundStatuses {
			_, err := counterproposalIn(planning.CPSubmitted).Decide(proposalContext(pmOwner, ph), []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept}})
			if ph == planning.RoundCounterproposals || ph == planning.RoundReview {
				wantCode(t, string(ph), err, "")
			} else {
				wantCode(t, string(ph), err, planning.ECONFLICT)
			}
		}
		c := proposalContext(pmOwner, planning.RoundReview)
		c.Version.ApprovalState = planning.ApprovalInProgress
		_, err := counterproposalIn(planning.CPSubmitted).Decide(c, []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept}})
		wantCode(t, "version in approval", err, planning.ECONFLICT)
	})
	t.Run("decision rules", func(t *testing.T) {
		one := decimal.RequireFromString("1.005")
		for _, c := range []struct {
			name string
			d    []planning.LineDecision
		}{
			{"none", nil},
			{"unknown line", []planning.LineDecision{{LineID: 999, Action: planning.DecisionAccept}}},
			{"twice", []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept}, {LineID: 100, Action: planning.DecisionReject}}},
			{"amount on accept", []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept, Amount: &one}}},
			{"amount beyond the scale", []planning.LineDecision{{LineID: 100, Action: planning.DecisionModify, Amount: &one}}},
			{"unknown decision", []planning.LineDecision{{LineID: 100, Action: "maybe"}}},
			{"unknown apply mode", []planning.LineDecision{{LineID: 100, Action: planning.DecisionAccept, Apply: "sideways"}}},
		} {
			cp := counterproposalIn(planning.CPSubmitted)
			_, err := cp.Decide(proposalContext(pmOwner, planning.RoundReview), c.d)
			wantCode(t, c.name, err, planning.EINVALID)
			if cp.Lines[0].Decided() {
				t.Errorf("%s: a refused decision marked the line", c.name)
			}
		}
	})
	t.Run("raise parent", func(t *testing.T) {
		if !planning.ApplyRebalance.RaisesParent(false) || planning.ApplyRebalance.RaisesParent(true) || !planning.ApplyRaiseParent.RaisesParent(true) {
			t.Error("RaisesParent: the top of the tree raises, rebalance below it does not")
		}
		wantCode(t, "buffer", planning.CheckRaiseParent("R-EAST", true), planning.EINVALID)
		wantCode(t, "no buffer", planning.CheckRaiseParent("R-EAST", false), "")
	})
	t.Run("a new counterproposal: the unit's managers, in the window, valid", func(t *testing.T) {
		lines := []planning.LineInput{{ProductLineID: 3, MeasureID: 2, Period: 1, Proposed: decimal.RequireFromString("5.5")}}
		for _, a := range []*planning.Actor{pmOwner, strategy, auditor} {
			_, err := planning.NewCounterproposal(proposalContext(a, planning.RoundOpen), "", nil)
			wantCode(t, "by a non-manager", err, planning.EFORBIDDEN)
		}
		_, err := planning.NewCounterproposal(proposalContext(branchMgr, planning.RoundOpen), "t", lines)
		wantCode(t, "outside the phase", err, planning.ECONFLICT)
		_, err = planning.NewCounterproposal(proposalContext(branchMgr, planning.RoundCounterproposals), "t", append(lines, lines[0]))
		wantCode(t, "a target twice", err, planning.EINVALID)
		cp, err := planning.NewCounterproposal(proposalContext(branchMgr, planning.RoundCounterproposals), "t", lines)
		wantCode(t, "by the manager", err, "")
		if cp.Status != planning.CPDraft || cp.AuthorID != branchMgr.UserID() || cp.Lines[0].Proposed.StringFixed(2) != "5.50" {
			t.Errorf("new: %+v", cp)
		}
	})
}

var approvalRound = func() *planning.Round {
	wv := int64(7)
	return &planning.Round{ID: 1, Code: "FY", Status: planning.RoundReview, WorkingVersionID: &wv, ApprovalChain: planning.DefaultApprovalChain()}
}

// approvalSubjects are a version in every approval state, at every step.
func approvalSubjects() map[string]planning.ApprovalSubject {
	out := map[string]planning.ApprovalSubject{}
	v := func(st planning.ApprovalState) *planning.Version {
		status := planning.VersionWorking
		if st == planning.ApprovalApproved {
			status = planning.VersionFrozen
		}
		return &planning.Version{ID: 7, Status: status, ApprovalState: st, Revision: 5}
	}
	out["none"] = planning.ApprovalSubject{Round: approvalRound(), Version: v(planning.ApprovalNone)}
	acts := []planning.ApprovalAction{{VersionID: 7, Step: 0, Action: planning.ActSubmit, ActorID: pmOwner.UserID()}}
	for step := 1; step < 4; step++ {
		out[fmt.Sprintf("in approval at step %d", step+1)] = planning.ApprovalSubject{Round: approvalRound(), Version: v(planning.ApprovalInProgress),
			Current: step, Acts: append([]planning.ApprovalAction(nil), acts...)}
		acts = append(acts, planning.ApprovalAction{VersionID: 7, Step: step, Action: planning.ActApprove, ActorID: 100 + int64(step)})
	}
	r := approvalRound()
	r.Status = planning.RoundApproved
	out["approved"] = planning.ApprovalSubject{Round: r, Version: v(planning.ApprovalApproved), Acts: acts}
	return out
}

func TestApprovalChainStateMachine(t *testing.T) {
	sales, marketing := actor(102, planning.RoleSalesDirector), actor(103, planning.RoleMarketingDirector)
	pres := actor(104, planning.RolePresident)
	// Who has the right to each act at each step of the default chain.
	stepActor := []*planning.Actor{pmOwner, sales, marketing, pres}
	for name, s := range approvalSubjects() {
		for _, action := range []string{planning.ActSubmit, planning.ActApprove, planning.ActReject, planning.ActReopen} {
			t.Run(name+" "+action, func(t *testing.T) {
				var right *planning.Actor
				switch action {
				case planning.ActSubmit:
					right = pmOwner
				case planning.ActReopen:
					right = strategy
				default:
					right = pres
					if s.Version.ApprovalState == planning.ApprovalInProgress {
						right = stepActor[s.Current]
					}
				}
				move, err := planning.DecideApprovalAct(right, action, "why", s)
				possible := false
				for _, r := range planning.ApprovalMovesFrom(s.Version.ApprovalState) {
					possible = possible || r.Action == action
				}
				if possible {
					wantCode(t, "by right", err, "")
					if action == planning.ActApprove && s.Current == 3 && (!move.SignOff || move.State != planning.ApprovalApproved) {
						t.Errorf("the last approval signs off: %+v", move)
					}
				} else {
					wantCode(t, "by right", err, planning.ECONFLICT)
				}
				stale := s
				stale.IfMatch = new(int64)
				*stale.IfMatch = 99
				_, err = planning.DecideApprovalAct(right, action, "why", stale)
				wantCode(t, "stale", err, planning.EPRECONDITION)
				for _, a := range []*planning.Actor{auditor, branchMgr} {
					_, err := planning.DecideApprovalAct(a, action, "", stale)
					wantCode(t, "without a role of the chain", err, planning.EFORBIDDEN)
				}
			})
		}
	}
	t.Run("nobody acts on two steps", func(t *testing.T) {
		s := approvalSubjects()["in approval at step 2"]
		both := actor(pmOwner.UserID(), planning.RoleProductManager, planning.RoleSalesDirector)
		_, err := planning.DecideApprovalAct(both, planning.ActApprove, "", s)
		wantCode(t, "the submitter approves", err, planning.EFORBIDDEN)
	})
}

func TestRoundStateMachine(t *testing.T) {
	wv := int64(7)
	for _, from := range planning.RoundStatuses {
		for _, to := range planning.RoundStatuses {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				r := &planning.Round{Code: "FY", Status: from, Revision: 2, MeasureIDs: []int64{1}, WorkingVersionID: &wv}
				for _, a := range []*planning.Actor{auditor, branchMgr, pmOwner} {
					_, err := r.Move(a, to, "", &stale)
					wantCode(t, "by a role that moves no round", err, planning.EFORBIDDEN)
				}
				rule := planning.FindTransition(from, to)
				_, err := r.Move(strategy, to, "", nil)
				switch {
				case to == planning.RoundApproved:
					// The president's, through the approval chain.
					if rule == nil {
						wantCode(t, "strategy office", err, planning.EFORBIDDEN)
					}
					_, err := r.Move(president, to, "", nil)
					wantCode(t, "president", err, planning.ECONFLICT)
				case rule == nil:
					wantCode(t, "not listed", err, planning.ECONFLICT)
				default:
					wantCode(t, "listed", err, "")
					if r.Status != to {
						t.Errorf("status %s after the move", r.Status)
					}
				}
			})
		}
	}
	t.Run("preconditions", func(t *testing.T) {
		r := &planning.Round{Code: "FY", Status: planning.RoundDraft}
		_, err := r.Move(strategy, planning.RoundOpen, "", nil)
		wantCode(t, "open without measures", err, planning.ECONFLICT)
		r = &planning.Round{Code: "FY", Status: planning.RoundOpen}
		_, err = r.Move(strategy, planning.RoundCounterproposals, "", nil)
		wantCode(t, "publish without a working version", err, planning.ECONFLICT)
		_, err = r.Move(strategy, "sideways", "", nil)
		wantCode(t, "an unknown phase", err, planning.EINVALID)
		_, err = r.Move(auditor, "sideways", "", nil)
		wantCode(t, "an unknown phase, by the auditor", err, planning.EFORBIDDEN)
	})
	t.Run("update", func(t *testing.T) {
		name := "x"
		for _, st := range planning.RoundStatuses {
			r := &planning.Round{Code: "FY", Status: st, Revision: 2}
			wantCode(t, "by the auditor", r.Update(auditor, planning.RoundUpdate{Name: &name, IfMatch: &stale}), planning.EFORBIDDEN)
		}
		r := &planning.Round{Code: "FY", Status: planning.RoundClosed, Revision: 2}
		wantCode(t, "closed", r.Update(strategy, planning.RoundUpdate{Name: &name}), planning.ECONFLICT)
		r = &planning.Round{Code: "FY", Status: planning.RoundOpen, Revision: 2}
		wantCode(t, "chain outside draft", r.Update(strategy, planning.RoundUpdate{ApprovalChain: &[]planning.ApprovalStep{}}), planning.ECONFLICT)
	})
}

func TestResplitLevels(t *testing.T) {
	five := decimal.RequireFromString("0.05")
	levels, err := planning.ResplitLevels("CO", 7, 3, []planning.StoredBuffer{{Depth: 1, Buffer: five}, {Depth: 1, Buffer: decimal.RequireFromString("0.050")}, {Depth: 9, Buffer: five}})
	wantCode(t, "one buffer per depth", err, "")
	if len(levels) != 3 || !levels[0].Buffer.IsZero() || !levels[1].Buffer.Equal(five) || levels[2].Method != planning.MethodProportional || *levels[2].ReferenceVersionID != 7 {
		t.Errorf("levels: %+v", levels)
	}
	_, err = planning.ResplitLevels("CO", 7, 3, []planning.StoredBuffer{{Depth: 1, Buffer: five}, {Depth: 1, Buffer: decimal.Zero}})
	wantCode(t, "two buffers at one depth", err, planning.ECONFLICT)
	if levels, _ := planning.ResplitLevels("CO", 7, 0, nil); len(levels) != 1 {
		t.Errorf("a leaf re-splits over one level: %d", len(levels))
	}
}

// TestRoundMovesAnswerAsMoveDoes checks the listed moves against the move
// itself: in every phase, with and without measures and a working version,
// for every kind of actor, a move is listed as allowed exactly when Move
// takes it, and a refused one carries Move's own error and the kind of rule
// that refused (role → 403, phase and precondition → 409).
func TestRoundMovesAnswerAsMoveDoes(t *testing.T) {
	wv := int64(7)
	rounds := map[string]func(planning.RoundStatus) *planning.Round{
		"ready": func(s planning.RoundStatus) *planning.Round {
			return &planning.Round{Code: "FY", Status: s, Revision: 2, MeasureIDs: []int64{1}, WorkingVersionID: &wv}
		},
		"no measures, no working version": func(s planning.RoundStatus) *planning.Round {
			return &planning.Round{Code: "FY", Status: s, Revision: 2}
		},
	}
	actors := map[string]*planning.Actor{"strategy office": strategy, "president": president, "product manager": pmOwner,
		"auditor": auditor, "branch manager": branchMgr, "admin and president": actor(99, planning.RoleAdmin, planning.RolePresident)}
	wantStatus := map[planning.MoveBlock]string{planning.MoveBlockedRole: planning.EFORBIDDEN,
		planning.MoveBlockedPhase: planning.ECONFLICT, planning.MoveBlockedPrecondition: planning.ECONFLICT}
	for rname, mk := range rounds {
		for _, from := range planning.RoundStatuses {
			for aname, a := range actors {
				moves := mk(from).Moves(a)
				listed := map[planning.RoundStatus]bool{}
				for _, m := range moves {
					listed[m.To] = true
					what := fmt.Sprintf("%s round, %s to %s by the %s", rname, from, m.To, aname)
					if m.To == from {
						t.Errorf("%s: the current phase is listed", what)
					}
					if rule := planning.FindTransition(from, m.To); (rule == nil) != (m.Rule == nil) {
						t.Errorf("%s: rule %v, the state machine has %v", what, m.Rule, rule)
					}
					r := mk(from)
					_, err := r.Move(a, m.To, "", nil)
					if m.Allowed() != (err == nil) {
						t.Errorf("%s: listed allowed=%v, Move says %v", what, m.Allowed(), err)
						continue
					}
					if err == nil {
						if m.Refusal != nil {
							t.Errorf("%s: allowed with a refusal %v", what, m.Refusal)
						}
						continue
					}
					if m.Refusal == nil || m.Refusal.Message != planning.ErrorMessage(err) || m.Refusal.Code != planning.ErrorCode(err) {
						t.Errorf("%s: refusal %v, Move says %v", what, m.Refusal, err)
					}
					if wantStatus[m.Blocked] != planning.ErrorCode(err) {
						t.Errorf("%s: blocked by %q with %v", what, m.Blocked, err)
					}
				}
				// Every phase a rule leads to is listed, but the current one.
				for _, tr := range planning.RoundTransitions {
					if tr.To != from && !listed[tr.To] {
						t.Errorf("%s round in %s for the %s: no move to %s listed", rname, from, aname, tr.To)
					}
				}
				if listed[planning.RoundDraft] {
					t.Errorf("a move to draft is listed, but no rule leads there")
				}
			}
		}
	}
	// The three kinds each occur.
	kinds := map[planning.MoveBlock]bool{}
	for _, m := range (&planning.Round{Code: "FY", Status: planning.RoundDraft}).Moves(strategy) {
		kinds[m.Blocked] = true
	}
	for _, m := range (&planning.Round{Code: "FY", Status: planning.RoundDraft}).Moves(pmOwner) {
		kinds[m.Blocked] = true
	}
	for _, k := range []planning.MoveBlock{planning.MoveBlockedRole, planning.MoveBlockedPhase, planning.MoveBlockedPrecondition} {
		if !kinds[k] {
			t.Errorf("no move blocked by %q in a draft", k)
		}
	}
}
