package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Health is the body of /healthz and /readyz.
type Health struct {
	Status  string `json:"status" example:"ok"`
	Version string `json:"version,omitempty" example:"1.0.0"`
}

// healthz reports that the process is up. The operational endpoints
// (/healthz, /readyz, /openapi.json, /metrics, /swagger) live outside the
// API's base path, so they carry no swag operation annotations (swag would
// document them under /api/v1); doc.go describes them instead.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, Health{Status: "ok", Version: s.cfg.Version})
}

// readyzTimeout bounds the database ping of a readiness check.
const readyzTimeout = 2 * time.Second

// readyz reports whether the server can serve requests: the storage answers.
func (s *Server) readyz(c echo.Context) error {
	if s.svcs.Ping != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyzTimeout)
		defer cancel()
		if err := s.svcs.Ping(ctx); err != nil {
			s.logger.Warn("readiness check failed", "error", err)
			return planning.Errorf(planning.EUNAVAILABLE, "the database is unreachable")
		}
	}
	return c.JSON(http.StatusOK, Health{Status: "ok", Version: s.cfg.Version})
}

// openAPIDocument serves the API description as OpenAPI 3.0. Its server URL
// is absolute: Config.BaseURL, or else the scheme and host of this request
// (X-Forwarded-Proto is honoured), followed by the base path.
func (s *Server) openAPIDocument(c echo.Context) error {
	if s.openapi == nil {
		return planning.Errorf(planning.EINTERNAL, "the OpenAPI document could not be built")
	}
	base := s.cfg.BaseURL
	if base == "" {
		scheme := "http"
		if c.Scheme() == "https" {
			scheme = "https"
		}
		base = scheme + "://" + c.Request().Host
		c.Response().Header().Set(echo.HeaderVary, "Host, X-Forwarded-Proto")
	}
	url, err := json.Marshal(strings.TrimRight(base, "/") + pathPrefix)
	if err != nil {
		return err
	}
	placeholder, _ := json.Marshal(serverURLPlaceholder)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, bytes.Replace(s.openapi, placeholder, url, 1))
}

// buildOpenAPI builds the OpenAPI 3 document once, at start-up, with a
// placeholder for the server URL. A failure is logged and leaves
// /openapi.json a 500; the tests make sure it does not happen.
func (s *Server) buildOpenAPI() []byte {
	doc, err := OpenAPIDocument()
	if err == nil {
		doc.Servers[0].URL = serverURLPlaceholder
		var b []byte
		if b, err = json.Marshal(doc); err == nil {
			return b
		}
	}
	s.logger.Error("building the OpenAPI 3 document", "error", err)
	return nil
}
