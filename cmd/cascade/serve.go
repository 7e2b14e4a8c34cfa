package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/notify"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/web"
)

// Config is the configuration of a running service.
type Config struct {
	DB              string        // SQLite path or postgres:// URL
	Addr            string        // listen address; port 0 picks a free port
	Demo            bool          // load the demo data when the database is empty
	Migrate         bool          // apply pending migrations at start
	BodyLimit       int64         // largest request body in bytes
	BaseURL         string        // scheme and host clients reach the API at; empty: each request's own
	ShutdownTimeout time.Duration // how long in-flight requests may finish
	LogFormat       string        // "text" or "json"
	LogLevel        slog.Level
	// AuthFailureRate is how many failed authentications per second one
	// client address may cause (bursts of 10×) before its requests get
	// 429 ahead of authentication; 0 is the default, negative turns it off.
	AuthFailureRate float64
	// TrustProxyHeaders takes the client address from X-Forwarded-For,
	// for servers behind a load balancer that sets it.
	TrustProxyHeaders bool
	// TimeZone is the IANA time zone PDF target letters state dates and
	// times in; nil means UTC.
	TimeZone *time.Location
	// ReadDB, when set, is a postgres:// URL of a streaming replica of DB
	// that the heavy read-only requests read from while it keeps up;
	// ReadMaxLag bounds how far behind it may be (0: the default).
	ReadDB     string
	ReadMaxLag time.Duration
	// RequestTimeout bounds each request; 0 is api.DefaultRequestTimeout,
	// negative no bound. Long work runs as jobs, which no request waits on.
	RequestTimeout time.Duration
	// JobMaxCells is the most cells one allocation job may write.
	JobMaxCells int64
	// JobConcurrency is how many allocation jobs this server runs at once
	// (one on SQLite, which has one writer).
	JobConcurrency int
	// JobLease is how long a job this server runs stays its own without a
	// heartbeat (PostgreSQL): after a crash, another server (or this one
	// restarted) runs the job again once it has run out.
	JobLease time.Duration
	// Notify configures the background senders: webhooks, deadline
	// timers and e-mail.
	Notify NotifyConfig
}

// NotifyConfig configures the outbox's senders.
type NotifyConfig struct {
	// Off runs no sender in this server (another server sends).
	Off bool
	// WebhookAllow lists CIDR prefixes webhook targets may resolve to
	// although they are private, loopback or link-local.
	WebhookAllow string
	// WebhookTimeout bounds one delivery attempt.
	WebhookTimeout time.Duration
	// RetryBase, RetryMax and RetryFor shape the backoff: the first wait,
	// the longest, and how long after its event a delivery is tried.
	RetryBase, RetryMax, RetryFor time.Duration
	// Poll is how often the queues are looked at when idle.
	Poll time.Duration
	// SMTP is the optional e-mail sender; off while its Addr is empty.
	SMTP notify.SMTPConfig
}

// Main is the running service: the database, the HTTP server and its
// listener. Tests start it on port 0 with a temporary database.
type Main struct {
	Config Config
	Stdout io.Writer
	Logger *slog.Logger

	db       *sqlstore.DB
	server   *http.Server
	listener net.Listener
	done     chan error
	stopJobs context.CancelFunc
	jobsDone chan struct{}
	// stopSenders ends the background senders; senders is closed when
	// they have.
	stopSenders context.CancelFunc
	senders     chan struct{}
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config: Config{DB: "cascade.db", Addr: "127.0.0.1:8080", Migrate: true, BodyLimit: api.DefaultBodyLimit,
			ShutdownTimeout: 20 * time.Second, LogFormat: "text", LogLevel: slog.LevelInfo,
			RequestTimeout: api.DefaultRequestTimeout, JobMaxCells: planning.MaxAllocationJobCells, JobConcurrency: 2, JobLease: 30 * time.Second,
			Notify: NotifyConfig{WebhookTimeout: 15 * time.Second, RetryBase: planning.DefaultRetryPolicy.Base,
				RetryMax: planning.DefaultRetryPolicy.Max, RetryFor: planning.DefaultRetryPolicy.For, Poll: time.Second}},
		Stdout: os.Stdout,
	}
}

// Run opens the database, migrates it, loads the demo data if asked, and
// starts serving in the background. It returns once the server listens.
func (m *Main) Run(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = newLogger(os.Stderr, m.Config.LogFormat, m.Config.LogLevel)
	}
	if m.Config.ReadDB != "" && !sqlstore.IsPostgresDSN(m.Config.DB) {
		return errors.New("-read-db needs PostgreSQL: the database (-db) is a SQLite file, which has no replicas")
	}
	if m.db, err = sqlstore.Open(ctx, m.Config.DB); err != nil {
		return err
	}
	if m.Config.ReadDB != "" {
		if err := m.db.AttachReplica(ctx, m.Config.ReadDB, sqlstore.ReplicaOptions{MaxLag: m.Config.ReadMaxLag, Logger: m.Logger}); err != nil {
			return err
		}
	}
	if m.Config.Migrate {
		if err := m.db.Migrate(ctx); err != nil {
			return err
		}
	}
	// Statistics a killed server never refreshed after its last bulk
	// write are refreshed before serving; a failure only costs speed.
	statsCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if refreshed, err := m.db.RefreshStaleStats(statsCtx); err != nil {
		m.Logger.Warn("refreshing the cell table's statistics", slog.Any("error", err))
	} else if refreshed {
		m.Logger.Info("refreshed the cell table's statistics")
	}
	cancel()
	m.db.SetJobOptions(sqlstore.JobOptions{MaxCells: m.Config.JobMaxCells, Lease: m.Config.JobLease})
	svcs := sqlstore.NewServices(m.db)
	var demoUsers []demo.User
	if m.Config.Demo {
		res, err := demo.Load(ctx, svcs)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if err := demo.SetPasswords(ctx, svcs); err != nil {
			return fmt.Errorf("demo passwords: %w", err)
		}
		if res.Loaded {
			m.Logger.Info("demo data loaded")
		}
		demoUsers = res.Users
	}
	handler := api.NewServer(api.Config{Version: Version, BodyLimit: m.Config.BodyLimit, BaseURL: m.Config.BaseURL, DB: m.db.SQLDB(), Console: web.Assets(),
		AuthFailureRate: m.Config.AuthFailureRate, AuthFailureBurst: int(10 * m.Config.AuthFailureRate), TrustProxyHeaders: m.Config.TrustProxyHeaders,
		TimeZone: m.Config.TimeZone, Collectors: replicaCollectors(m.db), RequestTimeout: m.Config.RequestTimeout}, svcs, m.Logger)
	if m.listener, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return err
	}
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.startJobs(svcs)
	m.server.RegisterOnShutdown(handler.CloseStreams)
	if err := m.startSenders(svcs); err != nil {
		return err
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.server.Serve(m.listener) }()
	m.printBanner(demoUsers)
	return nil
}

// startJobs starts the worker that runs allocation jobs: jobs queued
// here, by other servers, or left behind by a server that died.
func (m *Main) startJobs(svcs planning.Services) {
	n := max(m.Config.JobConcurrency, 1)
	if m.db.Dialect() == sqlstore.SQLite {
		n = 1 // one writer: a second job would only wait for the first
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stopJobs, m.jobsDone = cancel, make(chan struct{})
	w := &planning.JobWorker{Jobs: svcs.AllocationJobs, Concurrency: n, Wake: m.db.JobQueued(),
		OnError: func(err error) { m.Logger.Warn("allocation jobs", slog.Any("error", err)) }}
	go func() {
		defer close(m.jobsDone)
		w.Run(ctx)
	}()
}

// URL returns the base URL the service answers on.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

func (m *Main) printBanner(users []demo.User) {
	u := m.URL()
	fmt.Fprintf(m.Stdout, "Cascade %s listening on %s\n", Version, u)
	fmt.Fprintf(m.Stdout, "  console:     %s/\n", u)
	fmt.Fprintf(m.Stdout, "  Swagger UI:  %s/swagger/index.html\n", u)
	fmt.Fprintf(m.Stdout, "  OpenAPI:     %s/openapi.json\n", u)
	fmt.Fprintf(m.Stdout, "  database:    %s\n", redactDSN(m.Config.DB))
	if m.Config.ReadDB != "" {
		fmt.Fprintf(m.Stdout, "  read replica: %s\n", redactDSN(m.Config.ReadDB))
	}
	if len(users) > 0 {
		fmt.Fprintln(m.Stdout, "  demo users (well-known tokens; console password demo-<username>: never use --demo with real data):")
		for _, du := range users {
			scope := ""
			if du.Scope != "" {
				scope = " @" + du.Scope
			}
			fmt.Fprintf(m.Stdout, "    %-20s %-36s %s\n", du.Username, string(du.Role)+scope, du.Token)
		}
		fmt.Fprintf(m.Stdout, "  try:  curl -H 'Authorization: Bearer %s' %s/api/v1/me\n", users[0].Token, u)
	}
}

// redactDSN hides a password in a postgres:// URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				return dsn[:i+3+c+1] + "***" + dsn[at:]
			}
		}
	}
	return dsn
}

// Wait blocks until the server stops on its own (an error) or ctx ends.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case err := <-m.done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close stops accepting connections, lets in-flight requests finish within
// the shutdown timeout, then closes the database.
func (m *Main) Close() error {
	var err error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		err = m.server.Shutdown(ctx)
	}
	if m.stopJobs != nil {
		// Running jobs roll back and go back to the queue: they run
		// again after the restart, here or on another server.
		m.stopJobs()
		<-m.jobsDone
	}
	if m.stopSenders != nil {
		m.stopSenders()
		<-m.senders
	}
	if m.db != nil {
		if cerr := m.db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// loadZone resolves an IANA time zone name from the zone database built
// into the binary (time/tzdata), so a name is known or unknown the same
// way on every machine. "Local" is refused: it would depend on the
// machine after all.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("want an IANA time zone name such as Asia/Shanghai or UTC")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as Asia/Shanghai", name)
	}
	return loc, nil
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := NewMain()
	m.Stdout = stdout
	fs, db := newFlagSet("serve", stderr)
	fs.StringVar(&m.Config.Addr, "addr", m.Config.Addr, "listen address (env CASCADE_ADDR)")
	fs.BoolVar(&m.Config.Demo, "demo", false, "load the demo data set into an empty database (env CASCADE_DEMO)")
	fs.BoolVar(&m.Config.Migrate, "migrate", true, "apply pending migrations at start (env CASCADE_MIGRATE)")
	noMigrate := fs.Bool("no-migrate", false, "the same as -migrate=false (env CASCADE_NO_MIGRATE)")
	fs.Int64Var(&m.Config.BodyLimit, "body-limit", m.Config.BodyLimit, "largest request body in bytes (env CASCADE_BODY_LIMIT)")
	fs.StringVar(&m.Config.BaseURL, "base-url", "", "scheme and host clients reach the server at, e.g. https://plan.example.com: the server URL of /openapi.json (env CASCADE_BASE_URL; default: the scheme and host of each request)")
	fs.DurationVar(&m.Config.ShutdownTimeout, "shutdown-timeout", m.Config.ShutdownTimeout, "how long in-flight requests may finish on shutdown (env CASCADE_SHUTDOWN_TIMEOUT)")
	enumVar(fs, &m.Config.LogFormat, "log-format", "text", "log format: text or json (env CASCADE_LOG_FORMAT)", "text", "json")
	fs.TextVar(&m.Config.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error (env CASCADE_LOG_LEVEL)")
	fs.Float64Var(&m.Config.AuthFailureRate, "auth-failure-rate", api.DefaultAuthFailureRate,
		"failed authentications per second one client address may cause (bursts of 10×) before its requests get 429; negative: no limit (env CASCADE_AUTH_FAILURE_RATE)")
	fs.BoolVar(&m.Config.TrustProxyHeaders, "trust-proxy-headers", false,
		"take the client address from X-Forwarded-For, behind a load balancer that sets it (env CASCADE_TRUST_PROXY_HEADERS)")
	fs.Func("time-zone", "IANA time zone PDF target letters state dates and times in, e.g. Asia/Shanghai; default UTC (env CASCADE_TIME_ZONE)",
		func(s string) error {
			loc, err := loadZone(s)
			m.Config.TimeZone = loc
			return err
		})
	fs.StringVar(&m.Config.ReadDB, "read-db", "",
		"postgres:// URL of a streaming replica of -db that the target grid, exports, diffs, attainment, rankings and scores read from while it keeps up (env CASCADE_READ_DB)")
	fs.DurationVar(&m.Config.ReadMaxLag, "read-max-lag", sqlstore.DefaultReplicaMaxLag,
		"how far behind the primary the read replica may fall before those reads go to the primary (env CASCADE_READ_MAX_LAG)")
	fs.DurationVar(&m.Config.RequestTimeout, "request-timeout", m.Config.RequestTimeout,
		"how long one request may take before it is abandoned with 503; negative: no bound. Long allocations run as jobs (POST /versions/{id}/allocation-jobs), which no request waits on (env CASCADE_REQUEST_TIMEOUT)")
	fs.Int64Var(&m.Config.JobMaxCells, "job-max-cells", m.Config.JobMaxCells, "the most cells one allocation job may write (env CASCADE_JOB_MAX_CELLS)")
	fs.IntVar(&m.Config.JobConcurrency, "job-concurrency", m.Config.JobConcurrency, "how many allocation jobs this server runs at once on PostgreSQL; SQLite runs one (env CASCADE_JOB_CONCURRENCY)")
	fs.DurationVar(&m.Config.JobLease, "job-lease", m.Config.JobLease,
		"on PostgreSQL, how long a job of a server that stopped answering stays its own before another server runs it again (env CASCADE_JOB_LEASE)")
	n := &m.Config.Notify
	fs.BoolVar(&n.Off, "no-notify", false, "send no webhooks, deadline reminders or e-mail from this server (env CASCADE_NO_NOTIFY)")
	fs.StringVar(&n.WebhookAllow, "webhook-allow", "", "comma-separated CIDR prefixes webhook targets may resolve to although private, loopback or link-local, e.g. 127.0.0.0/8 for tests or 10.20.0.0/16 on premises (env CASCADE_WEBHOOK_ALLOW)")
	fs.DurationVar(&n.WebhookTimeout, "webhook-timeout", n.WebhookTimeout, "time limit of one webhook delivery attempt (env CASCADE_WEBHOOK_TIMEOUT)")
	fs.DurationVar(&n.RetryBase, "webhook-retry-base", n.RetryBase, "first wait before a failed delivery is retried; each further wait doubles, plus jitter (env CASCADE_WEBHOOK_RETRY_BASE)")
	fs.DurationVar(&n.RetryMax, "webhook-retry-max", n.RetryMax, "longest wait between delivery attempts (env CASCADE_WEBHOOK_RETRY_MAX)")
	fs.DurationVar(&n.RetryFor, "webhook-retry-for", n.RetryFor, "how long after its event a delivery is still tried; at least 24h (env CASCADE_WEBHOOK_RETRY_FOR)")
	fs.DurationVar(&n.Poll, "notify-poll", n.Poll, "how often idle senders look for work (env CASCADE_NOTIFY_POLL)")
	fs.StringVar(&n.SMTP.Addr, "smtp-addr", "", "host:port of an SMTP submission server for reminder, escalation and decision e-mail; empty: no e-mail (env CASCADE_SMTP_ADDR)")
	fs.StringVar(&n.SMTP.From, "smtp-from", "cascade@localhost", "sender address of e-mail (env CASCADE_SMTP_FROM)")
	fs.StringVar(&n.SMTP.Username, "smtp-username", "", "SMTP PLAIN user name; empty: no authentication (env CASCADE_SMTP_USERNAME)")
	smtpPassword := os.Getenv("CASCADE_SMTP_PASSWORD")
	if err := parse(fs, args); err != nil {
		return err
	}
	if m.Config.JobMaxCells < 1 || m.Config.JobLease < time.Second {
		fmt.Fprintln(stderr, "-job-max-cells must be at least 1 and -job-lease at least 1s")
		return errUsage
	}
	n.SMTP.Password = smtpPassword
	if m.Config.BaseURL != "" {
		if err := checkBaseURL(m.Config.BaseURL); err != nil {
			return err
		}
	}
	m.Config.DB = *db
	if *noMigrate {
		m.Config.Migrate = false
	}
	m.Logger = newLogger(stderr, m.Config.LogFormat, m.Config.LogLevel)
	if n.RetryFor < 24*time.Hour {
		m.Logger.Warn("webhook deliveries are retried for less than 24 hours", slog.Duration("webhook_retry_for", n.RetryFor))
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	err := m.Wait(ctx)
	m.Logger.Info("shutting down; letting in-flight requests finish")
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}
