package planning

import "fmt"

// DutySeparation says how strictly a round keeps the people of its approval
// chain apart. Every round keeps at least SeparateWithinVersion; a round may
// be made stricter, never looser.
type DutySeparation string

// The levels of separation, from the floor up.
const (
	// SeparateWithinVersion is the floor: one person acts on at most one
	// step of a version's chain. Submitting, approving and rejecting are
	// acts on a step; the rule holds across every pass of the version (a
	// rejection and a new submission included). Acting on the same step
	// again, in a later pass, is allowed.
	SeparateWithinVersion DutySeparation = "version"
	// SeparateWithinRound is stricter: one person acts on at most one step
	// of the chain across all versions of the round, so whoever submitted
	// one version cannot review another.
	SeparateWithinRound DutySeparation = "round"
)

// DutySeparations lists the levels, least strict first.
var DutySeparations = []DutySeparation{SeparateWithinVersion, SeparateWithinRound}

// Valid reports whether d is a known level.
func (d DutySeparation) Valid() bool { return d.rank() >= 0 }

func (d DutySeparation) rank() int {
	for i, x := range DutySeparations {
		if x == d {
			return i
		}
	}
	return -1
}

// AtLeast reports whether d is as strict as o or stricter.
func (d DutySeparation) AtLeast(o DutySeparation) bool { return d.rank() >= o.rank() }

// OrDefault returns d, or the floor when d is empty.
func (d DutySeparation) OrDefault() DutySeparation {
	if d == "" {
		return SeparateWithinVersion
	}
	return d
}

// CheckDutySeparationChange says whether a round in status may move from
// one level to another: any level while the round is a draft; afterwards
// only toward stricter (ECONFLICT), since acts already taken were allowed
// under the level in force. An unknown level is EINVALID.
func CheckDutySeparationChange(status RoundStatus, from, to DutySeparation) error {
	if !to.Valid() {
		var v Validation
		v.Add("separation_of_duties", "must be one of %v", DutySeparations)
		return v.Err()
	}
	if status != RoundDraft && !to.AtLeast(from.OrDefault()) {
		return Errorf(ECONFLICT, "the round is %s: its separation of duties only becomes stricter (it is %q; %q is looser)", status, from.OrDefault(), to)
	}
	return nil
}

// stepAct reports whether an action is an act on a step of the chain. A
// reopen takes a version back; it is no step of the chain.
func stepAct(action string) bool {
	return action == ActSubmit || action == ActApprove || action == ActReject
}

// DutySeparationError is an EFORBIDDEN refusal under the separation of
// duties, with the earlier act that rules the new one out. Such refusals
// are audited.
type DutySeparationError struct {
	Err     *Error
	Earlier ApprovalAction
}

// Error implements the error interface.
func (e *DutySeparationError) Error() string { return e.Err.Error() }

// Unwrap returns the *Error, so ErrorCode and ErrorMessage see it.
func (e *DutySeparationError) Unwrap() error { return e.Err }

// CheckSeparationOfDuties refuses (EFORBIDDEN, saying why) an act by
// actorID on step of the chain when, under sep, the same person already
// acted on another step. acts are the recorded acts the level looks at: the
// version's under SeparateWithinVersion, every version's of the round under
// SeparateWithinRound.
func CheckSeparationOfDuties(sep DutySeparation, actorID int64, step int, versionID int64, acts []ApprovalAction) error {
	sep = sep.OrDefault()
	for _, x := range acts {
		if x.ActorID != actorID || !stepAct(x.Action) || x.Step == step {
			continue
		}
		if sep == SeparateWithinVersion && x.VersionID != versionID {
			continue
		}
		what := map[string]string{ActSubmit: "submitted", ActApprove: "approved", ActReject: "rejected"}[x.Action]
		where := "this version"
		if x.VersionID != versionID {
			where = fmt.Sprintf("version %d of this round", x.VersionID)
		}
		return &DutySeparationError{Err: Errorf(EFORBIDDEN, "separation of duties (%s): you %s step %d of %s's chain, so you may not act on step %d; somebody else takes it",
			sep, what, x.Step+1, where, step+1), Earlier: x}
	}
	return nil
}
