package api

import (
	"context"
	"database/sql"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	echoSwagger "github.com/swaggo/echo-swagger"

	_ "github.com/cascade-planning/cascade/docs" // registers the generated OpenAPI document
	"github.com/cascade-planning/cascade/planning"
)

// DefaultRequestTimeout bounds how long one request may take unless
// Config.RequestTimeout says otherwise.
const DefaultRequestTimeout = 30 * time.Second

// Config tunes the HTTP layer. The zero value is usable.
type Config struct {
	// Version is the build's version, reported by /healthz.
	Version string
	// BodyLimit is the largest request body in bytes; 0 means
	// DefaultBodyLimit (1 MiB). Larger bodies are refused with 413.
	BodyLimit int64
	// BulkBodyLimit is the largest body of a bulk write such as a batch
	// edit of target cells; 0 means DefaultBulkBodyLimit (16 MiB).
	BulkBodyLimit int64
	// RequestTimeout bounds each request's context; 0 means
	// DefaultRequestTimeout, a negative value means no bound.
	RequestTimeout time.Duration
	// RateLimit is the sustained requests per second one token may send;
	// 0 means DefaultRateLimit, a negative value turns limiting off.
	// RateBurst is how many it may send at once (0: DefaultRateBurst).
	RateLimit float64
	RateBurst int
	// BaseURL, when set, is the scheme and host (and any path prefix a
	// proxy adds) clients reach the server at, e.g. https://plan.example.com;
	// /openapi.json names it as the server URL. Empty: the scheme and host
	// each request for the document came with.
	BaseURL string
	// AuthFailureRate is the sustained failed authentications per second
	// one client address may cause before all its requests get 429, ahead
	// of authentication; 0 means DefaultAuthFailureRate, a negative value
	// turns the limit off. AuthFailureBurst is how many it may cause at
	// once (0: DefaultAuthFailureBurst).
	AuthFailureRate  float64
	AuthFailureBurst int
	// TrustProxyHeaders takes the client address from X-Forwarded-For (the
	// nearest address that is not on a loopback, link-local or private
	// network), for a server behind a proxy that sets it; otherwise it is
	// the connection's peer, which a client cannot forge.
	TrustProxyHeaders bool
	// MaxUploads is how many requests sending a file (imports of actuals
	// and of workbooks) are read at once, process-wide; 0 means
	// DefaultMaxUploads. UploadWait is how long a further one waits for
	// its turn before a 503 with Retry-After; 0 means DefaultUploadWait.
	MaxUploads int
	UploadWait time.Duration
	// EventPoll is how often a live event stream looks for new events;
	// 0 means DefaultEventPoll.
	EventPoll time.Duration
	// DB, when set, is the connection pool whose statistics /metrics reports.
	DB *sql.DB
	// Collectors are further series /metrics reports, such as where
	// read-only requests read when a read replica is attached.
	Collectors []prometheus.Collector
	// Console, when set, is the web console's built assets (index.html and
	// assets/), served at /.
	Console fs.FS
	// TimeZone is the zone PDF target letters state dates and times in,
	// naming it; nil means UTC.
	TimeZone *time.Location
}

// Server is the HTTP API of Cascade: routes, authentication, error mapping,
// logging and metrics around the planning services. It is an http.Handler;
// run it in an http.Server, which owns listening and graceful shutdown.
type Server struct {
	cfg     Config
	svcs    planning.Services
	logger  *slog.Logger
	echo    *echo.Echo
	metrics *metrics
	openapi []byte
	limits  *limiters[int64]
	// authFails counts failed authentications per client address.
	authFails *limiters[string]
	uploads   chan struct{}
	// streams ends every live event stream when the server shuts down
	// (CloseStreams), which would otherwise wait for them.
	streams     context.Context
	stopStreams context.CancelFunc
}

// CloseStreams ends the live event streams; register it with
// http.Server.RegisterOnShutdown, so a graceful shutdown does not wait
// for clients that never hang up. They reconnect with Last-Event-ID.
func (s *Server) CloseStreams() { s.stopStreams() }

// NewServer builds the server. A nil logger discards logs.
func NewServer(cfg Config, svcs planning.Services, logger *slog.Logger) *Server {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.BulkBodyLimit <= 0 {
		cfg.BulkBodyLimit = max(DefaultBulkBodyLimit, cfg.BodyLimit)
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	if cfg.UploadWait <= 0 {
		cfg.UploadWait = DefaultUploadWait
	}
	if cfg.EventPoll <= 0 {
		cfg.EventPoll = DefaultEventPoll
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, svcs: svcs, logger: logger, echo: echo.New()}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.metrics = newMetrics(cfg.DB, cfg.Collectors...)
	s.limits = newLimiters[int64](cfg.RateLimit, cfg.RateBurst, DefaultRateLimit, DefaultRateBurst)
	s.authFails = newLimiters[string](cfg.AuthFailureRate, cfg.AuthFailureBurst, DefaultAuthFailureRate, DefaultAuthFailureBurst)
	s.uploads = make(chan struct{}, cfg.MaxUploads)
	s.openapi = s.buildOpenAPI()

	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	if cfg.TrustProxyHeaders {
		// The right-most address in X-Forwarded-For that is not a proxy
		// of ours (loopback, link-local, private networks): what a client
		// writes into the header itself is never taken.
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}

	e.Pre(dropBadRequestID)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{}))
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: s.logPanic}))
	e.Use(s.limitBody, s.timeout, s.securityHeaders, checkQuery)

	s.routes()
	s.consoleRoutes()
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes lists the API's operations as "METHOD /path" with OpenAPI-style
// parameters ("/versions/{id}"), relative to the base path, so tests can
// check every one against the documentation and the authorization rules.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		if !strings.HasPrefix(r.Path, pathPrefix+"/") || r.Method == echo.RouteNotFound {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(r.Path, pathPrefix), "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(parts, "/"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// routes registers every endpoint.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.json", s.openAPIDocument)
	e.GET("/swagger", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/swagger/index.html")
	})
	e.GET("/swagger/*", echoSwagger.EchoWrapHandler(func(c *echoSwagger.Config) {
		c.URLs = []string{"/openapi.json"} // the OpenAPI 3 document, not swag's Swagger 2.0 one
	}))
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()))

	// Authentication is route middleware rather than group middleware: on a
	// group, echo would also route every unknown path and method under the
	// prefix to it, turning 405s into 404s.
	v1 := e.Group(pathPrefix)
	auth := func(method, path string, h echo.HandlerFunc) {
		v1.Add(method, path, h, s.limitAuthFailures, s.authenticate, s.rateLimit, s.idempotent)
	}
	// Routes that receive a file take an upload slot before anything
	// reads their body.
	upload := func(method, path string, h echo.HandlerFunc) {
		v1.Add(method, path, h, s.limitAuthFailures, s.authenticate, s.rateLimit, s.uploadSlot, s.idempotent)
	}
	// The heavy reads run on a read replica when one is attached; every
	// other request, and every write, on the primary.
	read := func(path string, h func(*Server, echo.Context) error) {
		auth(http.MethodGet, path, s.readOnly(h))
	}
	auth(http.MethodGet, "/me", s.getMe)
	auth(http.MethodGet, "/me/tasks", s.getMyTasks)
	auth(http.MethodGet, "/events", s.listEvents)

	// Webhook endpoints: administrators and the strategy office.
	auth(http.MethodGet, "/webhooks", s.listWebhooks)
	auth(http.MethodPost, "/webhooks", s.createWebhook)
	auth(http.MethodGet, "/webhooks/:id", s.getWebhook)
	auth(http.MethodPatch, "/webhooks/:id", s.updateWebhook)
	auth(http.MethodDelete, "/webhooks/:id", s.deleteWebhook)
	auth(http.MethodPost, "/webhooks/:id/secret", s.rotateWebhookSecret)
	auth(http.MethodPost, "/webhooks/:id/replay", s.replayWebhookRange)
	auth(http.MethodGet, "/webhooks/:id/deliveries", s.listWebhookDeliveries)
	auth(http.MethodGet, "/webhooks/:id/deliveries/:delivery_id", s.getWebhookDelivery)
	auth(http.MethodPost, "/webhooks/:id/deliveries/:delivery_id/replay", s.replayWebhookDelivery)

	// Signing in and setting a password with a one-time link need no
	// authentication: the password, or the link's token, is the credential.
	v1.Add(http.MethodPost, "/sessions", s.signIn)
	v1.Add(http.MethodPost, "/passwords", s.setPassword)
	auth(http.MethodGet, "/sessions/current", s.getSession)
	auth(http.MethodDelete, "/sessions/current", s.signOut)

	auth(http.MethodGet, "/org-units", s.listOrgUnits)
	auth(http.MethodPost, "/org-units", s.createOrgUnit)
	auth(http.MethodGet, "/org-units/:id", s.getOrgUnit)
	auth(http.MethodPatch, "/org-units/:id", s.updateOrgUnit)
	auth(http.MethodDelete, "/org-units/:id", s.deleteOrgUnit)

	auth(http.MethodGet, "/product-lines", s.listProductLines)
	auth(http.MethodPost, "/product-lines", s.createProductLine)
	auth(http.MethodGet, "/product-lines/:id", s.getProductLine)
	auth(http.MethodPatch, "/product-lines/:id", s.updateProductLine)

	auth(http.MethodGet, "/measures", s.listMeasures)
	auth(http.MethodPost, "/measures", s.createMeasure)
	auth(http.MethodGet, "/measures/:id", s.getMeasure)
	auth(http.MethodPatch, "/measures/:id", s.updateMeasure)

	auth(http.MethodGet, "/seasonality-profiles", s.listSeasonalityProfiles)
	auth(http.MethodPost, "/seasonality-profiles", s.createSeasonalityProfile)
	auth(http.MethodGet, "/seasonality-profiles/:id", s.getSeasonalityProfile)
	auth(http.MethodPatch, "/seasonality-profiles/:id", s.updateSeasonalityProfile)

	auth(http.MethodGet, "/users", s.listUsers)
	auth(http.MethodPost, "/users", s.createUser)
	auth(http.MethodGet, "/users/:id", s.getUser)
	auth(http.MethodPatch, "/users/:id", s.updateUser)
	auth(http.MethodGet, "/users/:id/roles", s.listUserRoles)
	auth(http.MethodPost, "/users/:id/roles", s.addUserRole)
	auth(http.MethodDelete, "/users/:id/roles/:role_id", s.removeUserRole)
	auth(http.MethodPost, "/users/:id/password-links", s.createPasswordLink)

	auth(http.MethodGet, "/tokens", s.listTokens)
	auth(http.MethodPost, "/tokens", s.createToken)
	auth(http.MethodDelete, "/tokens/:id", s.revokeToken)

	auth(http.MethodGet, "/audit", s.listAuditEvents)

	auth(http.MethodGet, "/rounds", s.listRounds)
	auth(http.MethodPost, "/rounds", s.createRound)
	auth(http.MethodGet, "/rounds/:id", s.getRound)
	auth(http.MethodPatch, "/rounds/:id", s.updateRound)
	auth(http.MethodGet, "/rounds/:id/transitions", s.listRoundTransitions)
	auth(http.MethodPost, "/rounds/:id/transitions", s.transitionRound)
	auth(http.MethodGet, "/rounds/:id/versions", s.listVersions)
	auth(http.MethodPost, "/rounds/:id/versions", s.createVersion)

	auth(http.MethodGet, "/versions/:id", s.getVersion)
	auth(http.MethodPost, "/versions/:id/freeze", s.freezeVersion)
	read("/versions/:id/targets", (*Server).getTargets)
	auth(http.MethodPut, "/versions/:id/targets", s.putTargets)
	auth(http.MethodGet, "/versions/:id/allocations", s.listAllocations)
	auth(http.MethodPost, "/versions/:id/allocations", s.allocate)
	read("/versions/:id/diff", (*Server).diffVersions)
	auth(http.MethodGet, "/versions/:id/consistency", s.getConsistency)
	auth(http.MethodGet, "/allocations/:id", s.getAllocation)
	auth(http.MethodGet, "/versions/:id/allocation-jobs", s.listAllocationJobs)
	auth(http.MethodPost, "/versions/:id/allocation-jobs", s.createAllocationJob)
	auth(http.MethodGet, "/allocation-jobs/:id", s.getAllocationJob)
	auth(http.MethodPost, "/allocation-jobs/:id/cancel", s.cancelAllocationJob)
	auth(http.MethodGet, "/versions/:id/cell-history", s.getCellHistory)

	auth(http.MethodGet, "/versions/:id/counterproposals", s.listCounterproposals)
	auth(http.MethodPost, "/versions/:id/counterproposals", s.createCounterproposal)
	auth(http.MethodGet, "/versions/:id/counterproposals/overview", s.counterproposalOverview)
	auth(http.MethodGet, "/counterproposals/:id", s.getCounterproposal)
	auth(http.MethodPatch, "/counterproposals/:id", s.updateCounterproposal)
	auth(http.MethodPost, "/counterproposals/:id/submit", s.submitCounterproposal)
	auth(http.MethodPost, "/counterproposals/:id/withdraw", s.withdrawCounterproposal)
	auth(http.MethodPost, "/counterproposals/:id/decision", s.decideCounterproposal)
	auth(http.MethodPost, "/counterproposals/:id/decision/preview", s.previewDecision)
	auth(http.MethodGet, "/counterproposals/:id/comments", s.listComments)
	auth(http.MethodPost, "/counterproposals/:id/comments", s.addComment)

	auth(http.MethodGet, "/versions/:id/approval", s.getApproval)
	auth(http.MethodPost, "/versions/:id/approval/actions", s.actOnApproval)

	upload(http.MethodPost, "/actuals/imports", s.importActuals)
	auth(http.MethodGet, "/actuals", s.listActuals)
	read("/rounds/:id/attainment", (*Server).getAttainment)
	read("/rounds/:id/rankings", (*Server).getRankings)
	auth(http.MethodGet, "/rounds/:id/scorecards", s.listScorecards)
	auth(http.MethodGet, "/rounds/:id/scorecards/:level", s.getScorecard)
	auth(http.MethodPut, "/rounds/:id/scorecards/:level", s.putScorecard)
	auth(http.MethodDelete, "/rounds/:id/scorecards/:level", s.deleteScorecard)
	read("/rounds/:id/scores", (*Server).getScores)
	auth(http.MethodPost, "/rounds/:id/scorecard-defaults", s.applyDefaultScorecards)
	auth(http.MethodPost, "/rounds/:id/score-issues", s.issueScores)
	auth(http.MethodGet, "/rounds/:id/score-issues", s.listScoreIssues)
	read("/versions/:id/export", (*Server).exportVersion)
	auth(http.MethodGet, "/versions/:id/letters/:org_unit", s.getLetter)
	auth(http.MethodPost, "/versions/:id/letter-batches", s.issueLetters)
	upload(http.MethodPost, "/versions/:id/imports", s.importTargets)
}
