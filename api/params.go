package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// pathID parses the path parameter name as a positive id (400 otherwise).
func pathID(c echo.Context, name string) (int64, error) {
	return parseID(name, c.Param(name))
}

// parseID parses a positive decimal id from a path or query parameter.
func parseID(field, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &planning.Error{Code: EBADREQUEST, Message: fmt.Sprintf("%s must be a positive integer id", field),
			Fields: []planning.FieldError{{Field: field, Message: "must be a positive integer id"}}}
	}
	return id, nil
}

// query reads the query string of a list request. It rejects parameters the
// endpoint does not know and parameters given more than once, so a typo such
// as ?kinds=branch is an error instead of silently returning everything.
type query struct {
	values map[string][]string
	errs   []planning.FieldError
}

// pageParams are the query parameters every list accepts.
var pageParams = []string{"limit", "cursor"}

func newQuery(c echo.Context, allowed ...string) *query {
	q := &query{values: c.QueryParams()}
	for name, vs := range q.values {
		if !slices.Contains(allowed, name) && !slices.Contains(pageParams, name) {
			q.fail(name, "is not a known query parameter")
		} else if len(vs) > 1 {
			q.fail(name, "must be given at most once")
		} else if len(vs) == 1 && !plainText(vs[0]) {
			q.fail(name, "must be UTF-8 text without NUL characters")
		}
	}
	return q
}

// plainText reports whether s is valid UTF-8 without NUL: no code, name or
// filter value is anything else, and the database could not compare it.
func plainText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func (q *query) fail(field, format string, args ...any) {
	q.errs = append(q.errs, planning.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// get returns the parameter's value and whether it was given (and not empty).
func (q *query) get(name string) (string, bool) {
	vs := q.values[name]
	if len(vs) == 0 || vs[0] == "" {
		return "", false
	}
	return vs[0], true
}

func (q *query) str(name string) string {
	s, _ := q.get(name)
	return s
}

func (q *query) id(name string) *int64 {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		q.fail(name, "must be a positive integer id")
		return nil
	}
	return &id
}

func (q *query) boolean(name string) *bool {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		q.fail(name, "must be true or false")
		return nil
	}
	return &b
}

func (q *query) time(name string) *time.Time {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(name, "must be an RFC 3339 timestamp such as 2026-01-31T08:00:00Z")
		return nil
	}
	return &t
}

// page reads limit and cursor.
func (q *query) page() planning.PageRequest {
	var p planning.PageRequest
	if s, ok := q.get("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > planning.MaxPageSize {
			q.fail("limit", "must be an integer between 1 and %d", planning.MaxPageSize)
		} else {
			p.Limit = n
		}
	}
	p.Cursor = q.str("cursor")
	if _, err := planning.DecodeCursor(p.Cursor); err != nil {
		q.fail("cursor", "is not a cursor returned by this list")
	}
	return p
}

// err returns the collected problems as one 400, or nil.
func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	slices.SortFunc(q.errs, func(a, b planning.FieldError) int { return strings.Compare(a.Field, b.Field) })
	msg := "invalid query parameter " + q.errs[0].Field + ": " + q.errs[0].Message
	return &planning.Error{Code: EBADREQUEST, Message: msg, Fields: q.errs}
}

// etag renders a revision as a strong entity tag.
func etag(revision int64) string { return `"` + strconv.FormatInt(revision, 10) + `"` }

// setETag sets the ETag header of a response about a revisioned resource.
func setETag(c echo.Context, revision int64) {
	c.Response().Header().Set("ETag", etag(revision))
}

// ifMatch parses the If-Match header into the revision a write expects.
// No header, or "*", means no expectation. A weak tag can never match
// (If-Match compares strongly) and fails with 412; anything that is not one
// entity tag this server made is 400.
func ifMatch(c echo.Context) (*int64, error) {
	vs := c.Request().Header.Values("If-Match")
	if len(vs) == 0 {
		return nil, nil
	}
	h := strings.TrimSpace(strings.Join(vs, ","))
	if h == "*" {
		return nil, nil
	}
	if strings.HasPrefix(h, "W/") {
		return nil, planning.Errorf(planning.EPRECONDITION, "a weak entity tag never matches If-Match")
	}
	if len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return nil, badIfMatch()
	}
	rev, err := strconv.ParseInt(h[1:len(h)-1], 10, 64)
	if err != nil || rev < 0 || strconv.FormatInt(rev, 10) != h[1:len(h)-1] {
		return nil, badIfMatch()
	}
	return &rev, nil
}

// requireIfMatch is ifMatch for writes that must not overwrite what the
// caller has not seen: without the header they get 428. "*" is an explicit
// "whatever is there now" and passes.
func requireIfMatch(c echo.Context) (*int64, error) {
	if len(c.Request().Header.Values("If-Match")) == 0 {
		return nil, &planning.Error{Code: EPRECONDREQ,
			Message: "this write needs If-Match: send the ETag you read (or \"*\" to overwrite whatever is there)",
			Fields:  []planning.FieldError{{Field: "If-Match", Message: "is required"}}}
	}
	return ifMatch(c)
}

func badIfMatch() error {
	return &planning.Error{Code: EBADREQUEST,
		Message: `If-Match must be "*" or one entity tag from an ETag header, such as "3"`,
		Fields:  []planning.FieldError{{Field: "If-Match", Message: "is malformed"}}}
}

// created answers a POST: 201, the Location of the new resource and the body.
func created(c echo.Context, location string, revision *int64, body any) error {
	c.Response().Header().Set(echo.HeaderLocation, location)
	if revision != nil {
		setETag(c, *revision)
	}
	return c.JSON(http.StatusCreated, body)
}

// ok answers a GET or PATCH of one revisioned resource.
func ok(c echo.Context, revision int64, body any) error {
	setETag(c, revision)
	return c.JSON(http.StatusOK, body)
}

// formatTime renders a time as RFC 3339 in UTC, nil for nil.
func formatTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pathPrefix is the base path of the API.
const pathPrefix = "/api/v1"

func location(format string, args ...any) string {
	return pathPrefix + fmt.Sprintf(format, args...)
}
