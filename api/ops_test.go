package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api/apitest"
)

// TestHealth checks liveness and readiness, including readiness failing with
// a problem when the database goes away.
func TestHealth(t *testing.T) {
	env := apitest.New(t)
	apitest.Run(t, env, []apitest.Scenario{
		{Name: "healthz", Method: "GET", URL: "/healthz", ExpectedStatus: 200, ExpectedContent: []string{`"status":"ok"`, `"version":"test"`}},
		{Name: "readyz", Method: "GET", URL: "/readyz", ExpectedStatus: 200, ExpectedContent: []string{`"status":"ok"`}},
	})
	if err := env.DB.Close(); err != nil {
		t.Fatal(err)
	}
	apitest.Run(t, env, []apitest.Scenario{
		{Name: "readyz without a database", Method: "GET", URL: "/readyz", ExpectedStatus: 503,
			ExpectedHeaders: map[string]string{"Content-Type": "application/problem+json"},
			ExpectedContent: []string{`"type":"urn:cascade:problem:unavailable"`}},
		{Name: "healthz without a database", Method: "GET", URL: "/healthz", ExpectedStatus: 200},
	})
}

// TestObservability checks request ids, the one log line per request and the
// metrics labelled by route template.
func TestObservability(t *testing.T) {
	env := apitest.New(t)
	bsh := env.OrgUnitID("B-SH")
	r := env.Request("GET", fmt.Sprintf("/api/v1/org-units/%d", bsh), apitest.Token("bm-sh"), nil,
		map[string]string{"X-Request-Id": "trace-42.a"})
	if r.Status != 200 || r.Header.Get("X-Request-Id") != "trace-42.a" {
		t.Fatalf("request id not echoed: %d %v", r.Status, r.Header)
	}
	r = env.Request("GET", "/api/v1/me", "", nil, map[string]string{"X-Request-Id": "evil\tid with spaces"})
	rid := r.Header.Get("X-Request-Id")
	if rid == "" || strings.ContainsAny(rid, " \t") {
		t.Errorf("hostile request id kept: %q", rid)
	}
	if !strings.Contains(string(r.Body), `"request_id":"`+rid+`"`) {
		t.Errorf("problem lacks the request id: %s", r.Body)
	}

	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(env.Logs()), "\n") {
		if strings.Contains(l, `"trace-42.a"`) {
			if line != nil {
				t.Errorf("two log lines for one request")
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]any{"msg": "request", "method": "GET", "route": "/api/v1/org-units/:id",
		"path": fmt.Sprintf("/api/v1/org-units/%d", bsh), "status": float64(200), "user_id": float64(env.UserID("bm-sh"))}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if _, ok := line["latency"]; !ok {
		t.Errorf("log line without latency: %v", line)
	}

	env.Request("GET", "/api/v1/no/such/thing/12345", "", nil, nil)
	r = env.Request("GET", "/metrics", "", nil, nil)
	m := string(r.Body)
	for _, want := range []string{
		`cascade_http_requests_total{method="GET",route="/api/v1/org-units/:id",status="200"} 1`,
		`cascade_http_request_duration_seconds_bucket{method="GET",route="/api/v1/org-units/:id",status="200",le="+Inf"} 1`,
		`cascade_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1`,
		`cascade_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`go_sql_open_connections{db_name="cascade"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "12345") || strings.Contains(m, fmt.Sprintf("/org-units/%d", bsh)) {
		t.Errorf("metrics carry raw paths")
	}
}
