package spreadsheet

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// Letter is a target letter (目标责任书): an org unit's targets in the budget
// of record by product line and month, for each measure, with the record of
// who approved them and when.
type Letter struct {
	Unit     *planning.OrgUnit
	Round    *planning.Round
	Version  *planning.Version
	Approval *planning.ApprovalRecord
	Measures []*planning.Measure
	Lines    map[int64]*planning.ProductLine
	// Rows are the unit's own cells at month grain over the whole year.
	Rows     []planning.GridRow
	IssuedAt time.Time
	IssuedTo string
	// Scorecard is the scorecard of the unit's level, if the round has
	// one; the PDF letter shows it.
	Scorecard *planning.Scorecard
	// Rollups are the unit's quarter-grain rows, by product line and
	// measure, of the measures that do not add up: their quarters and year
	// follow the measure's aggregation rule, not a sum of the months.
	Rollups map[[2]int64]planning.GridRow
	// Location is the time zone the PDF letter states dates and times in,
	// with its name; nil means UTC.
	Location *time.Location
}

// LetterSheet is the name of the letter's one sheet.
const LetterSheet = "Target letter"

// WriteLetter writes the letter as a one-sheet workbook: the unit, round,
// version and approval record on top, then for each measure a table of the
// product lines by month with quarter and year totals and a total row.
func WriteLetter(w io.Writer, l *Letter) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", LetterSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	label, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	if err := printSetup(f, LetterSheet, 0, 0); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(LetterSheet)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 16); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 2, 30); err != nil {
		return err
	}
	if err := sw.SetColWidth(3, 20, 14); err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, XSplit: 2, TopLeftCell: "C1", ActivePane: "topRight"}); err != nil {
		return err
	}
	row := 0
	put := func(vals ...any) error {
		row++
		return sw.SetRow(cellRef(1, row), vals)
	}
	unitName := l.Unit.Name
	if l.Unit.NameLocal != "" {
		unitName += " " + l.Unit.NameLocal
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	status := "not the budget of record"
	if l.Approval != nil && l.Approval.Record {
		status = "budget of record"
	}
	head := [][2]string{
		{"Org unit", fmt.Sprintf("%s %s", l.Unit.Code, unitName)},
		{"Planning round", fmt.Sprintf("%s %s, fiscal year %d (%s to %s)", l.Round.Code, l.Round.Name, l.Round.FiscalYear, l.Round.MonthLabel(1), l.Round.MonthLabel(12))},
		{"Version", fmt.Sprintf("%d %s (%s, %s, revision %d)", l.Version.Number, l.Version.Label, l.Version.Status, status, l.Version.Revision)},
	}
	if a := l.Approval; a != nil {
		head = append(head,
			[2]string{"Approved by", person(a.ApprovedByName, a.ApprovedBy)},
			[2]string{"Approved at", when(a.ApprovedAt)})
		if a.Comment != "" {
			head = append(head, [2]string{"Approval note", a.Comment})
		}
		head = append(head,
			[2]string{"Frozen by", person(a.FrozenByName, a.FrozenBy)},
			[2]string{"Frozen at", when(a.FrozenAt)})
		for i, st := range a.Steps {
			at := st.At
			line := fmt.Sprintf("%s by %s (%s), %s", st.Action, person(st.ActorName, &st.ActorID), st.Role, when(&at))
			if st.Comment != "" {
				line += ": " + st.Comment
			}
			head = append(head, [2]string{fmt.Sprintf("Approval step %d", i+1), line})
		}
	}
	head = append(head, [2]string{"Issued", fmt.Sprintf("%s to %s", l.IssuedAt.UTC().Format("2006-01-02 15:04 UTC"), l.IssuedTo)})
	if err := put(excelize.Cell{Value: "Target letter 目标责任书: " + unitName, StyleID: st.title}); err != nil {
		return err
	}
	for _, h := range head {
		if err := put(excelize.Cell{Value: h[0], StyleID: label}, h[1]); err != nil {
			return err
		}
	}
	view := &GridView{Round: l.Round, Grain: planning.GrainMonth, From: 1, To: 12}
	cols := view.columns()
	for _, m := range l.Measures {
		row++
		if err := put(excelize.Cell{Value: fmt.Sprintf("%s %s (%s, %s%s)", m.Name, m.NameLocal, m.Code, m.Unit, AggregationNote(m)), StyleID: st.title}); err != nil {
			return err
		}
		header := []any{excelize.Cell{Value: colLine, StyleID: st.header}, excelize.Cell{Value: colName, StyleID: st.header}}
		for _, c := range cols {
			header = append(header, excelize.Cell{Value: c.label, StyleID: st.header})
		}
		if err := put(header...); err != nil {
			return err
		}
		num, err := st.amount(m.Scale, false)
		if err != nil {
			return err
		}
		bold, err := st.amount(m.Scale, true)
		if err != nil {
			return err
		}
		first := row + 1
		totals := make([]decimal.Decimal, len(cols))
		for _, r := range l.Rows {
			if r.MeasureID != m.ID {
				continue
			}
			name := ""
			if pl := l.Lines[r.ProductLineID]; pl != nil {
				name = pl.Name
				if pl.NameLocal != "" && pl.NameLocal != pl.Code {
					name += " " + pl.NameLocal
				}
			}
			vals := []any{r.ProductLineCode, name}
			for ci, c := range cols {
				amt := decimal.Zero
				if c.sumOf == nil {
					amt = r.Periods[c.amount].Amount
					vals = append(vals, excelize.Cell{Value: float(amt), StyleID: num})
				} else if v, ok := l.rollup(m, r.ProductLineID, c); ok {
					amt = v
					vals = append(vals, excelize.Cell{Value: float(amt), StyleID: bold})
				} else {
					refs := make([]string, len(c.sumOf))
					for j, k := range c.sumOf {
						refs[j] = cellRef(3+k, row+1)
						amt = amt.Add(r.Periods[cols[k].amount].Amount)
					}
					vals = append(vals, excelize.Cell{Formula: "SUM(" + strings.Join(refs, ",") + ")", Value: float(amt), StyleID: bold})
				}
				totals[ci] = totals[ci].Add(amt)
			}
			if err := put(vals...); err != nil {
				return err
			}
		}
		if !m.IsSum() {
			// Rates, levels and ratings of product lines do not add up.
			continue
		}
		vals := []any{excelize.Cell{Value: "Total", StyleID: label}, ""}
		for ci := range cols {
			formula := ""
			if row >= first {
				formula = fmt.Sprintf("SUM(%s:%s)", cellRef(3+ci, first), cellRef(3+ci, row))
			}
			vals = append(vals, excelize.Cell{Formula: formula, Value: float(totals[ci]), StyleID: bold})
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

// rollup returns the quarter or year of a measure that does not add up,
// from the letter's rollups; false for sums and for months.
func (l *Letter) rollup(m *planning.Measure, line int64, c column) (decimal.Decimal, bool) {
	if m.IsSum() || c.quarter == 0 && !c.year {
		return decimal.Zero, false
	}
	r, ok := l.Rollups[[2]int64{line, m.ID}]
	if !ok {
		return decimal.Zero, true
	}
	if c.year {
		return r.Total, true
	}
	if c.quarter-1 < len(r.Periods) {
		return r.Periods[c.quarter-1].Amount, true
	}
	return decimal.Zero, true
}

// AggregationNote says how a measure that does not add up rolls up to
// quarters and the year, for headings; empty for sums.
func AggregationNote(m *planning.Measure) string {
	switch m.Agg() {
	case planning.AggWeightedAverage:
		return "; quarters and year: average weighted by " + m.WeightMeasureCode
	case planning.AggLastValue:
		return "; quarters and year: the last month's value"
	case planning.AggNone:
		return "; quarters and year: the period's last month, not aggregated"
	}
	return ""
}

func person(name string, id *int64) string {
	switch {
	case name != "":
		return name
	case id != nil:
		return fmt.Sprintf("user %d", *id)
	}
	return "system"
}
