package api_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// multipartBody builds a multipart/form-data body with the file in the part
// "file" and the form fields.
func multipartBody(t testing.TB, filename string, data []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if filename != "" || data != nil {
		fw, err := w.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// upload POSTs a file as user and returns the response.
func upload(t testing.TB, env *apitest.Env, user, path, filename string, data []byte, fields map[string]string) *apitest.Response {
	t.Helper()
	body, ct := multipartBody(t, filename, data, fields)
	return env.Request(http.MethodPost, path, apitest.Token(user), body, map[string]string{"Content-Type": ct})
}

// importReport decodes an import report from a 200 answer or from the
// "report" member of a refusal.
func importReport(t testing.TB, r *apitest.Response) api.ActualImportReport {
	t.Helper()
	var out struct {
		api.ActualImportReport
		Report *api.ActualImportReport `json:"report"`
	}
	r.Decode(t, &out)
	if out.Report != nil {
		return *out.Report
	}
	return out.ActualImportReport
}

// actualsOf reads the rolled-up actuals of one unit as
// "line/measure/month" → amount.
func actualsOf(t *testing.T, env *apitest.Env, user, query string) map[string]string {
	t.Helper()
	var page api.ActualPage
	env.GetJSON(user, "/api/v1/actuals?limit=1000&"+query, &page)
	out := map[string]string{}
	for _, r := range page.Items {
		for _, m := range r.Months {
			out[r.OrgUnit+"/"+r.ProductLine+"/"+r.Measure+"/"+m.Month] = m.Amount
		}
	}
	return out
}

const juneActuals = `org_unit,product_line,measure,month,amount
B-SH-KA,POS,revenue,2027-06,120.00
B-SH-CH,POS,revenue,2027-06,160.00
B-SH-KA,CPC,revenue,2027-06,30.00
B-JS-KA,POS,revenue,2027-06,200.00
B-SH-KA,POS,units,2027-06,3
`

func TestActualsImportOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		imports := "/api/v1/actuals/imports"

		// A clean file: the dry run reports and changes nothing.
		r := upload(t, env, "strategy", imports, "june.csv", []byte(juneActuals), map[string]string{"dry_run": "true", "round": "FY2027"})
		rep := importReport(t, r)
		if r.Status != 200 || !rep.Valid || rep.Written || rep.Added != 5 || rep.Rows != 5 || rep.Format != "csv" || rep.ImportID != nil {
			t.Fatalf("dry run: %d %s", r.Status, r.Body)
		}
		if got := actualsOf(t, env, "strategy", ""); len(got) != 0 {
			t.Fatalf("the dry run stored %v", got)
		}
		// For real, then again: the second import changes nothing.
		r = upload(t, env, "strategy", fmt.Sprintf("%s?round=%d", imports, round.ID), "june.csv", []byte(juneActuals), nil)
		if rep = importReport(t, r); r.Status != 200 || !rep.Written || rep.Added != 5 || rep.ImportID == nil {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
		r = upload(t, env, "admin", imports, "june.csv", []byte(juneActuals), nil)
		if rep = importReport(t, r); r.Status != 200 || rep.Added != 0 || rep.Changed != 0 || rep.Unchanged != 5 {
			t.Fatalf("re-import: %d %s", r.Status, r.Body)
		}
		want := map[string]string{"B-SH/POS/revenue/2027-06": "280.00", "B-SH/CPC/revenue/2027-06": "30.00", "B-SH/POS/units/2027-06": "3"}
		got := actualsOf(t, env, "bm-sh", "org_unit=B-SH")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("B-SH rolled up: %v", got)
		}

		// A file with every kind of bad row: 422 with a complete report,
		// and nothing changes — not even its good row.
		bad := `org_unit,product_line,measure,month,amount
B-SH-KA,POS,revenue,2027-06,999.00
NOPE,POS,revenue,2027-06,1.00
B-SH,POS,revenue,2027-06,1.00
B-SH-KA,NOPE,revenue,2027-06,1.00
B-SH-KA,POS,collections,2027-06,1.00
B-SH-KA,POS,revenue,2029-01,1.00
B-SH-KA,POS,revenue,2027-07,1.005
B-SH-KA,POS,revenue,2027-08,"1,000.00"
B-SH-KA,POS,revenue,2027-06,5.00
`
		wantProblems := []string{"3 org_unit", "4 org_unit", "5 product_line", "6 measure", "7 month", "8 amount", "9 amount", "10 "}
		for _, dry := range []string{"true", "false"} {
			r = upload(t, env, "strategy", imports, "bad.csv", []byte(bad), map[string]string{"dry_run": dry, "round": "FY2027"})
			rep = importReport(t, r)
			var problems []string
			for _, p := range rep.Problems {
				problems = append(problems, fmt.Sprintf("%d %s", p.Row, p.Column))
			}
			if strings.Join(problems, ",") != strings.Join(wantProblems, ",") || rep.Valid || rep.Written || rep.ProblemCount != 8 {
				t.Fatalf("dry_run=%s: %d problems %v\n%s", dry, r.Status, problems, r.Body)
			}
			if dry == "true" && r.Status != 200 {
				t.Fatalf("dry run of a bad file: %d", r.Status)
			}
			if dry == "false" {
				if r.Status != 422 || r.Header.Get("Content-Type") != "application/problem+json" ||
					!strings.Contains(string(r.Body), `"field":"rows[3].org_unit","message":"\"NOPE\": no org unit has this code"`) ||
					!strings.Contains(string(r.Body), `"type":"urn:cascade:problem:invalid"`) || !strings.Contains(string(r.Body), `"value":"1,000.00"`) {
					t.Fatalf("refused import: %d %s", r.Status, r.Body)
				}
			}
			if got := actualsOf(t, env, "strategy", "org_unit=B-SH-KA&product_line=POS&measure=revenue"); got["B-SH-KA/POS/revenue/2027-06"] != "120.00" || len(got) != 1 {
				t.Fatalf("a refused import changed the actuals: %v", got)
			}
		}

		// An XLSX file, with a month the spreadsheet program made a date.
		f := excelize.NewFile()
		_ = f.SetSheetRow("Sheet1", "A1", &[]any{"Org_Unit", "Product_Line", "Measure", "Month", "Amount"})
		_ = f.SetSheetRow("Sheet1", "A2", &[]any{"B-ZJ-KA", "UPS", "revenue", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), 4321.5})
		var xb bytes.Buffer
		_ = f.Write(&xb)
		r = upload(t, env, "strategy", imports, "zj.xlsx", xb.Bytes(), map[string]string{"round": "FY2027"})
		if rep = importReport(t, r); r.Status != 200 || rep.Added != 1 || rep.Format != "xlsx" {
			t.Fatalf("xlsx: %d %s", r.Status, r.Body)
		}
		if got := actualsOf(t, env, "strategy", "org_unit=B-ZJ"); got["B-ZJ/UPS/revenue/2027-06"] != "4321.50" {
			t.Fatalf("xlsx actuals %v", got)
		}

		// A 50 MB file is refused by the size limit before anything is read.
		huge := bytes.Repeat([]byte("B-SH-KA,POS,revenue,2027-06,1.00\n"), 50<<20/33)
		start := time.Now()
		r = upload(t, env, "strategy", imports, "huge.csv", huge, nil)
		if r.Status != 413 || !strings.Contains(string(r.Body), "larger than the limit") {
			t.Fatalf("50 MB: %d %s", r.Status, r.Body)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("refusing 50 MB took %v", d)
		}

		apitest.Run(t, env, []apitest.Scenario{
			{Name: "empty file", Method: "POST", URL: imports, As: "strategy", Body: mp(t, "empty.csv", "", nil), Headers: mpHeaders,
				ExpectedStatus: 422, ExpectedContent: []string{`"reason":"the file is empty`, `"problem_count":1`}},
			{Name: "wrong headers", Method: "POST", URL: imports, As: "strategy", Body: mp(t, "h.csv", "unit,product,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1\n", nil),
				Headers: mpHeaders, ExpectedStatus: 422, ExpectedContent: []string{`"row":1,"column":"A","value":"unit","reason":"is not a known column`,
					`"column":"org_unit","value":"","reason":"the header lacks this column`}},
			{Name: "product managers do not import actuals", Method: "POST", URL: imports, As: "pm-industry", Body: mp(t, "june.csv", juneActuals, nil),
				Headers: mpHeaders, ExpectedStatus: 403},
			{Name: "branch managers neither", Method: "POST", URL: imports, As: "bm-sh", Body: mp(t, "june.csv", juneActuals, nil),
				Headers: mpHeaders, ExpectedStatus: 403},
			{Name: "JSON is not an upload", Method: "POST", URL: imports, As: "strategy", Body: `{"file":"x"}`, ExpectedStatus: 415},
			{Name: "no file part", Method: "POST", URL: imports, As: "strategy", Body: mpNoFile(t), Headers: mpHeaders,
				ExpectedStatus: 400, ExpectedContent: []string{`"field":"file"`}},
			{Name: "unknown form field", Method: "POST", URL: imports, As: "strategy", Body: mp(t, "june.csv", juneActuals, map[string]string{"dryrun": "true"}),
				Headers: mpHeaders, ExpectedStatus: 400, ExpectedContent: []string{`"field":"dryrun"`}},
			{Name: "bad dry_run", Method: "POST", URL: imports + "?dry_run=maybe", As: "strategy", Body: mp(t, "june.csv", juneActuals, nil),
				Headers: mpHeaders, ExpectedStatus: 400},
			{Name: "unknown round", Method: "POST", URL: imports, As: "strategy", Body: mp(t, "june.csv", juneActuals, map[string]string{"round": "FY1999"}),
				Headers: mpHeaders, ExpectedStatus: 422, ExpectedContent: []string{`"field":"round"`}},
			{Name: "old Excel files are named", Method: "POST", URL: imports, As: "strategy", Body: mp(t, "june.xls", "\xd0\xcf\x11\xe0", nil),
				Headers: mpHeaders, ExpectedStatus: 422, ExpectedContent: []string{".xls"}},
			{Name: "a branch reads its own actuals only", Method: "GET", URL: "/api/v1/actuals?org_unit=B-JS", As: "bm-sh", ExpectedStatus: 404},
			{Name: "actuals by period range", Method: "GET", URL: "/api/v1/actuals?org_unit=CO&period=2027-01..2027-05", As: "president",
				ExpectedStatus: 200, ExpectedContent: []string{`"items":[]`}},
			{Name: "bad period", Method: "GET", URL: "/api/v1/actuals?period=June", As: "president", ExpectedStatus: 400},
			{Name: "the import is audited", Method: "GET", URL: "/api/v1/audit?entity=actual_import", As: "auditor", ExpectedStatus: 200,
				ExpectedContent: []string{`"action":"actuals.import"`, `"file_name":"june.csv"`}},
		})
		if strings.Contains(env.Logs(), `"status":500`) {
			t.Fatal("a request failed with 500")
		}
	})
}

// mpHeaders is the Content-Type of the bodies mp builds: one fixed boundary.
var mpHeaders = map[string]string{"Content-Type": "multipart/form-data; boundary=cascadeboundary"}

// mp builds a multipart body with the fixed boundary of mpHeaders.
func mp(t testing.TB, filename, content string, fields map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary("cascadeboundary"); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", filename)
	_, _ = io.WriteString(fw, content)
	_ = w.Close()
	return buf.Bytes()
}

func mpNoFile(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("cascadeboundary")
	_ = w.WriteField("dry_run", "true")
	_ = w.Close()
	return buf.Bytes()
}
