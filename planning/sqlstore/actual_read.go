package sqlstore

import (
	"context"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// orgSetSQL returns a condition on the org units aliased alias: the unit
// orgUnitID names (or its subtree), else the units the actor may see. A unit
// outside the actor's scope is ENOTFOUND.
func (db *DB) orgSetSQL(ctx context.Context, a *planning.Actor, orgUnitID *int64, subtree bool, alias string) (string, []any, error) {
	if orgUnitID != nil {
		unit := new(orgUnitRow)
		if err := db.scanOne(ctx, db.bun.NewSelect().Model(unit).Where("id = ?", *orgUnitID), "org unit", *orgUnitID); err != nil {
			return "", nil, err
		}
		if !a.CanSeeOrgPath(unit.Path) {
			return "", nil, notFound("org unit", *orgUnitID)
		}
		if subtree {
			return alias + ".path LIKE ?", []any{unit.Path + "%"}, nil
		}
		return alias + ".id = ?", []any{unit.ID}, nil
	}
	if a.SeesAllOrgUnits() {
		return "1 = 1", nil, nil
	}
	paths := a.ScopePaths()
	if len(paths) == 0 {
		return "1 = 0", nil, nil
	}
	ors := make([]string, len(paths))
	args := make([]any, len(paths))
	for i, p := range paths {
		ors[i], args[i] = alias+".path LIKE ?", p+"%"
	}
	return "(" + strings.Join(ors, " OR ") + ")", args, nil
}

// ancestorCTE lists, for every org unit, itself and each of its ancestors
// as up(unit_id, anc_id); joined with ancestorJoin, grouping by anc rolls
// the leaves' actuals up to every level exactly. The recursion follows
// parent ids, so the join is on ids and uses the keys (a join on path
// prefixes, LIKE, could not).
const ancestorCTE = `WITH RECURSIVE up(unit_id, anc_id) AS (
		SELECT id, id FROM org_units
		UNION ALL
		SELECT up.unit_id, ou.parent_id FROM up JOIN org_units AS ou ON ou.id = up.anc_id WHERE ou.parent_id IS NOT NULL)
	`

// ancestorJoin joins every actual (aliased a) to each unit of its path,
// aliased anc; the query must start with ancestorCTE.
const ancestorJoin = ` FROM actuals AS a
	JOIN up ON up.unit_id = a.org_unit_id
	JOIN org_units AS anc ON anc.id = up.anc_id`

// FindActuals implements planning.ActualService. The sums run in the
// database (exactly, over minor units in SQLite) and the rows stream out,
// so memory stays proportional to the page; the rows of measures that do
// not add up are then redone by their rules (rollupActualKinds).
func (s *ActualService) FindActuals(ctx context.Context, f planning.ActualFilter) ([]planning.ActualRow, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	for field, m := range map[string]string{"month_from": f.MonthFrom, "month_to": f.MonthTo} {
		if m == "" {
			continue
		}
		if _, err := planning.ParseMonth(m); err != nil {
			return nil, "", fieldErr(planning.EINVALID, field, "%s", err)
		}
	}
	where, args, err := s.db.orgSetSQL(ctx, a, f.OrgUnitID, f.Subtree, "anc")
	if err != nil {
		return nil, "", err
	}
	conds := []string{where}
	if len(f.ProductLineIDs) > 0 {
		conds = append(conds, "a.product_line_id IN (?)")
		args = append(args, bun.In(f.ProductLineIDs))
	}
	if len(f.MeasureIDs) > 0 {
		conds = append(conds, "a.measure_id IN (?)")
		args = append(args, bun.In(f.MeasureIDs))
	}
	if f.MonthFrom != "" {
		conds = append(conds, "a.month >= ?")
		args = append(args, f.MonthFrom)
	}
	if f.MonthTo != "" {
		conds = append(conds, "a.month <= ?")
		args = append(args, f.MonthTo)
	}
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		parts := strings.Split(after, "\x1f")
		if len(parts) != 3 {
			return nil, "", fieldErr(planning.EINVALID, "cursor", "is not a cursor returned by this list")
		}
		conds = append(conds, "(anc.path > ? OR (anc.path = ? AND (pl.code > ? OR (pl.code = ? AND m.code > ?))))")
		args = append(args, parts[0], parts[0], parts[1], parts[1], parts[2])
	}
	q := ancestorCTE + `SELECT anc.id, anc.code, anc.path, a.product_line_id, pl.code, a.measure_id, m.code, m.scale, a.month, SUM(` + s.db.minorUnits("a.amount") + `)` +
		ancestorJoin + `
		JOIN product_lines AS pl ON pl.id = a.product_line_id
		JOIN measures AS m ON m.id = a.measure_id
		WHERE ` + strings.Join(conds, " AND ") + `
		GROUP BY anc.id, anc.code, anc.path, a.product_line_id, pl.code, a.measure_id, m.code, m.scale, a.month
		ORDER BY anc.path, pl.code, m.code, a.month`
	rows, err := s.db.bun.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", s.db.mapError(err)
	}
	defer rows.Close()
	size := f.Page.Size()
	var out []planning.ActualRow
	var lastKey string
	for rows.Next() {
		var r planning.ActualRow
		var month, sum, p string
		if err := rows.Scan(&r.OrgUnitID, &r.OrgUnitCode, &p, &r.ProductLineID, &r.ProductLineCode, &r.MeasureID, &r.MeasureCode, &r.Scale, &month, &sum); err != nil {
			return nil, "", err
		}
		amount, err := s.db.fromMinor(sum, r.Scale)
		if err != nil {
			return nil, "", err
		}
		n := len(out)
		if n == 0 || out[n-1].OrgUnitID != r.OrgUnitID || out[n-1].ProductLineID != r.ProductLineID || out[n-1].MeasureID != r.MeasureID {
			if n == size {
				rows.Close()
				out, err = s.rollupActualKinds(ctx, out, f.MonthFrom, f.MonthTo)
				return out, planning.EncodeCursor(lastKey), err
			}
			r.Total = decimal.Zero
			out = append(out, r)
			lastKey = p + "\x1f" + r.ProductLineCode + "\x1f" + r.MeasureCode
		}
		last := &out[len(out)-1]
		last.Months = append(last.Months, planning.MonthAmount{Month: month, Amount: amount})
		last.Total = last.Total.Add(amount)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows.Close()
	out, err = s.rollupActualKinds(ctx, out, f.MonthFrom, f.MonthTo)
	return out, "", err
}

// latestActualMonth returns the latest month from..to that holds any
// actual, or "".
func (db *DB) latestActualMonth(ctx context.Context, from, to string) (string, error) {
	var m *string
	if err := db.bun.NewSelect().TableExpr("actuals").ColumnExpr("MAX(month)").Where("month BETWEEN ? AND ?", from, to).Scan(ctx, &m); err != nil {
		return "", db.mapError(err)
	}
	if m == nil {
		return "", nil
	}
	return *m, nil
}
