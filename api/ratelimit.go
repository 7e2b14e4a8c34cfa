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

// limiters holds one token bucket per API token. The buckets protect the
// service from a runaway client; they decide nothing about correctness, so
// keeping them in each server process is fine: with N servers behind a load
// balancer a token may reach N times the rate.
type limiters struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[int64]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newLimiters(perSec float64, burst int) *limiters {
	if perSec < 0 {
		return nil
	}
	if perSec == 0 {
		perSec = DefaultRateLimit
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	return &limiters{perSec: rate.Limit(perSec), burst: burst, buckets: map[int64]*bucket{}}
}

// reserve takes one request from the token's bucket and says how long the
// caller must wait when there is none.
func (l *limiters) reserve(token int64, now time.Time) time.Duration {
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
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
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
			secs := int(math.Ceil(wait.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return planning.Errorf(planning.ERATELIMITED, "too many requests for this token: at most %.0f per second (bursts of %d); retry after %d s",
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
