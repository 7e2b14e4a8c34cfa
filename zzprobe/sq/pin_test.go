package sq

import (
	"os"
	"time"

	"modernc.org/libc"
)

func init() {
	if os.Getenv("PIN") != "" {
		tls := libc.NewTLS()
		for _, n := range []int{3000, 6000, 12000} {
			libc.Xmalloc(tls, libc.Tsize_t(n))
		}
	}
}

func now() time.Time                  { return time.Now() }
func since(t time.Time) time.Duration { return time.Since(t) }
