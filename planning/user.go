package planning

import (
	"context"
	"net/mail"
	"regexp"
	"time"
)

// User is a person (or a system account) who calls the API with a token.
type User struct {
	ID        int64
	Username  string
	Name      string
	Email     string
	Active    bool
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
	Roles     []RoleAssignment // filled by FindUserByID and FindUsers
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Validate checks the fields a caller sets.
func (u *User) Validate() error {
	var v Validation
	if !usernamePattern.MatchString(u.Username) {
		v.Add("username", "must be 1-64 lower-case letters, digits, '_', '.' or '-'")
	}
	validateName(&v, "name", u.Name, true)
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
			v.Add("email", "must be a plain e-mail address")
		}
	}
	return v.Err()
}

// RoleAssignment grants a role to a user, scoped to an org subtree for
// branch managers and team leads.
type RoleAssignment struct {
	ID          int64
	UserID      int64
	Role        Role
	OrgUnitID   *int64
	OrgUnitPath string // the scope's materialized path, filled by the store
	CreatedAt   time.Time
}

// Validate checks the role and that scoped roles have a scope and others none.
func (ra *RoleAssignment) Validate() error {
	var v Validation
	if !ra.Role.Valid() {
		v.Add("role", "must be one of %v", Roles)
	} else if ra.Role.Scoped() && ra.OrgUnitID == nil {
		v.Add("org_unit_id", "is required for the %s role", ra.Role)
	} else if !ra.Role.Scoped() && ra.OrgUnitID != nil {
		v.Add("org_unit_id", "must be empty: the %s role is not scoped to an org unit", ra.Role)
	}
	return v.Err()
}

// UserFilter selects users.
type UserFilter struct {
	Username string
	Role     Role
	Active   *bool
	Page     PageRequest
}

// UserUpdate is a change to a user; nil fields stay.
type UserUpdate struct {
	Name    *string
	Email   *string
	Active  *bool
	IfMatch *int64
}

// UserService manages users and their roles. Only administrators write;
// administrators and auditors read (EFORBIDDEN otherwise).
type UserService interface {
	FindUserByID(ctx context.Context, id int64) (*User, error)
	FindUsers(ctx context.Context, filter UserFilter) ([]*User, string, error)
	// CreateUser returns ECONFLICT for a taken username.
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, id int64, upd UserUpdate) (*User, error)
	// AddRole grants a role. Returns EINVALID for an unknown scope unit and
	// ECONFLICT when the same role and scope is already granted.
	AddRole(ctx context.Context, ra *RoleAssignment) error
	// RemoveRole revokes one assignment of the user.
	RemoveRole(ctx context.Context, userID, assignmentID int64) error
	// FindUserNames returns the display names of the users with the ids,
	// so that what a person acted on shows who acted, never a bare id.
	// Any signed-in actor may call it; unknown ids are left out.
	FindUserNames(ctx context.Context, ids []int64) (map[int64]string, error)
}
