package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api/apitest"
)

// TestRoleScenarios checks each role's allowed and forbidden calls on the
// master data, on every database.
func TestRoleScenarios(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		apitest.Run(t, env, roleScenarios(env))
	})
}

func roleScenarios(env *apitest.Env) []apitest.Scenario {
	ou := func(code string) string { return fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID(code)) }
	pl := func(code string) string { return fmt.Sprintf("/api/v1/product-lines/%d", env.ProductLineID(code)) }
	user := func(name string) string { return fmt.Sprintf("/api/v1/users/%d", env.UserID(name)) }
	weights := []string{"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}
	problem := map[string]string{"Content-Type": "application/problem+json"}

	return []apitest.Scenario{
		// Authentication.
		{Name: "anonymous is 401 with a Bearer challenge", Method: "GET", URL: "/api/v1/me",
			ExpectedStatus: 401, ExpectedContent: []string{`"status":401`, `"type":"urn:cascade:problem:unauthorized"`, `"errors":[]`},
			ExpectedHeaders: map[string]string{"Content-Type": "application/problem+json", "WWW-Authenticate": `Bearer realm="cascade"`}},
		{Name: "unknown token is 401", Method: "GET", URL: "/api/v1/org-units", Token: "cas_nosuchtoken",
			ExpectedStatus: 401, ExpectedHeaders: problem},
		{Name: "basic auth is 401", Method: "GET", URL: "/api/v1/me",
			Headers: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, ExpectedStatus: 401},
		{Name: "bearer without token is 401", Method: "GET", URL: "/api/v1/me",
			Headers: map[string]string{"Authorization": "Bearer "}, ExpectedStatus: 401},
		{Name: "anonymous write is 401 and changes nothing", Method: "POST", URL: "/api/v1/measures",
			Body: map[string]any{"code": "anon", "name": "x", "unit": "CNY", "scale": 2}, ExpectedStatus: 401,
			After: expectAbsent("/api/v1/measures?code=anon")},
		{Name: "me", Method: "GET", URL: "/api/v1/me", As: "pm-industry", ExpectedStatus: 200,
			ExpectedContent: []string{`"username":"pm-industry"`, `"role":"product_manager"`, `"owned_product_line_ids":[`}},

		// Org units: branch managers and team leads see their subtree only.
		{Name: "bm-sh reads B-SH", Method: "GET", URL: ou("B-SH"), As: "bm-sh", ExpectedStatus: 200,
			ExpectedContent: []string{`"code":"B-SH"`}},
		{Name: "bm-sh reads its team", Method: "GET", URL: ou("B-SH-KA"), As: "bm-sh", ExpectedStatus: 200},
		{Name: "bm-sh reading B-JS is 404", Method: "GET", URL: ou("B-JS"), As: "bm-sh", ExpectedStatus: 404,
			NotExpectedContent: []string{"B-JS"}, ExpectedHeaders: problem},
		{Name: "bm-sh reading the company is 404", Method: "GET", URL: ou("CO"), As: "bm-sh", ExpectedStatus: 404},
		{Name: "bm-sh lists only its subtree", Method: "GET", URL: "/api/v1/org-units", As: "bm-sh", ExpectedStatus: 200,
			ExpectedContent:    []string{`"code":"B-SH"`, `"code":"B-SH-KA"`, `"code":"B-SH-CH"`},
			NotExpectedContent: []string{`"code":"B-JS"`, `"code":"CO"`, `"code":"R-EAST"`, `"code":"NKA"`, `next_cursor`}},
		{Name: "tl-sh-ka lists only its team", Method: "GET", URL: "/api/v1/org-units", As: "tl-sh-ka", ExpectedStatus: 200,
			ExpectedContent: []string{`"code":"B-SH-KA"`}, NotExpectedContent: []string{`"code":"B-SH"`, `"code":"B-SH-CH"`}},
		{Name: "tl-sh-ka reading its branch is 404", Method: "GET", URL: ou("B-SH"), As: "tl-sh-ka", ExpectedStatus: 404},
		{Name: "president sees every unit", Method: "GET", URL: "/api/v1/org-units?kind=branch", As: "president", ExpectedStatus: 200,
			ExpectedContent: []string{`"code":"B-SH"`, `"code":"B-JS"`, `"code":"B-GD"`}},
		{Name: "bm-sh cannot rename its own branch", Method: "PATCH", URL: ou("B-SH"), As: "bm-sh",
			Body: map[string]any{"name": "Mine"}, ExpectedStatus: 403,
			After: expectBody(ou("B-SH"), `"name":"Shanghai branch"`)},
		{Name: "bm-sh cannot create a unit", Method: "POST", URL: "/api/v1/org-units", As: "bm-sh",
			Body:           map[string]any{"code": "B-SH-X", "name": "X", "kind": "department", "parent_id": env.OrgUnitID("B-SH")},
			ExpectedStatus: 403, After: expectAbsent("/api/v1/org-units?code=B-SH-X")},
		{Name: "strategy office creates a unit", Method: "POST", URL: "/api/v1/org-units", As: "strategy",
			Body:           map[string]any{"code": "B-SH-GOV", "name": "Shanghai government", "kind": "department", "parent_id": env.OrgUnitID("B-SH")},
			ExpectedStatus: 201, ExpectedContent: []string{`"code":"B-SH-GOV"`, `"revision":1`},
			ExpectedHeaders: map[string]string{"ETag": `"1"`}},
		{Name: "sales director cannot delete a unit", Method: "DELETE", URL: ou("B-SH-CH"), As: "sales-director",
			ExpectedStatus: 403, After: expectBody(ou("B-SH-CH"), `"code":"B-SH-CH"`)},

		// Product lines: everyone reads; a product manager edits their own.
		{Name: "bm-sh reads product lines", Method: "GET", URL: "/api/v1/product-lines?group=industry", As: "bm-sh",
			ExpectedStatus: 200, ExpectedContent: []string{`"code":"POS"`}, NotExpectedContent: []string{`"code":"CPC"`}},
		{Name: "pm-industry cannot edit CPC", Method: "PATCH", URL: pl("CPC"), As: "pm-industry",
			Body: map[string]any{"name": "Hijacked"}, ExpectedStatus: 403, ExpectedHeaders: problem,
			After: expectBody(pl("CPC"), `"name":"Commercial PCs"`, `"revision":1`)},
		{Name: "pm-industry edits POS", Method: "PATCH", URL: pl("POS"), As: "pm-industry",
			Body: map[string]any{"name": "POS terminals", "name_local": "POS终端"}, ExpectedStatus: 200,
			ExpectedContent: []string{`"name":"POS terminals"`, `"name_local":"POS终端"`, `"revision":2`},
			ExpectedHeaders: map[string]string{"ETag": `"2"`}},
		{Name: "pm-industry cannot give POS away", Method: "PATCH", URL: pl("POS"), As: "pm-industry",
			Body: map[string]any{"owner_id": env.UserID("pm-agency")}, ExpectedStatus: 403,
			After: expectBody(pl("POS"), fmt.Sprintf(`"owner_id":%d`, env.UserID("pm-industry")))},
		{Name: "strategy office clears an owner", Method: "PATCH", URL: pl("EPSON"), As: "strategy",
			Body: `{"owner_id": null}`, ExpectedStatus: 200, ExpectedContent: []string{`"owner_id":null`}},
		{Name: "pm-agency cannot create a product line", Method: "POST", URL: "/api/v1/product-lines", As: "pm-agency",
			Body: map[string]any{"code": "HP", "name": "HP", "group": "agency"}, ExpectedStatus: 403,
			After: expectAbsent("/api/v1/product-lines?code=HP")},

		// Measures and seasonality profiles.
		{Name: "pm-industry cannot create a measure", Method: "POST", URL: "/api/v1/measures", As: "pm-industry",
			Body: map[string]any{"code": "profit", "name": "Profit", "unit": "CNY", "scale": 2}, ExpectedStatus: 403,
			After: expectAbsent("/api/v1/measures?code=profit")},
		{Name: "admin creates a measure", Method: "POST", URL: "/api/v1/measures", As: "admin",
			Body: map[string]any{"code": "profit", "name": "Operating profit", "name_local": "经营利润", "unit": "CNY", "scale": 2}, ExpectedStatus: 201,
			ExpectedContent: []string{`"name_local":"经营利润"`, `"scale":2`}},
		{Name: "pm-industry creates a seasonality profile", Method: "POST", URL: "/api/v1/seasonality-profiles", As: "pm-industry",
			Body: map[string]any{"code": "pos-season", "name": "POS 季节性", "weights": weights}, ExpectedStatus: 201,
			ExpectedContent: []string{`"weights":["1","1"`}},
		{Name: "bm-sh cannot create a seasonality profile", Method: "POST", URL: "/api/v1/seasonality-profiles", As: "bm-sh",
			Body: map[string]any{"code": "sh-season", "name": "SH", "weights": weights}, ExpectedStatus: 403,
			After: expectAbsent("/api/v1/seasonality-profiles?code=sh-season")},

		// Users and roles: admin writes; admin and auditor read.
		{Name: "admin lists users", Method: "GET", URL: "/api/v1/users?role=branch_manager", As: "admin", ExpectedStatus: 200,
			ExpectedContent: []string{`"username":"bm-sh"`}, NotExpectedContent: []string{`"username":"admin"`}},
		{Name: "auditor lists users", Method: "GET", URL: "/api/v1/users", As: "auditor", ExpectedStatus: 200},
		{Name: "strategy office cannot list users", Method: "GET", URL: "/api/v1/users", As: "strategy", ExpectedStatus: 403},
		{Name: "bm-sh cannot list users", Method: "GET", URL: "/api/v1/users", As: "bm-sh", ExpectedStatus: 403},
		{Name: "pm-industry cannot read a user", Method: "GET", URL: user("bm-sh"), As: "pm-industry", ExpectedStatus: 403},
		{Name: "auditor cannot create a user", Method: "POST", URL: "/api/v1/users", As: "auditor",
			Body: map[string]any{"username": "mallory", "name": "Mallory"}, ExpectedStatus: 403,
			After: expectAbsentAs("admin", "/api/v1/users?username=mallory")},
		{Name: "president cannot grant roles", Method: "POST", URL: user("bm-sh") + "/roles", As: "president",
			Body: map[string]any{"role": "admin"}, ExpectedStatus: 403,
			After: expectNotBodyAs("admin", user("bm-sh")+"/roles", `"role":"admin"`)},
		{Name: "auditor reads roles", Method: "GET", URL: user("bm-sh") + "/roles", As: "auditor", ExpectedStatus: 200,
			ExpectedContent: []string{`"role":"branch_manager"`, fmt.Sprintf(`"org_unit_id":%d`, env.OrgUnitID("B-SH"))}},

		// Tokens: admin only.
		{Name: "admin lists tokens", Method: "GET", URL: fmt.Sprintf("/api/v1/tokens?user_id=%d", env.UserID("bm-sh")), As: "admin",
			ExpectedStatus: 200, ExpectedContent: []string{`"hint":"cas_demo`}, NotExpectedContent: []string{`cas_demo_bm-sh`, `"hash"`, `"secret"`}},
		{Name: "auditor cannot list tokens", Method: "GET", URL: "/api/v1/tokens", As: "auditor", ExpectedStatus: 403},
		{Name: "bm-sh cannot issue a token", Method: "POST", URL: "/api/v1/tokens", As: "bm-sh",
			Body: map[string]any{"user_id": env.UserID("bm-js"), "name": "stolen"}, ExpectedStatus: 403,
			After: expectNotBodyAs("admin", fmt.Sprintf("/api/v1/tokens?user_id=%d", env.UserID("bm-js")), `"name":"stolen"`)},
		{Name: "bm-sh cannot revoke a token", Method: "DELETE", URL: "/api/v1/tokens/1", As: "bm-sh", ExpectedStatus: 403,
			After: expectStatus("admin", "/api/v1/me", 200)},

		// Audit: admin and auditor read all; others by role and scope.
		{Name: "auditor reads the audit trail", Method: "GET", URL: "/api/v1/audit?entity=product_line", As: "auditor",
			ExpectedStatus: 200, ExpectedContent: []string{`"action":"product_line.update"`, `"entity":"product_line"`}},
		{Name: "strategy office reads the audit trail but users and tokens", Method: "GET", URL: "/api/v1/audit?limit=1000", As: "strategy", ExpectedStatus: 200,
			ExpectedContent: []string{`"entity":"org_unit"`}, NotExpectedContent: []string{`"entity":"user"`, `"entity":"token"`}},
		{Name: "bm-sh reads only the audit trail of its own units", Method: "GET", URL: "/api/v1/audit?limit=1000", As: "bm-sh", ExpectedStatus: 200,
			ExpectedContent: []string{`"code":"B-SH"`}, NotExpectedContent: []string{`"code":"B-JS"`, `"entity":"user"`, `"entity":"product_line"`}},
		{Name: "there is no way to delete audit events", Method: "DELETE", URL: "/api/v1/audit", As: "admin", ExpectedStatus: 405,
			ExpectedHeaders: map[string]string{"Allow": "OPTIONS, GET"}},
	}
}

// expectBody returns an After check that GETs path as admin and finds want.
func expectBody(path string, want ...string) func(*testing.T, *apitest.Env, *apitest.Response) {
	return func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
		t.Helper()
		r := env.Request(http.MethodGet, path, apitest.Token("admin"), nil, nil)
		for _, w := range want {
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), w) {
				t.Errorf("read back %s: status %d, want 200 with %q: %s", path, r.Status, w, r.Body)
			}
		}
	}
}

// expectNotBodyAs returns an After check that GETs path as user and does not
// find bad.
func expectNotBodyAs(user, path, bad string) func(*testing.T, *apitest.Env, *apitest.Response) {
	return func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
		t.Helper()
		r := env.Request(http.MethodGet, path, apitest.Token(user), nil, nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), bad) {
			t.Errorf("read back %s: status %d, want 200 without %q: %s", path, r.Status, bad, r.Body)
		}
	}
}

// expectAbsent returns an After check that the list at path is empty.
func expectAbsent(path string) func(*testing.T, *apitest.Env, *apitest.Response) {
	return expectAbsentAs("admin", path)
}

func expectAbsentAs(user, path string) func(*testing.T, *apitest.Env, *apitest.Response) {
	return func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
		t.Helper()
		r := env.Request(http.MethodGet, path, apitest.Token(user), nil, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"items":[]`) {
			t.Errorf("read back %s: status %d, want an empty list: %s", path, r.Status, r.Body)
		}
	}
}

// expectStatus returns an After check that GET path as user has status want.
func expectStatus(user, path string, want int) func(*testing.T, *apitest.Env, *apitest.Response) {
	return func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
		t.Helper()
		if r := env.Request(http.MethodGet, path, apitest.Token(user), nil, nil); r.Status != want {
			t.Errorf("GET %s as %s: status %d, want %d: %s", path, user, r.Status, want, r.Body)
		}
	}
}
