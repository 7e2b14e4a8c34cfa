package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// User is a person or system account that calls the API.
type User struct {
	ID        int64            `json:"id" example:"12"`
	Username  string           `json:"username" example:"bm-sh"`
	Name      string           `json:"name" example:"王伟"`
	Email     string           `json:"email" example:"wang.wei@example.com"`
	Active    bool             `json:"active" example:"true"`
	Revision  int64            `json:"revision" example:"1"`
	Roles     []RoleAssignment `json:"roles"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// UserPage is one page of users.
type UserPage struct {
	Items      []User `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// UserCreate is the body of POST /users. Roles are granted separately, with
// POST /users/{id}/roles.
type UserCreate struct {
	Username string `json:"username" validate:"required" example:"bm-sh"`
	Name     string `json:"name" validate:"required" example:"王伟"`
	Email    string `json:"email" example:"wang.wei@example.com"`
}

// UserPatch is the body of PATCH /users/{id}. active=false disables the user
// and so every token of theirs.
type UserPatch struct {
	Name   *string `json:"name" example:"王伟"`
	Email  *string `json:"email" example:"wang.wei@example.com"`
	Active *bool   `json:"active" example:"false"`
}

// RoleAssignment grants a role to a user, scoped to an org subtree for
// branch managers and team leads.
type RoleAssignment struct {
	ID     int64  `json:"id" example:"20"`
	UserID int64  `json:"user_id" example:"12"`
	Role   string `json:"role" example:"branch_manager" enums:"admin,strategy_office,product_manager,sales_director,marketing_director,president,branch_manager,team_lead,auditor"`
	// OrgUnitID is the scope of branch_manager and team_lead; null otherwise.
	OrgUnitID *int64    `json:"org_unit_id" example:"4"`
	CreatedAt time.Time `json:"created_at"`
}

// RoleAssignmentList is the roles of one user.
type RoleAssignmentList struct {
	Items []RoleAssignment `json:"items"`
}

// RoleAssignmentCreate is the body of POST /users/{id}/roles.
type RoleAssignmentCreate struct {
	Role string `json:"role" validate:"required" example:"branch_manager" enums:"admin,strategy_office,product_manager,sales_director,marketing_director,president,branch_manager,team_lead,auditor"`
	// OrgUnitID is required for branch_manager and team_lead, and must be
	// absent for every other role.
	OrgUnitID *int64 `json:"org_unit_id" example:"4"`
}

func fromDomainUser(u *planning.User) User {
	return User{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Active: u.Active,
		Revision: u.Revision, Roles: fromDomainRoles(u.Roles),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func fromDomainRoles(ras []planning.RoleAssignment) []RoleAssignment {
	out := make([]RoleAssignment, 0, len(ras))
	for i := range ras {
		out = append(out, fromDomainRoleAssignment(&ras[i]))
	}
	return out
}

func fromDomainRoleAssignment(ra *planning.RoleAssignment) RoleAssignment {
	return RoleAssignment{ID: ra.ID, UserID: ra.UserID, Role: string(ra.Role), OrgUnitID: ra.OrgUnitID,
		CreatedAt: ra.CreatedAt.UTC()}
}

func (r UserCreate) toDomain() *planning.User {
	return &planning.User{Username: r.Username, Name: r.Name, Email: r.Email, Active: true}
}

func (r UserPatch) toDomain(ifMatch *int64) planning.UserUpdate {
	return planning.UserUpdate{Name: r.Name, Email: r.Email, Active: r.Active, IfMatch: ifMatch}
}

func (r RoleAssignmentCreate) toDomain(userID int64) *planning.RoleAssignment {
	return &planning.RoleAssignment{UserID: userID, Role: planning.Role(r.Role), OrgUnitID: r.OrgUnitID}
}

// listUsers godoc
//
//	@Summary		List users
//	@ID				listUsers
//	@Description	Needs the admin or auditor role.
//	@Tags			users
//	@Security		BearerAuth
//	@Produce		json
//	@Param			username	query		string	false	"Only the user with this username"
//	@Param			role		query		string	false	"Only users holding this role"	Enums(admin,strategy_office,product_manager,sales_director,marketing_director,president,branch_manager,team_lead,auditor)
//	@Param			active		query		bool	false	"Only active (true) or inactive (false) users"
//	@Param			limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Success		200			{object}	api.UserPage
//	@Failure		400			{object}	api.Problem	"Bad query parameter"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Neither admin nor auditor"
//	@Failure		422			{object}	api.Problem	"Invalid filter"
//	@Router			/users [get]
func (s *Server) listUsers(c echo.Context) error {
	q := newQuery(c, "username", "role", "active")
	f := planning.UserFilter{Username: q.str("username"), Role: planning.Role(q.str("role")),
		Active: q.boolean("active"), Page: q.page()}
	if f.Role != "" && !f.Role.Valid() {
		q.fail("role", "must be one of %v", planning.Roles)
	}
	if err := q.err(); err != nil {
		return err
	}
	users, next, err := s.svcs.Users.FindUsers(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := UserPage{Items: make([]User, 0, len(users)), NextCursor: next}
	for _, u := range users {
		page.Items = append(page.Items, fromDomainUser(u))
	}
	return c.JSON(http.StatusOK, page)
}

// createUser godoc
//
//	@Summary		Create a user
//	@ID				createUser
//	@Description	Needs the admin role.
//	@Tags			users
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.UserCreate	true	"The new user"
//	@Success		201		{object}	api.User
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new user"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin"
//	@Failure		409		{object}	api.Problem	"Username taken"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/users [post]
func (s *Server) createUser(c echo.Context) error {
	var req UserCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := req.toDomain()
	if err := s.svcs.Users.CreateUser(c.Request().Context(), u); err != nil {
		return err
	}
	return created(c, location("/users/%d", u.ID), &u.Revision, fromDomainUser(u))
}

// getUser godoc
//
//	@Summary		Get a user with their roles
//	@ID				getUser
//	@Description	Needs the admin or auditor role.
//	@Tags			users
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"User id"
//	@Success		200	{object}	api.User
//	@Header			200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Neither admin nor auditor"
//	@Failure		404	{object}	api.Problem	"Unknown user"
//	@Router			/users/{id} [get]
func (s *Server) getUser(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, err := s.svcs.Users.FindUserByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, u.Revision, fromDomainUser(u))
}

// updateUser godoc
//
//	@Summary		Change, disable or re-enable a user
//	@ID				updateUser
//	@Description	Needs the admin role.
//	@Tags			users
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int				true	"User id"
//	@Param			If-Match	header		string			false	"ETag the change is based on"
//	@Param			body		body		api.UserPatch	true	"The fields to change"
//	@Success		200			{object}	api.User
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not an admin"
//	@Failure		404			{object}	api.Problem	"Unknown user"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid fields"
//	@Router			/users/{id} [patch]
func (s *Server) updateUser(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req UserPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.svcs.Users.UpdateUser(c.Request().Context(), id, req.toDomain(rev))
	if err != nil {
		return err
	}
	return ok(c, u.Revision, fromDomainUser(u))
}

// listUserRoles godoc
//
//	@Summary		List a user's roles
//	@ID				listUserRoles
//	@Description	Needs the admin or auditor role.
//	@Tags			users
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"User id"
//	@Success		200	{object}	api.RoleAssignmentList
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Neither admin nor auditor"
//	@Failure		404	{object}	api.Problem	"Unknown user"
//	@Router			/users/{id}/roles [get]
func (s *Server) listUserRoles(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, err := s.svcs.Users.FindUserByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, RoleAssignmentList{Items: fromDomainRoles(u.Roles)})
}

// addUserRole godoc
//
//	@Summary		Grant a role
//	@ID				addUserRole
//	@Description	Needs the admin role. branch_manager and team_lead need an org_unit_id scope; other roles must have none.
//	@Tags			users
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int							true	"User id"
//	@Param			body	body		api.RoleAssignmentCreate	true	"The role to grant"
//	@Success		201		{object}	api.RoleAssignment
//	@Header			201		{string}	Location	"The URL of the user's roles"
//	@Failure		400		{object}	api.Problem	"Malformed body or id"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin"
//	@Failure		404		{object}	api.Problem	"Unknown user"
//	@Failure		409		{object}	api.Problem	"Already granted"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Unknown role or bad scope"
//	@Router			/users/{id}/roles [post]
func (s *Server) addUserRole(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req RoleAssignmentCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ra := req.toDomain(id)
	if err := s.svcs.Users.AddRole(c.Request().Context(), ra); err != nil {
		return err
	}
	return created(c, location("/users/%d/roles", id), nil, fromDomainRoleAssignment(ra))
}

// removeUserRole godoc
//
//	@Summary		Revoke a role
//	@ID				removeUserRole
//	@Description	Needs the admin role.
//	@Tags			users
//	@Security		BearerAuth
//	@Param			id		path	int	true	"User id"
//	@Param			role_id	path	int	true	"Role assignment id"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not an admin"
//	@Failure		404	{object}	api.Problem	"Unknown user or assignment"
//	@Router			/users/{id}/roles/{role_id} [delete]
func (s *Server) removeUserRole(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	roleID, err := pathID(c, "role_id")
	if err != nil {
		return err
	}
	if err := s.svcs.Users.RemoveRole(c.Request().Context(), id, roleID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
