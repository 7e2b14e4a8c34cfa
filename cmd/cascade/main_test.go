package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// startMain runs the real service on port 0 with a fresh database of each
// dialect under test and the demo data.
func startMain(t *testing.T, dsn string) (*Main, *bytes.Buffer) {
	t.Helper()
	m := NewMain()
	var out bytes.Buffer
	m.Stdout = &out
	m.Config.DB, m.Config.Addr, m.Config.Demo = dsn, "127.0.0.1:0", true
	m.Logger = newLogger(io.Discard, "text", 0)
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, &out
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestMainEndToEnd(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			m, out := startMain(t, storetest.DSN(t, d))
			banner := out.String()
			for _, want := range []string{m.URL(), "/swagger/index.html", demo.TokenFor("admin"), demo.TokenFor("bm-sh")} {
				if !strings.Contains(banner, want) {
					t.Errorf("banner lacks %q:\n%s", want, banner)
				}
			}
			if code, _ := get(t, m.URL()+"/healthz", ""); code != 200 {
				t.Fatalf("healthz %d", code)
			}
			if code, _ := get(t, m.URL()+"/readyz", ""); code != 200 {
				t.Fatalf("readyz %d", code)
			}
			code, me := get(t, m.URL()+"/api/v1/me", demo.TokenFor("bm-sh"))
			if code != 200 || !strings.Contains(toJSON(me), "bm-sh") {
				t.Fatalf("me: %d %v", code, me)
			}
			code, units := get(t, m.URL()+"/api/v1/org-units", demo.TokenFor("bm-sh"))
			if code != 200 {
				t.Fatalf("org units: %d %v", code, units)
			}
			if items := units["items"].([]any); len(items) != 3 {
				t.Fatalf("bm-sh sees %d units, want its branch and two teams", len(items))
			}
			code, all := get(t, m.URL()+"/api/v1/org-units?limit=1000", demo.TokenFor("strategy"))
			if code != 200 || !strings.Contains(toJSON(all), "华东片区") {
				t.Fatalf("strategy org units: %d", code)
			}
			if code, _ := get(t, m.URL()+"/api/v1/me", ""); code != 401 {
				t.Fatalf("anonymous me: %d", code)
			}
			code, doc := get(t, m.URL()+"/openapi.json", "")
			if code != 200 || !strings.HasPrefix(doc["openapi"].(string), "3.") {
				t.Fatalf("openapi: %d %v", code, doc["openapi"])
			}
			if servers := toJSON(doc["servers"]); !strings.Contains(servers, `"url":"`+m.URL()+`/api/v1"`) {
				t.Errorf("openapi servers %s, want %s/api/v1", servers, m.URL())
			}
		})
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestGracefulShutdown checks that Close lets a request in flight finish.
func TestGracefulShutdown(t *testing.T) {
	m, _ := startMain(t, storetest.DSN(t, "sqlite"))
	// A slow client: send the headers of a request whose body arrives late.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/measures", pr)
	req.Header.Set("Authorization", "Bearer "+demo.TokenFor("strategy"))
	req.Header.Set("Content-Type", "application/json")
	var wg sync.WaitGroup
	var status int
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
			return
		}
		resp.Body.Close()
		status = resp.StatusCode
	}()
	time.Sleep(200 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte(`{"code":"late","name":"Late measure","unit":"count","scale":0}`))
	pw.Close()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	if status != http.StatusCreated {
		t.Fatalf("in-flight request got %d, want 201", status)
	}
}

func TestCommands(t *testing.T) {
	dsn := storetest.DSN(t, "sqlite")
	ctx := context.Background()
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"version", []string{"version"}, 0, "cascade"},
		{"unknown command", []string{"frobnicate"}, 2, ""},
		{"serve with a relative base URL", []string{"serve", "--db", dsn, "--base-url", "/api"}, 1, ""},
		{"openapi", []string{"openapi", "--base-url", "https://plan.example.com/"}, 0, `"url": "https://plan.example.com/api/v1"`},
		{"openapi with a bad base URL", []string{"openapi", "--base-url", "ftp://x"}, 1, ""},
		{"migrate status before", []string{"migrate", "status", "--db", dsn}, 0, "pending"},
		{"migrate up", []string{"migrate", "up", "--db", dsn}, 0, "up to date"},
		{"migrate status after", []string{"migrate", "status", "--db", dsn}, 0, "applied"},
		{"demo", []string{"demo", "--db", dsn}, 0, "demo data loaded"},
		{"demo again", []string{"demo", "--db", dsn}, 0, "already present"},
		{"user create", []string{"user", "create", "--db", dsn, "--username", "ops", "--name", "Operations", "--role", "admin"}, 0, "created user ops"},
		{"user create duplicate", []string{"user", "create", "--db", dsn, "--username", "ops", "--name", "Operations"}, 1, ""},
		{"token create", []string{"token", "create", "--db", dsn, "--user", "ops"}, 0, "cas_"},
		{"token create unknown user", []string{"token", "create", "--db", dsn, "--user", "nobody"}, 1, ""},
		{"token create without user", []string{"token", "create", "--db", dsn}, 2, ""},
		{"user list", []string{"user", "list", "--db", dsn}, 0, "Operations"},
		{"user password", []string{"user", "password", "--db", dsn, "--username", "ops"}, 0, "password of ops set"},
		{"user password too short", []string{"user", "password", "--db", dsn, "--username", "ops"}, 1, ""},
		{"user invite", []string{"user", "invite", "--db", dsn, "--username", "ops", "--base-url", "https://plan.example.com"}, 0, "https://plan.example.com/set-password#token=cas_"},
		{"user password unknown user", []string{"user", "password", "--db", dsn, "--username", "nobody"}, 1, ""},
		{"token list", []string{"token", "list", "--db", dsn, "--user", "ops"}, 0, "cli token"},
		{"token revoke", []string{"token", "revoke", "--db", dsn, "--id", "1"}, 0, "revoked"},
		{"token revoke without id", []string{"token", "revoke", "--db", dsn}, 2, ""},
		{"user deactivate", []string{"user", "deactivate", "--db", dsn, "--username", "ops"}, 0, "inactive"},
		{"user list shows it", []string{"user", "list", "--db", dsn}, 0, "false"},
		{"migrate down", []string{"migrate", "down", "--db", dsn}, 0, "rolled back"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			stdin = strings.NewReader("a long enough password\n")
			if strings.HasSuffix(tc.name, "too short") {
				stdin = strings.NewReader("short\n")
			}
			code := run(ctx, tc.args, &out, &errOut)
			if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, tc.wantCode, out.String(), errOut.String())
			}
		})
	}
}
