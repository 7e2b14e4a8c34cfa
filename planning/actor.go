package planning

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Role names a job a user does in the planning cycle. A user may hold several.
type Role string

// The roles of DESIGN.md. Branch managers and team leads are scoped to an org
// subtree; product managers are scoped to the product lines they own.
const (
	RoleAdmin             Role = "admin"
	RoleStrategyOffice    Role = "strategy_office"
	RoleProductManager    Role = "product_manager"
	RoleSalesDirector     Role = "sales_director"
	RoleMarketingDirector Role = "marketing_director"
	RolePresident         Role = "president"
	RoleBranchManager     Role = "branch_manager"
	RoleTeamLead          Role = "team_lead"
	RoleAuditor           Role = "auditor"
)

// Roles lists every role in a stable order.
var Roles = []Role{
	RoleAdmin, RoleStrategyOffice, RoleProductManager, RoleSalesDirector,
	RoleMarketingDirector, RolePresident, RoleBranchManager, RoleTeamLead, RoleAuditor,
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Scoped reports whether the role only applies within an org subtree, and so
// needs an org unit on its assignment.
func (r Role) Scoped() bool { return r == RoleBranchManager || r == RoleTeamLead }

// Actor is the authenticated caller of a service method: the user, the roles
// they hold with their scopes, and the product lines they own. Every service
// asks the Actor, and nothing else, whether a read or write is allowed, so the
// policy lives in one place.
type Actor struct {
	User  *User
	Roles []RoleAssignment
	// OwnedProductLineIDs are the product lines whose owner is this user;
	// a product manager writes targets of these lines only.
	OwnedProductLineIDs []int64
	// TokenID is the token the caller authenticated with, if any.
	TokenID int64
	// SessionID is the console session the caller authenticated with, if
	// any.
	SessionID int64
}

type actorKey struct{}

// NewContextWithActor returns a copy of ctx that carries a.
func NewContextWithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor of ctx, or nil for an anonymous context.
func ActorFromContext(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	return a
}

// RequireActor returns the actor of ctx, or EUNAUTHORIZED when there is none.
func RequireActor(ctx context.Context) (*Actor, error) {
	a := ActorFromContext(ctx)
	if a == nil || a.User == nil {
		return nil, Errorf(EUNAUTHORIZED, "authentication required")
	}
	return a, nil
}

// UserID returns the id of the actor's user, or 0 for a nil actor.
func (a *Actor) UserID() int64 {
	if a == nil || a.User == nil {
		return 0
	}
	return a.User.ID
}

// HasRole reports whether the actor holds any of roles.
func (a *Actor) HasRole(roles ...Role) bool {
	if a == nil {
		return false
	}
	for _, ra := range a.Roles {
		if slices.Contains(roles, ra.Role) {
			return true
		}
	}
	return false
}

// globalReaders are the roles that read every org unit's data.
var globalReaders = []Role{
	RoleAdmin, RoleStrategyOffice, RoleProductManager, RoleSalesDirector,
	RoleMarketingDirector, RolePresident, RoleAuditor,
}

// SeesAllOrgUnits reports whether the actor reads the whole org tree.
func (a *Actor) SeesAllOrgUnits() bool { return a.HasRole(globalReaders...) }

// ScopePaths returns the materialized paths of the subtrees the actor is
// scoped to. It is meaningful only when SeesAllOrgUnits is false.
func (a *Actor) ScopePaths() []string {
	var paths []string
	for _, ra := range a.Roles {
		if ra.Role.Scoped() && ra.OrgUnitPath != "" {
			paths = append(paths, ra.OrgUnitPath)
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// CanSeeOrgPath reports whether the actor may read the unit at path (and so
// its targets and counterproposals). Units outside the actor's scope must be
// reported as not found, never as forbidden, so their existence is not leaked.
func (a *Actor) CanSeeOrgPath(path string) bool { return a.ReadScope().VisibleOrgPath(path) }

// ReadScope returns what the actor reads, by paths alone: the whole tree,
// or the subtrees of their scoped roles. It answers VisibleOrgPath and
// redacts org units; a redaction that goes by unit ids needs the scope's
// units too (SubtreeScope, which the store fills).
func (a *Actor) ReadScope() *Scope {
	if a.SeesAllOrgUnits() {
		return FullScope()
	}
	return SubtreeScope(a.ScopePaths(), nil)
}

// CanManageMasterData reports whether the actor may create and change org
// units, measures and seasonality profiles, and create product lines.
func (a *Actor) CanManageMasterData() bool { return a.HasRole(RoleAdmin, RoleStrategyOffice) }

// CanEditProductLine reports whether the actor may change the product line:
// master-data managers may change any, a product manager only their own.
func (a *Actor) CanEditProductLine(pl *ProductLine) bool {
	return a.CanPlanOwnedBy(pl.OwnerID)
}

// CanWriteTargets reports whether the actor's roles let them write target
// cells at all, by edits, allocations or imports. A product manager writes
// only the product lines they own, which the store checks line by line.
func (a *Actor) CanWriteTargets() bool {
	return a.HasRole(RoleAdmin, RoleStrategyOffice, RoleProductManager)
}

// CanManageUsers reports whether the actor may create and change users, role
// assignments and tokens. Only administrators may.
func (a *Actor) CanManageUsers() bool { return a.HasRole(RoleAdmin) }

// CanReadUsers reports whether the actor may list users and their roles.
func (a *Actor) CanReadUsers() bool { return a.HasRole(RoleAdmin, RoleAuditor) }

// CanReadAudit reports whether the actor may read the whole audit trail.
func (a *Actor) CanReadAudit() bool { return a.HasRole(RoleAdmin, RoleAuditor) }

// OrgPath returns the materialized path of a unit whose ancestors' ids, from
// the root down, are ancestors: "/1/4/9/". Paths make subtree tests a prefix
// comparison in Go and in SQL alike.
func OrgPath(ancestors ...int64) string {
	var b strings.Builder
	b.WriteByte('/')
	for _, id := range ancestors {
		b.WriteString(strconv.FormatInt(id, 10))
		b.WriteByte('/')
	}
	return b.String()
}

// CanProposeFor reports whether the actor may draft counterproposals for the
// unit at path: a branch manager or team lead whose scope holds it.
func (a *Actor) CanProposeFor(path string) bool {
	if a == nil {
		return false
	}
	for _, ra := range a.Roles {
		if ra.Role.Scoped() && ra.OrgUnitPath != "" && strings.HasPrefix(path, ra.OrgUnitPath) {
			return true
		}
	}
	return false
}
