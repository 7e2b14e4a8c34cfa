package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cascade-planning/cascade/planning"
)

// DefaultReplicaMaxLag is how far behind the primary a read replica may
// fall before read-only requests stop reading from it.
const DefaultReplicaMaxLag = 5 * time.Second

// ReplicaOptions tune AttachReplica.
type ReplicaOptions struct {
	// MaxLag bounds how stale a read from the replica may be: the replica
	// is too far behind, and requests read from the primary, while it has
	// not replayed a commit this process made more than MaxLag ago. 0
	// means DefaultReplicaMaxLag.
	MaxLag time.Duration
	// Logger gets a line when the replica stops being used (it does not
	// answer, is too far behind, or is no longer a replica) and when it is
	// used again. Nil discards them.
	Logger *slog.Logger
}

// The reasons a read-only request reads from the primary although a
// replica is attached, as ReplicaStats counts them.
const (
	// FallbackOwnWrite: the caller's own last commit is not replayed on
	// the replica yet (read-your-writes).
	FallbackOwnWrite = "own_write"
	// FallbackLag: the replica is more than MaxLag behind.
	FallbackLag = "lag"
	// FallbackUnavailable: the replica did not answer, or failed the
	// request for a reason of its own; the request ran again on the
	// primary.
	FallbackUnavailable = "unavailable"
	// FallbackNotReplica: the read database answers but is no longer in
	// recovery (it was promoted).
	FallbackNotReplica = "not_replica"
	// FallbackNotFound: the replica did not know what the request named,
	// which a replica that has not replayed it yet does not; the request
	// ran again on the primary.
	FallbackNotFound = "not_found"
)

var fallbackReasons = []string{FallbackOwnWrite, FallbackLag, FallbackUnavailable, FallbackNotReplica, FallbackNotFound}

// ReplicaStats counts where read-only requests read since the replica was
// attached.
type ReplicaStats struct {
	// Reads is how many the replica served.
	Reads uint64
	// Fallbacks is how many read from the primary instead, by reason.
	Fallbacks map[string]uint64
}

// Timings of the replica's health checks.
const (
	// replicaCheckTimeout bounds the query that asks the replica how far
	// it has replayed; a replica that takes longer counts as unavailable.
	replicaCheckTimeout = time.Second
	// replicaFresh is how long a replayed position read from the replica
	// is used without asking again. It is a lower bound (replay only moves
	// forward), so using it longer never lets a request read older data
	// than its rule allows; it only delays noticing that the replica went
	// away.
	replicaFresh = 100 * time.Millisecond
	// replicaRetry is how long an unavailable replica is left alone before
	// a request tries it again.
	replicaRetry = 2 * time.Second
)

// unknownLSN stands for a commit whose WAL position could not be read:
// no replica position satisfies it.
const unknownLSN = math.MaxUint64

// commitMark is a commit of this process: its WAL position (the primary's
// insert position read right after it) and when it was made.
type commitMark struct {
	lsn uint64
	at  time.Time
}

// replica is a streaming replica of the primary that read-only requests
// read from while it keeps up (see readOnly). It is the same schema behind
// another connection pool, so the same services run on it unchanged.
type replica struct {
	db     *DB
	maxLag time.Duration
	logger *slog.Logger

	mu sync.Mutex
	// sessions holds each user's last commit, for read-your-writes.
	sessions map[int64]commitMark
	// samples are this process's commits, at most one per maxLag/16, with
	// non-decreasing positions: the bound of how far behind the replica
	// may be.
	samples []commitMark
	// asked is the latest time lagBound was asked about.
	asked time.Time
	// replayed is the highest position the replica reported having
	// replayed, at checkedAt.
	replayed  uint64
	checkedAt time.Time
	// downUntil is when an unavailable replica is tried again.
	downUntil time.Time
	// state is "" while the replica serves reads, or the reason it does
	// not (a Fallback… constant), so each change is logged once.
	state string

	reads     atomic.Uint64
	fallbacks map[string]*atomic.Uint64
}

// AttachReplica opens dsn, a streaming replica of db (a PostgreSQL hot
// standby), for read-only requests to read from: NewServices then sets
// planning.Services.ReadOnly. Call it before NewServices. It refuses a
// SQLite database, a dsn that is not PostgreSQL, and a database that
// answers but is not a replica of db's cluster. A replica that does not
// answer yet is attached all the same: requests read from the primary
// until it does. DB.Close closes it.
func (db *DB) AttachReplica(ctx context.Context, dsn string, opts ReplicaOptions) error {
	if db.dialect != Postgres {
		return errors.New("a read replica needs PostgreSQL: the database is SQLite")
	}
	if !IsPostgresDSN(dsn) {
		return fmt.Errorf("read database %s: must be a postgres:// URL", redactDSN(dsn))
	}
	conn, err := safeConnector(dsn)
	if err != nil {
		return err
	}
	sqldb := sql.OpenDB(conn)
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20)
	rdb := &DB{bun: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres, Now: func() time.Time { return db.Now() }}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultReplicaMaxLag
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &replica{db: rdb, maxLag: opts.MaxLag, logger: opts.Logger, sessions: map[int64]commitMark{},
		fallbacks: map[string]*atomic.Uint64{}}
	for _, reason := range fallbackReasons {
		r.fallbacks[reason] = new(atomic.Uint64)
	}
	if err := r.checkCluster(ctx, db, dsn); err != nil {
		rdb.Close()
		return err
	}
	db.replica = r
	return nil
}

// checkCluster refuses a read database that answers but is not in
// recovery, or is a replica of another cluster. One that does not answer
// is marked unavailable.
func (r *replica) checkCluster(ctx context.Context, primary *DB, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, replicaCheckTimeout)
	defer cancel()
	const q = "SELECT pg_is_in_recovery(), CAST(system_identifier AS text) FROM pg_control_system()"
	var inRecovery bool
	var replicaID, primaryID string
	if err := r.db.bun.QueryRowContext(ctx, q).Scan(&inRecovery, &replicaID); err != nil {
		r.markDown(err)
		return nil
	}
	if !inRecovery {
		return fmt.Errorf("read database %s is not a replica: pg_is_in_recovery() is false", redactDSN(dsn))
	}
	if err := primary.bun.QueryRowContext(ctx, q).Scan(new(bool), &primaryID); err != nil {
		return primary.mapError(err)
	}
	if replicaID != primaryID {
		return fmt.Errorf("read database %s replicates another cluster (system identifier %s, the primary's is %s)",
			redactDSN(dsn), replicaID, primaryID)
	}
	return nil
}

// ReplicaStats reports where read-only requests read, and false when no
// replica is attached.
func (db *DB) ReplicaStats() (ReplicaStats, bool) {
	r := db.replica
	if r == nil {
		return ReplicaStats{}, false
	}
	st := ReplicaStats{Reads: r.reads.Load(), Fallbacks: map[string]uint64{}}
	for reason, n := range r.fallbacks {
		st.Fallbacks[reason] = n.Load()
	}
	return st, true
}

// ReplicaSQLDB returns the replica's connection pool, for metrics, or nil
// when none is attached.
func (db *DB) ReplicaSQLDB() *sql.DB {
	if db.replica == nil {
		return nil
	}
	return db.replica.db.bun.DB
}

// readOnly runs fn, the whole of a request that only reads, with the
// services it is to read through: the replica's when the replica may serve
// it (see route), otherwise the primary's. When the replica fails it
// (does not answer, or does not find what it names), fn runs again on the
// primary, so a replica never fails a request the primary could serve.
// All of one run reads from one database, so nothing it reads is older
// than something it read before.
func (r *replica) readOnly(ctx context.Context, primary, onReplica planning.Services, fn func(planning.Services) error) error {
	use, reason := r.route(ctx)
	if !use {
		if reason != "" {
			r.fallbacks[reason].Add(1)
		}
		return fn(primary)
	}
	err := fn(onReplica)
	switch planning.ErrorCode(err) {
	case planning.EUNAVAILABLE:
		if ctx.Err() != nil {
			return err
		}
		var pgErr pgdriver.Error
		if !errors.As(err, &pgErr) {
			// Not an error the replica answered with (such as a query
			// cancelled by a conflict with replay) but a lost connection:
			// leave it alone for a while.
			r.markDown(err)
		}
		r.fallbacks[FallbackUnavailable].Add(1)
		return fn(primary)
	case planning.ENOTFOUND:
		r.fallbacks[FallbackNotFound].Add(1)
		return fn(primary)
	}
	r.reads.Add(1)
	return err
}

// route decides where a read-only request reads. The replica serves it
// unless the request is part of a write transaction (which reads its own
// writes on the primary, not counted as a fallback), the replica was found
// unavailable moments ago, or it has not replayed both the caller's own
// last commit (read-your-writes) and every commit this process made more
// than maxLag ago (bounded staleness).
func (r *replica) route(ctx context.Context) (bool, string) {
	if ambientFrom(ctx) != nil {
		return false, ""
	}
	now := time.Now()
	var user int64 = -1
	if a := planning.ActorFromContext(ctx); a != nil && a.User != nil {
		user = a.User.ID
	}
	r.mu.Lock()
	if now.Before(r.downUntil) {
		r.mu.Unlock()
		return false, FallbackUnavailable
	}
	lagNeed, ownNeed := r.lagBound(now), uint64(0)
	if m, ok := r.sessions[user]; ok {
		if m.lsn == unknownLSN && now.Sub(m.at) > r.maxLag {
			delete(r.sessions, user)
		} else {
			ownNeed = m.lsn
		}
	}
	fresh := now.Sub(r.checkedAt) < replicaFresh && r.replayed >= max(lagNeed, ownNeed)
	r.mu.Unlock()
	if fresh {
		return true, ""
	}
	inRecovery, replayed, err := r.status(ctx)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return false, "" // the request is ending anyway
		}
		r.markDown(err)
		return false, FallbackUnavailable
	case !inRecovery:
		r.setState(FallbackNotReplica, nil)
		return false, FallbackNotReplica
	}
	r.mu.Lock()
	if replayed > r.replayed {
		r.replayed = replayed
	}
	r.checkedAt = now
	r.mu.Unlock()
	if replayed < lagNeed {
		r.setState(FallbackLag, nil)
		return false, FallbackLag
	}
	r.setState("", nil)
	if replayed < ownNeed {
		return false, FallbackOwnWrite
	}
	return true, ""
}

// lagBound is the position the replica must have replayed not to be too
// far behind: that of the newest commit sample older than maxLag, or 0.
// Samples older than it are no longer needed. The caller holds mu.
func (r *replica) lagBound(now time.Time) uint64 {
	// Requests take their time before the lock: one that took it later
	// than a younger one must not find the samples it needs dropped.
	if now.Before(r.asked) {
		now = r.asked
	}
	r.asked = now
	i := -1
	for j, s := range r.samples {
		if now.Sub(s.at) < r.maxLag {
			break
		}
		i = j
	}
	if i < 0 {
		return 0
	}
	r.samples = r.samples[i:]
	return r.samples[0].lsn
}

// status asks the replica whether it is still in recovery and how far it
// has replayed.
func (r *replica) status(ctx context.Context) (bool, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, replicaCheckTimeout)
	defer cancel()
	var inRecovery bool
	var lsn sql.NullString
	if err := r.db.bun.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), CAST(pg_last_wal_replay_lsn() AS text)").
		Scan(&inRecovery, &lsn); err != nil {
		return false, 0, err
	}
	if !inRecovery || !lsn.Valid {
		return false, 0, nil
	}
	pos, err := parseLSN(lsn.String)
	return true, pos, err
}

// committed notes a commit of the primary just made on conn: the caller's
// last commit, which its next read-only request must see, and a sample for
// the bound on staleness. Its position is the primary's WAL insert
// position read right after the commit, which is at or past the commit's
// record. When that cannot be read, the caller reads from the primary
// until maxLag has passed.
func (r *replica) committed(ctx context.Context, conn bun.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replicaCheckTimeout)
	defer cancel()
	lsn := uint64(unknownLSN)
	var s string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(pg_current_wal_insert_lsn() AS text)").Scan(&s); err == nil {
		if pos, err := parseLSN(s); err == nil {
			lsn = pos
		}
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := planning.ActorFromContext(ctx); a != nil && a.User != nil {
		if m, ok := r.sessions[a.User.ID]; !ok || m.lsn < lsn || m.lsn == unknownLSN {
			r.sessions[a.User.ID] = commitMark{lsn: lsn, at: now}
		}
		if len(r.sessions) > 4096 {
			r.forgetSessions(now)
		}
	}
	if lsn != unknownLSN {
		r.addSample(lsn, now)
	}
}

// addSample records a commit at lsn, made at now, for the bound on
// staleness: in the last sample when that is younger than maxLag/16 (which
// makes the bound stricter by at most that much), otherwise in a new one.
// Positions never go down from one sample to the next. The caller holds
// mu.
func (r *replica) addSample(lsn uint64, now time.Time) {
	if n := len(r.samples); n > 0 {
		last := &r.samples[n-1]
		lsn = max(lsn, last.lsn)
		if now.Sub(last.at) < r.maxLag/16 {
			last.lsn = lsn
			return
		}
	}
	r.samples = append(r.samples, commitMark{lsn: lsn, at: now})
}

// forgetSessions drops the sessions that no longer decide anything: those
// the replica has replayed, and those older than maxLag, which the bound
// on staleness covers (every commit is in a sample made no later than
// it, and samples never go down). The caller holds mu.
func (r *replica) forgetSessions(now time.Time) {
	for user, m := range r.sessions {
		if (m.lsn != unknownLSN && m.lsn <= r.replayed) || now.Sub(m.at) > r.maxLag {
			delete(r.sessions, user)
		}
	}
}

// markDown leaves the replica alone for replicaRetry after it failed.
func (r *replica) markDown(err error) {
	r.mu.Lock()
	r.downUntil = time.Now().Add(replicaRetry)
	r.mu.Unlock()
	r.setState(FallbackUnavailable, err)
}

// setState logs when the replica stops or starts serving reads.
func (r *replica) setState(state string, err error) {
	r.mu.Lock()
	old := r.state
	r.state = state
	r.mu.Unlock()
	if old == state {
		return
	}
	switch state {
	case "":
		r.logger.Info("read replica in use again: read-only requests read from it")
	case FallbackUnavailable:
		r.logger.Warn("read replica unavailable: read-only requests read from the primary", slog.Any("error", err))
	case FallbackLag:
		r.logger.Warn("read replica too far behind: read-only requests read from the primary", slog.Duration("max_lag", r.maxLag))
	case FallbackNotReplica:
		r.logger.Warn("read database is no longer a replica (promoted?): read-only requests read from the primary")
	}
}

// parseLSN reads a PostgreSQL WAL position such as "16/B374D848".
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("WAL position %q", s)
	}
	return h<<32 | l, nil
}
