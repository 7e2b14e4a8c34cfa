package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"

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

// pageOrder says how a finder orders its rows and makes its cursors from
// them: by a unique text column, in SQL (column set); or, where no portable
// SQL expression computes the order (the org tree's), in memory by key,
// over every row the filter selects (master data: thousands at most).
type pageOrder[R any] struct {
	column string
	key    func(*R) string
}

// byCode orders by the code column, as the finders of measures, product
// lines and seasonality profiles do.
func byCode[R any](code func(*R) string) pageOrder[R] { return pageOrder[R]{column: "code", key: code} }

// inMemory orders by key, computed once per row.
func inMemory[R any](key func(*R) string) pageOrder[R] { return pageOrder[R]{key: key} }

// errEmptyPage, from a finder's filter or conversion, answers the request
// with an empty page: what it asks for exists but is not the caller's to
// list.
var errEmptyPage = errors.New("empty page")

// findPage lists one page of master data, as every finder of org units,
// measures, product lines and seasonality profiles does: any signed-in
// caller may ask (what they see is the filter's business), filter adds the
// finder's conditions, order sorts and makes the cursors, and each row
// becomes a domain value through toDomain.
func findPage[R, T any](ctx context.Context, db *DB, page planning.PageRequest, filter func(*bun.SelectQuery) error,
	order pageOrder[R], toDomain func(*R) (T, error)) ([]T, string, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, "", err
	}
	if err := page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []R
	q := db.bun.NewSelect().Model(&rows)
	if err := filter(q); err != nil {
		if errors.Is(err, errEmptyPage) {
			return []T{}, "", nil
		}
		return nil, "", err
	}
	after, _ := planning.DecodeCursor(page.Cursor)
	if order.column != "" {
		q.OrderExpr("? ASC", bun.Ident(order.column)).Limit(fetchLimit(page))
		if after != "" {
			q.Where("? > ?", bun.Ident(order.column), after)
		}
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", db.mapError(err)
	}
	if order.column == "" {
		keys := make(map[*R]string, len(rows))
		ptrs := make([]*R, len(rows))
		for i := range rows {
			ptrs[i] = &rows[i]
			keys[ptrs[i]] = order.key(ptrs[i])
		}
		slices.SortFunc(ptrs, func(x, y *R) int { return strings.Compare(keys[x], keys[y]) })
		if after != "" {
			i, _ := slices.BinarySearchFunc(ptrs, after, func(r *R, k string) int { return strings.Compare(keys[r], k) })
			for i < len(ptrs) && keys[ptrs[i]] <= after {
				i++
			}
			ptrs = ptrs[i:]
		}
		sorted := make([]R, len(ptrs))
		for i, p := range ptrs {
			sorted[i] = *p
		}
		rows = sorted
	}
	rows, next := cutPage(rows, page, order.key)
	out := make([]T, len(rows))
	for i := range rows {
		var err error
		if out[i], err = toDomain(&rows[i]); err != nil {
			if errors.Is(err, errEmptyPage) {
				return []T{}, "", nil
			}
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
