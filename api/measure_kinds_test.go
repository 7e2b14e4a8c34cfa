package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestMeasureKindsOverHTTP runs the demo's measures that do not add up
// through the API: their kinds as the API shows them, the rules of a new
// one (each refusal naming its field and changing nothing), cells set per
// unit, ratings checked against their scale, the allocation refusing
// them, the consistency check passing them over, and their quarters in
// the grid and the target workbook following their aggregation.
func TestMeasureKindsOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "market share is a weighted average by revenue", Method: "GET", URL: "/api/v1/measures?code=market_share", As: "auditor",
				ExpectedStatus: 200, ExpectedContent: []string{`"kind":"amount"`, `"aggregation":"weighted_average"`, `"weight_measure":"revenue"`, `"unit":"percent"`}},
			{Name: "the plan rating has its scale", Method: "GET", URL: "/api/v1/measures?code=plan_quality", As: "auditor",
				ExpectedStatus: 200, ExpectedContent: []string{`"kind":"rating"`, `"aggregation":"none"`, `"rating":{"min":"1.0","max":"5.0","step":"0.5"}`}},
			{Name: "revenue adds up", Method: "GET", URL: "/api/v1/measures?code=revenue", As: "auditor",
				ExpectedStatus: 200, ExpectedContent: []string{`"aggregation":"sum"`, `"weight_measure":null`, `"rating":null`}},
			{Name: "a weighted average needs a weight", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "retention", "name": "Retention", "unit": "percent", "scale": 2, "aggregation": "weighted_average"},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"weight_measure"`}},
			{Name: "an unknown weight", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "retention", "name": "Retention", "unit": "percent", "scale": 2, "aggregation": "weighted_average", "weight_measure": "nope"},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"weight_measure"`}},
			{Name: "a weight that does not add up", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "retention", "name": "Retention", "unit": "percent", "scale": 2, "aggregation": "weighted_average", "weight_measure": "market_share"},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"weight_measure"`}},
			{Name: "a rating's steps fit its scale", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "conduct", "name": "Conduct", "unit": "points", "scale": 0, "kind": "rating", "rating": map[string]any{"min": "1", "max": "4", "step": "2"}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"rating.step"`}},
			{Name: "a rating is not summed", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "conduct", "name": "Conduct", "unit": "points", "scale": 0, "kind": "rating", "aggregation": "sum", "rating": map[string]any{"min": "1", "max": "5", "step": "1"}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"aggregation"`}},
			{Name: "retention weighted by revenue", Method: "POST", URL: "/api/v1/measures", As: "strategy",
				Body:           map[string]any{"code": "retention", "name": "Retention", "unit": "percent", "scale": 2, "aggregation": "weighted_average", "weight_measure": "revenue"},
				ExpectedStatus: 201, ExpectedContent: []string{`"weight_measure":"revenue"`}},
			{Name: "nothing refused was stored", Method: "GET", URL: "/api/v1/measures?code=conduct", As: "strategy",
				ExpectedStatus: 200, ExpectedContent: []string{`"items":[]`}},
		})

		var pen, rev api.MeasurePage
		env.GetJSON("strategy", "/api/v1/measures?code=retention", &pen)
		env.GetJSON("strategy", "/api/v1/measures?code=revenue", &rev)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "revenue weighs market share: it keeps adding up", Method: "PATCH", URL: fmt.Sprintf("/api/v1/measures/%d", rev.Items[0].ID), As: "strategy",
				Body: map[string]any{"aggregation": "last_value"}, ExpectedStatus: 422, ExpectedContent: []string{`"field":"aggregation"`}},
			{Name: "retention at period end drops its weight", Method: "PATCH", URL: fmt.Sprintf("/api/v1/measures/%d", pen.Items[0].ID), As: "strategy",
				Body: map[string]any{"aggregation": "last_value"}, ExpectedStatus: 200,
				ExpectedContent: []string{`"aggregation":"last_value"`, `"weight_measure":null`}},
			{Name: "an unknown aggregation", Method: "PATCH", URL: fmt.Sprintf("/api/v1/measures/%d", pen.Items[0].ID), As: "strategy",
				Body: map[string]any{"aggregation": "median"}, ExpectedStatus: 422, ExpectedContent: []string{`"field":"aggregation"`}},
		})

		strategy := apitest.Token("strategy")
		r := env.Request("POST", "/api/v1/rounds", strategy, map[string]any{
			"code": "FY2027", "name": "Plan 2027", "fiscal_year": 2027, "first_month": 4,
			"measures": []string{"revenue", "market_share", "customers", "plan_quality"}}, nil)
		if r.Status != 201 {
			t.Fatalf("create round: %d %s", r.Status, r.Body)
		}
		var round api.Round
		r.Decode(t, &round)
		if r = env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), strategy, map[string]any{"to": "open"}, nil); r.Status != 200 {
			t.Fatalf("open: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &round)
		vid := *round.WorkingVersionID
		putCells(t, env, "strategy", vid,
			[5]string{"B-SH", "POS", "revenue", "2027-04", "100.00"}, [5]string{"B-SH", "POS", "revenue", "2027-05", "300.00"},
			[5]string{"B-SH", "POS", "market_share", "2027-04", "10.00"}, [5]string{"B-SH", "POS", "market_share", "2027-05", "20.00"},
			[5]string{"B-SH-KA", "POS", "market_share", "2027-04", "30.00"},
			[5]string{"B-SH", "POS", "customers", "2027-04", "5"}, [5]string{"B-SH", "POS", "customers", "2027-05", "7"},
			[5]string{"B-SH", "POS", "plan_quality", "2027-06", "4.5"})
		targets := fmt.Sprintf("/api/v1/versions/%d/targets", vid)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a rating off its scale", Method: "PUT", URL: targets, As: "strategy", Headers: map[string]string{"If-Match": "*"},
				Body:           map[string]any{"cells": []map[string]string{{"org_unit": "B-SH", "product_line": "POS", "measure": "plan_quality", "period": "2027-07", "amount": "4.2"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"cells[0].amount"`, "rating scale"}},
			{Name: "rates are not cascaded", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocations", vid), As: "pm-industry",
				Body:           map[string]any{"measure": "market_share", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "20.00"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"measure"`, "weighted_average"}},
			// B-SH's 10.00 and 20.00 weighted by its revenue 100 and 300.
			{Name: "a quarter of market share is weighted by revenue", Method: "GET", As: "strategy",
				URL:            targets + "?org_unit=B-SH&measure=market_share,customers&grain=quarter",
				ExpectedStatus: 200, ExpectedContent: []string{`"measure":"market_share","periods":[{"period":"FY2027-Q1","amount":"17.50"}`,
					`"measure":"customers","periods":[{"period":"FY2027-Q1","amount":"7"}`}},
			// A rate or rating without a value is null, not 0; a sum's
			// missing cells stay "0.00".
			{Name: "a period without a rate or rating is null", Method: "GET", As: "strategy",
				URL:            targets + "?org_unit=B-SH&measure=market_share,plan_quality,revenue&grain=quarter",
				ExpectedStatus: 200, ExpectedContent: []string{
					`"measure":"market_share","periods":[{"period":"FY2027-Q1","amount":"17.50"},{"period":"FY2027-Q2","amount":null},{"period":"FY2027-Q3","amount":null},{"period":"FY2027-Q4","amount":null}],"total":"17.50"`,
					`"measure":"plan_quality","periods":[{"period":"FY2027-Q1","amount":"4.5"},{"period":"FY2027-Q2","amount":null}`,
					`{"period":"FY2027-Q2","amount":"0.00"}`}},
			{Name: "a month without a rating is null", Method: "GET", As: "strategy",
				URL:            targets + "?org_unit=B-SH&measure=plan_quality&period=2027-05..2027-06",
				ExpectedStatus: 200, ExpectedContent: []string{`"periods":[{"period":"2027-05","amount":null},{"period":"2027-06","amount":"4.5"}],"total":"4.5"`}},
			// Not aggregated: the span's last month, which holds none.
			{Name: "a span ending without a rating has a null total", Method: "GET", As: "strategy",
				URL:            targets + "?org_unit=B-SH&measure=plan_quality&period=2027-06..2027-07",
				ExpectedStatus: 200, ExpectedContent: []string{`"periods":[{"period":"2027-06","amount":"4.5"},{"period":"2027-07","amount":null}],"total":null`}},
			{Name: "the grid's CSV leaves a rating without a value empty", Method: "GET", As: "strategy",
				URL:            fmt.Sprintf("/api/v1/versions/%d/export?format=csv&org_unit=B-SH&measure=plan_quality&period=2027-05..2027-06", vid),
				ExpectedStatus: 200, ExpectedContent: []string{"plan_quality,,4.5,4.5"}},
			// B-SH-KA's 30.00 is not B-SH's: no inconsistency for rates.
			{Name: "rates need not add up", Method: "GET", URL: fmt.Sprintf("/api/v1/versions/%d/consistency", vid), As: "strategy",
				ExpectedStatus: 200, NotExpectedContent: []string{"market_share", `"measure_id":`}},
		})

		r = env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/export?org_unit=B-SH&measure=market_share", vid), strategy, nil, nil)
		if r.Status != 200 {
			t.Fatalf("workbook: %d %s", r.Status, r.Body)
		}
		f, err := excelize.OpenReader(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		found := false
		for _, sheet := range f.GetSheetList() {
			rows, _ := f.GetRows(sheet)
			for _, row := range rows {
				if len(row) > 6 && row[0] == "B-SH" && row[2] == "POS" {
					found = true
					if row[6] != "17.50" && row[6] != "17.5" {
						t.Errorf("the workbook's Q1 of market share is %q, want 17.50: %q", row[6], row)
					}
					// Q2 holds no share: empty, not 0.
					if len(row) > 10 && row[10] != "" {
						t.Errorf("the workbook's Q2 of market share is %q, want empty: %q", row[10], row)
					}
				}
			}
		}
		if !found {
			t.Errorf("the workbook has no B-SH POS row of market share")
		}

		// A diff sums revenue's changes only; market share's and the
		// rating's are listed and counted as not summed.
		var v2 api.Version
		env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), strategy,
			map[string]any{"from_version_id": vid, "label": "revised"}, nil).Decode(t, &v2)
		putCells(t, env, "strategy", v2.ID,
			[5]string{"B-SH", "POS", "revenue", "2027-04", "150.00"},
			[5]string{"B-SH", "POS", "market_share", "2027-04", "15.00"}, [5]string{"B-SH", "POS", "market_share", "2027-05", "25.00"},
			[5]string{"B-SH", "POS", "plan_quality", "2027-06", "3.0"})
		diff := fmt.Sprintf("/api/v1/versions/%d/diff?against=%d", v2.ID, vid)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a diff sums the measures that add up only", Method: "GET", URL: diff, As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"changed_cells":4`, `"by_org_unit":[{"level":3,"key":"B-SH","before":"100.00","after":"150.00","delta":"50.00"}]`,
					`"by_measure":[{"level":3,"key":"revenue","before":"100.00","after":"150.00","delta":"50.00"}]`,
					`"by_period":[{"level":3,"key":"2027-04","before":"100.00","after":"150.00","delta":"50.00"}]`,
					`"not_summed":[`, `{"measure":"market_share","aggregation":"weighted_average","changed_cells":2}`,
					`{"measure":"plan_quality","aggregation":"none","changed_cells":1}`,
					`"measure":"plan_quality","period":"2027-06","before":"4.5","after":"3.0","delta":"-1.5"`}},
			{Name: "a diff of sums only has nothing left out", Method: "GET", URL: diff + "&measure=revenue", As: "strategy", ExpectedStatus: 200,
				ExpectedContent: []string{`"changed_cells":1`, `"not_summed":[]`}},
		})
		r = env.Request("GET", diff+"&format=xlsx", strategy, nil, nil)
		if r.Status != 200 {
			t.Fatalf("diff workbook: %d %s", r.Status, r.Body)
		}
		wb, err := excelize.OpenReader(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		defer wb.Close()
		units, _ := wb.GetRows("By org unit", excelize.Options{RawCellValue: true})
		if len(units) != 6 || units[5][1] != "B-SH" || !sameNumber(units[5][5], "50.00") {
			t.Errorf("the workbook's org unit sheet sums more than revenue: %q", units)
		}
		if !strings.Contains(units[2][0], "market_share (weighted_average, 2 changed cells)") || !strings.Contains(units[2][0], "plan_quality (none, 1 changed cells)") {
			t.Errorf("the workbook does not say what it leaves out: %q", units[2][0])
		}
		if changes, _ := wb.GetRows("Changes"); len(changes) != 5+4 {
			t.Errorf("the workbook lists %d changes, want 4: %q", len(changes)-5, changes)
		}

		// A counterproposal on a rate and a rating: decided onto B-SH's own
		// cells, its teams untouched.
		if r = env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), strategy, map[string]any{"to": "counterproposals"}, nil); r.Status != 200 {
			t.Fatalf("to counterproposals: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &round)
		wv := *round.WorkingVersionID
		r = env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", wv), apitest.Token("bm-sh"), map[string]any{
			"org_unit": "B-SH", "title": "share and plans", "lines": []map[string]string{
				{"product_line": "POS", "measure": "market_share", "period": "2027-06", "proposed": "22.00", "reason": "new bank"},
				{"product_line": "POS", "measure": "plan_quality", "period": "year", "proposed": "4.0", "reason": "better plans"}}}, nil)
		if r.Status != 201 {
			t.Fatalf("counterproposal: %d %s", r.Status, r.Body)
		}
		var cp api.Counterproposal
		r.Decode(t, &cp)
		if r = env.Request("POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", cp.ID), apitest.Token("bm-sh"), nil, nil); r.Status != 200 {
			t.Fatalf("submit: %d %s", r.Status, r.Body)
		}
		decision := fmt.Sprintf("/api/v1/counterproposals/%d/decision", cp.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "a rating decided off its scale", Method: "POST", URL: decision, As: "pm-industry",
				Body:           map[string]any{"decisions": []map[string]any{{"line_id": cp.Lines[1].ID, "decision": "modify", "amount": "4.2"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"decisions[0].amount"`}},
			{Name: "a rate is not rebalanced", Method: "POST", URL: decision, As: "pm-industry",
				Body:           map[string]any{"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept", "apply": "rebalance"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"decisions[0].apply"`}},
			// Not aggregated: the year is its last month's, which held none.
			{Name: "the preview compares B-SH's year by the rule", Method: "POST", URL: decision + "/preview", As: "pm-industry",
				Body:           map[string]any{"decisions": []map[string]any{{"line_id": cp.Lines[1].ID, "decision": "accept"}}},
				ExpectedStatus: 200, ExpectedContent: []string{`"relation":"unit","org_unit":"B-SH"`, `"relation":"unit","org_unit":"B-SH","org_unit_name":"Shanghai branch","org_unit_name_local":"上海分公司","before":"0.0","after":"4.0"`}},
			{Name: "decided onto the unit's own cells", Method: "POST", URL: decision, As: "pm-industry",
				Body: map[string]any{"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept"},
					{"line_id": cp.Lines[1].ID, "decision": "accept"}}},
				ExpectedStatus: 200, ExpectedContent: []string{`"status":"closed"`}},
			{Name: "B-SH's June share and every month's rating; its team's share as it was", Method: "GET", As: "strategy",
				URL:            fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=B-SH&subtree=true&measure=market_share,plan_quality&period=2027-04..2027-06", wv),
				ExpectedStatus: 200, ExpectedContent: []string{
					`{"period":"2027-06","amount":"22.00"}`,
					`"measure":"plan_quality","periods":[{"period":"2027-04","amount":"4.0"},{"period":"2027-05","amount":"4.0"},{"period":"2027-06","amount":"4.0"}]`,
					`"org_unit":"B-SH-KA"`, `"measure":"market_share","periods":[{"period":"2027-04","amount":"30.00"},{"period":"2027-05","amount":null},{"period":"2027-06","amount":null}]`}},
		})
	})
}
