package planning

import (
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
	if err := a.MayMoveRoundTo(to); err != nil {
		return nil, err
	}
	if err := CheckRevision(ifMatch, r.Revision); err != nil {
		return nil, err
	}
	if !to.Valid() {
		var v Validation
		v.Add("to", "must be one of %v", RoundStatuses)
		return nil, v.Err()
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
		return nil, Errorf(ECONFLICT, "round %s is %s and cannot move to %s; possible now: %s", r.Code, r.Status, to, strings.Join(possible, ", "))
	}
	if !a.HasRole(rule.Roles...) {
		return nil, Errorf(EFORBIDDEN, "moving a round from %s to %s needs the role %v", rule.From, rule.To, rule.Roles)
	}
	switch to {
	case RoundApproved:
		var wv int64
		if r.WorkingVersionID != nil {
			wv = *r.WorkingVersionID
		}
		return nil, Errorf(ECONFLICT, "a round is approved by the final step of its approval chain: submit the working version with POST /versions/%d/approval/actions", wv)
	case RoundOpen:
		if len(r.MeasureIDs) == 0 {
			return nil, Errorf(ECONFLICT, "round %s has no measures; add at least one before opening it", r.Code)
		}
	case RoundCounterproposals, RoundReview:
		if r.WorkingVersionID == nil {
			return nil, Errorf(ECONFLICT, "round %s has no working version", r.Code)
		}
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
