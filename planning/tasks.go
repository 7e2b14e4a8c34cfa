package planning

import (
	"context"
	"slices"
	"time"
)

// TaskKind says what a task asks of its person.
type TaskKind string

// The kinds of task "my work" lists.
const (
	// TaskReviewTargets: a branch manager or team lead reviews the unit's
	// targets and may counter-propose before the phase's deadline.
	TaskReviewTargets TaskKind = "review_targets"
	// TaskSubmitCounterproposal: the author's draft is not submitted yet.
	TaskSubmitCounterproposal TaskKind = "submit_counterproposal"
	// TaskDecideCounterproposal: a submitted counterproposal has lines of
	// the product manager's product lines without a decision.
	TaskDecideCounterproposal TaskKind = "decide_counterproposal"
	// TaskSubmitVersion: the round is in review and the chain's first role
	// (the caller's) submits the working version.
	TaskSubmitVersion TaskKind = "submit_version"
	// TaskApproveVersion: the version's current approval step is the
	// caller's role.
	TaskApproveVersion TaskKind = "approve_version"
)

// Task is one thing waiting for the caller now.
type Task struct {
	Kind      TaskKind
	Round     *Round
	VersionID int64
	// OrgUnit is the unit the task is about (targets to review, a
	// counterproposal's unit); nil for version-wide tasks.
	OrgUnit         *OrgUnit
	Counterproposal *Counterproposal
	// Undecided is how many of the counterproposal's lines wait for the
	// caller's decision.
	Undecided int
	// Step is the approval step the caller acts on (approve_version).
	Step *ApprovalStep
	// Due is the deadline of the round's current phase, if it has one.
	Due *time.Time
}

// FindMyTasks lists what waits for the actor of ctx across every round in
// progress: targets to review and drafts to submit (branch managers and
// team leads), counterproposals to decide (product managers), and versions
// to submit or approve at the actor's step of the chain. Soonest deadline
// first. It reads through the services, so it sees only what the actor may.
func FindMyTasks(ctx context.Context, svcs Services) ([]Task, error) {
	a, err := RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	rounds, err := allRounds(ctx, svcs)
	if err != nil {
		return nil, err
	}
	units := map[int64]*OrgUnit{}
	unit := func(id int64) (*OrgUnit, error) {
		if u, ok := units[id]; ok {
			return u, nil
		}
		u, err := svcs.OrgUnits.FindOrgUnitByID(ctx, id)
		if err != nil {
			return nil, err
		}
		units[id] = u
		return u, nil
	}
	var tasks []Task
	for _, r := range rounds {
		if r.WorkingVersionID == nil {
			continue
		}
		vid := *r.WorkingVersionID
		due := r.deadline(r.Status)
		switch r.Status {
		case RoundOpen, RoundCounterproposals:
			if r.Status == RoundCounterproposals {
				for _, ra := range a.Roles {
					if !ra.Role.Scoped() || ra.OrgUnitID == nil {
						continue
					}
					u, err := unit(*ra.OrgUnitID)
					if err != nil {
						return nil, err
					}
					tasks = append(tasks, Task{Kind: TaskReviewTargets, Round: r, VersionID: vid, OrgUnit: u, Due: due})
				}
				drafts, err := allCounterproposals(ctx, svcs, CounterproposalFilter{VersionID: vid, Status: CPDraft})
				if err != nil {
					return nil, err
				}
				for _, cp := range drafts {
					if cp.AuthorID != a.UserID() {
						continue
					}
					u, err := unit(cp.OrgUnitID)
					if err != nil {
						return nil, err
					}
					tasks = append(tasks, Task{Kind: TaskSubmitCounterproposal, Round: r, VersionID: vid, OrgUnit: u, Counterproposal: cp, Due: due})
				}
			}
			if a.HasRole(RoleProductManager) {
				me := a.UserID()
				cps, err := allCounterproposals(ctx, svcs, CounterproposalFilter{VersionID: vid, Status: CPSubmitted, AwaitingDecisionBy: &me})
				if err != nil {
					return nil, err
				}
				for _, cp := range cps {
					n := 0
					for _, l := range cp.Lines {
						if !l.Decided() && slices.Contains(a.OwnedProductLineIDs, l.ProductLineID) {
							n++
						}
					}
					u, err := unit(cp.OrgUnitID)
					if err != nil {
						return nil, err
					}
					tasks = append(tasks, Task{Kind: TaskDecideCounterproposal, Round: r, VersionID: vid, OrgUnit: u, Counterproposal: cp, Undecided: n, Due: due})
				}
			}
		case RoundReview, RoundApproved:
			ap, err := svcs.Approvals.FindApproval(ctx, vid)
			if err != nil {
				return nil, err
			}
			switch {
			case ap.State == ApprovalNone && r.Status == RoundReview && len(r.ApprovalChain) > 0 && a.HasRole(r.ApprovalChain[0].Role):
				step := r.ApprovalChain[0]
				tasks = append(tasks, Task{Kind: TaskSubmitVersion, Round: r, VersionID: vid, Step: &step, Due: due})
			case ap.State == ApprovalInProgress && ap.NextRole != nil && a.HasRole(*ap.NextRole) && ap.Current < len(r.ApprovalChain):
				step := r.ApprovalChain[ap.Current]
				tasks = append(tasks, Task{Kind: TaskApproveVersion, Round: r, VersionID: vid, Step: &step, Due: due})
			}
		}
	}
	slices.SortStableFunc(tasks, func(x, y Task) int {
		switch {
		case x.Due == nil && y.Due == nil:
			return 0
		case x.Due == nil:
			return 1
		case y.Due == nil:
			return -1
		}
		return x.Due.Compare(*y.Due)
	})
	return tasks, nil
}

// deadline returns the due date of the phase, or nil.
func (r *Round) deadline(phase RoundStatus) *time.Time {
	for _, d := range r.Calendar {
		if d.Phase == phase {
			t := d.Due
			return &t
		}
	}
	return nil
}

func allRounds(ctx context.Context, svcs Services) ([]*Round, error) {
	return CollectPages(func(page PageRequest) ([]*Round, string, error) {
		return svcs.Rounds.FindRounds(ctx, RoundFilter{Page: page})
	})
}

func allCounterproposals(ctx context.Context, svcs Services, f CounterproposalFilter) ([]*Counterproposal, error) {
	return CollectPages(func(page PageRequest) ([]*Counterproposal, string, error) {
		f.Page = page
		return svcs.Proposals.FindCounterproposals(ctx, f)
	})
}
