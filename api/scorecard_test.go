package api_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// branchCard is revenue (60%, linear 0-120%) and POS revenue as a key
// product (40%, steps), rounded at 2 places half up.
func branchCard(edit func(kpis []map[string]any)) map[string]any {
	kpis := []map[string]any{
		{"measure": "revenue", "label": "Revenue", "weight": "60", "direction": "higher",
			"curve": map[string]any{"kind": "linear", "floor_pct": "0", "cap_pct": "120"}},
		{"measure": "revenue", "product_lines": []string{"POS"}, "label": "Key product POS", "weight": "40", "direction": "higher",
			"curve": map[string]any{"kind": "steps", "steps": []map[string]any{
				{"min_pct": "90", "points": "80"}, {"min_pct": "100", "points": "100"}, {"min_pct": "110", "points": "120"}}}},
	}
	if edit != nil {
		edit(kpis)
	}
	return map[string]any{"name": "Branch manager", "kpis": kpis, "rounding": map[string]any{"places": 2, "mode": "half_up"}}
}

func TestScorecardsOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		// The round came with the demo's default scorecards (the deck's,
		// with the KPIs of its measures); this test writes its own.
		var list api.ScorecardList
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/rounds/%d/scorecards", round.ID), &list)
		if len(list.Items) != 4 {
			t.Fatalf("a new round has %d scorecards, want the deck's 4", len(list.Items))
		}
		for _, c := range list.Items {
			if r := env.Request("DELETE", fmt.Sprintf("/api/v1/rounds/%d/scorecards/%s", round.ID, c.Level), apitest.Token("strategy"), nil, nil); r.Status != 204 {
				t.Fatalf("delete %s: %d %s", c.Level, r.Status, r.Body)
			}
		}
		var cells [][5]string
		for _, m := range round.Months {
			cells = append(cells, [5]string{"B-SH", "POS", "revenue", m, "250.00"}, [5]string{"B-SH", "CPC", "revenue", m, "50.00"},
				[5]string{"B-JS", "POS", "revenue", m, "200.00"})
		}
		putCells(t, env, "strategy", vid, cells...)
		card := fmt.Sprintf("/api/v1/rounds/%d/scorecards/branch", round.ID)
		scores := fmt.Sprintf("/api/v1/rounds/%d/scores?level=branch&basis=ytd&period=2027-06", round.ID)
		unchanged := func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
			if r := env.Request("GET", card, apitest.Token("strategy"), nil, nil); r.Status != 404 {
				t.Fatalf("a refused write stored a scorecard: %d %s", r.Status, r.Body)
			}
		}
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "product managers do not write scorecards", Method: "PUT", URL: card, As: "pm-industry", Body: branchCard(nil),
				ExpectedStatus: 403, After: unchanged},
			{Name: "an unknown level is no resource", Method: "PUT", URL: fmt.Sprintf("/api/v1/rounds/%d/scorecards/galaxy", round.ID), As: "strategy",
				Body: branchCard(nil), ExpectedStatus: 404},
			{Name: "weights must sum to exactly 100", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) { k[0]["weight"] = "59.99" }), ExpectedStatus: 422,
				ExpectedContent: []string{`"field":"kpis"`, "exactly 100, not 99.99"}, After: unchanged},
			{Name: "a weight has at most 2 places", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) { k[0]["weight"] = "59.995"; k[1]["weight"] = "40.005" }), ExpectedStatus: 422,
				ExpectedContent: []string{`"field":"kpis[0].weight"`, `"field":"kpis[1].weight"`}, After: unchanged},
			{Name: "a measure of the round", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) { k[0]["measure"] = "collections" }), ExpectedStatus: 422,
				ExpectedContent: []string{`"field":"kpis[0].measure"`, "not a measure of round FY2027"}, After: unchanged},
			{Name: "key product lines exist", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) { k[1]["product_lines"] = []string{"NOPE"} }), ExpectedStatus: 422,
				ExpectedContent: []string{`"field":"kpis[1].product_lines[0]"`}, After: unchanged},
			{Name: "step thresholds ascend", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) {
					k[1]["curve"] = map[string]any{"kind": "steps", "steps": []map[string]any{{"min_pct": "100", "points": "100"}, {"min_pct": "90", "points": "120"}}}
				}), ExpectedStatus: 422, ExpectedContent: []string{`"field":"kpis[1].curve.steps[1].min_pct"`}, After: unchanged},
			{Name: "a direction is higher or lower", Method: "PUT", URL: card, As: "strategy",
				Body: branchCard(func(k []map[string]any) { k[0]["direction"] = "up" }), ExpectedStatus: 422,
				ExpectedContent: []string{`"field":"kpis[0].direction"`}, After: unchanged},
			{Name: "no scores without a scorecard", Method: "GET", URL: scores, As: "strategy", ExpectedStatus: 404},
			{Name: "the strategy office creates it", Method: "PUT", URL: card, As: "strategy", Body: branchCard(nil), ExpectedStatus: 201,
				ExpectedHeaders: map[string]string{"ETag": `"1"`}, ExpectedContent: []string{`"on_target_score":"100.00"`, `"product_lines":["POS"]`}},
			{Name: "a stale If-Match", Method: "PUT", URL: card, As: "strategy", Body: branchCard(nil), Headers: map[string]string{"If-Match": `"7"`},
				ExpectedStatus: 412},
			{Name: "and replaces it", Method: "PUT", URL: card, As: "admin", Body: branchCard(nil), Headers: map[string]string{"If-Match": `"1"`},
				ExpectedStatus: 200, ExpectedHeaders: map[string]string{"ETag": `"2"`}},
			{Name: "everybody reads it", Method: "GET", URL: card, As: "bm-sh", ExpectedStatus: 200, ExpectedContent: []string{`"level":"branch"`}},
			{Name: "and the list", Method: "GET", URL: fmt.Sprintf("/api/v1/rounds/%d/scorecards", round.ID), As: "auditor", ExpectedStatus: 200,
				ExpectedContent: []string{`"name":"Branch manager"`}},
			{Name: "no budget of record yet", Method: "GET", URL: scores, As: "strategy", ExpectedStatus: 409},
			{Name: "the level is required", Method: "GET", URL: fmt.Sprintf("/api/v1/rounds/%d/scores", round.ID), As: "strategy", ExpectedStatus: 400,
				ExpectedContent: []string{`"field":"level"`}},
		})

		// The deck's defaults fill the levels without a scorecard, with the
		// KPIs the round has measures for, reweighted to 100: the region's
		// revenue 50 and margin 30 become 62.5 and 37.5; the teams' revenue
		// 50 and key products 20 become 71.43 (71.42 + the 0.01 truncation
		// left) and 28.57. The branches keep theirs.
		defaults := fmt.Sprintf("/api/v1/rounds/%d/scorecard-defaults", round.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "product managers do not apply defaults", Method: "POST", URL: defaults, As: "pm-industry", ExpectedStatus: 403},
			{Name: "the deck's defaults", Method: "POST", URL: defaults, As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"level":"region"`, `"weight":"62.5"`, `"weight":"37.5"`, `"level":"key_account_team"`, `"level":"channel_team"`,
					`"weight":"71.43"`, `"weight":"28.57"`, `"product_lines":["POS","ATM"]`}, NotExpectedContent: []string{`"level":"branch"`, "sales_expense", "collections"}},
			{Name: "applied once: nothing more to create", Method: "POST", URL: defaults, As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"items":[]`}},
			{Name: "the branches kept theirs", Method: "GET", URL: card, As: "strategy", ExpectedStatus: 200, ExpectedContent: []string{`"name":"Branch manager"`}},
		})

		approveWorkingVersion(t, env, round)
		csvFile := "org_unit,product_line,measure,month,amount\n" +
			"B-SH-KA,POS,revenue,2027-04,90.00\nB-SH-KA,POS,revenue,2027-05,110.00\nB-SH-KA,POS,revenue,2027-06,120.00\n" +
			"B-SH-CH,POS,revenue,2027-04,150.00\nB-SH-CH,POS,revenue,2027-05,140.00\nB-SH-CH,POS,revenue,2027-06,160.00\n" +
			"B-SH-KA,CPC,revenue,2027-06,30.00\n" +
			"B-JS-KA,POS,revenue,2027-04,200.00\nB-JS-KA,POS,revenue,2027-05,200.00\nB-JS-KA,POS,revenue,2027-06,200.00\n"
		if r := upload(t, env, "strategy", "/api/v1/actuals/imports", "q1.csv", []byte(csvFile), map[string]string{"round": "FY2027"}); r.Status != 200 {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "signed off with the budget: no more changes", Method: "PUT", URL: card, As: "strategy", Body: branchCard(nil), ExpectedStatus: 409},
			{Name: "nor removal", Method: "DELETE", URL: card, As: "strategy", ExpectedStatus: 409},
			{Name: "a branch manager's scores are their branch's", Method: "GET", URL: scores, As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"org_unit":"B-SH"`, `"score":"93.33"`, `"aggregation":"sum"`}, NotExpectedContent: []string{"B-JS"}},
		})

		var rep api.ScoreReport
		env.GetJSON("strategy", scores, &rep)
		if !rep.BudgetOfRecord || rep.Period != "2027-06" || rep.TargetFrom != "2027-04" || rep.ScorecardRevision != 2 || !strings.Contains(rep.TieRule, "org unit code") {
			t.Fatalf("report header %+v", rep.AttainmentBasis)
		}
		var got []string
		for _, u := range rep.Items[:3] {
			line := fmt.Sprintf("%d %s %s %s", u.Rank, u.OrgUnit, u.Score, u.ExactScore)
			for _, k := range u.KPIs {
				line += fmt.Sprintf(" | %s %s/%s %v %s %s", strings.Join(k.ProductLines, ","), k.Target, k.Actual, deref(k.AttainmentPct), k.Points, k.WeightedPoints)
			}
			got = append(got, line)
		}
		want := []string{
			"1 B-JS 100.00 100 |  600.00/600.00 100.00 100 60 | POS 600.00/600.00 100.00 100 40",
			"2 B-SH 93.33 93.334 |  900.00/800.00 88.89 88.89 53.334 | POS 750.00/770.00 102.67 100 40",
			"3 B-AH 0.00 0 |  0.00/0.00 null 0 0 | POS 0.00/0.00 null 0 0",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("scores\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n := len(rep.Items); n != 8 {
			t.Fatalf("%d branches scored, want all 8", n)
		}
		issues := fmt.Sprintf("/api/v1/rounds/%d/score-issues", round.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "product managers do not issue scores", Method: "POST", URL: issues, As: "pm-industry",
				Body: map[string]any{"level": "branch", "period": "2027-06", "basis": "ytd"}, ExpectedStatus: 403},
			{Name: "an issue names a level", Method: "POST", URL: issues, As: "strategy",
				Body: map[string]any{"level": "galaxy", "basis": "ytd"}, ExpectedStatus: 422, ExpectedContent: []string{`"field":"level"`}},
			{Name: "the strategy office issues the scores", Method: "POST", URL: issues, As: "strategy",
				Body: map[string]any{"level": "branch", "period": "2027-06", "basis": "ytd"}, ExpectedStatus: 201,
				ExpectedContent: []string{`"org_unit":"B-SH"`, `"score":"93.33"`}},
		})
		// June corrected: B-SH-KA sold 100.00 more CPC. The live score is
		// restated; the issued one stays.
		june := "org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,120.00\nB-SH-CH,POS,revenue,2027-06,160.00\n" +
			"B-SH-KA,CPC,revenue,2027-06,130.00\nB-JS-KA,POS,revenue,2027-06,200.00\n"
		if r := upload(t, env, "strategy", "/api/v1/actuals/imports", "june.csv", []byte(june), map[string]string{"round": "FY2027"}); r.Status != 200 {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "restated", Method: "GET", URL: scores + "&org_unit=B-SH", As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"rank":1`, `"score":"100.00"`}},
			{Name: "the issued score stays in the history", Method: "GET", URL: issues + "?level=branch", As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"org_unit":"B-SH"`, `"score":"93.33"`, `"rank":2`}, NotExpectedContent: []string{"B-JS", `"score":"100.00"`}},
		})
		t.Run("xlsx", func(t *testing.T) {
			r := env.Request("GET", scores+"&format=xlsx", apitest.Token("strategy"), nil, nil)
			if r.Status != 200 {
				t.Fatalf("xlsx: %d %s", r.Status, r.Body)
			}
			f, err := excelize.OpenReader(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.GetRows("Scores")
			if err != nil {
				t.Fatal(err)
			}
			var sh []string
			for _, row := range rows {
				if len(row) > 4 && row[1] == "B-SH" {
					sh = row
				}
			}
			if len(sh) < 15 || sh[0] != "1" || sh[3] != "100.00" || sh[4] != "100" || sh[5] != "900.00" || sh[7] != "100.00" || sh[12] != "102.67" || sh[14] != "40" {
				t.Fatalf("B-SH's row %q", sh)
			}
			if titles := f.GetDefinedName(); len(titles) != 1 || titles[0].Name != "_xlnm.Print_Titles" || titles[0].RefersTo != "'Scores'!$6:$7" {
				t.Fatalf("print titles %+v", titles)
			}
			if layout, err := f.GetPageLayout("Scores"); err != nil || *layout.Orientation != "landscape" {
				t.Fatalf("page layout %q %v", *layout.Orientation, err)
			}
			if props, err := f.GetSheetProps("Scores"); err != nil || props.FitToPage == nil || !*props.FitToPage {
				t.Fatalf("not fitted to the page: %+v %v", props, err)
			}
		})
		t.Run("definitions xlsx", func(t *testing.T) {
			r := env.Request("GET", fmt.Sprintf("/api/v1/rounds/%d/scorecards?format=xlsx", round.ID), apitest.Token("bm-sh"), nil, nil)
			if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "scorecards-FY2027.xlsx") {
				t.Fatalf("xlsx: %d %s", r.Status, r.Header)
			}
			f, err := excelize.OpenReader(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.GetRows(spreadsheet.ScorecardsSheet)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows[4:] {
				if len(row) > 7 && row[0] == "branch" {
					got = append(got, strings.Join(row[2:], "|"))
				}
			}
			// The branch's own scorecard, KPI by KPI, and its weight total.
			want := []string{
				"1|Revenue|revenue|sum||60|higher|linear|0|120||2|half_up",
				"2|Key product POS|revenue|sum|POS|40|higher|steps|||90 → 80; 100 → 100; 110 → 120|2|half_up",
				"|||||100",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("branch rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if titles := f.GetDefinedName(); len(titles) != 1 || titles[0].RefersTo != "'Scorecards'!$4:$4" {
				t.Fatalf("print titles %+v", titles)
			}
			if layout, err := f.GetPageLayout(spreadsheet.ScorecardsSheet); err != nil || *layout.Orientation != "landscape" || *layout.FitToWidth != 1 {
				t.Fatalf("page layout %+v %v", layout, err)
			}
		})
		t.Run("pdf letter", func(t *testing.T) {
			checkPDFLetter(t, env, fmt.Sprintf("/api/v1/versions/%d/letters/B-SH?format=pdf", vid), "bm-sh",
				// The Chinese unit name, a month's and the year's totals
				// of revenue (POS 250.00 + CPC 50.00 a month), and the
				// scorecard.
				"上海分公司", "目标责任书", "300.00", "3,600.00", "3,000.00", "Branch manager", "Key product POS", "≥110% → 120", "Recipient")
		})
		t.Run("letter batch", func(t *testing.T) {
			batches := fmt.Sprintf("/api/v1/versions/%d/letter-batches", vid)
			apitest.Run(t, env, []apitest.Scenario{
				{Name: "branch managers do not issue letters", Method: "POST", URL: batches, As: "bm-sh", Body: map[string]any{"format": "pdf"}, ExpectedStatus: 403},
				{Name: "a batch names a format", Method: "POST", URL: batches, As: "strategy", Body: map[string]any{"format": "doc"}, ExpectedStatus: 422,
					ExpectedContent: []string{`"field":"format"`}},
			})
			r := env.Request("POST", batches, apitest.Token("strategy"), map[string]any{"level": "branch", "format": "pdf"}, nil)
			if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" {
				t.Fatalf("batch: %d %s %.300s", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			zr, err := zip.NewReader(bytes.NewReader(r.Body), int64(len(r.Body)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				head := make([]byte, 5)
				if _, err := io.ReadFull(rc, head); err != nil || string(head) != "%PDF-" {
					t.Fatalf("%s is no PDF: %q %v", f.Name, head, err)
				}
				rc.Close()
			}
			if len(names) != 8 || !slices.Contains(names, "target-letter-FY2027-B-SH.pdf") {
				t.Fatalf("the batch holds %v", names)
			}
			// Each letter is audited as issued, scoped to its unit.
			var events struct {
				Items []api.AuditEvent `json:"items"`
			}
			env.GetJSON("bm-sh", "/api/v1/audit?entity=org_unit&limit=1000", &events)
			var issued []int64
			for _, e := range events.Items {
				if e.Action == "letter.issue" {
					issued = append(issued, e.EntityID)
				}
			}
			if len(issued) != 1 || issued[0] != env.OrgUnitID("B-SH") {
				t.Fatalf("Shanghai's manager sees letter.issue events for %v", issued)
			}
		})
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a letter format is xlsx or pdf", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/B-SH?format=doc", vid), As: "bm-sh",
				ExpectedStatus: 400, ExpectedContent: []string{`"field":"format"`}},
			{Name: "another branch's letter is not found", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/B-JS?format=pdf", vid), As: "bm-sh",
				ExpectedStatus: 404},
		})
	})
}

// checkPDFLetter downloads a PDF letter and checks it with poppler's tools:
// pdftotext finds every wanted text, the letter has one or two pages, and
// pdftoppm renders each page.
func checkPDFLetter(t *testing.T, env *apitest.Env, path, user string, want ...string) {
	t.Helper()
	for _, tool := range []string{"pdftotext", "pdftoppm", "pdfinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: %s is not installed (apt-get install poppler-utils): the PDF letter is not checked", tool)
		}
	}
	r := env.Request("GET", path, apitest.Token(user), nil, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.Body, []byte("%PDF-")) {
		t.Fatalf("GET %s: %d %s %.200q\n%s", path, r.Status, r.Header.Get("Content-Type"), r.Body, env.Logs())
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "letter.pdf")
	if err := os.WriteFile(file, r.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CASCADE_KEEP_PDF") != "" {
		_ = os.WriteFile(os.Getenv("CASCADE_KEEP_PDF"), r.Body, 0o600)
	}
	text, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, text)
	}
	for _, w := range want {
		if !strings.Contains(string(text), w) {
			t.Errorf("the letter's text lacks %q:\n%s", w, text)
		}
	}
	info, err := exec.Command("pdfinfo", file).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v: %s", err, info)
	}
	var pages int
	for _, line := range strings.Split(string(info), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pages:"); ok {
			pages, _ = strconv.Atoi(strings.TrimSpace(rest))
		}
		if rest, ok := strings.CutPrefix(line, "Page size:"); ok && !strings.Contains(rest, "(A4)") {
			t.Errorf("page size %s, want A4", strings.TrimSpace(rest))
		}
	}
	if pages < 1 || pages > 2 {
		t.Errorf("a branch's letter has %d pages, want 1 or 2", pages)
	}
	if out, err := exec.Command("pdftoppm", "-r", "40", "-png", file, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pngs) != pages {
		t.Errorf("pdftoppm rendered %d of %d pages", len(pngs), pages)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
