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
	// ActorName is the actor's display name, filled where an approval is
	// read (ApprovalService).
	ActorName string
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
	// IfMatch is the version revision the caller read, when they said;
	// Version.Revision is the one it is at before the act.
	IfMatch *int64
}

// ApprovalMove is what an allowed act does to the version.
type ApprovalMove struct {
	// Step is the chain step acted on, recorded with the act.
	Step int
	// State and Current are the version's approval state and current step
	// after the act: approved after the sign-off.
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

// ApprovalTransitionRule is one move of a version's approval: the act, the
// approval state it is taken in and the state it leads to, who takes it.
type ApprovalTransitionRule struct {
	Action   string
	From, To ApprovalState
	// Who takes the act, and what it does, for people reading the moves
	// listed with an approval.
	Who, Description string
}

// ApprovalTransitions is the approval chain's state machine. An act not
// listed from where the version stands is out of turn (ECONFLICT).
var ApprovalTransitions = []ApprovalTransitionRule{
	{ActSubmit, ApprovalNone, ApprovalInProgress, "the role of the chain's first step",
		"send the round's working version up the chain, while the round is in review (or approved: a re-forecast)"},
	{ActApprove, ApprovalInProgress, ApprovalInProgress, "the role of the current step, never one who acted on another step",
		"approve the current step; the last step's approval signs off: the version is approved, frozen and the round's budget of record"},
	{ActReject, ApprovalInProgress, ApprovalNone, "the role of the current step, never one who acted on another step",
		"send the version back out of the chain, with the reason"},
	{ActReopen, ApprovalInProgress, ApprovalNone, "the latest submitter, the strategy office or an administrator",
		"take the version back out of the chain"},
}

// ApprovalMovesFrom returns the acts possible on a version whose approval
// stands at state.
func ApprovalMovesFrom(state ApprovalState) []ApprovalTransitionRule {
	var out []ApprovalTransitionRule
	for _, r := range ApprovalTransitions {
		if r.From == state {
			out = append(out, r)
		}
	}
	return out
}

func findApprovalTransition(action string, from ApprovalState) *ApprovalTransitionRule {
	for i, r := range ApprovalTransitions {
		if r.Action == action && r.From == from {
			return &ApprovalTransitions[i]
		}
	}
	return nil
}

// DecideApprovalAct applies the approval chain's rules to one act, in the
// order every check runs in: authorize (EFORBIDDEN: the caller's roles, then
// the separation of duties; see Actor.MayActOnApproval), the revision the
// caller read (EPRECONDITION), state (ECONFLICT: where the version and round
// stand, by ApprovalTransitions), validate (EINVALID: the comment). So a
// caller without the right learns that, and nothing about the state,
// whatever the state is.
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
	if !stepAct(action) && action != ActReopen {
		var val Validation
		val.Add("action", "must be submit, approve, reject or reopen")
		return none, val.Err()
	}
	step, err := a.MayActOnApproval(action, s)
	if err != nil {
		return none, err
	}
	if err := CheckRevision(s.IfMatch, v.Revision); err != nil {
		return none, err
	}
	// State.
	rule := findApprovalTransition(action, v.ApprovalState)
	move := ApprovalMove{Step: step}
	switch action {
	case ActSubmit:
		if rule == nil || v.Status != VersionWorking {
			return none, Errorf(ECONFLICT, "version %d is %s and %s: only a working version outside the chain is submitted", v.ID, v.Status, v.ApprovalState)
		}
		if r.Status != RoundReview && r.Status != RoundApproved {
			return none, Errorf(ECONFLICT, "round %s is %s: versions go up the approval chain in its review phase (or as a re-forecast of an approved round)", r.Code, r.Status)
		}
		if r.WorkingVersionID == nil || *r.WorkingVersionID != v.ID {
			return none, Errorf(ECONFLICT, "version %d is not the round's working version", v.ID)
		}
		move.State, move.Current = rule.To, 1
		move.SignOff = len(chain) == 1
		if move.SignOff {
			move.State = ApprovalApproved
		}
	default:
		if rule == nil {
			return none, Errorf(ECONFLICT, "version %d is not going up the approval chain (%s)", v.ID, v.ApprovalState)
		}
		move.State = rule.To
		switch action {
		case ActApprove:
			move.Current = step + 1
			if move.SignOff = step+1 == len(chain); move.SignOff {
				move.State = ApprovalApproved
			}
		case ActReopen:
			move.Step = s.Current
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
