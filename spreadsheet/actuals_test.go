package spreadsheet_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

func TestDetectFormat(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
		want string
		err  bool
	}{
		{"june.csv", "a,b", "csv", false},
		{"June.XLSX", "", "xlsx", false},
		{"upload", "PK\x03\x04rest", "xlsx", false},
		{"upload", "org_unit,product_line", "csv", false},
		{"old.xls", "", "", true},
		{"upload", "\xd0\xcf\x11\xe0", "", true},
	} {
		got, err := spreadsheet.DetectFormat(c.name, []byte(c.data))
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s: %q %v", c.name, got, err)
		}
	}
}

func TestReadActualsCSV(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     string
		rows     []planning.ActualInput
		problems []string // "row column: reason fragment"
	}{
		{name: "clean, any column order and case, a BOM, blank lines skipped",
			data: "\xef\xbb\xbfMonth,org_unit,Product_Line,measure,amount\n2027-06,B-SH-KA,POS,revenue,1000.50\n\n,,,,\n2027-06, B-SH-CH ,POS,revenue,-2\r\n",
			rows: []planning.ActualInput{
				{Row: 2, OrgUnit: "B-SH-KA", ProductLine: "POS", Measure: "revenue", Month: "2027-06", Amount: "1000.50"},
				{Row: 5, OrgUnit: "B-SH-CH", ProductLine: "POS", Measure: "revenue", Month: "2027-06", Amount: "-2"},
			}},
		{name: "empty file", data: "", problems: []string{"0 : the file is empty"}},
		{name: "header only", data: "org_unit,product_line,measure,month,amount\n"},
		{name: "wrong headers", data: "unit,product_line,measure,month,amount,amount,,note\nB-SH,POS,revenue,2027-06,1\n",
			problems: []string{"1 A: is not a known column", "1 F: names a column a second time", "1 G: the column has no name",
				"1 H: is not a known column", "1 org_unit: the header lacks this column"}},
		{name: "not UTF-8", data: "org_unit,product_line,measure,month,amount\n\xc9\xcf\xba\xa3,POS,revenue,2027-06,1\n",
			problems: []string{"0 : not UTF-8"}},
		{name: "a malformed line stops the reading", data: "org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1\nB-SH-KA,\"POS,revenue\n",
			rows:     []planning.ActualInput{{Row: 2, OrgUnit: "B-SH-KA", ProductLine: "POS", Measure: "revenue", Month: "2027-06", Amount: "1"}},
			problems: []string{"3 : malformed CSV"}},
		{name: "too many values", data: "org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1,234.00\n",
			problems: []string{"2 : has 6 values"}},
		{name: "too few values leave fields empty", data: "org_unit,product_line,measure,month,amount\nB-SH-KA,POS\n",
			rows: []planning.ActualInput{{Row: 2, OrgUnit: "B-SH-KA", ProductLine: "POS"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := spreadsheet.ReadActuals([]byte(c.data), spreadsheet.FormatCSV)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Rows) != len(c.rows) {
				t.Fatalf("rows %+v, want %+v", f.Rows, c.rows)
			}
			for i := range c.rows {
				if f.Rows[i] != c.rows[i] {
					t.Errorf("row %d: %+v, want %+v", i, f.Rows[i], c.rows[i])
				}
			}
			checkProblems(t, f.Problems, c.problems)
		})
	}
}

func checkProblems(t *testing.T, got []planning.ImportProblem, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("problems %+v, want %v", got, want)
	}
	for i, w := range want {
		head, frag, _ := strings.Cut(w, ": ")
		var row int
		var col string
		parts := strings.SplitN(head, " ", 2)
		for _, ch := range parts[0] {
			row = row*10 + int(ch-'0')
		}
		if len(parts) > 1 {
			col = parts[1]
		}
		if got[i].Row != row || got[i].Column != col || !strings.Contains(got[i].Reason, frag) {
			t.Errorf("problem %d: %+v, want %s", i, got[i], w)
		}
	}
}

func TestReadActualsXLSX(t *testing.T) {
	f := excelize.NewFile()
	if _, err := f.NewSheet("notes"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetName("Sheet1", "Actuals"); err != nil {
		t.Fatal(err)
	}
	set := func(cell string, v any) {
		if err := f.SetCellValue("Actuals", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range []string{"org_unit", "product_line", "measure", "month", "amount"} {
		set(string(rune('A'+i))+"1", h)
	}
	// Row 2: text everywhere. Row 3: a real number, and a month the
	// program turned into a date. Row 5 (row 4 blank): a number stored with
	// more digits than a double holds, and a date that is not a first of
	// the month. Row 6: a code that is a number, and an amount typed as text
	// with a thousands separator.
	for _, c := range [][2]any{{"A2", "B-SH-KA"}, {"B2", "POS"}, {"C2", "revenue"}, {"D2", "2027-06"}, {"E2", "1000.50"},
		{"A3", "B-SH-CH"}, {"B3", "POS"}, {"C3", "units"}, {"D3", time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)}, {"E3", 1234.56},
		{"A5", "B-SH-KA"}, {"B5", "CPC"}, {"C5", "revenue"}, {"D5", time.Date(2027, 7, 15, 0, 0, 0, 0, time.UTC)}, {"E5", 0.1 + 0.2},
		{"A6", 1001}, {"B6", "POS"}, {"C6", "revenue"}, {"D6", "2027-08"}, {"E6", "1,234.00"}} {
		set(c[0].(string), c[1])
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := spreadsheet.ReadActuals(buf.Bytes(), spreadsheet.FormatXLSX)
	if err != nil {
		t.Fatal(err)
	}
	want := []planning.ActualInput{
		{Row: 2, OrgUnit: "B-SH-KA", ProductLine: "POS", Measure: "revenue", Month: "2027-06", Amount: "1000.50"},
		{Row: 3, OrgUnit: "B-SH-CH", ProductLine: "POS", Measure: "units", Month: "2027-07", Amount: "1234.56"},
		{Row: 5, OrgUnit: "B-SH-KA", ProductLine: "CPC", Measure: "revenue", Month: "2027-07-15", Amount: "0.3"},
		{Row: 6, OrgUnit: "1001", ProductLine: "POS", Measure: "revenue", Month: "2027-08", Amount: "1,234.00"},
	}
	if len(got.Problems) != 0 || len(got.Rows) != len(want) {
		t.Fatalf("read %+v", got)
	}
	for i := range want {
		if got.Rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got.Rows[i], want[i])
		}
	}

	// Not a workbook at all.
	bad, err := spreadsheet.ReadActuals([]byte("PK\x03\x04 broken"), spreadsheet.FormatXLSX)
	if err != nil || len(bad.Problems) != 1 || !strings.Contains(bad.Problems[0].Reason, "not a readable XLSX") {
		t.Fatalf("broken workbook: %+v %v", bad, err)
	}
}
