package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type passwordRow struct {
	bun.BaseModel `bun:"table:user_passwords"`
	UserID        int64     `bun:"user_id,pk"`
	Hash          string    `bun:"hash"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type sessionRow struct {
	bun.BaseModel `bun:"table:sessions"`
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	UserID        int64      `bun:"user_id" json:"user_id"`
	Hash          string     `bun:"hash" json:"-"`
	Address       string     `bun:"address" json:"address"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
	ExpiresAt     time.Time  `bun:"expires_at" json:"expires_at"`
	RevokedAt     *time.Time `bun:"revoked_at" json:"revoked_at"`
}

func (r *sessionRow) toDomain() *planning.Session {
	return &planning.Session{ID: r.ID, UserID: r.UserID, Address: r.Address, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}

type passwordLinkRow struct {
	bun.BaseModel `bun:"table:password_links"`
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	UserID        int64      `bun:"user_id" json:"user_id"`
	Purpose       string     `bun:"purpose" json:"purpose"`
	Hash          string     `bun:"hash" json:"-"`
	ExpiresAt     time.Time  `bun:"expires_at" json:"expires_at"`
	UsedAt        *time.Time `bun:"used_at" json:"used_at"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
}

type signInFailureRow struct {
	bun.BaseModel `bun:"table:sign_in_failures"`
	ID            int64     `bun:"id,pk,autoincrement"`
	Username      string    `bun:"username"`
	Address       string    `bun:"address"`
	At            time.Time `bun:"at"`
}

// SessionService implements planning.SessionService.
type SessionService struct{ db *DB }

var _ planning.SessionService = (*SessionService)(nil)

// clip shortens s to n bytes, for columns that hold what clients send.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SignIn implements planning.SessionService.
func (s *SessionService) SignIn(ctx context.Context, req planning.SignInRequest) (*planning.SignedIn, error) {
	unauthorized := planning.Errorf(planning.EUNAUTHORIZED, "wrong username or password")
	username, address := clip(req.Username, 64), clip(req.Address, 64)
	now := s.db.Now()
	since := now.Add(-planning.FailureWindow)
	byUser, err := s.db.bun.NewSelect().Model((*signInFailureRow)(nil)).Where("username = ? AND at > ?", username, since).Count(ctx)
	if err != nil {
		return nil, s.db.mapError(err)
	}
	byAddr, err := s.db.bun.NewSelect().Model((*signInFailureRow)(nil)).Where("address = ? AND at > ?", address, since).Count(ctx)
	if err != nil {
		return nil, s.db.mapError(err)
	}
	if byUser >= planning.MaxFailuresPerUsername || byAddr >= planning.MaxFailuresPerAddress {
		return nil, planning.Errorf(planning.ETHROTTLED, "too many failed sign-ins: try again in %d minutes", int(planning.FailureWindow.Minutes()))
	}

	// Look the user and their password up; every failure below costs one
	// password check, so timing tells nothing about which one it was.
	user := new(userRow)
	pw := new(passwordRow)
	ok := false
	err = s.db.bun.NewSelect().Model(user).Where("username = ?", username).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		planning.CheckNoPassword(req.Password)
	case err != nil:
		return nil, s.db.mapError(err)
	default:
		err = s.db.bun.NewSelect().Model(pw).Where("user_id = ?", user.ID).Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			planning.CheckNoPassword(req.Password)
		case err != nil:
			return nil, s.db.mapError(err)
		default:
			ok = planning.CheckPassword(pw.Hash, req.Password) && user.Active
		}
	}
	if !ok {
		err := s.db.inTx(ctx, func(tx bun.Tx) error {
			// Old failures no longer count; clear them as new ones come.
			if _, err := tx.NewDelete().Model((*signInFailureRow)(nil)).Where("at < ?", now.Add(-24*time.Hour)).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewInsert().Model(&signInFailureRow{Username: username, Address: address, At: now}).Exec(ctx)
			return err
		})
		if err != nil {
			return nil, s.db.mapError(err)
		}
		return nil, unauthorized
	}

	secret, hash := planning.NewSessionSecret()
	row := &sessionRow{UserID: user.ID, Hash: hash, Address: address, CreatedAt: now, ExpiresAt: now.Add(planning.SessionTTL)}
	actx := planning.NewContextWithActor(ctx, &planning.Actor{User: user.toDomain()})
	err = s.db.inTx(actx, func(tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*signInFailureRow)(nil)).Where("username = ?", username).Exec(ctx); err != nil {
			return err
		}
		// Sessions long expired serve no one; the audit trail keeps their
		// record.
		if _, err := tx.NewDelete().Model((*sessionRow)(nil)).Where("expires_at < ?", now.Add(-30*24*time.Hour)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		return s.db.writeAudit(actx, tx, "session.create", "session", row.ID, nil, row)
	})
	if err != nil {
		return nil, s.db.mapError(err)
	}
	actor, err := s.db.loadActor(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if actor == nil { // deactivated since the password was checked
		return nil, unauthorized
	}
	return &planning.SignedIn{Session: row.toDomain(), Secret: secret, Actor: actor}, nil
}

// SignOut implements planning.SessionService.
func (s *SessionService) SignOut(ctx context.Context, secret string) error {
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(sessionRow)
		err := tx.NewSelect().Model(row).Where("hash = ?", planning.HashToken(secret)).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) || err == nil && row.RevokedAt != nil {
			return nil
		} else if err != nil {
			return err
		}
		before := *row
		now := s.db.Now()
		row.RevokedAt = &now
		if _, err := tx.NewUpdate().Model(row).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.db.writeAudit(ctx, tx, "session.revoke", "session", row.ID, before, row)
	})
}

// Authenticate implements planning.SessionService.
func (s *SessionService) Authenticate(ctx context.Context, secret string) (*planning.Actor, *planning.Session, error) {
	unauthorized := planning.Errorf(planning.EUNAUTHORIZED, "the session has expired or was signed out: sign in again")
	if secret == "" || len(secret) > 200 {
		return nil, nil, unauthorized
	}
	row := new(sessionRow)
	if err := s.db.bun.NewSelect().Model(row).Where("hash = ?", planning.HashToken(secret)).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, unauthorized
		}
		return nil, nil, s.db.mapError(err)
	}
	sess := row.toDomain()
	if !sess.Usable(s.db.Now()) {
		return nil, nil, unauthorized
	}
	a, err := s.db.loadActor(ctx, row.UserID)
	if err != nil {
		return nil, nil, err
	}
	if a == nil {
		return nil, nil, unauthorized
	}
	a.SessionID = row.ID
	return a, sess, nil
}

// loadActor loads an active user as an actor with their roles and owned
// product lines; nil for an inactive user.
func (db *DB) loadActor(ctx context.Context, userID int64) (*planning.Actor, error) {
	us := &UserService{db: db}
	u, err := us.findUser(ctx, db.bun, userID)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, nil
	}
	var owned []int64
	if err := db.bun.NewSelect().Model((*productLineRow)(nil)).Column("id").
		Where("owner_id = ?", u.ID).OrderExpr("id").Scan(ctx, &owned); err != nil {
		return nil, db.mapError(err)
	}
	return &planning.Actor{User: u, Roles: u.Roles, OwnedProductLineIDs: owned}, nil
}

// SetPassword implements planning.SessionService.
func (s *SessionService) SetPassword(ctx context.Context, userID int64, password string) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageUsers(); err != nil {
		return err
	}
	if err := planning.ValidatePassword("password", password); err != nil {
		return err
	}
	hash := planning.HashPassword(password)
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		u := new(userRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(u).Where("id = ?", userID), "user", userID); err != nil {
			return err
		}
		return s.setPassword(ctx, tx, userID, hash)
	})
}

// setPassword stores the hash and revokes the user's open sessions.
func (s *SessionService) setPassword(ctx context.Context, tx bun.Tx, userID int64, hash string) error {
	now := s.db.Now()
	row := &passwordRow{UserID: userID, Hash: hash, UpdatedAt: now}
	if _, err := tx.NewInsert().Model(row).On("CONFLICT (user_id) DO UPDATE").
		Set("hash = EXCLUDED.hash").Set("updated_at = EXCLUDED.updated_at").Exec(ctx); err != nil {
		return err
	}
	if _, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("revoked_at = ?", now).
		Where("user_id = ? AND revoked_at IS NULL", userID).Exec(ctx); err != nil {
		return err
	}
	// The audit event records that the password changed, never the hash.
	return s.db.writeAudit(ctx, tx, "user.password", "user", userID, nil, map[string]any{"user_id": userID, "updated_at": now})
}

// CreatePasswordLink implements planning.SessionService.
func (s *SessionService) CreatePasswordLink(ctx context.Context, userID int64, purpose planning.PasswordLinkPurpose) (*planning.PasswordLink, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := a.MayManageUsers(); err != nil {
		return nil, "", err
	}
	if purpose != planning.PasswordInvite && purpose != planning.PasswordReset {
		return nil, "", fieldErr(planning.EINVALID, "purpose", "must be invite or reset")
	}
	secret, hash := planning.NewTokenSecret()
	now := s.db.Now()
	row := &passwordLinkRow{UserID: userID, Purpose: string(purpose), Hash: hash, ExpiresAt: now.Add(planning.PasswordLinkTTL), CreatedAt: now}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		u := new(userRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(u).Where("id = ?", userID), "user", userID); err != nil {
			return err
		}
		if !u.Active {
			return fieldErr(planning.EINVALID, "user", "the user is inactive")
		}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		return s.db.writeAudit(ctx, tx, "password_link.create", "password_link", row.ID, nil, row)
	})
	if err != nil {
		return nil, "", s.db.mapError(err)
	}
	return &planning.PasswordLink{ID: row.ID, UserID: userID, Purpose: purpose, ExpiresAt: row.ExpiresAt, CreatedAt: now}, secret, nil
}

// RedeemPasswordLink implements planning.SessionService.
func (s *SessionService) RedeemPasswordLink(ctx context.Context, secret, password string) error {
	bad := fieldErr(planning.EINVALID, "token", "the link is unknown, used or expired: ask an administrator for a new one")
	if secret == "" || len(secret) > 200 {
		return bad
	}
	if err := planning.ValidatePassword("password", password); err != nil {
		return err
	}
	hash := planning.HashPassword(password)
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(passwordLinkRow)
		err := tx.NewSelect().Model(row).Where("hash = ?", planning.HashToken(secret)).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return bad
		} else if err != nil {
			return err
		}
		now := s.db.Now()
		if row.UsedAt != nil || !now.Before(row.ExpiresAt) {
			return bad
		}
		u := new(userRow)
		if err := tx.NewSelect().Model(u).Where("id = ?", row.UserID).Scan(ctx); err != nil || !u.Active {
			return bad
		}
		// Claim the link with a conditional update, so two redemptions at
		// once cannot both succeed.
		res, err := tx.NewUpdate().Model(row).Set("used_at = ?", now).Where("id = ? AND used_at IS NULL", row.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return bad
		}
		actx := planning.NewContextWithActor(ctx, &planning.Actor{User: u.toDomain()})
		return s.setPassword(actx, tx, row.UserID, hash)
	})
}

// HasPassword implements planning.SessionService.
func (s *SessionService) HasPassword(ctx context.Context, userID int64) (bool, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return false, err
	}
	if err := a.MayManageUsers(); err != nil {
		return false, err
	}
	n, err := s.db.bun.NewSelect().Model((*passwordRow)(nil)).Where("user_id = ?", userID).Count(ctx)
	if err != nil {
		return false, s.db.mapError(err)
	}
	return n > 0, nil
}
