package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// loadServed fetches /openapi.json from env with extra request headers and
// parses it.
func loadServed(t *testing.T, env *apitest.Env, headers map[string]string) *openapi3.T {
	t.Helper()
	r := env.Request("GET", "/openapi.json", "", nil, headers)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %v", r.Status, r.Header)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return doc
}

// TestOpenAPI checks the served OpenAPI 3 document: it is valid, covers every
// API route, declares the bearer scheme on each operation, shows decimals as
// strings, names an absolute server URL, and is what Swagger UI shows.
func TestOpenAPI(t *testing.T) {
	env := apitest.New(t)
	doc := loadServed(t, env, nil)
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("invalid OpenAPI 3 document: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != env.URL+"/api/v1" {
		t.Errorf("servers %+v, want %s/api/v1", doc.Servers, env.URL)
	}
	ops := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = true
			public := method+" "+path == "POST /sessions" || method+" "+path == "POST /passwords"
			if public != (op.Security == nil || len(*op.Security) == 0) {
				t.Errorf("%s %s: security requirement %v: only signing in and setting a password with a link are public", method, path, op.Security)
			}
			if op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s: no summary or tags", method, path)
			}
		}
	}
	routes := env.API.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes: %v", len(routes), routes)
	}
	for _, want := range routes {
		if !ops[want] {
			t.Errorf("operation %s is not documented", want)
		}
		delete(ops, want)
	}
	if len(ops) > 0 {
		t.Errorf("undocumented extra operations %v", ops)
	}
	if _, ok := doc.Components.SecuritySchemes["BearerAuth"]; !ok {
		t.Errorf("no BearerAuth scheme")
	}
	for _, name := range []string{"SeasonalityProfile", "SeasonalityProfileCreate", "SeasonalityProfilePatch"} {
		s := doc.Components.Schemas[name]
		if s == nil || s.Value.Properties["weights"] == nil || !s.Value.Properties["weights"].Value.Items.Value.Type.Is("string") {
			t.Errorf("%s: weights are not strings", name)
		}
	}

	// The server URL follows the scheme and host the document is asked
	// for, behind a TLS-terminating proxy too.
	doc = loadServed(t, env, map[string]string{"X-Forwarded-Proto": "https", "Host": "plan.example.com"})
	if doc.Servers[0].URL != "https://plan.example.com/api/v1" {
		t.Errorf("behind a proxy: servers %+v", doc.Servers[0])
	}
	// A configured base URL wins.
	env2 := apitest.NewWith(t, apitest.Options{Config: api.Config{BaseURL: "https://cascade.example.com/planning/"}})
	if u := loadServed(t, env2, nil).Servers[0].URL; u != "https://cascade.example.com/planning/api/v1" {
		t.Errorf("with BaseURL: server %s", u)
	}

	apitest.Run(t, env, []apitest.Scenario{
		{Name: "swagger UI shows the OpenAPI 3 document", Method: "GET", URL: "/swagger/index.html", ExpectedStatus: 200,
			ExpectedContent: []string{"swagger-ui", `openapi.json`}, NotExpectedContent: []string{"doc.json"},
			ExpectedHeaders: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
	})
}

// TestOpenAPIContract checks, on the document a client generates its code
// from, the rules that make a generated client right: the recommended rules
// of OpenAPI linters (operationId present, unique and readable; a 2xx and a
// 4xx per operation; license; servers; declared tags; no unused components;
// valid examples) and this API's own (problem+json errors with their own
// status in the example, required and nullable properties from the Go
// types, the headers of idempotency, creation, revisions and rate limits).
func TestOpenAPIContract(t *testing.T) {
	doc, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("invalid document: %v", err)
	}
	if l := doc.Info.License; l == nil || l.Name == "" || l.URL == "" {
		t.Errorf("info.license %+v: want a name and a URL", l)
	}
	// Linters (Redocly's nullable-type-sibling) and generators want a
	// type beside every nullable, wrapped references included.
	raw, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var typed func(x any, at string)
	typed = func(x any, at string) {
		switch x := x.(type) {
		case map[string]any:
			if x["nullable"] == true && x["type"] == nil {
				t.Errorf("%s: nullable without a type", at)
			}
			for k, v := range x {
				typed(v, at+"/"+k)
			}
		case []any:
			for i, v := range x {
				typed(v, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	typed(tree, "#")
	if len(doc.Servers) == 0 {
		t.Errorf("no servers")
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		if tag.Description == "" {
			t.Errorf("tag %s has no description", tag.Name)
		}
		tags[tag.Name] = true
	}
	opID := regexp.MustCompile(`^[a-z][a-zA-Z]+$`)
	ids := map[string]string{}
	usedTags := map[string]bool{}
	used := map[string]bool{}
	var markUsed func(s *openapi3.SchemaRef)
	markUsed = func(s *openapi3.SchemaRef) {
		if s == nil {
			return
		}
		if s.Ref != "" {
			name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
			if used[name] {
				return
			}
			used[name] = true
		}
		if v := s.Value; v != nil {
			for _, p := range v.Properties {
				markUsed(p)
			}
			markUsed(v.Items)
			for _, e := range v.AllOf {
				markUsed(e)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case !opID.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q is not a readable camelCase name: give the handler an @ID annotation", where, op.OperationID)
			case ids[op.OperationID] != "":
				t.Errorf("%s: operationId %s is also %s's", where, op.OperationID, ids[op.OperationID])
			}
			ids[op.OperationID] = where
			for _, tag := range op.Tags {
				usedTags[tag] = true
				if !tags[tag] {
					t.Errorf("%s: tag %s is not declared", where, tag)
				}
			}
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Value.Content {
					markUsed(mt.Schema)
				}
			}
			var has2xx, has4xx bool
			for code, r := range op.Responses.Map() {
				status, _ := strconv.Atoi(code)
				has2xx = has2xx || status/100 == 2
				has4xx = has4xx || status/100 == 4
				for _, mt := range r.Value.Content {
					markUsed(mt.Schema)
				}
				if status >= 400 {
					mt := r.Value.Content.Get("application/problem+json")
					if len(r.Value.Content) != 1 || mt == nil {
						t.Errorf("%s %d: error content %v, want application/problem+json only", where, status, keys(r.Value.Content))
						continue
					}
					ex, _ := mt.Example.(map[string]any)
					if ex == nil || ex["status"] != status {
						t.Errorf("%s %d: example %v is not a problem with status %d", where, status, mt.Example, status)
					}
					if err := mt.Schema.Value.VisitJSON(jsonValue(t, mt.Example)); err != nil {
						t.Errorf("%s %d: example does not match the schema: %v", where, status, err)
					}
				}
				if (status == 429 || status == 503) && r.Value.Headers["Retry-After"] == nil {
					t.Errorf("%s %d: Retry-After undocumented", where, status)
				}
				if status == 201 && (r.Value.Headers["Location"] == nil || !r.Value.Headers["Location"].Value.Required) {
					t.Errorf("%s 201: Location undocumented", where)
				}
				if method == "POST" && status/100 == 2 && r.Value.Headers[api.HeaderReplayed] == nil {
					t.Errorf("%s %d: %s undocumented", where, status, api.HeaderReplayed)
				}
			}
			if !has2xx || !has4xx {
				t.Errorf("%s: needs a 2xx and a 4xx response", where)
			}
			for _, status := range []int{400, 401, 429, 500, 503} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s: %d undocumented", where, status)
				}
			}
			if method == "POST" && op.Parameters.GetByInAndName("header", api.HeaderIdempotencyKey) == nil {
				t.Errorf("%s: no Idempotency-Key parameter", where)
			}
		}
	}
	for tag := range tags {
		if !usedTags[tag] {
			t.Errorf("tag %s is declared but no operation has it", tag)
		}
	}
	for name := range doc.Components.Schemas {
		if strings.Contains(name, ".") {
			t.Errorf("schema %s: name with a package prefix", name)
		}
		if !used[name] {
			t.Errorf("schema %s is used by no operation", name)
		}
	}

	// Required and nullable follow the Go types: a pointer without
	// omitempty is required and may be null; omitempty is optional; a
	// request-only schema requires nothing.
	round := doc.Components.Schemas["Round"].Value
	for _, f := range []string{"id", "code", "working_version_id", "record_version_id", "months", "created_by"} {
		if !contains(round.Required, f) {
			t.Errorf("Round.%s is not required (required: %v)", f, round.Required)
		}
	}
	for _, f := range []string{"working_version_id", "record_version_id", "created_by"} {
		if !round.Properties[f].Value.Nullable {
			t.Errorf("Round.%s is not nullable", f)
		}
	}
	if round.Properties["code"].Value.Nullable {
		t.Errorf("Round.code is nullable")
	}
	if p := doc.Components.Schemas["Problem"].Value; contains(p.Required, "detail") || !contains(p.Required, "errors") {
		t.Errorf("Problem required %v: want errors, not detail", p.Required)
	}
	if r := doc.Components.Schemas["RoundPatch"].Value.Required; len(r) > 0 {
		t.Errorf("RoundPatch requires %v", r)
	}
	// Problems with extension members keep their schema.
	imp := doc.Paths.Find("/versions/{id}/imports").Post.Responses.Status(422).Value.Content.Get("application/problem+json")
	if imp == nil || !strings.HasSuffix(imp.Schema.Ref, "/TargetImportRefused") {
		t.Errorf("workbook import 422: %+v", imp)
	}
	// Every scenario test's responses are checked against this document
	// (apitest.CheckContract); the document must know enough operations
	// for that to mean something.
	if len(ids) < 60 {
		t.Errorf("only %d operations", len(ids))
	}
}

// TestContractCheckCatchesDrift shows that the check every API test runs
// fails on responses that drift from the document: a missing required
// property, null where null is not allowed, a wrong type, an undocumented
// status, an error with the wrong media type, an undocumented header.
func TestContractCheckCatchesDrift(t *testing.T) {
	env := apitest.New(t)
	path := fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID("B-SH"))
	real := env.Request("GET", path, apitest.Token("admin"), nil, nil)
	if err := apitest.CheckContract("GET", path, real); err != nil || real.Status != 200 {
		t.Fatalf("the real response fails: %d %v", real.Status, err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(real.Body, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	problem := []byte(`{"type":"urn:cascade:problem:not_found","title":"Not Found","status":404,"code":"not_found","errors":[]}`)
	good := []struct {
		name string
		res  apitest.Response
	}{
		{"null where nullable", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { m["parent_id"] = nil })}},
		{"a documented problem", apitest.Response{Status: 404, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: problem}},
	}
	for _, c := range good {
		if err := apitest.CheckContract("GET", path, &c.res); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	bad := []struct {
		name string
		res  apitest.Response
	}{
		{"missing required property", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { delete(m, "kind") })}},
		{"null where not nullable", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { m["code"] = nil })}},
		{"wrong type", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { m["depth"] = "3" })}},
		{"a time that is not RFC 3339", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { m["created_at"] = "yesterday" })}},
		{"value outside the enum", apitest.Response{Status: 200, Header: jsonHeader, Body: mutate(func(m map[string]any) { m["kind"] = "planet" })}},
		{"undocumented status", apitest.Response{Status: 418, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: problem}},
		{"error as application/json", apitest.Response{Status: 404, Header: jsonHeader, Body: problem}},
		{"problem without errors", apitest.Response{Status: 404, Header: http.Header{"Content-Type": {"application/problem+json"}},
			Body: []byte(`{"type":"about:blank","title":"Not Found","status":404}`)}},
		{"undocumented header", apitest.Response{Status: 404, Header: http.Header{"Content-Type": {"application/problem+json"}, "Location": {"/x"}}, Body: problem}},
	}
	for _, c := range bad {
		if err := apitest.CheckContract("GET", path, &c.res); err == nil {
			t.Errorf("%s: the check passed", c.name)
		}
	}
}

// TestAcceptedRequestCheck shows that the check of accepted requests fails
// on a request the document refuses, and passes one it allows.
func TestAcceptedRequestCheck(t *testing.T) {
	newReq := func(method, path, body string) *http.Request {
		r, err := http.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	ok := `{"code":"B-X","name":"X","kind":"branch","parent_id":2}`
	if err := apitest.CheckAcceptedRequest(newReq("POST", "/api/v1/org-units", ok), []byte(ok)); err != nil {
		t.Errorf("a valid create: %v", err)
	}
	for name, c := range map[string]struct{ method, path, body string }{
		"missing required":  {"POST", "/api/v1/org-units", `{"name":"X","kind":"branch"}`},
		"wrong type":        {"POST", "/api/v1/org-units", `{"code":"B-X","name":"X","kind":"branch","parent_id":"2"}`},
		"undocumented enum": {"GET", "/api/v1/rounds?status=finished", ""},
		"bad path param":    {"GET", "/api/v1/rounds/x", ""},
	} {
		if err := apitest.CheckAcceptedRequest(newReq(c.method, c.path, c.body), []byte(c.body)); err == nil {
			t.Errorf("%s: the check passed", name)
		}
	}
}

// checkRequired checks the required properties of schema, the object a
// request body holds at prefix (build puts an object there in an otherwise
// valid body): an object without any property is refused for required ones
// only; validation may come in stages, so one with the required properties
// alone (their examples) must not be refused for a property it leaves out;
// and each required property, left out, gets a 422 naming it. Objects in
// the schema's array and object properties are checked the same way.
func checkRequired(t *testing.T, op string, schema *openapi3.Schema, prefix string, build func(map[string]any) any,
	call func(any) *apitest.Response, conditional map[string]bool) {
	t.Helper()
	named := func(r *apitest.Response) map[string]bool {
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		r.Decode(t, &p)
		out := map[string]bool{}
		for _, e := range p.Errors {
			if rest, ok := strings.CutPrefix(e.Field, prefix); ok && rest != "" {
				out[strings.FieldsFunc(rest, func(r rune) bool { return r == '.' || r == '[' })[0]] = true
			}
		}
		return out
	}
	where := op + " " + prefix
	if r := call(build(map[string]any{})); r.Status == 422 {
		for f := range named(r) {
			if !contains(schema.Required, f) && !conditional[op+" "+prefix+f] {
				t.Errorf("%s: a body without %s is refused, but the schema does not require it: tag the field validate:\"required\"", where, prefix+f)
			}
		}
	}
	full := map[string]any{}
	for _, f := range schema.Required {
		full[f] = exampleOf(schema.Properties[f].Value)
	}
	if r := call(build(full)); r.Status == 422 {
		for f := range named(r) {
			if full[f] == nil && !contains(schema.Required, f) && !conditional[op+" "+prefix+f] {
				t.Errorf("%s: a body without %s is refused (%s), but the schema does not require it", where, prefix+f, r.Body)
			}
		}
	}
	for _, f := range schema.Required {
		without := map[string]any{}
		for k, v := range full {
			if k != f {
				without[k] = v
			}
		}
		if r := call(build(without)); r.Status < 400 || r.Status == 422 && !named(r)[f] {
			t.Errorf("%s: the schema requires %s, but a body without it is not refused for it: %d %s", where, prefix+f, r.Status, r.Body)
		}
	}
	for name, prop := range schema.Properties {
		v := prop.Value
		for len(v.AllOf) == 1 {
			v = v.AllOf[0].Value
		}
		with := func(o map[string]any, inner any) any {
			m := map[string]any{}
			for k, x := range full {
				m[k] = x
			}
			m[name] = inner
			return build(m)
		}
		switch {
		case v.Type.Is("array") && v.Items != nil && v.Items.Value.Type.Is("object"):
			checkRequired(t, op, v.Items.Value, prefix+name+"[0].", func(o map[string]any) any { return with(o, []any{o}) }, call, conditional)
		case v.Type.Is("object") && len(v.Properties) > 0:
			checkRequired(t, op, v, prefix+name+".", func(o map[string]any) any { return with(o, o) }, call, conditional)
		}
	}
}

// exampleOf is a value for a property: its example, or for an array of
// objects one object of its items' required examples.
func exampleOf(s *openapi3.Schema) any {
	for len(s.AllOf) == 1 {
		s = s.AllOf[0].Value
	}
	if s.Example != nil {
		return s.Example
	}
	switch {
	case s.Type.Is("array") && s.Items != nil:
		if it := s.Items.Value; it.Type.Is("object") {
			return []any{exampleOf(it)}
		}
		return []any{}
	case s.Type.Is("object"):
		o := map[string]any{}
		for _, f := range s.Required {
			o[f] = exampleOf(s.Properties[f].Value)
		}
		return o
	}
	return nil
}

func keys(c openapi3.Content) []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// jsonValue round-trips v through JSON so numbers are float64, as schema
// validation expects.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRequestRequiredFields checks that a request schema requires exactly
// what the server requires, at the top level and in the objects of its
// arrays and properties: see checkRequired. Every POST and PUT that takes a
// JSON body is checked unless an empty body gets something else than 422
// (its path names nothing that exists, say): those are skipped, visibly.
func TestRequestRequiredFields(t *testing.T) {
	env := apitest.New(t)
	doc, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	fx := setupHostileFixture(t, env)
	version := strconv.FormatInt(fx.version, 10)
	// Where ids of the demo data and the fixture make an operation reach
	// validation, and who may call it; others are called by an admin on id 1.
	ids := map[string]string{"/users/{id}/roles": strconv.FormatInt(env.UserID("bm-sh"), 10),
		"/versions/{id}/allocations": version, "/versions/{id}/counterproposals": version, "/versions/{id}/targets": version}
	callers := map[string]string{"/versions/{id}/allocations": "pm-industry", "/versions/{id}/counterproposals": "bm-sh", "/versions/{id}/targets": "pm-industry"}
	anyRevision := map[string]string{"If-Match": "*"}
	// Required only together with some values of other fields, which a
	// schema cannot say; their descriptions do.
	conditional := map[string]bool{"POST /users/{id}/roles org_unit_id": true,
		"POST /counterproposals/{id}/decision decisions[0].amount": true, "POST /counterproposals/{id}/decision/preview decisions[0].amount": true}
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil || method == "PATCH" {
				continue
			}
			schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			concrete := path
			if id := ids[path]; id != "" {
				concrete = strings.Replace(path, "{id}", id, 1)
			}
			concrete = strings.NewReplacer("{id}", "1", "{org_unit}", "B-SH").Replace(concrete)
			caller := callers[path]
			if caller == "" {
				caller = "admin"
			}
			call := func(body any) *apitest.Response {
				return env.Request(method, "/api/v1"+concrete, apitest.Token(caller), body, anyRevision)
			}
			if r := call("{}"); r.Status != 422 {
				t.Logf("%s %s: %d, not checked", method, path, r.Status)
				continue
			}
			checked++
			checkRequired(t, method+" "+path, schema, "", func(o map[string]any) any { return o }, call, conditional)
		}
	}
	if checked < 7 {
		t.Errorf("only %d operations checked", checked)
	}
}
