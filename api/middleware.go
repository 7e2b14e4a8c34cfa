package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// maxTokenLength bounds the bearer token read from a request; real tokens are
// far shorter, and nothing longer is worth hashing and looking up.
const maxTokenLength = 256

// authenticate resolves the bearer token (or, without one, the console's
// session cookie) to an actor and puts the actor on
// the request context, where every service reads it. It decides nothing
// else: what the actor may do is the services' business.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if h == "" {
			if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
				return s.authenticateSession(c, ck.Value, next)
			}
			return planning.Errorf(planning.EUNAUTHORIZED, "authentication required: send Authorization: Bearer <token>, or sign in")
		}
		scheme, secret, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || !validTokenSyntax(secret) {
			return planning.Errorf(planning.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\"")
		}
		actor, err := s.svcs.Tokens.Authenticate(c.Request().Context(), secret)
		if err != nil {
			return err
		}
		if actor == nil || actor.User == nil {
			return planning.Errorf(planning.EUNAUTHORIZED, "invalid token")
		}
		c.SetRequest(actorRequest(c.Request(), actor))
		return next(c)
	}
}

// actorRequest is req with actor on its context, and, when its method
// changes nothing, a planning.ReadMemo: the store then reads a row the
// request needs twice (a version, a round) once.
func actorRequest(req *http.Request, actor *planning.Actor) *http.Request {
	ctx := planning.NewContextWithActor(req.Context(), actor)
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		ctx = planning.WithReadMemo(ctx)
	}
	return req.WithContext(ctx)
}

// validTokenSyntax reports whether s could be a token: printable ASCII
// without spaces, of a sane length.
func validTokenSyntax(s string) bool {
	if s == "" || len(s) > maxTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// dropBadRequestID removes an incoming X-Request-Id that is not a short,
// plain identifier, so the request-id middleware generates a fresh one
// instead of echoing hostile input into logs and headers.
func dropBadRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !validRequestID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func validRequestID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// observe writes one structured log line per request and records its metrics.
// It renders a handler's error itself, so the status it reports is the one
// the client received.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		if err := next(c); err != nil {
			c.Error(err)
		}
		latency := time.Since(start)
		req, res := c.Request(), c.Response()
		route := routeLabel(c)
		s.metrics.observe(req.Method, route, res.Status, latency)

		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Duration("latency", latency),
			slog.Int64("bytes_out", res.Size),
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
		}
		if a := planning.ActorFromContext(req.Context()); a != nil {
			attrs = append(attrs, slog.Int64("user_id", a.UserID()))
		}
		s.logger.LogAttrs(context.WithoutCancel(req.Context()), level, "request", attrs...)
		return nil
	}
}

// routeLabel is the route template that matched, never the raw path, so the
// number of metric series stays bounded whatever clients send.
func routeLabel(c echo.Context) string {
	p := c.Path()
	if p == "" || strings.HasSuffix(p, "*") && p != "/swagger/*" {
		return "unmatched"
	}
	return p
}

// logPanic logs a recovered panic with its stack and hands the error handler
// a 500 that shows nothing of it.
func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.logger.LogAttrs(context.WithoutCancel(c.Request().Context()), slog.LevelError, "panic",
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("route", c.Path()), slog.Any("error", err), slog.String("stack", string(stack)))
	return &panicError{err: err}
}

// limitBody refuses bodies over the configured limit: at once when the
// Content-Length says so, else when reading crosses it.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.BodyLimit
		if bulkRoutes[req.Method+" "+c.Path()] {
			limit = s.cfg.BulkBodyLimit
		}
		if req.ContentLength > limit {
			return planning.Errorf(planning.ETOOLARGE, "the request body is larger than the limit of %d bytes", limit)
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
}

// timeout bounds the request's context.
func (s *Server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	if s.cfg.RequestTimeout < 0 {
		return next
	}
	return func(c echo.Context) error {
		if wantsEventStream(c.Request()) && c.Request().URL.Path == pathPrefix+"/events" {
			// A live stream lasts as long as its client stays; it ends
			// with the connection (or the server's shutdown).
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// securityHeaders keeps browsers from sniffing or caching API responses.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(c.Request().URL.Path, pathPrefix+"/") {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}

// invalid returns an EINVALID error (422) about one field.
func invalid(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &planning.Error{Code: planning.EINVALID, Message: "invalid input: " + field + ": " + msg,
		Fields: []planning.FieldError{{Field: field, Message: msg}}}
}

// checkQuery refuses a malformed query string on every route with 400 before
// anything else looks at it: a bad percent-escape (?limit=%ZZ) or a ';'
// separator, which url.Values would silently drop, and keys or values that
// are not one line of text (planning.CheckText: invalid UTF-8, control
// characters, bidi overrides). The handlers' own parameter rules then see
// exactly what the client sent.
func checkQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Request().URL.RawQuery
		if raw == "" {
			return next(c)
		}
		for _, pair := range strings.Split(raw, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			key, err := url.QueryUnescape(k)
			if err != nil || strings.Contains(k, ";") {
				return badRequest("query", fmt.Sprintf("malformed query parameter %q: use key=value pairs separated by '&', with valid %%-escapes", truncate(k, 64)))
			}
			if msg := planning.CheckText(key, false); msg != "" {
				return badRequest("query", "a query parameter name "+msg)
			}
			val, err := url.QueryUnescape(v)
			if err != nil || strings.Contains(v, ";") {
				return badRequest(key, "is not a well-formed query value: escape it with valid %-escapes ('%25' for '%', '%3B' for ';')")
			}
			if msg := planning.CheckText(val, false); msg != "" {
				return badRequest(key, msg)
			}
		}
		return next(c)
	}
}

// truncate shortens s to at most n bytes of valid UTF-8 for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
