package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/cascade-planning/cascade/planning"
)

// Rate limits per token, unless Config says otherwise.
const (
	DefaultRateLimit = 50  // requests per second, sustained
	DefaultRateBurst = 200 // requests at once
)

// Failed authentications per client address, unless Config says otherwise.
const (
	DefaultAuthFailureRate  = 5  // failures per second, sustained
	DefaultAuthFailureBurst = 50 // failures at once
)

// limiters holds one token bucket per key: per API token, or per client
// address for failed authentications. The buckets protect the service from
// a runaway client; they decide nothing about correctness, so keeping them
// in each server process is fine: with N servers behind a load balancer a
// client may reach N times the rate.
type limiters[K comparable] struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[K]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// newLimiters returns buckets of perSec (defPerSec when 0) with bursts of
// burst (defBurst when 0 or less), or nil, no limit, when perSec < 0.
func newLimiters[K comparable](perSec float64, burst int, defPerSec float64, defBurst int) *limiters[K] {
	if perSec < 0 {
		return nil
	}
	if perSec == 0 {
		perSec = defPerSec
	}
	if burst <= 0 {
		burst = defBurst
	}
	return &limiters[K]{perSec: rate.Limit(perSec), burst: burst, buckets: map[K]*bucket{}}
}

// reserve takes one request from the key's bucket and says how long the
// caller must wait when there is none.
func (l *limiters[K]) reserve(token K, now time.Time) time.Duration {
	return l.take(token, now, true)
}

// wait says how long the caller must wait before the key's bucket holds a
// request again, taking nothing.
func (l *limiters[K]) wait(key K, now time.Time) time.Duration {
	return l.take(key, now, false)
}

func (l *limiters[K]) take(token K, now time.Time, keep bool) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.used) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[token]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.perSec, l.burst)}
		l.buckets[token] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 || !keep {
		r.CancelAt(now)
		return d
	}
	return 0
}

// retryAfter sets Retry-After to wait, rounded up to whole seconds, and
// returns them.
func retryAfter(c echo.Context, wait time.Duration) int {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

// clientAddress is the address a request came from: the connection's peer,
// or, behind a trusted proxy (Config.TrustProxyHeaders), the nearest
// address in X-Forwarded-For that is not one of ours (see NewServer).
func (s *Server) clientAddress(c echo.Context) string {
	return c.RealIP()
}

// limitAuthFailures throttles guessing before any token is hashed and
// looked up: a client address whose failed authentications (401) exceed
// Config.AuthFailureRate gets 429 with Retry-After for every request until
// its bucket refills, whatever token it sends. Requests that authenticate
// cost the address nothing, so many users behind one address are not
// throttled for each other's traffic.
func (s *Server) limitAuthFailures(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.authFails == nil {
			return next(c)
		}
		addr := s.clientAddress(c)
		now := time.Now()
		if wait := s.authFails.wait(addr, now); wait > 0 {
			secs := retryAfter(c, wait)
			return planning.Errorf(ERATELIMITED, "too many failed authentications from this address: at most %.0f per second (bursts of %d); retry after %d s",
				float64(s.authFails.perSec), s.authFails.burst, secs)
		}
		err := next(c)
		if planning.ErrorCode(err) == planning.EUNAUTHORIZED {
			s.authFails.reserve(addr, now)
		}
		return err
	}
}

// rateLimit answers 429 with Retry-After when a token sends more than its
// rate. It runs after authentication, so it is per token.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a := planning.ActorFromContext(c.Request().Context())
		if s.limits == nil || a == nil {
			return next(c)
		}
		if wait := s.limits.reserve(rateKey(a), time.Now()); wait > 0 {
			secs := retryAfter(c, wait)
			return planning.Errorf(ERATELIMITED, "too many requests for this token: at most %.0f per second (bursts of %d); retry after %d s",
				float64(s.limits.perSec), s.limits.burst, secs)
		}
		return next(c)
	}
}

// rateKey is the bucket of a caller: their token, or (as a negative number,
// so the two never meet) their console session.
func rateKey(a *planning.Actor) int64 {
	if a.TokenID == 0 && a.SessionID != 0 {
		return -a.SessionID
	}
	return a.TokenID
}
