package planning

// The org tree's state rules. The store counts what they look at (a root,
// active children, a parent's state, rows that refer to a unit) and asks
// here; each refusal is ECONFLICT.

// CheckNewRoot refuses a unit without a parent when the tree has a root.
func CheckNewRoot(hasRoot bool) error {
	if hasRoot {
		return FieldErrorf(ECONFLICT, "parent_id", "the org tree already has a root; give a parent")
	}
	return nil
}

// CheckDeactivation refuses to deactivate a unit that has active children,
// which would be orphaned in every view.
func CheckDeactivation(activeChildren int64) error {
	if activeChildren > 0 {
		return FieldErrorf(ECONFLICT, "active", "the unit has %d active children; deactivate them first", activeChildren)
	}
	return nil
}

// CheckReactivation refuses to reactivate a unit under an inactive parent.
func CheckReactivation(parentActive bool) error {
	if !parentActive {
		return FieldErrorf(ECONFLICT, "active", "the parent unit is inactive; reactivate it first")
	}
	return nil
}

// CheckDeletion refuses to delete u while rows of table refer to it: a unit
// that holds data is deactivated instead.
func (u *OrgUnit) CheckDeletion(table string, rows int64) error {
	if rows > 0 {
		return Errorf(ECONFLICT, "org unit %s holds data (%d rows in %s); deactivate it instead", u.Code, rows, table)
	}
	return nil
}

// CheckVersionable refuses a new version of r unless it is under way.
func (r *Round) CheckVersionable() error {
	if r.Status == RoundDraft || r.Status == RoundClosed {
		return Errorf(ECONFLICT, "round %s is %s: versions are made while it is open", r.Code, r.Status)
	}
	return nil
}
