package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api/apitest"
)

// TestBadInput checks that malformed and hostile requests are refused with
// the right status and a problem naming the field, and change nothing.
func TestBadInput(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		apitest.Run(t, env, badInputScenarios(env))
	})
}

func badInputScenarios(env *apitest.Env) []apitest.Scenario {
	bsh := fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID("B-SH"))
	even := fmt.Sprintf("/api/v1/seasonality-profiles/%d", env.SeasonalityProfileID("even"))
	pos := fmt.Sprintf("/api/v1/product-lines/%d", env.ProductLineID("POS"))
	revenue := fmt.Sprintf("/api/v1/measures/%d", env.MeasureID("revenue"))
	problem := map[string]string{"Content-Type": "application/problem+json"}
	unchanged := expectBody(bsh, `"name":"Shanghai branch"`, `"revision":1`)
	evenUnchanged := expectBody(even, `"weights":["1","1","1","1","1","1","1","1","1","1","1","1"]`, `"revision":1`)
	w := func(ws ...string) string {
		return `{"weights":["` + strings.Join(ws, `","`) + `"]}`
	}
	ones := make([]string, 12)
	for i := range ones {
		ones[i] = "1"
	}
	with := func(i int, v string) []string {
		ws := append([]string{}, ones...)
		ws[i] = v
		return ws
	}
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`

	return []apitest.Scenario{
		// Decoding.
		{Name: "unknown field", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"X","colour":"red"}`,
			ExpectedStatus: 400, ExpectedHeaders: problem,
			ExpectedContent: []string{`"field":"colour"`, `"type":"urn:cascade:problem:bad_request"`}, After: unchanged},
		{Name: "wrong type names the field", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":5}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"name"`, `must be a JSON string`}, After: unchanged},
		{Name: "wrong type for an id", Method: "PATCH", URL: bsh, As: "admin", Body: `{"parent_id":"1"}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"parent_id"`}, After: unchanged},
		{Name: "fractional integer", Method: "POST", URL: "/api/v1/measures", As: "admin",
			Body: `{"code":"m1","name":"M","unit":"CNY","scale":2.5}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"scale"`}, After: expectAbsent("/api/v1/measures?code=m1")},
		{Name: "wrong type for a nullable id", Method: "PATCH", URL: pos, As: "admin", Body: `{"owner_id":"x"}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"owner_id"`}},
		{Name: "a number where weights are strings", Method: "PATCH", URL: even, As: "admin",
			Body: `{"weights":[1,1,1,1,1,1,1,1,1,1,1,1]}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"weights"`}, After: evenUnchanged},
		{Name: "duplicate key", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"A","name":"B"}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"name"`, "more than once"}, After: unchanged},
		{Name: "case-folded duplicate key", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"A","NAME":"B"}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"NAME"`}, After: unchanged},
		{Name: "Kelvin-sign key", Method: "POST", URL: "/api/v1/org-units", As: "admin",
			Body:           fmt.Sprintf(`{"code":"K1","name":"K","\u212aind":"department","parent_id":%d}`, env.OrgUnitID("CO")),
			ExpectedStatus: 400, After: expectAbsent("/api/v1/org-units?code=K1")},
		{Name: "invalid UTF-8", Method: "PATCH", URL: bsh, As: "admin", Body: []byte("{\"name\":\"\xff\xfe\"}"),
			ExpectedStatus: 422, ExpectedContent: []string{"UTF-8", `"field":"name"`}, After: unchanged},
		{Name: "empty body", Method: "PATCH", URL: bsh, As: "admin", Body: "", Headers: map[string]string{"Content-Type": "application/json"},
			ExpectedStatus: 400, ExpectedContent: []string{"body is required"}, After: unchanged},
		{Name: "malformed JSON", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":`,
			ExpectedStatus: 400, ExpectedContent: []string{"malformed JSON"}, After: unchanged},
		{Name: "trailing data", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"A"} {"name":"B"}`,
			ExpectedStatus: 400, ExpectedContent: []string{"after the JSON value"}, After: unchanged},
		{Name: "not an object", Method: "PATCH", URL: bsh, As: "admin", Body: `["name"]`,
			ExpectedStatus: 400, After: unchanged},
		{Name: "deep nesting", Method: "PATCH", URL: bsh, As: "admin",
			Body: `{"name":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, ExpectedStatus: 400, After: unchanged},
		{Name: "oversized body", Method: "PATCH", URL: bsh, As: "admin", Body: big,
			ExpectedStatus: 413, ExpectedHeaders: problem, After: unchanged},
		{Name: "not JSON", Method: "PATCH", URL: bsh, As: "admin", Body: `name=x`,
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, ExpectedStatus: 415, After: unchanged},

		// Decimals: weights are decimal strings ≥ 0 with at most 6 places.
		{Name: "malformed decimal weight", Method: "PATCH", URL: even, As: "admin", Body: w(with(2, "1e3")...),
			ExpectedStatus: 422, ExpectedContent: []string{`"field":"weights[2]"`, `"type":"urn:cascade:problem:invalid"`}, After: evenUnchanged},
		{Name: "too many decimal places", Method: "PATCH", URL: even, As: "admin", Body: w(with(0, "0.1234567")...),
			ExpectedStatus: 422, ExpectedContent: []string{`"field":"weights[0]"`, "decimal places"}, After: evenUnchanged},
		{Name: "negative weight", Method: "PATCH", URL: even, As: "admin", Body: w(with(11, "-1")...),
			ExpectedStatus: 422, ExpectedContent: []string{`"field":"weights[11]"`, "negative"}, After: evenUnchanged},
		{Name: "NaN weight", Method: "PATCH", URL: even, As: "admin", Body: w(with(5, "NaN")...),
			ExpectedStatus: 422, ExpectedContent: []string{`"field":"weights[5]"`}, After: evenUnchanged},
		{Name: "eleven weights", Method: "PATCH", URL: even, As: "admin", Body: w(ones[:11]...),
			ExpectedStatus: 422, ExpectedContent: []string{`"field":"weights"`}, After: evenUnchanged},
		{Name: "all-zero weights", Method: "PATCH", URL: even, As: "admin",
			Body: w("0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0.000000"), ExpectedStatus: 422, After: evenUnchanged},
		{Name: "six decimal places are fine", Method: "POST", URL: "/api/v1/seasonality-profiles", As: "admin",
			Body:           map[string]any{"code": "fine", "name": "Fine", "weights": with(3, "0.123456")},
			ExpectedStatus: 201, ExpectedContent: []string{`"0.123456"`}},

		// Paths, queries and headers.
		{Name: "non-numeric id", Method: "GET", URL: "/api/v1/org-units/abc", As: "admin", ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"id"`}},
		{Name: "zero id", Method: "GET", URL: "/api/v1/measures/0", As: "admin", ExpectedStatus: 400},
		{Name: "huge id", Method: "GET", URL: "/api/v1/measures/99999999999999999999", As: "admin", ExpectedStatus: 400},
		{Name: "unknown id", Method: "GET", URL: "/api/v1/measures/999999", As: "admin", ExpectedStatus: 404, ExpectedHeaders: problem},
		{Name: "bad role id", Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d/roles/x", env.UserID("bm-sh")), As: "admin",
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"role_id"`}},
		{Name: "unknown query parameter", Method: "GET", URL: "/api/v1/org-units?kinds=branch", As: "admin",
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"kinds"`}},
		{Name: "repeated query parameter", Method: "GET", URL: "/api/v1/org-units?kind=branch&kind=region", As: "admin",
			ExpectedStatus: 400, ExpectedContent: []string{`"field":"kind"`}},
		{Name: "unknown kind", Method: "GET", URL: "/api/v1/org-units?kind=planet", As: "admin", ExpectedStatus: 400},
		{Name: "limit zero", Method: "GET", URL: "/api/v1/measures?limit=0", As: "admin", ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"limit"`}},
		{Name: "limit too large", Method: "GET", URL: "/api/v1/measures?limit=1001", As: "admin", ExpectedStatus: 400},
		{Name: "forged cursor", Method: "GET", URL: "/api/v1/measures?cursor=%21%21%21", As: "admin", ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"cursor"`}},
		{Name: "bad boolean", Method: "GET", URL: "/api/v1/measures?active=yes", As: "admin", ExpectedStatus: 400},
		{Name: "bad timestamp", Method: "GET", URL: "/api/v1/audit?from=yesterday", As: "auditor", ExpectedStatus: 400,
			ExpectedContent: []string{`"field":"from"`}},
		{Name: "malformed If-Match", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"X"}`,
			Headers: map[string]string{"If-Match": "1"}, ExpectedStatus: 400, ExpectedContent: []string{`"field":"If-Match"`}, After: unchanged},
		{Name: "stale If-Match", Method: "PATCH", URL: bsh, As: "admin", Body: `{"name":"X"}`,
			Headers: map[string]string{"If-Match": `"7"`}, ExpectedStatus: 412, ExpectedHeaders: problem, After: unchanged},
		{Name: "weak If-Match", Method: "PATCH", URL: revenue, As: "admin", Body: `{"name":"X"}`,
			Headers: map[string]string{"If-Match": `W/"1"`}, ExpectedStatus: 412},

		// The framework's own errors are problems too.
		{Name: "unknown route", Method: "GET", URL: "/api/v1/nope", As: "admin", ExpectedStatus: 404,
			ExpectedHeaders: problem, ExpectedContent: []string{`"status":404`, `"instance":"/api/v1/nope"`}},
		{Name: "unknown route outside the API", Method: "GET", URL: "/nope", ExpectedStatus: 404, ExpectedHeaders: problem},
		{Name: "wrong method", Method: "PUT", URL: bsh, As: "admin", Body: `{}`, ExpectedStatus: 405,
			ExpectedHeaders: problem, ExpectedContent: []string{`"status":405`, `"title":"Method Not Allowed"`}},
	}
}
