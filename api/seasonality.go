package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// WeightScale is the most decimal places a seasonality weight may have.
const WeightScale = 6

// SeasonalityProfile phases an annual amount across the fiscal year's months.
type SeasonalityProfile struct {
	ID   int64  `json:"id" example:"1"`
	Code string `json:"code" example:"retail"`
	Name string `json:"name" example:"Retail: strong December"`
	// Weights are twelve non-negative decimal strings, first fiscal month
	// first; only their ratios matter.
	Weights   []string  `json:"weights" minItems:"12" maxItems:"12" example:"1,1,1,1,1,1,1,1,1,1,1.5,2"`
	Revision  int64     `json:"revision" example:"1"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SeasonalityProfilePage is one page of seasonality profiles.
type SeasonalityProfilePage struct {
	Items      []SeasonalityProfile `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// SeasonalityProfileCreate is the body of POST /seasonality-profiles.
type SeasonalityProfileCreate struct {
	Code string `json:"code" validate:"required" example:"retail"`
	Name string `json:"name" validate:"required" example:"Retail: strong December"`
	// Weights are twelve decimal strings ≥ 0 with at most 6 decimal places,
	// not all zero.
	Weights []string `json:"weights" validate:"required" minItems:"12" maxItems:"12" example:"1,1,1,1,1,1,1,1,1,1,1.5,2"`
}

// SeasonalityProfilePatch is the body of PATCH /seasonality-profiles/{id}.
type SeasonalityProfilePatch struct {
	Name    *string  `json:"name" example:"Retail"`
	Weights []string `json:"weights" minItems:"12" maxItems:"12" example:"1,1,1,1,1,1,1,1,1,1,1.5,2"`
}

func fromDomainSeasonalityProfile(p *planning.SeasonalityProfile) SeasonalityProfile {
	w := make([]string, len(p.Weights))
	for i, d := range p.Weights {
		w[i] = d.String()
	}
	return SeasonalityProfile{ID: p.ID, Code: p.Code, Name: p.Name, Weights: w, Revision: p.Revision,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

// parseWeights parses twelve weight strings, reporting every bad one (422).
func parseWeights(ws []string) ([12]decimal.Decimal, error) {
	var out [12]decimal.Decimal
	var v planning.Validation
	if len(ws) != len(out) {
		v.Add("weights", "must have exactly %d entries, one per month; got %d", len(out), len(ws))
		return out, v.Err()
	}
	for i, s := range ws {
		field := fmt.Sprintf("weights[%d]", i)
		d, err := planning.ParseAmount(s, WeightScale)
		switch {
		case err != nil:
			v.Add(field, "%v", err)
		case d.IsNegative():
			v.Add(field, "must not be negative")
		default:
			out[i] = d
		}
	}
	return out, v.Err()
}

func (r SeasonalityProfileCreate) toDomain() (*planning.SeasonalityProfile, error) {
	w, err := parseWeights(r.Weights)
	if err != nil {
		return nil, err
	}
	return &planning.SeasonalityProfile{Code: r.Code, Name: r.Name, Weights: w}, nil
}

func (r SeasonalityProfilePatch) toDomain(ifMatch *int64) (planning.SeasonalityProfileUpdate, error) {
	upd := planning.SeasonalityProfileUpdate{Name: r.Name, IfMatch: ifMatch}
	if r.Weights != nil {
		w, err := parseWeights(r.Weights)
		if err != nil {
			return upd, err
		}
		upd.Weights = &w
	}
	return upd, nil
}

// listSeasonalityProfiles godoc
//
//	@Summary	List seasonality profiles
//	@ID			listSeasonalityProfiles
//	@Tags		seasonality-profiles
//	@Security	BearerAuth
//	@Produce	json
//	@Param		code	query		string	false	"Only the profile with this code"
//	@Param		limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param		cursor	query		string	false	"next_cursor of the previous page"
//	@Success	200		{object}	api.SeasonalityProfilePage
//	@Failure	400		{object}	api.Problem	"Bad query parameter"
//	@Failure	401		{object}	api.Problem	"Not authenticated"
//	@Failure	422		{object}	api.Problem	"Invalid filter"
//	@Router		/seasonality-profiles [get]
func (s *Server) listSeasonalityProfiles(c echo.Context) error {
	q := newQuery(c, "code")
	f := planning.SeasonalityProfileFilter{Code: q.str("code"), Page: q.page()}
	if err := q.err(); err != nil {
		return err
	}
	ps, next, err := s.svcs.Seasonality.FindSeasonalityProfiles(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := SeasonalityProfilePage{Items: make([]SeasonalityProfile, 0, len(ps)), NextCursor: next}
	for _, p := range ps {
		page.Items = append(page.Items, fromDomainSeasonalityProfile(p))
	}
	return c.JSON(http.StatusOK, page)
}

// createSeasonalityProfile godoc
//
//	@Summary		Create a seasonality profile
//	@ID				createSeasonalityProfile
//	@Description	Needs the admin, strategy_office or product_manager role. Weights are 12 decimal strings ≥ 0 with at most 6 decimal places.
//	@Tags			seasonality-profiles
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.SeasonalityProfileCreate	true	"The new profile"
//	@Success		201		{object}	api.SeasonalityProfile
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new profile"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not allowed to write profiles"
//	@Failure		409		{object}	api.Problem	"Duplicate code"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields, e.g. a malformed weight"
//	@Router			/seasonality-profiles [post]
func (s *Server) createSeasonalityProfile(c echo.Context) error {
	var req SeasonalityProfileCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := req.toDomain()
	if err != nil {
		return err
	}
	if err := s.svcs.Seasonality.CreateSeasonalityProfile(c.Request().Context(), p); err != nil {
		return err
	}
	return created(c, location("/seasonality-profiles/%d", p.ID), &p.Revision, fromDomainSeasonalityProfile(p))
}

// getSeasonalityProfile godoc
//
//	@Summary	Get a seasonality profile
//	@ID			getSeasonalityProfile
//	@Tags		seasonality-profiles
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Profile id"
//	@Success	200	{object}	api.SeasonalityProfile
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	401	{object}	api.Problem	"Not authenticated"
//	@Failure	404	{object}	api.Problem	"Unknown profile"
//	@Router		/seasonality-profiles/{id} [get]
func (s *Server) getSeasonalityProfile(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := s.svcs.Seasonality.FindSeasonalityProfileByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, p.Revision, fromDomainSeasonalityProfile(p))
}

// updateSeasonalityProfile godoc
//
//	@Summary		Rename a seasonality profile or change its weights
//	@ID				updateSeasonalityProfile
//	@Description	Needs the admin, strategy_office or product_manager role.
//	@Tags			seasonality-profiles
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int							true	"Profile id"
//	@Param			If-Match	header		string						false	"ETag the change is based on"
//	@Param			body		body		api.SeasonalityProfilePatch	true	"The fields to change"
//	@Success		200			{object}	api.SeasonalityProfile
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not allowed to write profiles"
//	@Failure		404			{object}	api.Problem	"Unknown profile"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid fields, e.g. a malformed weight"
//	@Router			/seasonality-profiles/{id} [patch]
func (s *Server) updateSeasonalityProfile(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req SeasonalityProfilePatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	upd, err := req.toDomain(rev)
	if err != nil {
		return err
	}
	p, err := s.svcs.Seasonality.UpdateSeasonalityProfile(c.Request().Context(), id, upd)
	if err != nil {
		return err
	}
	return ok(c, p.Revision, fromDomainSeasonalityProfile(p))
}
