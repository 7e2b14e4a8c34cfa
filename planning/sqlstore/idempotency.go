package sqlstore

import (
	"context"
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
	Status        *int      `bun:"status"`
	ContentType   *string   `bun:"content_type"`
	Location      *string   `bun:"location"`
	ETag          *string   `bun:"etag"`
	Response      []byte    `bun:"response"`
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

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Do implements planning.IdempotencyService.
func (s *IdempotencyService) Do(ctx context.Context, key, fingerprint string, fn func(ctx context.Context) (*planning.StoredResponse, error)) (*planning.StoredResponse, bool, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, false, err
	}
	uid := a.UserID()
	stored, err := s.claim(ctx, uid, key, fingerprint)
	if err != nil || stored != nil {
		return stored, stored != nil, err
	}
	var resp *planning.StoredResponse
	amb := &ambient{}
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		var err error
		amb.conn, amb.tx = conn, tx
		resp, err = fn(context.WithValue(ctx, ambientKey{}, amb))
		if err != nil {
			return err
		}
		if resp.Status < 200 || resp.Status > 299 {
			return errNotStored
		}
		// The key turns done in the effect's own transaction.
		_, err = tx.NewUpdate().Model((*idemRow)(nil)).
			Set("state = ?, status = ?, content_type = ?, location = ?, etag = ?, response = ?",
				idemDone, resp.Status, strPtr(resp.ContentType), strPtr(resp.Location), strPtr(resp.ETag), resp.Body).
			Where("user_id = ? AND key = ?", uid, key).Exec(ctx)
		return err
	})
	if err == errNotStored || err != nil {
		// Nothing committed: release the key so a retry runs again. A
		// release that fails leaves a lease that expires on its own.
		// It is a write, so it waits its turn like one (see claimWriter).
		_ = s.db.inTx(context.WithoutCancel(ctx), func(tx bun.Tx) error {
			_, err := tx.NewDelete().Model((*idemRow)(nil)).Where("user_id = ? AND key = ? AND state = ?", uid, key, idemPending).Exec(ctx)
			return err
		})
		if err == errNotStored {
			return resp, false, nil
		}
		return nil, false, err
	}
	for _, f := range amb.after {
		f()
	}
	return resp, false, nil
}

var errNotStored = planning.Errorf(planning.EINTERNAL, "response not stored")

// claim reserves the key, or returns the stored response of an earlier
// identical request.
func (s *IdempotencyService) claim(ctx context.Context, uid int64, key, fingerprint string) (*planning.StoredResponse, error) {
	var stored *planning.StoredResponse
	err := s.db.inTx(context.WithoutCancel(ctx), func(tx bun.Tx) error {
		now := s.db.Now()
		// Keys are kept at least IdempotencyTTL; older ones of this user go.
		if _, err := tx.NewDelete().Model((*idemRow)(nil)).
			Where("user_id = ? AND created_at < ? AND state = ?", uid, now.Add(-2*planning.IdempotencyTTL), idemDone).Exec(ctx); err != nil {
			return err
		}
		row := new(idemRow)
		q := tx.NewSelect().Model(row).Where("user_id = ? AND key = ?", uid, key)
		if s.db.dialect == Postgres {
			q.For("UPDATE")
		}
		err := q.Scan(ctx)
		switch {
		case err != nil && planning.ErrorCode(s.db.mapError(err)) == planning.ENOTFOUND:
			row = &idemRow{UserID: uid, Key: key, Fingerprint: fingerprint, State: idemPending, CreatedAt: now,
				LockedUntil: now.Add(planning.IdempotencyLease)}
			_, err := tx.NewInsert().Model(row).Exec(ctx)
			if planning.ErrorCode(s.db.mapError(err)) == planning.ECONFLICT {
				return inProgress()
			}
			return err
		case err != nil:
			return err
		case row.Fingerprint != fingerprint:
			return &planning.Error{Code: planning.EINVALID, Message: "this Idempotency-Key was used with a different request; use a new key",
				Fields: []planning.FieldError{{Field: "Idempotency-Key", Message: "was used with a different request"}}}
		case row.State == idemDone:
			stored = &planning.StoredResponse{Status: *row.Status, ContentType: deref(row.ContentType), Location: deref(row.Location),
				ETag: deref(row.ETag), Body: row.Response}
			return nil
		case row.LockedUntil.After(now):
			return inProgress()
		default:
			// The holder died without committing: take the key over.
			_, err := tx.NewUpdate().Model(row).Set("locked_until = ?", now.Add(planning.IdempotencyLease)).WherePK().Exec(ctx)
			return err
		}
	})
	return stored, err
}

func inProgress() error {
	return planning.Errorf(planning.ECONFLICT, "a request with this Idempotency-Key is still running; retry later")
}
