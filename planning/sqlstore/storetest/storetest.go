// Package storetest opens real, throw-away Cascade databases for tests: a
// SQLite file in a temporary directory, and, when CASCADE_TEST_PG_DSN is set,
// a freshly created PostgreSQL database that is dropped afterwards. Every
// store, API and end-to-end test runs through it, so the same suite covers
// both databases.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// PGEnv names the environment variable holding the PostgreSQL DSN tests use.
const PGEnv = "CASCADE_TEST_PG_DSN"

var skipOnce sync.Once

// Dialects returns the databases tests run on: always SQLite, and PostgreSQL
// when PGEnv is set. Without it, it says so once, visibly.
func Dialects(t testing.TB) []sqlstore.Dialect {
	if PGDSN() == "" {
		skipOnce.Do(func() {
			println("storetest: " + PGEnv + " not set: PostgreSQL tests skipped (scripts/postgres.sh starts one)")
		})
		t.Logf("%s not set: PostgreSQL tests skipped", PGEnv)
		return []sqlstore.Dialect{sqlstore.SQLite}
	}
	return []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres}
}

// PGDSN returns the PostgreSQL test DSN, or "".
func PGDSN() string { return strings.TrimSpace(os.Getenv(PGEnv)) }

// DSN returns the DSN of a new, empty database of dialect d that lives until
// the test ends.
func DSN(t testing.TB, d sqlstore.Dialect) string {
	t.Helper()
	if d == sqlstore.SQLite {
		return filepath.Join(t.TempDir(), "cascade.db")
	}
	base := PGDSN()
	if base == "" {
		t.Skipf("%s not set: PostgreSQL test skipped", PGEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cascade_t_" + hex.EncodeToString(b[:])
	dsn, err := sqlstore.CreateDatabase(context.Background(), base, name)
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := sqlstore.DropDatabase(context.Background(), base, name); err != nil {
			t.Logf("%v", err)
		}
	})
	return dsn
}

// Open returns a migrated, empty database of dialect d, closed when the test
// ends.
func Open(t testing.TB, d sqlstore.Dialect) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, DSN(t, d))
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}
