package spreadsheet_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/spreadsheet"
	"github.com/cascade-planning/cascade/spreadsheet/xlsxtest"
)

// TestReadingBombsHitsALimit reads files that unpack to far more than they
// weigh and checks each is refused by the limit made for it (memory is
// measured over HTTP, in the api package's TestUploadBombsKeepMemoryBounded).
func TestReadingBombsHitsALimit(t *testing.T) {
	lim := spreadsheet.DefaultLimits
	for _, c := range []struct {
		name  string
		build func() ([]byte, error)
		limit string
	}{
		{"one cell of 256 MiB of spaces", func() ([]byte, error) { return xlsxtest.CellBomb(256 << 20) }, "max_part_bytes"},
		{"one cell of 200 MiB of spaces", func() ([]byte, error) { return xlsxtest.CellBomb(200 << 20) }, "max_cell_chars"},
		{"a cell one character too long", func() ([]byte, error) {
			return xlsxtest.Workbook(xlsxtest.Text("", xlsxtest.SheetHead+xlsxtest.ActualsHeader+`<row r="2"><c r="A2" t="inlineStr"><is><t>`+
				strings.Repeat("x", lim.MaxCellChars+1)+`</t></is></c></row>`+xlsxtest.SheetTail))
		}, "max_cell_chars"},
		{"the sheet part beyond its budget", func() ([]byte, error) {
			return xlsxtest.Workbook(xlsxtest.Repeat("", xlsxtest.SheetHead+xlsxtest.ActualsHeader, "<row/>", int(lim.MaxPartBytes/6)+1, xlsxtest.SheetTail))
		}, "max_part_bytes"},
		{"a header lying about the size", func() ([]byte, error) { return xlsxtest.LyingBomb(64 << 20) }, ""},
		{"too many shared strings", func() ([]byte, error) { return xlsxtest.SharedStringsBomb(lim.MaxSharedStrings+1, 1, 1) }, "max_shared_strings"},
		{"shared strings too large in all", func() ([]byte, error) {
			return xlsxtest.SharedStringsBomb(int(lim.MaxSharedStringBytes)/30000+1, 30000, 1)
		}, "max_shared_string_bytes"},
		{"a value in the last cell of a sheet", func() ([]byte, error) { return xlsxtest.FarCellBomb("XFD1048576") }, "max_columns"},
		{"a used range of a million rows", func() ([]byte, error) { return xlsxtest.FarCellBomb("IV1048576") }, "max_cells"},
		{"a million parts", func() ([]byte, error) { return xlsxtest.ManyPartsBomb(lim.MaxParts + 1) }, "max_parts"},
		{"elements nested a million deep", func() ([]byte, error) { return xlsxtest.DeepBomb(1 << 20) }, ""},
		{"a DTD", func() ([]byte, error) {
			return xlsxtest.Workbook(xlsxtest.Text("", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>`+xlsxtest.SheetHead+xlsxtest.SheetTail))
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := spreadsheet.ReadActuals(data, spreadsheet.FormatXLSX)
			var le *spreadsheet.LimitError
			switch {
			case c.limit != "" && (!errors.As(err, &le) || le.Limit != c.limit):
				t.Fatalf("want the limit %s, got %v %+v", c.limit, err, got)
			case c.limit == "" && (err != nil || len(got.Problems) != 1 || !strings.Contains(got.Problems[0].Reason, "not a readable XLSX")):
				t.Fatalf("want an unreadable workbook, got %v %+v", err, got)
			}
		})
	}

	// Parts no reader needs are never unpacked, however large.
	data, err := xlsxtest.PaddingBomb(40, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spreadsheet.ReadActuals(data, spreadsheet.FormatXLSX)
	if err != nil || len(got.Problems) != 0 {
		t.Fatalf("padded workbook: %v %+v", err, got)
	}
}

func TestReadingCSVWithinLimits(t *testing.T) {
	lim := spreadsheet.DefaultLimits
	header := "org_unit,product_line,measure,month,amount\n"
	for _, c := range []struct {
		name, data, limit string
	}{
		{"a line of 15 MiB", header + strings.Repeat("x", 15<<20), "max_record_bytes"},
		{"a quoted field over many lines", header + `"` + strings.Repeat("x\n", lim.MaxRecordBytes) + `"`, "max_record_bytes"},
		{"a field one character too long", header + strings.Repeat("x", lim.MaxCellChars+1) + ",POS,revenue,2027-06,1\n", "max_cell_chars"},
	} {
		_, err := spreadsheet.ReadActuals([]byte(c.data), spreadsheet.FormatCSV)
		var le *spreadsheet.LimitError
		if !errors.As(err, &le) || le.Limit != c.limit {
			t.Errorf("%s: want the limit %s, got %v", c.name, c.limit, err)
		}
	}
	// Quoted line ends inside a record do not hide the record's end.
	got, err := spreadsheet.ReadActuals([]byte(header+"B-SH-KA,\"POS\",revenue,2027-06,1\n"+strings.Repeat("B-SH-KA,POS,revenue,2027-06,1\n", 100_000)), spreadsheet.FormatCSV)
	if err != nil || len(got.Rows) != 100_001 {
		t.Fatalf("long clean file: %v %d", err, len(got.Rows))
	}
}

// TestTargetSheetCellsAreNumbers checks every kind of month cell that is not
// a number is a problem naming its sheet and cell, and that a formula's
// computed value counts.
func TestTargetSheetCellsAreNumbers(t *testing.T) {
	data := writeXLSX(t, sampleView())
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	path := sheetPart(t, data, "revenue")
	f.Close()
	// Row 6 (B-SH): D6 TRUE, E6 a formula never computed, F6 an error,
	// (G6 is the quarter's total) H6 text that reads as a number, I6 a
	// number beyond a double, J6 a formula with its value, L6 blank.
	sheet := readPart(t, data, path)
	for ref, cell := range map[string]string{
		"D6": `<c r="D6" t="b"><v>1</v></c>`,
		"E6": `<c r="E6"><f>D6*2</f></c>`,
		"F6": `<c r="F6" t="e"><f>1/0</f><v>#DIV/0!</v></c>`,
		"H6": `<c r="H6" t="inlineStr"><is><t>120000</t></is></c>`,
		"I6": `<c r="I6"><v>1E+309</v></c>`,
		"J6": `<c r="J6"><f>100+0.5</f><v>100.5</v></c>`,
		"L6": `<c r="L6"/>`,
	} {
		re := regexp.MustCompile(`<c r="` + ref + `"[^>]*?(/>|>.*?</c>)`)
		if !re.MatchString(sheet) {
			t.Fatalf("no cell %s in %s", ref, path)
		}
		sheet = re.ReplaceAllLiteralString(sheet, cell)
	}
	edited, err := xlsxtest.Replace(data, xlsxtest.Text(path, sheet))
	if err != nil {
		t.Fatal(err)
	}
	got, err := spreadsheet.ReadTargetSheet(edited)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`revenue D6 "TRUE": holds TRUE or FALSE, not a number`,
		`revenue E6 "": holds a formula that was never computed`,
		`revenue F6 "#DIV/0!": holds the error value #DIV/0!, not a number`,
		`revenue H6 "120000": holds text, not a number`,
		`revenue I6 "1E+309": is out of range`,
	}
	if len(got.Problems) != len(want) {
		t.Fatalf("problems %+v", got.Problems)
	}
	for i, p := range got.Problems {
		s := p.Sheet + " " + p.Column + ` "` + p.Value + `": ` + p.Reason
		if p.Row != 6 || !strings.HasPrefix(s, want[i]) {
			t.Errorf("problem %d: %s, want %s…", i, s, want[i])
		}
	}
	seen := 0
	for _, r := range got.Rows {
		for _, c := range r.Cells {
			if r.Sheet == "revenue" && r.Row == 6 && (c.Ref == "J6" || c.Ref == "L6") {
				seen++
			}
			switch {
			case r.Sheet == "revenue" && r.Row == 6 && c.Ref == "J6" && c.Value.String() != "100.5":
				t.Errorf("J6 reads %s, want the formula's value 100.5", c.Value)
			case r.Sheet == "revenue" && r.Row == 6 && c.Ref == "L6" && !c.Value.IsZero():
				t.Errorf("blank L6 reads %s, want 0", c.Value)
			}
		}
	}
	if seen != 2 {
		t.Errorf("J6 and L6 read %d times, want once each", seen)
	}
}

// sheetPart returns the part of the named sheet of an excelize workbook.
func sheetPart(t *testing.T, data []byte, name string) string {
	t.Helper()
	wb := readPart(t, data, "xl/workbook.xml")
	rels := readPart(t, data, "xl/_rels/workbook.xml.rels")
	id := regexp.MustCompile(`<sheet name="` + name + `" sheetId="\d+" r:id="(rId\d+)"`).FindStringSubmatch(wb)
	if id == nil {
		t.Fatalf("no sheet %s in %s", name, wb)
	}
	target := regexp.MustCompile(`Id="` + id[1] + `"[^>]*Target="/?(?:xl/)?([^"]+)"|Target="/?(?:xl/)?([^"]+)"[^>]*Id="` + id[1] + `"`).FindStringSubmatch(rels)
	if target == nil {
		t.Fatalf("no relationship %s in %s", id[1], rels)
	}
	return "xl/" + target[1] + target[2]
}

func readPart(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no part %s", name)
	return ""
}

// TestNumbersWithHugeExponents reads month cells whose exponents would make
// decimal arithmetic spell out billions of digits: each is refused or read
// as the double it is, at once.
func TestNumbersWithHugeExponents(t *testing.T) {
	data := writeXLSX(t, sampleView())
	path := sheetPart(t, data, "revenue")
	sheet := readPart(t, data, path)
	for _, c := range []struct{ v, want string }{
		{"1E+2000000000", "is out of range"},
		{"1E-2000000000", "0"},
		{"0E+2000000000", "0"},
		{"-1E-400", "0"},
	} {
		re := regexp.MustCompile(`<c r="D6"[^>]*?(/>|>.*?</c>)`)
		edited, err := xlsxtest.Replace(data, xlsxtest.Text(path, re.ReplaceAllLiteralString(sheet, `<c r="D6"><v>`+c.v+`</v></c>`)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := spreadsheet.ReadTargetSheet(edited)
		if err != nil {
			t.Fatal(err)
		}
		read := ""
		for _, p := range got.Problems {
			read += p.Reason
		}
		for _, r := range got.Rows {
			for _, cell := range r.Cells {
				if r.Sheet == "revenue" && cell.Ref == "D6" {
					read += cell.Value.String()
				}
			}
		}
		if !strings.HasPrefix(read, c.want) {
			t.Errorf("%s reads %q, want %s", c.v, read, c.want)
		}
	}
}
