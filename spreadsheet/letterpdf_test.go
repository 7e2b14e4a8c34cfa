package spreadsheet_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// fullBranchLetter is a branch's letter with every one of the 12 product
// lines planned on each of the first measures of revenue, gross margin,
// units, sales expense and collections, monthly amounts near a billion, a
// 4-step approval and a scorecard of one KPI per measure.
func fullBranchLetter(measures int) *spreadsheet.Letter {
	r := &planning.Round{ID: 1, Code: "FY2027", Name: "Plan 2027", FiscalYear: 2027, FirstMonth: 4}
	at := time.Date(2027, 3, 20, 9, 30, 0, 0, time.UTC)
	uid := int64(7)
	l := &spreadsheet.Letter{Unit: &planning.OrgUnit{ID: 5, Code: "B-SH", Name: "Shanghai branch", NameLocal: "上海分公司", Kind: planning.KindBranch},
		Round: r, Version: &planning.Version{ID: 2, RoundID: 1, Number: 2, Label: "after counterproposals", Status: "frozen", Revision: 9},
		Approval: &planning.ApprovalRecord{Record: true, ApprovedBy: &uid, ApprovedByName: "President (总裁)", ApprovedAt: &at, FrozenBy: &uid,
			FrozenByName: "President (总裁)", FrozenAt: &at},
		Lines: map[int64]*planning.ProductLine{}, IssuedAt: at, IssuedTo: "上海分公司总经理"}
	for i, st := range []planning.Role{planning.RoleProductManager, planning.RoleSalesDirector, planning.RoleMarketingDirector, planning.RolePresident} {
		l.Approval.Steps = append(l.Approval.Steps, planning.ApprovalRecordStep{Role: st, Action: "approve", ActorID: int64(i + 1),
			ActorName: "审批人 " + string(st), Comment: "同意", At: at})
	}
	codes := []string{"TERM", "POS", "DMP", "ATM", "SOFT", "CPC", "HPC", "UPS", "MODEM", "PERI", "COMPAQ", "EPSON"}
	for i, c := range codes {
		l.Lines[int64(i+1)] = &planning.ProductLine{ID: int64(i + 1), Code: c, Name: c + " products", NameLocal: c + " 产品"}
	}
	for mi, mc := range []string{"revenue", "gross_margin", "units", "sales_expense", "collections"}[:measures] {
		m := &planning.Measure{ID: int64(mi + 1), Code: mc, Name: mc, NameLocal: "指标" + mc, Unit: "CNY", Scale: 2}
		if mc == "units" {
			m.Unit, m.Scale = "count", 0
		}
		l.Measures = append(l.Measures, m)
		for li := range codes {
			row := planning.GridRow{ProductLineID: int64(li + 1), ProductLineCode: codes[li], MeasureID: m.ID, Scale: m.Scale}
			for p := 1; p <= 12; p++ {
				amt := decimal.New(int64(98765432101+li*1000+p), -m.Scale) // up to 987,654,321.01
				row.Periods = append(row.Periods, planning.PeriodAmount{Period: r.MonthLabel(p), Amount: amt})
			}
			l.Rows = append(l.Rows, row)
		}
	}
	l.Scorecard = &planning.Scorecard{Name: "Branch general manager 分公司总经理", Level: planning.KindBranch, Revision: 1,
		Rounding: planning.Rounding{Places: 2, Mode: planning.RoundHalfUp}}
	weights := []string{"50", "30", "20"}
	if measures == 5 {
		weights = []string{"40", "15", "20", "10", "15"}
	}
	for i, w := range weights {
		l.Scorecard.KPIs = append(l.Scorecard.KPIs, planning.KPI{MeasureCode: l.Measures[i].Code, Label: "KPI " + l.Measures[i].NameLocal,
			Weight: decimal.RequireFromString(w), Direction: planning.HigherIsBetter,
			Curve: planning.Curve{Kind: planning.CurveLinear, FloorPct: decimal.NewFromInt(60), CapPct: decimal.NewFromInt(120)}})
	}
	return l
}

// TestLetterPDFOfAFullBranch checks that a branch letter with every product
// line on three measures (the demo round's) fits two A4 pages, with every
// amount whole (never cut short), and measures what one letter costs; with
// five measures it runs to three pages.
func TestLetterPDFOfAFullBranch(t *testing.T) {
	var five bytes.Buffer
	if err := spreadsheet.WriteLetterPDF(&five, fullBranchLetter(5)); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(five.Bytes(), []byte("/Type /Page\n")); n != 3 {
		t.Errorf("12 lines on 5 measures: %d pages, want 3", n)
	}
	l := fullBranchLetter(3)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var buf bytes.Buffer
	if err := spreadsheet.WriteLetterPDF(&buf, l); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if keep := os.Getenv("CASCADE_KEEP_PDF"); keep != "" {
		_ = os.WriteFile(keep, buf.Bytes(), 0o600)
	}
	pages := bytes.Count(buf.Bytes(), []byte("/Type /Page\n"))
	t.Logf("a full branch letter: %d pages, %d bytes, %.1f MiB allocated", pages, buf.Len(), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
	if pages < 1 || pages > 2 {
		t.Errorf("%d pages, want 1 or 2", pages)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("SKIPPED: pdftotext is not installed (apt-get install poppler-utils): the letter's text is not checked")
	}
	file := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	text := string(out)
	// The year of revenue on EPSON: 12 months of 987,654,321.01 + 11,000
	// + p hundredths, p = 1…12.
	year := decimal.Zero
	for p := 1; p <= 12; p++ {
		year = year.Add(decimal.New(int64(98765432101+11*1000+p), -2))
	}
	for _, want := range []string{"上海分公司", "EPSON 产品", "987,654,321.02", "987,654,431.13", groupForTest(year), "同意", "分公司总经理"} {
		if !strings.Contains(text, want) {
			t.Errorf("the letter lacks %q", want)
		}
	}
	if strings.Contains(text, "…") {
		t.Errorf("something was cut short:\n%s", text)
	}
}

// groupForTest writes 1234567.5 as 1,234,567.50.
func groupForTest(d decimal.Decimal) string {
	s := d.StringFixed(2)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s.%s", b.String(), frac)
}

// BenchmarkWriteLetterPDF writes the two-page letter of a full branch.
func BenchmarkWriteLetterPDF(b *testing.B) {
	l := fullBranchLetter(3)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := spreadsheet.WriteLetterPDF(&buf, l); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLetterPDFTimeZone checks that the letter states its times in the
// configured zone, naming it: 09:30 UTC is 17:30 in Shanghai, and UTC is
// the default.
func TestLetterPDFTimeZone(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("SKIPPED: pdftotext is not installed (apt-get install poppler-utils): the letter's text is not checked")
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		loc       *time.Location
		want, not []string
	}{
		{"Asia/Shanghai", shanghai, []string{"2027-03-20 17:30 CST", "Asia/Shanghai (CST, UTC+08:00)"}, []string{"09:30"}},
		{"default UTC", nil, []string{"2027-03-20 09:30 UTC", "UTC (UTC, UTC+00:00)"}, []string{"17:30"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := fullBranchLetter(3)
			l.Location = tc.loc
			var buf bytes.Buffer
			if err := spreadsheet.WriteLetterPDF(&buf, l); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "letter.pdf")
			if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v %s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the letter lacks %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(string(out), w) {
					t.Errorf("the letter states %q, a time in another zone", w)
				}
			}
		})
	}
}

// TestLetterPDFFontsParsedOnce measures what one letter allocates with
// the fonts parsed once (subsets of the glyphs it draws) against the same
// letter embedding the whole fonts, parsed per letter as before, in the
// same run, and checks the subsets save at least a fifth.
func TestLetterPDFFontsParsedOnce(t *testing.T) {
	l := fullBranchLetter(3)
	measure := func(write func(io.Writer, *spreadsheet.Letter) error) (bytesPer uint64, allocs float64) {
		var buf bytes.Buffer
		if err := write(&buf, l); err != nil { // the first letter parses the fonts
			t.Fatal(err)
		}
		const n = 3
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		allocs = testing.AllocsPerRun(n, func() {
			buf.Reset()
			if err := write(&buf, l); err != nil {
				t.Fatal(err)
			}
		})
		runtime.ReadMemStats(&after)
		// AllocsPerRun runs the function once more to warm up.
		return (after.TotalAlloc - before.TotalAlloc) / (n + 1), allocs
	}
	whole, wholeAllocs := measure(spreadsheet.WriteLetterPDFWholeFonts)
	subset, subsetAllocs := measure(spreadsheet.WriteLetterPDF)
	ratio := float64(subset) / float64(whole)
	t.Logf("per letter: whole fonts %.1f MiB in %.0f allocations; fonts parsed once %.1f MiB in %.0f allocations (%.2f× the bytes)",
		float64(whole)/(1<<20), wholeAllocs, float64(subset)/(1<<20), subsetAllocs, ratio)
	if ratio > 0.8 {
		t.Errorf("a letter allocates %.2f× what it did with the whole fonts, want at most 0.8×", ratio)
	}
}

// BenchmarkWriteLetterPDFWholeFonts is BenchmarkWriteLetterPDF's
// baseline: the same letter embedding the whole fonts, parsed per letter.
func BenchmarkWriteLetterPDFWholeFonts(b *testing.B) {
	l := fullBranchLetter(3)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := spreadsheet.WriteLetterPDFWholeFonts(&buf, l); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLetterRollsUpByAggregation checks that the letters' quarters and
// year of a measure that does not add up are the rollups the grid gives
// (here a market share weighted by revenue), never a sum of the months,
// and that its product lines get no total row.
func TestLetterRollsUpByAggregation(t *testing.T) {
	l := fullBranchLetter(3)
	rev := l.Measures[0].ID
	share := &planning.Measure{ID: 9, Code: "market_share", Name: "Market share", NameLocal: "市场占有率", Unit: "percent", Scale: 2,
		Aggregation: planning.AggWeightedAverage, WeightMeasureID: &rev, WeightMeasureCode: "revenue"}
	l.Measures = append(l.Measures, share)
	row := planning.GridRow{ProductLineID: 2, ProductLineCode: "POS", MeasureID: share.ID, Scale: 2}
	for p := 1; p <= 12; p++ {
		row.Periods = append(row.Periods, planning.PeriodAmount{Period: l.Round.MonthLabel(p), Amount: decimal.New(int64(1000+p), -2)})
	}
	l.Rows = append(l.Rows, row)
	q := planning.GridRow{ProductLineID: 2, MeasureID: share.ID, Scale: 2, Total: d("17.77")}
	for i, v := range []string{"11.11", "12.12", "13.13", "14.14"} {
		q.Periods = append(q.Periods, planning.PeriodAmount{Period: fmt.Sprintf("Q%d", i+1), Amount: d(v)})
	}
	l.Rollups = map[[2]int64]planning.GridRow{{2, share.ID}: q}

	var xb bytes.Buffer
	if err := spreadsheet.WriteLetter(&xb, l); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&xb)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(spreadsheet.LetterSheet)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	inShare := false
	for _, r := range rows {
		if len(r) > 0 && strings.HasPrefix(r[0], "Market share") {
			inShare = true
			if !strings.Contains(r[0], "average weighted by revenue") {
				t.Errorf("heading %q does not say how it rolls up", r[0])
			}
		}
		if inShare && len(r) > 18 {
			got = append(got, r[0]+" "+r[5]+" "+r[17]+" "+r[18])
		}
	}
	// Q1 is the rollup 11.11, not 10.01 + 10.02 + 10.03; the year 17.77.
	if want := []string{"Product line FY2027-Q1 FY2027-Q4 FY2027", "POS 11.11 14.14 17.77"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("market share rows %q, want %q", got, want)
	}

	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("SKIPPED: pdftotext is not installed: the PDF letter is not checked")
	}
	var pb bytes.Buffer
	if err := spreadsheet.WriteLetterPDF(&pb, l); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(file, pb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	text := string(out)
	for _, w := range []string{"average weighted by revenue", "11.11", "14.14", "17.77"} {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF letter lacks %q", w)
		}
	}
	if strings.Contains(text, "30.06") { // Q1 summed
		t.Errorf("the PDF letter sums a market share's months")
	}
}
