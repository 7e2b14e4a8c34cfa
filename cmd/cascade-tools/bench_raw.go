package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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

// run times one invocation of the client with extra arguments; its
// output is discarded, its errors returned.
func (r *benchRawDB) run(ctx context.Context, args ...string) (time.Duration, error) {
	if r.cli == "" {
		return 0, errors.New(r.missing())
	}
	cmd := exec.CommandContext(ctx, r.cli, append(append([]string{}, r.target...), args...)...)
	cmd.Env = r.env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err == nil && stderr.Len() > 0 && r.dialect == sqlstore.SQLite {
		err = errors.New("unexpected output") // sqlite3 -bail still exits 0 on some errors
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %s", r.tool, err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

// exec times one SQL statement run by the client.
func (r *benchRawDB) exec(ctx context.Context, query string) (time.Duration, error) {
	if r.dialect == sqlstore.Postgres {
		return r.run(ctx, "-c", query)
	}
	return r.run(ctx, query)
}

// importCSV times the client's own bulk load of a CSV file into table:
// psql's \copy, sqlite3's .import.
func (r *benchRawDB) importCSV(ctx context.Context, table, file string) (time.Duration, error) {
	if r.dialect == sqlstore.Postgres {
		return r.run(ctx, "-c", fmt.Sprintf(`\copy %s FROM '%s' WITH (FORMAT csv)`, table, file))
	}
	return r.run(ctx, ".mode csv", ".import "+file+" "+table)
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
