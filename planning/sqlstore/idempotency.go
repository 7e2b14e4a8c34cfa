package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type idemRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`
	UserID        int64     `bun:"user_id,pk"`
	Key           string    `bun:"key,pk"`
	Fingerprint   string    `bun:"fingerprint"`
	State         string    `bun:"state"`
	Response      []byte    `bun:"response"` // the caller's record, opaque here
	CreatedAt     time.Time `bun:"created_at"`
	LockedUntil   time.Time `bun:"locked_until"`
}

const (
	idemPending = "pending"
	idemDone    = "done"
)

// IdempotencyService implements planning.IdempotencyService.
type IdempotencyService struct{ db *DB }

var _ planning.IdempotencyService = (*IdempotencyService)(nil)

// Do implements planning.IdempotencyService.
//
// The key is claimed by the effect's own transaction: its record is
// written, done, in the transaction that runs fn, and nothing of the key
// is committed before. A request whose server dies therefore leaves no
// claim behind, and its retry runs at once. While the first request runs,
// PostgreSQL knows it by a transaction-level advisory lock on the key,
// which dies with the holder's session: a retry then gets ECONFLICT. On
// SQLite, where one write runs at a time, the retry waits for the first to
// end and then replays its response.
func (s *IdempotencyService) Do(ctx context.Context, key, fingerprint string, fn func(ctx context.Context) ([]byte, bool, error)) ([]byte, bool, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, false, err
	}
	uid := a.UserID()
	// A finished request is replayed without a write transaction.
	if stored, err := s.lookup(ctx, s.db.bun, uid, key, fingerprint); err != nil || stored != nil {
		return stored, stored != nil, err
	}
	var resp, replay []byte
	// fn and the key's record share one ambient transaction (Atomically),
	// which also runs what fn leaves for after the commit.
	err = s.db.Atomically(ctx, func(ctx context.Context) error {
		tx := ambientFrom(ctx).tx
		resp, replay = nil, nil
		if s.db.dialect == Postgres {
			var held bool
			if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(?)", idemLockKey(uid, key)).Scan(ctx, &held); err != nil {
				return err
			}
			if !held {
				return inProgress()
			}
		}
		stored, err := s.lookup(ctx, tx, uid, key, fingerprint)
		if err != nil {
			return err
		}
		if stored != nil {
			replay = stored
			return errReplay
		}
		now := s.db.Now()
		// Keys are kept at least IdempotencyTTL; older ones of this user
		// go, and so does a claim an earlier release left pending.
		if _, err := tx.NewDelete().Model((*idemRow)(nil)).
			Where("user_id = ? AND ((created_at < ? AND state = ?) OR (key = ? AND state = ?))",
				uid, now.Add(-2*planning.IdempotencyTTL), idemDone, key, idemPending).Exec(ctx); err != nil {
			return err
		}
		var keep bool
		resp, keep, err = fn(ctx)
		if err != nil {
			return err
		}
		if !keep {
			return errNotStored
		}
		// The key turns done in the effect's own transaction.
		_, err = tx.NewInsert().Model(&idemRow{UserID: uid, Key: key, Fingerprint: fingerprint, State: idemDone,
			Response: resp, CreatedAt: now, LockedUntil: now}).Exec(ctx)
		return err
	})
	switch {
	case err == errReplay:
		return replay, true, nil
	case err == errNotStored:
		return resp, false, nil
	case err != nil:
		return nil, false, err
	}
	return resp, false, nil
}

var (
	errNotStored = planning.Errorf(planning.EINTERNAL, "response not stored")
	errReplay    = planning.Errorf(planning.EINTERNAL, "response replayed")
)

// lookup returns the stored record of an earlier identical request, nil
// when there is none, or EINVALID when the key was used with another
// request. A pending record (left by an earlier release, which claimed
// keys in a transaction of their own) has no live holder and counts as
// none.
func (s *IdempotencyService) lookup(ctx context.Context, db bun.IDB, uid int64, key, fingerprint string) ([]byte, error) {
	row := new(idemRow)
	err := db.NewSelect().Model(row).Where("user_id = ? AND key = ?", uid, key).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case row.State != idemDone:
		return nil, nil
	case row.Fingerprint != fingerprint:
		return nil, &planning.Error{Code: planning.EINVALID, Message: "this Idempotency-Key was used with a different request; use a new key",
			Fields: []planning.FieldError{{Field: "Idempotency-Key", Message: "was used with a different request"}}}
	}
	if row.Response == nil {
		row.Response = []byte{}
	}
	return row.Response, nil
}

// idemLockKey is the advisory lock of one user's key: a 64-bit FNV-1a hash
// of both. Two keys that share a hash only make one wait for the other.
func idemLockKey(uid int64, key string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "idempotency\x00%d\x00%s", uid, key)
	return int64(h.Sum64())
}

func inProgress() error {
	return planning.Errorf(planning.ECONFLICT, "a request with this Idempotency-Key is still running; retry later")
}
