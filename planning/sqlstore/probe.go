package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cascade-planning/cascade/planning"
)

// Probe reads the tables below the services, and runs the benchmark's
// baseline SQL through the service's own connection pool. The benchmark
// and the load test (cmd/cascade-tools) check the services' work against
// what the database holds with it, so the SQL they need stays here, with
// the rest of the dialect-specific SQL. It applies no permission: it is
// for tools run by the operator, never for a request.
type Probe struct{ db *DB }

// Probe returns the database's probe.
func (db *DB) Probe() *Probe { return &Probe{db: db} }

// CellRow is one target cell named by its codes, its amount as the
// database prints it.
type CellRow struct {
	Unit   string `bun:"unit"`
	Line   string `bun:"line"`
	Period int    `bun:"period"`
	Amount string `bun:"amount"`
}

// Cells returns the cells of a version for the product lines with the
// given codes, of one org unit when unit is not empty.
func (p *Probe) Cells(ctx context.Context, versionID int64, lines []string, unit string) ([]CellRow, error) {
	var out []CellRow
	if len(lines) == 0 {
		return out, nil
	}
	from, args, err := p.db.cellsOf(ctx, p.db.bun, versionID, "c")
	if err != nil {
		return nil, err
	}
	q := `SELECT ou.code AS unit, pl.code AS line, c.period, CAST(c.amount AS TEXT) AS amount
		FROM ` + from + ` JOIN org_units AS ou ON ou.id = c.org_unit_id JOIN product_lines AS pl ON pl.id = c.product_line_id
		WHERE c.version_id = ? AND pl.code IN (?)`
	args = append(args, versionID, bun.In(lines))
	if unit != "" {
		q += " AND ou.code = ?"
		args = append(args, unit)
	}
	return out, p.db.bun.NewRaw(q, args...).Scan(ctx, &out)
}

// CounterproposalRow is a counterproposal's id, title and status.
type CounterproposalRow struct {
	ID     int64  `bun:"id"`
	Title  string `bun:"title"`
	Status string `bun:"status"`
}

// Counterproposals returns every counterproposal drafted on a version.
func (p *Probe) Counterproposals(ctx context.Context, versionID int64) ([]CounterproposalRow, error) {
	var out []CounterproposalRow
	return out, p.db.bun.NewRaw("SELECT id, title, status FROM counterproposals WHERE version_id = ?", versionID).Scan(ctx, &out)
}

// VersionCounts is what the tables hold about one version's allocations.
type VersionCounts struct {
	Cells       int64 // the version's cells in target_cells (see cells.go)
	CellCount   int64 // the count the version records
	Runs        int64 // allocation runs recorded
	AuditedRuns int64 // targets.allocate audit events naming the version
}

// VersionCounts counts a version's cells, runs and allocation audit events.
func (p *Probe) VersionCounts(ctx context.Context, versionID int64) (VersionCounts, error) {
	var c VersionCounts
	var err error
	if c.Cells, err = p.CountCells(ctx, versionID); err != nil {
		return c, err
	}
	for _, q := range []struct {
		dst *int64
		sql string
	}{
		{&c.CellCount, "SELECT cell_count FROM versions WHERE id = ?"},
		{&c.Runs, "SELECT COUNT(*) FROM allocation_runs WHERE round_id = (SELECT round_id FROM versions WHERE id = ?) AND version_id = ?"},
		{&c.AuditedRuns, "SELECT COUNT(*) FROM audit_events WHERE action = 'targets.allocate' AND entity = 'version' AND entity_id = ?"},
	} {
		args := make([]any, strings.Count(q.sql, "?"))
		for i := range args {
			args[i] = versionID
		}
		if err := p.db.bun.NewRaw(q.sql, args...).Scan(ctx, q.dst); err != nil {
			return c, err
		}
	}
	return c, nil
}

// anyRound is the condition that a row of target_cells is of any round:
// rows under an id no version has (the benchmark's scratch copies) are
// found by one probe of the key's (round_id, version_id) prefix per round.
const anyRound = "round_id IN (SELECT id FROM rounds)"

// CountCells counts the cells of a version, or the rows of target_cells
// (every layer's) when versionID is 0.
func (p *Probe) CountCells(ctx context.Context, versionID int64) (int64, error) {
	var n int64
	q := p.db.bun.NewSelect().TableExpr("target_cells")
	if versionID != 0 {
		// An id no version has (the benchmark's scratch copies) counts
		// the rows stored under it, in whichever round.
		from, args := "(SELECT * FROM target_cells WHERE "+anyRound+") AS c", []any(nil)
		if v, err := p.db.loadVersion(ctx, p.db.bun, versionID); err == nil {
			from, args = cellsFrom(v, "c")
		} else if planning.ErrorCode(err) != planning.ENOTFOUND {
			return 0, err
		}
		q = p.db.bun.NewSelect().TableExpr(from, args...).Where("version_id = ?", versionID)
	}
	err := q.ColumnExpr("COUNT(*)").Scan(ctx, &n)
	return n, err
}

// DeleteCells deletes a version's cells, and on PostgreSQL vacuums the
// table after them, so the next measurement does not pay for dead rows.
// The benchmark removes its baseline's copies with it.
func (p *Probe) DeleteCells(ctx context.Context, versionID int64) error {
	if _, err := p.db.bun.ExecContext(ctx, "DELETE FROM target_cells WHERE "+anyRound+" AND version_id = ?", versionID); err != nil {
		return err
	}
	if p.db.dialect == Postgres {
		_, err := p.db.bun.ExecContext(ctx, "VACUUM target_cells")
		return err
	}
	return nil
}

// Settle brings the planner's statistics up to date after bulk writes, as
// autovacuum would shortly after them (PostgreSQL; SQLite needs nothing).
func (p *Probe) Settle(ctx context.Context) error {
	if p.db.dialect != Postgres {
		return nil
	}
	_, err := p.db.bun.ExecContext(ctx, "VACUUM ANALYZE")
	return err
}

// WaitIdle waits, up to max, until no other session is busy in this
// PostgreSQL database (a statistics refresh or an autovacuum worker that
// would run during the next measurement), and returns how many still are.
// On SQLite it returns at once.
func (p *Probe) WaitIdle(ctx context.Context, max time.Duration) (int, error) {
	if p.db.dialect != Postgres {
		return 0, nil
	}
	deadline := time.Now().Add(max)
	for {
		var busy int
		err := p.db.bun.NewRaw(`SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`).Scan(ctx, &busy)
		if err != nil || busy == 0 || time.Now().After(deadline) {
			return busy, err
		}
		select {
		case <-ctx.Done():
			return busy, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ServerVersion returns the database engine's version.
func (p *Probe) ServerVersion(ctx context.Context) (string, error) {
	q := "SELECT sqlite_version()"
	if p.db.dialect == Postgres {
		q = "SHOW server_version"
	}
	var v string
	return v, p.db.bun.NewRaw(q).Scan(ctx, &v)
}

// Exec runs one statement of the baseline SQL and returns how long it took.
func (p *Probe) Exec(ctx context.Context, query string) (time.Duration, error) {
	start := time.Now()
	_, err := p.db.bun.ExecContext(ctx, query)
	return time.Since(start), err
}

// Query runs one query of the baseline SQL, reads every row and returns how
// long that took.
func (p *Probe) Query(ctx context.Context, query string) (time.Duration, error) {
	start := time.Now()
	rows, err := p.db.bun.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// CopyCellsSQL is the in-database copy of a version's cells under another
// version id: what copying a version costs the database itself.
func (p *Probe) CopyCellsSQL(from, to int64) string {
	return fmt.Sprintf(`INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT round_id, %d, org_unit_id, product_line_id, measure_id, period, amount FROM target_cells
WHERE round_id = (SELECT round_id FROM versions WHERE id = %d) AND version_id = %d`, to, from, from)
}

// DiffCellsSQL is the join that lists the cells that differ between
// versions a and b in key order, in the form each database runs best: a
// full outer join on PostgreSQL; on SQLite, whose plan for that join is a
// nested loop, a LEFT JOIN probing the primary key merged with the cells
// only b has. It is the query the store runs, with the ids written in.
func (p *Probe) DiffCellsSQL(a, b int64) string {
	if p.db.dialect == Postgres {
		return fmt.Sprintf(`SELECT COALESCE(a.org_unit_id, b.org_unit_id), COALESCE(a.product_line_id, b.product_line_id),
COALESCE(a.measure_id, b.measure_id), COALESCE(a.period, b.period), b.amount, a.amount
FROM (SELECT * FROM target_cells WHERE `+anyRound+` AND version_id = %d) AS a
FULL OUTER JOIN (SELECT * FROM target_cells WHERE `+anyRound+` AND version_id = %d) AS b
ON a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id AND a.measure_id = b.measure_id AND a.period = b.period
WHERE a.amount IS NULL OR b.amount IS NULL OR a.amount <> b.amount
ORDER BY 1, 2, 3, 4`, a, b)
	}
	return fmt.Sprintf(`SELECT a.org_unit_id, a.product_line_id, a.measure_id, a.period, b.amount, a.amount
FROM target_cells AS a LEFT JOIN target_cells AS b ON b.round_id = a.round_id AND b.version_id = %[2]d AND b.org_unit_id = a.org_unit_id
AND b.product_line_id = a.product_line_id AND b.measure_id = a.measure_id AND b.period = a.period
WHERE a.`+anyRound+` AND a.version_id = %[1]d AND (b.amount IS NULL OR a.amount <> b.amount)
UNION ALL
SELECT b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount, NULL
FROM target_cells AS b WHERE b.`+anyRound+` AND b.version_id = %[2]d AND NOT EXISTS (SELECT 1 FROM target_cells AS a
WHERE a.round_id = b.round_id AND a.version_id = %[1]d AND a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id
AND a.measure_id = b.measure_id AND a.period = b.period)
ORDER BY 1, 2, 3, 4`, a, b)
}

// BaselineTable is the table the benchmark's bulk-load baseline fills.
const BaselineTable = "target_cells_baseline"

// CreateBaselineTable creates BaselineTable empty, with target_cells'
// columns, primary key and indexes.
func (p *Probe) CreateBaselineTable(ctx context.Context) error {
	if p.db.dialect == Postgres {
		_, err := p.db.bun.ExecContext(ctx, "CREATE TABLE "+BaselineTable+" (LIKE target_cells INCLUDING ALL)")
		return err
	}
	var ddl []string
	if err := p.db.bun.NewRaw("SELECT sql FROM sqlite_master WHERE tbl_name = 'target_cells' AND sql IS NOT NULL ORDER BY type DESC").
		Scan(ctx, &ddl); err != nil {
		return err
	}
	for _, s := range ddl {
		if _, err := p.db.bun.ExecContext(ctx, strings.ReplaceAll(s, "target_cells", BaselineTable)); err != nil {
			return err
		}
	}
	return nil
}

// DropBaselineTable drops BaselineTable and returns how many rows it held.
func (p *Probe) DropBaselineTable(ctx context.Context) (int64, error) {
	var n int64
	if err := p.db.bun.NewSelect().TableExpr(BaselineTable).ColumnExpr("COUNT(*)").Scan(ctx, &n); err != nil {
		return 0, err
	}
	_, err := p.db.bun.ExecContext(ctx, "DROP TABLE "+BaselineTable)
	return n, err
}

// ExportCellsCSV writes one version's cells of one measure, in primary-key
// order and in the column order of target_cells, as CSV to w, and returns
// how many it wrote: PostgreSQL's COPY … TO STDOUT, on SQLite a scan.
func (p *Probe) ExportCellsCSV(ctx context.Context, versionID, measureID int64, out io.Writer) (int64, error) {
	w := bufio.NewWriterSize(out, 1<<20)
	from, args, err := p.db.cellsOf(ctx, p.db.bun, versionID, "c")
	if err != nil {
		return 0, err
	}
	query := p.db.bun.QueryGen().FormatQuery(fmt.Sprintf(`SELECT round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount FROM `+from+`
		WHERE version_id = %d AND measure_id = %d ORDER BY org_unit_id, product_line_id, period`, versionID, measureID), args...)
	var n int64
	if p.db.dialect == Postgres {
		conn, err := p.db.bun.Conn(ctx)
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
		rows, err := p.db.bun.QueryContext(ctx, query)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var k [6]int64
		var amount string
		var line []byte
		for rows.Next() {
			if err := rows.Scan(&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &amount); err != nil {
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
	return n, w.Flush()
}

// WaitStats waits for the statistics refreshes the service started in the
// background after bulk writes (see refreshCellStats), so a benchmark
// counts them in the time of the write that started them.
func (p *Probe) WaitStats() { p.db.stats.Wait() }

// MaterializeCells writes the cells of a version, read through its base
// (see cells.go), as plain rows under scratch, an id no version has, and
// returns how many it wrote: two versions held in full, as a store
// without copy-on-write would hold them, for the benchmark's baselines.
func (p *Probe) MaterializeCells(ctx context.Context, versionID, scratch int64) (int64, error) {
	from, args, err := p.db.cellsOf(ctx, p.db.bun, versionID, "c")
	if err != nil {
		return 0, err
	}
	res, err := p.db.bun.NewRaw("INSERT INTO target_cells (round_id, version_id, "+keyCols+", amount) SELECT round_id, ?, "+keyCols+", amount FROM "+from+" WHERE version_id = ?",
		append(append([]any{scratch}, args...), versionID)...).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DiffBaselineSQL returns the statements the service runs to diff the
// plain rows under ids a and b (versions without a base, or materialized
// ones) with no filter, with the ids written in: on PostgreSQL the full
// outer join, in key order; on SQLite the two counts and the join of a's cells against
// b's, and the anti-join of b's only when b holds cells a lacks, as
// diffCells decides.
func (p *Probe) DiffBaselineSQL(ctx context.Context, a, b int64) ([]string, error) {
	var ra, rb int64
	for _, x := range []struct {
		id    int64
		round *int64
	}{{a, &ra}, {b, &rb}} {
		if err := p.db.bun.NewRaw("SELECT round_id FROM target_cells WHERE "+anyRound+" AND version_id = ? LIMIT 1", x.id).Scan(ctx, x.round); err != nil {
			return nil, err
		}
	}
	va, vb := &versionRow{ID: a, RoundID: ra}, &versionRow{ID: b, RoundID: rb}
	where := "version_id = ? AND period BETWEEN ? AND ?"
	argsA, argsB := []any{a, 1, 12}, []any{b, 1, 12}
	format := func(q string, args []any) string { return p.db.bun.QueryGen().FormatQuery(q, args...) }
	q, args := p.db.diffQuery(va, vb, where, where, argsA, argsB)
	if p.db.dialect == Postgres {
		// The changed cells in key order, as a client listing them would
		// ask for them (the service keeps its page's order itself).
		return []string{format(q+"\n\t\tORDER BY 1, 2, 3, 4", args)}, nil
	}
	fromA, fa := cellsFrom(va, "t")
	fromB, fb := cellsFrom(vb, "t")
	count := format("SELECT (SELECT COUNT(*) FROM "+fromA+" WHERE "+where+"), (SELECT COUNT(*) FROM "+fromB+" WHERE "+where+")",
		concatArgs(fa, argsA, fb, argsB))
	nq, nargs := newAndChangedSQL(va, vb, where, argsA)
	out := []string{count, format(nq+"\n\t\tORDER BY 1, 2, 3, 4", nargs)}
	// Whether the service needs the anti-join too: b holds keys a lacks.
	var bOnly int64
	if err := p.db.bun.NewRaw(`SELECT COUNT(*) FROM target_cells AS b WHERE b.round_id = ? AND b.version_id = ? AND NOT EXISTS
		(SELECT 1 FROM target_cells AS a WHERE a.round_id = ? AND a.version_id = ? AND `+sameKey("a", "b")+`)`, rb, b, ra, a).Scan(ctx, &bOnly); err != nil {
		return nil, err
	}
	if bOnly > 0 {
		out = append(out, format(q, args))
	}
	return out, nil
}

// FillVersionCells writes, inside the database, one cell for every org
// unit, product line, measure of measureIDs and fiscal period into the
// layer of an empty version (a round's fresh first version), as a
// finished top-down allocation leaves it, and records the count on the
// version: one INSERT … SELECT per measure, the rows generated by the
// database in primary-key order, so a tool can put 10^8 cells in a
// database in minutes instead of through 10^8 cells of HTTP. Amounts are
// whole numbers spread over 0–999,999, valid at any measure's scale. It
// returns the cells written. For tools run by the operator (the
// benchmark), never for a request: it applies no permission and no rule.
func (p *Probe) FillVersionCells(ctx context.Context, versionID int64, measureIDs []int64, progress func(written int64, took time.Duration)) (int64, error) {
	v, err := p.db.loadVersion(ctx, p.db.bun, versionID)
	if err != nil {
		return 0, err
	}
	if v.base() != 0 || v.CellCount != 0 {
		return 0, fmt.Errorf("version %d is not empty: fill only a round's fresh version", versionID)
	}
	months := make([]string, 12)
	for i := range months {
		months[i] = fmt.Sprintf("SELECT %d AS n", i+1)
	}
	var total int64
	for _, m := range measureIDs {
		start := time.Now()
		res, err := p.db.bun.ExecContext(ctx, `INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
SELECT ?, ?, ou.id, pl.id, ?, p.n, (ou.id * 7919 + pl.id * 104729 + p.n * 31 + ? * 17) % 1000000
FROM org_units AS ou CROSS JOIN product_lines AS pl CROSS JOIN (`+strings.Join(months, " UNION ALL ")+`) AS p
ORDER BY ou.id, pl.id, p.n`, v.RoundID, v.layer(), m, m)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if progress != nil {
			progress(total, time.Since(start))
		}
	}
	if _, err := p.db.bun.ExecContext(ctx, "UPDATE versions SET cell_count = cell_count + ? WHERE id = ?", total, versionID); err != nil {
		return total, err
	}
	return total, nil
}
