package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
)

// TestMapErrorOutages checks that the errors of a slow, busy or absent
// database become EUNAVAILABLE (503, retry), not internal errors.
func TestMapErrorOutages(t *testing.T) {
	db := &DB{dialect: Postgres}
	cases := []struct {
		name string
		err  error
	}{
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}},
		{"wrapped read timeout", fmt.Errorf("query: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})},
		{"SQLite busy", errors.New("database is locked (5) (SQLITE_BUSY)")},
		{"connection refused", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")},
		{"connection closed", io.EOF},
		{"connection closed, wrapped", fmt.Errorf("exec: %w", io.EOF)},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}},
		{"bad connection", driver.ErrBadConn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := planning.ErrorCode(db.mapError(tc.err)); got != planning.EUNAVAILABLE {
				t.Fatalf("mapError(%v) has code %q, want %q", tc.err, got, planning.EUNAVAILABLE)
			}
		})
	}
}

// TestPGConnectorTimeouts checks that PostgreSQL connections do not give
// up on a read or write before a request's own deadline, unless the DSN
// says otherwise.
func TestPGConnectorTimeouts(t *testing.T) {
	c := pgConnector("postgres://u:p@127.0.0.1:5432/db?sslmode=disable").Config()
	if c.ReadTimeout != pgIOTimeout || c.WriteTimeout != pgIOTimeout {
		t.Fatalf("read timeout %s, write timeout %s; want %s", c.ReadTimeout, c.WriteTimeout, pgIOTimeout)
	}
	c = pgConnector("postgres://u:p@127.0.0.1:5432/db?sslmode=disable&read_timeout=3s").Config()
	if c.ReadTimeout != 3*time.Second {
		t.Fatalf("read_timeout in the DSN gave %s", c.ReadTimeout)
	}
}

// TestClaimWriter checks the bound on open transactions: on SQLite one at
// a time, and a claim that cannot be had gives up with its context.
func TestClaimWriter(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "claim.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release, err := db.claimWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.tryClaimWriter(); ok {
		t.Fatal("a second writer got a slot on SQLite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := db.claimWriter(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a claim past its deadline: %v", err)
	}
	release()
	again, ok := db.tryClaimWriter()
	if !ok {
		t.Fatal("no slot after the release")
	}
	again()
}

func TestOpenRefusesAMalformedPostgresURL(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://user:pa ss@[bad"); err == nil || !strings.Contains(err.Error(), "invalid PostgreSQL URL") {
		t.Fatalf("Open of a malformed URL: %v", err)
	}
}
