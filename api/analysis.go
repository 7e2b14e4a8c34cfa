package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// CellChange is one cell that differs between two versions.
type CellChange struct {
	OrgUnitID   int64  `json:"org_unit_id"`
	OrgUnit     string `json:"org_unit" example:"B-SH-KA"`
	ProductLine string `json:"product_line" example:"POS"`
	Measure     string `json:"measure" example:"revenue"`
	Period      string `json:"period" example:"2027-04"`
	// Before is the amount in the "against" version, After in this one; a
	// missing cell counts as zero.
	Before string `json:"before" example:"100000.00"`
	After  string `json:"after" example:"120000.00"`
	Delta  string `json:"delta" example:"20000.00"`
}

// DiffRollup sums the changed cells of one org tree level by one dimension.
// Every level holds its own cells (a branch's target and its teams' are
// separate cells), so a rollup never adds levels together: by_product_line,
// by_measure and by_period have one entry per level and key, and the entry
// at level 3 says what changed at level 3. Amounts of different measures are
// summed separately (by_measure) and together elsewhere only within one
// measure filter: filter by measure for meaningful totals.
type DiffRollup struct {
	// Level is the org tree level of the summed cells: 1 for the top (the
	// company), 2 for the units under it (regions, national departments),
	// 3 for theirs (branches), and so on.
	Level  int    `json:"level" example:"3"`
	Key    string `json:"key" example:"B-SH"`
	Before string `json:"before"`
	After  string `json:"after"`
	Delta  string `json:"delta"`
}

// DiffRollups groups the rollups. They sum the changes of measures that add
// up (aggregation sum) only: a rate, a level at period end or a rating
// does not add up over cells, units or months, so its changes are listed
// cell by cell in changes and counted in not_summed, never summed.
type DiffRollups struct {
	ByOrgUnit     []DiffRollup `json:"by_org_unit"`
	ByProductLine []DiffRollup `json:"by_product_line"`
	ByMeasure     []DiffRollup `json:"by_measure"`
	ByPeriod      []DiffRollup `json:"by_period"`
	// NotSummed lists the measures whose changed cells the rollups leave
	// out, with their aggregation and how many of their cells changed.
	NotSummed []DiffNotSummed `json:"not_summed"`
}

// DiffNotSummed is a measure whose changes the diff's rollups do not sum:
// its values do not add up.
type DiffNotSummed struct {
	Measure      string `json:"measure" example:"market_share"`
	Aggregation  string `json:"aggregation" example:"weighted_average" enums:"weighted_average,last_value,none"`
	ChangedCells int64  `json:"changed_cells" example:"12"`
}

// Diff compares two versions of one round.
type Diff struct {
	VersionID    int64        `json:"version_id"`
	AgainstID    int64        `json:"against"`
	ChangedCells int64        `json:"changed_cells"`
	Changes      []CellChange `json:"changes"`
	NextCursor   string       `json:"next_cursor,omitempty"`
	Rollups      DiffRollups  `json:"rollups"`
}

// Inconsistency is a place where children do not add up to their parent.
type Inconsistency struct {
	ParentID    int64  `json:"parent_id"`
	Parent      string `json:"parent" example:"B-SH"`
	ProductLine string `json:"product_line" example:"POS"`
	Measure     string `json:"measure" example:"revenue"`
	Period      string `json:"period" example:"2027-06"`
	// Expected is the parent's amount, times 1 + buffer where an
	// allocation set one.
	Expected    string `json:"expected" example:"100000.00"`
	ChildrenSum string `json:"children_sum" example:"99000.00"`
	Difference  string `json:"difference" example:"-1000.00"`
}

// InconsistencyPage is one page of the consistency report; empty means
// every level adds up.
type InconsistencyPage struct {
	VersionID  int64           `json:"version_id"`
	Items      []Inconsistency `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// diffVersions godoc
//
//	@Summary		Compare two versions
//	@ID				diffVersions
//	@Description	Every cell that differs between this version and another of the same round (a missing cell counts as zero), with before, after and delta, paged; plus rollups of the changes by org unit, product line, measure and period, per org level. Rollups sum the changes of measures that add up (aggregation sum) only; a measure that does not (a weighted average, a last value, none: rates, levels, ratings) has its changes listed cell by cell and counted in rollups.not_summed, never summed. Takes the grid's filters. Scoped like the grid. With format=xlsx, the whole diff (every page, up to 100,000 changed cells; 413 beyond) as a workbook: a sheet of the changed cells with each org unit's level, and a sheet of each org unit's own change of the measures that add up.
//	@Tags			versions
//	@Security		BearerAuth
//	@Produce		json
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Param			id				path		int		true	"Version id"
//	@Param			against			query		int		true	"The version to compare with"
//	@Param			org_unit		query		string	false	"Org unit code (with subtree=true, its subtree)"
//	@Param			subtree			query		bool	false	"Include the org unit's descendants"
//	@Param			product_line	query		string	false	"Product line codes, comma-separated"
//	@Param			measure			query		string	false	"Measure codes, comma-separated"
//	@Param			period			query		string	false	"A month, a range 2027-04..2027-09, or a quarter Q1-Q4"
//	@Param			limit			query		int		false	"Changes per page (1-1000, default 100)"
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Param			format			query		string	false	"json (default) or xlsx: the whole diff as a workbook"	Enums(json,xlsx)
//	@Success		200				{object}	api.Diff
//	@Header			200				{string}	ETag		"format=xlsx: the version's revision"
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such version"
//	@Failure		413				{object}	api.Problem	"format=xlsx: more than 100,000 changed cells"
//	@Failure		422				{object}	api.Problem	"against is not a version of the same round"
//	@Router			/versions/{id}/diff [get]
func (s *Server) diffVersions(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	q := newQuery(c, "against", "org_unit", "subtree", "product_line", "measure", "period", "format")
	format := q.str("format")
	if format != "" && format != "json" && format != spreadsheet.FormatXLSX {
		q.fail("format", "must be json or xlsx")
	}
	f := planning.DiffFilter{VersionID: id, Page: q.page()}
	if against := q.id("against"); against != nil {
		f.AgainstID = *against
	} else if _, given := q.get("against"); !given {
		q.fail("against", "is required: the id of the version to compare with")
	}
	f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, f.PeriodFrom, f.PeriodTo, err = s.gridFilters(q, res)
	if err != nil {
		return err
	}
	v, r := res.version, res.round
	if err := q.err(); err != nil {
		return err
	}
	if format == spreadsheet.FormatXLSX {
		return s.diffWorkbook(c, res, v, r, f)
	}
	d, err := s.svcs.Targets.DiffVersions(ctx, f)
	if err != nil {
		return err
	}
	var units, lines, measures []int64
	for _, ch := range d.Changes {
		units, lines, measures = append(units, ch.OrgUnitID), append(lines, ch.ProductLineID), append(measures, ch.MeasureID)
	}
	for _, x := range d.ByOrgUnit {
		units = append(units, x.Key)
	}
	for _, x := range d.ByProductLine {
		lines = append(lines, x.Key)
	}
	for _, x := range d.ByMeasure {
		measures = append(measures, x.Key)
	}
	for _, x := range d.NotSummed {
		measures = append(measures, x.MeasureID)
	}
	if err := res.loadIDs(units, lines, measures); err != nil {
		return err
	}
	// Rollups across measures mix units; they are shown at the widest
	// scale among the measures involved so no digit is lost.
	wide := int32(0)
	for _, id := range measures {
		if m := res.measureOf(id); m != nil {
			wide = max(wide, m.Scale)
		}
	}
	out := Diff{VersionID: id, AgainstID: f.AgainstID, ChangedCells: d.ChangedCells, Changes: make([]CellChange, 0, len(d.Changes)), NextCursor: d.NextCursor}
	for _, ch := range d.Changes {
		scale := res.measureOf(ch.MeasureID).Scale
		out.Changes = append(out.Changes, CellChange{OrgUnitID: ch.OrgUnitID, OrgUnit: res.unitCode(ch.OrgUnitID), ProductLine: res.lineCode(ch.ProductLineID),
			Measure: res.measureOf(ch.MeasureID).Code, Period: r.MonthLabel(ch.Period), Before: planning.FormatAmount(ch.Before, scale),
			After: planning.FormatAmount(ch.After, scale), Delta: planning.FormatAmount(ch.Delta, scale)})
	}
	roll := func(xs []planning.DiffRollup, key func(int64) string, scale func(int64) int32) []DiffRollup {
		out := make([]DiffRollup, 0, len(xs))
		for _, x := range xs {
			sc := scale(x.Key)
			out = append(out, DiffRollup{Level: x.Level, Key: key(x.Key), Before: planning.FormatAmount(x.Before, sc), After: planning.FormatAmount(x.After, sc), Delta: planning.FormatAmount(x.Delta, sc)})
		}
		return out
	}
	widest := func(int64) int32 { return wide }
	out.Rollups.ByOrgUnit = roll(d.ByOrgUnit, res.unitCode, widest)
	out.Rollups.ByProductLine = roll(d.ByProductLine, res.lineCode, widest)
	out.Rollups.ByMeasure = roll(d.ByMeasure, func(id int64) string { return res.measureOf(id).Code }, func(id int64) int32 { return res.measureOf(id).Scale })
	out.Rollups.ByPeriod = roll(d.ByPeriod, func(p int64) string { return r.MonthLabel(int(p)) }, widest)
	out.Rollups.NotSummed = make([]DiffNotSummed, 0, len(d.NotSummed))
	for _, x := range d.NotSummed {
		out.Rollups.NotSummed = append(out.Rollups.NotSummed, DiffNotSummed{Measure: res.measureOf(x.MeasureID).Code, Aggregation: string(x.Aggregation), ChangedCells: x.ChangedCells})
	}
	return c.JSON(http.StatusOK, out)
}

// getConsistency godoc
//
//	@Summary		Where children do not add up
//	@ID				getConsistency
//	@Description	Every parent, product line, measure and month whose children hold targets that do not add up to the parent's (times 1 + the buffer an allocation set there), e.g. after manual edits. Empty when the version is consistent. Scoped to the parents you may see.
//	@Tags			versions
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id		path		int		true	"Version id"
//	@Param			limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	api.InconsistencyPage
//	@Failure		404		{object}	api.Problem	"No such version"
//	@Failure		400		{object}	api.Problem	"Bad id or query parameter"
//	@Router			/versions/{id}/consistency [get]
func (s *Server) getConsistency(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c)
	page := q.page()
	if err := q.err(); err != nil {
		return err
	}
	items, next, err := s.svcs.Targets.FindInconsistencies(c.Request().Context(), id, page)
	if err != nil {
		return err
	}
	out := InconsistencyPage{VersionID: id, Items: make([]Inconsistency, 0, len(items)), NextCursor: next}
	for _, x := range items {
		out.Items = append(out.Items, Inconsistency{ParentID: x.ParentID, Parent: x.ParentCode, ProductLine: x.ProductLineCode,
			Measure: x.MeasureCode, Period: x.PeriodLabel, Expected: planning.FormatAmount(x.Expected, x.Scale),
			ChildrenSum: planning.FormatAmount(x.ChildrenSum, x.Scale), Difference: planning.FormatAmount(x.Difference, x.Scale)})
	}
	return c.JSON(http.StatusOK, out)
}

// diffWorkbook sends the whole diff f, every page of it, as a workbook.
func (s *Server) diffWorkbook(c echo.Context, res *resolver, v *planning.Version, r *planning.Round, f planning.DiffFilter) error {
	ctx := c.Request().Context()
	view := &spreadsheet.DiffView{Round: r, Version: v, ExportedAt: time.Now().UTC()}
	if a := planning.ActorFromContext(ctx); a != nil && a.User != nil {
		view.ExportedBy = a.User.Name
	}
	first := true
	for page, err := range planning.AllPages(func(p planning.PageRequest) ([]*planning.Diff, string, error) {
		f.Page = p
		d, err := s.svcs.Targets.DiffVersions(ctx, f)
		if err != nil {
			return nil, "", err
		}
		return []*planning.Diff{d}, d.NextCursor, nil
	}) {
		if err != nil {
			return err
		}
		if first {
			view.ByOrgUnit, view.NotSummed, first = page.ByOrgUnit, page.NotSummed, false
		}
		if view.Changes = append(view.Changes, page.Changes...); len(view.Changes) > MaxExportRows {
			return planning.Errorf(planning.ETOOLARGE, "the diff has more than %d changed cells: narrow it by org unit, product line, measure or period", MaxExportRows)
		}
	}
	var units, lines, measures []int64
	for _, ch := range view.Changes {
		units, lines, measures = append(units, ch.OrgUnitID), append(lines, ch.ProductLineID), append(measures, ch.MeasureID)
	}
	for _, x := range view.ByOrgUnit {
		units = append(units, x.Key)
	}
	for _, x := range view.NotSummed {
		measures = append(measures, x.MeasureID)
	}
	// The diff has checked that against is a version of the same round;
	// it is looked up with the codes of the changes.
	got, err := res.load(planning.Refs{VersionID: f.AgainstID, UnitIDs: units, LineIDs: lines, MeasureIDs: measures})
	if err != nil {
		return err
	}
	against := got.Version
	view.Against = against
	view.Units, view.Lines, view.Measures = res.unitIDs, res.lineIDs, res.measIDs
	q := c.QueryParams()
	view.Filters = "Filters: " + diffFilterWords(q.Get("measure"), q.Get("product_line"), q.Get("org_unit"), q.Get("subtree"), q.Get("period")) + "."
	var buf bytes.Buffer
	if err := spreadsheet.WriteDiffXLSX(&buf, view); err != nil {
		return err
	}
	name := fmt.Sprintf("cascade-%s-v%d-against-v%d-diff.xlsx", fileSafe(r.Code), v.Number, against.Number)
	return sendFile(c, mimeXLSX, name, v.Revision, buf.Bytes())
}

// diffFilterWords says which filters a diff was taken with.
func diffFilterWords(measure, lines, unit, subtree, period string) string {
	var out []string
	add := func(what, v string) {
		if v != "" {
			out = append(out, what+" "+v)
		}
	}
	add("measure", measure)
	add("product line", lines)
	if unit != "" && subtree == "true" {
		unit += " and its subtree"
	}
	add("org unit", unit)
	add("period", period)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
