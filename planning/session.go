package planning

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// People sign in to the console with a password and get a session: a random
// secret in an HttpOnly cookie, stored (like tokens) only as its SHA-256
// hash, with an absolute expiry, revocable at any time. Passwords are stored
// as argon2id hashes. Failed sign-ins are counted per username and per
// address in the database, so every server behind a load balancer sees the
// same counts, and a username or address with too many recent failures is
// refused before its password is even checked.
const (
	// SessionTTL is how long a session lasts after sign-in.
	SessionTTL = 12 * time.Hour
	// PasswordLinkTTL is how long an invite or reset link stays usable.
	PasswordLinkTTL = 72 * time.Hour
	// MinPasswordLength and MaxPasswordLength bound a password, in
	// characters and bytes respectively.
	MinPasswordLength = 10
	MaxPasswordLength = 256
	// FailureWindow is the window in which failed sign-ins are counted;
	// MaxFailuresPerUsername and MaxFailuresPerAddress are how many failures
	// in it refuse further attempts for that username or address.
	FailureWindow          = 15 * time.Minute
	MaxFailuresPerUsername = 5
	MaxFailuresPerAddress  = 20
)

// SessionPrefix starts every session secret.
const SessionPrefix = "cs_"

// Session is a signed-in person's session.
type Session struct {
	ID        int64
	UserID    int64
	Address   string // the client address it was opened from
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// Usable reports whether the session may authenticate at time now.
func (s *Session) Usable(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// NewSessionSecret returns a fresh random session secret and its hash.
func NewSessionSecret() (secret, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	secret = SessionPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return secret, HashToken(secret)
}

// PasswordLinkPurpose says what a one-time password link is for.
type PasswordLinkPurpose string

// The purposes of a password link.
const (
	PasswordInvite PasswordLinkPurpose = "invite"
	PasswordReset  PasswordLinkPurpose = "reset"
)

// PasswordLink is a one-time link an administrator hands a person to set
// their password: an invitation for a new user, a reset for a known one.
type PasswordLink struct {
	ID        int64
	UserID    int64
	Purpose   PasswordLinkPurpose
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// SignInRequest is a sign-in attempt.
type SignInRequest struct {
	Username string
	Password string
	Address  string // the client's address, for throttling
}

// ValidatePassword checks a new password's length.
func ValidatePassword(field, p string) error {
	var v Validation
	switch {
	case !utf8.ValidString(p):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(p) < MinPasswordLength:
		v.Add(field, "must be at least %d characters", MinPasswordLength)
	case len(p) > MaxPasswordLength:
		v.Add(field, "must be at most %d bytes", MaxPasswordLength)
	}
	return v.Err()
}

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, one
// lane), which keeps a sign-in well under 100 ms on a small server.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC-format argon2id hash of p with a fresh salt.
func HashPassword(p string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(p), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether p matches the hash made by HashPassword,
// comparing in constant time. A malformed hash matches nothing.
func CheckPassword(hash, p string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &threads); err != nil || mem == 0 || mem > 1<<20 || t == 0 || t > 10 || threads == 0 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, t, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the username is unknown, so a sign-in
// takes as long whether or not the user exists.
var dummyHash = HashPassword("no user has this password")

// CheckNoPassword spends the time of one password check and fails; callers
// use it for unknown users and users without a password.
func CheckNoPassword(p string) bool {
	CheckPassword(dummyHash, p)
	return false
}

// SignedIn is a session just opened: the session, its secret (never
// stored, so shown only now) and the actor it authenticates.
type SignedIn struct {
	Session *Session
	Secret  string
	Actor   *Actor
}

// SessionService signs people in and out and manages their passwords.
type SessionService interface {
	// SignIn checks the username and password and opens a session,
	// returning it with its secret, which is not stored, and the actor it
	// authenticates. Returns
	// EUNAUTHORIZED, with one message for every cause (unknown user, wrong
	// password, no password, inactive user), and ERATELIMITED when the
	// username or address has failed too often within FailureWindow. It
	// needs no actor in ctx.
	SignIn(ctx context.Context, req SignInRequest) (*SignedIn, error)
	// SignOut revokes the session of the secret; an unknown or already
	// revoked session is not an error.
	SignOut(ctx context.Context, secret string) error
	// Authenticate resolves a session secret to its session and actor.
	// Returns EUNAUTHORIZED for an unknown, expired or revoked session or
	// an inactive user. It needs no actor in ctx.
	Authenticate(ctx context.Context, secret string) (*Actor, *Session, error)
	// SetPassword sets a user's password and revokes their sessions.
	// Administrators only (the command line acts as the system).
	SetPassword(ctx context.Context, userID int64, password string) error
	// HasPassword reports whether the user has a password. Administrators
	// only.
	HasPassword(ctx context.Context, userID int64) (bool, error)
	// CreatePasswordLink issues a one-time link for the user to set their
	// password, returning it and its secret. Administrators only; EINVALID
	// for an unknown or inactive user.
	CreatePasswordLink(ctx context.Context, userID int64, purpose PasswordLinkPurpose) (*PasswordLink, string, error)
	// RedeemPasswordLink sets the password of the link's user and uses the
	// link up, revoking the user's sessions. Returns EINVALID (field
	// "token") for an unknown, used or expired link. It needs no actor.
	RedeemPasswordLink(ctx context.Context, secret, password string) error
}
