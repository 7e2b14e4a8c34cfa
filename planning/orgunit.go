package planning

import (
	"context"
	"slices"
	"strings"
	"time"
)

// OrgUnitKind is the kind of a node in the org tree.
type OrgUnitKind string

// The kinds of org unit the deck's organisation needs.
const (
	KindCompany             OrgUnitKind = "company"
	KindRegion              OrgUnitKind = "region"
	KindBranch              OrgUnitKind = "branch"
	KindKeyAccountTeam      OrgUnitKind = "key_account_team"
	KindChannelTeam         OrgUnitKind = "channel_team"
	KindNationalKeyAccounts OrgUnitKind = "national_key_accounts"
	KindNationalChannels    OrgUnitKind = "national_channels"
	KindDepartment          OrgUnitKind = "department"
)

// OrgUnitKinds lists every kind in a stable order.
var OrgUnitKinds = []OrgUnitKind{
	KindCompany, KindRegion, KindBranch, KindKeyAccountTeam, KindChannelTeam,
	KindNationalKeyAccounts, KindNationalChannels, KindDepartment,
}

// Valid reports whether k is a known kind.
func (k OrgUnitKind) Valid() bool { return slices.Contains(OrgUnitKinds, k) }

// MaxOrgDepth is the deepest an org tree may grow (the root is at depth 1).
// Deeper trees are refused; the deck's tree is five levels deep.
const MaxOrgDepth = 12

// OrgUnit is a node of the org tree: the company, a region, a branch, a team
// or a national department. Every level holds targets of its own.
type OrgUnit struct {
	ID        int64
	Code      string
	Name      string
	NameLocal string // the name in the local language, e.g. 上海分公司
	Kind      OrgUnitKind
	ParentID  *int64
	// Path is the materialized path of ids from the root to this unit,
	// "/1/4/9/"; it is maintained by the store.
	Path      string
	Active    bool
	Revision  int64 // incremented on every change; the ETag
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SortKey orders units in tree order: a parent before its subtree, each
// subtree together, and siblings in the order they were created. It is the
// path with every id zero-padded to the same width, since the path's own
// string order would put unit 10 before unit 2.
func (u *OrgUnit) SortKey() string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		b.WriteByte('/')
		b.WriteString(strings.Repeat("0", max(0, 19-len(seg))))
		b.WriteString(seg)
	}
	b.WriteByte('/')
	return b.String()
}

// Depth returns the unit's level in the tree, 1 for the root.
func (u *OrgUnit) Depth() int { return strings.Count(u.Path, "/") - 1 }

// Validate checks the fields a caller sets when creating a unit.
func (u *OrgUnit) Validate() error {
	var v Validation
	validateCode(&v, "code", u.Code)
	validateName(&v, "name", u.Name, true)
	validateName(&v, "name_local", u.NameLocal, false)
	if !u.Kind.Valid() {
		v.Add("kind", "must be one of %v", OrgUnitKinds)
	}
	return v.Err()
}

// OrgUnitFilter selects org units. Zero fields do not filter.
type OrgUnitFilter struct {
	IDs       []int64
	Code      string
	Codes     []string
	Kind      OrgUnitKind
	ParentID  *int64
	SubtreeOf *int64 // the unit and all its descendants
	Active    *bool
	Page      PageRequest
}

// OrgUnitUpdate is a change to a unit. Nil fields are left as they are.
// Setting ParentID moves the unit and its subtree.
type OrgUnitUpdate struct {
	Name      *string
	NameLocal *string
	ParentID  *int64
	Active    *bool
	// IfMatch, when set, is the revision the caller last read; a different
	// current revision makes the update fail with EPRECONDITION.
	IfMatch *int64
}

// OrgUnitService manages the org tree. Every method applies the actor's
// scope: units outside it are reported as ENOTFOUND.
type OrgUnitService interface {
	// FindOrgUnitByID returns one unit. Returns ENOTFOUND if it does not
	// exist or is outside the actor's scope.
	FindOrgUnitByID(ctx context.Context, id int64) (*OrgUnit, error)

	// FindOrgUnits returns a page of units in tree order (SortKey): the
	// top unit, then each unit followed by its subtree, siblings in the
	// order they were created; and the cursor of the next page.
	FindOrgUnits(ctx context.Context, filter OrgUnitFilter) ([]*OrgUnit, string, error)

	// CreateOrgUnit creates a unit under its parent (or the root when the
	// tree is empty). Returns EFORBIDDEN unless the actor manages master
	// data, EINVALID for bad fields, ECONFLICT for a duplicate code or a
	// second root.
	CreateOrgUnit(ctx context.Context, u *OrgUnit) error

	// UpdateOrgUnit renames, moves, deactivates or reactivates a unit.
	// Returns EINVALID when a move would create a cycle or exceed
	// MaxOrgDepth, EPRECONDITION on a stale IfMatch.
	UpdateOrgUnit(ctx context.Context, id int64, upd OrgUnitUpdate) (*OrgUnit, error)

	// DeleteOrgUnit removes a unit that holds nothing: no children, no role
	// assignments, no targets. Returns ECONFLICT otherwise; such a unit can
	// only be deactivated.
	DeleteOrgUnit(ctx context.Context, id int64) error
}
