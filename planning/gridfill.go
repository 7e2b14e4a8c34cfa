package planning

import (
	"context"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// GridCombinations are what an export with blank rows covers: every
// combination of its org units, product lines and measures gets a row,
// zero where the version holds no cells for it.
type GridCombinations struct {
	Units    []*OrgUnit
	Lines    []*ProductLine
	Measures []*Measure
	// Periods label the columns of a blank row (see GridRow.Periods).
	Periods []string
}

// Count is the number of combinations: the rows a fill may add at most.
func (g GridCombinations) Count() int { return len(g.Units) * len(g.Lines) * len(g.Measures) }

// CheckSize refuses a fill of more than max combinations (ETOOLARGE), so
// a blank template of a whole company is refused before it is built.
func (g GridCombinations) CheckSize(max int) error {
	if n := g.Count(); n > max {
		return Errorf(ETOOLARGE, "the view has %d org unit, product line and measure combinations, more than %d: narrow it", n, max)
	}
	return nil
}

// FillBlankRows returns rows with a zero row added for each combination of
// g that rows lack (a template to fill in offline), all of them in the
// order a grid export lists them: by the tree order of their unit's path
// (unitPath answers for every unit of rows and of g, which rows may name
// beyond g: an inactive unit still holding cells), then by product line and
// measure code. Rows already there keep their amounts.
func FillBlankRows(rows []GridRow, g GridCombinations, unitPath func(id int64) string) []GridRow {
	have := make(map[[3]int64]bool, len(rows))
	for _, r := range rows {
		have[[3]int64{r.OrgUnitID, r.ProductLineID, r.MeasureID}] = true
	}
	for _, u := range g.Units {
		for _, l := range g.Lines {
			for _, m := range g.Measures {
				if have[[3]int64{u.ID, l.ID, m.ID}] {
					continue
				}
				row := GridRow{OrgUnitID: u.ID, OrgUnitCode: u.Code, ProductLineID: l.ID, ProductLineCode: l.Code,
					MeasureID: m.ID, MeasureCode: m.Code, Scale: m.Scale, Total: decimal.Zero}
				for _, p := range g.Periods {
					row.Periods = append(row.Periods, PeriodAmount{Period: p, Amount: decimal.Zero})
				}
				rows = append(rows, row)
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b GridRow) int {
		if c := strings.Compare(unitPath(a.OrgUnitID), unitPath(b.OrgUnitID)); c != 0 {
			return c
		}
		if c := strings.Compare(a.ProductLineCode, b.ProductLineCode); c != 0 {
			return c
		}
		return strings.Compare(a.MeasureCode, b.MeasureCode)
	})
	return rows
}

// LoadGridCombinations loads what a blank-row export of f covers: the
// active org units of f (its unit, or that unit's subtree with Subtree;
// every unit the caller sees without one), the active product lines of f
// (all without any), and the measures of measureIDs in their order, with
// periods to label a blank row's columns.
func LoadGridCombinations(ctx context.Context, svcs Services, f GridFilter, measureIDs []int64, periods []string) (GridCombinations, error) {
	g := GridCombinations{Periods: periods}
	active := true
	uf := OrgUnitFilter{Active: &active}
	if f.OrgUnitID != nil {
		if f.Subtree {
			uf.SubtreeOf = f.OrgUnitID
		} else {
			uf.IDs = []int64{*f.OrgUnitID}
		}
	}
	var err error
	if g.Units, err = CollectPages(func(page PageRequest) ([]*OrgUnit, string, error) {
		uf.Page = page
		return svcs.OrgUnits.FindOrgUnits(ctx, uf)
	}); err != nil {
		return g, err
	}
	if g.Lines, err = CollectPages(func(page PageRequest) ([]*ProductLine, string, error) {
		return svcs.ProductLines.FindProductLines(ctx, ProductLineFilter{IDs: f.ProductLineIDs, Active: &active, Page: page})
	}); err != nil {
		return g, err
	}
	if len(measureIDs) == 0 {
		return g, nil
	}
	ms, err := CollectPages(func(page PageRequest) ([]*Measure, string, error) {
		return svcs.Measures.FindMeasures(ctx, MeasureFilter{IDs: measureIDs, Page: page})
	})
	if err != nil {
		return g, err
	}
	byID := make(map[int64]*Measure, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	for _, id := range measureIDs {
		if m := byID[id]; m != nil {
			g.Measures = append(g.Measures, m)
		}
	}
	return g, nil
}

// GridExportRequest is what an export of a grid view reads.
type GridExportRequest struct {
	Filter GridFilter
	// MaxRows is the most rows (and, with BlankRows, combinations) the
	// export may hold: ETOOLARGE beyond.
	MaxRows int
	// BlankRows asks for the combinations of the view's units, lines and
	// MeasureIDs too (LoadGridCombinations), with Periods for their
	// columns.
	BlankRows  bool
	MeasureIDs []int64
	Periods    []string
	// RollupMeasureIDs are measures whose quarter rows are read as well,
	// for subtotals that follow their aggregation rule.
	RollupMeasureIDs []int64
}

// GridExport is what ReadGridExport read.
type GridExport struct {
	Rows         []GridRow
	Combinations *GridCombinations
	Rollups      []GridRow
}

// ReadGridExport reads every row of a grid view (Filter), and what the
// request asks for with it: the combinations for blank rows and the
// quarter rows of the rollup measures.
func ReadGridExport(ctx context.Context, svcs Services, req GridExportRequest) (*GridExport, error) {
	whole := func(f GridFilter) ([]GridRow, error) {
		var out []GridRow
		for row, err := range AllPages(func(page PageRequest) ([]GridRow, string, error) {
			f.Page = page
			return svcs.Targets.FindGrid(ctx, f)
		}) {
			if err != nil {
				return nil, err
			}
			if out = append(out, row); len(out) > req.MaxRows {
				return nil, Errorf(ETOOLARGE, "the view has more than %d rows: narrow it by org unit, product line or measure", req.MaxRows)
			}
		}
		return out, nil
	}
	out := &GridExport{}
	var err error
	if out.Rows, err = whole(req.Filter); err != nil {
		return nil, err
	}
	if req.BlankRows {
		g, err := LoadGridCombinations(ctx, svcs, req.Filter, req.MeasureIDs, req.Periods)
		if err != nil {
			return nil, err
		}
		if err := g.CheckSize(req.MaxRows); err != nil {
			return nil, err
		}
		out.Combinations = &g
	}
	if len(req.RollupMeasureIDs) > 0 {
		qf := req.Filter
		qf.Grain, qf.MeasureIDs = GrainQuarter, req.RollupMeasureIDs
		if out.Rollups, err = whole(qf); err != nil {
			return nil, err
		}
	}
	return out, nil
}
