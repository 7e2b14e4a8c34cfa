package spreadsheet

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// MetaSheet is the hidden sheet of an exported target workbook: the version,
// revision and round it was exported from, and for every row the ids of its
// org unit, product line and measure with the exact amounts exported, which
// an import compares with the workbook and with the version.
const MetaSheet = "_cascade"

// Layout of an exported measure sheet.
const (
	headerRow   = 5 // the column headings; data starts below
	colUnit     = "Org unit"
	colName     = "Name"
	colLine     = "Product line"
	firstPeriod = 4 // column D
)

// GridView is a view of a version's target grid to export: the round and
// version, the grain and the fiscal periods it covers, when and by whom it
// was exported, the measures (one sheet each, in this order), the org units
// its rows name, and the rows at the grain, ordered by org unit path and
// product line code.
type GridView struct {
	Round      *planning.Round
	Version    *planning.Version
	Grain      planning.Grain
	From, To   int
	ExportedAt time.Time
	ExportedBy string
	Measures   []*planning.Measure
	Units      map[int64]*planning.OrgUnit
	Rows       []planning.GridRow
	// Rollups are the quarter-grain rows, by org unit, product line and
	// measure, of the measures that do not add up: a month-grain sheet's
	// quarter subtotals show them (and its total the row's Total), not a
	// sum of the months.
	Rollups map[[3]int64]planning.GridRow
}

// column is one amount column of an exported sheet.
type column struct {
	label string
	// period is the fiscal period of a month column, 0 for totals.
	period int
	// sumOf are the indexes of the columns a total adds up; a period column
	// has none and holds the row's amount at index amount.
	sumOf  []int
	amount int
	// quarter is the fiscal quarter (1-4) a quarter subtotal covers; year
	// marks the total of the whole year.
	quarter int
	year    bool
}

// columns lays out the amount columns of a view: at month grain each month
// with a quarter subtotal after each whole quarter, then the total; at
// quarter grain the quarters and the total; at year grain the year.
func (v *GridView) columns() []column {
	total := "Total"
	if v.From == 1 && v.To == 12 {
		total = fmt.Sprintf("FY%d", v.Round.FiscalYear)
	}
	var cols []column
	var all []int
	switch v.Grain {
	case planning.GrainMonth:
		for p := v.From; p <= v.To; p++ {
			cols = append(cols, column{label: v.Round.MonthLabel(p), period: p, amount: p - v.From})
			all = append(all, len(cols)-1)
			if p%3 == 0 && p-2 >= v.From {
				n := len(cols)
				cols = append(cols, column{label: fmt.Sprintf("FY%d-Q%d", v.Round.FiscalYear, p/3), sumOf: []int{n - 3, n - 2, n - 1}, quarter: p / 3})
			}
		}
		cols = append(cols, column{label: total, sumOf: all, year: v.From == 1 && v.To == 12})
	case planning.GrainQuarter:
		for q := (v.From-1)/3 + 1; q <= (v.To-1)/3+1; q++ {
			cols = append(cols, column{label: fmt.Sprintf("FY%d-Q%d", v.Round.FiscalYear, q), amount: len(cols)})
			all = append(all, len(cols)-1)
		}
		cols = append(cols, column{label: total, sumOf: all})
	default:
		cols = append(cols, column{label: fmt.Sprintf("FY%d", v.Round.FiscalYear), amount: 0})
	}
	return cols
}

// rowsOf returns the view's rows of one measure.
func (v *GridView) rowsOf(measureID int64) []planning.GridRow {
	var out []planning.GridRow
	for _, r := range v.Rows {
		if r.MeasureID == measureID {
			out = append(out, r)
		}
	}
	return out
}

// styles are the cell styles of a workbook.
type styles struct {
	f      *excelize.File
	title  int
	note   int
	header int
	indent map[int]int
	number map[int32]int
	total  map[int32]int
}

func newStyles(f *excelize.File) (*styles, error) {
	s := &styles{f: f, indent: map[int]int{}, number: map[int32]int{}, total: map[int32]int{}}
	var err error
	if s.title, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}); err != nil {
		return nil, err
	}
	if s.note, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "595959"}}); err != nil {
		return nil, err
	}
	s.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 1}},
		Alignment: &excelize.Alignment{Horizontal: "center"}})
	return s, err
}

func (s *styles) indented(level int) (int, error) {
	if id, ok := s.indent[level]; ok {
		return id, nil
	}
	// Spreadsheet programs show an indent only on left-aligned cells.
	id, err := s.f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Horizontal: "left", Indent: level}})
	s.indent[level] = id
	return id, err
}

func (s *styles) amount(scale int32, bold bool) (int, error) {
	m := s.number
	if bold {
		m = s.total
	}
	if id, ok := m[scale]; ok {
		return id, nil
	}
	f := numFormat(scale)
	st := &excelize.Style{CustomNumFmt: &f}
	if bold {
		st.Font = &excelize.Font{Bold: true}
		st.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"F2F2F2"}}
	}
	id, err := s.f.NewStyle(st)
	m[scale] = id
	return id, err
}

// sheetName makes a valid, unique worksheet name from a measure code.
func sheetName(code string, used map[string]bool) string {
	name := code
	if len(name) > 31 {
		name = name[:31]
	}
	for i := 2; used[strings.ToLower(name)] || strings.EqualFold(name, MetaSheet); i++ {
		suffix := "~" + strconv.Itoa(i)
		name = code[:min(len(code), 31-len(suffix))] + suffix
	}
	used[strings.ToLower(name)] = true
	return name
}

func cellRef(col, row int) string {
	ref, _ := excelize.CoordinatesToCellName(col, row)
	return ref
}

func float(d decimal.Decimal) float64 { return d.InexactFloat64() }

// WriteGridXLSX writes the view as a workbook made for people: a sheet per
// measure with the round, version and export time on top; org units
// indented by their level; the amounts as numbers formatted at the
// measure's scale, with quarter and year totals as formulas; the headings
// and labels frozen in place. A hidden sheet holds what ReadTargetSheet
// needs to bring the edited workbook back.
func WriteGridXLSX(w io.Writer, v *GridView) error {
	f := excelize.NewFile()
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	cols := v.columns()
	minDepth := 0
	for _, r := range v.Rows {
		if u := v.Units[r.OrgUnitID]; u != nil && (minDepth == 0 || u.Depth() < minDepth) {
			minDepth = u.Depth()
		}
	}
	used := map[string]bool{}
	meta := [][]string{}
	for i, m := range v.Measures {
		name := sheetName(m.Code, used)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return err
		}
		rows, err := writeMeasureSheet(f, st, v, m, name, cols, minDepth)
		if err != nil {
			return err
		}
		meta = append(meta, rows...)
	}
	if len(v.Measures) == 0 {
		if err := f.SetCellStr("Sheet1", "A1", "No measure selected: nothing to export."); err != nil {
			return err
		}
	}
	if err := writeMetaSheet(f, v, meta); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	return f.Write(w)
}

// writeMeasureSheet writes one measure's sheet and returns its rows for the
// hidden sheet.
func writeMeasureSheet(f *excelize.File, st *styles, v *GridView, m *planning.Measure, name string, cols []column, minDepth int) ([][]string, error) {
	if err := printSetup(f, name, 1, headerRow); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(1, 1, 18); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(2, 2, 34); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(3, 3, 14); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(firstPeriod, firstPeriod+len(cols)-1, 15); err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, XSplit: firstPeriod - 1, YSplit: headerRow,
		TopLeftCell: cellRef(firstPeriod, headerRow+1), ActivePane: "bottomRight"}); err != nil {
		return nil, err
	}
	unit := m.Unit
	title := fmt.Sprintf("%s (%s): %s, version %d %s", v.Round.Name, v.Round.Code, m.Name, v.Version.Number, v.Version.Label)
	lines := []string{
		title,
		fmt.Sprintf("Measure %s in %s, %d decimal places. Version %d (%s), revision %d. Fiscal year %d: %s to %s.",
			m.Code, unit, m.Scale, v.Version.ID, v.Version.Status, v.Version.Revision, v.Round.FiscalYear, v.Round.MonthLabel(1), v.Round.MonthLabel(12)),
		fmt.Sprintf("Exported %s by %s. Edit the months and import the workbook back into a working version; totals are formulas.",
			v.ExportedAt.UTC().Format("2006-01-02 15:04 UTC"), v.ExportedBy),
	}
	for i, s := range lines {
		style := st.note
		if i == 0 {
			style = st.title
		}
		if err := sw.SetRow(cellRef(1, i+1), []any{excelize.Cell{Value: s, StyleID: style}}); err != nil {
			return nil, err
		}
	}
	header := []any{excelize.Cell{Value: colUnit, StyleID: st.header}, excelize.Cell{Value: colName, StyleID: st.header},
		excelize.Cell{Value: colLine, StyleID: st.header}}
	for _, c := range cols {
		header = append(header, excelize.Cell{Value: c.label, StyleID: st.header})
	}
	if err := sw.SetRow(cellRef(1, headerRow), header); err != nil {
		return nil, err
	}
	numStyle, err := st.amount(m.Scale, false)
	if err != nil {
		return nil, err
	}
	totalStyle, err := st.amount(m.Scale, true)
	if err != nil {
		return nil, err
	}
	var meta [][]string
	for i, r := range v.rowsOf(m.ID) {
		row := headerRow + 1 + i
		u := v.Units[r.OrgUnitID]
		level, unitName := 0, ""
		if u != nil {
			level, unitName = u.Depth()-minDepth, u.Name
			if u.NameLocal != "" {
				unitName += " " + u.NameLocal
			}
		}
		ind, err := st.indented(level)
		if err != nil {
			return nil, err
		}
		vals := []any{excelize.Cell{Value: r.OrgUnitCode, StyleID: ind}, excelize.Cell{Value: unitName, StyleID: ind}, r.ProductLineCode}
		exported := make([]string, 12)
		for _, c := range cols {
			if c.sumOf == nil {
				amt := r.Periods[c.amount].Amount
				vals = append(vals, excelize.Cell{Value: float(amt), StyleID: numStyle})
				if c.period > 0 {
					exported[c.period-1] = planning.FormatAmount(amt, m.Scale)
				}
				continue
			}
			if !m.IsSum() {
				// A quarter or year without a value by the rule is empty,
				// not 0.
				amt, absent := r.Total, r.TotalAbsent
				if c.quarter > 0 {
					amt, absent = decimal.Zero, true
					q := v.Rollups[[3]int64{r.OrgUnitID, r.ProductLineID, m.ID}]
					if i := c.quarter - ((v.From-1)/3 + 1); i >= 0 && i < len(q.Periods) {
						amt, absent = q.Periods[i].Amount, q.Periods[i].Absent
					}
				}
				if absent {
					vals = append(vals, excelize.Cell{StyleID: totalStyle})
				} else {
					vals = append(vals, excelize.Cell{Value: float(amt), StyleID: totalStyle})
				}
				continue
			}
			sum := decimal.Zero
			refs := make([]string, len(c.sumOf))
			for j, k := range c.sumOf {
				refs[j] = cellRef(firstPeriod+k, row)
				sum = sum.Add(r.Periods[cols[k].amount].Amount)
			}
			vals = append(vals, excelize.Cell{Formula: "SUM(" + strings.Join(refs, ",") + ")", Value: float(sum), StyleID: totalStyle})
		}
		if err := sw.SetRow(cellRef(1, row), vals); err != nil {
			return nil, err
		}
		meta = append(meta, append([]string{name, r.OrgUnitCode, r.ProductLineCode,
			strconv.FormatInt(r.OrgUnitID, 10), strconv.FormatInt(r.ProductLineID, 10), strconv.FormatInt(m.ID, 10),
			strconv.Itoa(int(m.Scale)), strconv.Itoa(row)}, exported...))
	}
	return meta, sw.Flush()
}

// metaColumns heads the rows of the hidden sheet.
var metaColumns = []string{"sheet", "org_unit", "product_line", "org_unit_id", "product_line_id", "measure_id", "scale", "row",
	"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12"}

func writeMetaSheet(f *excelize.File, v *GridView, rows [][]string) error {
	if _, err := f.NewSheet(MetaSheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(MetaSheet)
	if err != nil {
		return err
	}
	months := []any{"months"}
	for _, m := range v.Round.Months() {
		months = append(months, m)
	}
	head := [][]any{
		{"format", planning.TargetSheetFormat},
		{"version_id", strconv.FormatInt(v.Version.ID, 10)},
		{"revision", strconv.FormatInt(v.Version.Revision, 10)},
		{"round_id", strconv.FormatInt(v.Round.ID, 10)},
		{"round", v.Round.Code},
		{"exported_at", v.ExportedAt.UTC().Format(time.RFC3339)},
		{"exported_by", v.ExportedBy},
		{"grain", string(v.Grain)},
		{"header_row", strconv.Itoa(headerRow)},
		months,
		{},
	}
	n := 0
	for _, r := range head {
		n++
		if err := sw.SetRow(cellRef(1, n), r); err != nil {
			return err
		}
	}
	n++
	if err := sw.SetRow(cellRef(1, n), toAny(metaColumns)); err != nil {
		return err
	}
	for _, r := range rows {
		n++
		if err := sw.SetRow(cellRef(1, n), toAny(r)); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SetSheetVisible(MetaSheet, false)
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// WriteGridCSV writes the view as CSV for machines: a header row and a row
// per org unit, product line and measure with its amounts at the grain as
// plain decimal strings at the measure's scale, and their total.
func WriteGridCSV(w io.Writer, v *GridView) error {
	cw := csv.NewWriter(w)
	header := append([]string{"org_unit", "org_unit_name", "level", "product_line", "measure"}, v.PeriodLabels()...)
	if err := cw.Write(append(header, "total")); err != nil {
		return err
	}
	minDepth := 0
	for _, r := range v.Rows {
		if u := v.Units[r.OrgUnitID]; u != nil && (minDepth == 0 || u.Depth() < minDepth) {
			minDepth = u.Depth()
		}
	}
	for _, r := range v.Rows {
		name, level := "", ""
		if u := v.Units[r.OrgUnitID]; u != nil {
			name, level = safeText(u.Name), strconv.Itoa(u.Depth()-minDepth)
		}
		rec := []string{r.OrgUnitCode, name, level, r.ProductLineCode, r.MeasureCode}
		// A rate or rating without a value is an empty field, not 0.
		csvAmount := func(d decimal.Decimal, absent bool) string {
			if absent {
				return ""
			}
			return planning.FormatAmount(d, r.Scale)
		}
		for _, p := range r.Periods {
			rec = append(rec, csvAmount(p.Amount, p.Absent))
		}
		if err := cw.Write(append(rec, csvAmount(r.Total, r.TotalAbsent))); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// safeText keeps a spreadsheet program from reading text as a formula.
func safeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// PeriodLabels returns the labels of the periods a view's rows carry at its
// grain: the months, the quarters or the year.
func (v *GridView) PeriodLabels() []string {
	var out []string
	for _, c := range v.columns() {
		if c.sumOf == nil {
			out = append(out, c.label)
		}
	}
	return out
}
