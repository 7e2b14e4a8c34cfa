package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// ProductLine is a line of products with its owning product manager.
type ProductLine struct {
	ID        int64     `json:"id" example:"7"`
	Code      string    `json:"code" example:"POS"`
	Name      string    `json:"name" example:"POS terminals"`
	NameLocal string    `json:"name_local" example:"POS机"`
	Group     string    `json:"group" example:"industry" enums:"industry,commercial_home,agency"`
	OwnerID   *int64    `json:"owner_id" example:"3"`
	Active    bool      `json:"active" example:"true"`
	Revision  int64     `json:"revision" example:"1"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProductLinePage is one page of product lines.
type ProductLinePage struct {
	Items      []ProductLine `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// ProductLineCreate is the body of POST /product-lines.
type ProductLineCreate struct {
	Code      string `json:"code" validate:"required" example:"KIOSK"`
	Name      string `json:"name" validate:"required" example:"Self-service kiosks"`
	NameLocal string `json:"name_local" example:"自助终端"`
	Group     string `json:"group" validate:"required" example:"industry" enums:"industry,commercial_home,agency"`
	// OwnerID is the owning product manager: an active user with the
	// product_manager role.
	OwnerID *int64 `json:"owner_id" example:"3"`
}

// ProductLinePatch is the body of PATCH /product-lines/{id}. Absent fields
// stay as they are; "owner_id": null removes the owner. Only master-data
// managers change the group, the owner or the active flag.
type ProductLinePatch struct {
	Name      *string    `json:"name" example:"POS terminals"`
	NameLocal *string    `json:"name_local" example:"POS机"`
	Group     *string    `json:"group" example:"industry" enums:"industry,commercial_home,agency"`
	OwnerID   optionalID `json:"owner_id" swaggertype:"integer" extensions:"x-nullable" example:"3"`
	Active    *bool      `json:"active" example:"true"`
}

func fromDomainProductLine(p *planning.ProductLine) ProductLine {
	return ProductLine{ID: p.ID, Code: p.Code, Name: p.Name, NameLocal: p.NameLocal, Group: string(p.Group),
		OwnerID: p.OwnerID, Active: p.Active, Revision: p.Revision,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

func (r ProductLineCreate) toDomain() *planning.ProductLine {
	return &planning.ProductLine{Code: r.Code, Name: r.Name, NameLocal: r.NameLocal,
		Group: planning.ProductGroup(r.Group), OwnerID: r.OwnerID, Active: true}
}

func (r ProductLinePatch) toDomain(ifMatch *int64) (planning.ProductLineUpdate, error) {
	upd := planning.ProductLineUpdate{Name: r.Name, NameLocal: r.NameLocal, Active: r.Active, IfMatch: ifMatch}
	if r.Group != nil {
		g := planning.ProductGroup(*r.Group)
		if !g.Valid() {
			return upd, invalid("group", "must be one of %v", planning.ProductGroups)
		}
		upd.Group = &g
	}
	if r.OwnerID.Set {
		var owner int64 // 0 clears the owner
		if r.OwnerID.Value != nil {
			if *r.OwnerID.Value <= 0 {
				return upd, invalid("owner_id", "must be a positive user id, or null to remove the owner")
			}
			owner = *r.OwnerID.Value
		}
		upd.OwnerID = &owner
	}
	return upd, nil
}

// listProductLines godoc
//
//	@Summary	List product lines
//	@ID			listProductLines
//	@Tags		product-lines
//	@Security	BearerAuth
//	@Produce	json
//	@Param		code		query		string	false	"Only the line with this code"
//	@Param		group		query		string	false	"Only lines of this group"	Enums(industry,commercial_home,agency)
//	@Param		owner_id	query		int		false	"Only lines owned by this user"
//	@Param		active		query		bool	false	"Only active (true) or inactive (false) lines"
//	@Param		limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param		cursor		query		string	false	"next_cursor of the previous page"
//	@Success	200			{object}	api.ProductLinePage
//	@Failure	400			{object}	api.Problem	"Bad query parameter"
//	@Failure	401			{object}	api.Problem	"Not authenticated"
//	@Failure	422			{object}	api.Problem	"Invalid filter"
//	@Router		/product-lines [get]
func (s *Server) listProductLines(c echo.Context) error {
	q := newQuery(c, "code", "group", "owner_id", "active")
	f := planning.ProductLineFilter{Code: q.str("code"), Group: planning.ProductGroup(q.str("group")),
		OwnerID: q.id("owner_id"), Active: q.boolean("active"), Page: q.page()}
	if f.Group != "" && !f.Group.Valid() {
		q.fail("group", "must be one of %v", planning.ProductGroups)
	}
	if err := q.err(); err != nil {
		return err
	}
	lines, next, err := s.svcs.ProductLines.FindProductLines(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := ProductLinePage{Items: make([]ProductLine, 0, len(lines)), NextCursor: next}
	for _, p := range lines {
		page.Items = append(page.Items, fromDomainProductLine(p))
	}
	return c.JSON(http.StatusOK, page)
}

// createProductLine godoc
//
//	@Summary		Create a product line
//	@ID				createProductLine
//	@Description	Needs the admin or strategy_office role.
//	@Tags			product-lines
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.ProductLineCreate	true	"The new product line"
//	@Success		201		{object}	api.ProductLine
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new line"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not a master-data manager"
//	@Failure		409		{object}	api.Problem	"Duplicate code"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/product-lines [post]
func (s *Server) createProductLine(c echo.Context) error {
	var req ProductLineCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := req.toDomain()
	if err := s.svcs.ProductLines.CreateProductLine(c.Request().Context(), p); err != nil {
		return err
	}
	return created(c, location("/product-lines/%d", p.ID), &p.Revision, fromDomainProductLine(p))
}

// getProductLine godoc
//
//	@Summary	Get a product line
//	@ID			getProductLine
//	@Tags		product-lines
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Product line id"
//	@Success	200	{object}	api.ProductLine
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	401	{object}	api.Problem	"Not authenticated"
//	@Failure	404	{object}	api.Problem	"Unknown product line"
//	@Router		/product-lines/{id} [get]
func (s *Server) getProductLine(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := s.svcs.ProductLines.FindProductLineByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, p.Revision, fromDomainProductLine(p))
}

// updateProductLine godoc
//
//	@Summary		Change a product line
//	@ID				updateProductLine
//	@Description	Master-data managers change any line; a product manager changes the lines they own, but not their owner.
//	@Tags			product-lines
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int						true	"Product line id"
//	@Param			If-Match	header		string					false	"ETag the change is based on"
//	@Param			body		body		api.ProductLinePatch	true	"The fields to change"
//	@Success		200			{object}	api.ProductLine
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Neither a master-data manager nor the owner"
//	@Failure		404			{object}	api.Problem	"Unknown product line"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid fields"
//	@Router			/product-lines/{id} [patch]
func (s *Server) updateProductLine(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req ProductLinePatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	upd, err := req.toDomain(rev)
	if err != nil {
		return err
	}
	p, err := s.svcs.ProductLines.UpdateProductLine(c.Request().Context(), id, upd)
	if err != nil {
		return err
	}
	return ok(c, p.Revision, fromDomainProductLine(p))
}
