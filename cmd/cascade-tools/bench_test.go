package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

func TestBenchTree(t *testing.T) {
	for _, n := range []int{5, 6, 7, 40, 200, 2000, 2084, 2085} {
		units := benchTree(n)
		if len(units) != n {
			t.Fatalf("benchTree(%d) has %d units", n, len(units))
		}
		codes := map[string]bool{}
		kinds := map[planning.OrgUnitKind]int{}
		for i, u := range units {
			if codes[u.Code] {
				t.Fatalf("benchTree(%d): code %s twice", n, u.Code)
			}
			codes[u.Code] = true
			kinds[u.Kind]++
			if (i == 0) != (u.Parent < 0) || u.Parent >= i {
				t.Fatalf("benchTree(%d): unit %d (%s) has parent %d", n, i, u.Code, u.Parent)
			}
			if u.Kind == planning.KindKeyAccountTeam && units[u.Parent].Kind != planning.KindBranch {
				t.Fatalf("benchTree(%d): team %s is not under a branch", n, u.Code)
			}
		}
		if kinds[planning.KindBranch] == 0 || kinds[planning.KindKeyAccountTeam] != kinds[planning.KindBranch] ||
			kinds[planning.KindChannelTeam] != kinds[planning.KindBranch] || kinds[planning.KindRegion] > 10 {
			t.Fatalf("benchTree(%d): kinds %v", n, kinds)
		}
	}
	if n := len(benchTree(2000)); n*40*12 != 960_000 {
		t.Fatalf("2000 units give %d cells", n*40*12)
	}
}

func TestBenchHelpers(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1000320, "1,000,320"}} {
		if got := benchCount(tc.n); got != tc.want {
			t.Errorf("benchCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := benchPercentile(ds, p); got != want {
			t.Errorf("p%g = %v, want %v", p, got, want)
		}
	}
	url, password := benchLibpqURL("postgres://bob:s3cret@db.example:5432/x?sslmode=disable&dial_timeout=5s")
	if url != "postgres://bob@db.example:5432/x?sslmode=disable" || password != "s3cret" {
		t.Errorf("benchLibpqURL: %q %q", url, password)
	}
}

// TestBenchSmall runs the whole benchmark, tiny, on every database under
// test: it must build the data set, pass its own consistency checks, print
// the table and remove its database.
func TestBenchSmall(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "cascade.db")
			if d == sqlstore.Postgres {
				dsn = storetest.PGDSN()
			}
			out := filepath.Join(t.TempDir(), "bench.md")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"bench", "--db", dsn, "--small", "--units", "40", "--lines", "3",
				"--edits", "50", "--reads", "5", "--warmups", "1", "--repeats", "1", "--capacity-time", "100ms", "--fill-cells", "20000", "--out", out}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			for _, want := range []string{"| save an allocation", "1,440 |", "| copy a version", "| diff two versions", "50 changed",
				"| grid read", "p99", "peak resident set", "| grid read capacity", "back to back from 1 client(s)",
				"| fill the database: 3 further rounds", "| 21,600 |", "24,962 cells in the database", "the database filled against before the fill"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("the report lacks %q:\n%s", want, stdout.String())
				}
			}
			if file, err := os.ReadFile(out); err != nil || !bytes.Equal(file, stdout.Bytes()) {
				t.Errorf("--out file differs from stdout (%v)", err)
			}
			if d == sqlstore.SQLite {
				if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dsn), "cascade_bench_*")); len(left) > 0 {
					t.Errorf("the benchmark left %v behind", left)
				}
			}
		})
	}
}

// TestBenchGridOnly keeps a small benchmark's database and measures its
// grid again with --grid-only, on every database under test.
func TestBenchGridOnly(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "cascade.db")
			if d == sqlstore.Postgres {
				dsn = storetest.PGDSN()
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"bench", "--db", dsn, "--small", "--units", "40", "--lines", "3",
				"--edits", "50", "--reads", "5", "--warmups", "1", "--repeats", "1", "--capacity-time", "100ms", "--keep"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			name := regexp.MustCompile(`kept the database: .*(cascade_bench_[0-9a-f]+)`).FindStringSubmatch(stderr.String())
			if name == nil {
				t.Fatalf("no kept database named:\n%s", stderr.String())
			}
			kept := filepath.Join(filepath.Dir(dsn), name[1]+".db")
			if d == sqlstore.Postgres {
				u, err := url.Parse(dsn)
				if err != nil {
					t.Fatal(err)
				}
				u.Path = "/" + name[1]
				kept = u.String()
				t.Cleanup(func() { _ = sqlstore.DropDatabase(context.Background(), dsn, name[1]) })
			}
			stdout.Reset()
			stderr.Reset()
			if code := run(context.Background(), []string{"bench", "--db", kept, "--grid-only", "--reads", "5", "--warmups", "1", "--capacity-time", "100ms"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			for _, want := range []string{"| grid read as the branch manager", "15 rows × 12 months; 3,362 cells in the database", "| grid read capacity", "since the process started"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("the report lacks %q:\n%s", want, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), "| save an allocation") {
				t.Errorf("--grid-only allocated:\n%s", stdout.String())
			}
			// The same database twice, taking turns.
			stdout.Reset()
			stderr.Reset()
			if code := run(context.Background(), []string{"bench", "--db", kept, "--grid-only", "--compare", kept, "--reads", "5", "--warmups", "1", "--capacity-time", "100ms"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			if got := strings.Count(stdout.String(), "| grid read capacity"); got != 2 {
				t.Errorf("%d capacity rows, want 2:\n%s", got, stdout.String())
			}
			if !strings.Contains(stdout.String(), "| grid read, the --compare database against the --db one, taking turns (same run) | 3,362 cells against 3,362 |") {
				t.Errorf("no comparison row:\n%s", stdout.String())
			}
		})
	}
}
