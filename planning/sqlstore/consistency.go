package sqlstore

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// minorUnits returns an SQL expression for a cell amount that sums exactly.
// PostgreSQL sums numeric exactly. SQLite would sum text as floating point,
// so there the amount, stored at its measure's fixed scale, becomes an
// integer of minor units by dropping the point: "-1234.50" → -123450.
func (db *DB) minorUnits(col string) string {
	if db.dialect == Postgres {
		return col
	}
	return "CAST(REPLACE(" + col + ", '.', '') AS INTEGER)"
}

// fromMinor turns what minorUnits summed back into an amount.
func (db *DB) fromMinor(s string, scale int32) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if db.dialect == Postgres {
		return d, nil
	}
	return d.Shift(-scale), nil
}

type groupRow struct {
	ParentID      int64   `bun:"parent_id"`
	ProductLineID int64   `bun:"product_line_id"`
	MeasureID     int64   `bun:"measure_id"`
	Period        int     `bun:"period"`
	Children      string  `bun:"children"`
	Parent        *string `bun:"parent"`
	Scale         int32   `bun:"scale"`
	Buffer        *string `bun:"buffer"`
}

// FindInconsistencies implements planning.TargetService. For every parent,
// product line, measure and month where the children hold cells, their sum
// must equal the parent's amount, or, where an allocation left an
// over-assignment buffer b, the parent's months × (1 + b) as the allocation
// engine rounds them (planning.BufferedMonths). The sums run in the
// database; the groups that differ from the plain parent amount come back,
// and every buffered group, since its children must differ from the plain
// amount.
func (s *TargetService) FindInconsistencies(ctx context.Context, versionID int64, page planning.PageRequest) ([]planning.Inconsistency, string, error) {
	items, next, err := s.findInconsistencies(ctx, s.db.bun, versionID, page, nil)
	if err != nil || len(items) == 0 {
		return items, next, err
	}
	v, err := s.db.loadVersion(ctx, s.db.bun, versionID)
	if err != nil {
		return nil, "", err
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
	if err != nil {
		return nil, "", err
	}
	var units, lines, measures []int64
	for _, x := range items {
		units, lines, measures = append(units, x.ParentID), append(lines, x.ProductLineID), append(measures, x.MeasureID)
	}
	uc, err := s.db.idCodes(ctx, s.db.bun, "org_units", "id, code", units)
	if err != nil {
		return nil, "", err
	}
	lc, err := s.db.idCodes(ctx, s.db.bun, "product_lines", "id, code", lines)
	if err != nil {
		return nil, "", err
	}
	mc, err := s.db.idCodes(ctx, s.db.bun, "measures", "id, code, scale", measures)
	if err != nil {
		return nil, "", err
	}
	for i := range items {
		x := &items[i]
		m := mc[x.MeasureID]
		x.ParentCode, x.ProductLineCode, x.MeasureCode, x.Scale = uc[x.ParentID].Code, lc[x.ProductLineID].Code, m.Code, m.Scale
		x.PeriodLabel = r.MonthLabel(x.Period)
	}
	return items, next, nil
}

// findInconsistencies is FindInconsistencies in idb (a transaction that
// sees its own writes), keeping only the groups keep accepts (all if nil).
// Only measures that add up (aggregation sum) are checked: a market share
// or a rating is set per unit, and its children need not add up to it.
func (s *TargetService) findInconsistencies(ctx context.Context, idb bun.IDB, versionID int64, page planning.PageRequest, keep func(planning.CellKey) bool) ([]planning.Inconsistency, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := page.Validate(); err != nil {
		return nil, "", err
	}
	v, err := s.db.loadVersion(ctx, idb, versionID)
	if err != nil {
		return nil, "", err
	}
	scope, scopeArgs := "", []any{}
	if !a.SeesAllOrgUnits() {
		scope = " AND (1 = 0"
		for _, p := range a.ScopePaths() {
			scope += " OR pu.path LIKE ?"
			scopeArgs = append(scopeArgs, p+"%")
		}
		scope += ")"
	}
	cFrom, cArgs := cellsFrom(v, "c")
	pJoin, parent, pArgs := cellJoin(v, "p", func(p string) string {
		return p + ".org_unit_id = g.parent_id AND " + p + ".product_line_id = g.product_line_id AND " +
			p + ".measure_id = g.measure_id AND " + p + ".period = g.period"
	})
	q := `SELECT g.parent_id, g.product_line_id, g.measure_id, g.period, g.children, ` + parent + ` AS parent, m.scale, b.buffer
		FROM (SELECT ou.parent_id, c.product_line_id, c.measure_id, c.period, SUM(` + s.db.minorUnits("c.amount") + `) AS children
		      FROM ` + cFrom + ` JOIN org_units AS ou ON ou.id = c.org_unit_id
		      WHERE c.version_id = ? AND ou.parent_id IS NOT NULL
		      GROUP BY ou.parent_id, c.product_line_id, c.measure_id, c.period) AS g
		JOIN measures AS m ON m.id = g.measure_id
		JOIN org_units AS pu ON pu.id = g.parent_id` + pJoin + `
		LEFT JOIN allocation_buffers AS b ON b.round_id = ? AND b.version_id = ? AND b.org_unit_id = g.parent_id
		     AND b.product_line_id = g.product_line_id AND b.measure_id = g.measure_id
		WHERE m.aggregation = 'sum'
		  AND ((` + parent + `) IS NULL OR b.buffer IS NOT NULL OR g.children <> ` + s.db.minorUnits("("+parent+")") + `)` + scope + `
		ORDER BY g.parent_id, g.product_line_id, g.measure_id, g.period`
	args := append(append(append(cArgs, versionID), pArgs...), v.RoundID, versionID)
	args = append(args, scopeArgs...)
	var groups []groupRow
	if err := idb.NewRaw(q, args...).Scan(ctx, &groups); err != nil {
		return nil, "", s.db.mapError(err)
	}
	var after planning.CellKey
	if c, _ := planning.DecodeCursor(page.Cursor); c != "" {
		if _, err := fmt.Sscanf(c, "%d,%d,%d,%d", &after.OrgUnitID, &after.ProductLineID, &after.MeasureID, &after.Period); err != nil {
			return nil, "", fieldErr(planning.EINVALID, "cursor", "is not a cursor returned by this list")
		}
	}
	var out []planning.Inconsistency
	buffered := map[planning.CellKey][12]decimal.Decimal{}
	// A buffered group whose children hold cells in all twelve months
	// brings the parent's twelve months along; only the others need a
	// query for them.
	type bufferedGroup struct {
		months [12]decimal.Decimal
		seen   int
		buffer string
		scale  int32
	}
	parentMonths := map[planning.CellKey]*bufferedGroup{}
	for _, g := range groups {
		if g.Buffer == nil {
			continue
		}
		yk := planning.CellKey{OrgUnitID: g.ParentID, ProductLineID: g.ProductLineID, MeasureID: g.MeasureID}
		m := parentMonths[yk]
		if m == nil {
			m = &bufferedGroup{buffer: *g.Buffer, scale: g.Scale}
			parentMonths[yk] = m
		}
		if g.Parent != nil {
			d, err := decimal.NewFromString(*g.Parent)
			if err != nil {
				return nil, "", err
			}
			m.months[g.Period-1] = d
		}
		m.seen++
	}
	for yk, m := range parentMonths {
		if m.seen != 12 {
			continue
		}
		got, err := bufferedOf(m.months[:], m.buffer, m.scale)
		if err != nil {
			return nil, "", err
		}
		buffered[yk] = got
	}
	for _, g := range groups {
		k := planning.CellKey{OrgUnitID: g.ParentID, ProductLineID: g.ProductLineID, MeasureID: g.MeasureID, Period: g.Period}
		if !keyAfter(k, after) || keep != nil && !keep(k) {
			continue
		}
		children, err := s.db.fromMinor(g.Children, g.Scale)
		if err != nil {
			return nil, "", err
		}
		expected := decimal.Zero
		if g.Parent != nil {
			if expected, err = decimal.NewFromString(*g.Parent); err != nil {
				return nil, "", err
			}
		}
		if g.Buffer != nil && g.Parent != nil {
			yk := k
			yk.Period = 0
			months, ok := buffered[yk]
			if !ok {
				if months, err = s.bufferedMonths(ctx, idb, versionID, yk, *g.Buffer, g.Scale); err != nil {
					return nil, "", err
				}
				buffered[yk] = months
			}
			expected = months[g.Period-1]
		}
		if children.Equal(expected) {
			continue
		}
		if len(out) == page.Size() {
			last := out[len(out)-1]
			return out, planning.EncodeCursor(fmt.Sprintf("%d,%d,%d,%d", last.ParentID, last.ProductLineID, last.MeasureID, last.Period)), nil
		}
		out = append(out, planning.Inconsistency{ParentID: g.ParentID, ProductLineID: g.ProductLineID, MeasureID: g.MeasureID,
			Period: g.Period, Expected: expected, ChildrenSum: children, Difference: children.Sub(expected)})
	}
	return out, "", nil
}

// bufferedMonths returns what the children of a buffered parent must add up
// to in each month: the parent's months × (1 + buffer), rounded the way the
// allocation engine rounds them.
func (s *TargetService) bufferedMonths(ctx context.Context, idb bun.IDB, versionID int64, k planning.CellKey, buffer string, scale int32) ([12]decimal.Decimal, error) {
	var out [12]decimal.Decimal
	from, fromArgs, err := s.db.cellsOf(ctx, idb, versionID, "c")
	if err != nil {
		return out, err
	}
	var cells []cellRow
	if err := idb.NewSelect().TableExpr(from, fromArgs...).Column("period", "amount").
		Where("version_id = ? AND org_unit_id = ? AND product_line_id = ? AND measure_id = ?", versionID, k.OrgUnitID, k.ProductLineID, k.MeasureID).
		Scan(ctx, &cells); err != nil {
		return out, err
	}
	months := make([]decimal.Decimal, 12)
	for i := range months {
		months[i] = decimal.Zero
	}
	for _, c := range cells {
		d, err := decimal.NewFromString(c.Amount)
		if err != nil {
			return out, err
		}
		months[c.Period-1] = d
	}
	return bufferedOf(months, buffer, scale)
}

// bufferedOf is planning.BufferedMonths of a parent's twelve months.
func bufferedOf(months []decimal.Decimal, buffer string, scale int32) ([12]decimal.Decimal, error) {
	var out [12]decimal.Decimal
	b, err := decimal.NewFromString(buffer)
	if err != nil {
		return out, err
	}
	got, err := planning.BufferedMonths(months, b, scale)
	if err != nil {
		return out, err
	}
	copy(out[:], got)
	return out, nil
}

// touchedInconsistencies lists, after a write in tx, the inconsistencies
// the written cells take part in: each cell as a parent of its children,
// and each cell with its siblings under its parent, for its product line,
// measure and month.
func (s *TargetService) touchedInconsistencies(ctx context.Context, tx bun.IDB, versionID int64, edits []planning.CellEdit) ([]planning.Inconsistency, error) {
	var units []struct {
		ID       int64  `bun:"id"`
		ParentID *int64 `bun:"parent_id"`
	}
	ids := make([]int64, len(edits))
	for i, e := range edits {
		ids[i] = e.OrgUnitID
	}
	parent := map[int64]int64{}
	for _, chunk := range chunks(uniq(ids), 5000) {
		if err := tx.NewSelect().TableExpr("org_units").Column("id", "parent_id").Where("id IN (?)", bun.In(chunk)).Scan(ctx, &units); err != nil {
			return nil, err
		}
		for _, u := range units {
			if u.ParentID != nil {
				parent[u.ID] = *u.ParentID
			}
		}
	}
	groups := map[planning.CellKey]bool{}
	for _, e := range edits {
		k := e.CellKey
		groups[k] = true
		if p, ok := parent[k.OrgUnitID]; ok {
			k.OrgUnitID = p
			groups[k] = true
		}
	}
	keep := func(k planning.CellKey) bool { return groups[k] }
	var out []planning.Inconsistency
	for it, err := range planning.AllPages(func(page planning.PageRequest) ([]planning.Inconsistency, string, error) {
		return s.findInconsistencies(ctx, tx, versionID, page, keep)
	}) {
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}
