package api

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// ConsoleCSP is the Content-Security-Policy of the console's pages: its own
// scripts, styles and API only, no inline script or style, no framing.
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleRoutes serves the web console at / when Config.Console is set: the
// hashed assets under /assets/ (cached for a year, they never change), and
// index.html (never cached) for every other GET that is not the API's, so
// the console's own routes (/versions/7/grid …) load it too. Everything
// the console shows comes from the public API; this serves files only.
func (s *Server) consoleRoutes() {
	if s.cfg.Console == nil {
		return
	}
	index, err := fs.ReadFile(s.cfg.Console, "index.html")
	if err != nil {
		panic("console assets without index.html: " + err.Error())
	}
	assets := http.FileServer(http.FS(s.cfg.Console))
	headers := func(c echo.Context) {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ConsoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
	}
	s.echo.GET("/assets/*", func(c echo.Context) error {
		name := strings.TrimPrefix(c.Request().URL.Path, "/")
		if st, err := fs.Stat(s.cfg.Console, name); err != nil || st.IsDir() {
			return planning.Errorf(planning.ENOTFOUND, "no such asset")
		}
		headers(c)
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
		assets.ServeHTTP(c.Response(), c.Request())
		return nil
	})
	s.echo.Any("/*", func(c echo.Context) error {
		p := c.Request().URL.Path
		m := c.Request().Method
		if strings.HasPrefix(p, pathPrefix+"/") || p == pathPrefix || (m != http.MethodGet && m != http.MethodHead) || strings.Contains(path.Base(p), ".") {
			return planning.Errorf(planning.ENOTFOUND, "no route %s %s", m, p)
		}
		headers(c)
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.HTMLBlob(http.StatusOK, index)
	})
}
