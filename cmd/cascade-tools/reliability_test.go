package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// The reliability tests run the real binary: built once per test run by
// cascadeBinary into a directory TestMain removes at the end.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// cascadeBinary builds the service, ../cascade, once and returns the path
// of the executable.
func cascadeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "cascade-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "cascade")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", binPath, "../cascade").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		t.Logf("built %s in %s", binPath, time.Since(start).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// longTests reports whether CASCADE_TEST_LONG asks for the long forms of the
// reliability tests.
func longTests() bool { return os.Getenv("CASCADE_TEST_LONG") != "" }

// openStore opens a database the test fills or inspects directly, beside
// the servers that use it.
func openStore(t *testing.T, dsn string) (*sqlstore.DB, planning.Services) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, sqlstore.NewServices(db)
}

// startServerT starts a server process for the test and kills it when the
// test ends.
func startServerT(t *testing.T, bin, dsn string, extra ...string) *serverProcess {
	t.Helper()
	p, err := startServer(context.Background(), bin, dsn, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.Kill()
		}
	})
	return p
}

// TestPostgresRestart stops the shared PostgreSQL under load and starts it
// again: while it is down the server answers 503 problem+json (and /readyz
// 503), it recovers by itself within seconds of PostgreSQL coming back, and
// every write it acknowledged is there. Restarting PostgreSQL breaks every
// other test using it, so this one runs only when asked, alone:
//
//	CASCADE_TEST_PG_RESTART=1 CASCADE_TEST_PG_DSN=… go test -run TestPostgresRestart ./cmd/cascade
func TestPostgresRestart(t *testing.T) {
	switch {
	case os.Getenv("CASCADE_TEST_PG_RESTART") == "":
		t.Skip("CASCADE_TEST_PG_RESTART not set: the PostgreSQL restart test runs only on request, as a step of its own")
	case storetest.PGDSN() == "":
		fmt.Println("TestPostgresRestart: CASCADE_TEST_PG_DSN not set: skipped")
		t.Skip("CASCADE_TEST_PG_DSN not set")
	case os.Geteuid() != 0:
		fmt.Println("TestPostgresRestart: not root: cannot restart PostgreSQL; skipped")
		t.Skip("not root: cannot restart PostgreSQL")
	}
	version, cluster := pgCluster(t)
	pgctl := func(action ...string) {
		t.Helper()
		args := append([]string{"--skip-systemctl-redirect", version, cluster}, action...)
		out, err := exec.Command("pg_ctlcluster", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
		}
	}

	bin := cascadeBinary(t)
	dsn := storetest.DSN(t, sqlstore.Postgres)
	data := buildCrashData(t, dsn, 200, 5, 1)
	srv := startServerT(t, bin, dsn)
	// Registered last, so it runs first: PostgreSQL is up again before the
	// test database is dropped, whatever happened.
	t.Cleanup(func() {
		_ = exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start").Run()
	})
	ctx := context.Background()
	httpc := newHTTPClient(4)
	acked := newAckedWrites()

	// The watcher reads /readyz and the version every 50ms and notes what
	// came back when; the writer keeps sending small writes.
	type probe struct {
		at              time.Time
		ready, readBack int
		problem         bool
	}
	var (
		mu     sync.Mutex
		probes []probe
		writes []time.Time // when each acknowledged write was answered
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// Its own token: the writer's stays well within the rate limit.
		admin := &apiClient{http: httpc, token: data.AdminToken}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ready := admin.do(ctx, http.MethodGet, srv.URL+"/readyz", nil)
			v := admin.do(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/versions/%d", srv.URL, data.Scratch), nil)
			if v.Status != http.StatusOK && !(v.Status == http.StatusServiceUnavailable && v.isProblem()) {
				t.Errorf("GET version while PostgreSQL restarts: %s", v)
			}
			mu.Lock()
			probes = append(probes, probe{at: time.Now(), ready: ready.Status, readBack: v.Status, problem: v.isProblem()})
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		seq, etag := 0, ""
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			before := len(acked.edits) + len(acked.cps)
			if !smallWrite(ctx, t, srv.URL, data, httpc, acked, &seq, &etag) {
				t.Errorf("the server stopped answering while PostgreSQL restarted")
				return
			}
			if len(acked.edits)+len(acked.cps) > before {
				mu.Lock()
				writes = append(writes, time.Now())
				mu.Unlock()
			}
		}
	}()

	// Two outages: a clean shutdown (fast: sessions are terminated) and a
	// crash (immediate: PostgreSQL recovers from its WAL on start).
	type outage struct {
		mode                             string
		stopAt, stoppedAt, startAt, upAt time.Time
	}
	var outages []outage
	for _, mode := range []string{"fast", "immediate"} {
		time.Sleep(2 * time.Second)
		o := outage{mode: mode, stopAt: time.Now()}
		pgctl("stop", "-m", mode)
		o.stoppedAt = time.Now()
		time.Sleep(3 * time.Second)
		o.startAt = time.Now()
		pgctl("start")
		o.upAt = time.Now()
		outages = append(outages, o)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for i, o := range outages {
		end := time.Now()
		if i+1 < len(outages) {
			end = outages[i+1].stopAt
		}
		// While PostgreSQL is stopped (from the stop's return to the start's
		// call) every probe must be 503 problem+json; from the start's
		// return on, the time to the first success is the recovery time,
		// and after it nothing may fail.
		downReady, downRead, afterReady, afterRead := map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}
		var readyAgain, readAgain, writeAgain time.Duration = -1, -1, -1
		for _, p := range probes {
			switch {
			case p.at.After(o.stoppedAt) && p.at.Before(o.startAt):
				downReady[p.ready]++
				downRead[p.readBack]++
				if p.readBack != http.StatusServiceUnavailable || !p.problem {
					t.Errorf("a read while PostgreSQL was down answered %d (problem+json: %v), want 503 problem+json", p.readBack, p.problem)
				}
			case p.at.After(o.upAt) && p.at.Before(end):
				if readyAgain < 0 && p.ready == http.StatusOK {
					readyAgain = p.at.Sub(o.upAt)
				}
				if readAgain < 0 && p.readBack == http.StatusOK {
					readAgain = p.at.Sub(o.upAt)
				}
				if readAgain >= 0 {
					afterReady[p.ready]++
					afterRead[p.readBack]++
				}
			}
		}
		for _, w := range writes {
			if w.After(o.upAt) {
				writeAgain = w.Sub(o.upAt)
				break
			}
		}
		t.Logf("PostgreSQL %s/%s stopped (%s): the stop took %s, down %s, the start took %s",
			version, cluster, o.mode, o.stoppedAt.Sub(o.stopAt).Round(time.Millisecond), o.startAt.Sub(o.stoppedAt).Round(time.Millisecond),
			o.upAt.Sub(o.startAt).Round(time.Millisecond))
		t.Logf("  while down: /readyz %v, GET version %v (status: count)", downReady, downRead)
		t.Logf("  after the start returned: /readyz 200 after %s, the first read after %s, the first acknowledged write after %s; then /readyz %v, GET version %v",
			readyAgain.Round(time.Millisecond), readAgain.Round(time.Millisecond), writeAgain.Round(time.Millisecond), afterReady, afterRead)
		switch {
		case downReady[http.StatusServiceUnavailable] == 0 || len(downReady) > 1:
			t.Errorf("/readyz while PostgreSQL was down answered %v, want only 503", downReady)
		case readyAgain < 0 || readyAgain > 10*time.Second:
			t.Errorf("/readyz did not answer 200 within 10s of PostgreSQL's return")
		case readAgain < 0 || writeAgain < 0 || writeAgain > 10*time.Second:
			t.Errorf("the server did not serve reads and writes again within 10s (read %s, write %s)", readAgain, writeAgain)
		case len(afterRead) > 1 || len(afterReady) > 1:
			t.Errorf("after recovering, the server still failed: /readyz %v, GET version %v", afterReady, afterRead)
		}
	}
	if logs := srv.Logs(); strings.Contains(logs, `msg="internal error"`) || strings.Contains(logs, "status=500") {
		t.Errorf("the server answered 500 during the outage:\n%s", logs)
	}
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkAckedSmallWrites(t, db, data, acked)
	t.Logf("%d acknowledged edits and %d counterproposals all present", len(acked.edits), len(acked.cps))
}

// pgCluster returns the version and name of the PostgreSQL cluster that
// CASCADE_TEST_PG_DSN names: CASCADE_TEST_PG_CLUSTER ("15/main"), or else
// the main cluster of the newest version in /etc/postgresql, as
// scripts/postgres.sh picks it.
func pgCluster(t *testing.T) (version, name string) {
	t.Helper()
	if v, n, ok := strings.Cut(os.Getenv("CASCADE_TEST_PG_CLUSTER"), "/"); ok {
		return v, n
	}
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil {
		t.Skipf("no /etc/postgresql: %v", err)
	}
	best := ""
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("/etc/postgresql", e.Name(), "main")); err != nil {
			continue
		}
		if n, err := strconv.ParseFloat(e.Name(), 64); err == nil {
			if b, _ := strconv.ParseFloat(best, 64); best == "" || n > b {
				best = e.Name()
			}
		}
	}
	if best == "" {
		t.Skip("no PostgreSQL cluster in /etc/postgresql")
	}
	return best, "main"
}

// TestIdempotentBurst sends a burst of concurrent POSTs with
// Idempotency-Keys, each of whose handlers reads through the connection
// pool while its transaction holds a connection: more of them than the
// pool has connections must not starve each other (they once all stalled
// until the request timeout and answered 503).
func TestIdempotentBurst(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			data := buildCrashData(t, dsn, 60, 2, 1)
			m, err := startService(context.Background(), dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			const burst = 48 // more than twice PostgreSQL's pool of 20
			bm := &apiClient{http: newHTTPClient(burst), token: data.BMToken}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			var wg sync.WaitGroup
			results := make([]apiResponse, burst)
			for i := range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := api.CounterproposalCreate{OrgUnit: data.BranchCode, Title: fmt.Sprintf("burst %d", i), Lines: []api.CPLineInput{{
						ProductLine: data.LineCodes[0], Measure: data.Measure, Period: "year", Proposed: "1000.00", Reason: "burst"}}}
					results[i] = bm.do(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/versions/%d/counterproposals", m.URL(), data.Proposals), body,
						api.HeaderIdempotencyKey, fmt.Sprintf("burst-%d", i))
				}()
			}
			wg.Wait()
			for i, r := range results {
				if r.Status != http.StatusCreated {
					t.Fatalf("request %d of the burst: %s", i, r)
				}
			}
			t.Logf("%d concurrent idempotent creations answered 201 in %s", burst, time.Since(start).Round(time.Millisecond))
		})
	}
}
