package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// openDemoRound creates and opens a round on the demo data as the strategy
// office and returns it.
func openDemoRound(t *testing.T, env *apitest.Env, code string) api.Round {
	t.Helper()
	strategy := apitest.Token("strategy")
	r := env.Request("POST", "/api/v1/rounds", strategy, map[string]any{
		"code": code, "name": "Plan " + code, "fiscal_year": 2027, "first_month": 4,
		"measures": []string{"revenue", "gross_margin", "units"},
		"calendar": []map[string]any{{"phase": "counterproposals", "due": "2099-12-15T18:00:00Z"}},
	}, nil)
	if r.Status != 201 {
		t.Fatalf("create round: %d %s", r.Status, r.Body)
	}
	var round api.Round
	r.Decode(t, &round)
	r = env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), strategy, map[string]any{"to": "open", "comment": "targets due Friday"}, nil)
	if r.Status != 200 {
		t.Fatalf("open round: %d %s", r.Status, r.Body)
	}
	r.Decode(t, &round)
	if round.WorkingVersionID == nil || round.Status != "open" {
		t.Fatalf("opened round %+v", round)
	}
	return round
}

// cascadeRevenue allocates a product line's revenue from the company to
// every team and month.
func cascadeRevenue(t *testing.T, env *apitest.Env, user string, vid int64, line, amount string, dry bool) (int, api.AllocationResponse, []byte) {
	t.Helper()
	r := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), apitest.Token(user), map[string]any{
		"measure": "revenue", "root": "CO",
		"targets": []map[string]any{{"product_line": line, "amount": amount}},
		"levels": []map[string]any{
			{"method": "proportional", "weights": []map[string]string{{"org_unit": "NKA", "value": "2"}, {"org_unit": "NCH", "value": "1"},
				{"org_unit": "R-EAST", "value": "4"}, {"org_unit": "R-NORTH", "value": "2"}, {"org_unit": "R-SOUTH", "value": "1.5"}}},
			{"method": "even", "buffer": "0.05"},
			{"method": "even"},
		},
		"phasing": map[string]any{"method": "profile", "profile": "year-end-peak"},
		"dry_run": dry,
	}, nil)
	var out api.AllocationResponse
	if r.Status < 300 {
		r.Decode(t, &out)
	}
	return r.Status, out, r.Body
}

// readGrid reads every grid row visible to user with the query.
func readGrid(t *testing.T, env *apitest.Env, user string, vid int64, query string) map[string][]decimal.Decimal {
	t.Helper()
	out := map[string][]decimal.Decimal{}
	cursor := ""
	for {
		var page api.GridPage
		url := fmt.Sprintf("/api/v1/versions/%d/targets?limit=1000&%s", vid, query)
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		env.GetJSON(user, url, &page)
		for _, row := range page.Items {
			var vals []decimal.Decimal
			for _, p := range row.Periods {
				vals = append(vals, decimal.RequireFromString(*p.Amount))
			}
			out[row.OrgUnit+"/"+row.ProductLine+"/"+row.Measure] = vals
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

func TestRoundLifecycleOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		body := map[string]any{"code": "FY2028", "name": "Plan 2028", "fiscal_year": 2028, "first_month": 1, "measures": []string{"revenue"}}
		var round api.Round
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "product manager may not create a round", Method: "POST", URL: "/api/v1/rounds", As: "pm-industry", Body: body, ExpectedStatus: 403},
			{Name: "unknown measure is named", Method: "POST", URL: "/api/v1/rounds", As: "strategy",
				Body:           map[string]any{"code": "X", "name": "X", "fiscal_year": 2028, "first_month": 1, "measures": []string{"nope"}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"measures[0]"`}},
			{Name: "first month out of range", Method: "POST", URL: "/api/v1/rounds", As: "strategy",
				Body: map[string]any{"code": "X", "name": "X", "fiscal_year": 2028, "first_month": 13}, ExpectedStatus: 422, ExpectedContent: []string{"first_month"}},
			{Name: "strategy office creates a draft", Method: "POST", URL: "/api/v1/rounds", As: "strategy", Body: body, ExpectedStatus: 201,
				ExpectedContent: []string{`"status":"draft"`, `"months":["2028-01"`, `"role":"president","action":"approve"`},
				After:           func(t *testing.T, env *apitest.Env, res *apitest.Response) { res.Decode(t, &round) }},
		})
		base := fmt.Sprintf("/api/v1/rounds/%d", round.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "illegal move lists the possible ones", Method: "POST", URL: base + "/transitions", As: "strategy",
				Body: map[string]any{"to": "review"}, ExpectedStatus: 409, ExpectedContent: []string{"possible now: open"}},
			{Name: "branch manager may not open", Method: "POST", URL: base + "/transitions", As: "bm-sh",
				Body: map[string]any{"to": "open"}, ExpectedStatus: 403},
			{Name: "stale If-Match", Method: "POST", URL: base + "/transitions", As: "strategy",
				Headers: map[string]string{"If-Match": `"99"`}, Body: map[string]any{"to": "open"}, ExpectedStatus: 412},
			{Name: "open", Method: "POST", URL: base + "/transitions", As: "strategy", Body: map[string]any{"to": "open", "comment": "go"},
				ExpectedStatus: 200, ExpectedContent: []string{`"status":"open"`, `"working_version_id":`}},
			{Name: "measures are fixed once open", Method: "PATCH", URL: base, As: "strategy",
				Body: map[string]any{"measures": []string{"units"}}, ExpectedStatus: 409},
			{Name: "to counterproposals", Method: "POST", URL: base + "/transitions", As: "admin", Body: map[string]any{"to": "counterproposals"}, ExpectedStatus: 200},
			{Name: "to review", Method: "POST", URL: base + "/transitions", As: "strategy", Body: map[string]any{"to": "review"}, ExpectedStatus: 200},
			{Name: "only the president approves", Method: "POST", URL: base + "/transitions", As: "sales-director", Body: map[string]any{"to": "approved"}, ExpectedStatus: 403},
			{Name: "and only through the approval chain", Method: "POST", URL: base + "/transitions", As: "president", Body: map[string]any{"to": "approved"},
				ExpectedStatus: 409, ExpectedContent: []string{"approval chain"}},
			{Name: "product managers submit", Method: "POST", URL: "/api/v1/versions/1/approval/actions", As: "pm-agency", Body: map[string]any{"action": "submit"}, ExpectedStatus: 200},
			{Name: "sales director reviews", Method: "POST", URL: "/api/v1/versions/1/approval/actions", As: "sales-director", Body: map[string]any{"action": "approve"}, ExpectedStatus: 200},
			{Name: "marketing director reviews", Method: "POST", URL: "/api/v1/versions/1/approval/actions", As: "marketing-director", Body: map[string]any{"action": "approve"}, ExpectedStatus: 200},
			{Name: "president approves", Method: "POST", URL: "/api/v1/versions/1/approval/actions", As: "president", Body: map[string]any{"action": "approve"},
				ExpectedStatus: 200, ExpectedContent: []string{`"state":"approved"`}},
			{Name: "the round is approved", Method: "GET", URL: base, As: "strategy",
				ExpectedStatus: 200, ExpectedContent: []string{`"status":"approved"`, `"record_version_id":1`}},
			{Name: "closed", Method: "POST", URL: base + "/transitions", As: "strategy", Body: map[string]any{"to": "closed"}, ExpectedStatus: 200},
			{Name: "nothing after closed", Method: "POST", URL: base + "/transitions", As: "strategy", Body: map[string]any{"to": "open"},
				ExpectedStatus: 409, ExpectedContent: []string{"possible now: none"}},
			{Name: "history of moves", Method: "GET", URL: base + "/transitions", As: "auditor", ExpectedStatus: 200,
				ExpectedContent: []string{`"from":"draft","to":"open"`, `"comment":"go"`, `"to":"closed"`}},
			{Name: "list by year and status", Method: "GET", URL: "/api/v1/rounds?fiscal_year=2028&status=closed", As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"code":"FY2028"`}},
			{Name: "bad status filter", Method: "GET", URL: "/api/v1/rounds?status=done", As: "bm-sh", ExpectedStatus: 400},
		})
	})
}

func TestAllocationOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID

		status, dry, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "12000000.00", true)
		if status != 200 || len(dry.Nodes) != 30 || dry.Run.CellCount != 360 || len(dry.Nodes[0].Months) != 12 {
			t.Fatalf("dry run: %d %s", status, body)
		}
		if g := readGrid(t, env, "strategy", vid, ""); len(g) != 0 {
			t.Fatalf("the dry run saved %d rows", len(g))
		}
		status, run, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "12000000.00", false)
		if status != 201 || run.Run.Checksum != dry.Run.Checksum || run.Run.ID == 0 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		// Every level and month adds up: the consistency report is empty.
		var cons api.InconsistencyPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency", vid), &cons)
		if len(cons.Items) != 0 {
			t.Fatalf("inconsistent after the cascade: %+v", cons.Items)
		}
		// Check the sums ourselves too, at the branch level (no buffer).
		g := readGrid(t, env, "strategy", vid, "product_line=POS&measure=revenue")
		if len(g) != 30 {
			t.Fatalf("%d grid rows, want one per org unit", len(g))
		}
		for _, b := range []string{"B-SH", "B-JS", "B-BJ", "B-GD"} {
			for m := 0; m < 12; m++ {
				kids := g[b+"-KA/POS/revenue"][m].Add(g[b+"-CH/POS/revenue"][m])
				if !kids.Equal(g[b+"/POS/revenue"][m]) {
					t.Fatalf("%s month %d: teams %s, branch %s", b, m+1, kids, g[b+"/POS/revenue"][m])
				}
			}
		}
		total := decimal.Zero
		for _, x := range g["CO/POS/revenue"] {
			total = total.Add(x)
		}
		if total.String() != "12000000" {
			t.Fatalf("company year %s", total)
		}
		// The run is listed and explains itself.
		var runs api.AllocationRunPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), &runs)
		if len(runs.Items) != 1 {
			t.Fatalf("runs %+v", runs)
		}
		var got api.AllocationRun
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/allocations/%d?explain_under=R-EAST", run.Run.ID), &got)
		if got.Replayed == nil || !*got.Replayed || len(got.Explanation) != 4 || got.Explanation[0].Reason == "" || got.Explanation[0].Months[0].Period != "2027-04" {
			t.Fatalf("explanation %+v", got)
		}

		apitest.Run(t, env, []apitest.Scenario{
			{Name: "quarter grain", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=B-SH&grain=quarter", vid), As: "bm-sh",
				ExpectedStatus: 200, ExpectedContent: []string{`"period":"FY2027-Q1"`, `"period":"FY2027-Q4"`}, NotExpectedContent: []string{`"2027-04"`}},
			{Name: "year grain", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=B-SH&grain=year", vid), As: "bm-sh",
				ExpectedStatus: 200, ExpectedContent: []string{`"period":"FY2027"`}},
			{Name: "a branch cannot read another branch", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=B-JS", vid), As: "bm-sh", ExpectedStatus: 404},
			{Name: "nor its subtree", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=CO&subtree=true", vid), As: "bm-sh", ExpectedStatus: 404},
			{Name: "unfiltered, a branch sees only itself", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?product_line=POS", vid), As: "bm-sh",
				ExpectedStatus: 200, ExpectedContent: []string{`"org_unit":"B-SH"`, `"org_unit":"B-SH-KA"`}, NotExpectedContent: []string{`"org_unit":"B-JS`, `"org_unit":"CO"`, `"org_unit":"R-EAST"`}},
			{Name: "nor by the diff", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/diff?against=%d&org_unit=B-JS", vid, vid), As: "bm-sh", ExpectedStatus: 404},
			{Name: "team lead sees its team only", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets", vid), As: "tl-sh-ka",
				ExpectedStatus: 200, ExpectedContent: []string{`"org_unit":"B-SH-KA"`}, NotExpectedContent: []string{`"org_unit":"B-SH"`}},
			{Name: "period range", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=CO&period=2028-01..2028-03", vid), As: "strategy",
				ExpectedStatus: 200, ExpectedContent: []string{`"period":"2028-01"`, `"period":"2028-03"`}, NotExpectedContent: []string{`"period":"2027-12"`}},
			{Name: "month outside the round", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/targets?period=2027-01", vid), As: "strategy",
				ExpectedStatus: 400, ExpectedContent: []string{"outside the round"}},
			{Name: "another owner's line is forbidden", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocations", vid), As: "pm-agency",
				Body: map[string]any{"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}}, ExpectedStatus: 403},
			{Name: "too many decimals for the measure", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocations", vid), As: "pm-industry",
				Body:           map[string]any{"measure": "units", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1.5"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"targets[0].amount"`}},
			{Name: "unknown root", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocations", vid), As: "pm-industry",
				Body:           map[string]any{"measure": "revenue", "root": "NOPE", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"root"`}},
			{Name: "branch manager may not allocate", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocations", vid), As: "bm-sh",
				Body: map[string]any{"measure": "revenue", "root": "B-SH", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}}, ExpectedStatus: 403},
		})
	})
}

func TestVersionsOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		v1 := *round.WorkingVersionID
		if status, _, body := cascadeRevenue(t, env, "pm-commercial", v1, "UPS", "5000000.00", false); status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		pm := apitest.Token("pm-commercial")
		r := env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), pm,
			map[string]any{"from_version_id": v1, "label": "revised", "purpose": "after the branches' input"}, nil)
		if r.Status != 201 {
			t.Fatalf("copy: %d %s", r.Status, r.Body)
		}
		var v2 api.Version
		r.Decode(t, &v2)
		if v2.ParentID == nil || *v2.ParentID != v1 || v2.CellCount != 360 {
			t.Fatalf("copy %+v", v2)
		}
		etag := r.Header.Get("ETag")
		edit := map[string]any{"cells": []map[string]any{
			{"org_unit": "B-ZJ-CH", "product_line": "UPS", "measure": "revenue", "period": "2027-06", "amount": "12345.67"},
			{"org_unit": "B-ZJ", "product_line": "UPS", "measure": "units", "period": "2028-03", "amount": "40"},
		}}
		versionURL := fmt.Sprintf("/api/v1/versions/%d", v2.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "edit with the current ETag", Method: "PUT", URL: versionURL + "/targets", As: "pm-commercial", Body: edit,
				Headers: map[string]string{"If-Match": etag}, ExpectedStatus: 200},
			{Name: "the same ETag again is stale", Method: "PUT", URL: versionURL + "/targets", As: "pm-commercial", Body: edit,
				Headers: map[string]string{"If-Match": etag}, ExpectedStatus: 412},
			{Name: "If-Match is required", Method: "PUT", URL: versionURL + "/targets", As: "pm-commercial", Body: edit, ExpectedStatus: 428,
				ExpectedContent: []string{`"field":"If-Match"`}},
			{Name: "every bad cell is named and nothing is written", Method: "PUT", URL: versionURL + "/targets", As: "pm-commercial", Headers: map[string]string{"If-Match": "*"},
				Body: map[string]any{"cells": []map[string]any{
					{"org_unit": "B-ZJ", "product_line": "UPS", "measure": "revenue", "period": "2027-06", "amount": "99.00"},
					{"org_unit": "NOPE", "product_line": "UPS", "measure": "revenue", "period": "2027-06", "amount": "1.00"},
					{"org_unit": "B-ZJ", "product_line": "UPS", "measure": "units", "period": "2027-13", "amount": "1"},
					{"org_unit": "B-ZJ", "product_line": "UPS", "measure": "revenue", "period": "2027-07", "amount": "1.001"},
					{"org_unit": "B-ZJ", "product_line": "UPS", "measure": "revenue", "period": "2027-08", "amount": "1e5"},
				}},
				ExpectedStatus: 422, ExpectedContent: []string{`"cells[1].org_unit"`, `"cells[2].period"`, `"cells[3].amount"`, `"cells[4].amount"`},
				After: func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
					g := readGrid(t, env, "strategy", v2.ID, "org_unit=B-ZJ&product_line=UPS&measure=revenue")
					if g["B-ZJ/UPS/revenue"][2].String() == "99" {
						t.Fatal("a refused batch wrote a cell")
					}
				}},
			{Name: "another owner's line", Method: "PUT", URL: versionURL + "/targets", As: "pm-industry", Body: edit, Headers: map[string]string{"If-Match": "*"}, ExpectedStatus: 403},
			{Name: "branch managers do not edit", Method: "PUT", URL: versionURL + "/targets", As: "bm-zj", Body: edit, Headers: map[string]string{"If-Match": "*"}, ExpectedStatus: 403},
			{Name: "diff names exactly the edits", Method: "GET", URL: fmt.Sprintf("%s/diff?against=%d", versionURL, v1), As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"changed_cells":2`, `"org_unit":"B-ZJ-CH"`, `"after":"12345.67"`, `"before":"0"`, `"after":"40"`, `"key":"units"`}},
			{Name: "diff filtered by measure", Method: "GET", URL: fmt.Sprintf("%s/diff?against=%d&measure=units", versionURL, v1), As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"changed_cells":1`}},
			{Name: "diff needs against", Method: "GET", URL: versionURL + "/diff", As: "strategy", ExpectedStatus: 400, ExpectedContent: []string{`"field":"against"`}},
			{Name: "the edits broke consistency, and it says where", Method: "GET", URL: versionURL + "/consistency", As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"parent":"B-ZJ"`, `"period":"2027-06"`}},
			{Name: "only the strategy office freezes", Method: "POST", URL: versionURL + "/freeze", As: "pm-commercial", ExpectedStatus: 403},
			{Name: "freeze", Method: "POST", URL: versionURL + "/freeze", As: "strategy", ExpectedStatus: 200, ExpectedContent: []string{`"status":"frozen"`}},
			{Name: "a frozen version refuses edits", Method: "PUT", URL: versionURL + "/targets", As: "pm-commercial", Body: edit, Headers: map[string]string{"If-Match": "*"}, ExpectedStatus: 409,
				ExpectedContent: []string{"frozen"}},
			{Name: "and allocations", Method: "POST", URL: versionURL + "/allocations", As: "pm-commercial",
				Body: map[string]any{"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "UPS", "amount": "1.00"}}}, ExpectedStatus: 409},
			{Name: "versions list with lineage", Method: "GET", URL: fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), As: "bm-sh", ExpectedStatus: 200,
				ExpectedContent: []string{`"number":1`, fmt.Sprintf(`"parent_id":%d`, v1), `"label":"revised"`}},
		})
		if strings.Contains(env.Logs(), `"status":500`) {
			t.Fatal("a request failed with 500")
		}
	})
}
