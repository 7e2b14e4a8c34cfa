package api_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// approveWorkingVersion takes a round from open through the approval chain:
// its working version becomes the budget of record.
func approveWorkingVersion(t *testing.T, env *apitest.Env, round api.Round) int64 {
	t.Helper()
	for _, to := range []string{"counterproposals", "review"} {
		if r := env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), apitest.Token("strategy"), map[string]any{"to": to}, nil); r.Status != 200 {
			t.Fatalf("to %s: %d %s", to, r.Status, r.Body)
		}
	}
	vid := *round.WorkingVersionID
	for _, step := range []struct{ user, action string }{{"pm-industry", "submit"}, {"sales-director", "approve"},
		{"marketing-director", "approve"}, {"president", "approve"}} {
		r := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), apitest.Token(step.user),
			map[string]any{"action": step.action, "comment": step.action + " by " + step.user}, nil)
		if r.Status != 200 {
			t.Fatalf("%s %s: %d %s", step.user, step.action, r.Status, r.Body)
		}
	}
	return vid
}

// putCells sets target cells as user.
func putCells(t *testing.T, env *apitest.Env, user string, vid int64, cells ...[5]string) {
	t.Helper()
	var body []map[string]string
	for _, c := range cells {
		body = append(body, map[string]string{"org_unit": c[0], "product_line": c[1], "measure": c[2], "period": c[3], "amount": c[4]})
	}
	if r := env.Request("PUT", fmt.Sprintf("/api/v1/versions/%d/targets", vid), apitest.Token(user), map[string]any{"cells": body},
		map[string]string{"If-Match": "*"}); r.Status != 200 {
		t.Fatalf("put cells: %d %s", r.Status, r.Body)
	}
}

func TestAttainmentAndLettersOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		var cells [][5]string
		for _, m := range round.Months {
			cells = append(cells, [5]string{"B-SH-KA", "POS", "revenue", m, "100.00"}, [5]string{"B-SH-CH", "POS", "revenue", m, "150.00"},
				[5]string{"B-SH", "POS", "revenue", m, "250.00"}, [5]string{"B-SH", "CPC", "revenue", m, "50.00"}, [5]string{"B-JS", "POS", "revenue", m, "200.00"})
		}
		putCells(t, env, "strategy", vid, cells...)
		base := fmt.Sprintf("/api/v1/rounds/%d", round.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "no budget of record yet", Method: "GET", URL: base + "/attainment", As: "strategy", ExpectedStatus: 409,
				ExpectedContent: []string{"no budget of record"}},
			{Name: "a version of the round may be named", Method: "GET", URL: fmt.Sprintf("%s/attainment?version=%d&org_unit=B-SH", base, vid), As: "strategy",
				ExpectedStatus: 200, ExpectedContent: []string{`"budget_of_record":false`}},
		})
		recordID := approveWorkingVersion(t, env, round)
		csvFile := `org_unit,product_line,measure,month,amount
B-SH-KA,POS,revenue,2027-04,90.00
B-SH-KA,POS,revenue,2027-05,110.00
B-SH-KA,POS,revenue,2027-06,120.00
B-SH-CH,POS,revenue,2027-04,150.00
B-SH-CH,POS,revenue,2027-05,140.00
B-SH-CH,POS,revenue,2027-06,160.00
B-SH-KA,CPC,revenue,2027-06,30.00
B-JS-KA,POS,revenue,2027-04,200.00
B-JS-KA,POS,revenue,2027-05,200.00
B-JS-KA,POS,revenue,2027-06,200.00
`
		if r := upload(t, env, "strategy", "/api/v1/actuals/imports", "q1.csv", []byte(csvFile), map[string]string{"round": "FY2027"}); r.Status != 200 {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}

		// The strategy office sees attainment by branch and product line,
		// year to date, against the budget of record.
		var rep api.AttainmentReport
		env.GetJSON("strategy", base+"/attainment?org_unit=B-SH&subtree=true&measure=revenue&period=2027-06&basis=ytd", &rep)
		if rep.VersionID != recordID || !rep.BudgetOfRecord || rep.Period != "2027-06" || rep.Basis != "ytd" ||
			strings.Join(rep.TargetMonths, ",") != "2027-04,2027-06" || strings.Join(rep.ActualMonths, ",") != "2027-04,2027-06" ||
			rep.TargetFrom != "2027-04" || rep.TargetTo != "2027-06" || rep.ActualFrom != "2027-04" || rep.ActualTo != "2027-06" {
			t.Fatalf("report %+v", rep.AttainmentBasis)
		}
		got := map[string]api.AttainmentRow{}
		for _, row := range rep.Items {
			line := "*"
			if row.ProductLine != nil {
				line = *row.ProductLine
			}
			got[row.OrgUnit+"/"+line] = row
		}
		for key, want := range map[string]string{
			"B-SH/*":      "900.00 800.00 -100.00 88.89 3600.00 800.00 3200.00 88.89",
			"B-SH/POS":    "750.00 770.00 20.00 102.67 3000.00 770.00 3080.00 102.67",
			"B-SH-KA/POS": "300.00 320.00 20.00 106.67 1200.00 320.00 1280.00 106.67",
			"B-SH-KA/CPC": "0.00 30.00 30.00 null 0.00 30.00 120.00 null",
		} {
			r := got[key]
			s := func(p *string) string {
				if p == nil {
					return "null"
				}
				return *p
			}
			line := strings.Join([]string{r.Target, r.Actual, r.Gap, s(r.AttainmentPct), r.YearTarget, r.YTDActual, r.RunRate, s(r.RunRatePct)}, " ")
			if line != want {
				t.Errorf("%s: %s, want %s", key, line, want)
			}
		}
		if rep.Items[0].OrgUnit != "B-SH" || rep.Items[0].ProductLine != nil {
			t.Errorf("first row %+v", rep.Items[0])
		}
		body := string(env.Request("GET", base+"/attainment?org_unit=B-SH&measure=revenue&period=2027-06&basis=ytd", apitest.Token("bm-sh"), nil, nil).Body)
		if !strings.Contains(body, `"product_line":null`) || !strings.Contains(body, `"attainment_pct":"88.89"`) {
			t.Errorf("JSON %s", body)
		}

		var rk api.Ranking
		env.GetJSON("president", base+"/rankings?measure=revenue&level=branch&period=2027-06&basis=ytd", &rk)
		if len(rk.Items) != 8 || rk.Items[0].OrgUnit != "B-JS" || rk.Items[0].Rank != 1 || *rk.Items[0].AttainmentPct != "100.00" ||
			rk.Items[1].OrgUnit != "B-SH" || rk.Items[1].Rank != 2 || rk.Items[7].Rank != 3 || rk.Items[7].AttainmentPct != nil {
			t.Fatalf("ranking %+v", rk.Items)
		}
		// The same ranking as a printable workbook: every row as the JSON
		// says, landscape, fitted to the width, the column names on every
		// page.
		r := env.Request("GET", base+"/rankings?measure=revenue&level=branch&period=2027-06&basis=ytd&format=xlsx", apitest.Token("president"), nil, nil)
		if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "ranking-FY2027-branch-revenue-2027-06-ytd.xlsx") {
			t.Fatalf("rankings xlsx: %d %s %s", r.Status, r.Header, r.Body)
		}
		wb, err := excelize.OpenReader(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		defer wb.Close()
		sheet := spreadsheet.RankingsSheet
		rows, err := wb.GetRows(sheet)
		if err != nil || len(rows) != 6+len(rk.Items) || rows[5][0] != "Rank" || rows[5][6] != "Attainment %" {
			t.Fatalf("rankings sheet %q %v", rows, err)
		}
		for i, it := range rk.Items {
			row := rows[6+i]
			pct := ""
			if it.AttainmentPct != nil {
				pct = *it.AttainmentPct
			}
			if row[0] != fmt.Sprint(it.Rank) || row[1] != it.OrgUnit || !sameNumber(row[3], it.Target) || !sameNumber(row[4], it.Actual) ||
				(pct == "" && len(row) > 6 && row[6] != "") || (pct != "" && !sameNumber(row[6], pct)) {
				t.Errorf("row %d %q, want %+v", i, row, it)
			}
		}
		if rows[2][0] != "Ranking: "+rk.TieRule || !strings.Contains(rows[1][0], "ytd as of 2027-06") {
			t.Errorf("heading %q", rows[:4])
		}
		if titles := wb.GetDefinedName(); len(titles) != 1 || titles[0].Name != "_xlnm.Print_Titles" || titles[0].RefersTo != "'"+sheet+"'!$6:$6" {
			t.Fatalf("print titles %+v", titles)
		}
		if layout, err := wb.GetPageLayout(sheet); err != nil || *layout.Orientation != "landscape" || *layout.FitToWidth != 1 {
			t.Fatalf("page layout %+v %v", layout, err)
		}
		if props, err := wb.GetSheetProps(sheet); err != nil || props.FitToPage == nil || !*props.FitToPage {
			t.Fatalf("not fitted to the page: %+v %v", props, err)
		}
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a ranking's format is json or xlsx", Method: "GET", URL: base + "/rankings?measure=revenue&level=branch&format=pdf", As: "strategy",
				ExpectedStatus: 400, ExpectedContent: []string{`"field":"format"`}},
			{Name: "a branch's ranking workbook ranks itself only", Method: "GET", URL: base + "/rankings?measure=revenue&level=branch&period=2027-06&format=xlsx", As: "bm-sh",
				ExpectedStatus: 200},
		})

		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a branch sees itself and its teams", Method: "GET", URL: base + "/attainment?period=2027-06", As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"org_unit":"B-SH"`, `"org_unit":"B-SH-KA"`}, NotExpectedContent: []string{`"org_unit":"B-JS`, `"org_unit":"R-EAST"`, `"org_unit":"CO"`}},
			{Name: "not another branch", Method: "GET", URL: base + "/attainment?org_unit=B-JS", As: "bm-sh", ExpectedStatus: 404},
			{Name: "a branch ranks itself only", Method: "GET", URL: base + "/rankings?measure=revenue&level=branch&period=2027-06", As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"org_unit":"B-SH"`}, NotExpectedContent: []string{`"org_unit":"B-JS"`}},
			{Name: "the month basis by default", Method: "GET", URL: base + "/attainment?org_unit=B-SH-KA&product_line=POS&measure=revenue&period=2027-06", As: "strategy",
				ExpectedStatus: 200, ExpectedContent: []string{`"basis":"month"`, `"target":"100.00","actual":"120.00","gap":"20.00","attainment_pct":"120.00"`}},
			{Name: "bad basis", Method: "GET", URL: base + "/attainment?basis=week", As: "strategy", ExpectedStatus: 400, ExpectedContent: []string{`"field":"basis"`}},
			{Name: "month outside the round", Method: "GET", URL: base + "/attainment?period=2026-01", As: "strategy", ExpectedStatus: 400},
			{Name: "bad level", Method: "GET", URL: base + "/attainment?level=planet", As: "strategy", ExpectedStatus: 400},
			{Name: "a ranking needs a measure and a level", Method: "GET", URL: base + "/rankings", As: "strategy", ExpectedStatus: 400,
				ExpectedContent: []string{`"field":"level"`, `"field":"measure"`}},
			{Name: "a measure outside the round", Method: "GET", URL: base + "/rankings?measure=collections&level=branch", As: "strategy", ExpectedStatus: 422},
			{Name: "an unknown round", Method: "GET", URL: "/api/v1/rounds/999/attainment", As: "strategy", ExpectedStatus: 404},

			// Target letters.
			{Name: "a branch manager downloads their letter", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/B-SH", recordID), As: "bm-sh",
				ExpectedStatus: 200, ExpectedHeaders: map[string]string{"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
					"Content-Disposition": `attachment; filename="target-letter-FY2027-B-SH.xlsx"`},
				After: func(t *testing.T, env *apitest.Env, res *apitest.Response) {
					f, err := excelize.OpenReader(bytes.NewReader(res.Body))
					if err != nil {
						t.Fatal(err)
					}
					rows, _ := f.GetRows("Target letter")
					text := fmt.Sprint(rows)
					for _, want := range []string{"Shanghai branch 上海分公司", "Approved by President (总裁)", "approve by president",
						"submit by Industry products manager", "budget of record", "[POS POS systems 250.00 250.00", "3,000.00"} {
						if !strings.Contains(text, want) {
							t.Errorf("letter lacks %q: %v", want, rows)
						}
					}
				}},
			{Name: "and their team's", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/B-SH-KA", recordID), As: "bm-sh", ExpectedStatus: 200},
			{Name: "not another branch's", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/B-JS", recordID), As: "bm-sh", ExpectedStatus: 404},
			{Name: "no unknown unit's", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/letters/NOPE", recordID), As: "strategy", ExpectedStatus: 404},
		})
		// A re-forecast that is not (yet) the budget of record issues no letter.
		r = env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), apitest.Token("pm-industry"),
			map[string]any{"from_version_id": recordID, "label": "re-forecast"}, nil)
		var v2 api.Version
		r.Decode(t, &v2)
		if r := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/letters/B-SH", v2.ID), apitest.Token("strategy"), nil, nil); r.Status != 409 {
			t.Errorf("letter of a working version: %d %s", r.Status, r.Body)
		}
		if strings.Contains(env.Logs(), `"status":500`) {
			t.Fatal("a request failed with 500")
		}
	})
}

// exportXLSX downloads a version's grid as XLSX.
func exportXLSX(t *testing.T, env *apitest.Env, user string, vid int64, query string) []byte {
	t.Helper()
	r := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/export?format=xlsx&%s", vid, query), apitest.Token(user), nil, nil)
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	return r.Body
}

// editWorkbook sets cells of a workbook, by sheet and org unit code,
// product line and month heading, and returns the edited file.
func editWorkbook(t *testing.T, data []byte, edits ...[5]string) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		rows, _ := f.GetRows(e[0])
		col := -1
		for j, h := range rows[4] {
			if h == e[3] {
				col = j
			}
		}
		done := false
		for i, r := range rows {
			if len(r) > 2 && r[0] == e[1] && r[2] == e[2] && col >= 0 {
				cell, _ := excelize.CoordinatesToCellName(col+1, i+1)
				if err := f.SetCellValue(e[0], cell, mustFloat(t, e[4])); err != nil {
					t.Fatal(err)
				}
				done = true
			}
		}
		if !done {
			t.Fatalf("no cell for %v", e)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscanf(s, "%g", &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func diffCount(t *testing.T, env *apitest.Env, vid, against int64) api.Diff {
	t.Helper()
	var d api.Diff
	env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/diff?against=%d&limit=1000", vid, against), &d)
	return d
}

func TestSpreadsheetRoundTripOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		v1 := *round.WorkingVersionID
		if status, _, body := cascadeRevenue(t, env, "pm-industry", v1, "POS", "12000000.00", false); status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		// A CSV export for machines.
		r := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/export?format=csv&org_unit=B-SH&subtree=true&grain=quarter", v1), apitest.Token("bm-sh"), nil, nil)
		recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if r.Status != 200 || err != nil || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(recs) != 4 ||
			strings.Join(recs[0], ",") != "org_unit,org_unit_name,level,product_line,measure,FY2027-Q1,FY2027-Q2,FY2027-Q3,FY2027-Q4,total" ||
			recs[1][0] != "B-SH" || recs[2][2] != "1" {
			t.Fatalf("csv export: %d %v %s", r.Status, err, r.Body)
		}

		// The product manager exports the version, edits three cells in
		// the workbook and brings it back.
		book := exportXLSX(t, env, "pm-industry", v1, "product_line=POS&measure=revenue")
		copyV := func(from int64, label string) int64 {
			r := env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), apitest.Token("pm-industry"),
				map[string]any{"from_version_id": from, "label": label}, nil)
			var v api.Version
			r.Decode(t, &v)
			return v.ID
		}
		v2 := copyV(v1, "spreadsheet edits")
		edited := editWorkbook(t, book,
			[5]string{"revenue", "B-SH-KA", "POS", "2027-04", "11111.11"},
			[5]string{"revenue", "B-SH-CH", "POS", "2027-12", "22222.22"},
			[5]string{"revenue", "R-EAST", "POS", "2028-03", "0"})
		imports := fmt.Sprintf("/api/v1/versions/%d/imports", v2)
		r = upload(t, env, "pm-industry", imports, "edited.xlsx", edited, map[string]string{"dry_run": "true"})
		var rep api.TargetImportReport
		r.Decode(t, &rep)
		if r.Status != 200 || rep.ChangedCells != 3 || rep.Written || rep.ExportedVersionID != v1 {
			t.Fatalf("dry run: %d %s", r.Status, r.Body)
		}
		if d := diffCount(t, env, v2, v1); d.ChangedCells != 0 {
			t.Fatalf("the dry run wrote %d cells", d.ChangedCells)
		}
		r = upload(t, env, "pm-industry", imports, "edited.xlsx", edited, nil)
		r.Decode(t, &rep)
		if r.Status != 200 || rep.ChangedCells != 3 || !rep.Written || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, rep.Revision) {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
		d := diffCount(t, env, v2, v1)
		if d.ChangedCells != 3 {
			t.Fatalf("the import changed %d cells: %+v", d.ChangedCells, d.Changes)
		}
		changed := map[string]bool{}
		for _, c := range d.Changes {
			changed[c.OrgUnit+" "+c.Period+" "+c.After] = true
		}
		for _, w := range []string{"R-EAST 2028-03 0.00", "B-SH-KA 2027-04 11111.11", "B-SH-CH 2027-12 22222.22"} {
			if !changed[w] {
				t.Errorf("changes %v lack %s", changed, w)
			}
		}
		// Importing the same workbook again changes nothing more.
		r = upload(t, env, "pm-industry", imports, "edited.xlsx", edited, nil)
		r.Decode(t, &rep)
		if r.Status != 200 || rep.ChangedCells != 0 || rep.Written {
			t.Fatalf("second import: %d %s", r.Status, r.Body)
		}

		// Export v2; someone else edits two cells; the workbook edits one of
		// them and another: refused with exactly that conflict, nothing
		// written.
		book2 := exportXLSX(t, env, "pm-industry", v2, "product_line=POS&measure=revenue")
		putCells(t, env, "strategy", v2, [5]string{"B-SH-KA", "POS", "revenue", "2027-05", "555.55"}, [5]string{"B-JS-KA", "POS", "revenue", "2027-05", "666.66"})
		conflicting := editWorkbook(t, book2,
			[5]string{"revenue", "B-SH-KA", "POS", "2027-05", "777.77"},
			[5]string{"revenue", "B-ZJ-KA", "POS", "2027-05", "888.88"})
		before := diffCount(t, env, v2, v1).ChangedCells
		r = upload(t, env, "pm-industry", imports, "conflict.xlsx", conflicting, nil)
		var refused api.TargetImportRefused
		r.Decode(t, &refused)
		if r.Status != 409 || r.Header.Get("Content-Type") != "application/problem+json" || len(refused.Report.Conflicts) != 1 || refused.Report.Written {
			t.Fatalf("conflict: %d %s", r.Status, r.Body)
		}
		c := refused.Report.Conflicts[0]
		if c.OrgUnit != "B-SH-KA" || c.Period != "2027-05" || c.Current != "555.55" || c.Value != "777.77" || c.Sheet != "revenue" || c.Cell == "" ||
			len(refused.Errors) != 1 || !strings.Contains(refused.Errors[0].Message, "now 555.55, in the workbook 777.77") {
			t.Fatalf("conflict %+v / %+v", c, refused.Errors)
		}
		if after := diffCount(t, env, v2, v1).ChangedCells; after != before {
			t.Fatalf("a refused import wrote: %d → %d changed cells", before, after)
		}
		// The other's edit of a cell the workbook leaves alone is merged,
		// not a conflict, and kept.
		merged := editWorkbook(t, book2, [5]string{"revenue", "B-ZJ-KA", "POS", "2027-05", "888.88"})
		r = upload(t, env, "pm-industry", imports, "merge.xlsx", merged, nil)
		r.Decode(t, &rep)
		if r.Status != 200 || rep.ChangedCells != 1 {
			t.Fatalf("merge: %d %s", r.Status, r.Body)
		}
		g := readGrid(t, env, "strategy", v2, "org_unit=B-JS-KA&product_line=POS&measure=revenue")
		if g["B-JS-KA/POS/revenue"][1].StringFixed(2) != "666.66" {
			t.Fatalf("the other's edit was overwritten: %v", g)
		}

		pmAgencyBook := editWorkbook(t, exportXLSX(t, env, "pm-agency", v2, "product_line=POS&measure=revenue"),
			[5]string{"revenue", "B-SH-KA", "POS", "2027-06", "1.00"})
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "another product manager's lines are not theirs", Method: "POST", URL: imports, As: "pm-agency",
				Body: mpBytes(t, "pos.xlsx", pmAgencyBook, nil), Headers: mpHeaders, ExpectedStatus: 403},
			{Name: "branch managers do not edit targets", Method: "POST", URL: imports, As: "bm-sh",
				Body: mpBytes(t, "pos.xlsx", pmAgencyBook, nil), Headers: mpHeaders, ExpectedStatus: 403},
			{Name: "a CSV does not come back", Method: "POST", URL: imports, As: "pm-industry",
				Body: mpBytes(t, "grid.csv", []byte("org_unit\n"), nil), Headers: mpHeaders, ExpectedStatus: 422},
			{Name: "a foreign workbook is named", Method: "POST", URL: imports, As: "pm-industry",
				Body: mpBytes(t, "x.xlsx", blankWorkbook(t), nil), Headers: mpHeaders, ExpectedStatus: 422,
				ExpectedContent: []string{"not exported by Cascade", `"report":`}},
			{Name: "blank rows to plan new series", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/export?format=csv&org_unit=B-SH&product_line=EPSON&measure=units&blank_rows=true", v2),
				As: "strategy", ExpectedStatus: 200, ExpectedContent: []string{"B-SH,Shanghai branch,0,EPSON,units,0,0,0"}},
			{Name: "bad format", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/export?format=pdf", v2), As: "strategy", ExpectedStatus: 400},
			{Name: "export is scoped", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/export?org_unit=B-JS", v2), As: "bm-sh", ExpectedStatus: 404},
		})

		// A rule the changed cells break is named by the workbook cell.
		tj := env.OrgUnitID("B-TJ-CH")
		if r := env.Request("PATCH", fmt.Sprintf("/api/v1/org-units/%d", tj), apitest.Token("admin"), `{"active":false}`, nil); r.Status != 200 {
			t.Fatalf("deactivate: %d %s", r.Status, r.Body)
		}
		inactive := editWorkbook(t, book2, [5]string{"revenue", "B-TJ-CH", "POS", "2027-07", "5.00"})
		if r := upload(t, env, "pm-industry", imports, "inactive.xlsx", inactive, nil); r.Status != 422 ||
			!strings.Contains(string(r.Body), `"field":"revenue!`) || !strings.Contains(string(r.Body), `.org_unit","message":"org unit B-TJ-CH is inactive"`) {
			t.Fatalf("inactive unit: %d %s", r.Status, r.Body)
		}

		// Freezing the version refuses later imports.
		if r := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/freeze", v2), apitest.Token("strategy"), nil, nil); r.Status != 200 {
			t.Fatalf("freeze: %d %s", r.Status, r.Body)
		}
		again := editWorkbook(t, book2, [5]string{"revenue", "B-AH-KA", "POS", "2027-05", "1.00"})
		if r := upload(t, env, "pm-industry", imports, "late.xlsx", again, nil); r.Status != 409 || !strings.Contains(string(r.Body), "frozen") {
			t.Fatalf("into a frozen version: %d %s", r.Status, r.Body)
		}
		if strings.Contains(env.Logs(), `"status":500`) {
			t.Fatal("a request failed with 500")
		}
	})
}

func mpBytes(t testing.TB, filename string, content []byte, fields map[string]string) []byte {
	t.Helper()
	return mp(t, filename, string(content), fields)
}

func blankWorkbook(t testing.TB) []byte {
	f := excelize.NewFile()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
