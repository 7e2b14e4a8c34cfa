package api_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// The authorization matrix: every route of the API × one demo user per role
// × an object inside and outside the user's scope, generated from the route
// table, so a route added without a rule here fails TestAuthorizationMatrix.
//
// For branch managers and team leads the scope is an org subtree: B-SH (the
// team lead: B-SH-KA) inside, B-JS outside. For product managers it is their
// product lines: POS inside, CPC (pm-commercial's) outside. Writes get a
// fresh object for every call (a new unit, draft, token, round in the right
// phase …), made as the user who may, so every cell starts from the same
// state whatever the cells before it did.

// authzRoles are the demo users, one per role.
var authzRoles = []string{"admin", "strategy", "pm-industry", "sales-director", "marketing-director", "president", "bm-sh", "tl-sh-ka", "auditor"}

const (
	roleAdmin     = "admin"
	roleStrategy  = "strategy"
	rolePM        = "pm-industry"
	roleSales     = "sales-director"
	roleMarketing = "marketing-director"
	rolePresident = "president"
	roleBM        = "bm-sh"
	roleTL        = "tl-sh-ka"
	roleAuditor   = "auditor"
)

// authzExpect says what a role gets on the in-scope (out=false) or
// out-of-scope (out=true) object: 0 for "allowed", else the exact status of
// the refusal.
type authzExpect func(role string, out bool) int

// everyone allows every role on every object.
func everyone() authzExpect { return func(string, bool) int { return 0 } }

// only allows the roles named and refuses the others with denied.
func only(denied int, roles ...string) authzExpect {
	return func(role string, _ bool) int {
		if slices.Contains(roles, role) {
			return 0
		}
		return denied
	}
}

// outside makes the roles named get status on out-of-scope objects.
func (e authzExpect) outside(status int, roles ...string) authzExpect {
	return func(role string, out bool) int {
		if out && slices.Contains(roles, role) {
			return status
		}
		return e(role, out)
	}
}

// authzCall is one request of the matrix.
type authzCall struct {
	method, path string
	body         any // JSON, or a multipart upload
	headers      map[string]string
}

// authzRule says how to call one route and who may.
type authzRule struct {
	// scoped runs every role on an in-scope and an out-of-scope object.
	scoped bool
	// public routes need no authentication, so anonymous calls are not
	// refused with 401 for the want of it.
	public bool
	// call builds the request of role on the object in or out of its
	// scope, making fresh objects as it needs them.
	call func(x *authzFixture, role string, out bool) authzCall
	want authzExpect
	// maybe lists statuses other than 2xx that still mean "allowed" for
	// this route (a state the route refuses after authorizing).
	maybe []int
}

// authzUpload is a multipart body.
type authzUpload struct {
	contentType string
	body        []byte
}

// authzFixture is the state the matrix runs against, and the helpers that
// make fresh objects.
type authzFixture struct {
	t   *testing.T
	env *apitest.Env
	n   int

	r1, v1     int64 // a round in its counterproposal phase and its working version
	cpSH, cpKA int64 // drafts of bm-sh (for B-SH) and tl-sh-ka (for B-SH-KA) in v1
	cpJS       int64 // bm-js's draft for B-JS in v1
	r2, v2     int64 // an open round for cell writes, and its working version
	run        int64 // an allocation run on v2
	runNorth   int64 // a run on v2 rooted at R-NORTH, outside every scoped role's subtree
	job        int64 // an allocation job on v2 rooted at the company (queued: no worker runs)
	jobNorth   int64 // one rooted at R-NORTH, outside every scoped role's subtree
	workbook   []byte
	r3, v3     int64 // an approved round and its budget of record
	r4         int64 // an open round for new versions
	diffFrom   int64 // r4's first working version, and a later one that
	diffTo     int64 // cascades by other weights
	r5         int64 // a draft round
	user       int64 // a user for user writes
	scope      scopeChecker
}

// do makes a setup call that must succeed with want.
func (x *authzFixture) do(user, method, path string, body any, want int, v any) {
	x.t.Helper()
	r := x.env.Request(method, path, apitest.Token(user), body, map[string]string{"If-Match": "*"})
	if r.Status != want {
		x.t.Fatalf("setup: %s %s as %s: %d, want %d: %s", method, path, user, r.Status, want, r.Body)
	}
	if v != nil {
		r.Decode(x.t, v)
	}
}

// fresh returns a new unique code with the prefix.
func (x *authzFixture) fresh(prefix string) string {
	x.n++
	return fmt.Sprintf("%s%d", prefix, x.n)
}

// unitFor is the org unit role works on: inside its scope or outside.
// revenueScorecard assesses a level on revenue alone.
var revenueScorecard = map[string]any{"name": "Revenue", "rounding": map[string]any{"places": 2, "mode": "half_up"},
	"kpis": []map[string]any{{"measure": "revenue", "weight": "100", "direction": "higher",
		"curve": map[string]any{"kind": "linear", "floor_pct": "0", "cap_pct": "120"}}}}

func unitFor(role string, out bool) string {
	switch {
	case out:
		return "B-JS"
	case role == roleTL:
		return "B-SH-KA"
	}
	return "B-SH"
}

// lineFor is the product line role works on: pm-industry's own or not.
func lineFor(out bool) string {
	if out {
		return "CPC"
	}
	return "POS"
}

// newRound creates a round as the strategy office and moves it through the
// phases given, returning it.
func (x *authzFixture) newRound(phases ...string) api.Round {
	x.t.Helper()
	var r api.Round
	x.do(roleStrategy, "POST", "/api/v1/rounds", map[string]any{
		"code": x.fresh("AZ-R"), "name": "Authorization", "fiscal_year": 2027, "first_month": 4,
		"measures": []string{"revenue", "gross_margin", "units"},
		"calendar": []map[string]any{{"phase": "counterproposals", "due": hostileDeadline}},
	}, 201, &r)
	for _, p := range phases {
		x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", r.ID), map[string]any{"to": p}, 200, &r)
	}
	return r
}

// newCP drafts a counterproposal in v1 as author for unit about line, and
// submits it when asked; it returns the id and the line's id.
func (x *authzFixture) newCP(author, unit, line string, submit bool) (int64, int64) {
	x.t.Helper()
	var cp api.Counterproposal
	x.do(author, "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", x.v1), map[string]any{
		"org_unit": unit, "title": "matrix",
		"lines": []map[string]any{{"product_line": line, "measure": "revenue", "period": "year", "proposed": "100.00", "reason": "r"}},
	}, 201, &cp)
	if submit {
		x.do(author, "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", cp.ID), nil, 200, nil)
	}
	return cp.ID, cp.Lines[0].ID
}

// cpFor drafts a counterproposal role can reach: its own unit's inside its
// scope (the branch's for roles without one), B-JS's outside.
func (x *authzFixture) cpFor(role string, out bool, line string, submit bool) (int64, int64) {
	switch {
	case out:
		return x.newCP("bm-js", "B-JS", line, submit)
	case role == roleTL:
		return x.newCP(roleTL, "B-SH-KA", line, submit)
	}
	return x.newCP(roleBM, "B-SH", line, submit)
}

// newUnit creates a leaf department under parent as admin.
func (x *authzFixture) newUnit(parent string) int64 {
	x.t.Helper()
	var u api.OrgUnit
	x.do(roleAdmin, "POST", "/api/v1/org-units", map[string]any{
		"code": x.fresh("AZ-U"), "name": "Matrix unit", "kind": "department", "parent_id": x.env.OrgUnitID(parent)}, 201, &u)
	return u.ID
}

// authzUploadOf builds a multipart body with a file and form fields.
func authzUploadOf(name string, file []byte, fields map[string]string) authzUpload {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write(file)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return authzUpload{contentType: w.FormDataContentType(), body: b.Bytes()}
}

func setupAuthzFixture(t *testing.T, env *apitest.Env) *authzFixture {
	x := &authzFixture{t: t, env: env}

	r := x.newRound("open")
	x.r1, x.v1 = r.ID, *r.WorkingVersionID
	for _, pa := range []struct{ pm, line string }{{"pm-industry", "POS"}, {"pm-commercial", "CPC"}} {
		x.do(pa.pm, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v1), map[string]any{
			"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": pa.line, "amount": "1200000.00"}}}, 201, nil)
	}
	x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", x.r1), map[string]any{"to": "counterproposals"}, 200, nil)
	x.cpSH, _ = x.newCP(roleBM, "B-SH", "POS", false)
	x.cpKA, _ = x.newCP(roleTL, "B-SH-KA", "POS", false)
	x.cpJS, _ = x.newCP("bm-js", "B-JS", "POS", false)

	r = x.newRound("open")
	x.r2, x.v2 = r.ID, *r.WorkingVersionID
	var alloc api.AllocationResponse
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v2), map[string]any{
		"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1200000.00"}}}, 201, &alloc)
	x.run = alloc.Run.ID
	res := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/export?format=xlsx&product_line=POS&measure=revenue", x.v2), apitest.Token(roleStrategy), nil, nil)
	if res.Status != 200 {
		t.Fatalf("setup: export: %d %s", res.Status, res.Body)
	}
	x.workbook = res.Body
	x.job, x.jobNorth = x.newJob("CO"), x.newJob("R-NORTH")

	r = x.newRound("open")
	x.r3, x.v3 = r.ID, *r.WorkingVersionID
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", x.v3), map[string]any{
		"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1200000.00"}}}, 201, nil)
	// The round received the demo's default scorecards: these replace them.
	for _, level := range []string{"branch", "key_account_team"} {
		x.do(roleStrategy, "PUT", fmt.Sprintf("/api/v1/rounds/%d/scorecards/%s", x.r3, level), revenueScorecard, 200, nil)
	}
	for _, p := range []string{"counterproposals", "review"} {
		x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", x.r3), map[string]any{"to": p}, 200, nil)
	}
	actions := fmt.Sprintf("/api/v1/versions/%d/approval/actions", x.v3)
	x.do(rolePM, "POST", actions, map[string]any{"action": "submit"}, 200, nil)
	for _, u := range []string{roleSales, roleMarketing, rolePresident} {
		x.do(u, "POST", actions, map[string]any{"action": "approve", "comment": "ok"}, 200, nil)
	}

	x.r4 = x.newRound("open").ID
	x.r5 = x.newRound().ID

	var u api.User
	x.do(roleAdmin, "POST", "/api/v1/users", map[string]any{"username": "authz-user", "name": "Matrix user"}, 201, &u)
	x.user = u.ID
	x.populateScope()
	return x
}

// newJob queues an allocation job of pm-industry on v2 rooted at root.
func (x *authzFixture) newJob(root string) int64 {
	var j api.AllocationJob
	x.do(rolePM, "POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", x.v2), map[string]any{
		"measure": "gross_margin", "root": root, "targets": []map[string]any{{"product_line": "POS", "amount": "1200.00"}}}, 202, &j)
	return j.ID
}

// authzRules is the rule of every route, keyed as Server.Routes names them.
func authzRules() map[string]authzRule {
	get := func(format string, args ...func(x *authzFixture) any) func(x *authzFixture, role string, out bool) authzCall {
		return func(x *authzFixture, role string, out bool) authzCall {
			vs := make([]any, len(args))
			for i, a := range args {
				vs[i] = a(x)
			}
			return authzCall{method: "GET", path: "/api/v1" + fmt.Sprintf(format, vs...)}
		}
	}
	v1 := func(x *authzFixture) any { return x.v1 }
	v2 := func(x *authzFixture) any { return x.v2 }
	r1 := func(x *authzFixture) any { return x.r1 }
	r3 := func(x *authzFixture) any { return x.r3 }
	user := func(x *authzFixture) any { return x.user }
	// scopedGet is a GET whose query names role's org unit with param.
	scopedGet := func(format, param string, args ...func(x *authzFixture) any) func(x *authzFixture, role string, out bool) authzCall {
		return func(x *authzFixture, role string, out bool) authzCall {
			c := get(format, args...)(x, role, out)
			sep := "?"
			if strings.Contains(c.path, "?") {
				sep = "&"
			}
			c.path += sep + param + "=" + unitFor(role, out)
			return c
		}
	}
	write := func(method string, path func(x *authzFixture, role string, out bool) string, body func(x *authzFixture, role string, out bool) any) func(x *authzFixture, role string, out bool) authzCall {
		return func(x *authzFixture, role string, out bool) authzCall {
			c := authzCall{method: method, path: "/api/v1" + path(x, role, out)}
			if body != nil {
				c.body = body(x, role, out)
			}
			return c
		}
	}
	fixed := func(format string, args ...func(x *authzFixture) any) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			vs := make([]any, len(args))
			for i, a := range args {
				vs[i] = a(x)
			}
			return fmt.Sprintf(format, vs...)
		}
	}
	constBody := func(b any) func(*authzFixture, string, bool) any {
		return func(*authzFixture, string, bool) any { return b }
	}
	cpPath := func(suffix string, submit bool) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			id, _ := x.cpFor(role, out, "POS", submit)
			return fmt.Sprintf("/counterproposals/%d%s", id, suffix)
		}
	}
	existingCP := func(suffix string) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			id := x.cpSH
			switch {
			case out:
				id = x.cpJS
			case role == roleTL:
				id = x.cpKA
			}
			return fmt.Sprintf("/counterproposals/%d%s", id, suffix)
		}
	}
	unitPath := func(fresh bool) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			parent := "B-SH-KA"
			if out {
				parent = "B-JS-KA"
			}
			if fresh {
				return fmt.Sprintf("/org-units/%d", x.newUnit(parent))
			}
			return fmt.Sprintf("/org-units/%d", x.env.OrgUnitID(parent))
		}
	}
	master := only(http.StatusForbidden, roleAdmin, roleStrategy)
	hooks := only(http.StatusForbidden, roleAdmin, roleStrategy)
	// hookPath is a fresh endpoint's path; deliveryPath one delivery of a
	// fresh endpoint (the round it reports is made for it).
	hookPath := func(suffix string) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			var ep api.WebhookEndpointSecret
			x.do(roleAdmin, "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example/az", "event_types": []string{"round.created"}}, 201, &ep)
			return fmt.Sprintf("/webhooks/%d%s", ep.ID, suffix)
		}
	}
	deliveryPath := func(suffix string) func(x *authzFixture, role string, out bool) string {
		return func(x *authzFixture, role string, out bool) string {
			hook := hookPath("")(x, role, out)
			x.newRound()
			var page api.WebhookDeliveryPage
			x.do(roleAdmin, "GET", "/api/v1"+hook+"/deliveries", nil, 200, &page)
			if len(page.Items) != 1 {
				x.t.Fatalf("setup: %d deliveries", len(page.Items))
			}
			return fmt.Sprintf("%s/deliveries/%d%s", hook, page.Items[0].ID, suffix)
		}
	}
	// Branch managers and team leads see their subtree only.
	scopedRead := everyone().outside(http.StatusNotFound, roleBM, roleTL)
	weights := []string{"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}

	return map[string]authzRule{
		"GET /me":       {call: get("/me"), want: everyone()},
		"GET /me/tasks": {call: get("/me/tasks"), want: everyone()},
		"GET /events":   {call: get("/events"), want: everyone()},

		// Webhook endpoints: administrators and the strategy office.
		"GET /webhooks":              {call: get("/webhooks"), want: hooks},
		"POST /webhooks":             {want: hooks, call: write("POST", fixed("/webhooks"), constBody(map[string]any{"url": "https://hooks.example/az"}))},
		"GET /webhooks/{id}":         {want: hooks, call: write("GET", hookPath(""), nil)},
		"PATCH /webhooks/{id}":       {want: hooks, call: write("PATCH", hookPath(""), constBody(map[string]any{"status": "paused"}))},
		"DELETE /webhooks/{id}":      {want: hooks, call: write("DELETE", hookPath(""), nil)},
		"POST /webhooks/{id}/secret": {want: hooks, call: write("POST", hookPath("/secret"), constBody(map[string]any{"overlap_seconds": 60}))},
		"POST /webhooks/{id}/replay": {want: hooks, call: write("POST", hookPath("/replay"),
			constBody(map[string]any{"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}))},
		"GET /webhooks/{id}/deliveries":                       {want: hooks, call: write("GET", hookPath("/deliveries"), nil)},
		"GET /webhooks/{id}/deliveries/{delivery_id}":         {want: hooks, call: write("GET", deliveryPath(""), nil)},
		"POST /webhooks/{id}/deliveries/{delivery_id}/replay": {want: hooks, call: write("POST", deliveryPath("/replay"), nil)},

		// Console sessions: signing in and redeeming a password link are
		// public (wrong credentials get 401/422 whoever sends them); a
		// bearer-token request has no session to show or end.
		"POST /sessions": {public: true, want: only(http.StatusUnauthorized),
			call: write("POST", fixed("/sessions"), func(x *authzFixture, _ string, _ bool) any {
				// A fresh username each time, so throttling never answers.
				return map[string]any{"username": x.fresh("nobody-"), "password": "not the password"}
			})},
		"POST /passwords": {public: true, want: only(http.StatusUnprocessableEntity),
			call: write("POST", fixed("/passwords"), constBody(map[string]any{"token": "cas_unknown", "password": "long enough password"}))},
		"GET /sessions/current":    {call: get("/sessions/current"), want: only(http.StatusNotFound)},
		"DELETE /sessions/current": {call: write("DELETE", fixed("/sessions/current"), nil), want: only(http.StatusNotFound)},

		// Master data: everyone reads, the strategy office and admins write;
		// org units outside a manager's subtree are invisible.
		"GET /org-units": {call: get("/org-units"), want: everyone()},
		"POST /org-units": {scoped: true, want: master, call: write("POST", fixed("/org-units"), func(x *authzFixture, role string, out bool) any {
			parent := "B-SH-KA"
			if out {
				parent = "B-JS-KA"
			}
			return map[string]any{"code": x.fresh("AZ-N"), "name": "New", "kind": "department", "parent_id": x.env.OrgUnitID(parent)}
		})},
		"GET /org-units/{id}":    {scoped: true, want: scopedRead, call: write("GET", unitPath(false), nil)},
		"PATCH /org-units/{id}":  {scoped: true, want: master.outside(http.StatusNotFound, roleBM, roleTL), call: write("PATCH", unitPath(false), constBody(map[string]any{"name_local": "团队"}))},
		"DELETE /org-units/{id}": {scoped: true, want: master.outside(http.StatusNotFound, roleBM, roleTL), call: write("DELETE", unitPath(true), nil)},

		"GET /product-lines": {call: get("/product-lines"), want: everyone()},
		"POST /product-lines": {want: master, call: write("POST", fixed("/product-lines"), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"code": x.fresh("AZ-P"), "name": "New line", "group": "industry"}
		})},
		"GET /product-lines/{id}": {call: get("/product-lines/%d", func(x *authzFixture) any { return x.env.ProductLineID("POS") }), want: everyone()},
		// A product manager edits their own lines only.
		"PATCH /product-lines/{id}": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: write("PATCH", func(x *authzFixture, _ string, out bool) string {
				return fmt.Sprintf("/product-lines/%d", x.env.ProductLineID(lineFor(out)))
			}, constBody(map[string]any{"name_local": "产品"}))},

		"GET /measures": {call: get("/measures"), want: everyone()},
		"POST /measures": {want: master, call: write("POST", fixed("/measures"), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"code": strings.ToLower(x.fresh("az_m")), "name": "M", "unit": "CNY", "scale": 2}
		})},
		"GET /measures/{id}":   {call: get("/measures/%d", func(x *authzFixture) any { return x.env.MeasureID("units") }), want: everyone()},
		"PATCH /measures/{id}": {want: master, call: write("PATCH", fixed("/measures/%d", func(x *authzFixture) any { return x.env.MeasureID("units") }), constBody(map[string]any{"name_local": "销量"}))},

		// Product managers shape seasonality too.
		"GET /seasonality-profiles": {call: get("/seasonality-profiles"), want: everyone()},
		"POST /seasonality-profiles": {want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM), call: write("POST", fixed("/seasonality-profiles"), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"code": x.fresh("az-s"), "name": "S", "weights": weights}
		})},
		"GET /seasonality-profiles/{id}": {call: get("/seasonality-profiles/%d", func(x *authzFixture) any { return x.env.SeasonalityProfileID("even") }), want: everyone()},
		"PATCH /seasonality-profiles/{id}": {want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM),
			call: write("PATCH", fixed("/seasonality-profiles/%d", func(x *authzFixture) any { return x.env.SeasonalityProfileID("even") }), constBody(map[string]any{"weights": weights}))},

		// Users, roles and tokens: administrators; auditors read users.
		"GET /users": {call: get("/users"), want: only(http.StatusForbidden, roleAdmin, roleAuditor)},
		"POST /users": {want: only(http.StatusForbidden, roleAdmin), call: write("POST", fixed("/users"), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"username": strings.ToLower(x.fresh("az-u")), "name": "U"}
		})},
		"GET /users/{id}":       {call: get("/users/%d", user), want: only(http.StatusForbidden, roleAdmin, roleAuditor)},
		"PATCH /users/{id}":     {want: only(http.StatusForbidden, roleAdmin), call: write("PATCH", fixed("/users/%d", user), constBody(map[string]any{"name": "Matrix user"}))},
		"GET /users/{id}/roles": {call: get("/users/%d/roles", user), want: only(http.StatusForbidden, roleAdmin, roleAuditor)},
		"POST /users/{id}/roles": {want: only(http.StatusForbidden, roleAdmin), call: write("POST", fixed("/users/%d/roles", user), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"role": "team_lead", "org_unit_id": x.env.OrgUnitID("B-SH-KA")}
		})},
		"DELETE /users/{id}/roles/{role_id}": {want: only(http.StatusForbidden, roleAdmin), call: write("DELETE", func(x *authzFixture, _ string, _ bool) string {
			var u api.User
			x.do(roleAdmin, "POST", "/api/v1/users", map[string]any{"username": strings.ToLower(x.fresh("az-v")), "name": "V"}, 201, &u)
			var ra api.RoleAssignment
			x.do(roleAdmin, "POST", fmt.Sprintf("/api/v1/users/%d/roles", u.ID), map[string]any{"role": "auditor"}, 201, &ra)
			return fmt.Sprintf("/users/%d/roles/%d", u.ID, ra.ID)
		}, nil)},
		"POST /users/{id}/password-links": {want: only(http.StatusForbidden, roleAdmin), call: write("POST", fixed("/users/%d/password-links", user), constBody(map[string]any{"purpose": "reset"}))},
		"GET /tokens":                     {call: get("/tokens"), want: only(http.StatusForbidden, roleAdmin)},
		"POST /tokens":                    {want: only(http.StatusForbidden, roleAdmin), call: write("POST", fixed("/tokens"), func(x *authzFixture, _ string, _ bool) any { return map[string]any{"user_id": x.user} })},
		"DELETE /tokens/{id}": {want: only(http.StatusForbidden, roleAdmin), call: write("DELETE", func(x *authzFixture, _ string, _ bool) string {
			var tok api.TokenCreated
			x.do(roleAdmin, "POST", "/api/v1/tokens", map[string]any{"user_id": x.user}, 201, &tok)
			return fmt.Sprintf("/tokens/%d", tok.ID)
		}, nil)},

		// The audit trail: everyone reads what they may see of it.
		"GET /audit": {call: get("/audit"), want: everyone()},

		// Rounds: everyone reads; the strategy office and admins run them.
		"GET /rounds": {call: get("/rounds"), want: everyone()},
		"POST /rounds": {want: master, call: write("POST", fixed("/rounds"), func(x *authzFixture, _ string, _ bool) any {
			return map[string]any{"code": x.fresh("AZ-C"), "name": "C", "fiscal_year": 2028, "first_month": 1, "measures": []string{"revenue"}}
		})},
		"GET /rounds/{id}":             {call: get("/rounds/%d", r1), want: everyone()},
		"PATCH /rounds/{id}":           {want: master, call: write("PATCH", fixed("/rounds/%d", func(x *authzFixture) any { return x.r5 }), constBody(map[string]any{"name": "Draft"}))},
		"GET /rounds/{id}/transitions": {call: get("/rounds/%d/transitions", r1), want: everyone()},
		"POST /rounds/{id}/transitions": {want: master, call: write("POST", func(x *authzFixture, _ string, _ bool) string {
			return fmt.Sprintf("/rounds/%d/transitions", x.newRound().ID)
		}, constBody(map[string]any{"to": "open"}))},
		"GET /rounds/{id}/versions": {call: get("/rounds/%d/versions", r1), want: everyone()},
		// Product managers may branch a working version off too.
		"POST /rounds/{id}/versions": {want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM), call: write("POST", fixed("/rounds/%d/versions", func(x *authzFixture) any { return x.r4 }), func(x *authzFixture, _ string, _ bool) any {
			var r api.Round
			x.do(roleAuditor, "GET", fmt.Sprintf("/api/v1/rounds/%d", x.r4), nil, 200, &r)
			return map[string]any{"from_version_id": *r.WorkingVersionID, "label": "branch"}
		})},

		// Versions and targets: everyone reads, scoped to their subtree;
		// product managers write their own lines, the strategy office and
		// admins any.
		"GET /versions/{id}": {call: get("/versions/%d", v1), want: everyone()},
		"POST /versions/{id}/freeze": {want: master, call: write("POST", func(x *authzFixture, _ string, _ bool) string {
			var r api.Round
			x.do(roleAuditor, "GET", fmt.Sprintf("/api/v1/rounds/%d", x.r4), nil, 200, &r)
			var v api.Version
			x.do(roleStrategy, "POST", fmt.Sprintf("/api/v1/rounds/%d/versions", x.r4), map[string]any{"from_version_id": *r.WorkingVersionID}, 201, &v)
			return fmt.Sprintf("/versions/%d/freeze", v.ID)
		}, nil)},
		"GET /versions/{id}/targets": {scoped: true, want: scopedRead, call: scopedGet("/versions/%d/targets", "org_unit", v1)},
		"PUT /versions/{id}/targets": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: func(x *authzFixture, role string, out bool) authzCall {
				return authzCall{method: "PUT", path: fmt.Sprintf("/api/v1/versions/%d/targets", x.v2), headers: map[string]string{"If-Match": "*"},
					body: map[string]any{"cells": []map[string]any{{"org_unit": "B-SH-KA", "product_line": lineFor(out), "measure": "revenue", "period": "2027-04", "amount": "10.00"}}}}
			}},
		"GET /versions/{id}/allocations": {call: get("/versions/%d/allocations", v2), want: everyone()},
		"POST /versions/{id}/allocations": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: write("POST", fixed("/versions/%d/allocations", v2), func(x *authzFixture, _ string, out bool) any {
				return map[string]any{"measure": "gross_margin", "root": "CO", "targets": []map[string]any{{"product_line": lineFor(out), "amount": "1200.00"}}}
			})},
		// Allocation jobs: as the runs they make; the one who started a
		// job, the strategy office and admins cancel it.
		"GET /versions/{id}/allocation-jobs": {call: get("/versions/%d/allocation-jobs", v2), want: everyone()},
		"POST /versions/{id}/allocation-jobs": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: write("POST", fixed("/versions/%d/allocation-jobs", v2), func(x *authzFixture, _ string, out bool) any {
				return map[string]any{"measure": "gross_margin", "root": "CO", "targets": []map[string]any{{"product_line": lineFor(out), "amount": "1200.00"}}}
			})},
		"GET /allocation-jobs/{id}": {scoped: true, want: everyone().outside(http.StatusNotFound, roleBM, roleTL),
			call: func(x *authzFixture, _ string, out bool) authzCall {
				id := x.job
				if out {
					id = x.jobNorth
				}
				return authzCall{method: "GET", path: fmt.Sprintf("/api/v1/allocation-jobs/%d", id)}
			}},
		"POST /allocation-jobs/{id}/cancel": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusNotFound, roleBM, roleTL),
			call: write("POST", func(x *authzFixture, _ string, out bool) string {
				root := "CO"
				if out {
					root = "R-NORTH"
				}
				return fmt.Sprintf("/allocation-jobs/%d/cancel", x.newJob(root))
			}, nil)},
		"GET /versions/{id}/diff":        {scoped: true, want: scopedRead, call: scopedGet("/versions/%d/diff?against=%d", "org_unit", func(x *authzFixture) any { return x.diffTo }, func(x *authzFixture) any { return x.diffFrom })},
		"GET /versions/{id}/consistency": {call: get("/versions/%d/consistency", v2), want: everyone()},
		// explain_under outside a manager's subtree is an unknown code.
		"GET /allocations/{id}": {scoped: true, want: everyone().outside(http.StatusUnprocessableEntity, roleBM, roleTL),
			call: scopedGet("/allocations/%d", "explain_under", func(x *authzFixture) any { return x.run })},
		"GET /versions/{id}/cell-history": {scoped: true, want: scopedRead,
			call: scopedGet("/versions/%d/cell-history?product_line=POS&measure=revenue&period=2027-04", "org_unit", v1)},

		// Counterproposals: the managers of a unit draft, submit and
		// withdraw its own; product managers decide their lines; everyone
		// who sees one reads and comments on it.
		"GET /versions/{id}/counterproposals": {scoped: true, want: scopedRead, call: scopedGet("/versions/%d/counterproposals", "org_unit", v1)},
		// A unit outside the manager's subtree is, to them, an unknown code
		// in the body: 422 naming org_unit, as for a code that does not exist.
		"POST /versions/{id}/counterproposals": {scoped: true, want: only(http.StatusForbidden, roleBM, roleTL).outside(http.StatusUnprocessableEntity, roleBM, roleTL),
			call: write("POST", fixed("/versions/%d/counterproposals", v1), func(x *authzFixture, role string, out bool) any {
				return map[string]any{"org_unit": unitFor(role, out), "title": "t",
					"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "1.00", "reason": "r"}}}
			})},
		"GET /versions/{id}/counterproposals/overview": {call: get("/versions/%d/counterproposals/overview", v1), want: everyone()},
		"GET /counterproposals/{id}":                   {scoped: true, want: scopedRead, call: write("GET", existingCP(""), nil)},
		"PATCH /counterproposals/{id}": {scoped: true, want: only(http.StatusForbidden, roleBM, roleTL).outside(http.StatusNotFound, roleBM, roleTL),
			call: func(x *authzFixture, role string, out bool) authzCall {
				c := write("PATCH", existingCP(""), constBody(map[string]any{"title": "edited"}))(x, role, out)
				c.headers = map[string]string{"If-Match": "*"}
				return c
			}},
		"POST /counterproposals/{id}/submit":   {scoped: true, want: only(http.StatusForbidden, roleBM, roleTL).outside(http.StatusNotFound, roleBM, roleTL), call: write("POST", cpPath("/submit", false), nil)},
		"POST /counterproposals/{id}/withdraw": {scoped: true, want: only(http.StatusForbidden, roleBM, roleTL).outside(http.StatusNotFound, roleBM, roleTL), call: write("POST", cpPath("/withdraw", false), nil)},
		"POST /counterproposals/{id}/decision/preview": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: func(x *authzFixture, role string, out bool) authzCall {
				id, line := x.newCP(roleBM, "B-SH", lineFor(out), true)
				return authzCall{method: "POST", path: fmt.Sprintf("/api/v1/counterproposals/%d/decision/preview", id),
					body: map[string]any{"decisions": []map[string]any{{"line_id": line, "decision": "accept"}}}}
			}},
		"POST /counterproposals/{id}/decision": {scoped: true, want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM).outside(http.StatusForbidden, rolePM),
			call: func(x *authzFixture, role string, out bool) authzCall {
				// The decider's scope is the line's product line; the
				// counterproposal is one they see.
				id, line := x.newCP(roleBM, "B-SH", lineFor(out), true)
				return authzCall{method: "POST", path: fmt.Sprintf("/api/v1/counterproposals/%d/decision", id),
					body: map[string]any{"decisions": []map[string]any{{"line_id": line, "decision": "reject", "comment": "no"}}}}
			}},
		"GET /counterproposals/{id}/comments":  {scoped: true, want: scopedRead, call: write("GET", existingCP("/comments"), nil)},
		"POST /counterproposals/{id}/comments": {scoped: true, want: scopedRead, call: write("POST", existingCP("/comments"), constBody(map[string]any{"body": "a comment"}))},

		// Approval: everyone reads; the chain's first role (product
		// managers) submits.
		"GET /versions/{id}/approval": {call: get("/versions/%d/approval", v1), want: everyone()},
		"POST /versions/{id}/approval/actions": {want: only(http.StatusForbidden, rolePM), call: write("POST", func(x *authzFixture, _ string, _ bool) string {
			return fmt.Sprintf("/versions/%d/approval/actions", *x.newRound("open", "counterproposals", "review").WorkingVersionID)
		}, constBody(map[string]any{"action": "submit"}))},

		// Actuals, attainment and files.
		"POST /actuals/imports": {want: master, call: func(x *authzFixture, _ string, _ bool) authzCall {
			return authzCall{method: "POST", path: "/api/v1/actuals/imports", body: authzUploadOf("actuals.csv",
				[]byte("org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1.00\n"), map[string]string{"dry_run": "true"})}
		}},
		"GET /actuals":                        {scoped: true, want: scopedRead, call: scopedGet("/actuals", "org_unit")},
		"GET /rounds/{id}/attainment":         {scoped: true, want: scopedRead, call: scopedGet("/rounds/%d/attainment", "org_unit", r3)},
		"GET /rounds/{id}/rankings":           {call: get("/rounds/%d/rankings?level=branch&measure=revenue", r3), want: everyone()},
		"GET /rounds/{id}/scorecards":         {call: get("/rounds/%d/scorecards", r3), want: everyone()},
		"GET /rounds/{id}/scorecards/{level}": {call: get("/rounds/%d/scorecards/branch", r3), want: everyone()},
		"PUT /rounds/{id}/scorecards/{level}": {want: master, call: write("PUT", fixed("/rounds/%d/scorecards/region", func(x *authzFixture) any { return x.r4 }), constBody(revenueScorecard))},
		"DELETE /rounds/{id}/scorecards/{level}": {want: master, call: write("DELETE", func(x *authzFixture, _ string, _ bool) string {
			id := x.newRound("open").ID
			x.do(roleStrategy, "PUT", fmt.Sprintf("/api/v1/rounds/%d/scorecards/branch", id), revenueScorecard, 200, nil)
			return fmt.Sprintf("/rounds/%d/scorecards/branch", id)
		}, nil)},
		// A unit is scored on the scorecard of its own level.
		"GET /rounds/{id}/scores": {scoped: true, want: scopedRead, call: func(x *authzFixture, role string, out bool) authzCall {
			level := "branch"
			if role == roleTL && !out {
				level = "key_account_team"
			}
			return authzCall{method: "GET", path: fmt.Sprintf("/api/v1/rounds/%d/scores?level=%s&org_unit=%s", x.r3, level, unitFor(role, out))}
		}},
		"POST /versions/{id}/letter-batches": {want: master, call: write("POST", fixed("/versions/%d/letter-batches", func(x *authzFixture) any { return x.v3 }),
			constBody(map[string]any{"level": "branch", "format": "xlsx"}))},
		"POST /rounds/{id}/scorecard-defaults": {want: master, call: write("POST", func(x *authzFixture, _ string, _ bool) string {
			return fmt.Sprintf("/rounds/%d/scorecard-defaults", x.newRound("open").ID)
		}, nil)},
		"POST /rounds/{id}/score-issues": {want: master, call: write("POST", fixed("/rounds/%d/score-issues", r3), constBody(map[string]any{"level": "branch", "period": "2027-04"}))},
		"GET /rounds/{id}/score-issues":  {call: get("/rounds/%d/score-issues?level=branch", r3), want: everyone()},
		"GET /versions/{id}/export":      {scoped: true, want: scopedRead, call: scopedGet("/versions/%d/export?format=csv", "org_unit", v1)},
		"GET /versions/{id}/letters/{org_unit}": {scoped: true, want: scopedRead, call: func(x *authzFixture, role string, out bool) authzCall {
			return authzCall{method: "GET", path: fmt.Sprintf("/api/v1/versions/%d/letters/%s", x.v3, unitFor(role, out))}
		}},
		"POST /versions/{id}/imports": {want: only(http.StatusForbidden, roleAdmin, roleStrategy, rolePM), call: func(x *authzFixture, _ string, _ bool) authzCall {
			return authzCall{method: "POST", path: fmt.Sprintf("/api/v1/versions/%d/imports", x.v2), body: authzUploadOf("targets.xlsx", x.workbook, map[string]string{"dry_run": "true"})}
		}},
	}
}

// send performs c as user (anonymous when empty).
func (x *authzFixture) send(t *testing.T, user string, c authzCall) *apitest.Response {
	t.Helper()
	sub := *x.env
	sub.T = t
	headers := map[string]string{}
	for k, v := range c.headers {
		headers[k] = v
	}
	body := c.body
	if up, ok := body.(authzUpload); ok {
		body = up.body
		headers["Content-Type"] = up.contentType
	}
	token := ""
	if user != "" {
		token = apitest.Token(user)
	}
	return sub.Request(c.method, c.path, token, body, headers)
}

// TestAuthorizationMatrix runs every route for every role, inside and
// outside its scope, and anonymously. Allowed calls must succeed (2xx, or
// a status the rule names as a state refusal after authorization); refused
// ones must get exactly the status the rule says, and nothing else.
//
// It runs on both databases: on SQLite in well under the minute the brief
// allows (about 1,200 requests with the fixtures they need).
func TestAuthorizationMatrix(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		start := time.Now()
		x := setupAuthzFixture(t, env)
		rules := authzRules()
		routes := env.API.Routes()
		for _, route := range routes {
			if _, ok := rules[route]; !ok {
				t.Errorf("route %s has no authorization rule: add one to authzRules", route)
			}
		}
		for route := range rules {
			if !slices.Contains(routes, route) {
				t.Errorf("authzRules has a rule for %s, which is not a route", route)
			}
		}
		checkPayloadRoutes(t, routes)
		cells := 0
		for _, route := range routes {
			rule, ok := rules[route]
			if !ok {
				continue
			}
			t.Run(route, func(t *testing.T) {
				x.t = t
				defer func() { x.t = nil }()
				// Anonymous callers are refused everywhere.
				if r := x.send(t, "", rule.call(x, roleAdmin, false)); r.Status != http.StatusUnauthorized && !rule.public {
					t.Errorf("anonymous: %d, want 401: %.200s", r.Status, r.Body)
				}
				cells++
				variants := []bool{false}
				if rule.scoped {
					variants = append(variants, true)
				}
				for _, role := range authzRoles {
					for _, out := range variants {
						cells++
						where := "in scope"
						if out {
							where = "out of scope"
						}
						c := rule.call(x, role, out)
						r := x.send(t, role, c)
						want := rule.want(role, out)
						switch {
						case r.Status >= 500:
							t.Errorf("%s %s: %s %s: server error %d: %.300s", role, where, c.method, c.path, r.Status, r.Body)
						case want == 0 && !(r.Status < 300 || slices.Contains(rule.maybe, r.Status)):
							t.Errorf("%s %s: %s %s: %d, want it allowed: %.300s", role, where, c.method, c.path, r.Status, r.Body)
						case want != 0 && r.Status != want:
							t.Errorf("%s %s: %s %s: %d, want %d: %.300s", role, where, c.method, c.path, r.Status, want, r.Body)
						}
						x.checkPayload(t, route, role, where, c, r)
					}
				}
			})
		}
		x.t = t
		x.checkScopeProbes(t)
		for _, path := range []string{"/api/v1/nope", "/api/v1/versions/1/nope", "/api/v1/"} {
			cells++
			if r := x.send(t, "", authzCall{method: "GET", path: path}); r.Status != http.StatusNotFound {
				t.Errorf("anonymous GET %s: %d, want 404", path, r.Status)
			}
		}
		t.Logf("%d routes, %d matrix cells in %s", len(routes), cells, time.Since(start).Round(time.Millisecond))
	})
}
