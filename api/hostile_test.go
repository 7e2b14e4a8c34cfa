package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// hostileFixture is the state the hostile requests aim at: a round in its
// counterproposal phase with an allocation on its working version, a draft
// counterproposal of Shanghai and a submitted one of Jiangsu, and a second
// round still in draft.
type hostileFixture struct {
	round, draftRound int64
	version           int64 // the working version of round
	run               int64 // an allocation run on version
	cpSH, cpJS        int64 // bm-sh's draft, bm-js's submitted counterproposal
	cpSHLine          int64
	cpJSLine          int64
	bmSH, bmJSRole    int64 // bm-sh's user id, the id of bm-js's role assignment
}

// hostileDeadline is far enough ahead that the fixture's counterproposal
// phase never closes while the test runs.
const hostileDeadline = "2099-12-31T18:00:00Z"

func setupHostileFixture(t *testing.T, env *apitest.Env) hostileFixture {
	t.Helper()
	call := func(user, method, path string, body any, want int, v any) {
		t.Helper()
		r := env.Request(method, path, apitest.Token(user), body, nil)
		if r.Status != want {
			t.Fatalf("setup: %s %s as %s: %d, want %d: %s", method, path, user, r.Status, want, r.Body)
		}
		if v != nil {
			r.Decode(t, v)
		}
	}
	var fx hostileFixture
	var round api.Round
	call("strategy", "POST", "/api/v1/rounds", map[string]any{
		"code": "HX2027", "name": "Hostile 2027", "fiscal_year": 2027, "first_month": 4,
		"measures": []string{"revenue", "gross_margin", "units"},
		"calendar": []map[string]any{{"phase": "counterproposals", "due": hostileDeadline}},
	}, 201, &round)
	fx.round = round.ID
	call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", fx.round), map[string]any{"to": "open"}, 200, &round)
	fx.version = *round.WorkingVersionID

	var alloc api.AllocationResponse
	for _, pa := range []struct{ pm, line string }{{"pm-industry", "POS"}, {"pm-agency", "EPSON"}} {
		call(pa.pm, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", fx.version), map[string]any{
			"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": pa.line, "amount": "1200000.00"}},
		}, 201, &alloc)
	}
	fx.run = alloc.Run.ID
	call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", fx.round), map[string]any{"to": "counterproposals"}, 200, nil)

	var cp api.Counterproposal
	call("bm-sh", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", fx.version), map[string]any{
		"org_unit": "B-SH", "title": "Shanghai",
		"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "150000.00", "reason": "more banks"}},
	}, 201, &cp)
	fx.cpSH, fx.cpSHLine = cp.ID, cp.Lines[0].ID
	call("bm-js", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", fx.version), map[string]any{
		"org_unit": "B-JS", "title": "Jiangsu",
		"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "2027-06", "proposed": "100.00", "reason": "fewer banks"}},
	}, 201, &cp)
	fx.cpJS, fx.cpJSLine = cp.ID, cp.Lines[0].ID
	call("bm-js", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", fx.cpJS), nil, 200, nil)

	call("strategy", "POST", "/api/v1/rounds", map[string]any{
		"code": "HX2028", "name": "Hostile 2028", "fiscal_year": 2028, "first_month": 1, "measures": []string{"revenue"},
	}, 201, &round)
	fx.draftRound = round.ID

	fx.bmSH = env.UserID("bm-sh")
	var roles api.RoleAssignmentList
	call("admin", "GET", fmt.Sprintf("/api/v1/users/%d/roles", env.UserID("bm-js")), nil, 200, &roles)
	fx.bmJSRole = roles.Items[0].ID
	return fx
}

// hostileRequest is one malformed or hostile request and the 4xx it must get.
type hostileRequest struct {
	name   string
	method string
	path   string
	as     string // demo user; empty for an anonymous call
	// body is sent as apitest.Env.Request sends it, with Content-Type
	// application/json unless headers say otherwise.
	body    any
	headers map[string]string
	// chunked sends the body without a Content-Length, so a limit is only
	// found while reading it.
	chunked bool
	want    int
}

// TestHostileRequests sends a table of malformed and hostile requests across
// the API. Every one must get the expected 4xx as application/problem+json
// whose body is a problem with the same status, never a 5xx; no response may
// carry a script fragment unescaped; and the database must hold exactly the
// same rows afterwards, checked table by table (tokens.last_used_at aside,
// which authentication touches).
func TestHostileRequests(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		fx := setupHostileFixture(t, env)
		reqs := hostileRequests(env, fx)
		if len(reqs) < 60 {
			t.Fatalf("only %d hostile requests", len(reqs))
		}
		seen := map[string]bool{}
		before := storetest.TakeSnapshot(t, env.DB, "tokens.last_used_at")
		for _, h := range reqs {
			if seen[h.name] {
				t.Fatalf("two hostile requests are named %q", h.name)
			}
			seen[h.name] = true
			t.Run(h.name, func(t *testing.T) {
				token := ""
				if h.as != "" {
					token = apitest.Token(h.as)
				}
				assertProblem(t, h.method+" "+h.path, hostileSend(t, env, h, token), h.want)
			})
		}
		after := storetest.TakeSnapshot(t, env.DB, "tokens.last_used_at")
		if diff := before.Diff(after); diff != nil {
			t.Errorf("the hostile requests changed the database:\n%s", strings.Join(diff, "\n"))
		}
	})
}

// hostileSend sends h with the bearer token (none when empty), hiding the
// body's length when h.chunked says so.
func hostileSend(t *testing.T, env *apitest.Env, h hostileRequest, token string) *apitest.Response {
	t.Helper()
	var body []byte
	switch b := h.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatalf("encode body: %v", err)
		}
	}
	var rd io.Reader
	if h.body != nil {
		rd = bytes.NewReader(body)
		if h.chunked {
			rd = io.MultiReader(rd) // no length: sent chunked
		}
	}
	req, err := http.NewRequest(h.method, env.URL+h.path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if h.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	res, err := env.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", h.method, h.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", h.method, h.path, err)
	}
	return &apitest.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// assertProblem asserts that r is the 4xx want as a well-formed problem.
func assertProblem(t *testing.T, what string, r *apitest.Response, want int) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: server error %d: %s", what, r.Status, r.Body)
		return
	}
	if r.Status != want {
		t.Errorf("%s: status %d, want %d: %.300s", what, r.Status, want, r.Body)
	}
	if r.Status < 400 || r.Status >= 500 {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, r.Header.Get("Content-Type"))
	}
	var p api.Problem // extension members, such as an import's report, may follow
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Errorf("%s: the body is not a problem: %v: %.300s", what, err, r.Body)
		return
	}
	if p.Status != r.Status || p.Title == "" || p.Type == "" || p.Errors == nil {
		t.Errorf("%s: problem %+v does not match status %d", what, p, r.Status)
	}
	if bytes.Contains(r.Body, []byte("<script")) {
		t.Errorf("%s: the response carries a script fragment unescaped: %s", what, r.Body)
	}
}

// hostileMultipart builds a multipart/form-data body with the given parts; a
// part named "file" is sent as a file called name.
func hostileMultipart(name string, parts map[string]string) (string, map[string]string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range parts {
		var pw interface{ Write([]byte) (int, error) }
		if k == "file" {
			pw, _ = w.CreateFormFile("file", name)
		} else {
			pw, _ = w.CreateFormField(k)
		}
		_, _ = pw.Write([]byte(v))
	}
	_ = w.Close()
	return b.String(), map[string]string{"Content-Type": w.FormDataContentType()}
}

func hostileRequests(env *apitest.Env, fx hostileFixture) []hostileRequest {
	const (
		sqlFragment    = "'; DROP TABLE org_units; --"
		scriptFragment = "<script>alert(1)</script>"
	)
	id := func(format string, args ...any) string { return "/api/v1" + fmt.Sprintf(format, args...) }
	bsh, bjs, co := env.OrgUnitID("B-SH"), env.OrgUnitID("B-JS"), env.OrgUnitID("CO")
	unit := id("/org-units/%d", bsh)
	pos, cpc := id("/product-lines/%d", env.ProductLineID("POS")), id("/product-lines/%d", env.ProductLineID("CPC"))
	revenue := id("/measures/%d", env.MeasureID("revenue"))
	even := id("/seasonality-profiles/%d", env.SeasonalityProfileID("even"))
	user := id("/users/%d", fx.bmSH)
	targets := id("/versions/%d/targets", fx.version)
	allocations := id("/versions/%d/allocations", fx.version)
	cps := id("/versions/%d/counterproposals", fx.version)
	cpSH, cpJS := id("/counterproposals/%d", fx.cpSH), id("/counterproposals/%d", fx.cpJS)
	approval := id("/versions/%d/approval/actions", fx.version)
	transitions := id("/rounds/%d/transitions", fx.round)
	tenMB := strings.Repeat("x", 10<<20)
	jsonType := map[string]string{"Content-Type": "application/json"}
	anyMatch := map[string]string{"If-Match": "*"}
	cursor := func(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

	cell := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"org_unit": "B-SH-KA", "product_line": "POS", "measure": "revenue", "period": "2027-04", "amount": "100.00"}
		if mod != nil {
			mod(c)
		}
		return map[string]any{"cells": []map[string]any{c}}
	}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	alloc := func(mod func(map[string]any)) map[string]any {
		a := map[string]any{"measure": "revenue", "root": "CO", "dry_run": true,
			"targets": []map[string]any{{"product_line": "POS", "amount": "1000.00"}}}
		if mod != nil {
			mod(a)
		}
		return a
	}
	level := func(l map[string]any) func(map[string]any) { return set("levels", []map[string]any{l}) }
	cpBody := func(mod func(map[string]any)) map[string]any {
		l := map[string]any{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "1.00", "reason": "r"}
		if mod != nil {
			mod(l)
		}
		return map[string]any{"org_unit": "B-SH", "title": "Again", "lines": []map[string]any{l}}
	}
	decision := func(d map[string]any) map[string]any { return map[string]any{"decisions": []map[string]any{d}} }
	round := func(mod func(map[string]any)) map[string]any {
		r := map[string]any{"code": "HX2030", "name": "Hostile", "fiscal_year": 2030, "first_month": 1, "measures": []string{"revenue"}}
		if mod != nil {
			mod(r)
		}
		return r
	}
	manyCells := make([]map[string]any, 10_001)
	for i := range manyCells {
		manyCells[i] = map[string]any{"org_unit": "B-SH-KA", "product_line": "POS", "measure": "revenue", "period": "2027-04", "amount": "1.00"}
	}
	csvFile, csvHeaders := hostileMultipart("actuals.csv", map[string]string{
		"file": "org_unit,product_line,measure,month,amount\nB-SH\x00KA,POS,revenue,2027-06,1.00\n" + sqlFragment + ",POS,revenue,2027-13,1e400\n"})
	noFile, noFileHeaders := hostileMultipart("", map[string]string{"dry_run": "false"})
	nulName := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%00b.csv\r\n\r\n" +
		"org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1.00\n\r\n--b--\r\n"
	nulNameHeaders := map[string]string{"Content-Type": "multipart/form-data; boundary=b"}
	workbook, workbookHeaders := hostileMultipart("targets.xlsx", map[string]string{"file": "PK\x03\x04 not really a workbook"})

	return []hostileRequest{
		// Master data: codes are pattern-checked, so hostile codes are refused.
		{name: "SQL in an org unit code", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": sqlFragment, "name": "x", "kind": "department", "parent_id": bsh}, want: 422},
		{name: "script in an org unit code", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": scriptFragment, "name": scriptFragment, "kind": "department", "parent_id": bsh}, want: 422},
		{name: "script as the kind", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": "HX-1", "name": "x", "kind": scriptFragment, "parent_id": bsh}, want: 422},
		{name: "10 MB name", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": "HX-2", "name": tenMB, "kind": "department", "parent_id": bsh}, want: 413},
		{name: "name with a NUL character", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: `{"code":"HX-3","name":"a\u0000b","kind":"department","parent_id":` + fmt.Sprint(bsh) + `}`, want: 400},
		{name: "parent id beyond int64", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: `{"code":"HX-4","name":"x","kind":"department","parent_id":99999999999999999999}`, want: 400},
		{name: "parent id as a string", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: `{"code":"HX-5","name":"x","kind":"department","parent_id":"4"}`, want: 400},
		{name: "negative parent id", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": "HX-6", "name": "x", "kind": "department", "parent_id": -1}, want: 422},
		{name: "branch manager adds a unit to another branch", method: "POST", path: "/api/v1/org-units", as: "bm-sh",
			body: map[string]any{"code": "HX-7", "name": "x", "kind": "department", "parent_id": bjs}, want: 403},
		{name: "duplicate keys", method: "PATCH", path: unit, as: "admin", body: `{"name":"A","name":"B"}`, want: 400},
		{name: "invalid UTF-8", method: "PATCH", path: unit, as: "admin", body: []byte("{\"name\":\"\xc3\x28\"}"), want: 422},
		{name: "truncated JSON", method: "PATCH", path: unit, as: "admin", body: `{"name":"Shang`, want: 400},
		{name: "array instead of an object", method: "PATCH", path: unit, as: "admin", body: `[{"name":"x"}]`, want: 400},
		{name: "null body", method: "PATCH", path: unit, as: "admin", body: `null`, want: 400},
		{name: "empty body", method: "PATCH", path: unit, as: "admin", body: "", headers: jsonType, want: 400},
		{name: "whitespace body", method: "PATCH", path: unit, as: "admin", body: " \n\t ", want: 400},
		{name: "text/plain body", method: "PATCH", path: unit, as: "admin", body: `{"name":"x"}`,
			headers: map[string]string{"Content-Type": "text/plain"}, want: 415},
		{name: "form body", method: "PATCH", path: unit, as: "admin", body: `name=x`,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 415},
		{name: "mass assignment of the revision", method: "PATCH", path: unit, as: "admin", body: `{"name":"x","revision":99}`, want: 400},
		{name: "mass assignment of the code", method: "PATCH", path: unit, as: "admin", body: `{"code":"B-XX"}`, want: 400},
		{name: "active as a string", method: "PATCH", path: unit, as: "admin", body: `{"active":"false"}`, want: 400},
		{name: "path traversal in an id", method: "PATCH", path: "/api/v1/org-units/..%2F..%2Fetc%2Fpasswd", as: "admin", body: `{"name":"x"}`, want: 400},
		{name: "dot-dot id", method: "DELETE", path: "/api/v1/org-units/%2e%2e", as: "admin", want: 400},
		{name: "id beyond int64", method: "DELETE", path: "/api/v1/org-units/99999999999999999999", as: "admin", want: 400},
		{name: "negative id", method: "PATCH", path: "/api/v1/measures/-1", as: "admin", body: `{"name":"x"}`, want: 400},
		{name: "unknown id", method: "PATCH", path: "/api/v1/measures/999999", as: "admin", body: `{"name":"x"}`, want: 404},
		{name: "deleting the root", method: "DELETE", path: id("/org-units/%d", co), as: "admin", want: 409},
		{name: "NaN literal", method: "PATCH", path: revenue, as: "admin", body: `{"name":NaN}`, want: 400},
		{name: "Infinity scale", method: "POST", path: "/api/v1/measures", as: "admin",
			body: `{"code":"hx","name":"M","unit":"CNY","scale":Infinity}`, want: 400},
		{name: "1e400 scale", method: "POST", path: "/api/v1/measures", as: "admin",
			body: `{"code":"hx","name":"M","unit":"CNY","scale":1e400}`, want: 400},
		{name: "negative scale", method: "POST", path: "/api/v1/measures", as: "admin",
			body: map[string]any{"code": "hx", "name": "M", "unit": "CNY", "scale": -2}, want: 422},
		{name: "changing a measure's scale", method: "PATCH", path: revenue, as: "admin", body: `{"scale":4}`, want: 400},
		{name: "NaN weights", method: "PATCH", path: even, as: "admin",
			body: map[string]any{"weights": []string{"NaN", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}}, want: 422},
		{name: "Infinity and 1e400 weights", method: "PATCH", path: even, as: "admin",
			body: map[string]any{"weights": []string{"1", "Infinity", "1e400", "-Infinity", "1", "1", "1", "1", "1", "1", "1", "1"}}, want: 422},
		{name: "weights as an object", method: "PATCH", path: even, as: "admin", body: `{"weights":{"april":1}}`, want: 400},
		{name: "script in a seasonality code", method: "POST", path: "/api/v1/seasonality-profiles", as: "admin",
			body: map[string]any{"code": scriptFragment, "name": "x", "weights": []string{"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}}, want: 422},
		{name: "unknown product group", method: "PATCH", path: pos, as: "admin", body: map[string]any{"group": scriptFragment}, want: 422},
		{name: "SQL in a product line code", method: "POST", path: "/api/v1/product-lines", as: "admin",
			body: map[string]any{"code": sqlFragment, "name": "x", "group": "industry"}, want: 422},
		{name: "owner id 1e400", method: "PATCH", path: pos, as: "admin", body: `{"owner_id":1e400}`, want: 400},
		{name: "negative owner id", method: "PATCH", path: pos, as: "admin", body: `{"owner_id":-5}`, want: 422},
		{name: "another manager's product line", method: "PATCH", path: cpc, as: "pm-industry", body: `{"name":"mine"}`, want: 403},

		// Users, roles and tokens.
		{name: "SQL in a username", method: "POST", path: "/api/v1/users", as: "admin",
			body: map[string]any{"username": "'; DROP TABLE users; --", "name": "x"}, want: 422},
		{name: "path in a username", method: "POST", path: "/api/v1/users", as: "admin",
			body: map[string]any{"username": "../admin", "name": "x"}, want: 422},
		{name: "script in an e-mail", method: "POST", path: "/api/v1/users", as: "admin",
			body: map[string]any{"username": "hx", "name": "x", "email": scriptFragment + "@example.com"}, want: 422},
		{name: "user active as a string", method: "PATCH", path: user, as: "admin", body: `{"active":"yes"}`, want: 400},
		{name: "unknown role", method: "POST", path: user + "/roles", as: "admin", body: map[string]any{"role": "superuser"}, want: 422},
		{name: "scoped role without a scope", method: "POST", path: user + "/roles", as: "admin", body: map[string]any{"role": "branch_manager"}, want: 422},
		{name: "another user's role assignment", method: "DELETE", path: fmt.Sprintf("%s/roles/%d", user, fx.bmJSRole), as: "admin", want: 404},
		{name: "negative token user", method: "POST", path: "/api/v1/tokens", as: "admin", body: map[string]any{"user_id": -5}, want: 422},
		{name: "unparsable token expiry", method: "POST", path: "/api/v1/tokens", as: "admin",
			body: map[string]any{"user_id": fx.bmSH, "expires_at": "tomorrow"}, want: 400},
		{name: "token expiring in the past", method: "POST", path: "/api/v1/tokens", as: "admin",
			body: map[string]any{"user_id": fx.bmSH, "expires_at": "2001-01-01T00:00:00Z"}, want: 422},
		{name: "branch manager issues a token", method: "POST", path: "/api/v1/tokens", as: "bm-sh", body: map[string]any{"user_id": fx.bmSH}, want: 403},
		{name: "revoking an unknown token", method: "DELETE", path: "/api/v1/tokens/999999", as: "admin", want: 404},

		// Query strings.
		{name: "negative limit", method: "GET", path: "/api/v1/org-units?limit=-1", as: "admin", want: 400},
		{name: "limit beyond int64", method: "GET", path: "/api/v1/org-units?limit=99999999999999999999", as: "admin", want: 400},
		{name: "SQL as a cursor", method: "GET", path: "/api/v1/org-units?cursor=%27%3B%20DROP%20TABLE%20org_units%3B%20--", as: "admin", want: 400},
		{name: "text cursor for an id-ordered list", method: "GET", path: "/api/v1/rounds?cursor=" + cursor("abc"), as: "admin", want: 422},
		{name: "SQL cursor for an id-ordered list", method: "GET", path: "/api/v1/tokens?cursor=" + cursor("1 OR 1=1"), as: "admin", want: 422},
		{name: "negative cursor for versions", method: "GET", path: id("/rounds/%d/versions?cursor=", fx.round) + cursor("-1"), as: "admin", want: 422},
		{name: "text cursor for allocation runs", method: "GET", path: allocations + "?cursor=" + cursor("x"), as: "admin", want: 422},
		{name: "text cursor for counterproposals", method: "GET", path: cps + "?cursor=" + cursor("x"), as: "admin", want: 422},
		{name: "NUL in a cursor", method: "GET", path: "/api/v1/measures?cursor=" + cursor("\x00"), as: "admin", want: 400},
		{name: "invalid UTF-8 in a cursor", method: "GET", path: "/api/v1/product-lines?cursor=" + cursor("\xff\xfe"), as: "admin", want: 400},
		{name: "NUL in a query value", method: "GET", path: "/api/v1/org-units?code=%00", as: "admin", want: 400},
		{name: "invalid UTF-8 in a query value", method: "GET", path: "/api/v1/users?username=%ff", as: "admin", want: 400},
		{name: "script as a kind filter", method: "GET", path: "/api/v1/org-units?kind=%3Cscript%3E", as: "admin", want: 400},
		{name: "month 13 in a timestamp", method: "GET", path: "/api/v1/audit?from=2027-13-01T00:00:00Z", as: "auditor", want: 400},
		{name: "negative entity id", method: "GET", path: "/api/v1/audit?entity_id=-1", as: "auditor", want: 400},

		// Rounds and versions.
		{name: "fiscal year as a string", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("fiscal_year", "2030")), want: 400},
		{name: "fiscal year 1e400", method: "POST", path: "/api/v1/rounds", as: "strategy",
			body: `{"code":"HX2030","name":"x","fiscal_year":1e400,"first_month":1}`, want: 400},
		{name: "negative first month", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("first_month", -3)), want: 422},
		{name: "first month 13", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("first_month", 13)), want: 422},
		{name: "path traversal in a round code", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("code", "../../etc/passwd")), want: 422},
		{name: "a measure twice", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("measures", []string{"revenue", "revenue"})), want: 422},
		{name: "SQL as a measure", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("measures", []string{"'; DROP TABLE measures; --"})), want: 422},
		{name: "unknown phase in the calendar", method: "POST", path: "/api/v1/rounds", as: "strategy",
			body: round(set("calendar", []map[string]any{{"phase": "party", "due": "2030-01-01T00:00:00Z"}})), want: 422},
		{name: "month 13 in a deadline", method: "POST", path: "/api/v1/rounds", as: "strategy",
			body: round(set("calendar", []map[string]any{{"phase": "open", "due": "2030-13-01T00:00:00Z"}})), want: 400},
		{name: "unknown role in the chain", method: "POST", path: "/api/v1/rounds", as: "strategy",
			body: round(set("approval_chain", []map[string]any{{"role": "god", "action": "approve"}})), want: 422},
		{name: "mass assignment of a round's status", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("status", "approved")), want: 400},
		{name: "mass assignment of a round's id", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("id", fx.round)), want: 400},
		{name: "patching a round's status", method: "PATCH", path: id("/rounds/%d", fx.draftRound), as: "strategy", body: `{"name":"x","status":"closed"}`, want: 400},
		{name: "malformed If-Match", method: "PATCH", path: id("/rounds/%d", fx.draftRound), as: "strategy", body: `{"name":"x"}`,
			headers: map[string]string{"If-Match": `"abc"`}, want: 400},
		{name: "unknown phase", method: "POST", path: transitions, as: "strategy", body: map[string]any{"to": "finished"}, want: 422},
		{name: "script as a phase", method: "POST", path: transitions, as: "strategy", body: map[string]any{"to": scriptFragment}, want: 422},
		{name: "branch manager moves the round", method: "POST", path: transitions, as: "bm-sh", body: map[string]any{"to": "review"}, want: 403},
		{name: "version id as a string", method: "POST", path: id("/rounds/%d/versions", fx.round), as: "strategy", body: `{"from_version_id":"1"}`, want: 400},
		{name: "another round's version", method: "POST", path: id("/rounds/%d/versions", fx.draftRound), as: "strategy",
			body: map[string]any{"from_version_id": fx.version}, want: 422},
		{name: "the largest version id", method: "POST", path: id("/rounds/%d/versions", fx.round), as: "strategy",
			body: `{"from_version_id":9223372036854775807}`, want: 422},

		// Target cells.
		{name: "month 13", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("period", "2027-13")), want: 422},
		{name: "negative month", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("period", "2027--4")), want: 422},
		{name: "negative year", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("period", "-027-04")), want: 422},
		{name: "one-digit month", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("period", "2027-4")), want: 422},
		{name: "a month outside the fiscal year", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("period", "2030-04")), want: 422},
		{name: "amount 1e400", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", "1e400")), want: 422},
		{name: "amount NaN", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", "NaN")), want: 422},
		{name: "amount Infinity", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", "-Infinity")), want: 422},
		{name: "amount as a number", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", 5)), want: 400},
		{name: "amount as a huge number", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: `{"cells":[{"amount":1e400}]}`, want: 400},
		{name: "more places than the scale", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", "1.001")), want: 422},
		{name: "sign soup", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", "-+5")), want: 422},
		{name: "31 digits", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("amount", strings.Repeat("9", 31))), want: 422},
		{name: "SQL as an org unit", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("org_unit", "'; DROP TABLE target_cells; --")), want: 422},
		{name: "script as a product line", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("product_line", scriptFragment)), want: 422},
		{name: "NUL in a product line", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: `{"cells":[{"org_unit":"B-SH","product_line":"PO\u0000S","measure":"revenue","period":"2027-04","amount":"1.00"}]}`, want: 400},
		{name: "cells as an object", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: `{"cells":{"org_unit":"B-SH"}}`, want: 400},
		{name: "10,001 cells", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: map[string]any{"cells": manyCells}, want: 413},
		{name: "another manager's product line cell", method: "PUT", path: targets, as: "pm-industry", headers: anyMatch, body: cell(set("product_line", "CPC")), want: 403},
		{name: "a branch manager writes a cell", method: "PUT", path: targets, as: "bm-sh", headers: anyMatch, body: cell(nil), want: 403},
		{name: "cells of an unknown version", method: "PUT", path: "/api/v1/versions/999999/targets", as: "pm-industry", headers: anyMatch, body: cell(nil), want: 404},
		{name: "weak If-Match on cells", method: "PUT", path: targets, as: "pm-industry", body: cell(nil),
			headers: map[string]string{"If-Match": `W/"1"`}, want: 412},
		{name: "cells without If-Match", method: "PUT", path: targets, as: "pm-industry", body: cell(nil), want: 428},
		{name: "period filter month 13", method: "GET", path: targets + "?period=2027-13", as: "pm-industry", want: 400},
		{name: "quarter 5", method: "GET", path: targets + "?period=Q5", as: "pm-industry", want: 400},
		{name: "backwards range", method: "GET", path: targets + "?period=2027-09..2027-04", as: "pm-industry", want: 400},
		{name: "unknown grain", method: "GET", path: targets + "?grain=week", as: "pm-industry", want: 400},
		{name: "another branch's grid", method: "GET", path: targets + "?org_unit=B-JS", as: "bm-sh", want: 404},
		{name: "forged grid cursor", method: "GET", path: targets + "?cursor=" + cursor("no separators"), as: "pm-industry", want: 422},

		// Allocations.
		{name: "allocation with depth 99", method: "POST", path: allocations, as: "pm-industry", body: alloc(set("depth", 99)), want: 422},
		{name: "allocation with negative depth", method: "POST", path: allocations, as: "pm-industry", body: alloc(set("depth", -1)), want: 422},
		{name: "unknown allocation method", method: "POST", path: allocations, as: "pm-industry", body: alloc(level(map[string]any{"method": "quantum"})), want: 422},
		{name: "NaN buffer", method: "POST", path: allocations, as: "pm-industry", body: alloc(level(map[string]any{"method": "even", "buffer": "NaN"})), want: 422},
		{name: "negative buffer", method: "POST", path: allocations, as: "pm-industry",
			body: alloc(func(a map[string]any) {
				a["dry_run"] = false
				level(map[string]any{"method": "even", "buffer": "-0.5"})(a)
			}), want: 422},
		{name: "weight 1e400", method: "POST", path: allocations, as: "pm-industry",
			body: alloc(level(map[string]any{"method": "proportional", "weights": []map[string]any{{"org_unit": "R-EAST", "value": "1e400"}}})), want: 422},
		{name: "allocation amount past the scale", method: "POST", path: allocations, as: "pm-industry",
			body: alloc(set("targets", []map[string]any{{"product_line": "POS", "amount": "12.345"}})), want: 422},
		{name: "script as a lock", method: "POST", path: allocations, as: "pm-industry", body: alloc(set("locks", []string{scriptFragment})), want: 422},
		{name: "path as a profile", method: "POST", path: allocations, as: "pm-industry",
			body: alloc(set("phasing", map[string]any{"method": "profile", "profile": "../../etc/passwd"})), want: 422},
		{name: "reference version beyond int64", method: "POST", path: allocations, as: "pm-industry",
			body: `{"measure":"revenue","root":"CO","phasing":{"method":"reference","reference_version_id":99999999999999999999}}`, want: 400},
		{name: "a branch manager allocates", method: "POST", path: allocations, as: "bm-sh", body: alloc(set("dry_run", false)), want: 403},
		{name: "allocating another manager's line", method: "POST", path: allocations, as: "pm-industry",
			body: alloc(func(a map[string]any) {
				a["dry_run"] = false
				a["targets"] = []map[string]any{{"product_line": "CPC", "amount": "1000.00"}}
			}), want: 403},
		{name: "explaining under an unknown unit", method: "GET", path: id("/allocations/%d?explain_under=NOPE", fx.run), as: "pm-industry", want: 422},
		{name: "diff without against", method: "GET", path: id("/versions/%d/diff", fx.version), as: "pm-industry", want: 400},
		{name: "diff against a word", method: "GET", path: id("/versions/%d/diff?against=abc", fx.version), as: "pm-industry", want: 400},
		{name: "cell history without a cell", method: "GET", path: id("/versions/%d/cell-history", fx.version), as: "pm-industry", want: 400},

		// Counterproposals.
		{name: "counterproposal for another branch", method: "POST", path: cps, as: "bm-sh",
			body: func() map[string]any { b := cpBody(nil); b["org_unit"] = "B-JS"; return b }(), want: 422},
		{name: "counterproposal for month 13", method: "POST", path: cps, as: "bm-sh", body: cpBody(set("period", "2027-13")), want: 422},
		{name: "counterproposal of 1e400", method: "POST", path: cps, as: "bm-sh", body: cpBody(set("proposed", "1e400")), want: 422},
		{name: "SQL as a proposed product line", method: "POST", path: cps, as: "bm-sh", body: cpBody(set("product_line", "' OR 1=1 --")), want: 422},
		{name: "10 MB reason", method: "POST", path: cps, as: "bm-sh", body: cpBody(set("reason", tenMB)), want: 413},
		{name: "NUL in a title", method: "POST", path: cps, as: "bm-sh",
			body: `{"org_unit":"B-SH","title":"a\u0000b","lines":[{"product_line":"POS","measure":"revenue","period":"year","proposed":"1.00"}]}`, want: 400},
		// Free text: one rule for every string of every request body.
		{name: "right-to-left override in a title", method: "POST", path: cps, as: "bm-sh",
			body: `{"org_unit":"B-SH","title":"invoice\u202egpj.exe","lines":[{"product_line":"POS","measure":"revenue","period":"year","proposed":"1.00"}]}`, want: 422},
		{name: "lone surrogate in a reason", method: "POST", path: cps, as: "bm-sh",
			body: `{"org_unit":"B-SH","lines":[{"product_line":"POS","measure":"revenue","period":"year","proposed":"1.00","reason":"a\ud800"}]}`, want: 422},
		{name: "terminal escape in a comment", method: "POST", path: cpSH + "/comments", as: "bm-sh", body: `{"body":"\u001b[2Jhi"}`, want: 422},
		{name: "line break in an org unit name", method: "POST", path: "/api/v1/org-units", as: "admin",
			body: map[string]any{"code": "HX-9", "name": "a\nb", "kind": "department", "parent_id": bsh}, want: 422},
		{name: "lines as an object", method: "POST", path: cps, as: "bm-sh", body: `{"org_unit":"B-SH","lines":{"0":{}}}`, want: 400},
		{name: "editing another branch's draft", method: "PATCH", path: cpJS, as: "bm-sh", headers: anyMatch, body: `{"title":"mine"}`, want: 404},
		{name: "submitting another branch's counterproposal", method: "POST", path: cpJS + "/submit", as: "bm-sh", want: 404},
		{name: "withdrawing another branch's counterproposal", method: "POST", path: cpJS + "/withdraw", as: "bm-sh", want: 404},
		{name: "commenting on another branch's counterproposal", method: "POST", path: cpJS + "/comments", as: "bm-sh", body: map[string]any{"body": "hi"}, want: 404},
		{name: "a team lead edits the branch's draft", method: "PATCH", path: cpSH, as: "tl-sh-ka", headers: anyMatch, body: `{"title":"mine"}`, want: 404},
		{name: "unknown decision", method: "POST", path: cpJS + "/decision", as: "pm-industry",
			body: decision(map[string]any{"line_id": fx.cpJSLine, "decision": "maybe"}), want: 422},
		{name: "NaN decided amount", method: "POST", path: cpJS + "/decision", as: "pm-industry",
			body: decision(map[string]any{"line_id": fx.cpJSLine, "decision": "modify", "amount": "NaN"}), want: 422},
		{name: "line id 1e400", method: "POST", path: cpJS + "/decision", as: "pm-industry", body: `{"decisions":[{"line_id":1e400,"decision":"accept"}]}`, want: 400},
		{name: "another counterproposal's line", method: "POST", path: cpJS + "/decision", as: "pm-industry",
			body: decision(map[string]any{"line_id": fx.cpSHLine, "decision": "accept"}), want: 422},
		{name: "deciding another manager's line", method: "POST", path: cpJS + "/decision", as: "pm-agency",
			body: decision(map[string]any{"line_id": fx.cpJSLine, "decision": "accept"}), want: 403},
		{name: "empty comment", method: "POST", path: cpSH + "/comments", as: "bm-sh", body: map[string]any{"body": ""}, want: 422},
		{name: "10 MB comment", method: "POST", path: cpSH + "/comments", as: "bm-sh", body: map[string]any{"body": tenMB}, want: 413},
		{name: "NUL in a comment", method: "POST", path: cpSH + "/comments", as: "bm-sh", body: `{"body":"a\u0000b"}`, want: 400},

		// Approval.
		{name: "unknown approval action", method: "POST", path: approval, as: "pm-industry", body: map[string]any{"action": "approve_all"}, want: 422},
		{name: "approval action as a number", method: "POST", path: approval, as: "pm-industry", body: `{"action":1}`, want: 400},
		{name: "malformed If-Match on approval", method: "POST", path: approval, as: "pm-industry", body: map[string]any{"action": "submit"},
			headers: map[string]string{"If-Match": `"1", "2"`}, want: 400},
		// Checks run authorize → state → validate: a rejection without a
		// reason, out of turn, is out of turn; a user without the role is
		// refused whatever the state.
		{name: "rejecting without a reason, out of turn", method: "POST", path: approval, as: "sales-director", body: map[string]any{"action": "reject"}, want: 409},
		{name: "a branch manager submits the plan", method: "POST", path: approval, as: "bm-sh", body: map[string]any{"action": "submit"}, want: 403},

		// Files, actuals, attainment and letters.
		{name: "actuals as JSON", method: "POST", path: "/api/v1/actuals/imports", as: "strategy", body: `{"rows":[]}`, want: 415},
		{name: "actuals without a file", method: "POST", path: "/api/v1/actuals/imports", as: "strategy", body: noFile, headers: noFileHeaders, want: 400},
		{name: "actuals with NUL, SQL and bad numbers", method: "POST", path: "/api/v1/actuals/imports", as: "strategy", body: csvFile, headers: csvHeaders, want: 422},
		{name: "a branch manager imports actuals", method: "POST", path: "/api/v1/actuals/imports", as: "bm-sh", body: csvFile, headers: csvHeaders, want: 403},
		{name: "a workbook that is not one", method: "POST", path: id("/versions/%d/imports", fx.version), as: "pm-industry",
			body: workbook, headers: workbookHeaders, want: 422},
		{name: "attainment for month 13", method: "GET", path: id("/rounds/%d/attainment?period=2027-13", fx.round), as: "strategy", want: 400},
		{name: "unknown attainment basis", method: "GET", path: id("/rounds/%d/attainment?basis=weekly", fx.round), as: "strategy", want: 400},
		{name: "ranking without a level", method: "GET", path: id("/rounds/%d/rankings?measure=revenue", fx.round), as: "strategy", want: 400},
		{name: "script as a letter's unit", method: "GET", path: id("/versions/%d/letters/%%3Cscript%%3E", fx.version), as: "strategy", want: 404},
		{name: "NUL as a letter's unit", method: "GET", path: id("/versions/%d/letters/%%00", fx.version), as: "strategy", want: 404},
		{name: "invalid UTF-8 as a letter's unit", method: "GET", path: id("/versions/%d/letters/%%ff", fx.version), as: "strategy", want: 404},
		{name: "a file name with NUL", method: "POST", path: "/api/v1/actuals/imports", as: "strategy", body: nulName, headers: nulNameHeaders, want: 400},
		{name: "another branch's letter", method: "GET", path: id("/versions/%d/letters/B-JS", fx.version), as: "bm-sh", want: 404},
		{name: "export as PDF", method: "GET", path: id("/versions/%d/export?format=pdf", fx.version), as: "strategy", want: 400},

		// Retries: a failed request leaves no idempotency record behind.
		{name: "idempotent retry of an invalid round", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(set("first_month", 13)),
			headers: map[string]string{"Idempotency-Key": "hx-round-1"}, want: 422},
		{name: "idempotent forbidden write", method: "POST", path: "/api/v1/rounds", as: "bm-sh", body: round(nil),
			headers: map[string]string{"Idempotency-Key": "hx-round-2"}, want: 403},
		{name: "oversized Idempotency-Key", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(nil),
			headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, want: 400},
		{name: "non-ASCII Idempotency-Key", method: "POST", path: "/api/v1/rounds", as: "strategy", body: round(nil),
			headers: map[string]string{"Idempotency-Key": "clé"}, want: 400},
		{name: "chunked 10 MB body", method: "POST", path: "/api/v1/org-units", as: "admin", chunked: true,
			body: map[string]any{"code": "HX-9", "name": tenMB, "kind": "department", "parent_id": bsh}, want: 413},
		{name: "chunked 10 MB body with an Idempotency-Key", method: "POST", path: "/api/v1/org-units", as: "admin", chunked: true,
			body:    map[string]any{"code": "HX-10", "name": tenMB, "kind": "department", "parent_id": bsh},
			headers: map[string]string{"Idempotency-Key": "hx-big"}, want: 413},

		// Authentication.
		{name: "SQL as a token", method: "POST", path: "/api/v1/org-units", body: map[string]any{"code": "HX-8"},
			headers: map[string]string{"Authorization": "Bearer ' OR 1=1 --"}, want: 401},
		{name: "10 KB token", method: "GET", path: "/api/v1/me", headers: map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 10<<10)}, want: 401},
		{name: "anonymous cell write", method: "PUT", path: targets, body: cell(nil), want: 401},
	}
}
