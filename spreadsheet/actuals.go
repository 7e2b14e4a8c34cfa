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

// maxUnzipped bounds what an XLSX file may unpack to, so a small hostile
// file cannot fill the memory or the disk.
const maxUnzipped = 512 << 20

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

// ReadActuals reads an actuals file in format ("csv" or "xlsx"). The first
// row names the columns planning.ActualColumns, in any order and in any
// case; every later row that is not blank is a data row. XLSX files are read
// from the sheet named "actuals", or else the first sheet. A file that cannot
// be read at all is an error; problems with its content are listed in the
// result so an import can report all of them.
func ReadActuals(data []byte, format string) (*ActualsFile, error) {
	var table [][]string
	var rowNums []int
	out := &ActualsFile{Format: format}
	switch format {
	case FormatCSV:
		var err error
		table, rowNums, err = readCSV(data, out)
		if err != nil {
			return nil, err
		}
	case FormatXLSX:
		var err error
		table, rowNums, err = readXLSX(data, out)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if len(table) == 0 && len(out.Problems) > 0 {
		return out, nil
	}
	if len(table) == 0 {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the file is empty: it needs a header row naming the columns " +
			strings.Join(planning.ActualColumns, ", ") + " and a row per actual"})
		return out, nil
	}
	cols, problems := headerColumns(table[0])
	if len(problems) > 0 {
		out.Problems = append(out.Problems, problems...)
		return out, nil
	}
	for i, rec := range table[1:] {
		row := rowNums[i+1]
		if blank(rec) {
			continue
		}
		if len(out.Rows) >= planning.MaxImportRows {
			return nil, ErrTooManyRows
		}
		if len(rec) > len(table[0]) && !blank(rec[len(table[0]):]) {
			out.Problems = append(out.Problems, planning.ImportProblem{Row: row,
				Reason: fmt.Sprintf("has %d values; the header names %d columns", len(rec), len(table[0]))})
			continue
		}
		get := func(name string) string {
			if i := cols[name]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		in := planning.ActualInput{Row: row, OrgUnit: get("org_unit"), ProductLine: get("product_line"), Measure: get("measure"),
			Month: get("month"), Amount: get("amount")}
		if format == FormatXLSX {
			in.Month, in.Amount = monthText(in.Month), amountText(in.Amount)
		}
		out.Rows = append(out.Rows, in)
	}
	return out, nil
}

// headerColumns maps each expected column to its index in the header row.
func headerColumns(header []string) (map[string]int, []planning.ImportProblem) {
	cols := map[string]int{}
	var problems []planning.ImportProblem
	want := strings.Join(planning.ActualColumns, ", ")
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case name == "" && blank(header[i:]):
			// Trailing empty header cells are harmless.
		case name == "":
			problems = append(problems, planning.ImportProblem{Row: 1, Column: columnName(i), Reason: "the column has no name; the columns are " + want})
		case !contains(planning.ActualColumns, name):
			problems = append(problems, planning.ImportProblem{Row: 1, Column: columnName(i), Value: h, Reason: "is not a known column; the columns are " + want})
		default:
			if _, dup := cols[name]; dup {
				problems = append(problems, planning.ImportProblem{Row: 1, Column: columnName(i), Value: h, Reason: "names a column a second time"})
			}
			cols[name] = i
		}
	}
	for _, c := range planning.ActualColumns {
		if _, ok := cols[c]; !ok {
			problems = append(problems, planning.ImportProblem{Row: 1, Column: c, Reason: "the header lacks this column; the columns are " + want})
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

// readCSV reads a UTF-8 CSV file (a byte-order mark is allowed) into rows of
// fields and the line number each row starts on.
func readCSV(data []byte, out *ActualsFile) ([][]string, []int, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the file is not UTF-8 text: save it as CSV UTF-8 (or as .xlsx)"})
		return nil, nil, nil
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	var table [][]string
	var rows []int
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out.Problems = append(out.Problems, planning.ImportProblem{Row: pe.StartLine,
					Reason: fmt.Sprintf("malformed CSV: %s; nothing after this line was read", pe.Err)})
				return table, rows, nil
			}
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		table, rows = append(table, rec), append(rows, line)
		if len(table) > planning.MaxImportRows+1 {
			return nil, nil, ErrTooManyRows
		}
	}
	return table, rows, nil
}

// readXLSX reads the actuals sheet of an XLSX file into rows of raw cell
// texts and their row numbers.
func readXLSX(data []byte, out *ActualsFile) ([][]string, []int, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped})
	if err != nil {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the file is not a readable XLSX workbook: " + err.Error()})
		return nil, nil, nil
	}
	defer f.Close()
	sheet := ""
	for _, name := range f.GetSheetList() {
		if strings.EqualFold(name, "actuals") {
			sheet = name
		}
	}
	if sheet == "" {
		if list := f.GetSheetList(); len(list) > 0 {
			sheet = list[0]
		}
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the workbook's sheet cannot be read: " + err.Error()})
		return nil, nil, nil
	}
	defer rows.Close()
	var table [][]string
	var nums []int
	n := 0
	for rows.Next() {
		n++
		cols, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			out.Problems = append(out.Problems, planning.ImportProblem{Row: n, Reason: "the row cannot be read: " + err.Error()})
			return table, nums, nil
		}
		table, nums = append(table, cols), append(nums, n)
		if len(table) > planning.MaxImportRows+1 {
			return nil, nil, ErrTooManyRows
		}
	}
	if err := rows.Error(); err != nil {
		out.Problems = append(out.Problems, planning.ImportProblem{Reason: "the workbook's sheet cannot be read: " + err.Error()})
	}
	return table, nums, nil
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
