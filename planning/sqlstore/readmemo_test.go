package sqlstore_test

import (
	"context"
	"testing"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// TestReadMemo: within a request that carries a planning.ReadMemo, a
// version and a round are read from the database once; a request without
// one, and a change made in a transaction, always read the database.
func TestReadMemo(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vid := *re.round.WorkingVersionID
		bdb := storetest.Bun(e.db)
		rename := func(label, name string) {
			t.Helper()
			if _, err := bdb.ExecContext(context.Background(), "UPDATE versions SET label = ? WHERE id = ?", label, vid); err != nil {
				t.Fatal(err)
			}
			if _, err := bdb.ExecContext(context.Background(), "UPDATE rounds SET name = ? WHERE id = ?", name, re.round.ID); err != nil {
				t.Fatal(err)
			}
		}
		read := func(ctx context.Context) (string, string) {
			t.Helper()
			v, err := e.svcs.Versions.FindVersionByID(ctx, vid)
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.svcs.Rounds.FindRoundByID(ctx, re.round.ID)
			if err != nil {
				t.Fatal(err)
			}
			return v.Label, r.Name
		}
		rename("first", "Round one")
		memo := planning.WithReadMemo(e.as("strategy"))
		if l, n := read(memo); l != "first" || n != "Round one" {
			t.Fatalf("first read: %q, %q", l, n)
		}
		rename("second", "Round two")
		if l, n := read(memo); l != "first" || n != "Round one" {
			t.Fatalf("the memo read the database again: %q, %q", l, n)
		}
		if l, n := read(e.as("strategy")); l != "second" || n != "Round two" {
			t.Fatalf("without a memo: %q, %q", l, n)
		}
		// A change reads the row in its transaction, never from the memo.
		err := e.db.UpdateVersion(memo, vid, func(v *planning.Version) error {
			if v.Label != "second" {
				t.Errorf("the update read %q, not the stored %q", v.Label, "second")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
