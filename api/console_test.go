package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/web"
)

// TestConsoleServing checks how the console is served: index.html for the
// console's own routes with a strict CSP and no caching, hashed assets
// cached for good, and the API's unknown paths still answered by the API.
func TestConsoleServing(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{Console: web.Assets()}})
	index := env.Request("GET", "/", "", nil, nil)
	if index.Status != 200 || !strings.Contains(string(index.Body), `<div id="app">`) {
		t.Fatalf("GET /: %d %s", index.Status, index.Body)
	}
	csp := index.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q", csp)
	}
	if index.Header.Get("Cache-Control") != "no-cache" || index.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("index headers %v", index.Header)
	}
	// No inline script or style in the page: the CSP would refuse them.
	body := string(index.Body)
	if strings.Contains(body, "<style") || strings.Contains(body, "style=") || strings.Count(body, "<script") != strings.Count(body, "<script type=\"module\" src=") {
		t.Errorf("index.html has inline script or style: %s", body)
	}
	var asset string
	for _, f := range strings.Split(body, "\"") {
		if strings.HasPrefix(f, "/assets/") && strings.HasSuffix(f, ".js") {
			asset = f
		}
	}
	a := env.Request("GET", asset, "", nil, nil)
	if a.Status != 200 || !strings.Contains(a.Header.Get("Cache-Control"), "immutable") || !strings.Contains(a.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET %s: %d %v", asset, a.Status, a.Header)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		html         bool
	}{
		{"GET", "/versions/7/grid?unit=B-SH", 200, true},
		{"GET", "/counterproposals/3", 200, true},
		{"GET", "/sign-in", 200, true},
		{"GET", "/assets/nope.js", 404, false},
		{"GET", "/favicon.ico", 404, false},
		{"GET", "/api/v1/nope", 404, false},
		{"POST", "/api/v1/nope", 404, false},
		{"POST", "/versions/7/grid", 404, false},
		{"GET", "/healthz", 200, false},
	} {
		r := env.Request(tc.method, tc.path, "", nil, nil)
		isHTML := strings.HasPrefix(r.Header.Get("Content-Type"), "text/html")
		if r.Status != tc.status || isHTML != tc.html {
			t.Errorf("%s %s: %d %s, want %d html=%v", tc.method, tc.path, r.Status, r.Header.Get("Content-Type"), tc.status, tc.html)
		}
	}
	// Without the console, / stays the API's 404.
	plain := apitest.New(t)
	if r := plain.Request("GET", "/", "", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET / without a console: %d", r.Status)
	}
}
