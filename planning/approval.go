package planning

import (
	"context"
	"time"
	"unicode/utf8"
)

// ApprovalState is where a version stands in its round's approval chain.
type ApprovalState string

// A version is outside the chain (none), going up it (in_approval), or
// approved at its end. A rejection sends it back to none.
const (
	ApprovalNone       ApprovalState = "none"
	ApprovalInProgress ApprovalState = "in_approval"
	ApprovalApproved   ApprovalState = "approved"
)

// Approval actions.
const (
	ActSubmit  = "submit"
	ActApprove = "approve"
	ActReject  = "reject"
	ActReopen  = "reopen"
)

// ApprovalAction is one recorded action on a version's approval.
type ApprovalAction struct {
	ID        int64
	VersionID int64
	Step      int // index into the round's chain
	Action    string
	ActorID   int64
	Comment   string
	At        time.Time
}

// ApprovalStepStatus is one step of the chain as it stands for a version.
type ApprovalStepStatus struct {
	Step    int
	Role    Role
	Action  string // submit, review or approve
	State   string // done, current or pending
	ActorID *int64
	At      *time.Time
	Comment string
	// Took is how long the step took: from the previous step's action (or
	// the submission) to this one's; for the current step, so far.
	Took time.Duration
}

// Approval is a version's approval: the chain with each step's state, who
// is next, and every action taken, rejections included.
type Approval struct {
	VersionID int64
	State     ApprovalState
	Current   int // index of the current step when in approval
	NextRole  *Role
	Steps     []ApprovalStepStatus
	History   []ApprovalAction
	Revision  int64
}

// ApprovalService runs a round's approval chain on a version.
type ApprovalService interface {
	// FindApproval returns the version's approval.
	FindApproval(ctx context.Context, versionID int64) (*Approval, error)
	// Act takes an action: submit (the chain's first role, on a working
	// version of a round in review, or a re-forecast of an approved round),
	// approve or reject (the current step's role; never the submitter),
	// reopen (the submitter, the strategy office or an admin take a version
	// in approval back). The rules are DecideApprovalAct's: EFORBIDDEN for
	// the wrong role or a breach of the separation of duties, whatever the
	// state; ECONFLICT out of turn; EINVALID for a rejection without a
	// reason. A refusal under the separation of duties is audited
	// (approval.refused). The
	// final approval freezes the version and makes it the round's budget of
	// record.
	Act(ctx context.Context, versionID int64, action, comment string, ifMatch *int64) (*Approval, error)
}

// MaxCommentLength is the longest comment, in characters, on an approval act.
const MaxCommentLength = 2000

// ApprovalSubject is everything the rules of an approval act look at.
type ApprovalSubject struct {
	Round   *Round
	Version *Version
	// Current is the current step while the version is in approval.
	Current int
	// Acts are the recorded acts the round's separation of duties looks
	// at, oldest first: the version's own, and under SeparateWithinRound
	// those on every version of the round.
	Acts []ApprovalAction
}

// ApprovalMove is what an allowed act does to the version.
type ApprovalMove struct {
	// Step is the chain step acted on, recorded with the act.
	Step int
	// State and Current are the version's approval state and current step
	// after the act.
	State   ApprovalState
	Current int
	// SignOff says the act is the chain's final approval: the version is
	// frozen and becomes the round's budget of record.
	SignOff bool
}

// lastSubmitter returns who made the version's latest submission, 0 if none.
func lastSubmitter(versionID int64, acts []ApprovalAction) int64 {
	for i := len(acts) - 1; i >= 0; i-- {
		if acts[i].VersionID == versionID && acts[i].Action == ActSubmit {
			return acts[i].ActorID
		}
	}
	return 0
}

// DecideApprovalAct applies the approval chain's rules to one act, in the
// order every check runs in: authorize (EFORBIDDEN: the caller's roles, then
// the separation of duties), state (ECONFLICT: where the version and round
// stand), validate (EINVALID: the comment). So a caller without the right
// learns that, and nothing about the state, whatever the state is.
//
//   - submit is the chain's first role's, on the round's working version
//     outside the chain, while the round is in review (or approved: a
//     re-forecast);
//   - approve and reject are the current step's role's; outside the chain
//     they are refused as out of turn to whoever holds a role of a later
//     step, and as forbidden to anybody else;
//   - reopen is the latest submitter's, the strategy office's or an
//     admin's, on a version in approval;
//   - nobody acts on two steps of one version's chain (or of the round's
//     chains, under SeparateWithinRound): see CheckSeparationOfDuties.
func DecideApprovalAct(a *Actor, action, comment string, s ApprovalSubject) (ApprovalMove, error) {
	var none ApprovalMove
	chain, v, r := s.Round.ApprovalChain, s.Version, s.Round
	inChain := v.ApprovalState == ApprovalInProgress
	if !stepAct(action) && action != ActReopen {
		var val Validation
		val.Add("action", "must be submit, approve, reject or reopen")
		return none, val.Err()
	}
	// Authorize: the role, then the separation of duties.
	step := 0
	switch action {
	case ActSubmit:
		if !a.HasRole(chain[0].Role) {
			return none, Errorf(EFORBIDDEN, "the chain's first step is the %s's: they submit the plan", chain[0].Role)
		}
	case ActApprove, ActReject:
		if inChain {
			step = s.Current
			if step < 1 || step >= len(chain) {
				return none, Errorf(EINTERNAL, "version %d is at step %d of a chain of %d", v.ID, step, len(chain))
			}
			if !a.HasRole(chain[step].Role) {
				return none, Errorf(EFORBIDDEN, "step %d of the chain is the %s's to take", step+1, chain[step].Role)
			}
		} else {
			reviewer := false
			for _, st := range chain[1:] {
				reviewer = reviewer || a.HasRole(st.Role)
			}
			if !reviewer {
				return none, Errorf(EFORBIDDEN, "only the roles of the chain's review and approval steps approve or reject")
			}
			step = -1
		}
	case ActReopen:
		if lastSubmitter(v.ID, s.Acts) != a.UserID() && !a.HasRole(RoleStrategyOffice, RoleAdmin) {
			return none, Errorf(EFORBIDDEN, "only the submitter, the strategy office or an admin take a version back")
		}
		step = -1
	}
	if step >= 0 {
		if err := CheckSeparationOfDuties(r.SeparationOfDuties, a.UserID(), step, v.ID, s.Acts); err != nil {
			return none, err
		}
	}
	// State.
	move := ApprovalMove{Step: step}
	switch action {
	case ActSubmit:
		if v.Status != VersionWorking || v.ApprovalState != ApprovalNone {
			return none, Errorf(ECONFLICT, "version %d is %s and %s: only a working version outside the chain is submitted", v.ID, v.Status, v.ApprovalState)
		}
		if r.Status != RoundReview && r.Status != RoundApproved {
			return none, Errorf(ECONFLICT, "round %s is %s: versions go up the approval chain in its review phase (or as a re-forecast of an approved round)", r.Code, r.Status)
		}
		if r.WorkingVersionID == nil || *r.WorkingVersionID != v.ID {
			return none, Errorf(ECONFLICT, "version %d is not the round's working version", v.ID)
		}
		move.State, move.Current = ApprovalInProgress, 1
		move.SignOff = len(chain) == 1
	case ActApprove, ActReject, ActReopen:
		if !inChain {
			return none, Errorf(ECONFLICT, "version %d is not going up the approval chain (%s)", v.ID, v.ApprovalState)
		}
		switch action {
		case ActApprove:
			move.State, move.Current = ApprovalInProgress, step+1
			move.SignOff = step+1 == len(chain)
		case ActReject:
			move.State, move.Current = ApprovalNone, 0
		case ActReopen:
			move.Step = s.Current
			move.State, move.Current = ApprovalNone, 0
		}
	}
	// Validate.
	var val Validation
	if msg := CheckText(comment, true); msg != "" {
		val.Add("comment", "%s", msg)
	} else if utf8.RuneCountInString(comment) > MaxCommentLength {
		val.Add("comment", "must be at most %d characters", MaxCommentLength)
	} else if action == ActReject && comment == "" {
		val.Add("comment", "a rejection needs the reason")
	}
	if err := val.Err(); err != nil {
		return none, err
	}
	return move, nil
}
