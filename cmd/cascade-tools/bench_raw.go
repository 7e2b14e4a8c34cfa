package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// freshBenchDB creates an empty database next to the one dsn names: for
// SQLite a new file in the same directory (so the benchmark runs on the
// disk the user chose), for PostgreSQL a new database cascade_bench_<hex>
// on the same server, which needs the CREATEDB privilege. drop removes it.
func freshBenchDB(ctx context.Context, dsn string) (target string, drop func() error, err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cascade_bench_" + hex.EncodeToString(b[:])
	if !sqlstore.IsPostgresDSN(dsn) {
		path := strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		target = filepath.Join(filepath.Dir(path), name+".db")
		return target, func() error {
			var errs []error
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(target + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}, nil
	}
	fresh, err := sqlstore.CreateDatabase(ctx, dsn, name)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	return fresh, func() error { return sqlstore.DropDatabase(context.Background(), dsn, name) }, nil
}

// benchRawDB runs the baselines on the benchmark's database with the
// database's own command-line client: psql for PostgreSQL, sqlite3 for
// SQLite. The same SQL run by the database itself, with no service around
// it, is what Cascade's times are divided by.
type benchRawDB struct {
	dialect sqlstore.Dialect
	tool    string   // "psql" or "sqlite3"
	cli     string   // its path; "" when it is not installed
	target  []string // the arguments that name the database
	env     []string
	probe   *sqlstore.Probe // the service's pool, for untimed set-up and clean-up
	started time.Duration   // the client's start-up, once measured (see startup)
}

func newBenchRawDB(dialect sqlstore.Dialect, target string, probe *sqlstore.Probe) *benchRawDB {
	r := &benchRawDB{dialect: dialect, tool: "sqlite3", probe: probe, env: os.Environ()}
	if dialect == sqlstore.Postgres {
		r.tool = "psql"
		conn, password := benchLibpqURL(target)
		r.target = []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conn}
		if password != "" {
			r.env = append(r.env, "PGPASSWORD="+password)
		}
	} else {
		// The service's durability settings, so both sides do the same
		// work per commit.
		r.target = []string{"-batch", "-bail", target, ".timeout 10000", "PRAGMA synchronous=NORMAL"}
	}
	r.cli, _ = exec.LookPath(r.tool)
	return r
}

// benchLibpqURL turns a pgdriver DSN into a URL psql accepts: the password goes
// into PGPASSWORD instead of the command line, and only parameters libpq
// knows are kept.
func benchLibpqURL(dsn string) (string, string) {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn, ""
	}
	password, _ := u.User.Password()
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := url.Values{}
	for k, v := range u.Query() {
		switch k {
		case "sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "connect_timeout":
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), password
}

// missing says why a baseline cannot run, or "" when it can.
func (r *benchRawDB) missing() string {
	if r.cli != "" {
		return ""
	}
	pkg := "sqlite3"
	if r.dialect == sqlstore.Postgres {
		pkg = "postgresql-client"
	}
	return fmt.Sprintf("%s not found (apt-get install %s)", r.tool, pkg)
}

// run runs the client once with extra arguments and returns how long the
// whole run took and the total of the "Time: … ms" lines psql's \timing
// printed; other output is discarded, errors returned.
func (r *benchRawDB) run(ctx context.Context, args ...string) (wall, timed time.Duration, err error) {
	if r.cli == "" {
		return 0, 0, errors.New(r.missing())
	}
	cmd := exec.CommandContext(ctx, r.cli, append(append([]string{}, r.target...), args...)...)
	cmd.Env = r.env
	var stderr bytes.Buffer
	times := &timingLines{}
	cmd.Stdout, cmd.Stderr = times, &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if err == nil && stderr.Len() > 0 && r.dialect == sqlstore.SQLite {
		err = errors.New("unexpected output") // sqlite3 -bail still exits 0 on some errors
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", r.tool, err, strings.TrimSpace(stderr.String()))
	}
	return wall, times.total, nil
}

// timingLines adds up the "Time: 12.345 ms" lines of psql's \timing in
// what it is written, and discards the rest.
type timingLines struct {
	partial []byte
	total   time.Duration
}

func (t *timingLines) Write(p []byte) (int, error) {
	data := append(t.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := string(data[:i])
		data = data[i+1:]
		if ms, ok := strings.CutPrefix(line, "Time: "); ok {
			ms, _, _ = strings.Cut(ms, " ms")
			if f, err := strconv.ParseFloat(ms, 64); err == nil {
				t.total += time.Duration(f * float64(time.Millisecond))
			}
		}
	}
	// Keep only the start of an unfinished line: a long result row need
	// not be held.
	t.partial = append(t.partial[:0], data[:min(len(data), 64)]...)
	return len(p), nil
}

// startup is how long the client takes to start, connect and do nothing:
// the median of three runs, measured once. Baselines that only the wall
// clock can time (sqlite3's dot-commands) subtract it.
func (r *benchRawDB) startup(ctx context.Context) (time.Duration, error) {
	if r.started > 0 {
		return r.started, nil
	}
	var runs []time.Duration
	for range 3 {
		wall, _, err := r.run(ctx, "SELECT 1")
		if err != nil {
			return 0, err
		}
		runs = append(runs, wall)
	}
	r.started = benchMedian(runs)
	return r.started, nil
}

// timed runs commands (SQL statements, or the client's own commands such
// as \copy or .import) in one run of the client and returns how long they
// took, without the client's start-up and connection: psql times each
// command itself (\timing, once connected); for sqlite3 the run's wall
// time less its start-up (see startup) counts.
func (r *benchRawDB) timed(ctx context.Context, commands ...string) (time.Duration, error) {
	if r.dialect == sqlstore.Postgres {
		args := []string{"-c", `\timing on`}
		for _, c := range commands {
			args = append(args, "-c", c)
		}
		_, took, err := r.run(ctx, args...)
		return took, err
	}
	start, err := r.startup(ctx)
	if err != nil {
		return 0, err
	}
	wall, _, err := r.run(ctx, commands...)
	return max(wall-start, 0), err
}

// exec times one SQL statement run by the client.
func (r *benchRawDB) exec(ctx context.Context, query string) (time.Duration, error) {
	return r.timed(ctx, query)
}

// importCSV times the client's own bulk load of a CSV file into table:
// psql's \copy, sqlite3's .import; before it, the statements in first.
func (r *benchRawDB) importCSV(ctx context.Context, table, file string, first ...string) (time.Duration, error) {
	if r.dialect == sqlstore.Postgres {
		return r.timed(ctx, append(first, fmt.Sprintf(`\copy %s FROM '%s' WITH (FORMAT csv)`, table, file))...)
	}
	return r.timed(ctx, append(first, ".mode csv", ".import "+file+" "+table)...)
}

// exportCSV writes one version's cells of one measure, in primary-key
// order, to a CSV file in the column order of target_cells, and returns
// how many it wrote.
func (r *benchRawDB) exportCSV(ctx context.Context, versionID, measureID int64, file string) (int64, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := r.probe.ExportCellsCSV(ctx, versionID, measureID, f)
	if err != nil {
		return 0, err
	}
	return n, f.Close()
}
