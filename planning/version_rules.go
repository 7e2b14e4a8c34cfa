package planning

import "time"

// CheckWorkingVersion refuses a change to the cells of v (ECONFLICT): it
// must be a working version outside the approval chain, of a round that is
// under way.
func CheckWorkingVersion(v *Version, r *Round) error {
	if v.Status != VersionWorking {
		return Errorf(ECONFLICT, "version %d is frozen: it never changes; copy it into a new working version", v.ID)
	}
	if v.ApprovalState == ApprovalInProgress {
		return Errorf(ECONFLICT, "version %d is going up the approval chain: reopen it (or have it rejected) to change it", v.ID)
	}
	if r.Status == RoundDraft || r.Status == RoundClosed {
		return Errorf(ECONFLICT, "round %s is %s: targets change only while it is under way", r.Code, r.Status)
	}
	return nil
}

// Freeze makes v immutable, by the user by (nil for the system) at at; a
// version frozen already is refused (ECONFLICT).
func (v *Version) Freeze(by *int64, at time.Time) error {
	if v.Status == VersionFrozen {
		return Errorf(ECONFLICT, "version %d is frozen already", v.ID)
	}
	v.Status, v.FrozenAt, v.FrozenBy = VersionFrozen, &at, by
	return nil
}

// ActOnApproval is one act on v's approval chain: the chain's rules
// (DecideApprovalAct, with v as the subject's version) decide the move,
// which v then makes; the chain's final approval freezes it. The caller
// records the act and, on the sign-off, makes the version the round's
// budget of record.
func (v *Version) ActOnApproval(a *Actor, action, comment string, s ApprovalSubject, at time.Time) (ApprovalMove, error) {
	s.Version, s.Current = v, v.ApprovalStep
	move, err := DecideApprovalAct(a, action, comment, s)
	if err != nil {
		return move, err
	}
	v.ApprovalState, v.ApprovalStep = move.State, move.Current
	if move.SignOff {
		by := a.UserID()
		var byp *int64
		if by != 0 {
			byp = &by
		}
		if err := v.Freeze(byp, at); err != nil {
			return move, err
		}
	}
	return move, nil
}
