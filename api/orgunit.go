package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// OrgUnit is a node of the org tree.
type OrgUnit struct {
	ID        int64  `json:"id" example:"4"`
	Code      string `json:"code" example:"B-SH"`
	Name      string `json:"name" example:"Shanghai branch"`
	NameLocal string `json:"name_local" example:"上海分公司"`
	Kind      string `json:"kind" example:"branch" enums:"company,region,branch,key_account_team,channel_team,national_key_accounts,national_channels,department"`
	// ParentID is null for the root, and for the root of a branch
	// manager's or team lead's scope: they do not see its parent.
	ParentID *int64 `json:"parent_id" example:"3"`
	// Path is the materialized path of ids from the root, "/1/3/4/"; for
	// a branch manager or team lead, from the root of their scope ("/4/").
	Path string `json:"path" example:"/1/3/4/"`
	// Depth is the number of ids in path.
	Depth     int       `json:"depth" example:"3"`
	Active    bool      `json:"active" example:"true"`
	Revision  int64     `json:"revision" example:"1"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OrgUnitPage is one page of org units.
type OrgUnitPage struct {
	Items      []OrgUnit `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// OrgUnitCreate is the body of POST /org-units.
type OrgUnitCreate struct {
	Code      string `json:"code" validate:"required" example:"B-SH-GOV"`
	Name      string `json:"name" validate:"required" example:"Shanghai government accounts"`
	NameLocal string `json:"name_local" example:"上海政府客户部"`
	Kind      string `json:"kind" validate:"required" example:"department"`
	// ParentID is required except for the first unit, the root.
	ParentID *int64 `json:"parent_id" example:"4"`
}

// OrgUnitPatch is the body of PATCH /org-units/{id}. Absent fields stay as
// they are; parent_id moves the unit with its subtree; active=false
// deactivates it.
type OrgUnitPatch struct {
	Name      *string `json:"name" example:"Shanghai branch"`
	NameLocal *string `json:"name_local" example:"上海分公司"`
	ParentID  *int64  `json:"parent_id" example:"3"`
	Active    *bool   `json:"active" example:"false"`
}

func fromDomainOrgUnit(u *planning.OrgUnit) OrgUnit {
	return OrgUnit{ID: u.ID, Code: u.Code, Name: u.Name, NameLocal: u.NameLocal, Kind: string(u.Kind),
		ParentID: u.ParentID, Path: u.Path, Depth: u.Depth(), Active: u.Active, Revision: u.Revision,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func (r OrgUnitCreate) toDomain() *planning.OrgUnit {
	return &planning.OrgUnit{Code: r.Code, Name: r.Name, NameLocal: r.NameLocal,
		Kind: planning.OrgUnitKind(r.Kind), ParentID: r.ParentID, Active: true}
}

func (r OrgUnitPatch) toDomain(ifMatch *int64) planning.OrgUnitUpdate {
	return planning.OrgUnitUpdate{Name: r.Name, NameLocal: r.NameLocal, ParentID: r.ParentID,
		Active: r.Active, IfMatch: ifMatch}
}

// listOrgUnits godoc
//
//	@Summary		List org units
//	@ID				listOrgUnits
//	@Description	Units the caller may see, in tree order: the top unit, then each unit followed by its subtree, siblings in the order they were created. Branch managers and team leads see their subtree only.
//	@Tags			org-units
//	@Security		BearerAuth
//	@Produce		json
//	@Param			kind		query		string	false	"Only units of this kind"	Enums(company,region,branch,key_account_team,channel_team,national_key_accounts,national_channels,department)
//	@Param			parent_id	query		int		false	"Only direct children of this unit"
//	@Param			subtree_of	query		int		false	"Only this unit and its descendants"
//	@Param			active		query		bool	false	"Only active (true) or inactive (false) units"
//	@Param			code		query		string	false	"Only the unit with this code"
//	@Param			limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Success		200			{object}	api.OrgUnitPage
//	@Failure		400			{object}	api.Problem	"Bad query parameter"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		422			{object}	api.Problem	"Invalid filter"
//	@Failure		404			{object}	api.Problem	"subtree_of names no unit you can see"
//	@Router			/org-units [get]
func (s *Server) listOrgUnits(c echo.Context) error {
	q := newQuery(c, "kind", "parent_id", "subtree_of", "active", "code")
	f := planning.OrgUnitFilter{Code: q.str("code"), Kind: planning.OrgUnitKind(q.str("kind")),
		ParentID: q.id("parent_id"), SubtreeOf: q.id("subtree_of"), Active: q.boolean("active"), Page: q.page()}
	if f.Kind != "" && !f.Kind.Valid() {
		q.fail("kind", "must be one of %v", planning.OrgUnitKinds)
	}
	if err := q.err(); err != nil {
		return err
	}
	units, next, err := s.svcs.OrgUnits.FindOrgUnits(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := OrgUnitPage{Items: make([]OrgUnit, 0, len(units)), NextCursor: next}
	for _, u := range units {
		page.Items = append(page.Items, fromDomainOrgUnit(u))
	}
	return c.JSON(http.StatusOK, page)
}

// createOrgUnit godoc
//
//	@Summary		Create an org unit
//	@ID				createOrgUnit
//	@Description	Needs the admin or strategy_office role.
//	@Tags			org-units
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.OrgUnitCreate	true	"The new unit"
//	@Success		201		{object}	api.OrgUnit
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new unit"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not a master-data manager"
//	@Failure		409		{object}	api.Problem	"Duplicate code or second root"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/org-units [post]
func (s *Server) createOrgUnit(c echo.Context) error {
	var req OrgUnitCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := req.toDomain()
	if err := s.svcs.OrgUnits.CreateOrgUnit(c.Request().Context(), u); err != nil {
		return err
	}
	return created(c, location("/org-units/%d", u.ID), &u.Revision, fromDomainOrgUnit(u))
}

// getOrgUnit godoc
//
//	@Summary	Get an org unit
//	@ID			getOrgUnit
//	@Tags		org-units
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Org unit id"
//	@Success	200	{object}	api.OrgUnit
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	401	{object}	api.Problem	"Not authenticated"
//	@Failure	404	{object}	api.Problem	"Unknown, or outside the caller's scope"
//	@Router		/org-units/{id} [get]
func (s *Server) getOrgUnit(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, err := s.svcs.OrgUnits.FindOrgUnitByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, u.Revision, fromDomainOrgUnit(u))
}

// updateOrgUnit godoc
//
//	@Summary		Rename, move, deactivate or reactivate an org unit
//	@ID				updateOrgUnit
//	@Description	Needs the admin or strategy_office role. Moving a unit under itself or one of its descendants is 422.
//	@Tags			org-units
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Org unit id"
//	@Param			If-Match	header		string				false	"ETag the change is based on"
//	@Param			body		body		api.OrgUnitPatch	true	"The fields to change"
//	@Success		200			{object}	api.OrgUnit
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not a master-data manager"
//	@Failure		404			{object}	api.Problem	"Unknown unit"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid change, e.g. a cycle"
//	@Router			/org-units/{id} [patch]
func (s *Server) updateOrgUnit(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req OrgUnitPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.svcs.OrgUnits.UpdateOrgUnit(c.Request().Context(), id, req.toDomain(rev))
	if err != nil {
		return err
	}
	return ok(c, u.Revision, fromDomainOrgUnit(u))
}

// deleteOrgUnit godoc
//
//	@Summary		Delete an org unit
//	@ID				deleteOrgUnit
//	@Description	Only a unit that holds nothing (no children, role assignments or targets) can be deleted; deactivate the others.
//	@Tags			org-units
//	@Security		BearerAuth
//	@Param			id	path	int	true	"Org unit id"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not a master-data manager"
//	@Failure		404	{object}	api.Problem	"Unknown unit"
//	@Failure		409	{object}	api.Problem	"The unit holds data"
//	@Router			/org-units/{id} [delete]
func (s *Server) deleteOrgUnit(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.svcs.OrgUnits.DeleteOrgUnit(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
