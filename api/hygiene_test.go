package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestMalformedQueryOnEveryRoute: a query string that does not parse, or
// holds what no parameter may (control characters, bidi overrides, invalid
// UTF-8), is 400 problem+json on every route, authenticated or not, known
// or not, instead of being silently dropped.
func TestMalformedQueryOnEveryRoute(t *testing.T) {
	env := apitest.New(t)
	paths := []string{"/healthz", "/readyz", "/openapi.json", "/metrics", "/api/v1/no-such-thing"}
	methods := []string{"GET", "GET", "GET", "GET", "GET"}
	for _, r := range env.API.Routes() {
		method, path, _ := strings.Cut(r, " ")
		for _, p := range []string{"{id}", "{role_id}"} {
			path = strings.ReplaceAll(path, p, "1")
		}
		path = strings.ReplaceAll(path, "{org_unit}", "B-SH")
		paths, methods = append(paths, "/api/v1"+path), append(methods, method)
	}
	bad := []string{"limit=%ZZ", "limit=10&cursor=%", "%zz=1", "limit=1;cursor=x", "q=%00", "q=%1b%5B2J", "q=%E2%80%AE", "q=%ff", "q=a%0Ab"}
	for i, path := range paths {
		for _, q := range bad {
			r := env.Request(methods[i], path+"?"+q, apitest.Token("admin"), nil, nil)
			if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s %s?%s: %d %s, want 400 problem+json", methods[i], path, q, r.Status, r.Header.Get("Content-Type"))
			}
		}
	}
	// Well-formed queries still work, escapes included.
	for _, q := range []string{"limit=2", "limit=2&", "code=B%2DSH", "code=B-SH&limit=%32"} {
		if r := env.Request("GET", "/api/v1/org-units?"+q, apitest.Token("admin"), nil, nil); r.Status != 200 {
			t.Errorf("GET /api/v1/org-units?%s: %d %s", q, r.Status, r.Body)
		}
	}
	// The refusal names the parameter.
	r := env.Request("GET", "/api/v1/org-units?limit=%ZZ", apitest.Token("admin"), nil, nil)
	if !strings.Contains(string(r.Body), `"field":"limit"`) {
		t.Errorf("refusal does not name the parameter: %s", r.Body)
	}
}

// TestAuthFailureLimit: failed authentications from one client address are
// throttled ahead of authentication (429 with Retry-After, for every
// request from that address until the bucket refills, so guessing costs no
// token look-ups); successful requests cost the address nothing; a forged
// X-Forwarded-For does not escape the limit unless the server is told to
// trust proxy headers.
func TestAuthFailureLimit(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{AuthFailureRate: 0.01, AuthFailureBurst: 5}})
	for i := 0; i < 20; i++ {
		if r := env.Request("GET", "/api/v1/me", apitest.Token("auditor"), nil, nil); r.Status != 200 {
			t.Fatalf("authenticated request %d: %d", i, r.Status)
		}
	}
	unknown := "cas_" + strings.Repeat("x", 40)
	var limited *apitest.Response
	n := 0
	for ; n < 20 && limited == nil; n++ {
		r := env.Request("GET", "/api/v1/me", unknown, nil, nil)
		switch r.Status {
		case 429:
			limited = r
		case 401:
		default:
			t.Fatalf("unknown token: %d", r.Status)
		}
	}
	if limited == nil || n != 6 || limited.Header.Get("Retry-After") == "" || !strings.Contains(string(limited.Body), "rate_limited") {
		t.Fatalf("after %d failures: no 429 with Retry-After: %+v", n, limited)
	}
	// Every request from the address waits now, and headers do not help.
	if r := env.Request("GET", "/api/v1/me", apitest.Token("auditor"), nil, nil); r.Status != 429 {
		t.Fatalf("a valid token from the throttled address: %d, want 429", r.Status)
	}
	if r := env.Request("GET", "/api/v1/me", unknown, nil, map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"}); r.Status != 429 {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", r.Status)
	}
	// Health and docs need no authentication and are not limited.
	if r := env.Request("GET", "/healthz", "", nil, nil); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}

	// Behind a trusted proxy, each forwarded address has its own bucket.
	env = apitest.NewWith(t, apitest.Options{Config: api.Config{AuthFailureRate: 0.01, AuthFailureBurst: 2, TrustProxyHeaders: true}})
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	for i, want := range []int{401, 401, 429} {
		if r := env.Request("GET", "/api/v1/me", unknown, nil, from("203.0.113.7")); r.Status != want {
			t.Fatalf("proxy, request %d: %d, want %d", i, r.Status, want)
		}
	}
	// What the client itself writes at the left of the header is not taken.
	if r := env.Request("GET", "/api/v1/me", unknown, nil, from("198.51.100.1, 203.0.113.7")); r.Status != 429 {
		t.Fatalf("a forged left-most X-Forwarded-For escaped the limit: %d", r.Status)
	}
	if r := env.Request("GET", "/api/v1/me", apitest.Token("auditor"), nil, from("203.0.113.8")); r.Status != 200 {
		t.Fatalf("another forwarded address: %d", r.Status)
	}
}
