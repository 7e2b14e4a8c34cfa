package api

import (
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// GridRow is one row of the target grid: an org unit's amounts for one
// product line and measure, by period, with their total.
type GridRow struct {
	OrgUnitID     int64         `json:"org_unit_id" example:"4"`
	OrgUnit       string        `json:"org_unit" example:"B-SH"`
	ProductLineID int64         `json:"product_line_id" example:"2"`
	ProductLine   string        `json:"product_line" example:"POS"`
	MeasureID     int64         `json:"measure_id" example:"1"`
	Measure       string        `json:"measure" example:"revenue"`
	Periods       []PeriodValue `json:"periods"`
	// Total is the periods' total by the measure's rule; null when a
	// measure that does not add up holds no value in the span.
	Total *string `json:"total" extensions:"x-nullable" example:"1250000.00"`
}

// PeriodValue is one period's amount: a month "2027-04", a quarter
// "FY2027-Q1" or the year "FY2027".
//
// The amount of a measure that adds up (aggregation sum) is always a
// number, a missing cell counting as zero. A rate, level or rating without
// a value for the period by its rule is null, not zero: a rating nobody
// gave is no rating of 0.
type PeriodValue struct {
	Period string  `json:"period" example:"2027-04"`
	Amount *string `json:"amount" extensions:"x-nullable" example:"104166.67"`
}

// GridPage is one page of the target grid.
type GridPage struct {
	VersionID  int64     `json:"version_id" example:"1"`
	Grain      string    `json:"grain" example:"month"`
	Items      []GridRow `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// CellInput sets one target cell.
type CellInput struct {
	OrgUnit     string `json:"org_unit" validate:"required" example:"B-SH-KA"`
	ProductLine string `json:"product_line" validate:"required" example:"POS"`
	Measure     string `json:"measure" validate:"required" example:"revenue"`
	// Period is a month of the round's fiscal year.
	Period string `json:"period" validate:"required" example:"2027-04"`
	// Amount is a decimal string at the measure's scale.
	Amount string `json:"amount" validate:"required" example:"125000.00"`
}

// CellBatch is the body of PUT /versions/{id}/targets: up to 10,000 cells,
// written all or nothing.
type CellBatch struct {
	Cells []CellInput `json:"cells" validate:"required" minItems:"1"`
}

// requireTargetWriter refuses a caller whose roles never write targets
// before their body is read, so they learn 403 rather than which of the
// codes they sent they cannot see.
func requireTargetWriter(c echo.Context) error {
	a, err := planning.RequireActor(c.Request().Context())
	if err != nil {
		return err
	}
	return a.MayEditTargets()
}

// versionRound returns the version and its round.
func (s *Server) versionRound(c echo.Context, id int64) (*planning.Version, *planning.Round, error) {
	got, err := s.svcs.Resolve.Resolve(c.Request().Context(), planning.Refs{VersionID: id})
	if err != nil {
		return nil, nil, err
	}
	return got.Version, got.Round, nil
}

// gridFilters reads the filters the grid and the diff share: codeFilters'
// org unit, product line and measure, and the round's periods. res is a
// version resolver (newVersionResolver): the version and its round are
// looked up with the codes, in one call, and left in res.version and
// res.round.
func (s *Server) gridFilters(q *query, res *resolver) (orgUnit *int64, subtree bool, lines, measures []int64, from, to int, err error) {
	if orgUnit, subtree, lines, measures, err = s.codeFilters(q, res); err != nil {
		return nil, false, nil, nil, 0, 0, err
	}
	var perr error
	if from, to, perr = parsePeriods(res.round, q.str("period")); perr != nil {
		q.fail("period", "%s", perr)
	}
	return orgUnit, subtree, lines, measures, from, to, nil
}

// getTargets godoc
//
//	@Summary		Read the target grid
//	@ID				getTargets
//	@Description	Rows of (org unit, product line, measure) with their amounts by period. Quarters are fiscal (relative to the round's first month); rollups follow each measure's aggregation: exact sums, a weighted average (by the weight measure's cells of the same unit and line, rounded once at the scale, half away from zero), the last month holding a value, or, not aggregated, the period's last month (a period of such a measure without a value is null, not 0; a sum measure's amounts are always numbers, missing cells counting as 0). Branch managers and team leads see their subtree only. The ETag is the version's revision.
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id				path		int		true	"Version id"
//	@Param			org_unit		query		string	false	"Org unit code: that unit only (or its subtree with subtree=true)"
//	@Param			subtree			query		bool	false	"Include the org unit's descendants"
//	@Param			product_line	query		string	false	"Product line codes, comma-separated"
//	@Param			measure			query		string	false	"Measure codes, comma-separated"
//	@Param			period			query		string	false	"A month 2027-04, a range 2027-04..2027-09, or a quarter Q1-Q4"
//	@Param			grain			query		string	false	"month (default), quarter or year"	Enums(month,quarter,year)
//	@Param			limit			query		int		false	"Rows per page (1-1000, default 100)"
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	api.GridPage
//	@Header			200				{string}	ETag		"The version's revision"
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such version, or org unit outside your scope"
//	@Router			/versions/{id}/targets [get]
func (s *Server) getTargets(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	q := newQuery(c, "org_unit", "subtree", "product_line", "measure", "period", "grain")
	f := planning.GridFilter{VersionID: id, Grain: planning.Grain(q.str("grain")), Page: q.page()}
	if f.Grain != "" && f.Grain != planning.GrainMonth && f.Grain != planning.GrainQuarter && f.Grain != planning.GrainYear {
		q.fail("grain", "must be month, quarter or year")
	}
	f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, f.PeriodFrom, f.PeriodTo, err = s.gridFilters(q, res)
	if err != nil {
		return err
	}
	v := res.version
	if err := q.err(); err != nil {
		return err
	}
	rows, next, err := s.svcs.Targets.FindGrid(ctx, f)
	if err != nil {
		return err
	}
	if f.Grain == "" {
		f.Grain = planning.GrainMonth
	}
	return writeGrid(c, v.Revision, id, string(f.Grain), rows, next)
}

// gridPage is the GridPage of a grid read, as writeGrid writes it.
func gridPage(id int64, grain string, rows []planning.GridRow, next string) GridPage {
	page := GridPage{VersionID: id, Grain: grain, Items: make([]GridRow, 0, len(rows)), NextCursor: next}
	for _, row := range rows {
		g := GridRow{OrgUnitID: row.OrgUnitID, OrgUnit: row.OrgUnitCode, ProductLineID: row.ProductLineID, ProductLine: row.ProductLineCode,
			MeasureID: row.MeasureID, Measure: row.MeasureCode, Total: gridAmount(row.Total, row.TotalAbsent, row.Scale),
			Periods: make([]PeriodValue, len(row.Periods))}
		for i, p := range row.Periods {
			g.Periods[i] = PeriodValue{Period: p.Period, Amount: gridAmount(p.Amount, p.Absent, row.Scale)}
		}
		page.Items = append(page.Items, g)
	}
	return page
}

// putTargets godoc
//
//	@Summary		Edit target cells
//	@ID				putTargets
//	@Description	Sets up to 10,000 cells of a working version in one transaction: all or nothing. Product managers write their own product lines; the strategy office and admins any. Each amount must be at its measure's scale, and a rating on its declared scale. If-Match is required: the version's ETag as read (412 when it moved on), or * to overwrite.
//	@Tags			targets
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int				true	"Version id"
//	@Param			If-Match	header		string			true	"ETag of the version as read, or * to overwrite"
//	@Param			body		body		api.CellBatch	true	"The cells"
//	@Success		200			{object}	api.Version
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Not your product line"
//	@Failure		404			{object}	api.Problem	"No such version"
//	@Failure		409			{object}	api.Problem	"Version frozen or round not under way"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Too many cells"
//	@Failure		422			{object}	api.Problem	"Invalid cells, each named"
//	@Failure		428			{object}	api.Problem	"If-Match missing"
//	@Router			/versions/{id}/targets [put]
func (s *Server) putTargets(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := requireTargetWriter(c); err != nil {
		return err
	}
	match, err := requireIfMatch(c)
	if err != nil {
		return err
	}
	var req CellBatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Cells) > planning.MaxBatchCells {
		return &planning.Error{Code: planning.ETOOLARGE, Message: fmt.Sprintf("at most %d cells per batch; split the edit", planning.MaxBatchCells),
			Fields: []planning.FieldError{{Field: "cells", Message: "too many cells"}}}
	}
	// The version, its round and every code of the batch are looked up
	// in one call.
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	var refs planning.Refs
	for _, cell := range req.Cells {
		refs.UnitCodes, refs.LineCodes, refs.MeasureCodes = append(refs.UnitCodes, cell.OrgUnit), append(refs.LineCodes, cell.ProductLine), append(refs.MeasureCodes, cell.Measure)
	}
	if _, err := res.load(refs); err != nil {
		return err
	}
	r := res.round
	edits := make([]planning.CellEdit, len(req.Cells))
	for i, cell := range req.Cells {
		f := fmt.Sprintf("cells[%d]", i)
		e := &edits[i]
		e.OrgUnitID = res.unit(f+".org_unit", cell.OrgUnit)
		e.ProductLineID = res.line(f+".product_line", cell.ProductLine)
		if p, perr := r.PeriodOf(cell.Period); perr != nil {
			res.val.Add(f+".period", "%s", perr)
		} else {
			e.Period = p
		}
		if m := res.measure(f+".measure", cell.Measure); m != nil {
			e.MeasureID = m.ID
			if d, aerr := planning.ParseAmount(cell.Amount, m.Scale); aerr != nil {
				res.val.Add(f+".amount", "%s", aerr)
			} else {
				e.Amount = d
			}
		}
	}
	if err := res.err(); err != nil {
		return err
	}
	v, err := s.svcs.Targets.EditCells(ctx, id, edits, match)
	if err != nil {
		return err
	}
	return ok(c, v.Revision, fromDomainVersion(v))
}

// gridAmount formats a grid amount at scale, nil when the period holds no
// value by its measure's rule.
func gridAmount(d decimal.Decimal, absent bool, scale int32) *string {
	if absent {
		return nil
	}
	out := planning.FormatAmount(d, scale)
	return &out
}
