package planning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// TokenPrefix starts every API token, so a leaked one is easy to recognise.
const TokenPrefix = "cas_"

// Token is an API bearer token. Only its SHA-256 hash is stored; the secret is
// shown once, when it is created. Tokens carry 160 random bits, so a fast
// hash is enough: there is nothing to brute-force.
type Token struct {
	ID         int64
	UserID     int64
	Name       string
	Hint       string // the first characters of the secret, to tell tokens apart
	Hash       string
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  time.Time
}

// NewTokenSecret returns a fresh random secret and its hash.
func NewTokenSecret() (secret, hash string) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	secret = TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Usable reports whether the token may authenticate at time now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// TokenFilter selects tokens.
type TokenFilter struct {
	UserID *int64
	Page   PageRequest
}

// TokenService issues, lists, revokes and checks tokens.
type TokenService interface {
	// CreateToken issues a token for t.UserID and returns its secret, which
	// is not stored and cannot be shown again. Administrators only.
	CreateToken(ctx context.Context, t *Token) (secret string, err error)
	// CreateTokenWithSecret stores a token whose secret the caller chose,
	// such as the well-known tokens of the demo data. Administrators only.
	CreateTokenWithSecret(ctx context.Context, t *Token, secret string) error
	// FindTokens lists tokens (never their secrets). Administrators only.
	FindTokens(ctx context.Context, filter TokenFilter) ([]*Token, string, error)
	// RevokeToken makes a token unusable from now on. Administrators only.
	RevokeToken(ctx context.Context, id int64) (*Token, error)
	// Authenticate resolves a secret to the actor it belongs to. Returns
	// EUNAUTHORIZED for an unknown, revoked or expired token, or an inactive
	// user. It needs no actor in ctx.
	Authenticate(ctx context.Context, secret string) (*Actor, error)
}
