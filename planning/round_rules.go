package planning

import (
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// PrepareRound checks a round about to be created: only the strategy
// office and administrators create rounds (EFORBIDDEN); an empty chain
// becomes DefaultApprovalChain; the fields must be valid (EINVALID).
func PrepareRound(a *Actor, r *Round) error {
	if err := a.MayManageRounds(); err != nil {
		return err
	}
	if len(r.ApprovalChain) == 0 {
		r.ApprovalChain = DefaultApprovalChain()
	}
	return r.Validate()
}

// Update applies upd to the round, in the order every check runs in:
// authorize (EFORBIDDEN), the revision read (EPRECONDITION), state
// (ECONFLICT: a closed round never changes; measures and chain change only
// in a draft; the separation of duties only toward stricter once the round
// is under way), validate (EINVALID). Whether the measures exist is the
// store's to check.
func (r *Round) Update(a *Actor, upd RoundUpdate) error {
	if err := a.MayManageRounds(); err != nil {
		return err
	}
	if err := CheckRevision(upd.IfMatch, r.Revision); err != nil {
		return err
	}
	if r.Status == RoundClosed {
		return Errorf(ECONFLICT, "round %s is closed", r.Code)
	}
	if (upd.MeasureIDs != nil || upd.ApprovalChain != nil) && r.Status != RoundDraft {
		return Errorf(ECONFLICT, "round %s is %s: its measures and approval chain change only while it is a draft", r.Code, r.Status)
	}
	if upd.SeparationOfDuties != nil {
		if err := CheckDutySeparationChange(r.Status, r.SeparationOfDuties, *upd.SeparationOfDuties); err != nil {
			return err
		}
		r.SeparationOfDuties = *upd.SeparationOfDuties
	}
	if upd.Name != nil {
		r.Name = *upd.Name
	}
	if upd.MeasureIDs != nil {
		r.MeasureIDs = *upd.MeasureIDs
	}
	if upd.Calendar != nil {
		r.Calendar = *upd.Calendar
	}
	if upd.ApprovalChain != nil {
		r.ApprovalChain = *upd.ApprovalChain
	}
	return r.Validate()
}

// MoveBlock names the kind of rule that keeps a round from a move now.
type MoveBlock string

// The kinds of MoveBlock.
const (
	// MoveBlockedRole: the actor holds none of the move's roles.
	MoveBlockedRole MoveBlock = "role"
	// MoveBlockedPhase: no move leads there from the round's phase.
	MoveBlockedPhase MoveBlock = "phase"
	// MoveBlockedPrecondition: the move exists and is the actor's, but
	// the round is not ready for it (no measures, no working version, or
	// an approval that only the approval chain gives).
	MoveBlockedPrecondition MoveBlock = "precondition"
)

// RoundMove is one phase a round could be asked to move to, and whether
// the actor may move it there now: the answer POST /rounds/{id}/transitions
// would give (without a comment or If-Match), computed by the same checks.
type RoundMove struct {
	To RoundStatus
	// Rule is the state machine's move from the round's phase, nil when
	// there is none.
	Rule *RoundTransitionRule
	// Blocked is empty when the move is allowed; otherwise Refusal is the
	// error Move returns.
	Blocked MoveBlock
	Refusal *Error
}

// Allowed reports whether the actor may take the move now.
func (m RoundMove) Allowed() bool { return m.Blocked == "" }

// Moves lists, for every phase some rule of RoundTransitions leads to
// other than the round's own, whether the actor may move the round there
// now and, when not, why, in the order of RoundStatuses. It is Move's own
// rule, asked without a change.
func (r *Round) Moves(a *Actor) []RoundMove {
	var out []RoundMove
	for _, to := range RoundStatuses {
		if to == r.Status || !slices.ContainsFunc(RoundTransitions, func(t RoundTransitionRule) bool { return t.To == to }) {
			continue
		}
		_, block, err := r.checkMove(a, to, nil)
		out = append(out, RoundMove{To: to, Rule: FindTransition(r.Status, to), Blocked: block, Refusal: err})
	}
	return out
}

// Move takes the round to phase to by RoundTransitions, in the order every
// check runs in: authorize (EFORBIDDEN: a role of a move to that phase,
// whatever the round's state), the revision read (EPRECONDITION), the
// phase named (EINVALID), state (ECONFLICT: the move must be listed from
// where the round stands, naming the possible ones; a round is approved
// only through its approval chain; a round opens with measures and moves
// on with a working version), validate (EINVALID: the comment). It returns
// the rule taken; the caller does what entering the phase entails (a first
// working version on opening) and records the move.
func (r *Round) Move(a *Actor, to RoundStatus, comment string, ifMatch *int64) (*RoundTransitionRule, error) {
	rule, _, err := r.checkMove(a, to, ifMatch)
	if err != nil {
		return nil, err
	}
	var v Validation
	if msg := CheckText(comment, true); msg != "" {
		v.Add("comment", "%s", msg)
	} else if utf8.RuneCountInString(comment) > MaxCommentLength {
		v.Add("comment", "must be at most %d characters", MaxCommentLength)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	r.Status = to
	return rule, nil
}

// checkMove is every check of Move but the comment's, in Move's order; it
// says which kind of rule refused (empty for a stale revision or an
// unknown phase, which are about the request, not the move).
func (r *Round) checkMove(a *Actor, to RoundStatus, ifMatch *int64) (*RoundTransitionRule, MoveBlock, *Error) {
	if err := a.MayMoveRoundTo(to); err != nil {
		return nil, MoveBlockedRole, asError(err)
	}
	if err := CheckRevision(ifMatch, r.Revision); err != nil {
		return nil, "", asError(err)
	}
	if !to.Valid() {
		var v Validation
		v.Add("to", "must be one of %v", RoundStatuses)
		return nil, "", asError(v.Err())
	}
	rule := FindTransition(r.Status, to)
	if rule == nil {
		var possible []string
		for _, t := range TransitionsFrom(r.Status) {
			possible = append(possible, string(t.To))
		}
		if len(possible) == 0 {
			possible = []string{"none"}
		}
		return nil, MoveBlockedPhase, Errorf(ECONFLICT, "round %s is %s and cannot move to %s; possible now: %s", r.Code, r.Status, to, strings.Join(possible, ", "))
	}
	if !a.HasRole(rule.Roles...) {
		return nil, MoveBlockedRole, Errorf(EFORBIDDEN, "moving a round from %s to %s needs the role %v", rule.From, rule.To, rule.Roles)
	}
	switch to {
	case RoundApproved:
		var wv int64
		if r.WorkingVersionID != nil {
			wv = *r.WorkingVersionID
		}
		return nil, MoveBlockedPrecondition, Errorf(ECONFLICT, "a round is approved by the final step of its approval chain: submit the working version with POST /versions/%d/approval/actions", wv)
	case RoundOpen:
		if len(r.MeasureIDs) == 0 {
			return nil, MoveBlockedPrecondition, Errorf(ECONFLICT, "round %s has no measures; add at least one before opening it", r.Code)
		}
	case RoundCounterproposals, RoundReview:
		if r.WorkingVersionID == nil {
			return nil, MoveBlockedPrecondition, Errorf(ECONFLICT, "round %s has no working version", r.Code)
		}
	}
	return rule, "", nil
}

// asError returns err as the domain's *Error (nil for nil).
func asError(err error) *Error {
	var e *Error
	if err == nil {
		return nil
	} else if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EINTERNAL, Message: "internal error", Cause: err}
}

// SignOff records version as the round's budget of record, after the final
// step of its approval chain; a round in review moves to approved, which it
// reports (a re-forecast of an approved round stays approved).
func (r *Round) SignOff(versionID int64) (moved bool) {
	r.RecordVersionID = &versionID
	if r.Status == RoundReview {
		r.Status = RoundApproved
		return true
	}
	return false
}

// CheckLetterVersion refuses target letters from any version but the
// round's budget of record (ECONFLICT).
func (r *Round) CheckLetterVersion(versionID int64) error {
	if r.RecordVersionID == nil || *r.RecordVersionID != versionID {
		return Errorf(ECONFLICT, "version %d is not the budget of record of round %s: target letters are issued from the approved version", versionID, r.Code)
	}
	return nil
}

// RecordVersion returns the round's budget of record, which attainment
// compares with unless told another version; a round without one yet is
// ECONFLICT.
func (r *Round) RecordVersion() (int64, error) {
	if r.RecordVersionID == nil {
		return 0, Errorf(ECONFLICT, "round %s has no budget of record yet: name a version to compare with", r.Code)
	}
	return *r.RecordVersionID, nil
}
