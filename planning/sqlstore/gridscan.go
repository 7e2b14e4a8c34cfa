package sqlstore

import (
	"context"

	"github.com/uptrace/bun"
)

// scanCells runs a grid query that selects, per series, the org unit's,
// line's and measure's ids, the unit's path and code, the line's code, the
// measure's code and scale, 1 when its rule is not a sum (into Kind), and
// the series' cells as "period:amount,…" (into Amount). A page crosses the driver as one row per series, not one
// per cell: that halves the cost of a grid read.
func (db *DB) scanCells(ctx context.Context, q *bun.SelectQuery) ([]cellRow, error) {
	rs, err := q.Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []cellRow
	for rs.Next() {
		var c cellRow
		if err := rs.Scan(&c.OrgUnitID, &c.ProductLineID, &c.MeasureID, &c.Path, &c.OrgUnitCode, &c.ProductLineCode,
			&c.MeasureCode, &c.Scale, &c.Kind, &c.Amount); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rs.Err()
}

// concatAgg is the aggregate that joins a group's texts with commas.
func (db *DB) concatAgg(expr string) string {
	if db.dialect == Postgres {
		return "string_agg(" + expr + ", ',')"
	}
	return "group_concat(" + expr + ", ',')"
}
