package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// fetchLimit is how many rows a list query reads: one more than the page, to
// learn whether another page follows.
func fetchLimit(p planning.PageRequest) int64 { return int64(p.Size() + 1) }

// cutPage trims rows to the page size and returns the cursor of the next
// page, made from the sort key of the page's last row ("" when none follows).
func cutPage[T any](rows []T, p planning.PageRequest, key func(*T) string) ([]T, string) {
	if len(rows) <= p.Size() {
		return rows, ""
	}
	rows = rows[:p.Size()]
	return rows, planning.EncodeCursor(key(&rows[len(rows)-1]))
}

// scanOne runs a query for a single row, reporting a missing row as
// ENOTFOUND for entity id.
func (db *DB) scanOne(ctx context.Context, q *bun.SelectQuery, entity string, id int64) error {
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(entity, id)
		}
		return db.mapError(err)
	}
	return nil
}
