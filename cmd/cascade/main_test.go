package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
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
		{"version", []string{"version"}, 0, "\nrevision "},
		{"unknown command", []string{"frobnicate"}, 2, ""},
		{"serve with a relative base URL", []string{"serve", "--db", dsn, "--base-url", "/api"}, 1, ""},
		{"openapi", []string{"openapi", "--base-url", "https://plan.example.com/"}, 0, `"url": "https://plan.example.com/api/v1"`},
		{"openapi names the license", []string{"openapi"}, 0, `"name": "Apache-2.0"`},
		{"openapi with a bad base URL", []string{"openapi", "--base-url", "ftp://x"}, 1, ""},
		{"migrate status before", []string{"migrate", "status", "--db", dsn}, 0, "pending"},
		{"migrate up", []string{"migrate", "up", "--db", dsn}, 0, "applied 20261127000001_master_data\n"},
		{"migrate up again", []string{"migrate", "up", "--db", dsn}, 0, "nothing to apply"},
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
		{"migrate down without --yes", []string{"migrate", "down", "--db", dsn}, 2, ""},
		{"migrate down", []string{"migrate", "down", "--yes", "--db", dsn}, 0, "rolled back"},
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

// TestHelp checks that every command and subcommand answers -h (and
// --help, and help in place of a subcommand) with its usage and exit 0,
// without touching a database.
func TestHelp(t *testing.T) {
	t.Setenv("CASCADE_DB", t.TempDir()+"/must-not-exist/x.db")
	cmds := [][]string{
		{}, {"serve"}, {"migrate"}, {"migrate", "up"}, {"migrate", "down"}, {"migrate", "status"}, {"demo"},
		{"user"}, {"user", "create"}, {"token"}, {"token", "create"}, {"actuals"}, {"actuals", "import"},
		{"openapi"}, {"version"},
	}
	for _, cmd := range cmds {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errOut bytes.Buffer
				code := run(context.Background(), args, &out, &errOut)
				text := out.String() + errOut.String()
				if code != 0 || !strings.Contains(strings.ToLower(text), "usage") {
					t.Fatalf("exit %d, want 0 and a usage; stdout %q, stderr %q", code, out.String(), errOut.String())
				}
			})
		}
	}
	for _, group := range []string{"migrate", "user", "token", "actuals"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{group, "help"}, &out, &errOut); code != 0 || !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("%s help: exit %d, stdout %q", group, code, out.String())
		}
		if code := run(context.Background(), []string{group}, &out, &errOut); code != 2 {
			t.Errorf("%s without a subcommand: exit %d, want 2", group, code)
		}
	}
}

// TestEnvSettings checks that the environment configures flags as the flags
// themselves would: booleans parse with strconv.ParseBool, enums refuse
// unknown values, every bad value names its variable, and a flag on the
// command line wins over its variable.
func TestEnvSettings(t *testing.T) {
	dsn := storetest.DSN(t, "sqlite")
	cases := []struct {
		env, value string
		args       []string
		wantCode   int
		wantOut    string // in stdout, or the error in stderr
	}{
		{"CASCADE_DEMO", "maybe", []string{"serve"}, 2, "CASCADE_DEMO"},
		{"CASCADE_TRUST_PROXY_HEADERS", "yes", []string{"serve"}, 2, "CASCADE_TRUST_PROXY_HEADERS"},
		{"CASCADE_MIGRATE", "nope", []string{"serve"}, 2, "CASCADE_MIGRATE"},
		{"CASCADE_LOG_FORMAT", "xml", []string{"serve"}, 2, "CASCADE_LOG_FORMAT"},
		{"CASCADE_LOG_LEVEL", "verbose", []string{"serve"}, 2, "CASCADE_LOG_LEVEL"},
		{"CASCADE_BODY_LIMIT", "10MB", []string{"serve"}, 2, "CASCADE_BODY_LIMIT"},
		{"CASCADE_SHUTDOWN_TIMEOUT", "soon", []string{"serve"}, 2, "CASCADE_SHUTDOWN_TIMEOUT"},
		{"CASCADE_AUTH_FAILURE_RATE", "many", []string{"serve"}, 2, "CASCADE_AUTH_FAILURE_RATE"},
		{"CASCADE_REQUEST_TIMEOUT", "soon", []string{"serve"}, 2, "CASCADE_REQUEST_TIMEOUT"},
		{"CASCADE_JOB_MAX_CELLS", "many", []string{"serve"}, 2, "CASCADE_JOB_MAX_CELLS"},
		{"CASCADE_JOB_MAX_CELLS", "0", []string{"serve"}, 2, "-job-max-cells must be at least 1"},
		{"CASCADE_JOB_LEASE", "10ms", []string{"serve"}, 2, "-job-lease at least 1s"},
		// A good value is taken; the command line wins over the variable.
		{"CASCADE_BASE_URL", "https://env.example.com", []string{"openapi"}, 0, `"url": "https://env.example.com/api/v1"`},
		{"CASCADE_BASE_URL", "https://env.example.com", []string{"openapi", "--base-url", "https://flag.example.com"}, 0, `"url": "https://flag.example.com/api/v1"`},
		{"CASCADE_DB", dsn, []string{"migrate", "status"}, 0, "pending"},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			var out, errOut bytes.Buffer
			code := run(context.Background(), append(tc.args, "--db", dsn), &out, &errOut)
			if tc.args[0] == "openapi" || tc.env == "CASCADE_DB" {
				code = run(context.Background(), tc.args, &out, &errOut)
			}
			got := out.String()
			if tc.wantCode != 0 {
				got = errOut.String()
			}
			if code != tc.wantCode || !strings.Contains(got, tc.wantOut) {
				t.Fatalf("exit %d (want %d); want %q in %q (stderr %q)", code, tc.wantCode, tc.wantOut, got, errOut.String())
			}
		})
	}
}

// TestEnvDemoBoolean checks that CASCADE_DEMO=1, which strconv.ParseBool
// accepts, turns the demo data on.
func TestEnvDemoBoolean(t *testing.T) {
	t.Setenv("CASCADE_DEMO", "1")
	t.Setenv("CASCADE_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	dsn := storetest.DSN(t, "sqlite")
	go func() {
		done <- run(ctx, []string{"serve", "--db", dsn, "--log-level", "warn"}, &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "demo users") && time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(out.String(), demo.TokenFor("admin")) {
		t.Fatalf("exit %d; CASCADE_DEMO=1 did not load the demo data: %q %q", code, out.String(), errOut.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestMigrateDown checks that migrate down refuses without --yes and
// changes nothing, and with it rolls back exactly the latest migration.
func TestMigrateDown(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			ctx := context.Background()
			cli := func(args ...string) (int, string, string) {
				var out, errOut bytes.Buffer
				code := run(ctx, append(args, "--db", dsn), &out, &errOut)
				return code, out.String(), errOut.String()
			}
			if code, out, _ := cli("migrate", "down"); code != 0 || !strings.Contains(out, "nothing to roll back") {
				t.Fatalf("down on an empty database: exit %d, %q", code, out)
			}
			code, out, errOut := cli("migrate", "up")
			if code != 0 {
				t.Fatalf("up: %d %s", code, errOut)
			}
			var applied []string
			for _, line := range strings.Split(out, "\n") {
				if name, ok := strings.CutPrefix(line, "applied "); ok && !strings.Contains(name, "migration(s)") {
					applied = append(applied, name)
				}
			}
			if len(applied) < 2 {
				t.Fatalf("up listed %v: %q", applied, out)
			}
			db, err := sqlstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			before := storetest.TakeSnapshot(t, db)
			latest := applied[len(applied)-1]
			code, _, errOut = cli("migrate", "down")
			if code != 2 || !strings.Contains(errOut, latest) || !strings.Contains(errOut, "--yes") {
				t.Fatalf("down without --yes: exit %d, stderr %q; want 2 naming %s and --yes", code, errOut, latest)
			}
			if diff := before.Diff(storetest.TakeSnapshot(t, db)); diff != nil {
				t.Fatalf("down without --yes changed the database: %v", diff)
			}
			for i := len(applied) - 1; i >= len(applied)-2; i-- {
				code, out, errOut = cli("migrate", "down", "--yes")
				if code != 0 || strings.TrimSpace(out) != "rolled back "+applied[i] {
					t.Fatalf("down --yes: exit %d, %q %q; want rolled back %s", code, out, errOut, applied[i])
				}
				_, out, _ = cli("migrate", "status")
				pending := strings.Count(out, "pending")
				if pending != len(applied)-i {
					t.Fatalf("after rolling back %s, %d migrations are pending, want %d:\n%s", applied[i], pending, len(applied)-i, out)
				}
			}
			if code, out, _ = cli("migrate", "up"); code != 0 || strings.Count(out, "applied 20") != 2 {
				t.Fatalf("up after two downs: exit %d, %q; want the two applied again", code, out)
			}
		})
	}
}

// TestUnreachableDatabase checks that a database that does not answer is
// reported with the driver's cause, not only as unavailable.
func TestUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate", "status", "--db", "postgres://u:secret@" + addr + "/x?sslmode=disable"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "connection refused") || strings.Contains(errOut.String(), "secret") {
		t.Fatalf("exit %d, stderr %q: want 1, the refused connection named, and no password", code, errOut.String())
	}
}

// TestVersionRevision builds the binary with VCS stamping and checks that
// `cascade version` prints the commit it was built from.
func TestVersionRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "cascade")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "revision unknown") {
		// The go command finds a repository by a .git directory; a linked
		// worktree has a .git file, and its builds carry no revision.
		if fi, err := os.Stat(filepath.Join(strings.TrimSpace(gitTop(t)), ".git")); err == nil && !fi.IsDir() {
			t.Skipf("a git worktree: the go command stamps no revision here:\n%s", out)
		}
	}
	want := "\nrevision " + strings.TrimSpace(string(head))
	if !strings.Contains(string(out), want) {
		t.Fatalf("version printed\n%s\nwant a line starting %q", out, want[1:])
	}
}

func gitTop(t *testing.T) string {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestRequestTimeoutSetting checks that CASCADE_REQUEST_TIMEOUT (and so
// --request-timeout) bounds the requests of the running server: with a
// bound too short for any database call, an authenticated request is a
// 503 that says the database did not answer in time.
func TestRequestTimeoutSetting(t *testing.T) {
	dsn := storetest.DSN(t, "sqlite")
	t.Setenv("CASCADE_REQUEST_TIMEOUT", "1ns")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--demo", "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	url := ""
	buf := make([]byte, 64<<10)
	for n := 0; url == ""; {
		k, err := pr.Read(buf[n:])
		if err != nil {
			t.Fatalf("serve ended before listening: %v", err)
		}
		n += k
		if _, after, ok := strings.Cut(string(buf[:n]), " listening on "); ok {
			if line, _, ok := strings.Cut(after, "\n"); ok {
				url = strings.TrimSpace(line)
			}
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	code, body := get(t, url+"/api/v1/org-units", demo.TokenFor("strategy"))
	if code != http.StatusServiceUnavailable || !strings.Contains(toJSON(body), "did not answer in time") {
		t.Fatalf("with a 1ns request timeout: %d %v", code, body)
	}
	if code, _ := get(t, url+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
}
