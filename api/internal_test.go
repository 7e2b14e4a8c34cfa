package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

// These tests cover what the scenario tests cannot reach through the real
// routes: a panicking handler and the pure helpers. They need no storage.

func TestPanicIsAProblem(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(Config{}, planning.Services{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	s.echo.GET("/boom", func(echo.Context) error { panic("secret internals: password=hunter2") })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != problemMediaType {
		t.Fatalf("panic: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(rec.Body.String(), "hunter2") || !strings.Contains(rec.Body.String(), `"detail":"internal error"`) {
		t.Errorf("panic body: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Errorf("panic not logged: %s", logs.String())
	}
	if n := strings.Count(logs.String(), `"msg":"internal error"`); n != 0 {
		t.Errorf("panic logged twice")
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("no request line with status 500: %s", logs.String())
	}
}

func TestInternalErrorsAreHidden(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(Config{}, planning.Services{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	s.echo.GET("/fail", func(echo.Context) error { return fmt.Errorf("pq: relation \"secret_table\" does not exist") })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fail", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret_table") {
		t.Errorf("internal error: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "secret_table") {
		t.Errorf("internal error not logged: %s", logs.String())
	}
}

// TestUnavailableIsRetryable checks the 503 of a database failure: a
// problem with Retry-After whose body says only "retry", while the log
// keeps the database's own message.
func TestUnavailableIsRetryable(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(Config{}, planning.Services{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	s.echo.POST("/write", func(echo.Context) error {
		e := planning.Errorf(planning.EUNAVAILABLE, "the database could not complete this write; retry shortly")
		e.Cause = errors.New("ERROR: new multixact has more than one updating member (SQLSTATE=XX000)")
		return e
	})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/write", nil))
	if rec.Code != 503 || rec.Header().Get("Content-Type") != problemMediaType || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("database failure: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(rec.Body.String(), "multixact") {
		t.Errorf("the database's message reached the client: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "multixact") {
		t.Errorf("the cause was not logged: %s", logs.String())
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"invalid", planning.Errorf(planning.EINVALID, "bad"), 422, "bad"},
		{"bad request", planning.Errorf(EBADREQUEST, "bad"), 400, "bad"},
		{"not found", planning.Errorf(planning.ENOTFOUND, "gone"), 404, "gone"},
		{"conflict", planning.Errorf(planning.ECONFLICT, "state"), 409, "state"},
		{"precondition", planning.Errorf(planning.EPRECONDITION, "stale"), 412, "stale"},
		{"unauthorized", planning.Errorf(planning.EUNAUTHORIZED, "who"), 401, "who"},
		{"forbidden", planning.Errorf(planning.EFORBIDDEN, "no"), 403, "no"},
		{"too large", planning.Errorf(planning.ETOOLARGE, "big"), 413, "big"},
		{"unavailable", planning.Errorf(planning.EUNAVAILABLE, "down"), 503, "down"},
		{"internal domain error", planning.Errorf(planning.EINTERNAL, "db password"), 500, "internal error"},
		{"unknown code", planning.Errorf("weird", "x"), 500, "internal error"},
		{"wrapped", fmt.Errorf("ctx: %w", planning.Errorf(planning.ENOTFOUND, "gone")), 404, "gone"},
		{"plain error", errors.New("boom"), 500, "internal error"},
		{"echo 404", echo.ErrNotFound, 404, ""},
		{"echo 405", echo.ErrMethodNotAllowed, 405, ""},
		{"max bytes", &http.MaxBytesError{Limit: 10}, 413, "the request body is larger than the limit of the server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := problemFor(tt.err)
			if p.Status != tt.status || p.Detail != tt.detail || p.Title != http.StatusText(tt.status) || p.Errors == nil {
				t.Errorf("problemFor(%v) = %+v", tt.err, p)
			}
		})
	}
	v := planning.Validation{}
	v.Add("weights[3]", "must not be negative")
	p, _ := problemFor(v.Err())
	if len(p.Errors) != 1 || p.Errors[0].Field != "weights[3]" {
		t.Errorf("fields lost: %+v", p)
	}
}

func TestUnmarshalStrict(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type body struct {
		Name  string     `json:"name"`
		List  []inner    `json:"list"`
		Owner optionalID `json:"owner_id"`
	}
	tests := []struct {
		in    string
		code  string
		field string
	}{
		{`{"name":"a","list":[{"n":1}],"owner_id":null}`, "", ""},
		{`{"owner_id":3}`, "", ""},
		{`  {"name":"a"}  `, "", ""},
		{`{"list":[{"n":1},{"n":2,"n":3}]}`, EBADREQUEST, "list[1].n"},
		{`{"list":[{"n":"x"}]}`, EBADREQUEST, "list.n"},
		{`{"owner_id":"x"}`, EBADREQUEST, "owner_id"},
		{`{"owner_id":1.5}`, EBADREQUEST, "owner_id"},
		{`{"list":[{"m":1}]}`, EBADREQUEST, "m"},
		{`{"Name":"a"}`, EBADREQUEST, "Name"},
		{`{"na\u006de":"a"}`, "", ""},
		{`{"name":"a"}x`, EBADREQUEST, ""},
		{`{"name":"a"`, EBADREQUEST, ""},
		{`null`, EBADREQUEST, ""},
		{`"name"`, EBADREQUEST, ""},
		{``, EBADREQUEST, ""},
		{"{\"name\":\"\xc3\x28\"}", planning.EINVALID, "name"},
		{"{\"name\":\"x\"}\xff", EBADREQUEST, ""},
	}
	for _, tt := range tests {
		var b body
		err := unmarshalStrict([]byte(tt.in), &b)
		if planning.ErrorCode(err) != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.in, err, tt.code)
			continue
		}
		var pe *planning.Error
		if tt.field != "" && (!errors.As(err, &pe) || len(pe.Fields) != 1 || pe.Fields[0].Field != tt.field) {
			t.Errorf("%s: error %v, want field %q", tt.in, err, tt.field)
		}
	}
}

// TestCheckJSONTokensProperty: any object encoding/json writes passes the
// token check, and the same object with one key repeated anywhere is refused
// naming that key.
func TestCheckJSONTokensProperty(t *testing.T) {
	keys := rapid.StringMatching(`[a-z][a-z0-9_]{0,8}`)
	var value *rapid.Generator[any]
	value = rapid.Deferred(func() *rapid.Generator[any] {
		return rapid.OneOf(
			rapid.Map(rapid.Int(), func(i int) any { return i }),
			// Any string but one holding NUL, which the check refuses.
			rapid.Map(rapid.String(), func(s string) any { return strings.ReplaceAll(s, "\x00", "") }),
			rapid.Map(rapid.Bool(), func(b bool) any { return b }),
			rapid.Map(rapid.SliceOfN(rapid.Int(), 0, 3), func(s []int) any { return s }),
			rapid.Map(rapid.MapOfN(keys, rapid.Int(), 0, 3), func(m map[string]int) any { return m }),
		)
	})
	rapid.Check(t, func(t *rapid.T) {
		obj := rapid.MapOfN(keys, value, 1, 6).Draw(t, "obj")
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkJSONTokens(b); err != nil {
			t.Fatalf("valid %s refused: %v", b, err)
		}
		// Repeat the first key at the end of the top-level object.
		var first string
		for k := range obj {
			if first == "" || k < first {
				first = k
			}
		}
		dup := append(append([]byte{}, b[:len(b)-1]...), []byte(`,"`+first+`":1}`)...)
		err = checkJSONTokens(dup)
		var pe *planning.Error
		if !errors.As(err, &pe) || pe.Code != EBADREQUEST || len(pe.Fields) != 1 || pe.Fields[0].Field != first {
			t.Fatalf("duplicate in %s: %v", dup, err)
		}
	})
}

func TestIfMatch(t *testing.T) {
	tests := []struct {
		header string
		want   *int64
		code   string
	}{
		{"", nil, ""},
		{"*", nil, ""},
		{`"3"`, ptr(int64(3)), ""},
		{`"0"`, ptr(int64(0)), ""},
		{`W/"3"`, nil, planning.EPRECONDITION},
		{`3`, nil, EBADREQUEST},
		{`"03"`, nil, EBADREQUEST},
		{`"-1"`, nil, EBADREQUEST},
		{`"3", "4"`, nil, EBADREQUEST},
		{`"abc"`, nil, EBADREQUEST},
		{`""`, nil, EBADREQUEST},
	}
	e := echo.New()
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPatch, "/", nil)
		if tt.header != "" {
			req.Header.Set("If-Match", tt.header)
		}
		got, err := ifMatch(e.NewContext(req, httptest.NewRecorder()))
		if planning.ErrorCode(err) != tt.code || (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("If-Match %q: %v, %v", tt.header, got, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestStoredResponseRecord: the record kept under an idempotency key reads
// back as the response it was written from, a body with line breaks
// included, and a record that is not one is an internal error.
func TestStoredResponseRecord(t *testing.T) {
	for _, r := range []storedResponse{
		{Status: 201, ContentType: "application/json", Location: "/api/v1/rounds/7", ETag: `"3"`, Body: []byte("{\n\"id\": 7\n}\n")},
		{Status: 204},
	} {
		got, err := decodeStoredResponse(r.encode())
		if err != nil || got.Status != r.Status || got.ContentType != r.ContentType || got.Location != r.Location || got.ETag != r.ETag ||
			string(got.Body) != string(r.Body) {
			t.Errorf("%+v reads back as %+v, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "201", "x\n\n\n\n", "201\na\nb\n"} {
		if _, err := decodeStoredResponse([]byte(bad)); planning.ErrorCode(err) != planning.EINTERNAL {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
