package api_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// The payload half of the authorization matrix: every response the matrix
// gets, whatever its status, is searched for org units outside the
// caller's scope. A branch manager (scope B-SH) and a team lead (scope
// B-SH-KA) must never find, anywhere in a body, the code, the name or the
// id of a unit outside their subtree: not in run requests, explanations,
// audit before/after, diffs, cell histories, exports, comments, or errors.
//
// Product managers are scoped for writes only: they read the whole plan,
// as the directors do (they submit the whole version to the approval
// chain, and their decisions rebalance across the org tree), so the matrix
// checks no product line against them; see README "Who sees what".
//
// Every readable route must say what its body is (payloadFormats), so a
// new GET route without a payload check fails the test.

// payloadFormat is how the body of a route's successful answer is read;
// error answers are always problem+json.
type payloadFormat int

const (
	payloadJSON payloadFormat = iota + 1
	payloadCSV
	payloadXLSX
)

// payloadFormats lists, for every readable route, its body's format.
func payloadFormats() map[string]payloadFormat {
	return map[string]payloadFormat{
		"GET /me":                       payloadJSON,
		"GET /sessions/current":         payloadJSON,
		"GET /me/tasks":                 payloadJSON,
		"GET /events":                   payloadJSON,
		"GET /webhooks":                 payloadJSON,
		"GET /webhooks/{id}":            payloadJSON,
		"GET /webhooks/{id}/deliveries": payloadJSON,
		"GET /webhooks/{id}/deliveries/{delivery_id}": payloadJSON,
		"GET /org-units":                               payloadJSON,
		"GET /org-units/{id}":                          payloadJSON,
		"GET /product-lines":                           payloadJSON,
		"GET /product-lines/{id}":                      payloadJSON,
		"GET /measures":                                payloadJSON,
		"GET /measures/{id}":                           payloadJSON,
		"GET /seasonality-profiles":                    payloadJSON,
		"GET /seasonality-profiles/{id}":               payloadJSON,
		"GET /users":                                   payloadJSON,
		"GET /users/{id}":                              payloadJSON,
		"GET /users/{id}/roles":                        payloadJSON,
		"GET /tokens":                                  payloadJSON,
		"GET /audit":                                   payloadJSON,
		"GET /rounds":                                  payloadJSON,
		"GET /rounds/{id}":                             payloadJSON,
		"GET /rounds/{id}/transitions":                 payloadJSON,
		"GET /rounds/{id}/versions":                    payloadJSON,
		"GET /versions/{id}":                           payloadJSON,
		"GET /versions/{id}/targets":                   payloadJSON,
		"GET /versions/{id}/allocations":               payloadJSON,
		"GET /versions/{id}/diff":                      payloadJSON,
		"GET /versions/{id}/consistency":               payloadJSON,
		"GET /allocations/{id}":                        payloadJSON,
		"GET /versions/{id}/allocation-jobs":           payloadJSON,
		"GET /allocation-jobs/{id}":                    payloadJSON,
		"GET /versions/{id}/cell-history":              payloadJSON,
		"GET /versions/{id}/counterproposals":          payloadJSON,
		"GET /versions/{id}/counterproposals/overview": payloadJSON,
		"GET /counterproposals/{id}":                   payloadJSON,
		"GET /counterproposals/{id}/comments":          payloadJSON,
		"GET /versions/{id}/approval":                  payloadJSON,
		"GET /actuals":                                 payloadJSON,
		"GET /rounds/{id}/attainment":                  payloadJSON,
		"GET /rounds/{id}/rankings":                    payloadJSON,
		"GET /rounds/{id}/scorecards":                  payloadJSON,
		"GET /rounds/{id}/scorecards/{level}":          payloadJSON,
		"GET /rounds/{id}/scores":                      payloadJSON,
		"GET /rounds/{id}/score-issues":                payloadJSON,
		"GET /versions/{id}/export":                    payloadCSV,
		"GET /versions/{id}/letters/{org_unit}":        payloadXLSX,
	}
}

// scopeRoots are the roles whose reads are scoped to an org subtree, and
// the root of that subtree.
var scopeRoots = map[string]string{roleBM: "B-SH", roleTL: "B-SH-KA"}

// scopeUnit is an org unit as the payload check knows it.
type scopeUnit struct {
	ID        int64  `json:"id"`
	Code      string `json:"code"`
	Name      string `json:"name"`
	NameLocal string `json:"name_local"`
	Path      string `json:"path"`
}

// scopeChecker knows every org unit, and which each scoped role must not
// see.
type scopeChecker struct {
	units []scopeUnit
	seen  int // x.n when units were loaded: fresh units need a reload
}

// load reads every org unit as the administrator.
func (sc *scopeChecker) load(x *authzFixture) {
	sc.units = sc.units[:0]
	cursor := ""
	for {
		var page struct {
			Items      []scopeUnit `json:"items"`
			NextCursor string      `json:"next_cursor"`
		}
		path := "/api/v1/org-units?limit=1000"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		x.do(roleAdmin, "GET", path, nil, 200, &page)
		sc.units = append(sc.units, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	sc.seen = x.n
}

// hidden returns the units role must not see, or nil for a role that
// sees the whole tree.
func (sc *scopeChecker) hidden(x *authzFixture, role string) []scopeUnit {
	root, ok := scopeRoots[role]
	if !ok {
		return nil
	}
	if sc.units == nil || sc.seen != x.n {
		sc.load(x)
	}
	var rootPath string
	for _, u := range sc.units {
		if u.Code == root {
			rootPath = u.Path
		}
	}
	if rootPath == "" {
		x.t.Fatalf("scope root %s not found", root)
	}
	var out []scopeUnit
	visible := map[string]bool{}
	for _, u := range sc.units {
		if strings.HasPrefix(u.Path, rootPath) {
			visible[u.Name], visible[u.NameLocal] = true, true
		}
	}
	for _, u := range sc.units {
		if !strings.HasPrefix(u.Path, rootPath) {
			// A name a visible unit shares names that unit too.
			if visible[u.Name] {
				u.Name = ""
			}
			if visible[u.NameLocal] {
				u.NameLocal = ""
			}
			out = append(out, u)
		}
	}
	return out
}

var (
	codeToken = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9_-]*`)
	orgPathRe = regexp.MustCompile(`^(/[0-9]+)+/$`)
	xmlTag    = regexp.MustCompile(`<[^>]*>`)
)

// orgIDKeys are JSON keys whose numbers are org unit ids wherever they
// appear.
var orgIDKeys = []string{"org_unit_id", "org_unit_ids", "root_id", "locks", "parent_org_unit_id", "scope_org_unit_id"}

// payloadLeaks lists every place in body where one of hidden appears. Codes
// and ids the request itself named are not leaks: echoing them back tells
// the caller nothing it did not say.
func payloadLeaks(hidden []scopeUnit, c authzCall, format payloadFormat, status int, body []byte) []string {
	if len(hidden) == 0 {
		return nil
	}
	said := requestText(c)
	codes := map[string]bool{}
	ids := map[int64]string{}
	var names []string
	for _, u := range hidden {
		if !said[u.Code] {
			codes[u.Code] = true
		}
		if !said[strconv.FormatInt(u.ID, 10)] {
			ids[u.ID] = u.Code
		}
		for _, n := range []string{u.Name, u.NameLocal} {
			if len([]rune(n)) >= 3 && !said[n] {
				names = append(names, n)
			}
		}
	}
	var leaks []string
	text := func(where, s string) {
		for _, tok := range codeToken.FindAllString(s, -1) {
			if codes[tok] {
				leaks = append(leaks, fmt.Sprintf("%s: code %s in %.120q", where, tok, s))
			}
		}
		for _, n := range names {
			if strings.Contains(s, n) {
				leaks = append(leaks, fmt.Sprintf("%s: name %q in %.120q", where, n, s))
			}
		}
		if orgPathRe.MatchString(s) {
			for _, p := range strings.Split(strings.Trim(s, "/"), "/") {
				id, _ := strconv.ParseInt(p, 10, 64)
				if code, ok := ids[id]; ok {
					leaks = append(leaks, fmt.Sprintf("%s: id %d (%s) in path %s", where, id, code, s))
				}
			}
		}
	}
	if status >= 300 || format == payloadJSON {
		var v any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return []string{fmt.Sprintf("body is not JSON: %v: %.200s", err, body)}
		}
		walkJSON("$", v, false, func(where string, s string) {
			text(where, s)
			if strings.HasSuffix(where, ".next_cursor") {
				// Cursors are opaque, not secret: they show what they hold.
				if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
					text(where+" (decoded)", string(b))
				}
			}
		}, func(where string, n int64) {
			if code, ok := ids[n]; ok {
				leaks = append(leaks, fmt.Sprintf("%s: id %d (%s)", where, n, code))
			}
		})
		return leaks
	}
	switch format {
	case payloadCSV:
		text("csv", string(body))
	case payloadXLSX:
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return []string{fmt.Sprintf("body is not XLSX: %v", err)}
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return []string{fmt.Sprintf("%s: %v", f.Name, err)}
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			for _, s := range xmlTag.Split(string(b), -1) {
				if s = strings.TrimSpace(html.UnescapeString(s)); s != "" {
					text(f.Name, s)
				}
			}
		}
	}
	return leaks
}

// walkJSON calls str for every string (and object key) and orgID for every
// number that names an org unit: under one of orgIDKeys, a parent_id of an
// org unit (an object with a path, kind or parent code), or the entity_id
// of an event about an org unit.
func walkJSON(where string, v any, orgIDs bool, str func(string, string), orgID func(string, int64)) {
	switch v := v.(type) {
	case string:
		str(where, v)
	case json.Number:
		if n, err := v.Int64(); err == nil && orgIDs {
			orgID(where, n)
		}
	case []any:
		for i, e := range v {
			walkJSON(fmt.Sprintf("%s[%d]", where, i), e, orgIDs, str, orgID)
		}
	case map[string]any:
		_, hasPath := v["path"]
		_, hasKind := v["kind"]
		_, hasParent := v["parent"]
		unitEntity := v["entity"] == "org_unit"
		for k, e := range v {
			str(where+" key", k)
			ids := slices.Contains(orgIDKeys, k) ||
				(k == "parent_id" && (hasPath || hasKind || hasParent)) ||
				(k == "entity_id" && unitEntity) ||
				(k == "id" && hasPath && hasKind)
			walkJSON(where+"."+k, e, ids, str, orgID)
		}
	}
}

// requestText is every token and name the request carried.
func requestText(c authzCall) map[string]bool {
	out := map[string]bool{}
	var b strings.Builder
	b.WriteString(c.path)
	if c.body != nil {
		if _, up := c.body.(authzUpload); !up {
			j, _ := json.Marshal(c.body)
			b.Write(j)
		}
	}
	for _, tok := range codeToken.FindAllString(b.String(), -1) {
		out[tok] = true
	}
	return out
}

// checkPayload fails t for every org unit outside role's scope that the
// response to c shows.
func (x *authzFixture) checkPayload(t *testing.T, route, role, where string, c authzCall, r *apitest.Response) {
	t.Helper()
	format, ok := payloadFormats()[route]
	if !ok {
		format = payloadJSON
	}
	if r.Status == http.StatusNoContent || len(r.Body) == 0 {
		return
	}
	for _, leak := range payloadLeaks(x.scope.hidden(x, role), c, format, r.Status, r.Body) {
		t.Errorf("%s %s: %s %s: %d shows what is outside the scope: %s", role, where, c.method, c.path, r.Status, leak)
	}
}

// checkPayloadRoutes fails t for every readable route without a payload
// format, and every format without a route.
func checkPayloadRoutes(t *testing.T, routes []string) {
	formats := payloadFormats()
	for _, route := range routes {
		if _, ok := formats[route]; strings.HasPrefix(route, "GET ") && !ok {
			t.Errorf("readable route %s has no payload check: add it to payloadFormats", route)
		}
	}
	for route := range formats {
		if !slices.Contains(routes, route) {
			t.Errorf("payloadFormats names %s, which is not a route", route)
		}
	}
}

// populateScope fills the matrix's cycle with what scoped payloads must not
// show: an allocation by weights with a buffer and a locked branch of
// another region, accepted counterproposals that rebalance siblings and
// raise ancestors, comments, a version to diff against, and an edit of a
// unit's master data.
func (x *authzFixture) populateScope() {
	t := x.t
	t.Helper()
	var alloc api.AllocationResponse
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v2), map[string]any{
		"measure": "units", "root": "CO", "locks": []string{"B-JS"},
		"targets": []map[string]any{{"product_line": "POS", "amount": "90000"}},
		"levels": []map[string]any{{"method": "proportional", "weights": []map[string]any{
			{"org_unit": "NKA", "value": "2"}, {"org_unit": "NCH", "value": "1"}, {"org_unit": "R-EAST", "value": "4"},
			{"org_unit": "R-NORTH", "value": "2"}, {"org_unit": "R-SOUTH", "value": "1.5"}}},
			{"method": "even", "buffer": "0.05"}, {"method": "even"}},
		"phasing": map[string]any{"method": "profile", "profile": "year-end-peak"}}, 201, &alloc)
	x.run = alloc.Run.ID

	// Two versions of an open round to diff: the second copies the first
	// and cascades again by other weights.
	var r api.Round
	x.do(roleAuditor, "GET", fmt.Sprintf("/api/v1/rounds/%d", x.r4), nil, 200, &r)
	x.diffFrom = *r.WorkingVersionID
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.diffFrom), map[string]any{
		"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1200000.00"}}}, 201, nil)
	var v api.Version
	x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/versions", x.r4), map[string]any{"from_version_id": x.diffFrom, "label": "again"}, 201, &v)
	x.diffTo = v.ID
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.diffTo), map[string]any{
		"measure": "revenue", "root": "CO", "locks": []string{"B-JS"}, "targets": []map[string]any{{"product_line": "POS", "amount": "1500000.00"}},
		"levels": []map[string]any{{"method": "proportional", "weights": []map[string]any{
			{"org_unit": "NKA", "value": "1"}, {"org_unit": "R-EAST", "value": "3"}, {"org_unit": "R-SOUTH", "value": "1"}}}, {"method": "even"}}}, 201, nil)

	decide := func(pm, author, unit, line, apply string) {
		id, lineID := x.newCP(author, unit, line, true)
		x.do(pm, "POST", fmt.Sprintf("/api/v1/counterproposals/%d/comments", id), map[string]any{"body": "looking at " + unit}, 201, nil)
		x.do(pm, "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", id), map[string]any{
			"decisions": []map[string]any{{"line_id": lineID, "decision": "accept", "apply": apply, "comment": "ok"}}}, 200, nil)
	}
	decide(rolePM, roleBM, "B-SH", "POS", "rebalance")
	decide("pm-commercial", roleBM, "B-SH", "CPC", "raise_parent")
	decide(rolePM, roleTL, "B-SH-KA", "POS", "rebalance")
	decide(rolePM, "bm-js", "B-JS", "POS", "rebalance")

	// Edits that leave parents inside and outside the scopes inconsistent.
	for _, code := range []string{"B-SH-KA", "B-SH", "B-JS-KA"} {
		x.do(rolePM, "PUT", fmt.Sprintf("/api/v1/versions/%d/targets", x.v2), map[string]any{"cells": []map[string]any{
			{"org_unit": code, "product_line": "POS", "measure": "units", "period": "2027-05", "amount": "7"}}}, 200, nil)
	}

	// A run wholly outside the managers' subtrees.
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v2), map[string]any{
		"measure": "units", "root": "R-NORTH", "targets": []map[string]any{{"product_line": "ATM", "amount": "900"}}}, 201, &alloc)
	x.runNorth = alloc.Run.ID

	// Actuals of units in and out of the scopes, for attainment.
	var csv strings.Builder
	csv.WriteString("org_unit,product_line,measure,month,amount\n")
	for _, code := range []string{"B-SH-KA", "B-SH-CH", "B-JS-KA", "B-JS-CH", "NKA"} {
		fmt.Fprintf(&csv, "%s,POS,revenue,2027-04,1000.00\n", code)
	}
	if r := x.send(t, roleStrategy, authzCall{method: "POST", path: "/api/v1/actuals/imports",
		body: authzUploadOf("actuals.csv", []byte(csv.String()), nil)}); r.Status >= 300 {
		t.Fatalf("setup: actuals import: %d %s", r.Status, r.Body)
	}

	// Issued scores of units in and out of the scopes.
	for _, level := range []string{"branch", "key_account_team"} {
		x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/score-issues", x.r3), map[string]any{"level": level, "period": "2027-04"}, 201, nil)
	}

	// A master-data edit of units in and out of the scopes.
	for _, code := range []string{"B-SH", "B-SH-KA", "B-JS"} {
		x.do(roleAdmin, "PATCH", fmt.Sprintf("/api/v1/org-units/%d", x.env.OrgUnitID(code)), map[string]any{"name_local": code + " 改"}, 200, nil)
	}
}

// ghostUnit and ghostID name nothing: an out-of-scope thing must be
// answered exactly as they are.
const (
	ghostUnit = "NO-SUCH"
	ghostID   = 99999999
)

// checkScopeProbes runs, as each scoped role, reads the matrix does not
// make (no filter, other formats, other runs, paging), checking their
// payloads; and asks for things outside the scope next to things that do
// not exist, which must be answered alike.
func (x *authzFixture) checkScopeProbes(t *testing.T) {
	var runs struct {
		Items []api.AllocationRun `json:"items"`
	}
	x.do(roleAdmin, "GET", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v1), nil, 200, &runs)
	probes := []struct {
		path   string
		format payloadFormat
	}{
		{fmt.Sprintf("/versions/%d/diff?against=%d", x.diffTo, x.diffFrom), payloadJSON},
		{fmt.Sprintf("/versions/%d/diff?against=%d&subtree=true&org_unit=B-SH", x.diffTo, x.diffFrom), payloadJSON},
		{fmt.Sprintf("/versions/%d/targets", x.v1), payloadJSON},
		{fmt.Sprintf("/versions/%d/targets?grain=year", x.v2), payloadJSON},
		{fmt.Sprintf("/versions/%d/allocations", x.v1), payloadJSON},
		{fmt.Sprintf("/versions/%d/counterproposals", x.v1), payloadJSON},
		{fmt.Sprintf("/versions/%d/counterproposals/overview", x.v1), payloadJSON},
		{fmt.Sprintf("/versions/%d/consistency", x.v1), payloadJSON},
		{fmt.Sprintf("/versions/%d/export?format=xlsx", x.v1), payloadXLSX},
		{fmt.Sprintf("/versions/%d/export?format=csv", x.v2), payloadCSV},
		{fmt.Sprintf("/versions/%d/cell-history?org_unit=B-SH-KA&product_line=POS&measure=revenue&period=2027-06", x.v1), payloadJSON},
		{fmt.Sprintf("/rounds/%d/attainment", x.r3), payloadJSON},
		{fmt.Sprintf("/rounds/%d/rankings?level=key_account_team&measure=revenue", x.r3), payloadJSON},
		{fmt.Sprintf("/rounds/%d/scores?level=branch", x.r3), payloadJSON},
		{fmt.Sprintf("/rounds/%d/scores?level=key_account_team&period=2027-04", x.r3), payloadJSON},
		{fmt.Sprintf("/rounds/%d/scores?level=branch&format=xlsx", x.r3), payloadXLSX},
		{fmt.Sprintf("/rounds/%d/rankings?level=branch&measure=revenue&format=xlsx", x.r3), payloadXLSX},
		{fmt.Sprintf("/rounds/%d/score-issues?level=branch", x.r3), payloadJSON},
		{fmt.Sprintf("/rounds/%d/score-issues?level=key_account_team", x.r3), payloadJSON},
		{"/audit?entity=org_unit", payloadJSON},
		{fmt.Sprintf("/audit?round=%d", x.r1), payloadJSON},
		{"/audit?limit=1", payloadJSON},
		{"/org-units?limit=1", payloadJSON},
		{"/org-units?limit=2&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("/5/")), payloadJSON},
		{fmt.Sprintf("/org-units?parent_id=%d", x.env.OrgUnitID("R-EAST")), payloadJSON},
		{fmt.Sprintf("/org-units?parent_id=%d", x.env.OrgUnitID("B-SH")), payloadJSON},
		{"/actuals", payloadJSON},
	}
	for _, run := range runs.Items {
		probes = append(probes, struct {
			path   string
			format payloadFormat
		}{fmt.Sprintf("/allocations/%d", run.ID), payloadJSON})
	}
	for role := range scopeRoots {
		for _, p := range probes {
			c := authzCall{method: "GET", path: "/api/v1" + p.path}
			r := x.send(t, role, c)
			if r.Status >= 500 {
				t.Errorf("%s: GET %s: %d: %.300s", role, p.path, r.Status, r.Body)
			}
			for _, leak := range payloadLeaks(x.scope.hidden(x, role), c, p.format, r.Status, r.Body) {
				t.Errorf("%s: GET %s: %d shows what is outside the scope: %s", role, p.path, r.Status, leak)
			}
		}
	}

	cpJS := fmt.Sprint(x.cpJS)
	pairs := []struct{ hidden, ghost string }{
		{fmt.Sprintf("/org-units/%d", x.env.OrgUnitID("B-JS")), fmt.Sprintf("/org-units/%d", ghostID)},
		{fmt.Sprintf("/org-units?subtree_of=%d", x.env.OrgUnitID("R-EAST")), fmt.Sprintf("/org-units?subtree_of=%d", ghostID)},
		{fmt.Sprintf("/org-units?parent_id=%d", x.env.OrgUnitID("R-EAST")), fmt.Sprintf("/org-units?parent_id=%d", ghostID)},
		{fmt.Sprintf("/allocations/%d", x.runNorth), fmt.Sprintf("/allocations/%d", ghostID)},
		{fmt.Sprintf("/allocations/%d?explain_under=B-JS", x.run), fmt.Sprintf("/allocations/%d?explain_under=%s", x.run, ghostUnit)},
		{"/counterproposals/" + cpJS, fmt.Sprintf("/counterproposals/%d", ghostID)},
		{"/counterproposals/" + cpJS + "/comments", fmt.Sprintf("/counterproposals/%d/comments", ghostID)},
		{fmt.Sprintf("/versions/%d/targets?org_unit=B-JS", x.v1), fmt.Sprintf("/versions/%d/targets?org_unit=%s", x.v1, ghostUnit)},
		{fmt.Sprintf("/versions/%d/counterproposals?org_unit=B-JS", x.v1), fmt.Sprintf("/versions/%d/counterproposals?org_unit=%s", x.v1, ghostUnit)},
		{fmt.Sprintf("/versions/%d/diff?against=%d&org_unit=B-JS", x.diffTo, x.diffFrom), fmt.Sprintf("/versions/%d/diff?against=%d&org_unit=%s", x.diffTo, x.diffFrom, ghostUnit)},
		{fmt.Sprintf("/versions/%d/cell-history?org_unit=B-JS&product_line=POS&measure=revenue&period=2027-06", x.v1),
			fmt.Sprintf("/versions/%d/cell-history?org_unit=%s&product_line=POS&measure=revenue&period=2027-06", x.v1, ghostUnit)},
		{fmt.Sprintf("/versions/%d/export?format=csv&org_unit=B-JS", x.v1), fmt.Sprintf("/versions/%d/export?format=csv&org_unit=%s", x.v1, ghostUnit)},
		{fmt.Sprintf("/versions/%d/letters/B-JS", x.v3), fmt.Sprintf("/versions/%d/letters/%s", x.v3, ghostUnit)},
		{"/actuals?org_unit=B-JS", "/actuals?org_unit=" + ghostUnit},
		{fmt.Sprintf("/rounds/%d/attainment?org_unit=B-JS", x.r3), fmt.Sprintf("/rounds/%d/attainment?org_unit=%s", x.r3, ghostUnit)},
		{fmt.Sprintf("/rounds/%d/scores?level=branch&org_unit=B-JS", x.r3), fmt.Sprintf("/rounds/%d/scores?level=branch&org_unit=%s", x.r3, ghostUnit)},
	}
	for role := range scopeRoots {
		for _, p := range pairs {
			h := x.send(t, role, authzCall{method: "GET", path: "/api/v1" + p.hidden})
			g := x.send(t, role, authzCall{method: "GET", path: "/api/v1" + p.ghost})
			hb, gb := problemShape(h.Body, p.hidden, p.ghost), problemShape(g.Body, "", "")
			if h.Status != g.Status || hb != gb {
				t.Errorf("%s: GET %s is told apart from GET %s (which names nothing):\n %d %s\n %d %s", role, p.hidden, p.ghost, h.Status, hb, g.Status, gb)
			}
		}
	}
}

// problemShape is a response body without what differs between any two
// requests (request id, instance), with the hidden thing's code or id the
// request named replaced by the ghost's.
func problemShape(body []byte, hiddenPath, ghostPath string) string {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	delete(v, "request_id")
	delete(v, "instance")
	b, _ := json.Marshal(v)
	s := string(b)
	if hiddenPath != "" {
		ht, gt := codeToken.FindAllString(hiddenPath, -1), codeToken.FindAllString(ghostPath, -1)
		for i := range ht {
			if i < len(gt) && ht[i] != gt[i] {
				re := regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(ht[i]) + `($|[^A-Za-z0-9_-])`)
				s = re.ReplaceAllString(s, "${1}"+gt[i]+"${2}")
			}
		}
	}
	return s
}

// TestScopeRedactsRunsAndAudit looks at what the payload matrix cannot see
// by codes and ids alone: amounts. A branch manager reading a run started
// at the company gets no root and no company totals, while an auditor gets
// them; a run of another region does not exist for the manager; and a
// decision's audit event keeps, for the manager, only the cells of their
// own subtree.
func TestScopeRedactsRunsAndAudit(t *testing.T) {
	env := apitest.New(t)
	x := setupAuthzFixture(t, env)

	type runView struct {
		ID      int64 `json:"id"`
		Request struct {
			RootID  *int64  `json:"root_id"`
			Locks   []int64 `json:"locks"`
			Targets []struct {
				Amount *string `json:"amount"`
			} `json:"targets"`
			Redacted bool `json:"redacted"`
		} `json:"request"`
		Explanation []struct {
			OrgUnit string `json:"org_unit"`
		} `json:"explanation"`
	}
	var full, scoped runView
	env.GetJSON(roleAuditor, fmt.Sprintf("/api/v1/allocations/%d", x.run), &full)
	env.GetJSON(roleBM, fmt.Sprintf("/api/v1/allocations/%d", x.run), &scoped)
	if full.Request.RootID == nil || *full.Request.RootID != env.OrgUnitID("CO") || full.Request.Targets[0].Amount == nil ||
		*full.Request.Targets[0].Amount != "90000" || len(full.Request.Locks) != 1 || full.Request.Redacted || len(full.Explanation) != 5 {
		t.Errorf("the auditor's run: %+v", full)
	}
	if scoped.Request.RootID != nil || scoped.Request.Targets[0].Amount != nil || len(scoped.Request.Locks) != 0 ||
		!scoped.Request.Redacted || len(scoped.Explanation) != 0 {
		t.Errorf("the branch manager's run: %+v", scoped)
	}
	env.GetJSON(roleBM, fmt.Sprintf("/api/v1/allocations/%d?explain_under=B-SH", x.run), &scoped)
	if len(scoped.Explanation) != 2 || scoped.Explanation[0].OrgUnit != "B-SH-KA" {
		t.Errorf("the branch manager's explanation under B-SH: %+v", scoped.Explanation)
	}
	if r := env.Request("GET", fmt.Sprintf("/api/v1/allocations/%d", x.runNorth), apitest.Token(roleBM), nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("a run of another region: %d, want 404", r.Status)
	}
	var runs struct {
		Items []runView `json:"items"`
	}
	env.GetJSON(roleBM, fmt.Sprintf("/api/v1/versions/%d/allocations", x.v2), &runs)
	for _, r := range runs.Items {
		if r.ID == x.runNorth {
			t.Error("the branch manager's list shows a run of another region")
		}
	}

	type event struct {
		Action string `json:"action"`
		After  struct {
			Cells []struct {
				OrgUnitID int64 `json:"org_unit_id"`
			} `json:"cells"`
		} `json:"after"`
	}
	cells := func(user string) map[int64]bool {
		var page struct {
			Items []event `json:"items"`
		}
		env.GetJSON(user, fmt.Sprintf("/api/v1/audit?round=%d&entity=counterproposal&limit=1000", x.r1), &page)
		out := map[int64]bool{}
		for _, e := range page.Items {
			for _, c := range e.After.Cells {
				out[c.OrgUnitID] = true
			}
		}
		return out
	}
	all, mine := cells(roleAuditor), cells(roleBM)
	for _, code := range []string{"CO", "R-EAST", "B-SH"} {
		if !all[env.OrgUnitID(code)] {
			t.Errorf("the auditor does not see the raised cells of %s", code)
		}
	}
	if len(mine) != 2 || !mine[env.OrgUnitID("B-SH")] || !mine[env.OrgUnitID("B-SH-KA")] {
		t.Errorf("the branch manager sees the cells of units %v, want only B-SH's and B-SH-KA's", mine)
	}
}
