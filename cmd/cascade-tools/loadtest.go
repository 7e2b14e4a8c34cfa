package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// loadConfig is the configuration of `cascade loadtest`.
type loadConfig struct {
	DB          string
	Fresh       bool
	Duration    time.Duration
	Rate        int // requests per second, all users together
	Users       int
	Servers     int
	Units       int // org units of the synthetic organisation
	MaxRequests int // hard bound on the requests the users send
	Binary      string
	Seed        uint64
	IdemKeys    bool // send Idempotency-Key with the POSTs
}

const loadtestUsage = `usage: cascade-tools loadtest --db DSN [--fresh] [--duration 60s] [--rate 50] [--users 50] [--servers 2] [--short]

Starts --servers "cascade serve" processes of --binary on loopback ports
against one database, fills the database with a synthetic organisation and
its users, and lets --users simulated users (product managers allocating and
editing their lines with If-Match, branch managers drafting and submitting
counterproposals, auditors reading the grid) send requests at a fixed --rate,
round-robin across the servers, for --duration. Then it checks that no
answer was a 5xx, that every acknowledged write is in the database (no lost
update), and that the version is consistent, and prints a table per
endpoint. Exits 1 when a check fails.

The database must be empty, or use --fresh: a new database is created next
to --db (PostgreSQL: on the same server, which needs CREATEDB; SQLite: a
temporary file) and dropped at the end.
`

func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, db := newFlagSet("loadtest", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadtestUsage); fs.PrintDefaults() }
	cfg := loadConfig{}
	fs.BoolVar(&cfg.Fresh, "fresh", false, "create a throw-away database next to --db and drop it afterwards")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the users send requests")
	fs.IntVar(&cfg.Rate, "rate", 50, "requests per second, all users together")
	fs.IntVar(&cfg.Users, "users", 50, "simulated users, each with a token of its own")
	fs.IntVar(&cfg.Servers, "servers", 2, "server processes sharing the database")
	fs.IntVar(&cfg.Units, "units", 200, "org units of the synthetic organisation")
	fs.IntVar(&cfg.MaxRequests, "max-requests", 0, "stop after this many requests (default rate × duration)")
	fs.StringVar(&cfg.Binary, "binary", envOr("CASCADE_BINARY", ""), "the cascade service binary the servers run (env CASCADE_BINARY; default: cascade beside this program, else on the PATH)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed of the users' choices (default from the clock)")
	fs.BoolVar(&cfg.IdemKeys, "idempotency-keys", true, "send an Idempotency-Key with every POST, and retry with it after a transport error")
	short := fs.Bool("short", false, "the CI form: 10s at 25 requests per second")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.DB = *db
	if *short {
		cfg.Duration, cfg.Rate = 10*time.Second, 25
	}
	switch {
	case cfg.Duration <= 0 || cfg.Duration > time.Hour:
		return usageError(stderr, "--duration must be between 1s and 1h")
	case cfg.Rate < 1 || cfg.Rate > 1000:
		return usageError(stderr, "--rate must be between 1 and 1000")
	case cfg.Users < 3 || cfg.Users > 500:
		return usageError(stderr, "--users must be between 3 and 500")
	case cfg.Servers < 1 || cfg.Servers > 8:
		return usageError(stderr, "--servers must be between 1 and 8")
	case cfg.Units < 20 || cfg.Units > 5000:
		return usageError(stderr, "--units must be between 20 and 5000")
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = int(float64(cfg.Rate) * cfg.Duration.Seconds())
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Binary == "" {
		bin, err := findServiceBinary()
		if err != nil {
			return err
		}
		cfg.Binary = bin
	}
	if cfg.Fresh {
		dsn, drop, err := freshDatabase(ctx, cfg.DB)
		if err != nil {
			return err
		}
		defer drop()
		cfg.DB = dsn
	}
	rep, err := loadtest(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	rep.print(stdout)
	if problems := rep.failures(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "loadtest: FAIL:", p)
		}
		return errors.New("the load test failed")
	}
	fmt.Fprintln(stdout, "PASS: no 5xx, no lost update, no inconsistency")
	return nil
}

// findServiceBinary finds the service the load test runs: a cascade
// executable in this program's directory (go build -o DIR ./cmd/...
// puts them together), else on the PATH.
func findServiceBinary() (string, error) {
	if exe, err := os.Executable(); err == nil {
		sibling := filepath.Join(filepath.Dir(exe), "cascade")
		if fi, err := os.Stat(sibling); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return sibling, nil
		}
	}
	if bin, err := exec.LookPath("cascade"); err == nil {
		return bin, nil
	}
	return "", errors.New("no cascade binary beside this program or on the PATH: build it (go build -o bin/ ./cmd/...) or pass --binary")
}

func usageError(stderr io.Writer, msg string) error {
	fmt.Fprintln(stderr, msg)
	return errUsage
}

// freshDatabase creates an empty database beside dsn and returns its DSN
// and a function that drops it.
func freshDatabase(ctx context.Context, dsn string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	if !sqlstore.IsPostgresDSN(dsn) {
		dir, err := os.MkdirTemp("", "cascade-loadtest-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "cascade.db"), func() { os.RemoveAll(dir) }, nil
	}
	name := "cascade_load_" + suffix
	fresh, err := sqlstore.CreateDatabase(ctx, dsn, name)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	return fresh, func() { _ = sqlstore.DropDatabase(context.Background(), dsn, name) }, nil
}

// loadtest runs one load test and returns its report.
func loadtest(ctx context.Context, cfg loadConfig, stdout io.Writer) (*loadReport, error) {
	started := time.Now()
	data, err := buildLoadData(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "data set: %d org units, %d product lines, %d users (%d product managers, %d branch managers, %d auditors) in %s\n",
		len(data.Units), len(data.LineCodes), len(data.PMs)+len(data.BMs)+len(data.Readers), len(data.PMs), len(data.BMs), len(data.Readers),
		time.Since(started).Round(time.Millisecond))

	servers := make([]*serverProcess, 0, cfg.Servers)
	defer func() {
		for _, s := range servers {
			_ = s.Stop(20 * time.Second)
		}
	}()
	for range cfg.Servers {
		s, err := startServer(ctx, cfg.Binary, cfg.DB)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
		fmt.Fprintf(stdout, "server %d: %s\n", len(servers), s.URL)
	}
	fmt.Fprintf(stdout, "load: %d users, %d requests/s for %s (at most %d requests), round-robin over %d servers\n",
		cfg.Users, cfg.Rate, cfg.Duration, cfg.MaxRequests, len(servers))

	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.URL
	}
	run := newLoadRun(cfg, data, urls)
	run.start(ctx)
	rep := run.wait()
	if err := verifyLoad(ctx, cfg, data, run, rep); err != nil {
		return nil, err
	}
	for i, s := range servers {
		if n := countServerErrors(s.Logs()); n > 0 {
			rep.ServerErrors += n
			fmt.Fprintf(stdout, "server %d logged %d internal errors or panics:\n%s\n", i+1, n, s.Logs())
		}
	}
	return rep, nil
}

// loadRun is one run of the simulated users: a pacer hands out the ticks,
// each user takes one per request.
type loadRun struct {
	cfg     loadConfig
	data    *loadData
	urls    []string
	next    atomic.Uint64 // round-robin counter
	ticks   chan struct{}
	owed    atomic.Int64 // follow-up requests sent without a tick, which the pacer skips
	over    atomic.Bool  // the pacer has stopped
	stats   *loadStats
	acks    *loadAcks
	wg      sync.WaitGroup
	began   time.Time
	paced   time.Duration // how long the pacer handed out ticks
	elapsed time.Duration // until the last answer
}

func newLoadRun(cfg loadConfig, data *loadData, urls []string) *loadRun {
	return &loadRun{cfg: cfg, data: data, urls: urls, ticks: make(chan struct{}),
		stats: newLoadStats(), acks: newLoadAcks()}
}

// url returns the full URL of path on the next server in turn.
func (r *loadRun) url(path string) string {
	n := r.next.Add(1)
	return r.urls[int(n)%len(r.urls)] + "/api/v1" + path
}

// tick waits for the pacer's permission to send one request; false means
// the run is over.
func (r *loadRun) tick(ctx context.Context) bool {
	select {
	case _, ok := <-r.ticks:
		return ok
	case <-ctx.Done():
		return false
	}
}
