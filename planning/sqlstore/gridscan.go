package sqlstore

import (
	"context"

	"github.com/uptrace/bun"
)

// scanCells runs a grid query that selects c.org_unit_id, c.product_line_id,
// c.measure_id, c.period and c.amount, and labels every cell with its org
// unit's path and code, its line's code and its measure's code and scale.
// The labels are read once per page from the three small tables rather
// than joined into every cell: a page of a few thousand cells then crosses
// the driver as five columns instead of ten, which halves the cost of a
// grid read on SQLite.
func (db *DB) scanCells(ctx context.Context, q *bun.SelectQuery) ([]cellRow, error) {
	rs, err := q.Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []cellRow
	units, lines, measures := map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	for rs.Next() {
		var c cellRow
		if err := rs.Scan(&c.OrgUnitID, &c.ProductLineID, &c.MeasureID, &c.Period, &c.Amount); err != nil {
			return nil, err
		}
		units[c.OrgUnitID], lines[c.ProductLineID], measures[c.MeasureID] = true, true, true
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	var us []orgUnitRow
	if err := db.bun.NewSelect().Model(&us).Column("id", "code", "path").Where("id IN (?)", bun.In(keysOfSet(units))).Scan(ctx); err != nil {
		return nil, err
	}
	var ls []productLineRow
	if err := db.bun.NewSelect().Model(&ls).Column("id", "code").Where("id IN (?)", bun.In(keysOfSet(lines))).Scan(ctx); err != nil {
		return nil, err
	}
	var ms []measureRow
	if err := db.bun.NewSelect().Model(&ms).Column("id", "code", "scale").Where("id IN (?)", bun.In(keysOfSet(measures))).Scan(ctx); err != nil {
		return nil, err
	}
	unitOf := make(map[int64]*orgUnitRow, len(us))
	for i := range us {
		unitOf[us[i].ID] = &us[i]
	}
	lineOf := make(map[int64]string, len(ls))
	for _, l := range ls {
		lineOf[l.ID] = l.Code
	}
	measureOf := make(map[int64]*measureRow, len(ms))
	for i := range ms {
		measureOf[ms[i].ID] = &ms[i]
	}
	for i := range out {
		c := &out[i]
		if u := unitOf[c.OrgUnitID]; u != nil {
			c.Path, c.OrgUnitCode = u.Path, u.Code
		}
		c.ProductLineCode = lineOf[c.ProductLineID]
		if m := measureOf[c.MeasureID]; m != nil {
			c.MeasureCode, c.Scale = m.Code, m.Scale
		}
	}
	return out, nil
}

func keysOfSet(set map[int64]bool) []int64 {
	out := make([]int64, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}
