package apitest

import (
	"strings"
	"testing"
)

// Scenario is one API call and what must come back, after PocketBase's
// ApiScenario. Tables of scenarios describe each role's allowed and
// forbidden calls.
type Scenario struct {
	Name   string
	Method string
	URL    string // path and query, e.g. /api/v1/org-units?kind=branch
	// As is the demo user to call as (their well-known token); Token, when
	// set, is sent instead. Neither: an anonymous call.
	As    string
	Token string
	// Body is sent as Env.Do sends it (raw for strings and []byte).
	Body    any
	Headers map[string]string

	ExpectedStatus int
	// ExpectedContent must all occur in the response body.
	ExpectedContent []string
	// NotExpectedContent must not occur in the response body.
	NotExpectedContent []string
	// ExpectedHeaders must be present with exactly these values.
	ExpectedHeaders map[string]string
	// After, when set, runs after the checks, e.g. to read back and prove a
	// failed write changed nothing.
	After func(t *testing.T, env *Env, res *Response)
}

// Run performs the scenario against env as a sub-test of t.
func (s Scenario) Run(t *testing.T, env *Env) {
	t.Helper()
	t.Run(s.Name, func(t *testing.T) {
		t.Helper()
		token := s.Token
		if token == "" && s.As != "" {
			token = Token(s.As)
		}
		// Requests go through a sub-environment bound to this sub-test, so
		// helper failures are reported on it.
		sub := *env
		sub.T = t
		res := sub.Request(s.Method, s.URL, token, s.Body, s.Headers)
		if res.Status != s.ExpectedStatus {
			t.Errorf("%s %s as %q: status %d, want %d; body: %s", s.Method, s.URL, s.As, res.Status, s.ExpectedStatus, res.Body)
		}
		body := string(res.Body)
		for _, want := range s.ExpectedContent {
			if !strings.Contains(body, want) {
				t.Errorf("%s %s: body lacks %q: %s", s.Method, s.URL, want, body)
			}
		}
		for _, bad := range s.NotExpectedContent {
			if strings.Contains(body, bad) {
				t.Errorf("%s %s: body has %q: %s", s.Method, s.URL, bad, body)
			}
		}
		for k, v := range s.ExpectedHeaders {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s %s: header %s = %q, want %q", s.Method, s.URL, k, got, v)
			}
		}
		if s.After != nil {
			s.After(t, &sub, res)
		}
	})
}

// Run performs the scenarios in order against env.
func Run(t *testing.T, env *Env, scenarios []Scenario) {
	t.Helper()
	for _, s := range scenarios {
		s.Run(t, env)
	}
}
