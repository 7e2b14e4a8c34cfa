package api

import (
	"context"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Measure is a planned quantity such as revenue or units.
type Measure struct {
	ID        int64  `json:"id" example:"1"`
	Code      string `json:"code" example:"revenue"`
	Name      string `json:"name" example:"Revenue"`
	NameLocal string `json:"name_local" example:"销售收入"`
	// Unit is an ISO 4217 currency code, "count", "percent" or "points".
	Unit string `json:"unit" example:"CNY"`
	// Scale is the number of decimal places amounts are kept at.
	Scale int32 `json:"scale" example:"2"`
	// Kind is amount (money, counts, rates, scores) or rating (a manager's
	// judgement on the declared scale in rating).
	Kind string `json:"kind" example:"amount" enums:"amount,rating"`
	// Aggregation is how values combine over periods, product lines and
	// the org tree: sum; weighted_average (by weight_measure); last_value
	// (at period end); none (not aggregated). Only sum measures are
	// cascaded by allocation and must add up from children to parent.
	Aggregation string `json:"aggregation" example:"sum" enums:"sum,weighted_average,last_value,none"`
	// WeightMeasure is the code of the additive measure a weighted average
	// is weighted by; null for other aggregations.
	WeightMeasure *string `json:"weight_measure" example:"revenue"`
	// Rating is a rating measure's scale; null for amounts.
	Rating    *RatingScale `json:"rating"`
	Active    bool         `json:"active" example:"true"`
	Revision  int64        `json:"revision" example:"1"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// RatingScale is a rating's declared scale: values from min to max in
// steps of step, at the measure's scale.
type RatingScale struct {
	Min  string `json:"min" validate:"required" example:"1"`
	Max  string `json:"max" validate:"required" example:"5"`
	Step string `json:"step" validate:"required" example:"0.5"`
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
	// Kind is amount (the default) or rating.
	Kind string `json:"kind" example:"amount" enums:"amount,rating"`
	// Aggregation defaults to sum (none for a rating).
	Aggregation string `json:"aggregation" example:"sum" enums:"sum,weighted_average,last_value,none"`
	// WeightMeasure names the weight of a weighted_average, by code.
	WeightMeasure *string `json:"weight_measure" example:"revenue"`
	// Rating is required for a rating measure.
	Rating *RatingScale `json:"rating"`
}

// MeasurePatch is the body of PATCH /measures/{id}. The unit, scale, kind
// and rating scale never change: amounts already stored are kept at them.
// The aggregation and weight measure may: they say how values are read.
// Leaving weighted_average drops the weight measure.
type MeasurePatch struct {
	Name          *string `json:"name" example:"Revenue"`
	NameLocal     *string `json:"name_local" example:"销售收入"`
	Active        *bool   `json:"active" example:"true"`
	Aggregation   *string `json:"aggregation" example:"weighted_average" enums:"sum,weighted_average,last_value,none"`
	WeightMeasure *string `json:"weight_measure" example:"revenue"`
}

func fromDomainMeasure(m *planning.Measure) Measure {
	out := Measure{ID: m.ID, Code: m.Code, Name: m.Name, NameLocal: m.NameLocal, Unit: m.Unit, Scale: m.Scale,
		Kind: string(m.Kind), Aggregation: string(m.Agg()),
		Active: m.Active, Revision: m.Revision, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
	if out.Kind == "" {
		out.Kind = string(planning.MeasureAmount)
	}
	if m.WeightMeasureID != nil {
		code := m.WeightMeasureCode
		out.WeightMeasure = &code
	}
	if r := m.Rating; r != nil {
		out.Rating = &RatingScale{Min: r.Min.StringFixed(m.Scale), Max: r.Max.StringFixed(m.Scale), Step: r.Step.StringFixed(m.Scale)}
	}
	return out
}

// weightMeasureID translates a weight measure's code (422 on the field
// weight_measure when unknown).
func (s *Server) weightMeasureID(ctx context.Context, code string) (*int64, error) {
	got, err := newResolver(ctx, s.svcs).load(planning.Refs{MeasureCodes: []string{code}})
	if err != nil {
		return nil, err
	}
	for _, m := range got.Measures {
		if m.Code == code {
			return &m.ID, nil
		}
	}
	return nil, invalidField("weight_measure", "no measure has the code %q", code)
}

func invalidField(field, format string, args ...any) error {
	var v planning.Validation
	v.Add(field, format, args...)
	return v.Err()
}

func (s *Server) measureFromCreate(ctx context.Context, r MeasureCreate) (*planning.Measure, error) {
	m := &planning.Measure{Code: r.Code, Name: r.Name, NameLocal: r.NameLocal, Unit: r.Unit, Scale: r.Scale, Active: true,
		Kind: planning.MeasureKind(r.Kind), Aggregation: planning.Aggregation(r.Aggregation)}
	if m.Kind == "" {
		m.Kind = planning.MeasureAmount
	}
	if m.Aggregation == "" {
		m.Aggregation = planning.AggSum
		if m.Kind == planning.MeasureRating {
			m.Aggregation = planning.AggNone
		}
	}
	var v planning.Validation
	if r.Rating != nil {
		num := func(f, s string) decimal.Decimal {
			d, err := planning.ParseAmount(s, planning.MaxScale)
			if err != nil {
				v.Add("rating."+f, "%v", err)
			}
			return d
		}
		m.Rating = &planning.RatingScale{Min: num("min", r.Rating.Min), Max: num("max", r.Rating.Max), Step: num("step", r.Rating.Step)}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if r.WeightMeasure != nil {
		id, err := s.weightMeasureID(ctx, *r.WeightMeasure)
		if err != nil {
			return nil, err
		}
		m.WeightMeasureID, m.WeightMeasureCode = id, *r.WeightMeasure
	}
	return m, nil
}

func (s *Server) measurePatch(ctx context.Context, r MeasurePatch, ifMatch *int64) (planning.MeasureUpdate, error) {
	u := planning.MeasureUpdate{Name: r.Name, NameLocal: r.NameLocal, Active: r.Active, IfMatch: ifMatch}
	if r.Aggregation != nil {
		a := planning.Aggregation(*r.Aggregation)
		u.Aggregation = &a
		if a != planning.AggWeightedAverage && r.WeightMeasure == nil {
			u.WeightSet = true
		}
	}
	if r.WeightMeasure != nil {
		id, err := s.weightMeasureID(ctx, *r.WeightMeasure)
		if err != nil {
			return u, err
		}
		u.WeightSet, u.WeightMeasureID = true, id
	}
	return u, nil
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
	m, err := s.measureFromCreate(c.Request().Context(), req)
	if err != nil {
		return err
	}
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
	upd, err := s.measurePatch(c.Request().Context(), req, rev)
	if err != nil {
		return err
	}
	m, err := s.svcs.Measures.UpdateMeasure(c.Request().Context(), id, upd)
	if err != nil {
		return err
	}
	return ok(c, m.Revision, fromDomainMeasure(m))
}
