package sqlstore

import (
	"context"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/migrations"
)

// TestIdempotencyRecordMigration: a response kept, before the record turned
// opaque, in the status and header columns reads back after the migration
// as the one record the API writes: the status and three headers a line
// each, then the body; and a pending claim keeps no record.
func TestIdempotencyRecordMigration(t *testing.T) {
	for dialect, dsn := range openDialects(t) {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ms := migrations.SQLite
			if dialect == Postgres {
				ms = migrations.Postgres
			}
			last := -1
			for i, m := range ms {
				if strings.HasSuffix(m.Name, "20261130000040") {
					last = i
				}
			}
			if last < 0 {
				t.Fatal("no migration 20261130000040")
			}
			run := func(stmts []string) {
				t.Helper()
				for _, s := range stmts {
					if _, err := db.bun.ExecContext(ctx, s); err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
			}
			for _, m := range ms[:last] {
				run(m.Up)
			}
			now, fp := db.Now(), strings.Repeat("f", 64)
			if _, err := db.bun.NewRaw(`INSERT INTO idempotency_keys (user_id, key, fingerprint, state, status, content_type, location, etag, response, created_at, locked_until)
				VALUES (1, 'done', ?, 'done', 201, 'application/json', '/api/v1/rounds/7', '"3"', ?, ?, ?),
				(1, 'bare', ?, 'done', 204, NULL, NULL, NULL, NULL, ?, ?),
				(1, 'pending', ?, 'pending', NULL, NULL, NULL, NULL, NULL, ?, ?)`,
				fp, []byte(`{"id":7}`), now, now, fp, now, now, fp, now, now).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			run(ms[last].Up)
			svc := &IdempotencyService{db: db}
			for key, want := range map[string]string{
				"done":    "201\napplication/json\n/api/v1/rounds/7\n\"3\"\n{\"id\":7}",
				"bare":    "204\n\n\n\n",
				"pending": "",
			} {
				got, err := svc.lookup(ctx, db.bun, 1, key, fp)
				if err != nil || string(got) != want || (want == "") != (got == nil) {
					t.Errorf("%s: %q %v, want %q", key, got, err, want)
				}
			}
			run(ms[last].Down)
		})
	}
}
