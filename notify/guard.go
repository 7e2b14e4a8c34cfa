package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Guard refuses connections to addresses a webhook must not reach:
// loopback, private, link-local, unspecified, multicast and the other
// special ranges, unless Allow lists them. It is checked on the resolved
// address at connect time, so a DNS name that points inward, or a redirect
// to one, is refused as well.
type Guard struct {
	Allow []netip.Prefix
}

// ParseAllowList reads a comma-separated list of CIDR prefixes or
// addresses ("127.0.0.0/8,10.1.2.3").
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: %w", p, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q: %w", p, err)
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

// ErrRefusedTarget is returned for a connection the guard refuses.
var ErrRefusedTarget = errors.New("refused target address")

// Check reports whether a connection to addr may be made.
func (g *Guard) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, p := range g.Allow {
		if p.Contains(addr) {
			return nil
		}
	}
	if !addr.IsGlobalUnicast() || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || blocked(addr) {
		return fmt.Errorf("%w %s: private, loopback and link-local targets are not allowed", ErrRefusedTarget, addr)
	}
	return nil
}

var specialRanges = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 reaches IPv4 private ranges
}

func blocked(a netip.Addr) bool {
	for _, p := range specialRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// control is a net.Dialer Control: it runs for every connection, after
// the name is resolved, so it sees the address actually dialled.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w %s", ErrRefusedTarget, address)
	}
	return g.Check(ap.Addr())
}

// Client returns an HTTP client for webhook deliveries: every connection,
// redirects included, passes the guard; no proxy from the environment
// (which would hide the target from the guard); timeout per request.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		}}
}

// DialContext is the guarded dialer, for other senders (SMTP).
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: g.control}
	return d.DialContext(ctx, network, address)
}
