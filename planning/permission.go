package planning

import (
	"fmt"
	"slices"
)

// This file is the one place that answers "may this actor do this to this
// thing, and if not, why". Each May… method returns nil or an EFORBIDDEN
// *Error that says who may; each Can… method is the same rule as a yes or
// no. The services and the aggregates' methods ask here and nowhere else,
// always before they look at the state of the thing (authenticate →
// authorize → state → validate), so a caller without the right learns
// nothing about where the thing stands.

// CanPlanOwnedBy reports whether the actor may write targets of (and change)
// a product line with the given owner: the strategy office and
// administrators may any, a product manager only their own.
func (a *Actor) CanPlanOwnedBy(ownerID *int64) bool {
	if a.HasRole(RoleAdmin, RoleStrategyOffice) {
		return true
	}
	return a.HasRole(RoleProductManager) && ownerID != nil && *ownerID == a.UserID()
}

// MayManageRounds refuses whoever may not create or change planning rounds.
func (a *Actor) MayManageRounds() error {
	if !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators manage planning rounds")
	}
	return nil
}

// MayMoveRoundTo refuses whoever holds none of the roles of any move of a
// round to phase to. It looks at no state: whether the move is possible
// from where the round stands is the round's own rule (see Round.Move).
func (a *Actor) MayMoveRoundTo(to RoundStatus) error {
	var roles []Role
	add := func(rs []Role) {
		for _, r := range rs {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	for _, r := range RoundTransitions {
		if r.To == to {
			add(r.Roles)
		}
	}
	if len(roles) == 0 {
		// Nobody moves a round to this phase (or it is no phase): whoever
		// moves rounds at all hears why from the state machine or the
		// validation; anybody else is refused.
		for _, r := range RoundTransitions {
			add(r.Roles)
		}
	}
	// Each role once: several moves lead to one phase, and the refusal is
	// read by people (the console shows it beside the move).
	if !a.HasRole(roles...) {
		return Errorf(EFORBIDDEN, "moving a round to %s needs the role %v", to, roles)
	}
	return nil
}

// MayDraftCounterproposal refuses whoever does not manage unit: only its
// branch manager or team lead (a scoped role whose subtree holds it)
// drafts its counterproposals.
func (a *Actor) MayDraftCounterproposal(unit *OrgUnit) error {
	if !a.CanProposeFor(unit.Path) {
		return Errorf(EFORBIDDEN, "only the managers of %s (its branch manager or team lead) draft its counterproposals", unit.Code)
	}
	return nil
}

// MayChangeCounterproposal refuses whoever may not edit, submit or withdraw
// cp, a counterproposal of unit: its author or another manager of the unit,
// as long as they still manage it.
func (a *Actor) MayChangeCounterproposal(cp *Counterproposal, unit *OrgUnit) error {
	manages := a.CanProposeFor(unit.Path)
	if cp.AuthorID != a.UserID() && !manages {
		return Errorf(EFORBIDDEN, "only the author or a manager of %s changes this counterproposal", unit.Code)
	}
	if !manages {
		return Errorf(EFORBIDDEN, "you no longer manage %s", unit.Code)
	}
	return nil
}

// MayDecideCounterproposals refuses whoever holds no role that decides
// counterproposal lines.
func (a *Actor) MayDecideCounterproposals() error {
	if !a.HasRole(RoleProductManager, RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only product managers decide counterproposals")
	}
	return nil
}

// MayDecideLine refuses a decision on a counterproposal line about a
// product line the actor may not plan (pl is nil when it is unknown).
func (a *Actor) MayDecideLine(lineID int64, pl *ProductLine) error {
	if pl == nil || !a.CanPlanOwnedBy(pl.OwnerID) {
		return Errorf(EFORBIDDEN, "line %d is about a product line that is not yours to decide", lineID)
	}
	return nil
}

// MayActOnApproval answers the authorization half of an approval act: the
// caller's roles for the action where the version stands, then the
// separation of duties. It returns the chain step the act is on (-1 for
// acts on no step: reopen, and approve or reject outside the chain, which
// the state rules then refuse as out of turn).
func (a *Actor) MayActOnApproval(action string, s ApprovalSubject) (int, error) {
	chain, v, r := s.Round.ApprovalChain, s.Version, s.Round
	step := 0
	switch action {
	case ActSubmit:
		if !a.HasRole(chain[0].Role) {
			return 0, Errorf(EFORBIDDEN, "the chain's first step is the %s's: they submit the plan", chain[0].Role)
		}
	case ActApprove, ActReject:
		if v.ApprovalState == ApprovalInProgress {
			step = s.Current
			if step < 1 || step >= len(chain) {
				return 0, Errorf(EINTERNAL, "version %d is at step %d of a chain of %d", v.ID, step, len(chain))
			}
			if !a.HasRole(chain[step].Role) {
				return 0, Errorf(EFORBIDDEN, "step %d of the chain is the %s's to take", step+1, chain[step].Role)
			}
		} else {
			reviewer := false
			for _, st := range chain[1:] {
				reviewer = reviewer || a.HasRole(st.Role)
			}
			if !reviewer {
				return 0, Errorf(EFORBIDDEN, "only the roles of the chain's review and approval steps approve or reject")
			}
			step = -1
		}
	case ActReopen:
		if lastSubmitter(v.ID, s.Acts) != a.UserID() && !a.HasRole(RoleStrategyOffice, RoleAdmin) {
			return 0, Errorf(EFORBIDDEN, "only the submitter, the strategy office or an admin take a version back")
		}
		step = -1
	default:
		return 0, fmt.Errorf("unknown approval action %q", action)
	}
	if step >= 0 {
		if err := CheckSeparationOfDuties(r.SeparationOfDuties, a.UserID(), step, v.ID, s.Acts); err != nil {
			return 0, err
		}
	}
	return step, nil
}

// CheckRevision refuses a change to a thing at revision current when the
// caller read another one (EPRECONDITION). It runs after authorization and
// before the state rules.
func CheckRevision(ifMatch *int64, current int64) error {
	if ifMatch != nil && *ifMatch != current {
		return Errorf(EPRECONDITION, "the resource changed since you read it (revision %d, you sent %d); read it again", current, *ifMatch)
	}
	return nil
}

// MayManageMasterData refuses whoever may not create and change org units,
// measures and seasonality profiles, or create product lines; what names
// the thing for the message.
func (a *Actor) MayManageMasterData(what string) error {
	if !a.CanManageMasterData() {
		return Errorf(EFORBIDDEN, "only administrators and the strategy office manage %s", what)
	}
	return nil
}

// MayCreateProductLines refuses whoever may not create product lines.
func (a *Actor) MayCreateProductLines() error {
	if !a.CanManageMasterData() {
		return Errorf(EFORBIDDEN, "only administrators and the strategy office create product lines")
	}
	return nil
}

// MayChangeProductLine refuses whoever may not change pl: its owning
// product manager changes its names, the strategy office and
// administrators anything, its owner and status (ownerOrStatus) included.
func (a *Actor) MayChangeProductLine(pl *ProductLine, ownerOrStatus bool) error {
	if !a.CanEditProductLine(pl) {
		return Errorf(EFORBIDDEN, "only the owning product manager, administrators and the strategy office change product line %s", pl.Code)
	}
	if ownerOrStatus && !a.CanManageMasterData() {
		return Errorf(EFORBIDDEN, "only administrators and the strategy office change a product line's owner or status")
	}
	return nil
}

// MayManageSeasonality refuses whoever may not create and change
// seasonality profiles.
func (a *Actor) MayManageSeasonality() error {
	if !a.CanManageMasterData() && !a.HasRole(RoleProductManager) {
		return Errorf(EFORBIDDEN, "only administrators, the strategy office and product managers manage seasonality profiles")
	}
	return nil
}

// MayCreateVersions refuses whoever may not copy a version into a new
// working version.
func (a *Actor) MayCreateVersions() error {
	if !a.HasRole(RoleStrategyOffice, RoleAdmin, RoleProductManager) {
		return Errorf(EFORBIDDEN, "only the strategy office, administrators and product managers create versions")
	}
	return nil
}

// MayFreezeVersions refuses whoever may not freeze a version.
func (a *Actor) MayFreezeVersions() error {
	if !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators freeze versions")
	}
	return nil
}

// MayEditTargets refuses whoever may not edit target cells at all; which
// product lines they may edit is MayPlanProductLine's.
func (a *Actor) MayEditTargets() error {
	if !a.CanWriteTargets() {
		return Errorf(EFORBIDDEN, "only product managers, the strategy office and administrators edit targets")
	}
	return nil
}

// MayPlanProductLine refuses whoever may not write the targets of pl.
func (a *Actor) MayPlanProductLine(pl *ProductLine) error {
	if !a.CanPlanOwnedBy(pl.OwnerID) {
		return Errorf(EFORBIDDEN, "product line %s is not yours to plan: only its product manager, the strategy office and administrators write its targets", pl.Code)
	}
	return nil
}

// MayImportActuals refuses whoever may not import actuals.
func (a *Actor) MayImportActuals() error {
	if !a.CanImportActuals() {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators import actuals")
	}
	return nil
}

// MayAllocate refuses whoever may not run an allocation (real or dry): which
// product lines they may write is MayPlanProductLine's.
func (a *Actor) MayAllocate() error {
	if !a.CanWriteTargets() {
		return Errorf(EFORBIDDEN, "only product managers, the strategy office and administrators allocate targets")
	}
	return nil
}

// MayReadUsers refuses whoever may not list users and their roles.
func (a *Actor) MayReadUsers() error {
	if !a.CanReadUsers() {
		return Errorf(EFORBIDDEN, "only administrators and auditors read users")
	}
	return nil
}

// MayReadUser refuses whoever may not read user id: anybody reads
// themself, readers of users everyone.
func (a *Actor) MayReadUser(id int64) error {
	if a.UserID() == id {
		return nil
	}
	return a.MayReadUsers()
}

// MayManageUsers refuses whoever may not create and change users, their
// roles, tokens and sessions.
func (a *Actor) MayManageUsers() error {
	if !a.CanManageUsers() {
		return Errorf(EFORBIDDEN, "only administrators manage users, roles and tokens")
	}
	return nil
}

// MaySetScorecardTemplates refuses whoever may not set the organisation's
// default scorecards.
func (a *Actor) MaySetScorecardTemplates() error {
	if !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators set the default scorecards")
	}
	return nil
}

// MayRunJob refuses to run allocation job id as starter, the actor of the
// user who started it: nil when that user is no longer active. A job
// runs with its starter's rights, checked again when it runs.
func MayRunJob(id int64, starter *Actor) error {
	if starter == nil {
		return Errorf(EFORBIDDEN, "the user who started allocation job %d is no longer active", id)
	}
	return nil
}

// MayIssueLetters refuses whoever may not issue target letters.
func (a *Actor) MayIssueLetters() error {
	if !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators issue target letters")
	}
	return nil
}

// AuditReach is how much of the audit trail an actor reads: all of it,
// all but the events about users and tokens, or the events scoped to the
// org subtrees at Paths.
type AuditReach struct {
	All         bool
	ExceptUsers bool
	Paths       []string
}

// MayReadAudit returns the part of the audit trail the actor reads, or
// refuses an actor who reads none of it.
func (a *Actor) MayReadAudit() (AuditReach, error) {
	switch {
	case a.CanReadAudit():
		return AuditReach{All: true}, nil
	case a.SeesAllOrgUnits():
		return AuditReach{ExceptUsers: true}, nil
	}
	paths := a.ScopePaths()
	if len(paths) == 0 {
		return AuditReach{}, Errorf(EFORBIDDEN, "you have no scope to read the audit trail of")
	}
	return AuditReach{Paths: paths}, nil
}

// CheckRoleRemoval refuses the removal of role from userID when it would
// take the actor's own administration away (ECONFLICT, a state rule: it
// runs after MayManageUsers): an administrator cannot lock themself out.
func (a *Actor) CheckRoleRemoval(userID int64, role Role) error {
	if userID == a.UserID() && role == RoleAdmin {
		return Errorf(ECONFLICT, "you cannot remove your own admin role")
	}
	return nil
}
