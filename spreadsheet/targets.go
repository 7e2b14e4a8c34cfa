package spreadsheet

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// exportedRow is one row of the hidden sheet: where a row was exported to,
// its ids and its exact amounts by fiscal period ("" for a month the export
// did not cover).
type exportedRow struct {
	sheet, unit, line         string
	unitID, lineID, measureID int64
	scale                     int32
	amounts                   [12]string
	seen                      bool
	sheetRow                  int
}

// ReadTargetSheet reads back a workbook WriteGridXLSX wrote, after people
// edited it: the version, revision and round it came from (from the hidden
// sheet) and, for each exported row found on its measure's sheet, every
// month's amount as exported and as the workbook holds it now.
//
// Rows are found by their org unit and product line codes, so people may
// sort, filter and insert columns or rows of notes; month columns are found
// by their headings. A month whose number is, at 15 significant digits, the
// amount exported counts as unchanged. Blank month cells are zero. Rows that
// were not exported, month cells holding text, a row that appears twice and
// a missing hidden sheet are problems of the result; a file that is no
// workbook at all is an error.
func ReadTargetSheet(data []byte) (*planning.TargetSheet, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped})
	if err != nil {
		return nil, fmt.Errorf("the file is not a readable XLSX workbook: %w", err)
	}
	defer f.Close()
	out := &planning.TargetSheet{}
	problem := func(sheet string, row int, col, value, format string, args ...any) {
		out.Problems = append(out.Problems, planning.ImportProblem{Sheet: sheet, Row: row, Column: col, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	if idx, _ := f.GetSheetIndex(MetaSheet); idx < 0 {
		problem("", 0, "", "", "the workbook was not exported by Cascade (it lacks the hidden %s sheet): export the version's targets as XLSX and edit that", MetaSheet)
		return out, nil
	}
	metaRows, err := f.GetRows(MetaSheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	var months []string
	i := 0
	for ; i < len(metaRows) && !blank(metaRows[i]); i++ {
		r := metaRows[i]
		if r[0] == "months" {
			months = r[1:]
		} else if len(r) > 1 {
			meta[r[0]] = r[1]
		}
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
	exported, sheets, err := readExportedRows(metaRows[i+1:], i+2)
	if err != nil {
		problem(MetaSheet, 0, "", "", "%s: the hidden sheet was changed; export the version again", err)
		return out, nil
	}
	for _, name := range sheets {
		if err := readMeasureSheet(f, name, exported, period, out, problem); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readExportedRows reads the hidden sheet's table of rows, keyed by sheet,
// org unit and product line, and lists the sheets in order.
func readExportedRows(rows [][]string, firstRow int) (map[[3]string]*exportedRow, []string, error) {
	out := map[[3]string]*exportedRow{}
	var sheets []string
	if len(rows) == 0 || len(rows[0]) < 8 || rows[0][0] != metaColumns[0] {
		return nil, nil, fmt.Errorf("its table of rows is missing")
	}
	for n, r := range rows[1:] {
		if blank(r) {
			continue
		}
		if len(r) < 8 {
			return nil, nil, fmt.Errorf("row %d is incomplete", firstRow+n+1)
		}
		e := &exportedRow{sheet: r[0], unit: r[1], line: r[2]}
		var err1, err2, err3 error
		e.unitID, err1 = strconv.ParseInt(r[3], 10, 64)
		e.lineID, err2 = strconv.ParseInt(r[4], 10, 64)
		e.measureID, err3 = strconv.ParseInt(r[5], 10, 64)
		scale, err4 := strconv.Atoi(r[6])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, nil, fmt.Errorf("row %d is malformed", firstRow+n+1)
		}
		e.scale = int32(scale)
		copy(e.amounts[:], r[8:])
		k := [3]string{e.sheet, e.unit, e.line}
		if _, dup := out[k]; dup {
			return nil, nil, fmt.Errorf("row %d repeats a row", firstRow+n+1)
		}
		out[k] = e
		if !contains(sheets, e.sheet) {
			sheets = append(sheets, e.sheet)
		}
	}
	return out, sheets, nil
}

// readMeasureSheet reads one measure sheet's rows against what was exported.
func readMeasureSheet(f *excelize.File, name string, exported map[[3]string]*exportedRow, period map[string]int, out *planning.TargetSheet,
	problem func(sheet string, row int, col, value, format string, args ...any)) error {
	if idx, _ := f.GetSheetIndex(name); idx < 0 {
		problem(name, 0, "", "", "the sheet is missing: it was renamed or deleted; its rows cannot be read")
		return nil
	}
	rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
	if err != nil {
		return err
	}
	head, unitCol, lineCol := -1, -1, -1
	cols := map[int]int{} // column index → fiscal period
	for i := 0; i < len(rows) && i < 50 && head < 0; i++ {
		for j, c := range rows[i] {
			switch strings.TrimSpace(c) {
			case colUnit:
				unitCol = j
			case colLine:
				lineCol = j
			}
		}
		if unitCol >= 0 && lineCol >= 0 {
			head = i
			for j, c := range rows[i] {
				if p, ok := period[strings.TrimSpace(c)]; ok {
					cols[j] = p
				}
			}
		} else {
			unitCol, lineCol = -1, -1
		}
	}
	if head < 0 {
		problem(name, 0, "", "", "the sheet lacks its heading row (%q, %q and the months)", colUnit, colLine)
		return nil
	}
	cell := func(r []string, j int) string {
		if j < len(r) {
			return strings.TrimSpace(r[j])
		}
		return ""
	}
	for i := head + 1; i < len(rows); i++ {
		r, rowNum := rows[i], i+1
		unit, line := cell(r, unitCol), cell(r, lineCol)
		if unit == "" && line == "" {
			continue
		}
		e := exported[[3]string{name, unit, line}]
		if e == nil {
			problem(name, rowNum, "", unit+" / "+line, "was not exported in this workbook: rows cannot be added here (export a view that includes them)")
			continue
		}
		if e.seen {
			problem(name, rowNum, "", unit+" / "+line, "appears a second time (first in row %d)", e.sheetRow)
			continue
		}
		e.seen, e.sheetRow = true, rowNum
		row := planning.TargetSheetRow{Sheet: name, Row: rowNum, OrgUnitID: e.unitID, ProductLineID: e.lineID, MeasureID: e.measureID, Scale: e.scale}
		for j, p := range cols {
			if e.amounts[p-1] == "" {
				continue // the export did not cover this month
			}
			was, err := decimal.NewFromString(e.amounts[p-1])
			if err != nil {
				problem(MetaSheet, 0, "", e.amounts[p-1], "is not an amount: the hidden sheet was changed; export the version again")
				return nil
			}
			raw := cell(r, j)
			now, err := sheetNumber(raw)
			ref := cellRef(j+1, rowNum)
			if err != nil {
				problem(name, rowNum, ref, raw, "%s", err)
				continue
			}
			if now.Equal(roundSig(was)) {
				now = was
			}
			row.Cells = append(row.Cells, planning.TargetSheetCell{Period: p, Ref: ref, Exported: was, Value: now})
		}
		slices.SortFunc(row.Cells, func(a, b planning.TargetSheetCell) int { return a.Period - b.Period })
		out.Rows = append(out.Rows, row)
	}
	return nil
}
