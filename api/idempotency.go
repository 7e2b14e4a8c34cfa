package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// HeaderIdempotencyKey names the header that makes a write (POST, PUT,
// PATCH, DELETE) safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed marks a response replayed for a repeated Idempotency-Key.
const HeaderReplayed = "Idempotent-Replayed"

// recorder buffers a response so it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// idempotent makes a write with an Idempotency-Key safe to retry: the first
// request runs inside one transaction together with the record of its
// response, and a retry with the same key and body gets that response
// again without anything being done twice (see planning.IdempotencyService).
// The same key with another body is 422; a retry while the first request
// still runs is 409 on PostgreSQL (SQLite, one writer at a time, waits for
// it and replays). A request whose server died holds its key no longer:
// the key is claimed by the effect's own transaction, which died with it.
// Only successes are kept: a failed request may be retried with its key.
// Keys belong to the caller and are kept at least 24 hours.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key := req.Header.Get(HeaderIdempotencyKey)
		if !unsafeMethod(req.Method) || key == "" || s.svcs.Idempotency == nil {
			return next(c)
		}
		if len(key) > 200 || !printableASCII(key) {
			return &planning.Error{Code: EBADREQUEST, Message: "Idempotency-Key must be 1-200 printable ASCII characters",
				Fields: []planning.FieldError{{Field: HeaderIdempotencyKey, Message: "is malformed"}}}
		}
		var body []byte
		if req.Body != nil {
			var err error
			if body, err = io.ReadAll(req.Body); err != nil {
				return bodyReadError(err)
			}
		}
		fingerprint := Fingerprint(req.Method, req.URL.RequestURI(), body)

		record, replayed, err := s.svcs.Idempotency.Do(req.Context(), key, fingerprint, func(ctx context.Context) ([]byte, bool, error) {
			rec := &recorder{header: http.Header{}}
			// The store may run this more than once (a transaction that
			// failed for a transient reason is run again from the start):
			// each run starts from an unwritten response.
			c.Response().Committed = false
			orig := c.Response().Writer
			c.Response().Writer = rec
			inner := req.WithContext(ctx)
			inner.Body = io.NopCloser(bytes.NewReader(body))
			c.SetRequest(inner)
			if err := next(c); err != nil {
				c.Error(err)
			}
			c.Response().Writer = orig
			c.SetRequest(req)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			resp := storedResponse{Status: status, ContentType: rec.header.Get(echo.HeaderContentType),
				Location: rec.header.Get(echo.HeaderLocation), ETag: rec.header.Get("ETag"), Body: rec.body.Bytes()}
			// Only successes are kept.
			return resp.encode(), status >= 200 && status <= 299, nil
		})
		if err != nil {
			return err
		}
		resp, err := decodeStoredResponse(record)
		if err != nil {
			return err
		}
		// The handler ran against the recorder; now send what it produced
		// (or what the first request produced) for real.
		c.Response().Committed = false
		h := c.Response().Header()
		for k, v := range map[string]string{echo.HeaderContentType: resp.ContentType, echo.HeaderLocation: resp.Location, "ETag": resp.ETag} {
			if v != "" {
				h.Set(k, v)
			}
		}
		if replayed {
			h.Set(HeaderReplayed, "true")
		}
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(resp.Body)))
		c.Response().WriteHeader(resp.Status)
		_, err = c.Response().Write(resp.Body)
		return err
	}
}

// storedResponse is the response kept under an idempotency key, in the
// record the store keeps for the key without reading it.
type storedResponse struct {
	Status      int
	ContentType string
	Location    string
	ETag        string
	Body        []byte
}

// encode writes the status and the three headers, a line each, then the
// body. A header value never holds a line break: net/http refuses them.
func (r *storedResponse) encode() []byte {
	head := strconv.Itoa(r.Status) + "\n" + r.ContentType + "\n" + r.Location + "\n" + r.ETag + "\n"
	return append([]byte(head), r.Body...)
}

// decodeStoredResponse reads a record encode wrote.
func decodeStoredResponse(b []byte) (*storedResponse, error) {
	var fields [4]string
	for i := range fields {
		line, rest, ok := bytes.Cut(b, []byte{'\n'})
		if !ok {
			return nil, planning.Errorf(planning.EINTERNAL, "a stored idempotent response is corrupt")
		}
		fields[i], b = string(line), rest
	}
	status, err := strconv.Atoi(fields[0])
	if err != nil || status < 100 || status > 999 {
		return nil, planning.Errorf(planning.EINTERNAL, "a stored idempotent response is corrupt")
	}
	return &storedResponse{Status: status, ContentType: fields[1], Location: fields[2], ETag: fields[3], Body: b}, nil
}

// Fingerprint identifies a request for its Idempotency-Key: a SHA-256 of the
// method, the path with its query, and the body.
func Fingerprint(method, uri string, body []byte) string {
	sum := sha256.New()
	io.WriteString(sum, method+" "+uri+"\n")
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil))
}

// unsafeMethod reports whether method changes something, so that a retry
// of it needs an idempotency key to be safe.
func unsafeMethod(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}
