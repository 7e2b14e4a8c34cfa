package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// EventCursors implements planning.EventCursors.
type EventCursors struct{ db *DB }

// NewEventCursors returns the outbox cursors of db.
func NewEventCursors(db *DB) *EventCursors { return &EventCursors{db: db} }

// ClaimCursor implements planning.EventCursors.
func (c *EventCursors) ClaimCursor(ctx context.Context, name string, lease time.Duration) (int64, bool, error) {
	db := c.db
	var last int64
	ok := false
	// A read first: nothing new since the cursor costs no write.
	var cur []int64
	if err := db.bun.NewSelect().TableExpr("notification_cursors").Column("last_event_id").Where("name = ?", name).Scan(ctx, &cur); err != nil {
		return 0, false, db.mapError(err)
	}
	if len(cur) == 1 {
		newer, err := db.bun.NewSelect().TableExpr("events").Where("id > ?", cur[0]).Exists(ctx)
		if err != nil || !newer {
			return 0, false, db.mapError(err)
		}
	}
	err := db.inTx(ctx, func(tx bun.Tx) error {
		now := db.Now()
		if _, err := tx.NewRaw(`INSERT INTO notification_cursors (name, last_event_id)
			SELECT ?, COALESCE(MAX(id), 0) FROM events WHERE true ON CONFLICT DO NOTHING`, name).Exec(ctx); err != nil {
			return err
		}
		var ids []int64
		if err := tx.NewRaw(`UPDATE notification_cursors SET lease_until = ? WHERE name = ? AND (lease_until IS NULL OR lease_until < ?)
			RETURNING last_event_id`, now.Add(lease), name, now).Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) == 1 {
			last, ok = ids[0], true
		}
		return nil
	})
	return last, ok, db.mapError(err)
}

// ReleaseCursor implements planning.EventCursors.
func (c *EventCursors) ReleaseCursor(ctx context.Context, name string, last int64) error {
	return c.db.inTx(ctx, func(tx bun.Tx) error {
		_, err := tx.NewRaw(`UPDATE notification_cursors SET last_event_id = ?, lease_until = NULL WHERE name = ?`, last, name).Exec(ctx)
		return c.db.mapError(err)
	})
}
