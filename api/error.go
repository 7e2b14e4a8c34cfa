package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Problem is an RFC 9457 problem detail, the body of every error response
// (media type application/problem+json). Errors is always present, empty
// unless individual input fields are at fault.
type Problem struct {
	// Type is a URI naming the kind of problem: "urn:cascade:problem:<code>"
	// for domain errors, "about:blank" for plain HTTP errors.
	Type   string `json:"type" example:"urn:cascade:problem:invalid"`
	Title  string `json:"title" example:"Unprocessable Entity"`
	Status int    `json:"status" example:"422"`
	Detail string `json:"detail,omitempty" example:"invalid input: name: is required"`
	// Instance is the path of the request that failed.
	Instance string `json:"instance,omitempty" example:"/api/v1/org-units"`
	// Code is the domain error code (invalid, bad_request, not_found, …).
	Code string `json:"code,omitempty" example:"invalid"`
	// RequestID repeats the X-Request-Id response header, to quote in reports.
	RequestID string         `json:"request_id,omitempty"`
	Errors    []ProblemField `json:"errors"`
}

// ProblemField names one offending input field.
type ProblemField struct {
	Field   string `json:"field" example:"weights[3]"`
	Message string `json:"message" example:"must not be negative"`
}

// problemMediaType is the media type of every error response.
const problemMediaType = "application/problem+json"

// The codes of errors about the request as sent, which only the transport
// raises; the domain's codes are planning's.
const (
	EBADREQUEST  = "bad_request"           // the request itself is malformed (400)
	EPRECONDREQ  = "precondition_required" // a write that needs If-Match came without (428)
	ERATELIMITED = "rate_limited"          // too many requests for the token or address (429)
)

// codeStatus is the one map from error codes, the domain's and the
// transport's, to HTTP statuses.
var codeStatus = map[string]int{
	planning.EINVALID:      http.StatusUnprocessableEntity,
	EBADREQUEST:            http.StatusBadRequest,
	planning.ENOTFOUND:     http.StatusNotFound,
	planning.ECONFLICT:     http.StatusConflict,
	planning.EPRECONDITION: http.StatusPreconditionFailed,
	EPRECONDREQ:            http.StatusPreconditionRequired,
	ERATELIMITED:           http.StatusTooManyRequests,
	planning.ETHROTTLED:    http.StatusTooManyRequests,
	planning.EUNAUTHORIZED: http.StatusUnauthorized,
	planning.EFORBIDDEN:    http.StatusForbidden,
	planning.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	planning.EUNAVAILABLE:  http.StatusServiceUnavailable,
	planning.EINTERNAL:     http.StatusInternalServerError,
}

// statusCode returns the code of a status that a plain HTTP error carries,
// so problems raised by echo itself get a code as domain errors do.
func statusCode(status int) string {
	// Where several codes share a status (429), the first by name is taken,
	// so the answer never depends on the map's order.
	best := ""
	for code, s := range codeStatus {
		if s == status && (best == "" || code < best) {
			best = code
		}
	}
	return best
}

// panicError marks an error recovered from a panic, which is logged with its
// stack where it is recovered and must not be logged a second time.
type panicError struct{ err error }

func (e *panicError) Error() string { return "panic: " + e.err.Error() }
func (e *panicError) Unwrap() error { return e.err }

// badRequest returns an EBADREQUEST error about one field.
func badRequest(field, message string) error {
	return &planning.Error{Code: EBADREQUEST, Message: field + ": " + message,
		Fields: []planning.FieldError{{Field: field, Message: message}}}
}

// problemFor turns any error a handler or middleware returns into a problem,
// and reports whether it is an internal error that must be logged.
func problemFor(err error) (p Problem, internal bool) {
	var (
		he  *echo.HTTPError
		de  *planning.Error
		pe  *panicError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &pe):
		p = Problem{Status: http.StatusInternalServerError, Code: planning.EINTERNAL, Detail: "internal error"}
	case errors.As(err, &de):
		p = Problem{Status: codeStatus[de.Code], Code: de.Code, Detail: de.Message}
		if p.Status == 0 {
			p.Status, p.Code = http.StatusInternalServerError, planning.EINTERNAL
		}
		if p.Status == http.StatusInternalServerError {
			p.Detail, internal = "internal error", true
		} else {
			for _, f := range de.Fields {
				p.Errors = append(p.Errors, ProblemField{Field: f.Field, Message: f.Message})
			}
		}
	case errors.As(err, &mbe):
		p = Problem{Status: http.StatusRequestEntityTooLarge, Code: planning.ETOOLARGE,
			Detail: "the request body is larger than the limit of the server"}
	case errors.As(err, &he):
		p = Problem{Status: he.Code, Code: statusCode(he.Code)}
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			p.Detail = msg
		}
		if p.Status >= 500 {
			p.Detail, internal = "", true
		}
	case errors.Is(err, context.DeadlineExceeded):
		p = Problem{Status: http.StatusServiceUnavailable, Code: planning.EUNAVAILABLE,
			Detail: "the request took too long and was abandoned"}
	default:
		p = Problem{Status: http.StatusInternalServerError, Code: planning.EINTERNAL, Detail: "internal error"}
		internal = !errors.Is(err, context.Canceled)
	}
	p.Title = http.StatusText(p.Status)
	if p.Title == "" {
		p.Title = "Error"
	}
	if p.Code != "" {
		p.Type = "urn:cascade:problem:" + p.Code
	} else {
		p.Type = "about:blank"
	}
	if p.Errors == nil {
		p.Errors = []ProblemField{}
	}
	return p, internal
}

// handleError is the echo HTTPErrorHandler: every error, the framework's own
// 404 and 405 included, leaves as application/problem+json. Internal errors
// are logged and shown only as "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, internal := problemFor(err)
	req := c.Request()
	p.Instance = req.URL.Path
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if internal {
		s.logger.LogAttrs(req.Context(), slog.LevelError, "internal error",
			slog.String("request_id", p.RequestID), slog.String("method", req.Method),
			slog.String("route", c.Path()), slog.Any("error", err))
	} else if p.Status == http.StatusServiceUnavailable {
		// The user sees "retry"; the log keeps what the database said.
		s.logger.LogAttrs(req.Context(), slog.LevelWarn, "service unavailable",
			slog.String("request_id", p.RequestID), slog.String("method", req.Method),
			slog.String("route", c.Path()), slog.Any("error", err))
	}
	h := c.Response().Header()
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="cascade"`)
	case http.StatusServiceUnavailable:
		// Nothing was written (the transaction rolled back), so the same
		// request may be sent again shortly.
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", "1")
		}
	}
	// Headers set for a success response must not describe the error.
	h.Del(echo.HeaderLocation)
	h.Del("ETag")
	if req.Method == http.MethodHead {
		if err := c.NoContent(p.Status); err != nil {
			s.logger.Debug("writing error response", slog.Any("error", err))
		}
		return
	}
	h.Set(echo.HeaderContentType, problemMediaType)
	c.Response().WriteHeader(p.Status)
	if err := writeJSON(c.Response(), p); err != nil {
		s.logger.Debug("writing error response", slog.Any("error", err))
	}
}
