package spreadsheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// Formats of import files.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// DetectFormat returns the format of an import file from its name's
// extension or, failing that, its first bytes: "xlsx" for a ZIP archive,
// "csv" for anything else. An old binary Excel file (.xls) is an error.
func DetectFormat(name string, data []byte) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".txt":
		return FormatCSV, nil
	case ".xlsx":
		return FormatXLSX, nil
	case ".xls":
		return "", fmt.Errorf("old Excel files (.xls) are not read: save the file as .xlsx or as CSV UTF-8")
	}
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return FormatXLSX, nil
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return "", fmt.Errorf("old Excel files (.xls) are not read: save the file as .xlsx or as CSV UTF-8")
	}
	return FormatCSV, nil
}

// ActualsFile is what ReadActuals found in a file: the data rows, and every
// problem with the file itself (its encoding, its header, a malformed line).
type ActualsFile struct {
	Format   string
	Rows     []planning.ActualInput
	Problems []planning.ImportProblem
}

// ErrTooManyRows is returned when a file holds more than
// planning.MaxImportRows data rows.
var ErrTooManyRows = errors.New("too many rows")

// maxInterned bounds how many distinct codes and months ReadActuals keeps
// once for all the rows that name them.
const maxInterned = 100_000

// record is one row of a file: its number (the line a CSV record starts on,
// the row of a sheet), its fields, how many values it has (for a sheet, up
// to the last column holding one, which may lie beyond fields), and the
// problems reading its cells raised.
type record struct {
	row      int
	fields   []string
	width    int
	problems []planning.ImportProblem
}

// ReadActuals reads an actuals file in format ("csv" or "xlsx") within
// DefaultLimits. The first row names the columns planning.ActualColumns, in
// any order and in any case; every later row that is not blank is a data
// row. XLSX files are read from the sheet named "actuals", or else the
// first sheet. A file that cannot be read at all is an error: a
// *LimitError for a file beyond the limits, ErrTooManyRows; problems with
// its content are listed in the result so an import can report all of them.
func ReadActuals(data []byte, format string) (*ActualsFile, error) {
	out := &ActualsFile{Format: format}
	var header []string
	var headerSeen bool
	var cols map[string]int
	stop := false
	// Codes and months repeat from row to row: keep each once.
	interned := map[string]string{}
	intern := func(s string) string {
		if v, ok := interned[s]; ok {
			return v
		}
		if len(interned) < maxInterned && len(s) <= 64 {
			s = strings.Clone(s)
			interned[s] = s
		}
		return s
	}
	add := func(rec record) error {
		if stop {
			return nil
		}
		if len(out.Problems) >= planning.MaxImportProblems {
			out.Problems = append(out.Problems, planning.ImportProblem{Row: rec.row,
				Reason: fmt.Sprintf("more than %d problems: nothing from this row on was read; fix these first", planning.MaxImportProblems)})
			stop = true
			return nil
		}
		if !headerSeen {
			headerSeen, header = true, rec.fields
			var problems []planning.ImportProblem
			cols, problems = headerColumns(header, rec.row, nil)
			problems = append(rec.problems, problems...)
			if len(problems) > 0 {
				out.Problems, stop = append(out.Problems, problems...), true
			}
			return nil
		}
		if rec.width > len(header) && !blank(rec.fields[min(len(header), len(rec.fields)):]) || rec.width > len(rec.fields) {
			out.Problems = append(out.Problems, planning.ImportProblem{Row: rec.row,
				Reason: fmt.Sprintf("has %d values; the header names %d columns", rec.width, len(header))})
			return nil
		}
		if blank(rec.fields) && len(rec.problems) == 0 {
			return nil
		}
		if len(out.Rows) >= planning.MaxImportRows {
			return ErrTooManyRows
		}
		if len(rec.problems) > 0 {
			out.Problems = append(out.Problems, rec.problems...)
			return nil
		}
		get := func(name string) string {
			if i := cols[name]; i < len(rec.fields) {
				return strings.TrimSpace(rec.fields[i])
			}
			return ""
		}
		in := planning.ActualInput{Row: rec.row, OrgUnit: intern(get("org_unit")), ProductLine: intern(get("product_line")),
			Measure: intern(get("measure")), Month: intern(get("month")), Amount: get("amount")}
		if format == FormatXLSX {
			in.Month, in.Amount = monthText(in.Month), amountText(in.Amount)
		}
		out.Rows = append(out.Rows, in)
		return nil
	}
	var err error
	switch format {
	case FormatCSV:
		err = readCSV(data, DefaultLimits, out, add)
	case FormatXLSX:
		err = readXLSX(data, DefaultLimits, out, func() int { return len(header) }, add)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	if !headerSeen && len(out.Problems) == 0 {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the file is empty: it needs a header row naming the columns " +
			strings.Join(planning.ActualColumns, ", ") + " and a row per actual"})
	}
	return out, nil
}

// headerColumns maps each expected column to its index in the header row.
func headerColumns(header []string, row int, problems []planning.ImportProblem) (map[string]int, []planning.ImportProblem) {
	cols := map[string]int{}
	want := strings.Join(planning.ActualColumns, ", ")
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case name == "" && blank(header[i:]):
			// Trailing empty header cells are harmless.
		case name == "":
			problems = append(problems, planning.ImportProblem{Row: row, Column: columnName(i), Reason: "the column has no name; the columns are " + want})
		case !contains(planning.ActualColumns, name):
			problems = append(problems, planning.ImportProblem{Row: row, Column: columnName(i), Value: h, Reason: "is not a known column; the columns are " + want})
		default:
			if _, dup := cols[name]; dup {
				problems = append(problems, planning.ImportProblem{Row: row, Column: columnName(i), Value: h, Reason: "names a column a second time"})
			}
			cols[name] = i
		}
	}
	for _, c := range planning.ActualColumns {
		if _, ok := cols[c]; !ok {
			problems = append(problems, planning.ImportProblem{Row: row, Column: c, Reason: "the header lacks this column; the columns are " + want})
		}
	}
	return cols, problems
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// columnName is a spreadsheet column letter: 0 → "A", 27 → "AB".
func columnName(i int) string {
	name, err := excelize.ColumnNumberToName(i + 1)
	if err != nil {
		return strconv.Itoa(i + 1)
	}
	return name
}

// readCSV reads a UTF-8 CSV file (a byte-order mark is allowed) record by
// record, within the limits of one record and one field.
func readCSV(data []byte, lim Limits, out *ActualsFile, add func(record) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the file is not UTF-8 text: save it as CSV UTF-8 (or as .xlsx)"})
		return nil
	}
	r := csv.NewReader(&recordGuard{r: bytes.NewReader(data), max: lim.MaxRecordBytes})
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return le
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out.Problems = append(out.Problems, planning.ImportProblem{Row: pe.StartLine,
					Reason: fmt.Sprintf("malformed CSV: %s; nothing after this line was read", pe.Err)})
				return nil
			}
			return err
		}
		line, _ := r.FieldPos(0)
		for i, f := range rec {
			if len(f) > lim.MaxCellChars && utf8.RuneCountInString(f) > lim.MaxCellChars {
				return limitErr("max_cell_chars", int64(lim.MaxCellChars), "characters in one field", "line %d, column %s", line, columnName(i))
			}
		}
		if err := add(record{row: line, fields: rec, width: len(rec)}); err != nil {
			return err
		}
	}
}

// readXLSX reads the actuals sheet of an XLSX file row by row: the header
// row whole, later rows up to the header's width (cells beyond it only
// count). Numbers and text are taken as the program stored them; TRUE or
// FALSE, error values and formulas never computed are problems.
func readXLSX(data []byte, lim Limits, out *ActualsFile, width func() int, add func(record) error) error {
	w, err := openWorkbook(data, lim)
	if err != nil {
		return xlsxProblem(err, out)
	}
	sheet := ""
	for _, name := range w.sheetNames() {
		if strings.EqualFold(name, "actuals") {
			sheet = name
		}
	}
	if sheet == "" {
		if list := w.sheetNames(); len(list) > 0 {
			sheet = list[0]
		}
	}
	if sheet == "" {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the workbook has no sheet"})
		return nil
	}
	err = w.readSheet(sheet, func(row int, cells []Cell) error {
		n := width()
		if n == 0 { // the header
			n = cells[len(cells)-1].Col + 1
		}
		rec := record{row: row, fields: make([]string, min(n, cells[len(cells)-1].Col+1)), width: cells[len(cells)-1].Col + 1}
		for _, c := range cells {
			if c.Col >= len(rec.fields) {
				if c.Kind == CellText && strings.TrimSpace(c.Text) == "" {
					continue
				}
				break
			}
			switch c.Kind {
			case CellNumber, CellText:
				rec.fields[c.Col] = c.Text
			case CellDate:
				rec.fields[c.Col] = isoMonth(c.Text)
			default:
				rec.problems = append(rec.problems, cellProblem(sheet, row, c))
			}
		}
		if rec.width > len(rec.fields) && blankBeyond(cells, len(rec.fields)) {
			rec.width = len(rec.fields)
		}
		return add(rec)
	})
	if err != nil {
		return xlsxProblem(err, out)
	}
	return nil
}

// blankBeyond reports whether the cells from column n on hold only spaces.
func blankBeyond(cells []Cell, n int) bool {
	for _, c := range cells {
		if c.Col >= n && !(c.Kind == CellText && strings.TrimSpace(c.Text) == "") {
			return false
		}
	}
	return true
}

// xlsxProblem turns a workbook that cannot be read into a problem of the
// file; errors beyond the limits and other failures stay errors.
func xlsxProblem(err error, out *ActualsFile) error {
	if errors.Is(err, errNotXLSX) {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: err.Error()})
		return nil
	}
	return err
}

// cellProblem describes a cell that holds no number and no text.
func cellProblem(sheet string, row int, c Cell) planning.ImportProblem {
	p := planning.ImportProblem{Sheet: sheet, Row: row, Column: c.Ref(row), Value: c.Text}
	switch c.Kind {
	case CellBool:
		p.Value = map[string]string{"1": "TRUE", "0": "FALSE"}[c.Text]
		p.Reason = "holds TRUE or FALSE, not a number"
	case CellError:
		p.Reason = "holds the error value " + c.Text + ", not a number"
	case CellNoValue:
		p.Reason = "holds a formula that was never computed: open and save the workbook in a spreadsheet program, or type the value"
	case CellDate:
		p.Reason = "holds a date, not a number"
	default:
		p.Reason = "holds text, not a number"
	}
	return p
}

// isoMonth turns an ISO 8601 date cell into "YYYY-MM" when it is the first
// of a month, else leaves its date part.
func isoMonth(s string) string {
	if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
		if s[8:10] == "01" {
			return s[:7]
		}
		return s[:10]
	}
	return s
}

// monthText turns a month cell into "YYYY-MM" text. Spreadsheet programs
// turn a typed 2027-06 into a date, stored as a day number; the first day of
// a month becomes that month, any other day its date (which the importer
// then refuses as not a month). Text is left as it is.
func monthText(raw string) string {
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || v < 1 || v > 400000 || v != math.Trunc(v) {
		return raw
	}
	t, err := excelize.ExcelDateToTime(v, false)
	if err != nil {
		return raw
	}
	if t.Day() == 1 {
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}
