package api

import (
	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// readOnly makes h, a handler that only reads, run through the services
// planning.Services.ReadOnly picks for it (a read replica's while it keeps
// up), all of it: every read of the request, the version's revision sent as
// its ETag included, comes from one database, so the rows are never older
// than the revision. The handler runs on a copy of the server that holds
// those services. When the replica fails it, it runs again on the primary,
// unless it had already started its response.
func (s *Server) readOnly(h func(*Server, echo.Context) error) echo.HandlerFunc {
	if s.svcs.ReadOnly == nil {
		return func(c echo.Context) error { return h(s, c) }
	}
	return func(c echo.Context) error {
		var last error
		return s.svcs.ReadOnly(c.Request().Context(), func(svcs planning.Services) error {
			if c.Response().Committed {
				return last
			}
			on := *s
			on.svcs = svcs
			last = h(&on, c)
			return last
		})
	}
}
