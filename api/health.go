package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/labstack/echo/v4"
	"github.com/swaggo/swag"

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

// openAPIDocument serves the API description as OpenAPI 3.0.
func (s *Server) openAPIDocument(c echo.Context) error {
	if s.openapi == nil {
		return planning.Errorf(planning.EINTERNAL, "the OpenAPI document could not be built")
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.openapi)
}

// buildOpenAPI converts the generated Swagger 2.0 document to OpenAPI 3.0
// once, at start-up. A failure is logged and leaves /openapi.json a 500;
// the tests make sure it does not happen.
func (s *Server) buildOpenAPI() []byte {
	b, err := OpenAPI3()
	if err != nil {
		s.logger.Error("building the OpenAPI 3 document", "error", err)
		return nil
	}
	return b
}

// OpenAPI3 returns the API's description as an OpenAPI 3.0 JSON document,
// converted from the Swagger 2.0 document swag generates into docs/.
func OpenAPI3() ([]byte, error) {
	raw, err := swag.ReadDoc()
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal([]byte(raw), &doc2); err != nil {
		return nil, err
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc3)
}
