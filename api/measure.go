package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Measure is a planned quantity such as revenue or units.
type Measure struct {
	ID        int64  `json:"id" example:"1"`
	Code      string `json:"code" example:"revenue"`
	Name      string `json:"name" example:"Revenue"`
	NameLocal string `json:"name_local" example:"销售收入"`
	// Unit is an ISO 4217 currency code or "count".
	Unit string `json:"unit" example:"CNY"`
	// Scale is the number of decimal places amounts are kept at.
	Scale     int32     `json:"scale" example:"2"`
	Active    bool      `json:"active" example:"true"`
	Revision  int64     `json:"revision" example:"1"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MeasurePage is one page of measures.
type MeasurePage struct {
	Items      []Measure `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// MeasureCreate is the body of POST /measures.
type MeasureCreate struct {
	Code      string `json:"code" validate:"required" example:"operating_profit"`
	Name      string `json:"name" validate:"required" example:"Operating profit"`
	NameLocal string `json:"name_local" example:"经营利润"`
	Unit      string `json:"unit" validate:"required" example:"CNY"`
	Scale     int32  `json:"scale" example:"2" minimum:"0" maximum:"6"`
}

// MeasurePatch is the body of PATCH /measures/{id}. The unit and scale never
// change: amounts already stored are kept at them.
type MeasurePatch struct {
	Name      *string `json:"name" example:"Revenue"`
	NameLocal *string `json:"name_local" example:"销售收入"`
	Active    *bool   `json:"active" example:"true"`
}

func fromDomainMeasure(m *planning.Measure) Measure {
	return Measure{ID: m.ID, Code: m.Code, Name: m.Name, NameLocal: m.NameLocal, Unit: m.Unit, Scale: m.Scale,
		Active: m.Active, Revision: m.Revision, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
}

func (r MeasureCreate) toDomain() *planning.Measure {
	return &planning.Measure{Code: r.Code, Name: r.Name, NameLocal: r.NameLocal, Unit: r.Unit, Scale: r.Scale, Active: true}
}

func (r MeasurePatch) toDomain(ifMatch *int64) planning.MeasureUpdate {
	return planning.MeasureUpdate{Name: r.Name, NameLocal: r.NameLocal, Active: r.Active, IfMatch: ifMatch}
}

// listMeasures godoc
//
//	@Summary	List measures
//	@ID			listMeasures
//	@Tags		measures
//	@Security	BearerAuth
//	@Produce	json
//	@Param		code	query		string	false	"Only the measure with this code"
//	@Param		active	query		bool	false	"Only active (true) or inactive (false) measures"
//	@Param		limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	api.MeasurePage
//	@Failure	400		{object}	api.Problem	"Bad query parameter"
//	@Failure	401		{object}	api.Problem	"Not authenticated"
//	@Failure	422		{object}	api.Problem	"Invalid filter"
//	@Router		/measures [get]
func (s *Server) listMeasures(c echo.Context) error {
	q := newQuery(c, "code", "active")
	f := planning.MeasureFilter{Code: q.str("code"), Active: q.boolean("active"), Page: q.page()}
	if err := q.err(); err != nil {
		return err
	}
	ms, next, err := s.svcs.Measures.FindMeasures(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := MeasurePage{Items: make([]Measure, 0, len(ms)), NextCursor: next}
	for _, m := range ms {
		page.Items = append(page.Items, fromDomainMeasure(m))
	}
	return c.JSON(http.StatusOK, page)
}

// createMeasure godoc
//
//	@Summary		Create a measure
//	@ID				createMeasure
//	@Description	Needs the admin or strategy_office role.
//	@Tags			measures
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.MeasureCreate	true	"The new measure"
//	@Success		201		{object}	api.Measure
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new measure"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not a master-data manager"
//	@Failure		409		{object}	api.Problem	"Duplicate code"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/measures [post]
func (s *Server) createMeasure(c echo.Context) error {
	var req MeasureCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m := req.toDomain()
	if err := s.svcs.Measures.CreateMeasure(c.Request().Context(), m); err != nil {
		return err
	}
	return created(c, location("/measures/%d", m.ID), &m.Revision, fromDomainMeasure(m))
}

// getMeasure godoc
//
//	@Summary	Get a measure
//	@ID			getMeasure
//	@Tags		measures
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Measure id"
//	@Success	200	{object}	api.Measure
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	401	{object}	api.Problem	"Not authenticated"
//	@Failure	404	{object}	api.Problem	"Unknown measure"
//	@Router		/measures/{id} [get]
func (s *Server) getMeasure(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	m, err := s.svcs.Measures.FindMeasureByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, m.Revision, fromDomainMeasure(m))
}

// updateMeasure godoc
//
//	@Summary		Rename, deactivate or reactivate a measure
//	@ID				updateMeasure
//	@Description	Needs the admin or strategy_office role.
//	@Tags			measures
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Measure id"
//	@Param			If-Match	header		string				false	"ETag the change is based on"
//	@Param			body		body		api.MeasurePatch	true	"The fields to change"
//	@Success		200			{object}	api.Measure
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not a master-data manager"
//	@Failure		404			{object}	api.Problem	"Unknown measure"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid fields"
//	@Router			/measures/{id} [patch]
func (s *Server) updateMeasure(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req MeasurePatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.svcs.Measures.UpdateMeasure(c.Request().Context(), id, req.toDomain(rev))
	if err != nil {
		return err
	}
	return ok(c, m.Revision, fromDomainMeasure(m))
}
