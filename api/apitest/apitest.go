// Package apitest runs the real Cascade HTTP API on a real, throw-away
// database for tests: a temporary SQLite file, or a fresh PostgreSQL database
// when CASCADE_TEST_PG_DSN is set. It loads the demo data, whose users have
// the well-known tokens of planning/demo, starts an httptest.Server with the
// real api.Server, and offers request helpers and PocketBase-style scenario
// tables. Nothing is mocked.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// PGEnv names the environment variable with the PostgreSQL test DSN.
const PGEnv = storetest.PGEnv

// Options tune New.
type Options struct {
	// Dialect is the database to run on; empty means SQLite.
	Dialect sqlstore.Dialect
	// Config is passed to api.NewServer; its DB is filled in. Rate
	// limiting is off unless Config.RateLimit is set, and so is the limit
	// on failed authentications unless Config.AuthFailureRate is.
	Config api.Config
	// NoDemo leaves the database empty instead of loading the demo data.
	NoDemo bool
}

// Env is a running API server on its own database.
type Env struct {
	T        testing.TB
	Dialect  sqlstore.Dialect
	DB       *sqlstore.DB
	Services planning.Services
	API      *api.Server
	Server   *httptest.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL    string
	Client *http.Client
	// Demo is what the demo loader reported (nil with Options.NoDemo).
	Demo *demo.Result

	logs *lockedBuffer
}

// New starts the API on a fresh SQLite database with the demo data.
func New(t testing.TB) *Env { return NewWith(t, Options{}) }

// NewWith starts the API as opts say. Everything is closed and removed when
// the test ends.
func NewWith(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Dialect == "" {
		opts.Dialect = sqlstore.SQLite
	}
	ctx := context.Background()
	db := storetest.Open(t, opts.Dialect)
	svcs := sqlstore.NewServices(db)
	env := &Env{T: t, Dialect: opts.Dialect, DB: db, Services: svcs, logs: &lockedBuffer{}}
	if !opts.NoDemo {
		res, err := demo.Load(ctx, svcs)
		if err != nil {
			t.Fatalf("load demo data: %v", err)
		}
		env.Demo = res
	}
	cfg := opts.Config
	if cfg.RateLimit == 0 {
		// Tests fire requests faster than any person; they opt in to
		// rate limiting by setting Config.RateLimit.
		cfg.RateLimit = -1
	}
	if cfg.AuthFailureRate == 0 {
		// The same for failed authentications per address: tests send
		// many 401s on purpose, all from one address.
		cfg.AuthFailureRate = -1
	}
	cfg.DB = db.SQLDB()
	if cfg.Version == "" {
		cfg.Version = "test"
	}
	logger := slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.API = api.NewServer(cfg, svcs, logger)
	env.Server = httptest.NewServer(env.API.Handler())
	t.Cleanup(env.Server.Close)
	env.URL = env.Server.URL
	env.Client = env.Server.Client()
	env.Client.Transport = &contractTransport{base: env.Client.Transport, t: t}
	env.Client.Timeout = 30 * time.Second
	return env
}

// ForEachDB runs fn as a sub-test on SQLite and, when CASCADE_TEST_PG_DSN is
// set, on PostgreSQL, each with a fresh Env. Without the variable it logs,
// visibly, that the PostgreSQL part is skipped.
func ForEachDB(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { fn(t, NewWith(t, Options{Dialect: d})) })
	}
	if storetest.PGDSN() == "" {
		t.Run("postgres", func(t *testing.T) {
			t.Skip(PGEnv + " not set: PostgreSQL tests skipped")
		})
	}
}

// Token returns the well-known token of a demo user.
func Token(username string) string { return demo.TokenFor(username) }

// Response is what a request got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test if it cannot.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response %d %s: %v", r.Status, r.Body, err)
	}
}

// Do sends a request with the bearer token (none when empty) and the body:
// nil for none, a string, []byte or json.RawMessage sent as it is, or any
// other value encoded as JSON. It returns the status, headers and body.
func (e *Env) Do(method, path, token string, body any) (int, http.Header, []byte) {
	e.T.Helper()
	r := e.Request(method, path, token, body, nil)
	return r.Status, r.Header, r.Body
}

// Request is Do with extra request headers, returning a Response.
// Caller returns a function that sends one request as a demo user (by
// username) and fails t unless the status is want, for tests that walk
// through a scenario step by step.
func (e *Env) Caller(t testing.TB) func(user, method, path string, body any, want int) *Response {
	return func(user, method, path string, body any, want int) *Response {
		t.Helper()
		r := e.Request(method, path, Token(user), body, nil)
		if r.Status != want {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, r.Status, want, r.Body)
		}
		return r
	}
}

func (e *Env) Request(method, path, token string, body any, headers map[string]string) *Response {
	e.T.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		case []byte:
			rd = bytes.NewReader(b)
		case json.RawMessage:
			rd = bytes.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				e.T.Fatalf("encode request body: %v", err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequestWithContext(withTest(context.Background(), e.T), method, e.URL+path, rd)
	if err != nil {
		e.T.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.T.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// GetJSON GETs path as the demo user and decodes a 200 answer into v.
func (e *Env) GetJSON(username, path string, v any) {
	e.T.Helper()
	r := e.Request(http.MethodGet, path, Token(username), nil, nil)
	if r.Status != http.StatusOK {
		e.T.Fatalf("GET %s as %s: status %d: %s", path, username, r.Status, r.Body)
	}
	r.Decode(e.T, v)
}

// Logs returns what the server logged so far (JSON lines).
func (e *Env) Logs() string { return e.logs.String() }

// SystemContext is a context acting as the command line's system actor, for
// looking things up or setting them up behind the API's back.
func (e *Env) SystemContext() context.Context {
	return planning.NewContextWithActor(context.Background(), planning.SystemActor())
}

// OrgUnitID returns the id of the org unit with code.
func (e *Env) OrgUnitID(code string) int64 {
	e.T.Helper()
	us, _, err := e.Services.OrgUnits.FindOrgUnits(e.SystemContext(), planning.OrgUnitFilter{Code: code})
	if err != nil || len(us) != 1 {
		e.T.Fatalf("org unit %s: %v (found %d)", code, err, len(us))
	}
	return us[0].ID
}

// ProductLineID returns the id of the product line with code.
func (e *Env) ProductLineID(code string) int64 {
	e.T.Helper()
	ps, _, err := e.Services.ProductLines.FindProductLines(e.SystemContext(), planning.ProductLineFilter{Code: code})
	if err != nil || len(ps) != 1 {
		e.T.Fatalf("product line %s: %v (found %d)", code, err, len(ps))
	}
	return ps[0].ID
}

// MeasureID returns the id of the measure with code.
func (e *Env) MeasureID(code string) int64 {
	e.T.Helper()
	ms, _, err := e.Services.Measures.FindMeasures(e.SystemContext(), planning.MeasureFilter{Code: code})
	if err != nil || len(ms) != 1 {
		e.T.Fatalf("measure %s: %v (found %d)", code, err, len(ms))
	}
	return ms[0].ID
}

// SeasonalityProfileID returns the id of the seasonality profile with code.
func (e *Env) SeasonalityProfileID(code string) int64 {
	e.T.Helper()
	ps, _, err := e.Services.Seasonality.FindSeasonalityProfiles(e.SystemContext(), planning.SeasonalityProfileFilter{Code: code})
	if err != nil || len(ps) != 1 {
		e.T.Fatalf("seasonality profile %s: %v (found %d)", code, err, len(ps))
	}
	return ps[0].ID
}

// UserID returns the id of the user with username.
func (e *Env) UserID(username string) int64 {
	e.T.Helper()
	us, _, err := e.Services.Users.FindUsers(e.SystemContext(), planning.UserFilter{Username: username})
	if err != nil || len(us) != 1 {
		e.T.Fatalf("user %s: %v (found %d)", username, err, len(us))
	}
	return us[0].ID
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
