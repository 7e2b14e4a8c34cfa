package spreadsheet

import (
	"fmt"
	"io"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// ScoresSheet is the name of the scores workbook's one sheet.
const ScoresSheet = "Scores"

// WriteScores writes a level's scores as a one-sheet workbook: what they
// compare and the rules on top, then one row per unit, best first, with its
// rank, score and exact score and, for each KPI, target, actual,
// attainment, points and weighted points. It prints landscape, fitted to
// the page width, the heading rows repeated on every page.
func WriteScores(w io.Writer, rep *planning.ScoreReport, tieRule string) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", ScoresSheet); err != nil {
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
	card, r := rep.Scorecard, rep.Round
	scorePlaces := "0"
	if card.Rounding.Places > 0 {
		scorePlaces += "." + strings.Repeat("0", int(card.Rounding.Places))
	}
	scoreStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &scorePlaces, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	// The rows repeated on every page are the KPI group row and the column
	// names, the 6th and 7th after the four title rows and a blank one.
	if err := printSetup(f, ScoresSheet, 6, 7); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(ScoresSheet)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 7); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 3, 22); err != nil {
		return err
	}
	if err := sw.SetColWidth(4, 5+5*len(card.KPIs), 13); err != nil {
		return err
	}
	row := 0
	put := func(vals ...any) error {
		row++
		return sw.SetRow(cellRef(1, row), vals)
	}
	version := fmt.Sprintf("version id %d", rep.VersionID)
	if rep.Record {
		version += " (budget of record)"
	}
	head := []string{
		fmt.Sprintf("Scores 考核得分: %s, level %s, round %s", card.Name, card.Level, r.Code),
		fmt.Sprintf("%s; basis %s as of %s: targets %s to %s, actuals %s to %s", version, rep.Basis, r.MonthLabel(rep.Period),
			r.MonthLabel(rep.TargetFrom), r.MonthLabel(rep.TargetTo), r.MonthLabel(rep.ActualFrom), r.MonthLabel(rep.ActualTo)),
		fmt.Sprintf("Score = Σ points × weight ÷ 100, rounded at %d places (%s); scorecard revision %d", card.Rounding.Places, card.Rounding.Mode, card.Revision),
		"Ranking: " + tieRule,
	}
	for i, h := range head {
		style := st.note
		if i == 0 {
			style = st.title
		}
		if err := put(excelize.Cell{Value: h, StyleID: style}); err != nil {
			return err
		}
	}
	row++
	groups := []any{"", "", "", "", ""}
	header := []any{}
	for _, h := range []string{"Rank", "Org unit", "Name", "Score", "Exact score"} {
		header = append(header, excelize.Cell{Value: h, StyleID: st.header})
	}
	for _, k := range card.KPIs {
		label := k.Label
		if label == "" {
			label = k.MeasureCode
		}
		if len(k.ProductLineCodes) > 0 {
			label += " (" + strings.Join(k.ProductLineCodes, ", ") + ")"
		}
		groups = append(groups, excelize.Cell{Value: fmt.Sprintf("%s, %s%%, %s is better", label, k.Weight, k.Direction), StyleID: st.header}, "", "", "", "")
		for _, h := range []string{"Target", "Actual", "Attainment %", "Points", "Weighted"} {
			header = append(header, excelize.Cell{Value: h, StyleID: st.header})
		}
	}
	if err := put(groups...); err != nil {
		return err
	}
	for i := range card.KPIs {
		if err := sw.MergeCell(cellRef(6+5*i, row), cellRef(10+5*i, row)); err != nil {
			return err
		}
	}
	if err := put(header...); err != nil {
		return err
	}
	if row != 7 {
		return fmt.Errorf("scores sheet: the column names are on row %d, not the 7th the print titles repeat", row)
	}
	exact := func(d decimal.Decimal) float64 { return float(d) }
	for _, u := range rep.Units {
		vals := []any{u.Rank, u.OrgUnitCode, u.OrgUnitName, excelize.Cell{Value: exact(u.Total), StyleID: scoreStyle}, u.Exact.String()}
		for _, k := range u.KPIs {
			num, err := st.amount(k.Scale, false)
			if err != nil {
				return err
			}
			var att any = ""
			if k.AttainmentPct != nil {
				att = excelize.Cell{Value: exact(*k.AttainmentPct), StyleID: pct}
			}
			vals = append(vals, excelize.Cell{Value: exact(k.Target), StyleID: num}, excelize.Cell{Value: exact(k.Actual), StyleID: num},
				att, k.Points.String(), k.Weighted.String())
		}
		if err := put(vals...); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}

// printSetup makes a sheet print landscape, fitted to one page wide, with
// rows first..last repeated at the top of every page (none when first is
// 0).
func printSetup(f *excelize.File, sheet string, first, last int) error {
	landscape, fit, one, tall := "landscape", true, 1, 0
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &tall}); err != nil {
		return err
	}
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	if first == 0 {
		return nil
	}
	return f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", Scope: sheet,
		RefersTo: fmt.Sprintf("'%s'!$%d:$%d", sheet, first, last)})
}

func ptrString(s string) *string { return &s }
