package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// TestKillDuringStartup kills `cascade serve --demo` with SIGKILL at a
// random instant of its first 500 ms, half of them within the time a start
// takes (opening the database, migrating,
// loading the demo data, starting to listen), on a fresh database and on
// a populated one, on SQLite and on PostgreSQL. After every kill the next
// start must succeed, and the data must be whole: on a fresh database
// either nothing or the complete demo data set, and a populated database
// exactly as it was.
//
// 25 kills per phase and database (100 with PostgreSQL); CASCADE_STARTUP_KILLS=N
// sets N, CASCADE_CRASH_SEED replays the random instants of a run.
func TestKillDuringStartup(t *testing.T) {
	kills := envInt("CASCADE_STARTUP_KILLS", 25)
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CASCADE_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	bin := cascadeBinary(t)
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			if d == sqlstore.Postgres && storetest.PGDSN() == "" {
				fmt.Println("TestKillDuringStartup: CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
				t.Skip("CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
			}
			t.Logf("seed %d (CASCADE_CRASH_SEED=%d replays it)", seed, seed)
			rng := rand.New(rand.NewPCG(seed, uint64(len(d))))
			// Every other kill falls within the time an unkilled first
			// start takes to answer, where the migrations and the demo
			// load run; the others anywhere in the first 500 ms.
			dsn0 := storetest.DSN(t, d)
			began := time.Now()
			startServerT(t, bin, dsn0, "--demo").Kill()
			window := min(time.Since(began), 500*time.Millisecond)
			t.Logf("an unkilled first start answered after %s", window.Round(time.Millisecond))
			within := func(i int) time.Duration {
				if i%2 == 1 {
					return window
				}
				return 500 * time.Millisecond
			}
			t.Run("fresh", func(t *testing.T) {
				states := map[string]int{}
				for i := 1; i <= kills; i++ {
					dsn := storetest.DSN(t, d)
					at := killDuringStart(t, bin, dsn, rng, within(i))
					state := startupState(t, dsn)
					states[state]++
					p := startServerT(t, bin, dsn, "--demo")
					checkDemoWhole(t, p.URL, dsn)
					p.Kill()
					t.Logf("kill %2d at %3d ms of a first start (%s): the next start succeeded with the whole demo data", i, at.Milliseconds(), state)
				}
				t.Logf("%s, fresh: %d kills, the database then held: %v; 0 failed starts", d, kills, states)
			})
			t.Run("populated", func(t *testing.T) {
				dsn := storetest.DSN(t, d)
				populate(t, bin, dsn)
				db, _ := openStore(t, dsn)
				before := storetest.TakeSnapshot(t, db, "tokens.last_used_at")
				db.Close()
				for i := 1; i <= kills; i++ {
					at := killDuringStart(t, bin, dsn, rng, within(i))
					p := startServerT(t, bin, dsn, "--demo")
					checkDemoWhole(t, p.URL, dsn)
					p.Kill()
					db, err := sqlstore.Open(context.Background(), dsn)
					if err != nil {
						t.Fatal(err)
					}
					after := storetest.TakeSnapshot(t, db, "tokens.last_used_at")
					db.Close()
					if diff := before.Diff(after); diff != nil {
						t.Fatalf("kill %d at %s changed the populated database:\n%s", i, at, strings.Join(diff, "\n"))
					}
					t.Logf("kill %2d at %3d ms of a restart: the next start succeeded, the data unchanged", i, at.Milliseconds())
				}
			})
		})
	}
}

// startupState says how far a killed first start got: the migrations
// recorded, and whether the demo data is there (whole, as checked after
// the next start).
func startupState(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var migrated, units int
	if err := storetest.Bun(db).NewRaw("SELECT COUNT(*) FROM bun_migrations").Scan(context.Background(), &migrated); err != nil {
		return "no schema"
	}
	if migrated == 0 {
		return "no schema"
	}
	if err := storetest.Bun(db).NewRaw("SELECT COUNT(*) FROM org_units").Scan(context.Background(), &units); err != nil {
		t.Fatalf("%d migrations recorded, but no org_units table: %v", migrated, err)
	}
	if units == 0 {
		return "schema, no demo data"
	}
	return "schema and demo data"
}

// killDuringStart starts `cascade serve --demo` on dsn, kills it with
// SIGKILL after a random delay shorter than window, and returns the delay.
func killDuringStart(t *testing.T, bin, dsn string, rng *rand.Rand, window time.Duration) time.Duration {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", dsn, "--addr", "127.0.0.1:0", "--demo", "--log-level", "warn")
	cmd.Env = serverEnv()
	at := time.Duration(rng.Int64N(int64(window)))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(at)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return at
}

// checkDemoWhole checks that the database behind a running server holds
// the whole demo data set, and that a demo token works.
func checkDemoWhole(t *testing.T, base, dsn string) {
	t.Helper()
	c := &apiClient{http: http.DefaultClient, token: demo.TokenFor("strategy")}
	if r := c.do(context.Background(), http.MethodGet, base+"/api/v1/me", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /me with a demo token: %s", r)
	}
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svcs := sqlstore.NewServices(db)
	ctx := planning.NewContextWithActor(context.Background(), planning.SystemActor())
	users, _, err := svcs.Users.FindUsers(ctx, planning.UserFilter{Page: planning.PageRequest{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	for _, du := range demo.Users() {
		if !slices.Contains(names, du.Username) {
			t.Fatalf("demo user %s missing (users: %v)", du.Username, names)
		}
	}
	lines, _, err := svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{Page: planning.PageRequest{Limit: 1000}})
	if err != nil || len(lines) != 12 {
		t.Fatalf("%d product lines (%v), want 12", len(lines), err)
	}
	ms, _, err := svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{Page: planning.PageRequest{Limit: 1000}})
	// Five amounts that add up and the deck's six other KPIs.
	if err != nil || len(ms) != 11 {
		t.Fatalf("%d measures (%v), want 11", len(ms), err)
	}
	ps, _, err := svcs.Seasonality.FindSeasonalityProfiles(ctx, planning.SeasonalityProfileFilter{Page: planning.PageRequest{Limit: 1000}})
	if err != nil || len(ps) != 3 {
		t.Fatalf("%d seasonality profiles (%v), want 3", len(ps), err)
	}
}

// populate fills dsn with the demo data and a planning round with an
// allocation, through a server.
func populate(t *testing.T, bin, dsn string) {
	t.Helper()
	p := startServerT(t, bin, dsn, "--demo")
	defer p.Kill()
	ctx := context.Background()
	s := &apiClient{http: http.DefaultClient, token: demo.TokenFor("strategy")}
	pm := &apiClient{http: http.DefaultClient, token: demo.TokenFor("pm-industry")}
	var round api.Round
	if err := s.do(ctx, http.MethodPost, p.URL+"/api/v1/rounds", map[string]any{"code": "FY2027", "name": "Plan 2027",
		"fiscal_year": 2027, "first_month": 1, "measures": []string{"revenue"}}).decode(&round); err != nil {
		t.Fatal(err)
	}
	if err := s.do(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/rounds/%d/transitions", p.URL, round.ID), map[string]any{"to": "open"}).decode(&round); err != nil {
		t.Fatal(err)
	}
	if r := pm.do(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/versions/%d/allocations", p.URL, *round.WorkingVersionID), map[string]any{
		"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "12000000.00"}},
		"levels": []map[string]any{{"method": "even"}, {"method": "even"}, {"method": "even"}}}); r.Status != http.StatusCreated {
		t.Fatalf("allocation: %s", r)
	}
}

// TestRetryAfterKill kills the server in the middle of an allocation sent
// with an Idempotency-Key, starts it again, and retries the request with
// the same key until it is answered: the retry must resolve within
// seconds of the restart (the key dies with the request that held it), with
// the allocation done exactly once. It reports how long the retry took
// after the kill and after the restart.
func TestRetryAfterKill(t *testing.T) {
	tries := envInt("CASCADE_RETRY_KILLS", 5)
	bin := cascadeBinary(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			if d == sqlstore.Postgres && storetest.PGDSN() == "" {
				fmt.Println("TestRetryAfterKill: CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
				t.Skip("CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
			}
			dsn := storetest.DSN(t, d)
			data := buildCrashData(t, dsn, 600, 15, tries+1)
			ctx := context.Background()
			pm := &apiClient{http: newHTTPClient(2), token: data.PMToken}
			url := func(base string, v int64) string { return fmt.Sprintf("%s/api/v1/versions/%d/allocations", base, v) }

			srv := startServerT(t, bin, dsn)
			start := time.Now()
			if r := pm.do(ctx, http.MethodPost, url(srv.URL, data.Targets[0]), data.Request); r.Status != http.StatusCreated {
				t.Fatalf("unkilled allocation: %s", r)
			}
			expected := time.Since(start)
			t.Logf("an unkilled allocation of %d cells took %s", data.FullCells, expected.Round(time.Millisecond))

			var fromKill, fromReady []time.Duration
			replays, refused := 0, 0
			for i := 1; i <= tries; i++ {
				v, key := data.Targets[i], fmt.Sprintf("alloc-%d", i)
				go pm.do(ctx, http.MethodPost, url(srv.URL, v), data.Request, api.HeaderIdempotencyKey, key)
				time.Sleep(expected/10 + time.Duration(rng.Int64N(int64(expected*8/10))))
				srv.Kill()
				killed := time.Now()
				srv = startServerT(t, bin, dsn)
				ready := time.Now()
				var r apiResponse
				for {
					r = pm.do(ctx, http.MethodPost, url(srv.URL, v), data.Request, api.HeaderIdempotencyKey, key)
					if r.Err == nil && r.Status != http.StatusConflict && r.Status != http.StatusServiceUnavailable {
						break
					}
					refused++
					if time.Since(ready) > 30*time.Second {
						t.Fatalf("retry %d still unresolved 30 s after the restart: %s", i, r)
					}
					time.Sleep(50 * time.Millisecond)
				}
				resolved := time.Now()
				if r.Status != http.StatusCreated {
					t.Fatalf("retry %d: %s", i, r)
				}
				if r.Header.Get(api.HeaderReplayed) == "true" {
					replays++
				}
				var runs api.AllocationRunPage
				if err := pm.do(ctx, http.MethodGet, url(srv.URL, v), nil).decode(&runs); err != nil || len(runs.Items) != 1 {
					t.Fatalf("retry %d: %d runs of version %d (%v), want exactly 1", i, len(runs.Items), v, err)
				}
				fromKill = append(fromKill, resolved.Sub(killed))
				fromReady = append(fromReady, resolved.Sub(ready))
			}
			slices.Sort(fromKill)
			slices.Sort(fromReady)
			t.Logf("%s: %d kills mid-request, %d retries replayed a committed response, %d ran again, %d retries refused (409/503) first; resolved after the kill p50 %s max %s, after the restart p50 %s max %s",
				d, tries, replays, tries-replays, refused, fromKill[len(fromKill)/2].Round(time.Millisecond), fromKill[len(fromKill)-1].Round(time.Millisecond),
				fromReady[len(fromReady)/2].Round(time.Millisecond), fromReady[len(fromReady)-1].Round(time.Millisecond))
			if fromReady[len(fromReady)-1] > 10*time.Second {
				t.Errorf("a retry took %s after the restart; the key must be free within seconds", fromReady[len(fromReady)-1])
			}
		})
	}
}
