package spreadsheet

import (
	"fmt"
	"io"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// RankingsSheet is the name of the rankings workbook's one sheet.
const RankingsSheet = "Ranking"

// RankingView is a ranking to export: the ranking, the level ranked, the
// measure and product lines it ranks by (in words), and its tie rule.
type RankingView struct {
	Ranking      *planning.Ranking
	Level        planning.OrgUnitKind
	Measure      *planning.Measure
	ProductLines string
	TieRule      string
}

// rankingsHeaderRow is the row of the column names, repeated on every
// printed page: after the four title rows and a blank one.
const rankingsHeaderRow = 6

// WriteRankings writes a ranking as a one-sheet workbook: what it compares
// and the tie rule on top, then one row per unit, best first, with its
// rank, target, actual, gap, attainment, year target, actual to date, run
// rate and run-rate attainment, amounts at the measure's scale. It prints
// landscape, fitted to the page width, the column names repeated on every
// page, the headings frozen.
func WriteRankings(w io.Writer, v *RankingView) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", RankingsSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	pct, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptrString("0.00")})
	if err != nil {
		return err
	}
	if err := printSetup(f, RankingsSheet, rankingsHeaderRow, rankingsHeaderRow); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(RankingsSheet)
	if err != nil {
		return err
	}
	for i, wd := range []float64{7, 14, 26, 16, 16, 16, 13, 16, 16, 16, 13} {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: rankingsHeaderRow, TopLeftCell: cellRef(1, rankingsHeaderRow+1), ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	rk, m := v.Ranking, v.Measure
	r := rk.Round
	version := fmt.Sprintf("version id %d", rk.VersionID)
	if rk.Record {
		version += " (budget of record)"
	}
	lines := v.ProductLines
	if lines == "" {
		lines = "all product lines"
	}
	head := []string{
		fmt.Sprintf("Ranking 排名: %s by %s (%s, %s), round %s", v.Level, m.Code, m.Name, m.Agg(), r.Code),
		fmt.Sprintf("%s; %s; basis %s as of %s: targets %s to %s, actuals %s to %s", version, lines, rk.Basis, r.MonthLabel(rk.Period),
			r.MonthLabel(rk.TargetFrom), r.MonthLabel(rk.TargetTo), r.MonthLabel(rk.ActualFrom), r.MonthLabel(rk.ActualTo)),
		"Ranking: " + v.TieRule,
		"Attainment % = actual ÷ target × 100, rounded half to even at 2 places; empty without a target.",
	}
	row := 0
	put := func(vals ...any) error {
		row++
		return sw.SetRow(cellRef(1, row), vals)
	}
	for i, h := range head {
		style := st.note
		if i == 0 {
			style = st.title
		}
		if err := put(excelize.Cell{Value: safeText(h), StyleID: style}); err != nil {
			return err
		}
	}
	row++
	var header []any
	for _, h := range []string{"Rank", "Org unit", "Name", "Target", "Actual", "Gap", "Attainment %", "Year target", "Actual to date", "Run rate", "Run rate %"} {
		header = append(header, excelize.Cell{Value: h, StyleID: st.header})
	}
	if err := put(header...); err != nil {
		return err
	}
	if row != rankingsHeaderRow {
		return fmt.Errorf("rankings sheet: the column names are on row %d, not the %dth the print titles repeat", row, rankingsHeaderRow)
	}
	optPct := func(d *decimal.Decimal) any {
		if d == nil {
			return ""
		}
		return excelize.Cell{Value: float(*d), StyleID: pct}
	}
	for _, u := range rk.Items {
		num, err := st.amount(u.Scale, false)
		if err != nil {
			return err
		}
		amt := func(d decimal.Decimal) excelize.Cell { return excelize.Cell{Value: float(d), StyleID: num} }
		if err := put(u.Rank, u.OrgUnitCode, safeText(u.OrgUnitName), amt(u.Target), amt(u.Actual), amt(u.Gap), optPct(u.Pct),
			amt(u.YearTarget), amt(u.YTDActual), amt(u.RunRate), optPct(u.RunRatePct)); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}
