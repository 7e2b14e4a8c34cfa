package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// openDialects opens a new, migrated database of each dialect the test
// machine has: SQLite always, PostgreSQL when CASCADE_TEST_PG_DSN is set
// (this package cannot use storetest, which imports it). Each entry also
// returns the DSN, for a second handle on the same database.
func openDialects(t *testing.T) map[Dialect]string {
	t.Helper()
	out := map[Dialect]string{SQLite: filepath.Join(t.TempDir(), "crashsafe.db")}
	base := strings.TrimSpace(os.Getenv("CASCADE_TEST_PG_DSN"))
	if base == "" {
		t.Log("CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
		return out
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cascade_t_" + hex.EncodeToString(b[:])
	dsn, err := CreateDatabase(context.Background(), base, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DropDatabase(context.Background(), base, name) })
	out[Postgres] = dsn
	return out
}

func openMigrated(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestIdempotencyHolder checks that a key is held exactly as long as the
// request holding it lives: a live holder makes a retry wait (SQLite) or
// refuses it with ECONFLICT (PostgreSQL); once the holder's connection is
// gone, as when its server is killed, the retry runs at once.
func TestIdempotencyHolder(t *testing.T) {
	for d, dsn := range openDialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db := openMigrated(t, dsn)
			svc := &IdempotencyService{db: db}
			ctx := planning.NewContextWithActor(context.Background(), planning.SystemActor())
			fp, other := strings.Repeat("a", 64), strings.Repeat("b", 64)
			ran := 0
			run := func(ctx context.Context) ([]byte, bool, error) {
				ran++
				return []byte(fmt.Sprintf("run %d", ran)), true, nil
			}

			// The holder: another process's open transaction, on its own
			// handle of the database, that claimed the key.
			holder, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := holder.bun.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			tx, err := conn.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if d == Postgres {
				if _, err := tx.ExecContext(context.Background(), "SELECT pg_advisory_xact_lock(?)", idemLockKey(0, "k")); err != nil {
					t.Fatal(err)
				}
				if _, _, err := svc.Do(ctx, "k", fp, run); planning.ErrorCode(err) != planning.ECONFLICT {
					t.Fatalf("while the holder lives: %v, want ECONFLICT", err)
				}
			} else {
				// SQLite's holder has the write lock: the retry waits.
				if _, err := tx.ExecContext(context.Background(), "DELETE FROM idempotency_keys WHERE key = 'none'"); err != nil {
					t.Fatal(err)
				}
				short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				_, _, err := svc.Do(short, "k", fp, run)
				cancel()
				if err == nil {
					t.Fatal("the retry ran while the holder held the write lock")
				}
			}
			if ran != 0 {
				t.Fatalf("ran %d times while held", ran)
			}
			// The holder dies: its connection closes under the open
			// transaction, as the kernel closes a killed process's socket
			// or file.
			if err := conn.Raw(func(dc any) error { return dc.(io.Closer).Close() }); err != nil {
				t.Fatal(err)
			}
			if d == Postgres {
				// (modernc's SQLite cannot be touched again after its
				// handle is closed; that holder is simply abandoned.)
				_ = tx.Rollback()
				_ = conn.Close()
				holder.Close()
			}
			// The database notices the closed connection within moments;
			// until then a retry is still refused.
			died := time.Now()
			resp, replayed, err := svc.Do(ctx, "k", fp, run)
			for planning.ErrorCode(err) == planning.ECONFLICT && time.Since(died) < 5*time.Second {
				time.Sleep(20 * time.Millisecond)
				resp, replayed, err = svc.Do(ctx, "k", fp, run)
			}
			if err != nil || replayed || string(resp) != "run 1" {
				t.Fatalf("after the holder died: %v %v %v", resp, replayed, err)
			}
			t.Logf("the key was free %s after its holder died", time.Since(died).Round(time.Millisecond))
			resp, replayed, err = svc.Do(ctx, "k", fp, run)
			if err != nil || !replayed || string(resp) != "run 1" || ran != 1 {
				t.Fatalf("the retry after success: %v %v %v (ran %d)", resp, replayed, err, ran)
			}
			if _, _, err := svc.Do(ctx, "k", other, run); planning.ErrorCode(err) != planning.EINVALID {
				t.Fatalf("the key with another request: %v", err)
			}
		})
	}
}

// TestTransientRetry checks that a write failing for a transient reason of
// PostgreSQL's (a serialization failure, a deadlock, an internal error) is
// rolled back and run once more, and that a second failure is EUNAVAILABLE
// (503, retry) with the database's error as its cause.
func TestTransientRetry(t *testing.T) {
	dsn, ok := openDialects(t)[Postgres]
	if !ok {
		t.Skip("CASCADE_TEST_PG_DSN not set")
	}
	db := openMigrated(t, dsn)
	ctx := context.Background()
	raise := func(tx bun.Tx, code string) error {
		_, err := tx.ExecContext(ctx, "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '"+code+"'; END $$")
		return err
	}
	for _, code := range []string{"40001", "40P01", "XX000"} {
		t.Run(code, func(t *testing.T) {
			key := "retry-" + code
			tries := 0
			err := db.inTx(ctx, func(tx bun.Tx) error {
				tries++
				if _, err := tx.ExecContext(ctx, "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, locked_until) VALUES (0, ?, 'x', 'done', now(), now())", key+fmt.Sprint(tries)); err != nil {
					return err
				}
				if tries == 1 {
					return raise(tx, code)
				}
				return nil
			})
			if err != nil || tries != 2 {
				t.Fatalf("err %v after %d tries, want success on the second", err, tries)
			}
			var keys []string
			if err := db.bun.NewSelect().TableExpr("idempotency_keys").Column("key").Where("key LIKE ?", key+"%").Scan(ctx, &keys); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0] != key+"2" {
				t.Fatalf("rows after the retry: %v, want only the second try's", keys)
			}
			tries = 0
			err = db.inTx(ctx, func(tx bun.Tx) error { tries++; return raise(tx, code) })
			var perr *planning.Error
			if tries != 2 || !errors.As(err, &perr) || perr.Code != planning.EUNAVAILABLE || perr.Cause == nil ||
				!strings.Contains(perr.Cause.Error(), "injected") {
				t.Fatalf("twice transient: %v after %d tries, want EUNAVAILABLE with the cause", err, tries)
			}
		})
	}
	// A failure of the request's own (a constraint) is not retried.
	tries := 0
	err := db.inTx(ctx, func(tx bun.Tx) error {
		tries++
		_, err := tx.ExecContext(ctx, "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, locked_until) VALUES (0, 'retry-40001', 'x', 'done', now(), now()), (0, 'retry-40001', 'x', 'done', now(), now())")
		return err
	})
	if tries != 1 || planning.ErrorCode(err) != planning.ECONFLICT {
		t.Fatalf("a duplicate key: %v after %d tries", err, tries)
	}
}

// TestMigrateConcurrently starts several migrations of one empty database
// at once, as servers starting together do: each succeeds, and every
// migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	for d, dsn := range openDialects(t) {
		t.Run(string(d), func(t *testing.T) {
			errs := make(chan error, 4)
			for range 4 {
				go func() {
					db, err := Open(context.Background(), dsn)
					if err != nil {
						errs <- err
						return
					}
					defer db.Close()
					errs <- db.Migrate(context.Background())
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			db := openMigrated(t, dsn)
			var n int
			if err := db.bun.NewSelect().TableExpr(migrationTable).ColumnExpr("COUNT(*)").Scan(context.Background(), &n); err != nil {
				t.Fatal(err)
			}
			if want := len(db.migrations()); n != want {
				t.Fatalf("%d migration records, want %d", n, want)
			}
		})
	}
}

// TestRefreshStaleStats checks the start-up refresh of statistics: a table
// with many rows changed since its last ANALYZE (as a server killed right
// after a bulk write leaves the cell table) is analyzed, and one whose
// statistics are current is left alone.
func TestRefreshStaleStats(t *testing.T) {
	dsn, ok := openDialects(t)[Postgres]
	if !ok {
		t.Skip("CASCADE_TEST_PG_DSN not set")
	}
	db := openMigrated(t, dsn)
	ctx := context.Background()
	// Autovacuum is off for the table, so only the refresh analyzes it.
	for _, q := range []string{
		"CREATE TABLE stats_probe (x bigint) WITH (autovacuum_enabled = false)",
		fmt.Sprintf("INSERT INTO stats_probe SELECT generate_series(1, %d)", 2*bulkCells),
	} {
		if _, err := db.bun.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The statistics system learns of the insert within moments.
	var modified int64
	for deadline := time.Now().Add(10 * time.Second); modified < 2*bulkCells && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := db.bun.NewRaw("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'stats_probe'").Scan(ctx, &modified); err != nil {
			t.Fatal(err)
		}
	}
	if modified < 2*bulkCells {
		t.Fatalf("the statistics system reports %d changed rows, want %d", modified, 2*bulkCells)
	}
	refreshed, err := db.refreshStaleStats(ctx, "stats_probe")
	if err != nil || !refreshed {
		t.Fatalf("stale statistics: refreshed %v, %v", refreshed, err)
	}
	var analyzed *time.Time
	if err := db.bun.NewRaw("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'stats_probe'").Scan(ctx, &analyzed); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); analyzed == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := db.bun.NewRaw("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'stats_probe'").Scan(ctx, &analyzed); err != nil {
			t.Fatal(err)
		}
	}
	if analyzed == nil {
		t.Fatal("the table was not analyzed")
	}
	if refreshed, err := db.refreshStaleStats(ctx, "stats_probe"); err != nil || refreshed {
		t.Fatalf("current statistics refreshed again: %v, %v", refreshed, err)
	}
	if refreshed, err := db.RefreshStaleStats(ctx); err != nil || refreshed {
		t.Fatalf("an empty cell table: refreshed %v, %v", refreshed, err)
	}
}
