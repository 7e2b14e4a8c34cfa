// Command cascade-tools measures and load-tests Cascade from outside the
// service: it uses only the project's public packages (api, planning,
// planning/sqlstore), and keeps the benchmark and load-test dependencies
// (vegeta and its t-digest, a DNS cache) out of the service binary.
//
//	cascade-tools bench [--db DSN]        measure the service against the database's own tools
//	cascade-tools loadtest --db DSN       load-test several `cascade serve` processes on one database
//	cascade-tools version                 print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `cascade-tools — benchmark and load test for Cascade.

Usage:
  cascade-tools bench [flags]        build a large data set in a fresh database, run the
                                     service in this process and measure it against the
                                     database's own client (see cascade-tools bench -h)
  cascade-tools loadtest --db DSN [--fresh] [--duration 60s] [--rate 50] [--users 50] [--short]
                                     run "cascade serve" processes on loopback ports against
                                     one database under simulated users; check nothing is
                                     lost (see cascade-tools loadtest -h)
  cascade-tools version              print the module version and VCS revision

Both commands take --db (env CASCADE_DB): a SQLite file path or a postgres:// URL.
`

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "loadtest":
		err = runLoadtest(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "cascade-tools", buildVersion())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cascade-tools: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "cascade-tools:", err)
		return 1
	}
}

// errUsage marks an error already explained to the user by the flag package.
var errUsage = errors.New("usage")

// buildVersion is the module version and VCS revision the binary was built
// from, as the Go toolchain records them.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

// newFlagSet returns a flag set that reports errors on stderr and has the
// --db flag both commands share.
func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("cascade-tools "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", envOr("CASCADE_DB", "cascade.db"), "database: a SQLite file path or a postgres:// URL (env CASCADE_DB)")
	return fs, db
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
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

// service is the Cascade API running in this process on a loopback port,
// built from the public packages as cmd/cascade builds it: the benchmark
// measures it, and tests start it beside the ones they run as processes.
type service struct {
	DB       *sqlstore.DB
	server   *http.Server
	listener net.Listener
}

// startService opens and migrates dsn and serves the API on 127.0.0.1:0.
func startService(ctx context.Context, dsn string, logger *slog.Logger, configure ...func(*api.Config)) (_ *service, err error) {
	s := &service{}
	if s.DB, err = sqlstore.Open(ctx, dsn); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.DB.Migrate(ctx); err != nil {
		return nil, err
	}
	cfg := api.Config{Version: buildVersion(), BodyLimit: api.DefaultBodyLimit, DB: s.DB.SQLDB()}
	for _, f := range configure {
		f(&cfg)
	}
	handler := api.NewServer(cfg, sqlstore.NewServices(s.DB), logger)
	if s.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() { _ = s.server.Serve(s.listener) }()
	return s, nil
}

// URL returns the base URL the service answers on.
func (s *service) URL() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.listener.Addr().(*net.TCPAddr).Port)
}

// Close stops the server, letting requests in flight finish, and closes the
// database.
func (s *service) Close() error {
	var err error
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = s.server.Shutdown(ctx)
	}
	if s.DB != nil {
		if cerr := s.DB.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// startJobs runs a worker for allocation jobs in this process, as `cascade
// serve` does, until the returned function stops it (and waits for it).
func (s *service) startJobs(logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &planning.JobWorker{Jobs: sqlstore.NewServices(s.DB).AllocationJobs, Concurrency: 1, Wake: s.DB.JobQueued(),
		OnError: func(err error) { logger.Warn("allocation jobs", slog.Any("error", err)) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
