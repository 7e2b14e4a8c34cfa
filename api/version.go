package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Version is one complete set of a round's targets.
type Version struct {
	ID      int64  `json:"id" example:"2"`
	RoundID int64  `json:"round_id" example:"1"`
	Number  int    `json:"number" example:"2"`
	Label   string `json:"label" example:"after counterproposals"`
	Purpose string `json:"purpose" example:"rebalanced after the branches' input"`
	Status  string `json:"status" example:"working" enums:"working,frozen"`
	// ParentID is the version this one was copied from.
	ParentID *int64 `json:"parent_id" example:"1"`
	// Revision grows with every change of the version or its cells.
	Revision  int64      `json:"revision" example:"7"`
	CellCount int64      `json:"cell_count" example:"4320"`
	CreatedBy *int64     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	FrozenBy  *int64     `json:"frozen_by"`
	FrozenAt  *time.Time `json:"frozen_at"`
}

// VersionPage is one page of versions.
type VersionPage struct {
	Items      []Version `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// VersionCreate is the body of POST /rounds/{id}/versions.
type VersionCreate struct {
	// FromVersionID is the version to copy; it becomes the new one's parent.
	FromVersionID int64  `json:"from_version_id" validate:"required" example:"1"`
	Label         string `json:"label" example:"re-forecast Q2"`
	Purpose       string `json:"purpose" example:"after the first quarter's actuals"`
}

func fromDomainVersion(v *planning.Version) Version {
	return Version{ID: v.ID, RoundID: v.RoundID, Number: v.Number, Label: v.Label, Purpose: v.Purpose, Status: string(v.Status),
		ParentID: v.ParentID, Revision: v.Revision, CellCount: v.CellCount, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt,
		FrozenBy: v.FrozenBy, FrozenAt: formatTime(v.FrozenAt)}
}

// listVersions godoc
//
//	@Summary	List a round's versions
//	@ID			listVersions
//	@Tags		versions
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id		path		int		true	"Round id"
//	@Param		status	query		string	false	"Only working or frozen versions"	Enums(working,frozen)
//	@Param		limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	api.VersionPage
//	@Failure	404		{object}	api.Problem	"No such round"
//	@Failure	400		{object}	api.Problem	"Bad id or query parameter"
//	@Router		/rounds/{id}/versions [get]
func (s *Server) listVersions(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "status")
	f := planning.VersionFilter{RoundID: id, Status: planning.VersionStatus(q.str("status")), Page: q.page()}
	if f.Status != "" && f.Status != planning.VersionWorking && f.Status != planning.VersionFrozen {
		q.fail("status", "must be working or frozen")
	}
	if err := q.err(); err != nil {
		return err
	}
	vs, next, err := s.svcs.Versions.FindVersions(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := VersionPage{Items: make([]Version, 0, len(vs)), NextCursor: next}
	for _, v := range vs {
		page.Items = append(page.Items, fromDomainVersion(v))
	}
	return c.JSON(http.StatusOK, page)
}

// createVersion godoc
//
//	@Summary		Create a working version
//	@ID				createVersion
//	@Description	Copies every cell of from_version_id (any version of the round, frozen or not) into a new working version, which becomes the round's working version. Product managers, the strategy office and admins.
//	@Tags			versions
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int					true	"Round id"
//	@Param			body	body		api.VersionCreate	true	"What to copy"
//	@Success		201		{object}	api.Version
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		403		{object}	api.Problem	"Role may not create versions"
//	@Failure		404		{object}	api.Problem	"No such round or version"
//	@Failure		409		{object}	api.Problem	"Round is a draft or closed"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/rounds/{id}/versions [post]
func (s *Server) createVersion(c echo.Context) error {
	roundID, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req VersionCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if req.FromVersionID <= 0 {
		return invalid("from_version_id", "must be a version of round %d", roundID)
	}
	got, err := s.svcs.Resolve.Resolve(ctx, planning.Refs{VersionID: req.FromVersionID})
	if planning.ErrorCode(err) == planning.ENOTFOUND || err == nil && got.Version.RoundID != roundID {
		return invalid("from_version_id", "must be a version of round %d", roundID)
	} else if err != nil {
		return err
	}
	v, err := s.svcs.Versions.CopyVersion(ctx, req.FromVersionID, req.Label, req.Purpose)
	if err != nil {
		return err
	}
	return created(c, location("/versions/%d", v.ID), &v.Revision, fromDomainVersion(v))
}

// getVersion godoc
//
//	@Summary	Get a version
//	@ID			getVersion
//	@Tags		versions
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Version id"
//	@Success	200	{object}	api.Version
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	404	{object}	api.Problem	"No such version"
//	@Failure	400	{object}	api.Problem	"Bad id or query parameter"
//	@Router		/versions/{id} [get]
func (s *Server) getVersion(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	v, err := s.svcs.Versions.FindVersionByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, v.Revision, fromDomainVersion(v))
}

// freezeVersion godoc
//
//	@Summary		Freeze a version
//	@ID				freezeVersion
//	@Description	Makes a working version immutable: every later write to it is 409. Strategy office and admins.
//	@Tags			versions
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id			path		int		true	"Version id"
//	@Param			If-Match	header		string	false	"ETag of the version as read"
//	@Success		200			{object}	api.Version
//	@Failure		403			{object}	api.Problem	"Role may not freeze"
//	@Failure		404			{object}	api.Problem	"No such version"
//	@Failure		409			{object}	api.Problem	"Frozen already"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Router			/versions/{id}/freeze [post]
func (s *Server) freezeVersion(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	v, err := s.svcs.Versions.FreezeVersion(c.Request().Context(), id, match)
	if err != nil {
		return err
	}
	return ok(c, v.Revision, fromDomainVersion(v))
}
