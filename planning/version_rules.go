package planning

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
