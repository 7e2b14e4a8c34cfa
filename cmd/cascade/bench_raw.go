package main

import (
	"bufio"
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
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

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
	db      *bun.DB // the service's pool, for untimed set-up and clean-up
}

func newBenchRawDB(dialect sqlstore.Dialect, target string, db *bun.DB) *benchRawDB {
	r := &benchRawDB{dialect: dialect, tool: "sqlite3", db: db, env: os.Environ()}
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

// createLike creates an empty table with target_cells' columns, primary key
// and indexes, for the bulk-load baseline.
func (r *benchRawDB) createLike(ctx context.Context, table string) error {
	if r.dialect == sqlstore.Postgres {
		_, err := r.db.ExecContext(ctx, "CREATE TABLE "+table+" (LIKE target_cells INCLUDING ALL)")
		return err
	}
	var ddl []string
	if err := r.db.NewRaw("SELECT sql FROM sqlite_master WHERE tbl_name = 'target_cells' AND sql IS NOT NULL ORDER BY type DESC").
		Scan(ctx, &ddl); err != nil {
		return err
	}
	for _, s := range ddl {
		if _, err := r.db.ExecContext(ctx, strings.ReplaceAll(s, "target_cells", table)); err != nil {
			return err
		}
	}
	return nil
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
	w := bufio.NewWriterSize(f, 1<<20)
	query := fmt.Sprintf(`SELECT version_id, org_unit_id, product_line_id, measure_id, period, amount FROM target_cells
		WHERE version_id = %d AND measure_id = %d ORDER BY org_unit_id, product_line_id, period`, versionID, measureID)
	var n int64
	if r.dialect == sqlstore.Postgres {
		conn, err := r.db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		res, err := pgdriver.CopyTo(ctx, conn, w, "COPY ("+query+") TO STDOUT WITH (FORMAT csv)")
		if err != nil {
			return 0, err
		}
		if n, err = res.RowsAffected(); err != nil {
			return 0, err
		}
	} else {
		rows, err := r.db.QueryContext(ctx, query)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var k [5]int64
		var amount string
		var line []byte
		for rows.Next() {
			if err := rows.Scan(&k[0], &k[1], &k[2], &k[3], &k[4], &amount); err != nil {
				return 0, err
			}
			line = line[:0]
			for _, x := range k {
				line = strconv.AppendInt(line, x, 10)
				line = append(line, ',')
			}
			line = append(append(line, amount...), '\n')
			if _, err := w.Write(line); err != nil {
				return 0, err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// benchCopySQL is the in-database copy of a version's cells under another
// version id: what copying a version costs the database itself.
func benchCopySQL(from, to int64) string {
	return fmt.Sprintf(`INSERT INTO target_cells (version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT %d, org_unit_id, product_line_id, measure_id, period, amount FROM target_cells WHERE version_id = %d`, to, from)
}

// benchDiffSQL is the join that lists the cells that differ between versions a
// and b in key order, in the form each database runs best: a full outer
// join on PostgreSQL; on SQLite, whose plan for that join is a nested
// loop, a LEFT JOIN probing the primary key merged with the cells only b
// has. It is the query the store runs, with the ids written in.
func benchDiffSQL(dialect sqlstore.Dialect, a, b int64) string {
	if dialect == sqlstore.Postgres {
		return fmt.Sprintf(`SELECT COALESCE(a.org_unit_id, b.org_unit_id), COALESCE(a.product_line_id, b.product_line_id),
COALESCE(a.measure_id, b.measure_id), COALESCE(a.period, b.period), b.amount, a.amount
FROM (SELECT * FROM target_cells WHERE version_id = %d) AS a
FULL OUTER JOIN (SELECT * FROM target_cells WHERE version_id = %d) AS b
ON a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id AND a.measure_id = b.measure_id AND a.period = b.period
WHERE a.amount IS NULL OR b.amount IS NULL OR a.amount <> b.amount
ORDER BY 1, 2, 3, 4`, a, b)
	}
	return fmt.Sprintf(`SELECT a.org_unit_id, a.product_line_id, a.measure_id, a.period, b.amount, a.amount
FROM target_cells AS a LEFT JOIN target_cells AS b ON b.version_id = %[2]d AND b.org_unit_id = a.org_unit_id
AND b.product_line_id = a.product_line_id AND b.measure_id = a.measure_id AND b.period = a.period
WHERE a.version_id = %[1]d AND (b.amount IS NULL OR a.amount <> b.amount)
UNION ALL
SELECT b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount, NULL
FROM target_cells AS b WHERE b.version_id = %[2]d AND NOT EXISTS (SELECT 1 FROM target_cells AS a
WHERE a.version_id = %[1]d AND a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id
AND a.measure_id = b.measure_id AND a.period = b.period)
ORDER BY 1, 2, 3, 4`, a, b)
}
