package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

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

// findPage lists one page of master data ordered by code, as every finder
// of measures, product lines and seasonality profiles does: any signed-in
// caller may read it, filter adds the finder's conditions, and each row
// becomes a domain value through toDomain.
func findPage[R, T any](ctx context.Context, db *DB, page planning.PageRequest, filter func(*bun.SelectQuery),
	code func(*R) string, toDomain func(*R) (T, error)) ([]T, string, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, "", err
	}
	if err := page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []R
	q := db.bun.NewSelect().Model(&rows).OrderExpr("code ASC").Limit(fetchLimit(page))
	filter(q)
	if after, _ := planning.DecodeCursor(page.Cursor); after != "" {
		q.Where("code > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", db.mapError(err)
	}
	rows, next := cutPage(rows, page, code)
	out := make([]T, len(rows))
	for i := range rows {
		var err error
		if out[i], err = toDomain(&rows[i]); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// idCursor returns the integer sort key (an id, a version number) that the
// cursor of an integer-ordered list encodes, or 0 for no cursor. A cursor
// that does not hold a positive integer was not made by such a list: it is
// EINVALID, never handed to the database to compare with a number.
func idCursor(c string) (int64, error) {
	after, _ := planning.DecodeCursor(c)
	if after == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(after, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != after {
		return 0, fieldErr(planning.EINVALID, "cursor", "is not a cursor returned by this list")
	}
	return n, nil
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

// lockRow takes the write lock of row id of table for the rest of tx, so
// that concurrent read-modify-writes of the row queue up instead of one
// overwriting the other's change: PostgreSQL reads what is committed when
// the statement starts, and an UPDATE waits for the row's lock, after which
// the next read sees the change it waited for. (SQLite has one writer at a
// time anyway.) A missing row locks nothing; the load after it says so.
func lockRow(ctx context.Context, tx bun.Tx, table string, id int64) error {
	_, err := tx.NewRaw("UPDATE ? SET revision = revision WHERE id = ?", bun.Ident(table), id).Exec(ctx)
	return err
}
