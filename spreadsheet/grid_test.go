package spreadsheet_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// sampleView is a small grid: a branch and its two teams, revenue (scale 2)
// and units (scale 0), in a round from April 2027.
func sampleView() *spreadsheet.GridView {
	round := &planning.Round{ID: 7, Code: "FY2027", Name: "Plan 2027", FiscalYear: 2027, FirstMonth: 4}
	version := &planning.Version{ID: 3, RoundID: 7, Number: 2, Label: "revised", Status: planning.VersionWorking, Revision: 41}
	revenue := &planning.Measure{ID: 1, Code: "revenue", Name: "Sales revenue", Unit: "CNY", Scale: 2}
	units := &planning.Measure{ID: 4, Code: "units", Name: "Units sold", Unit: "count", Scale: 0}
	ous := map[int64]*planning.OrgUnit{
		10: {ID: 10, Code: "B-SH", Name: "Shanghai branch", NameLocal: "上海分公司", Path: "/1/6/10/"},
		11: {ID: 11, Code: "B-SH-KA", Name: "Shanghai key accounts", Path: "/1/6/10/11/"},
		12: {ID: 12, Code: "B-SH-CH", Name: "=cmd|' /C calc'!A0", Path: "/1/6/10/12/"},
	}
	row := func(unit int64, line string, lineID int64, m *planning.Measure, months ...string) planning.GridRow {
		r := planning.GridRow{OrgUnitID: unit, OrgUnitCode: ous[unit].Code, ProductLineID: lineID, ProductLineCode: line,
			MeasureID: m.ID, MeasureCode: m.Code, Scale: m.Scale, Total: decimal.Zero}
		for p := 1; p <= 12; p++ {
			amt := decimal.Zero
			if p <= len(months) {
				amt = d(months[p-1])
			}
			r.Periods = append(r.Periods, planning.PeriodAmount{Period: round.MonthLabel(p), Amount: amt})
			r.Total = r.Total.Add(amt)
		}
		return r
	}
	twelve := func(s string) []string {
		out := make([]string, 12)
		for i := range out {
			out[i] = s
		}
		return out
	}
	return &spreadsheet.GridView{Round: round, Version: version, Grain: planning.GrainMonth, From: 1, To: 12,
		ExportedAt: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), ExportedBy: "Business planning office",
		Measures: []*planning.Measure{revenue, units}, Units: ous,
		Rows: []planning.GridRow{
			row(10, "POS", 2, revenue, twelve("1000.00")...),
			row(11, "POS", 2, revenue, "100.10", "200.20", "300.30", "400.40", "500.50", "600.60", "700.70", "800.80", "900.90", "1000.00", "1100.10", "12345678901.23"),
			row(12, "POS", 2, revenue, "0.10", "0.20"),
			row(11, "POS", 2, units, "7", "8", "9"),
		}}
}

func writeXLSX(t *testing.T, v *spreadsheet.GridView) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := spreadsheet.WriteGridXLSX(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGridXLSXLayout(t *testing.T) {
	data := writeXLSX(t, sampleView())
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "revenue,units,"+spreadsheet.MetaSheet {
		t.Fatalf("sheets %s", got)
	}
	if vis, _ := f.GetSheetVisible(spreadsheet.MetaSheet); vis {
		t.Error("the id sheet is visible")
	}
	get := func(cell string) string {
		v, err := f.GetCellValue("revenue", cell)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for cell, want := range map[string]string{
		"A5": "Org unit", "C5": "Product line", "D5": "2027-04", "G5": "FY2027-Q1", "H5": "2027-07", "S5": "FY2027-Q4", "T5": "FY2027",
		"A6": "B-SH", "B6": "Shanghai branch 上海分公司", "A7": "B-SH-KA", "D7": "100.10", "G7": "600.60",
		// The CSV-injection text stays text in a workbook.
		"B8": "=cmd|' /C calc'!A0",
	} {
		if got := get(cell); got != want {
			t.Errorf("%s = %q, want %q", cell, got, want)
		}
	}
	if !strings.Contains(get("A1"), "Plan 2027 (FY2027)") || !strings.Contains(get("A2"), "revision 41") || !strings.Contains(get("A3"), "2026-12-01 09:30 UTC") {
		t.Errorf("header: %q / %q / %q", get("A1"), get("A2"), get("A3"))
	}
	if formula, _ := f.GetCellFormula("revenue", "T7"); formula != "SUM(D7,E7,F7,H7,I7,J7,L7,M7,N7,P7,Q7,R7)" {
		t.Errorf("year formula %q", formula)
	}
	// Indented by level, number formats by scale, frozen headings.
	st7, _ := f.GetCellStyle("revenue", "A7")
	st6, _ := f.GetCellStyle("revenue", "A6")
	s7, _ := f.GetStyle(st7)
	s6, _ := f.GetStyle(st6)
	// An indent shows only on a left-aligned cell.
	if s7.Alignment == nil || s7.Alignment.Indent != 1 || s7.Alignment.Horizontal != "left" || (s6.Alignment != nil && s6.Alignment.Indent != 0) {
		t.Errorf("indents %+v %+v", s6.Alignment, s7.Alignment)
	}
	numStyle, _ := f.GetCellStyle("revenue", "D7")
	ns, _ := f.GetStyle(numStyle)
	if ns.CustomNumFmt == nil || *ns.CustomNumFmt != "#,##0.00" {
		t.Errorf("revenue format %+v", ns.CustomNumFmt)
	}
	unitStyle, _ := f.GetCellStyle("units", "D6")
	us, _ := f.GetStyle(unitStyle)
	if us.CustomNumFmt == nil || *us.CustomNumFmt != "#,##0" {
		t.Errorf("units format %+v", us.CustomNumFmt)
	}
	panes, _ := f.GetPanes("revenue")
	if !panes.Freeze || panes.XSplit != 3 || panes.YSplit != 5 {
		t.Errorf("panes %+v", panes)
	}
	// Print setup: landscape, one page wide, the title and heading rows on
	// every page of every measure's sheet.
	for _, sheet := range []string{"revenue", "units"} {
		layout, err := f.GetPageLayout(sheet)
		props, perr := f.GetSheetProps(sheet)
		if err != nil || perr != nil || *layout.Orientation != "landscape" || props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: print setup %v %v %v", sheet, layout.Orientation, props.FitToPage, err)
		}
	}
	titles := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			titles[dn.Scope] = dn.RefersTo
		}
	}
	if titles["revenue"] != "'revenue'!$1:$5" || titles["units"] != "'units'!$1:$5" {
		t.Errorf("print titles %v", titles)
	}
}

func TestGridCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := spreadsheet.WriteGridCSV(&buf, sampleView()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || strings.Join(recs[0][:6], ",") != "org_unit,org_unit_name,level,product_line,measure,2027-04" || recs[0][17] != "total" {
		t.Fatalf("header %v", recs[0])
	}
	if strings.Join(recs[2][:6], ",") != "B-SH-KA,Shanghai key accounts,1,POS,revenue,100.10" || recs[2][16] != "12345678901.23" || recs[2][17] != "12345685505.83" {
		t.Errorf("row %v", recs[2])
	}
	if recs[3][1] != "'=cmd|' /C calc'!A0" {
		t.Errorf("a name that looks like a formula is not defused: %q", recs[3][1])
	}
	if recs[4][5] != "7" || recs[4][17] != "24" {
		t.Errorf("units row %v", recs[4])
	}
}

// edit changes cells of an exported workbook as a person would.
func edit(t *testing.T, data []byte, fn func(f *excelize.File)) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fn(f)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTargetSheetRoundTrip(t *testing.T) {
	v := sampleView()
	data := writeXLSX(t, v)

	// Untouched, nothing changes, even the amount beyond a double's
	// 15 digits.
	sheet, err := spreadsheet.ReadTargetSheet(data)
	if err != nil || len(sheet.Problems) != 0 {
		t.Fatalf("read: %v %+v", err, sheet.Problems)
	}
	if sheet.VersionID != 3 || sheet.Revision != 41 || sheet.RoundID != 7 || len(sheet.Rows) != 4 || !sheet.ExportedAt.Equal(v.ExportedAt) {
		t.Fatalf("sheet %+v", sheet)
	}
	changed := func(s *planning.TargetSheet) []string {
		var out []string
		for _, r := range s.Rows {
			for _, c := range r.Cells {
				if !c.Value.Equal(c.Exported) {
					out = append(out, fmt.Sprintf("%s!%s %d/%d/%d p%d %s→%s", r.Sheet, c.Ref, r.OrgUnitID, r.ProductLineID, r.MeasureID, c.Period, c.Exported, c.Value))
				}
			}
		}
		return out
	}
	if c := changed(sheet); len(c) != 0 {
		t.Fatalf("untouched workbook changes %v", c)
	}

	// Sorted upside down, with a column of notes inserted and three cells
	// edited (one cleared), it still reads right.
	edited := edit(t, data, func(f *excelize.File) {
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(f.InsertCols("revenue", "C", 1))
		must(f.SetCellStr("revenue", "C5", "Notes"))
		// Swap rows 6 and 8 (B-SH and B-SH-CH) by value, numbers as
		// numbers.
		r6, _ := f.GetRows("revenue", excelize.Options{RawCellValue: true})
		typed := func(v string) any {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return n
			}
			return v
		}
		for j, v := range r6[5] {
			cell, _ := excelize.CoordinatesToCellName(j+1, 8)
			must(f.SetCellValue("revenue", cell, typed(v)))
		}
		for j, v := range r6[7] {
			cell, _ := excelize.CoordinatesToCellName(j+1, 6)
			must(f.SetCellValue("revenue", cell, typed(v)))
		}
		// D→E after the inserted column: 2027-04 of B-SH-CH (now row 6).
		must(f.SetCellValue("revenue", "E6", 0.15))
		must(f.SetCellFormula("revenue", "F7", "200.25+50")) // 2027-05 of B-SH-KA, a formula…
		must(f.SetCellValue("revenue", "F7", 250.25))        // …with its computed value
		must(f.SetCellValue("units", "F6", nil))             // 2027-06 units of B-SH-KA cleared
	})
	sheet, err = spreadsheet.ReadTargetSheet(edited)
	if err != nil || len(sheet.Problems) != 0 {
		t.Fatalf("read edited: %v %+v", err, sheet.Problems)
	}
	want := []string{"revenue!E6 12/2/1 p1 0.1→0.15", "revenue!F7 11/2/1 p2 200.2→250.25", "units!F6 11/2/4 p3 9→0"}
	got := changed(sheet)
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("changes\n got %v\nwant %v", got, want)
	}

	// Text in a month, an added row and a repeated row are problems.
	broken := edit(t, data, func(f *excelize.File) {
		_ = f.SetCellValue("revenue", "E7", "lots")
		_ = f.SetSheetRow("revenue", "A20", &[]any{"B-JS", "Jiangsu", "POS", 1})
		_ = f.SetSheetRow("revenue", "A21", &[]any{"B-SH", "again", "POS", 1})
	})
	sheet, err = spreadsheet.ReadTargetSheet(broken)
	if err != nil {
		t.Fatal(err)
	}
	if len(sheet.Problems) != 3 || sheet.Problems[0].Column != "E7" || sheet.Problems[0].Value != "lots" ||
		!strings.Contains(sheet.Problems[1].Reason, "was not exported") || !strings.Contains(sheet.Problems[2].Reason, "second time (first in row 6)") {
		t.Fatalf("problems %+v", sheet.Problems)
	}

	// A workbook that Cascade did not export.
	other := edit(t, data, func(f *excelize.File) { _ = f.DeleteSheet(spreadsheet.MetaSheet) })
	sheet, err = spreadsheet.ReadTargetSheet(other)
	if err != nil || len(sheet.Problems) != 1 || !strings.Contains(sheet.Problems[0].Reason, "not exported by Cascade") {
		t.Fatalf("foreign workbook: %v %+v", err, sheet.Problems)
	}
	// Only month grain comes back.
	q := sampleView()
	q.Grain = planning.GrainQuarter
	for i := range q.Rows {
		var qs []planning.PeriodAmount
		for k := 0; k < 4; k++ {
			qs = append(qs, planning.PeriodAmount{Period: fmt.Sprintf("FY2027-Q%d", k+1), Amount: q.Rows[i].Periods[k*3].Amount})
		}
		q.Rows[i].Periods = qs
	}
	sheet, err = spreadsheet.ReadTargetSheet(writeXLSX(t, q))
	if err != nil || len(sheet.Problems) != 1 || sheet.Problems[0].Column != "grain" {
		t.Fatalf("quarter grain: %v %+v", err, sheet.Problems)
	}
}

var sofficeOnce sync.Once

// soffice returns the LibreOffice command, or skips the test, saying so
// visibly once: CI installs Debian's libreoffice-calc package.
func soffice(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"soffice", "libreoffice"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	sofficeOnce.Do(func() {
		fmt.Fprintln(os.Stderr, "spreadsheet: LibreOffice (soffice) not found: the test that opens exports in a real spreadsheet program is skipped; install Debian's libreoffice-calc")
	})
	t.Skip("LibreOffice (soffice) not found: install Debian's libreoffice-calc to run this test")
	return ""
}

// convert has LibreOffice convert an XLSX file with the filter and returns
// the file it wrote.
func convert(t *testing.T, bin string, data []byte, filter, ext string) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "export.xlsx")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "--headless", "--norestore", "-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--convert-to", filter, "--outdir", outDir, in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(outDir, "export."+ext))
	if err != nil {
		t.Fatalf("soffice wrote no %s: %v\n%s", ext, err, out)
	}
	return b
}

// convertToCSV converts the first sheet of an XLSX file to CSV with
// LibreOffice, raw numbers (not as shown) in UTF-8.
func convertToCSV(t *testing.T, bin string, data []byte) [][]string {
	t.Helper()
	b := convert(t, bin, data, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false", "csv")
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("soffice's CSV: %v\n%s", err, b)
	}
	return recs
}

// TestExportsOpenInLibreOffice proves the files open in a real spreadsheet
// program: LibreOffice converts the exported workbook and the target letter
// to CSV, and the months and the quarter and year totals are the exported
// numbers.
func TestExportsOpenInLibreOffice(t *testing.T) {
	bin := soffice(t)
	recs := convertToCSV(t, bin, writeXLSX(t, sampleView()))
	if len(recs) != 8 || recs[4][0] != "Org unit" || recs[4][3] != "2027-04" || recs[4][19] != "FY2027" {
		t.Fatalf("converted sheet:\n%v", recs)
	}
	num := func(s string) string {
		if s == "" {
			return "0"
		}
		return d(s).String()
	}
	for i, want := range map[int][]string{
		5: {"B-SH", "1000", "1000", "1000", "3000", "1000", "1000", "1000", "3000", "1000", "1000", "1000", "3000", "1000", "1000", "1000", "3000", "12000"},
		6: {"B-SH-KA", "100.1", "200.2", "300.3", "600.6", "400.4", "500.5", "600.6", "1501.5", "700.7", "800.8", "900.9", "2402.4",
			"1000", "1100.1", "12345678901.23", "12345681001.33", "12345685505.83"},
		7: {"B-SH-CH", "0.1", "0.2", "0", "0.3"},
	} {
		got := []string{recs[i][0]}
		for _, c := range recs[i][3 : 3+len(want)-1] {
			got = append(got, num(c))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row %d:\n got %v\nwant %v", i+1, got, want)
		}
	}

	// Saved again by LibreOffice, the workbook still comes back, unchanged:
	// the hidden sheet and the layout survive a real spreadsheet program.
	resaved := convert(t, bin, writeXLSX(t, sampleView()), "xlsx:Calc MS Excel 2007 XML", "xlsx")
	sheet, err := spreadsheet.ReadTargetSheet(resaved)
	if err != nil || len(sheet.Problems) != 0 || len(sheet.Rows) != 4 || sheet.Revision != 41 {
		t.Fatalf("re-saved by LibreOffice: %v %+v", err, sheet)
	}
	for _, r := range sheet.Rows {
		for _, c := range r.Cells {
			if !c.Value.Equal(c.Exported) {
				t.Errorf("LibreOffice changed %s!%s: %s → %s", r.Sheet, c.Ref, c.Exported, c.Value)
			}
		}
	}

	var buf bytes.Buffer
	v := sampleView()
	approvedAt := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	president := int64(8)
	l := &spreadsheet.Letter{Unit: v.Units[11], Round: v.Round, Version: v.Version, Measures: v.Measures, IssuedAt: approvedAt, IssuedTo: "Shanghai GM",
		Lines: map[int64]*planning.ProductLine{2: {ID: 2, Code: "POS", Name: "POS systems"}},
		Rows:  []planning.GridRow{v.Rows[1], v.Rows[3]},
		Approval: &planning.ApprovalRecord{Record: true, ApprovedBy: &president, ApprovedByName: "President (总裁)", ApprovedAt: &approvedAt,
			Steps: []planning.ApprovalRecordStep{{Role: planning.RolePresident, Action: "approve", ActorID: 8, ActorName: "President (总裁)", At: approvedAt}}}}
	if err := spreadsheet.WriteLetter(&buf, l); err != nil {
		t.Fatal(err)
	}
	recs = convertToCSV(t, bin, buf.Bytes())
	text := fmt.Sprint(recs)
	for _, want := range []string{"Target letter", "B-SH-KA Shanghai key accounts", "Approved by President (总裁)", "2026-12-20 10:00 UTC", "budget of record"} {
		if !strings.Contains(text, want) {
			t.Errorf("letter lacks %q:\n%v", want, recs)
		}
	}
	var found int
	for _, r := range recs {
		if len(r) > 18 && r[0] == "POS" && num(r[18]) == "12345685505.83" {
			found++
		}
		if len(r) > 18 && r[0] == "Total" && (num(r[18]) == "12345685505.83" || num(r[18]) == "24") {
			found++
		}
	}
	if found != 3 {
		t.Errorf("letter numbers (found %d of 3):\n%v", found, recs)
	}
}
