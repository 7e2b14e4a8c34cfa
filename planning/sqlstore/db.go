// Package sqlstore implements the planning services on SQL databases through
// bun: embedded SQLite (the default, no set-up) and PostgreSQL (production).
// Anything dialect-specific lives here and nowhere else.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/cascade-planning/cascade/planning"
)

// Dialect names the database behind a DB.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open Cascade database.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	// writers bounds the transactions open at once (see claimWriter).
	writers chan struct{}
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// replica, when attached, serves read-only requests (see
	// AttachReplica).
	replica *replica
	// jobs is what this process knows of the allocation jobs it runs.
	jobs *jobRuntime
	// stats counts the statistics refreshes running in the background
	// (refreshCellStats), for Probe.WaitStats.
	stats sync.WaitGroup
	// outbox holds each open transaction's events until it commits (see
	// emitEvent), by its *sql.Tx.
	outbox sync.Map
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names: a postgres:// URL, or a SQLite file path
// (created if missing). SQLite runs in WAL mode with foreign keys on and
// write transactions that take the write lock when they begin, so two
// writers wait for each other instead of failing halfway.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *DB
	if IsPostgresDSN(dsn) {
		conn, err := safeConnector(dsn)
		if err != nil {
			return nil, err
		}
		sqldb := sql.OpenDB(conn)
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(20)
		db = &DB{bun: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres, writers: make(chan struct{}, 10)}
	} else {
		if dsn == "" {
			return nil, fmt.Errorf("empty database path")
		}
		path := strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		u := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
			"&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		sqldb, err := sql.Open(sqliteshim.ShimName, u)
		if err != nil {
			return nil, err
		}
		reserveSQLiteMemory()
		sqldb.SetMaxOpenConns(4)
		db = &DB{bun: bun.NewDB(sqldb, sqlitedialect.New()), dialect: SQLite, writers: make(chan struct{}, 1)}
	}
	db.Now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	db.jobs = newJobRuntime()
	if err := db.Ping(ctx); err != nil {
		db.bun.Close()
		// Say why: the driver's error (refused, unknown host, bad
		// password, no such database), not only that it failed.
		var pe *planning.Error
		if errors.As(err, &pe) && pe.Cause != nil {
			return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), pe.Cause)
		}
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return db, nil
}

// pgIOTimeout bounds each read and write on a PostgreSQL connection.
// pgdriver's defaults (10 s to read, 5 s to write) are shorter than a
// request may take (a consistency check or a large allocation under load),
// and turned such requests into 500s; within a request its context's
// deadline comes first, so this only bounds work without one.
const pgIOTimeout = 5 * time.Minute

// pgConnector connects to dsn; read_timeout and write_timeout in the DSN
// still win.
func pgConnector(dsn string) *pgdriver.Connector {
	return pgdriver.NewConnector(pgdriver.WithReadTimeout(pgIOTimeout), pgdriver.WithWriteTimeout(pgIOTimeout), pgdriver.WithDSN(dsn))
}

// safeConnector is pgConnector for a DSN a person typed: pgdriver panics on
// one it cannot parse, which must be an error instead.
func safeConnector(dsn string) (c *pgdriver.Connector, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("invalid PostgreSQL URL: %v", p)
		}
	}()
	return pgConnector(dsn), nil
}

// redactDSN hides the password of a postgres:// URL, for messages.
func redactDSN(dsn string) string {
	if !IsPostgresDSN(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable PostgreSQL URL)"
	}
	return u.Redacted()
}

// Close closes the database, and the read replica if one is attached.
func (db *DB) Close() error {
	if db.replica != nil {
		db.replica.db.Close()
	}
	return db.bun.Close()
}

// Dialect returns which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQLDB returns the underlying pool, for metrics and tests.
func (db *DB) SQLDB() *sql.DB { return db.bun.DB }

// Ping reports whether the database answers; an outage is EUNAVAILABLE.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.bun.PingContext(ctx); err != nil {
		return &planning.Error{Code: planning.EUNAVAILABLE, Message: "database unavailable", Cause: err}
	}
	return nil
}

// inTx runs fn in one transaction and commits it only if fn succeeds, so a
// write happens whole or not at all. Inside an ambient transaction (see
// withAmbient) fn joins it instead, and its outcome is the ambient one's.
func (db *DB) inTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	return db.inConnTx(ctx, func(_ bun.Conn, tx bun.Tx) error { return fn(tx) })
}

// claimWriter waits, without holding a connection, until a transaction may
// begin, and returns the function that ends the claim. A transaction can
// need a second connection of the pool while it is open (an idempotent
// request's handler reads outside the ambient transaction), so the
// transactions open at once stay well below the pool's size: half of it on
// PostgreSQL, and one on SQLite, which has a single writer anyway. Without
// the bound, a burst of such requests takes every connection and each
// waits for a second one that never comes free (on SQLite even while
// waiting for the write lock), until the request timeout ends them all.
func (db *DB) claimWriter(ctx context.Context) (func(), error) {
	if db.writers == nil {
		return func() {}, nil
	}
	select {
	case db.writers <- struct{}{}:
		return func() { <-db.writers }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryClaimWriter claims a writer slot only if one is free at once.
func (db *DB) tryClaimWriter() (func(), bool) {
	if db.writers == nil {
		return func() {}, true
	}
	select {
	case db.writers <- struct{}{}:
		return func() { <-db.writers }, true
	default:
		return nil, false
	}
}

// ambient is a transaction that service calls made with a context join, so
// several calls (and the idempotency record of the request that made them)
// commit or roll back together.
type ambient struct {
	conn  bun.Conn
	tx    bun.Tx
	after []func() // run once the ambient transaction has committed
}

// Atomically runs fn in one transaction that every service call made with
// fn's context joins (an ambient transaction), and commits it only if fn
// succeeds. Inside another ambient transaction fn simply joins that one.
func (db *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	if ambientFrom(ctx) != nil {
		return fn(ctx)
	}
	amb := &ambient{}
	err := db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		amb.conn, amb.tx, amb.after = conn, tx, nil
		return fn(context.WithValue(ctx, ambientKey{}, amb))
	})
	if err != nil {
		return err
	}
	for _, f := range amb.after {
		f()
	}
	return nil
}

// afterCommit runs fn once what the caller wrote is committed: at once,
// or, inside an ambient transaction, after that commits.
func (db *DB) afterCommit(ctx context.Context, fn func()) {
	if amb := ambientFrom(ctx); amb != nil {
		amb.after = append(amb.after, fn)
		return
	}
	fn()
}

// bulkCells is the size of a write after which PostgreSQL's statistics of
// the cell table are refreshed.
const bulkCells = 10000

// refreshCellStats brings PostgreSQL's statistics of target_cells up to
// date after a bulk write. Until autovacuum gets there (a minute or more),
// a table that grew from nothing to a million rows still looks empty to
// the planner, which then picks plans that read it over and over: a grid
// read took seconds instead of milliseconds. It runs in the background: it
// changes no data, and the response need not wait for it.
func (db *DB) refreshCellStats(cells int64) {
	if db.dialect != Postgres || cells < bulkCells {
		return
	}
	db.stats.Add(1)
	go func() {
		defer db.stats.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = db.bun.ExecContext(ctx, "ANALYZE target_cells")
	}()
}

// RefreshStaleStats brings PostgreSQL's statistics of the cell table up to
// date at start-up when a tenth or more of its rows changed since they were
// last gathered: a server killed right after a bulk write never ran the
// refresh that write started (refreshCellStats), and until autovacuum gets
// there the planner may pick plans that take seconds instead of
// milliseconds. It reports whether it refreshed them; SQLite has nothing to
// refresh.
func (db *DB) RefreshStaleStats(ctx context.Context) (bool, error) {
	if db.dialect != Postgres {
		return false, nil
	}
	return db.refreshStaleStats(ctx, "target_cells")
}

func (db *DB) refreshStaleStats(ctx context.Context, table string) (bool, error) {
	var live, modified int64
	err := db.bun.NewRaw("SELECT n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = ?", table).
		Scan(ctx, &live, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, db.mapError(err)
	}
	if modified < bulkCells || modified*10 < live {
		return false, nil
	}
	if _, err := db.bun.ExecContext(ctx, "ANALYZE ?", bun.Ident(table)); err != nil {
		return false, db.mapError(err)
	}
	return true, nil
}

type ambientKey struct{}

func ambientFrom(ctx context.Context) *ambient {
	a, _ := ctx.Value(ambientKey{}).(*ambient)
	return a
}

// unavailable is an EUNAVAILABLE error (503, to retry) that keeps its cause
// for the log.
func unavailable(cause error, format string, args ...any) error {
	e := planning.Errorf(planning.EUNAVAILABLE, format, args...)
	e.Cause = cause
	return e
}

// transient reports whether err is a database failure that says nothing
// about the request and that the same transaction, run again from the
// start, may well not meet: a serialization failure, a deadlock, or one of
// PostgreSQL's internal errors that concurrent aborts can provoke (such as
// "new multixact has more than one updating member").
func transient(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		switch pgErr.Field('C') {
		case "40001", "40P01", "XX000":
			return true
		}
	}
	return false
}

// mapError turns driver errors into domain errors: constraint violations
// become conflicts or invalid input; lost connections, timeouts and the
// database's own trouble an outage (503, to retry), with the driver's error
// kept as the cause for the log.
func (db *DB) mapError(err error) error {
	if err == nil {
		return nil
	}
	var perr *planning.Error
	if errors.As(err, &perr) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return planning.Errorf(planning.ENOTFOUND, "not found")
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		// The database did not answer within the request's deadline (or
		// pgIOTimeout): an outage to retry, not a fault of the request.
		return unavailable(err, "the database did not answer in time")
	case netErr != nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, driver.ErrBadConn):
		// The connection broke (PostgreSQL stopping or restarting closes
		// it mid-request, and pgdriver then reports a bare EOF).
		return unavailable(err, "database unavailable")
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		code := pgErr.Field('C')
		switch code {
		case "23505":
			return planning.Errorf(planning.ECONFLICT, "already exists: %s", pgErr.Field('n'))
		case "23503":
			return planning.Errorf(planning.EINVALID, "refers to something that does not exist, or is still in use")
		}
		switch code[:min(2, len(code))] {
		case "40", "53", "55", "57", "58", "08", "XX":
			// Transaction rollbacks (serialization failures, deadlocks),
			// insufficient resources, lock and operator trouble, system
			// and internal errors: the database's trouble, not the
			// request's.
			return unavailable(err, "the database could not complete this write; retry shortly")
		}
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"):
		return planning.Errorf(planning.ECONFLICT, "already exists: %s", strings.TrimSpace(msg[strings.Index(msg, "UNIQUE constraint failed")+len("UNIQUE constraint failed:"):]))
	case strings.Contains(msg, "integer overflow"):
		return planning.Errorf(planning.EINVALID, "the amounts involved are too large to add up exactly in the embedded SQLite database (over %d digits in minor units); PostgreSQL has no such limit", planning.MaxStoredDigits)
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return planning.Errorf(planning.EINVALID, "refers to something that does not exist, or is still in use")
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "unexpected EOF"), strings.Contains(msg, "driver: bad connection"),
		strings.Contains(msg, "connection reset"):
		return unavailable(err, "database unavailable")
	case strings.Contains(msg, "SQLITE_BUSY"), strings.Contains(msg, "database is locked"):
		// SQLite has one writer at a time: a write that waited out the busy
		// timeout behind a long one (a large allocation) may simply retry.
		return unavailable(err, "the database is busy with another write; retry shortly")
	case strings.Contains(msg, "SQLITE_IOERR"), strings.Contains(msg, "disk I/O error"),
		strings.Contains(msg, "SQLITE_FULL"), strings.Contains(msg, "database or disk is full"),
		strings.Contains(msg, "SQLITE_NOMEM"), strings.Contains(msg, "out of memory"),
		strings.Contains(msg, "SQLITE_PROTOCOL"), strings.Contains(msg, "SQLITE_CANTOPEN"):
		return unavailable(err, "the database could not complete this write; retry shortly")
	}
	return err
}
