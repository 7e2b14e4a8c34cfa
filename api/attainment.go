package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// AttainmentRow is one org unit's attainment of one measure, for one product
// line or (product_line null) all the selected lines together.
//
// Target is the unit's own target over the basis; Actual the unit's actuals
// over the basis, summed over its subtree; Gap = actual − target.
// AttainmentPct = actual ÷ target × 100, rounded half to even at 2 places,
// null when the target is zero. RunRate projects the full year:
// ytd_actual × 12 ÷ months elapsed, rounded at the measure's scale half away
// from zero; RunRatePct compares it with year_target like attainment_pct.
type AttainmentRow struct {
	OrgUnitID     int64   `json:"org_unit_id" example:"4"`
	OrgUnit       string  `json:"org_unit" example:"B-SH"`
	OrgUnitName   string  `json:"org_unit_name" example:"Shanghai branch"`
	Level         string  `json:"level" example:"branch"`
	ProductLineID *int64  `json:"product_line_id" example:"2"`
	ProductLine   *string `json:"product_line" example:"POS"`
	MeasureID     int64   `json:"measure_id" example:"1"`
	Measure       string  `json:"measure" example:"revenue"`
	Target        string  `json:"target" example:"300000.00"`
	Actual        string  `json:"actual" example:"315000.00"`
	Gap           string  `json:"gap" example:"15000.00"`
	AttainmentPct *string `json:"attainment_pct" example:"105.00"`
	YearTarget    string  `json:"year_target" example:"1200000.00"`
	YTDActual     string  `json:"ytd_actual" example:"315000.00"`
	RunRate       string  `json:"run_rate" example:"1260000.00"`
	RunRatePct    *string `json:"run_rate_pct" example:"105.00"`
}

// AttainmentBasis says what an attainment report or ranking compares.
type AttainmentBasis struct {
	RoundID   int64  `json:"round_id" example:"1"`
	Round     string `json:"round" example:"FY2027"`
	VersionID int64  `json:"version_id" example:"3"`
	// BudgetOfRecord says the version is the round's approved budget.
	BudgetOfRecord bool `json:"budget_of_record"`
	// Period is the month the report is as of.
	Period string `json:"period" example:"2027-06"`
	Basis  string `json:"basis" example:"ytd" enums:"month,qtd,ytd,year"`
	// TargetFrom to TargetTo are the months of targets compared, both
	// included; ActualFrom to ActualTo those of actuals (to date: with
	// basis "year" the targets cover the whole year and the actuals the
	// months so far).
	TargetFrom string `json:"target_from" example:"2027-04"`
	TargetTo   string `json:"target_to" example:"2027-06"`
	ActualFrom string `json:"actual_from" example:"2027-04"`
	ActualTo   string `json:"actual_to" example:"2027-06"`
	// TargetMonths is the same range as [target_from, target_to]: the
	// first and the last month, not a list of the months. Kept for
	// existing clients; read target_from and target_to instead.
	TargetMonths []string `json:"target_months" example:"2027-04,2027-06"`
	// ActualMonths is [actual_from, actual_to], kept likewise.
	ActualMonths []string `json:"actual_months" example:"2027-04,2027-06"`
}

// AttainmentReport is one page of an attainment report and what it
// compares.
type AttainmentReport struct {
	AttainmentBasis
	Items      []AttainmentRow `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// RankedUnit is one place in a ranking.
type RankedUnit struct {
	Rank int `json:"rank" example:"1"`
	AttainmentRow
}

// Ranking ranks org units of one level by attainment, best first. Units with
// the same attainment share a rank; units without a target come last.
type Ranking struct {
	AttainmentBasis
	// TieRule says how units are ordered and when they share a rank.
	TieRule string       `json:"tie_rule" example:"attainment % descending, units without a target last; equal attainments share a rank (the next rank skips: 1, 1, 3), listed by actual descending, then by org unit code"`
	Items   []RankedUnit `json:"items"`
}

func optAmount(d *decimal.Decimal, scale int32) *string {
	if d == nil {
		return nil
	}
	s := planning.FormatAmount(*d, scale)
	return &s
}

func fromDomainAttainmentRow(r *planning.AttainmentRow) AttainmentRow {
	f := func(d decimal.Decimal) string { return planning.FormatAmount(d, r.Scale) }
	out := AttainmentRow{OrgUnitID: r.OrgUnitID, OrgUnit: r.OrgUnitCode, OrgUnitName: r.OrgUnitName, Level: string(r.OrgUnitKind),
		MeasureID: r.MeasureID, Measure: r.MeasureCode, Target: f(r.Target), Actual: f(r.Actual), Gap: f(r.Gap),
		AttainmentPct: optAmount(r.Pct, 2), YearTarget: f(r.YearTarget), YTDActual: f(r.YTDActual), RunRate: f(r.RunRate),
		RunRatePct: optAmount(r.RunRatePct, 2)}
	if r.ProductLineID != 0 {
		id, code := r.ProductLineID, r.ProductLineCode
		out.ProductLineID, out.ProductLine = &id, &code
	}
	return out
}

func fromDomainAttainmentBasis(rep *planning.AttainmentReport) AttainmentBasis {
	r := rep.Round
	return AttainmentBasis{RoundID: r.ID, Round: r.Code, VersionID: rep.VersionID, BudgetOfRecord: rep.Record,
		Period: r.MonthLabel(rep.Period), Basis: string(rep.Basis),
		TargetFrom: r.MonthLabel(rep.TargetFrom), TargetTo: r.MonthLabel(rep.TargetTo),
		ActualFrom: r.MonthLabel(rep.ActualFrom), ActualTo: r.MonthLabel(rep.ActualTo),
		TargetMonths: []string{r.MonthLabel(rep.TargetFrom), r.MonthLabel(rep.TargetTo)},
		ActualMonths: []string{r.MonthLabel(rep.ActualFrom), r.MonthLabel(rep.ActualTo)}}
}

// attainmentParams reads the parameters attainment and rankings share:
// the version, the as-of month and the basis.
func (s *Server) attainmentParams(c echo.Context, q *query, res *resolver) (r *planning.Round, version *int64, period int, basis planning.Basis, err error) {
	id, err := pathID(c, "id")
	if err != nil {
		return
	}
	// The round and the codes of the filters are looked up in one call.
	res.roundID = id
	if _, err = res.load(filterRefs(q)); err != nil {
		return
	}
	r = res.round
	version = q.id("version")
	if m, ok := q.get("period"); ok {
		if p, perr := r.PeriodOf(m); perr != nil {
			q.fail("period", "%s", perr)
		} else {
			period = p
		}
	}
	var berr error
	if basis, berr = planning.ParseBasis(q.str("basis")); berr != nil {
		q.fail("basis", "%s", berr)
	}
	return r, version, period, basis, nil
}

// getAttainment godoc
//
//	@Summary		Attainment: actuals against targets
//	@ID				getAttainment
//	@Description	Compares the actuals of org units (rolled up over each unit's subtree, or a unit's own for a measure that is not aggregated) with a version's targets (each unit's own cells) by product line and measure, each combined over months and lines by the measure's aggregation (sum, weighted_average, last_value, none), plus a row per unit and measure for all the selected product lines together (product_line null). The version is the round's budget of record unless version names another of its versions. The basis is the month (period), the fiscal quarter to date, the fiscal year to date, or the full year (the year's actuals to date against the whole year's target). attainment_pct = actual ÷ target × 100 rounded half to even at 2 places (null for a zero target); run_rate = ytd_actual × 12 ÷ months elapsed, rounded at the measure's scale half away from zero. Rows are ordered by org unit (parents first), measure and product line. Scoped like the grid.
//	@Tags			attainment
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id				path		int		true	"Round id"
//	@Param			version			query		int		false	"Version id (default: the budget of record)"
//	@Param			org_unit		query		string	false	"Org unit code: that unit only (or its subtree with subtree=true)"
//	@Param			subtree			query		bool	false	"Include the org unit's descendants"
//	@Param			level			query		string	false	"Only org units of this kind, e.g. branch"
//	@Param			product_line	query		string	false	"Product line codes, comma-separated"
//	@Param			measure			query		string	false	"Measure codes, comma-separated (default: the round's)"
//	@Param			period			query		string	false	"The month the report is as of, e.g. 2027-06 (default: the latest month with actuals)"
//	@Param			basis			query		string	false	"month (default), qtd, ytd or year"	Enums(month,qtd,ytd,year)
//	@Param			limit			query		int		false	"Rows per page (1-1000, default 100)"
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	api.AttainmentReport
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such round, or org unit outside your scope"
//	@Failure		409				{object}	api.Problem	"No budget of record yet and no version named"
//	@Failure		422				{object}	api.Problem	"Version of another round, or measure not of the round"
//	@Router			/rounds/{id}/attainment [get]
func (s *Server) getAttainment(c echo.Context) error {
	ctx := c.Request().Context()
	q := newQuery(c, "version", "org_unit", "subtree", "level", "product_line", "measure", "period", "basis")
	res := newResolver(ctx, s.svcs)
	r, version, period, basis, err := s.attainmentParams(c, q, res)
	if err != nil {
		return err
	}
	f := planning.AttainmentFilter{RoundID: r.ID, VersionID: version, Period: period, Basis: basis, Page: q.page(),
		Kind: planning.OrgUnitKind(q.str("level"))}
	if f.Kind != "" && !f.Kind.Valid() {
		q.fail("level", "must be one of %v", planning.OrgUnitKinds)
	}
	f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, err = s.codeFilters(q, res)
	if err != nil {
		return err
	}
	if err := q.err(); err != nil {
		return err
	}
	rep, err := s.svcs.Attainment.FindAttainment(ctx, f)
	if err != nil {
		return err
	}
	out := AttainmentReport{AttainmentBasis: fromDomainAttainmentBasis(rep), Items: make([]AttainmentRow, 0, len(rep.Rows)), NextCursor: rep.NextCursor}
	for i := range rep.Rows {
		out.Items = append(out.Items, fromDomainAttainmentRow(&rep.Rows[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// rankingTieRule says how a ranking orders and ties units
// (planning.RankRows).
const rankingTieRule = "attainment % descending, units without a target last; equal attainments share a rank (the next rank skips: 1, 1, 3), listed by actual descending, then by org unit code"

// getRankings godoc
//
//	@Summary		Rank org units by attainment
//	@ID				getRankings
//	@Description	Ranks the org units of one level (e.g. branches) by their attainment of one measure over all the selected product lines, best first; equal attainments share a rank, units without a target come last. Same version, period and basis rules as the attainment report. Branch managers and team leads rank only the units they see. With format=xlsx, the same ranking as a workbook (what it compares and the tie rule on top, one unit a row with its rank, target, actual, gap, attainment, year target, actual to date and run rate) that prints landscape, fitted to the page width, the column names repeated on every page.
//	@Tags			attainment
//	@Security		BearerAuth
//	@Produce		json
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Param			id				path		int		true	"Round id"
//	@Param			measure			query		string	true	"Measure code, e.g. revenue"
//	@Param			level			query		string	true	"Kind of org unit to rank, e.g. branch"
//	@Param			version			query		int		false	"Version id (default: the budget of record)"
//	@Param			product_line	query		string	false	"Product line codes, comma-separated (default: all)"
//	@Param			period			query		string	false	"The month the ranking is as of (default: the latest month with actuals)"
//	@Param			basis			query		string	false	"month (default), qtd, ytd or year"									Enums(month,qtd,ytd,year)
//	@Param			format			query		string	false	"json (default) or xlsx: the same ranking as a printable workbook"	Enums(json,xlsx)
//	@Success		200				{object}	api.Ranking
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such round"
//	@Failure		409				{object}	api.Problem	"No budget of record yet and no version named"
//	@Failure		422				{object}	api.Problem	"Version of another round, or measure not of the round"
//	@Router			/rounds/{id}/rankings [get]
func (s *Server) getRankings(c echo.Context) error {
	ctx := c.Request().Context()
	q := newQuery(c, "version", "level", "product_line", "measure", "period", "basis", "format")
	format := q.str("format")
	if format != "" && format != "json" && format != spreadsheet.FormatXLSX {
		q.fail("format", "must be json or xlsx")
	}
	res := newResolver(ctx, s.svcs)
	r, version, period, basis, err := s.attainmentParams(c, q, res)
	if err != nil {
		return err
	}
	f := planning.RankingFilter{RoundID: r.ID, VersionID: version, Period: period, Basis: basis, Kind: planning.OrgUnitKind(q.str("level"))}
	switch {
	case f.Kind == "":
		q.fail("level", "is required: the kind of org unit to rank, such as branch")
	case !f.Kind.Valid():
		q.fail("level", "must be one of %v", planning.OrgUnitKinds)
	}
	_, _, f.ProductLineIDs, _, err = s.codeFilters(q, res)
	if err != nil {
		return err
	}
	var measure *planning.Measure
	switch codes := codesList(q.str("measure")); {
	case len(codes) == 0:
		q.fail("measure", "is required: the measure to rank by, such as revenue")
	case len(codes) > 1:
		q.fail("measure", "names one measure")
	default:
		if measure = res.measures[codes[0]]; measure != nil {
			f.MeasureID = measure.ID
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	rk, err := s.svcs.Attainment.FindRankings(ctx, f)
	if err != nil {
		return err
	}
	if format == spreadsheet.FormatXLSX {
		m := measure
		view := &spreadsheet.RankingView{Ranking: rk, Level: f.Kind, Measure: m, ProductLines: strings.Join(codesList(q.str("product_line")), ", "), TieRule: rankingTieRule}
		var buf bytes.Buffer
		if err := spreadsheet.WriteRankings(&buf, view); err != nil {
			return err
		}
		// No ETag: a ranking reads targets and actuals, which no one
		// revision covers.
		c.Response().Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q",
			fmt.Sprintf("ranking-%s-%s-%s-%s-%s.xlsx", fileSafe(r.Code), f.Kind, fileSafe(m.Code), r.MonthLabel(rk.Period), rk.Basis)))
		return c.Blob(http.StatusOK, mimeXLSX, buf.Bytes())
	}
	out := Ranking{AttainmentBasis: fromDomainAttainmentBasis(&rk.AttainmentReport), TieRule: rankingTieRule, Items: make([]RankedUnit, len(rk.Items))}
	for i := range rk.Items {
		out.Items[i] = RankedUnit{Rank: rk.Items[i].Rank, AttainmentRow: fromDomainAttainmentRow(&rk.Items[i].AttainmentRow)}
	}
	return c.JSON(http.StatusOK, out)
}
