package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type tokenRow struct {
	bun.BaseModel `bun:"table:tokens"`
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	UserID        int64      `bun:"user_id" json:"user_id"`
	Name          string     `bun:"name" json:"name"`
	Hint          string     `bun:"hint" json:"hint"`
	Hash          string     `bun:"hash" json:"-"`
	ExpiresAt     *time.Time `bun:"expires_at" json:"expires_at"`
	RevokedAt     *time.Time `bun:"revoked_at" json:"revoked_at"`
	LastUsedAt    *time.Time `bun:"last_used_at" json:"last_used_at"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r *tokenRow) toDomain() *planning.Token {
	return &planning.Token{ID: r.ID, UserID: r.UserID, Name: r.Name, Hint: r.Hint, Hash: r.Hash,
		ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt), LastUsedAt: utcPtr(r.LastUsedAt), CreatedAt: r.CreatedAt.UTC()}
}

// TokenService implements planning.TokenService.
type TokenService struct{ db *DB }

var _ planning.TokenService = (*TokenService)(nil)

// lastUsedGranularity limits how often authenticating rewrites a token's
// last-used time, so reads do not turn into writes.
const lastUsedGranularity = time.Minute

// CreateToken implements planning.TokenService.
func (s *TokenService) CreateToken(ctx context.Context, t *planning.Token) (string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return "", err
	}
	if err := a.MayManageUsers(); err != nil {
		return "", err
	}
	secret, hash := planning.NewTokenSecret()
	return secret, s.insert(ctx, t, secret, hash)
}

// CreateTokenWithSecret stores a token whose secret the caller chose, such
// as the well-known tokens of the demo data. Administrators only.
func (s *TokenService) CreateTokenWithSecret(ctx context.Context, t *planning.Token, secret string) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageUsers(); err != nil {
		return err
	}
	return s.insert(ctx, t, secret, planning.HashToken(secret))
}

func (s *TokenService) insert(ctx context.Context, t *planning.Token, secret, hash string) error {
	var v planning.Validation
	if t.Name == "" {
		t.Name = "api token"
	}
	if len(t.Name) > planning.MaxNameLength {
		v.Add("name", "must be at most %d characters", planning.MaxNameLength)
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(s.db.Now()) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		u := new(userRow)
		if err := tx.NewSelect().Model(u).Where("id = ?", t.UserID).Scan(ctx); err != nil {
			return fieldErr(planning.EINVALID, "user_id", "no such user")
		}
		if !u.Active {
			return fieldErr(planning.EINVALID, "user_id", "the user is inactive")
		}
		row := &tokenRow{UserID: t.UserID, Name: t.Name, Hint: secret[:min(len(secret), 10)], Hash: hash,
			ExpiresAt: utcPtr(t.ExpiresAt), CreatedAt: s.db.Now()}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		*t = *row.toDomain()
		return s.db.writeAudit(ctx, tx, "token.create", "token", row.ID, nil, row)
	})
}

// FindTokens implements planning.TokenService.
func (s *TokenService) FindTokens(ctx context.Context, f planning.TokenFilter) ([]*planning.Token, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := a.MayManageUsers(); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []tokenRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("id ASC").Limit(fetchLimit(f.Page))
	if f.UserID != nil {
		q.Where("user_id = ?", *f.UserID)
	}
	if after, err := idCursor(f.Page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("id > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *tokenRow) string { return itoa(r.ID) })
	out := make([]*planning.Token, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, next, nil
}

// RevokeToken implements planning.TokenService.
func (s *TokenService) RevokeToken(ctx context.Context, id int64) (*planning.Token, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayManageUsers(); err != nil {
		return nil, err
	}
	var out *planning.Token
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(tokenRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(row).Where("id = ?", id), "token", id); err != nil {
			return err
		}
		if row.RevokedAt == nil {
			before := *row
			now := s.db.Now()
			row.RevokedAt = &now
			if _, err := tx.NewUpdate().Model(row).Column("revoked_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			if err := s.db.writeAudit(ctx, tx, "token.revoke", "token", id, before, row); err != nil {
				return err
			}
		}
		out = row.toDomain()
		return nil
	})
	return out, err
}

// Authenticate implements planning.TokenService.
func (s *TokenService) Authenticate(ctx context.Context, secret string) (*planning.Actor, error) {
	unauthorized := planning.Errorf(planning.EUNAUTHORIZED, "invalid, expired or revoked token")
	if secret == "" || len(secret) > 200 {
		return nil, unauthorized
	}
	tok := new(tokenRow)
	if err := s.db.bun.NewSelect().Model(tok).Where("hash = ?", planning.HashToken(secret)).Scan(ctx); err != nil {
		if code := planning.ErrorCode(s.db.mapError(err)); code == planning.ENOTFOUND {
			return nil, unauthorized
		}
		return nil, s.db.mapError(err)
	}
	now := s.db.Now()
	if !tok.toDomain().Usable(now) {
		return nil, unauthorized
	}
	actor, err := s.db.loadActor(ctx, tok.UserID)
	if err != nil {
		return nil, err
	}
	if actor == nil {
		return nil, unauthorized
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > lastUsedGranularity {
		// Best effort: a failure to record use must not refuse the request,
		// nor may the request wait for it. It is a write, so it runs only
		// when a writer slot is free at once (see claimWriter): on SQLite,
		// a write outside the slot would wait for the write lock holding a
		// connection that the slot's holder may need.
		if release, ok := s.db.tryClaimWriter(); ok {
			_, _ = s.db.bun.NewUpdate().Model(tok).Set("last_used_at = ?", now).WherePK().Exec(ctx)
			release()
		}
	}
	actor.TokenID = tok.ID
	return actor, nil
}
