package api

import (
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// DefaultMaxUploads is how many uploaded files the server reads at once
// unless Config.MaxUploads says otherwise; DefaultUploadWait is how long a
// further upload waits for its turn before it is refused.
const (
	DefaultMaxUploads = 2
	DefaultUploadWait = 2 * time.Second
)

// uploadRetryAfter is the Retry-After of a refused upload, in seconds.
const uploadRetryAfter = 5

// uploadSlot lets at most Config.MaxUploads requests that send a file be
// read at once, process-wide: each may hold its body (up to the bulk body
// limit) and what reading it keeps (bounded by spreadsheet.DefaultLimits),
// so the memory all uploads take together is bounded too. A request that
// finds no free slot within Config.UploadWait is refused with 503 and
// Retry-After, before its body is read. It runs after authentication and
// before the body is read by anything (idempotency keys included).
func (s *Server) uploadSlot(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		select {
		case s.uploads <- struct{}{}:
		default:
			t := time.NewTimer(s.cfg.UploadWait)
			defer t.Stop()
			select {
			case s.uploads <- struct{}{}:
			case <-t.C:
				c.Response().Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
				return planning.Errorf(planning.EUNAVAILABLE, "the server is reading %d uploaded files already, its limit: retry after %d s", cap(s.uploads), uploadRetryAfter)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		defer func() { <-s.uploads }()
		return next(c)
	}
}

// fileLimitError turns a file beyond spreadsheet.DefaultLimits into a 413
// that names the limit; other errors are returned as they are.
func fileLimitError(err error) error {
	var le *spreadsheet.LimitError
	if !errors.As(err, &le) {
		return err
	}
	return &planning.Error{Code: planning.ETOOLARGE, Message: le.Error() + "; nothing was imported",
		Fields: []planning.FieldError{{Field: "file", Message: "exceeds " + le.Limit + " (" + strconv.FormatInt(le.Max, 10) + " " + le.Unit + ")"}}}
}
