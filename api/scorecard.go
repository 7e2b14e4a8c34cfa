package api

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// pctScale is the decimal places of weights, attainment thresholds and
// points in a scorecard.
const pctScale = 2

// ScoreStep is one threshold of a step curve: from min_pct percent of
// attainment on, the KPI earns points.
type ScoreStep struct {
	MinPct string `json:"min_pct" validate:"required" example:"100"`
	Points string `json:"points" validate:"required" example:"100"`
}

// ScoreCurve turns attainment into points. linear: one point per percent,
// 0 below floor_pct, capped at cap_pct (floor_pct ≤ 100 ≤ cap_pct). steps:
// the points of the highest threshold reached, 0 below the first;
// thresholds ascend strictly and points never fall.
type ScoreCurve struct {
	Kind     string      `json:"kind" validate:"required" enums:"linear,steps" example:"linear"`
	FloorPct *string     `json:"floor_pct,omitempty" example:"60"`
	CapPct   *string     `json:"cap_pct,omitempty" example:"120"`
	Steps    []ScoreStep `json:"steps,omitempty"`
}

// ScorecardKPI is one weighted indicator: a measure of the round, optionally
// only its designated key product lines, a weight in percent (the weights
// of a scorecard sum to exactly 100), a direction and a curve.
type ScorecardKPI struct {
	Measure      string     `json:"measure" validate:"required" example:"revenue"`
	ProductLines []string   `json:"product_lines,omitempty" example:"POS"`
	Label        string     `json:"label,omitempty" example:"Sales revenue"`
	Weight       string     `json:"weight" validate:"required" example:"40"`
	Direction    string     `json:"direction" validate:"required" enums:"higher,lower" example:"higher"`
	Curve        ScoreCurve `json:"curve" validate:"required"`
}

// ScoreRounding is the declared rounding of the total score: places (0-4)
// and mode. Attainments are kept at 2 places half to even; points and
// weighted points are exact.
type ScoreRounding struct {
	Places int32  `json:"places" example:"2"`
	Mode   string `json:"mode" validate:"required" enums:"half_up,half_even,down" example:"half_up"`
}

// Scorecard is how the org units of one level are assessed in a round.
// OnTargetScore is what a unit exactly on target on every KPI scores (100
// for linear curves).
type Scorecard struct {
	ID            int64          `json:"id" example:"1"`
	RoundID       int64          `json:"round_id" example:"1"`
	Level         string         `json:"level" example:"branch"`
	Name          string         `json:"name" example:"Branch general manager"`
	KPIs          []ScorecardKPI `json:"kpis"`
	Rounding      ScoreRounding  `json:"rounding"`
	OnTargetScore string         `json:"on_target_score" example:"100.00"`
	Revision      int64          `json:"revision" example:"1"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// ScorecardPut is the body of PUT /rounds/{id}/scorecards/{level}.
type ScorecardPut struct {
	Name     string         `json:"name" validate:"required" example:"Branch general manager"`
	KPIs     []ScorecardKPI `json:"kpis" validate:"required"`
	Rounding ScoreRounding  `json:"rounding" validate:"required"`
}

// ScorecardList lists a round's scorecards by level.
type ScorecardList struct {
	Items []Scorecard `json:"items"`
}

// KPIScore explains one KPI of a unit's score: the unit's own target and
// its subtree's actuals over the basis (summed over the KPI's product
// lines), the attainment (for lower is better: (2 × target − actual) ÷
// target × 100), the points the curve gives and points × weight ÷ 100.
type KPIScore struct {
	Measure string `json:"measure" example:"revenue"`
	// Aggregation says how target and actual were formed from the cells:
	// summed, averaged weighted by weight_measure, the last value, or the
	// period's own value (none).
	Aggregation    string   `json:"aggregation,omitempty" enums:"sum,weighted_average,last_value,none" example:"sum"`
	WeightMeasure  string   `json:"weight_measure,omitempty" example:"revenue"`
	ProductLines   []string `json:"product_lines" example:"POS"`
	Label          string   `json:"label" example:"Sales revenue"`
	Weight         string   `json:"weight" example:"40"`
	Direction      string   `json:"direction" enums:"higher,lower" example:"higher"`
	Target         string   `json:"target" example:"1000000.00"`
	Actual         string   `json:"actual" example:"1050000.00"`
	AttainmentPct  *string  `json:"attainment_pct" example:"105.00"`
	Points         string   `json:"points" example:"105"`
	WeightedPoints string   `json:"weighted_points" example:"42"`
}

// UnitScore is one unit's score and its place. Score is exact_score rounded
// by the scorecard's rule.
type UnitScore struct {
	Rank        int        `json:"rank" example:"1"`
	OrgUnitID   int64      `json:"org_unit_id" example:"5"`
	OrgUnit     string     `json:"org_unit" example:"B-SH"`
	OrgUnitName string     `json:"org_unit_name" example:"Shanghai branch"`
	Score       string     `json:"score" example:"91.75"`
	ExactScore  string     `json:"exact_score" example:"91.75"`
	KPIs        []KPIScore `json:"kpis"`
}

// ScoreReport is the scores of a level's units on its scorecard, best
// first, with what they compare and the tie rule that ordered them.
type ScoreReport struct {
	AttainmentBasis
	Level             string        `json:"level" example:"branch"`
	ScorecardRevision int64         `json:"scorecard_revision" example:"1"`
	Rounding          ScoreRounding `json:"rounding"`
	TieRule           string        `json:"tie_rule" example:"score, then exact score, then each KPI's points in the scorecard's order, all descending; equal on all share a rank, listed by org unit code"`
	Items             []UnitScore   `json:"items"`
}

const tieRule = "score, then exact score, then each KPI's points in the scorecard's order, all descending; equal on all share a rank, listed by org unit code"

func pctString(d decimal.Decimal) string { return d.String() }

func fromDomainScorecard(c *planning.Scorecard) Scorecard {
	out := Scorecard{ID: c.ID, RoundID: c.RoundID, Level: string(c.Level), Name: c.Name, KPIs: make([]ScorecardKPI, len(c.KPIs)),
		Rounding:      ScoreRounding{Places: c.Rounding.Places, Mode: string(c.Rounding.Mode)},
		OnTargetScore: c.OnTargetScore().StringFixed(c.Rounding.Places), Revision: c.Revision,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	for i, k := range c.KPIs {
		kk := ScorecardKPI{Measure: k.MeasureCode, ProductLines: k.ProductLineCodes, Label: k.Label, Weight: pctString(k.Weight),
			Direction: string(k.Direction), Curve: ScoreCurve{Kind: string(k.Curve.Kind)}}
		if k.Curve.Kind == planning.CurveLinear {
			f, cp := pctString(k.Curve.FloorPct), pctString(k.Curve.CapPct)
			kk.Curve.FloorPct, kk.Curve.CapPct = &f, &cp
		}
		for _, s := range k.Curve.Steps {
			kk.Curve.Steps = append(kk.Curve.Steps, ScoreStep{MinPct: pctString(s.MinPct), Points: pctString(s.Points)})
		}
		out.KPIs[i] = kk
	}
	return out
}

// refs names the measures and product lines of b's KPIs.
func (b *ScorecardPut) refs() planning.Refs {
	var refs planning.Refs
	for _, k := range b.KPIs {
		refs.MeasureCodes = append(refs.MeasureCodes, k.Measure)
		refs.LineCodes = append(refs.LineCodes, k.ProductLines...)
	}
	return refs
}

// toDomain parses the body, resolving codes through res (which looks up
// what b.refs() names that it has not loaded yet); every bad field is
// reported.
func (b *ScorecardPut) toDomain(res *resolver, roundID int64, level planning.OrgUnitKind) (*planning.Scorecard, error) {
	if _, err := res.load(b.refs()); err != nil {
		return nil, err
	}
	c := &planning.Scorecard{RoundID: roundID, Level: level, Name: b.Name,
		Rounding: planning.Rounding{Places: b.Rounding.Places, Mode: planning.RoundingMode(b.Rounding.Mode)}}
	v := &res.val
	num := func(field string, s *string) decimal.Decimal {
		if s == nil {
			return decimal.Zero
		}
		d, err := planning.ParseAmount(*s, pctScale)
		if err != nil {
			v.Add(field, "%v", err)
		}
		return d
	}
	for i, k := range b.KPIs {
		f := fmt.Sprintf("kpis[%d].", i)
		kk := planning.KPI{Label: k.Label, Direction: planning.Direction(k.Direction), Weight: num(f+"weight", &k.Weight),
			Curve: planning.Curve{Kind: planning.CurveKind(k.Curve.Kind), FloorPct: num(f+"curve.floor_pct", k.Curve.FloorPct),
				CapPct: num(f+"curve.cap_pct", k.Curve.CapPct)}}
		if m := res.measure(f+"measure", k.Measure); m != nil {
			kk.MeasureID = m.ID
		}
		for j, code := range k.ProductLines {
			kk.ProductLineIDs = append(kk.ProductLineIDs, res.line(fmt.Sprintf("%sproduct_lines[%d]", f, j), code))
		}
		for j, s := range k.Curve.Steps {
			sf := fmt.Sprintf("%scurve.steps[%d].", f, j)
			kk.Curve.Steps = append(kk.Curve.Steps, planning.Step{MinPct: num(sf+"min_pct", &s.MinPct), Points: num(sf+"points", &s.Points)})
		}
		c.KPIs = append(c.KPIs, kk)
	}
	if err := res.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// scorecardPath reads the round id and the level of a scorecard's path.
func scorecardPath(c echo.Context) (int64, planning.OrgUnitKind, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, "", err
	}
	level := planning.OrgUnitKind(c.Param("level"))
	if !level.Valid() {
		return 0, "", &planning.Error{Code: planning.ENOTFOUND, Message: "no such level: must be one of the org unit kinds"}
	}
	return id, level, nil
}

// listScorecards godoc
//
//	@Summary		List a round's scorecards
//	@ID				listScorecards
//	@Description	The scorecards of a round, one per org level, by level. Everybody signed in reads them. With format=xlsx, the definitions as a workbook (one KPI a row: level, scorecard, KPI, measure and its aggregation, key product lines, weight, direction, curve, rounding; a weight total per level) that prints landscape, fitted to the page width, the column names repeated on every page.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Produce		json
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Param			id		path		int		true	"Round id"
//	@Param			format	query		string	false	"json (default) or xlsx"	Enums(json,xlsx)
//	@Success		200		{object}	api.ScorecardList
//	@Header			200		{string}	ETag		"With format=xlsx: the round's revision"
//	@Failure		400		{object}	api.Problem	"Bad id or format"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		404		{object}	api.Problem	"No such round"
//	@Router			/rounds/{id}/scorecards [get]
func (s *Server) listScorecards(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "format")
	format := q.str("format")
	if format != "" && format != "json" && format != "xlsx" {
		q.fail("format", "must be json or xlsx")
	}
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cards, err := s.svcs.Scorecards.FindScorecards(ctx, id)
	if err != nil {
		return err
	}
	if format == "xlsx" {
		got, err := s.svcs.Resolve.Resolve(ctx, planning.Refs{RoundID: id, RoundMeasures: true})
		if err != nil {
			return err
		}
		r := got.Round
		byID := make(map[int64]*planning.Measure, len(got.Measures))
		for _, m := range got.Measures {
			byID[m.ID] = m
		}
		var buf bytes.Buffer
		if err := spreadsheet.WriteScorecards(&buf, r, cards, byID); err != nil {
			return err
		}
		return sendFile(c, mimeXLSX, fmt.Sprintf("scorecards-%s.xlsx", fileSafe(r.Code)), r.Revision, buf.Bytes())
	}
	out := ScorecardList{Items: make([]Scorecard, 0, len(cards))}
	for _, card := range cards {
		out.Items = append(out.Items, fromDomainScorecard(card))
	}
	return c.JSON(http.StatusOK, out)
}

// getScorecard godoc
//
//	@Summary	Get the scorecard of a level
//	@ID			getScorecard
//	@Tags		scorecards
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id		path		int		true	"Round id"
//	@Param		level	path		string	true	"Org level, e.g. branch"
//	@Success	200		{object}	api.Scorecard
//	@Header		200		{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	400		{object}	api.Problem	"Bad id"
//	@Failure	401		{object}	api.Problem	"Not authenticated"
//	@Failure	404		{object}	api.Problem	"No such round, or no scorecard for the level"
//	@Router		/rounds/{id}/scorecards/{level} [get]
func (s *Server) getScorecard(c echo.Context) error {
	id, level, err := scorecardPath(c)
	if err != nil {
		return err
	}
	card, err := s.svcs.Scorecards.FindScorecard(c.Request().Context(), id, level)
	if err != nil {
		return err
	}
	return ok(c, card.Revision, fromDomainScorecard(card))
}

// putScorecard godoc
//
//	@Summary		Create or replace the scorecard of a level
//	@ID				putScorecard
//	@Description	Needs the strategy_office or admin role, while the round is not approved or closed (the scorecard is signed off with the budget). KPIs name measures of the round and, optionally, key product lines; weights (at most 2 decimal places) sum to exactly 100; thresholds and points have at most 2 decimal places. With If-Match, the write applies only to that revision.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Round id"
//	@Param			level		path		string				true	"Org level, e.g. branch"
//	@Param			If-Match	header		string				false	"ETag the change is based on"
//	@Param			body		body		api.ScorecardPut	true	"The scorecard"
//	@Success		200			{object}	api.Scorecard		"Replaced"
//	@Success		201			{object}	api.Scorecard		"Created"
//	@Header			200			{string}	ETag				"The new revision"
//	@Header			201			{string}	ETag				"The revision"
//	@Failure		400			{object}	api.Problem			"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem			"Not authenticated"
//	@Failure		403			{object}	api.Problem			"Not allowed to write scorecards"
//	@Failure		404			{object}	api.Problem			"No such round or level"
//	@Failure		409			{object}	api.Problem			"The round is approved or closed"
//	@Failure		412			{object}	api.Problem			"Stale If-Match"
//	@Failure		413			{object}	api.Problem			"Body too large"
//	@Failure		422			{object}	api.Problem			"Invalid fields, e.g. weights not summing to 100"
//	@Router			/rounds/{id}/scorecards/{level} [put]
func (s *Server) putScorecard(c echo.Context) error {
	ctx := c.Request().Context()
	id, level, err := scorecardPath(c)
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req ScorecardPut
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	// Role and round state come before validation (403 → 409 → 422): the
	// round is read first so a missing one is a 404 and a frozen one a 409.
	res := newRoundResolver(ctx, s.svcs, id)
	r, err := res.loadRound(req.refs())
	if err != nil {
		return err
	}
	if err := planning.CheckScorecardWrite(planning.ActorFromContext(ctx), r); err != nil {
		return err
	}
	card, err := req.toDomain(res, id, level)
	if err != nil {
		return err
	}
	isNew, err := s.svcs.Scorecards.PutScorecard(ctx, card, rev)
	if err != nil {
		return err
	}
	if isNew {
		return created(c, location("/rounds/%d/scorecards/%s", id, level), &card.Revision, fromDomainScorecard(card))
	}
	return ok(c, card.Revision, fromDomainScorecard(card))
}

// deleteScorecard godoc
//
//	@Summary		Remove the scorecard of a level
//	@ID				deleteScorecard
//	@Description	Needs the strategy_office or admin role, while the round is not approved or closed.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Param			id		path	int		true	"Round id"
//	@Param			level	path	string	true	"Org level, e.g. branch"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not allowed to write scorecards"
//	@Failure		404	{object}	api.Problem	"No such round, or no scorecard for the level"
//	@Failure		409	{object}	api.Problem	"The round is approved or closed"
//	@Router			/rounds/{id}/scorecards/{level} [delete]
func (s *Server) deleteScorecard(c echo.Context) error {
	id, level, err := scorecardPath(c)
	if err != nil {
		return err
	}
	if err := s.svcs.Scorecards.DeleteScorecard(c.Request().Context(), id, level); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// getScores godoc
//
//	@Summary		Scores and ranking of a level on its scorecard
//	@ID				getScores
//	@Description	Scores every unit of the level that the caller sees on the level's scorecard, best first. Each KPI compares the unit's own target with its subtree's actuals over the basis (summed over the KPI's product lines, as the attainment report does), so a corrected actual restates the score. Points are exact; the total is rounded once by the scorecard's rule. Ranks follow tie_rule. With org_unit, only that unit, at its place among the level. Same version, period and basis rules as the attainment report.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Produce		json
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Param			id			path		int		true	"Round id"
//	@Param			level		query		string	true	"Org level, e.g. branch"
//	@Param			format		query		string	false	"json (default) or xlsx: the same scores as a workbook that prints landscape, fitted to the page width"	Enums(json,xlsx)
//	@Param			org_unit	query		string	false	"Org unit code: that unit only"
//	@Param			version		query		int		false	"Version id (default: the budget of record)"
//	@Param			period		query		string	false	"The month the scores are as of (default: the latest month with actuals)"
//	@Param			basis		query		string	false	"month (default), qtd, ytd or year"	Enums(month,qtd,ytd,year)
//	@Success		200			{object}	api.ScoreReport
//	@Header			200			{string}	ETag		"With format=xlsx: the scorecard's revision"
//	@Failure		400			{object}	api.Problem	"Bad query parameter"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		404			{object}	api.Problem	"No such round, no scorecard for the level, or org unit outside your scope"
//	@Failure		409			{object}	api.Problem	"No budget of record yet and no version named"
//	@Failure		422			{object}	api.Problem	"Version of another round, or org unit not of the level"
//	@Router			/rounds/{id}/scores [get]
func (s *Server) getScores(c echo.Context) error {
	ctx := c.Request().Context()
	q := newQuery(c, "version", "level", "org_unit", "period", "basis", "format")
	format := q.str("format")
	if format != "" && format != "json" && format != "xlsx" {
		q.fail("format", "must be json or xlsx")
	}
	res := newResolver(ctx, s.svcs)
	r, version, period, basis, err := s.attainmentParams(c, q, res)
	if err != nil {
		return err
	}
	f := planning.ScoreFilter{RoundID: r.ID, VersionID: version, Period: period, Basis: basis, Level: planning.OrgUnitKind(q.str("level"))}
	switch {
	case f.Level == "":
		q.fail("level", "is required: the org level to score, such as branch")
	case !f.Level.Valid():
		q.fail("level", "must be one of %v", planning.OrgUnitKinds)
	}
	if code := q.str("org_unit"); code != "" {
		u, found := res.units[code]
		if !found {
			return planning.Errorf(planning.ENOTFOUND, "org unit %s not found", code)
		}
		f.OrgUnitID = &u.ID
	}
	if err := q.err(); err != nil {
		return err
	}
	rep, err := s.svcs.Scorecards.FindScores(ctx, f)
	if err != nil {
		return err
	}
	card := rep.Scorecard
	if format == "xlsx" {
		var buf bytes.Buffer
		if err := spreadsheet.WriteScores(&buf, rep, tieRule); err != nil {
			return err
		}
		return sendFile(c, mimeXLSX, fmt.Sprintf("scores-%s-%s-%s-%s.xlsx", fileSafe(r.Code), card.Level, r.MonthLabel(rep.Period), rep.Basis),
			card.Revision, buf.Bytes())
	}
	out := ScoreReport{AttainmentBasis: fromDomainAttainmentBasis(&rep.AttainmentReport), Level: string(card.Level),
		ScorecardRevision: card.Revision, Rounding: ScoreRounding{Places: card.Rounding.Places, Mode: string(card.Rounding.Mode)},
		TieRule: tieRule, Items: fromDomainUnitScores(card, rep.Units)}
	return c.JSON(http.StatusOK, out)
}

// ScoreIssueRequest is the body of POST /rounds/{id}/score-issues: which
// level's scores to issue, as of which month and on which basis.
type ScoreIssueRequest struct {
	Level   string `json:"level" validate:"required" example:"branch"`
	Period  string `json:"period,omitempty" example:"2027-06"`
	Basis   string `json:"basis,omitempty" enums:"month,qtd,ytd,year" example:"ytd"`
	Version *int64 `json:"version_id,omitempty" example:"2"`
}

// ScoreIssue is a level's scores as issued: kept as they were when a later
// correction of the actuals restates the live scores. Items lists the
// units the caller sees, each with its rank among the whole level.
// Scorecard is the scorecard as it was issued (its created_at and
// updated_at are the issue's time).
type ScoreIssue struct {
	ID        int64       `json:"id" example:"1"`
	RoundID   int64       `json:"round_id" example:"1"`
	Level     string      `json:"level" example:"branch"`
	VersionID int64       `json:"version_id" example:"2"`
	Period    string      `json:"period" example:"2027-06"`
	Basis     string      `json:"basis" example:"ytd"`
	Scorecard Scorecard   `json:"scorecard"`
	IssuedBy  *int64      `json:"issued_by" example:"2"`
	IssuedAt  time.Time   `json:"issued_at"`
	Items     []UnitScore `json:"items"`
}

// ScoreIssueList lists a level's issued scores, oldest first.
type ScoreIssueList struct {
	Items []ScoreIssue `json:"items"`
}

func fromDomainUnitScores(card *planning.Scorecard, units []planning.UnitScore) []UnitScore {
	out := make([]UnitScore, 0, len(units))
	for _, u := range units {
		us := UnitScore{Rank: u.Rank, OrgUnitID: u.OrgUnitID, OrgUnit: u.OrgUnitCode, OrgUnitName: u.OrgUnitName,
			Score: u.Total.StringFixed(card.Rounding.Places), ExactScore: u.Exact.String(), KPIs: make([]KPIScore, len(u.KPIs))}
		for i, k := range u.KPIs {
			lines := k.KPI.ProductLineCodes
			if lines == nil {
				lines = []string{}
			}
			us.KPIs[i] = KPIScore{Measure: k.KPI.MeasureCode, Aggregation: string(k.KPI.Aggregation), WeightMeasure: k.KPI.WeightCode,
				ProductLines: lines, Label: k.KPI.Label, Weight: pctString(k.KPI.Weight),
				Direction: string(k.KPI.Direction), Target: planning.FormatAmount(k.Target, k.Scale), Actual: planning.FormatAmount(k.Actual, k.Scale),
				AttainmentPct: optAmount(k.AttainmentPct, 2), Points: k.Points.String(), WeightedPoints: k.Weighted.String()}
		}
		out = append(out, us)
	}
	return out
}

func fromDomainScoreIssue(r *planning.Round, is *planning.ScoreIssue) ScoreIssue {
	card := fromDomainScorecard(is.Scorecard)
	card.CreatedAt, card.UpdatedAt = is.IssuedAt, is.IssuedAt
	return ScoreIssue{ID: is.ID, RoundID: is.RoundID, Level: string(is.Scorecard.Level), VersionID: is.VersionID, Period: r.MonthLabel(is.Period),
		Basis: string(is.Basis), Scorecard: card, IssuedBy: is.IssuedBy, IssuedAt: is.IssuedAt.UTC(), Items: fromDomainUnitScores(is.Scorecard, is.Units)}
}

// issueScores godoc
//
//	@Summary		Issue a level's scores
//	@ID				issueScores
//	@Description	Records the scores of every unit of the level as they are now (as GET /rounds/{id}/scores computes them), so that when corrected actuals restate the live scores the issued ones stay in the history. Needs the strategy_office or admin role.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int						true	"Round id"
//	@Param			body	body		api.ScoreIssueRequest	true	"Level, month and basis"
//	@Success		201		{object}	api.ScoreIssue
//	@Header			201		{string}	Location	"The level's issued scores"
//	@Failure		400		{object}	api.Problem	"Malformed body or id"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not allowed to issue scores"
//	@Failure		404		{object}	api.Problem	"No such round, or no scorecard for the level"
//	@Failure		409		{object}	api.Problem	"No budget of record yet and no version named"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid level, month or basis, or a version of another round"
//	@Router			/rounds/{id}/score-issues [post]
func (s *Server) issueScores(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req ScoreIssueRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := newRoundResolver(ctx, s.svcs, id).loadRound(planning.Refs{})
	if err != nil {
		return err
	}
	if err := planning.CheckScoreIssue(planning.ActorFromContext(ctx)); err != nil {
		return err
	}
	f := planning.ScoreFilter{RoundID: r.ID, VersionID: req.Version, Level: planning.OrgUnitKind(req.Level)}
	var v planning.Validation
	if !f.Level.Valid() {
		v.Add("level", "must be one of %v", planning.OrgUnitKinds)
	}
	if req.Period != "" {
		if f.Period, err = r.PeriodOf(req.Period); err != nil {
			v.Add("period", "%s", err)
		}
	}
	if f.Basis, err = planning.ParseBasis(req.Basis); err != nil {
		v.Add("basis", "%s", err)
	}
	if err := v.Err(); err != nil {
		return err
	}
	is, err := s.svcs.Scorecards.IssueScores(ctx, f)
	if err != nil {
		return err
	}
	return created(c, location("/rounds/%d/score-issues?level=%s", r.ID, f.Level), nil, fromDomainScoreIssue(r, is))
}

// listScoreIssues godoc
//
//	@Summary		A level's issued scores
//	@ID				listScoreIssues
//	@Description	Every issue of the level's scores, oldest first, each as it was issued (the scorecard and every KPI's target, actual, attainment and points), listing the units the caller sees with their rank among the whole level.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id		path		int		true	"Round id"
//	@Param			level	query		string	true	"Org level, e.g. branch"
//	@Success		200		{object}	api.ScoreIssueList
//	@Failure		400		{object}	api.Problem	"Bad id or query parameter"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		404		{object}	api.Problem	"No such round"
//	@Router			/rounds/{id}/score-issues [get]
func (s *Server) listScoreIssues(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "level")
	level := planning.OrgUnitKind(q.str("level"))
	if !level.Valid() {
		q.fail("level", "must be one of %v", planning.OrgUnitKinds)
	}
	if err := q.err(); err != nil {
		return err
	}
	r, err := newRoundResolver(ctx, s.svcs, id).loadRound(planning.Refs{})
	if err != nil {
		return err
	}
	issues, err := s.svcs.Scorecards.FindScoreIssues(ctx, id, level)
	if err != nil {
		return err
	}
	out := ScoreIssueList{Items: make([]ScoreIssue, 0, len(issues))}
	for _, is := range issues {
		out.Items = append(out.Items, fromDomainScoreIssue(r, is))
	}
	return c.JSON(http.StatusOK, out)
}

// applyDefaultScorecards godoc
//
//	@Summary		Give a round the deck's default scorecards
//	@ID				applyDefaultScorecards
//	@Description	Creates, for each level without a scorecard in the round, the organisation's default scorecard (the templates every new round receives at creation; the demo data's, and without templates the deck's): the branch general manager on branch sales, key products (POS, ATM), gross margin, sales expense (lower is better), collections, new customers, market share, customer satisfaction and the quality of customer plans (a rating); key-account and channel managers on their sales, key products, sales expense, collections, new customers, penetration and customer plans; the region on sales, gross margin, collections, market share and satisfaction. KPIs whose measure is not one of the round's (or whose key product lines do not exist) are left out and the rest reweighted to exactly 100: each weight × 100 ÷ the kept weights' sum, truncated at 2 places, the first KPI taking the remainder. Levels that have a scorecard keep it. Needs the strategy_office or admin role, while the round is not approved or closed. Answers the scorecards created.
//	@Tags			scorecards
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Round id"
//	@Success		200	{object}	api.ScorecardList
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not allowed to write scorecards"
//	@Failure		404	{object}	api.Problem	"No such round"
//	@Failure		409	{object}	api.Problem	"The round is approved or closed"
//	@Router			/rounds/{id}/scorecard-defaults [post]
func (s *Server) applyDefaultScorecards(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cards, err := s.svcs.Scorecards.ApplyDefaultScorecards(ctx, id)
	if err != nil {
		return err
	}
	out := ScorecardList{Items: make([]Scorecard, 0, len(cards))}
	for _, card := range cards {
		out.Items = append(out.Items, fromDomainScorecard(card))
	}
	return c.JSON(http.StatusOK, out)
}
