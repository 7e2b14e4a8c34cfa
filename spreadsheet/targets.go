package spreadsheet

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// exportedRow is one row of the hidden sheet: its ids and its exact
// amounts by fiscal period ("" for a month the export did not cover), kept
// compact (the amounts as one string), since a hidden sheet lists up to
// MaxExportedRows of them.
type exportedRow struct {
	unitID, lineID, measureID int64
	scale                     int32
	seen                      bool
	sheetRow                  int
	amounts                   string // the 12 amounts joined by amountSep
}

const amountSep = "|"

// amount returns the exported amount of fiscal period p.
func (e *exportedRow) amount(p int) string {
	s := e.amounts
	for i := 1; i < p; i++ {
		_, s, _ = strings.Cut(s, amountSep)
	}
	a, _, _ := strings.Cut(s, amountSep)
	return a
}

// ReadTargetSheet reads back a workbook WriteGridXLSX wrote, after people
// edited it, within DefaultLimits: the version, revision and round it came
// from (from the hidden sheet) and, for each exported row found on its
// measure's sheet, every month's amount as exported and as the workbook
// holds it now.
//
// Rows are found by their org unit and product line codes, so people may
// sort, filter and insert columns or rows of notes; month columns are found
// by their headings. A month whose number is, at 15 significant digits, the
// amount exported counts as unchanged. A month cell is a number (typed, or
// a formula's computed value) or blank, which is zero; anything else (text,
// TRUE or FALSE, an error value, a formula never computed) is a problem
// naming the sheet and cell, as are rows that were not exported, a row
// that appears twice and a missing hidden sheet. A file that is no
// workbook at all is an error; so is one beyond the limits (*LimitError).
func ReadTargetSheet(data []byte) (*planning.TargetSheet, error) {
	w, err := openWorkbook(data, DefaultLimits)
	if err != nil {
		return nil, err
	}
	out := &planning.TargetSheet{}
	problem := func(sheet string, row int, col, value, format string, args ...any) {
		switch n := len(out.Problems); {
		case n > planning.MaxImportProblems:
			return
		case n == planning.MaxImportProblems:
			out.Problems = append(out.Problems, planning.ImportProblem{Sheet: sheet, Row: row,
				Reason: fmt.Sprintf("more than %d problems: nothing from here on was read; fix these first", planning.MaxImportProblems)})
			return
		}
		out.Problems = append(out.Problems, planning.ImportProblem{Sheet: sheet, Row: row, Column: col, Value: planning.ClipValue(value), Reason: fmt.Sprintf(format, args...)})
	}
	if w.sheet(MetaSheet) == nil {
		problem("", 0, "", "", "the workbook was not exported by Cascade (it lacks the hidden %s sheet): export the version's targets as XLSX and edit that", MetaSheet)
		return out, nil
	}
	meta := map[string]string{}
	var months []string
	exported := map[[3]string]*exportedRow{}
	var sheets []string
	inTable := false
	var tableErr error
	// Sheet names, codes and product lines repeat: keep each once.
	interned := map[string]string{}
	intern := func(s string) string {
		if v, ok := interned[s]; ok {
			return v
		}
		s = strings.Clone(s)
		interned[s] = s
		return s
	}
	err = w.readSheet(MetaSheet, func(row int, cells []Cell) error {
		r := texts(cells)
		switch {
		case tableErr != nil:
		case !inTable && r[0] == metaColumns[0]:
			if len(r) < 8 {
				tableErr = fmt.Errorf("its table of rows is missing")
			}
			inTable = true
		case !inTable && r[0] == "months":
			months = r[1:]
		case !inTable && len(r) > 1:
			meta[r[0]] = r[1]
		case inTable && len(exported) >= MaxExportedRows:
			tableErr = fmt.Errorf("it lists more than %d rows, more than an export writes", MaxExportedRows)
		case inTable:
			tableErr = readExportedRow(r, row, exported, &sheets, intern)
		}
		if tableErr != nil {
			return errStopReading
		}
		return nil
	})
	if err != nil && err != errStopReading {
		return nil, err
	}
	if meta["format"] != planning.TargetSheetFormat {
		problem(MetaSheet, 0, "", meta["format"], "the workbook's layout is not %s: export it again", planning.TargetSheetFormat)
		return out, nil
	}
	if g := meta["grain"]; g != string(planning.GrainMonth) {
		problem("", 0, "grain", g, "only workbooks exported by month come back: export with grain=month")
		return out, nil
	}
	ids := map[string]*int64{"version_id": &out.VersionID, "revision": &out.Revision, "round_id": &out.RoundID}
	for k, p := range ids {
		n, err := strconv.ParseInt(meta[k], 10, 64)
		if err != nil {
			problem(MetaSheet, 0, k, meta[k], "is not a number: the hidden sheet was changed; export the version again")
			return out, nil
		}
		*p = n
	}
	out.ExportedAt, _ = time.Parse(time.RFC3339, meta["exported_at"])
	period := map[string]int{}
	for p, m := range months {
		period[m] = p + 1
	}
	if tableErr == nil && !inTable {
		tableErr = fmt.Errorf("its table of rows is missing")
	}
	if tableErr != nil {
		problem(MetaSheet, 0, "", "", "%s: the hidden sheet was changed; export the version again", tableErr)
		return out, nil
	}
	for _, name := range sheets {
		if err := readMeasureSheet(w, name, exported, period, out, problem); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MaxExportedRows is the most rows an export writes (and a workbook's
// hidden sheet may list).
const MaxExportedRows = 100_000

// errStopReading ends the reading of a sheet early.
var errStopReading = errors.New("stop reading")

// texts returns the text of a row's cells by column, up to its last cell.
func texts(cells []Cell) []string {
	out := make([]string, cells[len(cells)-1].Col+1)
	for _, c := range cells {
		out[c.Col] = c.Text
	}
	return out
}

// readExportedRow reads one row of the hidden sheet's table of rows, keyed
// by sheet, org unit and product line, and lists the sheets in order.
func readExportedRow(r []string, rowNum int, out map[[3]string]*exportedRow, sheets *[]string, intern func(string) string) error {
	if len(r) < 8 {
		return fmt.Errorf("row %d is incomplete", rowNum)
	}
	if len(r) > 8+12 {
		return fmt.Errorf("row %d is malformed", rowNum)
	}
	e := &exportedRow{}
	var err1, err2, err3 error
	e.unitID, err1 = strconv.ParseInt(r[3], 10, 64)
	e.lineID, err2 = strconv.ParseInt(r[4], 10, 64)
	e.measureID, err3 = strconv.ParseInt(r[5], 10, 64)
	scale, err4 := strconv.Atoi(r[6])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return fmt.Errorf("row %d is malformed", rowNum)
	}
	e.scale = int32(scale)
	var amounts [12]string
	copy(amounts[:], r[8:])
	for _, a := range amounts {
		if strings.Contains(a, amountSep) {
			return fmt.Errorf("row %d is malformed", rowNum)
		}
	}
	e.amounts = strings.Join(amounts[:], amountSep)
	k := [3]string{intern(r[0]), intern(r[1]), intern(r[2])}
	if _, dup := out[k]; dup {
		return fmt.Errorf("row %d repeats a row", rowNum)
	}
	out[k] = e
	if !contains(*sheets, k[0]) {
		*sheets = append(*sheets, k[0])
	}
	return nil
}

// readMeasureSheet reads one measure sheet's rows against what was
// exported, row by row.
func readMeasureSheet(w *workbook, name string, exported map[[3]string]*exportedRow, period map[string]int, out *planning.TargetSheet,
	problem func(sheet string, row int, col, value, format string, args ...any)) error {
	if w.sheet(name) == nil {
		problem(name, 0, "", "", "the sheet is missing: it was renamed or deleted; its rows cannot be read")
		return nil
	}
	head, unitCol, lineCol := -1, -1, -1
	cols := map[int]int{} // column index → fiscal period
	stop := false
	err := w.readSheet(name, func(rowNum int, cells []Cell) error {
		if stop || len(out.Problems) > planning.MaxImportProblems {
			return errStopReading
		}
		if head < 0 {
			if rowNum > 50 {
				stop = true
				return nil
			}
			unitCol, lineCol = -1, -1
			for _, c := range cells {
				switch strings.TrimSpace(c.Text) {
				case colUnit:
					unitCol = c.Col
				case colLine:
					lineCol = c.Col
				}
			}
			if unitCol >= 0 && lineCol >= 0 {
				head = rowNum
				for _, c := range cells {
					if p, ok := period[strings.TrimSpace(c.Text)]; ok {
						cols[c.Col] = p
					}
				}
			}
			return nil
		}
		byCol := map[int]Cell{}
		for _, c := range cells {
			if c.Col == unitCol || c.Col == lineCol || cols[c.Col] > 0 {
				byCol[c.Col] = c
			}
		}
		unit, line := strings.TrimSpace(byCol[unitCol].Text), strings.TrimSpace(byCol[lineCol].Text)
		if unit == "" && line == "" {
			return nil
		}
		e := exported[[3]string{name, unit, line}]
		if e == nil {
			problem(name, rowNum, "", unit+" / "+line, "was not exported in this workbook: rows cannot be added here (export a view that includes them)")
			return nil
		}
		if e.seen {
			problem(name, rowNum, "", unit+" / "+line, "appears a second time (first in row %d)", e.sheetRow)
			return nil
		}
		e.seen, e.sheetRow = true, rowNum
		row := planning.TargetSheetRow{Sheet: name, Row: rowNum, OrgUnitID: e.unitID, ProductLineID: e.lineID, MeasureID: e.measureID, Scale: e.scale}
		for _, j := range slices.Sorted(maps.Keys(cols)) {
			p := cols[j]
			exp := e.amount(p)
			if exp == "" {
				continue // the export did not cover this month
			}
			was, err := plainDecimal(exp)
			if err != nil {
				problem(MetaSheet, 0, "", exp, "is not an amount: the hidden sheet was changed; export the version again")
				stop = true
				return nil
			}
			ref := cellRef(j+1, rowNum)
			now := decimal.Zero
			if c, ok := byCol[j]; ok {
				if c.Kind != CellNumber {
					p := cellProblem(name, rowNum, c)
					problem(p.Sheet, p.Row, ref, p.Value, "%s", p.Reason)
					continue
				}
				if now, err = sheetNumber(c.Text); err != nil {
					problem(name, rowNum, ref, c.Text, "%s", err)
					continue
				}
			}
			if now.Equal(roundSig(was)) {
				now = was
			}
			row.Cells = append(row.Cells, planning.TargetSheetCell{Period: p, Ref: ref, Exported: was, Value: now})
		}
		slices.SortFunc(row.Cells, func(a, b planning.TargetSheetCell) int { return a.Period - b.Period })
		out.Rows = append(out.Rows, row)
		return nil
	})
	if err != nil && err != errStopReading {
		return err
	}
	if head < 0 {
		problem(name, 0, "", "", "the sheet lacks its heading row (%q, %q and the months)", colUnit, colLine)
	}
	return nil
}

// plainDecimal reads an amount of the hidden sheet: a plain decimal such as
// "-1234.50", never scientific notation, at most 40 characters.
func plainDecimal(s string) (decimal.Decimal, error) {
	if len(s) > 40 || strings.ContainsAny(s, "eE") {
		return decimal.Decimal{}, fmt.Errorf("not a plain decimal")
	}
	return decimal.NewFromString(s)
}
