package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// cellFilterSQL builds the WHERE clause that selects one version's cells by
// the grid filters and the actor's scope, for use inside raw SQL.
func (db *DB) cellFilterSQL(ctx context.Context, a *planning.Actor, versionID int64, orgUnitID *int64, subtree bool,
	lines, measures []int64, from, to int) (string, []any, error) {
	where := []string{"version_id = ?", "period BETWEEN ? AND ?"}
	args := []any{versionID, from, to}
	if orgUnitID != nil {
		unit := new(orgUnitRow)
		if err := db.scanOne(ctx, db.bun.NewSelect().Model(unit).Where("id = ?", *orgUnitID), "org unit", *orgUnitID); err != nil {
			return "", nil, err
		}
		if !a.CanSeeOrgPath(unit.Path) {
			return "", nil, notFound("org unit", *orgUnitID)
		}
		if subtree {
			where = append(where, "org_unit_id IN (SELECT id FROM org_units WHERE path LIKE ?)")
			args = append(args, unit.Path+"%")
		} else {
			where = append(where, "org_unit_id = ?")
			args = append(args, unit.ID)
		}
	} else if !a.SeesAllOrgUnits() {
		paths := a.ScopePaths()
		if len(paths) == 0 {
			where = append(where, "1 = 0")
		} else {
			var ors []string
			for _, p := range paths {
				ors = append(ors, "path LIKE ?")
				args = append(args, p+"%")
			}
			where = append(where, "org_unit_id IN (SELECT id FROM org_units WHERE "+strings.Join(ors, " OR ")+")")
		}
	}
	if len(lines) > 0 {
		where = append(where, "product_line_id IN (?)")
		args = append(args, bun.In(lines))
	}
	if len(measures) > 0 {
		where = append(where, "measure_id IN (?)")
		args = append(args, bun.In(measures))
	}
	return strings.Join(where, " AND "), args, nil
}

// DiffVersions implements planning.TargetService. It joins the two versions'
// cells in the database and streams the differences once, collecting the
// requested page and the rollups as it goes, so memory stays proportional
// to the page and the number of rollup keys, not to the cells.
func (s *TargetService) DiffVersions(ctx context.Context, f planning.DiffFilter) (*planning.Diff, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	from, to, err := periodRange(f.PeriodFrom, f.PeriodTo)
	if err != nil {
		return nil, err
	}
	v, err := s.db.loadVersion(ctx, s.db.bun, f.VersionID)
	if err != nil {
		return nil, err
	}
	other, err := s.db.loadVersion(ctx, s.db.bun, f.AgainstID)
	if err != nil {
		if planning.ErrorCode(err) == planning.ENOTFOUND {
			return nil, fieldErr(planning.EINVALID, "against", "no such version")
		}
		return nil, err
	}
	if other.RoundID != v.RoundID {
		return nil, fieldErr(planning.EINVALID, "against", "version %d belongs to another round", other.ID)
	}
	var after planning.CellKey
	if c, _ := planning.DecodeCursor(f.Page.Cursor); c != "" {
		if _, err := fmt.Sscanf(c, "%d,%d,%d,%d", &after.OrgUnitID, &after.ProductLineID, &after.MeasureID, &after.Period); err != nil {
			return nil, fieldErr(planning.EINVALID, "cursor", "is not a cursor returned by this list")
		}
	}
	whereA, argsA, err := s.db.cellFilterSQL(ctx, a, v.ID, f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, from, to)
	if err != nil {
		return nil, err
	}
	whereB, argsB, _ := s.db.cellFilterSQL(ctx, a, other.ID, f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, from, to)
	levels, err := s.db.diffLevels(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.diffCells(ctx, v.ID, other.ID, whereA, whereB, argsA, argsB, after, f.Page.Size(), levels)
}

// diffKeys is what a diff needs to know of the keys it meets: every org
// unit's level in the tree, and the measures whose changes are not summed
// (planning.Measure.RollsUp), with their rule.
type diffKeys struct {
	units    map[int64]int
	unsummed map[int64]planning.Aggregation
}

func (db *DB) diffLevels(ctx context.Context) (diffKeys, error) {
	units, err := db.unitLevels(ctx)
	if err != nil {
		return diffKeys{}, err
	}
	var ms []measureRow
	if err := db.bun.NewSelect().Model(&ms).Scan(ctx); err != nil {
		return diffKeys{}, db.mapError(err)
	}
	unsummed := map[int64]planning.Aggregation{}
	for i := range ms {
		if m := ms[i].toDomain(); !m.RollsUp() {
			unsummed[m.ID] = m.Agg()
		}
	}
	return diffKeys{units: units, unsummed: unsummed}, nil
}

// unitLevels returns every org unit's level in the tree, 1 for the top.
func (db *DB) unitLevels(ctx context.Context) (map[int64]int, error) {
	var rows []struct {
		ID   int64  `bun:"id"`
		Path string `bun:"path"`
	}
	if err := db.bun.NewSelect().TableExpr("org_units").Column("id", "path").Scan(ctx, &rows); err != nil {
		return nil, db.mapError(err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.ID] = (&planning.OrgUnit{Path: r.Path}).Depth()
	}
	return out, nil
}

// diffCells lists the cells that differ between versions a and b, the page
// after the key after and the rollups.
//
// On SQLite, whose cost is the two probes per cell of diffQuery, it first
// joins only a's cells against b (the new and changed cells, one probe per
// cell) and counts both sides. The cells only b holds number |B| − (|A| −
// new cells); when that is zero, which it is for a copy that was edited,
// the answer is complete at half the cost, and only otherwise is the full
// query run. Everything is read in one transaction, so the counts and the
// join see the same cells.
func (db *DB) diffCells(ctx context.Context, a, b int64, whereA, whereB string, argsA, argsB []any, after planning.CellKey, size int, levels diffKeys) (*planning.Diff, error) {
	q, args := db.diffQuery(a, b, whereA, whereB, argsA, argsB)
	if db.dialect != SQLite {
		d, _, err := scanDiff(ctx, db.bun, q, args, after, size, levels)
		return d, db.mapError(err)
	}
	tx, err := db.bun.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, db.mapError(err)
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction; nothing to keep
	var na, nb int64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM target_cells WHERE "+whereA+"), (SELECT COUNT(*) FROM target_cells WHERE "+whereB+")",
		append(append([]any{}, argsA...), argsB...)...).Scan(&na, &nb); err != nil {
		return nil, db.mapError(err)
	}
	d, added, err := scanDiff(ctx, tx, diffNewAndChanged(whereA), append(append([]any{}, argsA...), b), after, size, levels)
	if err != nil || nb-(na-added) == 0 {
		return d, db.mapError(err)
	}
	d, _, err = scanDiff(ctx, tx, q, args, after, size, levels)
	return d, db.mapError(err)
}

// scanDiff runs a query shaped like diffQuery's and streams its rows once,
// collecting the page and the rollups as it goes, so memory stays
// proportional to the page and the number of rollup keys, not to the
// cells. It also returns how many rows lacked the "against" amount.
// keys gives each org unit's level, by which the rollups are kept apart,
// and the measures whose changes are counted but not summed.
func scanDiff(ctx context.Context, idb bun.IConn, q string, args []any, after planning.CellKey, size int, keys diffKeys) (*planning.Diff, int64, error) {
	rows, err := idb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	d := &planning.Diff{}
	acc := newRollups()
	var added int64
	for rows.Next() {
		var k planning.CellKey
		var before, afterAmt *string
		if err := rows.Scan(&k.OrgUnitID, &k.ProductLineID, &k.MeasureID, &k.Period, &before, &afterAmt); err != nil {
			return nil, 0, err
		}
		if before == nil {
			added++
		}
		b, err := optDecimal(before)
		if err != nil {
			return nil, 0, err
		}
		x, err := optDecimal(afterAmt)
		if err != nil {
			return nil, 0, err
		}
		if b.Equal(x) {
			continue // a missing cell and an explicit zero are the same target
		}
		ch := planning.CellChange{CellKey: k, Before: b, After: x, Delta: x.Sub(b)}
		d.ChangedCells++
		if _, unsummed := keys.unsummed[k.MeasureID]; unsummed {
			acc.notSummed[k.MeasureID]++
		} else {
			acc.add(&ch, keys.units[k.OrgUnitID])
		}
		if keyAfter(k, after) {
			if len(d.Changes) < size {
				d.Changes = append(d.Changes, ch)
			} else if d.NextCursor == "" {
				last := d.Changes[len(d.Changes)-1].CellKey
				d.NextCursor = planning.EncodeCursor(fmt.Sprintf("%d,%d,%d,%d", last.OrgUnitID, last.ProductLineID, last.MeasureID, last.Period))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	d.ByOrgUnit, d.ByProductLine, d.ByMeasure, d.ByPeriod = acc.unit.list(), acc.line.list(), acc.measure.list(), acc.period.list()
	d.NotSummed = acc.notSummedList(keys)
	return d, added, nil
}

// diffQuery returns the SQL that lists the cells that differ between
// version a (this one) and b (the one compared against): each cell's key,
// then b's amount and a's, NULL where a version lacks the cell, ordered by
// key. whereA and whereB select each version's cells; they filter on key
// columns only, so a cell that passes one passes the other.
//
// PostgreSQL answers a FULL OUTER JOIN of the two with one hash join.
// SQLite plans the same join as a nested loop over the materialized second
// version (a million cells each way never finishes), so there the cells of
// a that are new or changed (a LEFT JOIN probing b's primary key) are
// merged with the cells of b that a lacks (NOT EXISTS); both halves come
// out in key order and merge without a sort.
func (db *DB) diffQuery(a, b int64, whereA, whereB string, argsA, argsB []any) (string, []any) {
	if db.dialect == Postgres {
		return `SELECT COALESCE(a.org_unit_id, b.org_unit_id), COALESCE(a.product_line_id, b.product_line_id),
		COALESCE(a.measure_id, b.measure_id), COALESCE(a.period, b.period), b.amount, a.amount
		FROM (SELECT * FROM target_cells WHERE ` + whereA + `) AS a
		FULL OUTER JOIN (SELECT * FROM target_cells WHERE ` + whereB + `) AS b
		ON a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id
		AND a.measure_id = b.measure_id AND a.period = b.period
		WHERE a.amount IS NULL OR b.amount IS NULL OR a.amount <> b.amount
		ORDER BY 1, 2, 3, 4`, append(append([]any{}, argsA...), argsB...)
	}
	q := newAndChangedSQL(whereA) + `
		UNION ALL
		SELECT b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount, NULL
		FROM (SELECT * FROM target_cells WHERE ` + whereB + `) AS b
		WHERE NOT EXISTS (SELECT 1 FROM target_cells AS a WHERE a.version_id = ? AND a.org_unit_id = b.org_unit_id
		AND a.product_line_id = b.product_line_id AND a.measure_id = b.measure_id AND a.period = b.period)
		ORDER BY 1, 2, 3, 4`
	args := append(append([]any{}, argsA...), b)
	args = append(append(args, argsB...), a)
	return q, args
}

// newAndChangedSQL selects the cells of a (whereA) that b (the first
// argument after whereA's) lacks or holds another amount for, probing b's
// primary key once per cell of a.
func newAndChangedSQL(whereA string) string {
	return `SELECT a.org_unit_id, a.product_line_id, a.measure_id, a.period, b.amount, a.amount
		FROM (SELECT * FROM target_cells WHERE ` + whereA + `) AS a
		LEFT JOIN target_cells AS b ON b.version_id = ? AND b.org_unit_id = a.org_unit_id
		AND b.product_line_id = a.product_line_id AND b.measure_id = a.measure_id AND b.period = a.period
		WHERE b.amount IS NULL OR a.amount <> b.amount`
}

// diffNewAndChanged is newAndChangedSQL in key order: a diff when b holds
// no cell that a lacks.
func diffNewAndChanged(whereA string) string {
	return newAndChangedSQL(whereA) + `
		ORDER BY 1, 2, 3, 4`
}

func keyAfter(k, after planning.CellKey) bool {
	return cmpKey(k, after) > 0
}

func cmpKey(a, b planning.CellKey) int {
	for _, c := range [][2]int64{{a.OrgUnitID, b.OrgUnitID}, {a.ProductLineID, b.ProductLineID}, {a.MeasureID, b.MeasureID}, {int64(a.Period), int64(b.Period)}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func optDecimal(s *string) (decimal.Decimal, error) {
	if s == nil {
		return decimal.Zero, nil
	}
	return decimal.NewFromString(*s)
}

// rollupKey is one rollup's level and key.
type rollupKey struct {
	level int
	key   int64
}

type rollup map[rollupKey]*planning.DiffRollup

func (r rollup) add(level int, key int64, ch *planning.CellChange) {
	k := rollupKey{level, key}
	x, ok := r[k]
	if !ok {
		x = &planning.DiffRollup{Level: level, Key: key}
		r[k] = x
	}
	x.Before, x.After, x.Delta = x.Before.Add(ch.Before), x.After.Add(ch.After), x.Delta.Add(ch.Delta)
}

// list returns the rollups by level, then key.
func (r rollup) list() []planning.DiffRollup {
	out := make([]planning.DiffRollup, 0, len(r))
	for _, x := range r {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b planning.DiffRollup) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

type rollups struct {
	unit, line, measure, period rollup
	// notSummed counts the changed cells of each measure that does not
	// add up.
	notSummed map[int64]int64
}

func newRollups() *rollups {
	return &rollups{unit: rollup{}, line: rollup{}, measure: rollup{}, period: rollup{}, notSummed: map[int64]int64{}}
}

// notSummedList lists the counts of changes not summed, by measure id.
func (r *rollups) notSummedList(keys diffKeys) []planning.DiffNotSummed {
	out := make([]planning.DiffNotSummed, 0, len(r.notSummed))
	for id, n := range r.notSummed {
		out = append(out, planning.DiffNotSummed{MeasureID: id, Aggregation: keys.unsummed[id], ChangedCells: n})
	}
	slices.SortFunc(out, func(a, b planning.DiffNotSummed) int { return cmp.Compare(a.MeasureID, b.MeasureID) })
	return out
}

// add counts one changed cell: under its own unit, and under its product
// line, measure and period at its unit's level only, so a change never
// counts twice in one total.
func (r *rollups) add(ch *planning.CellChange, level int) {
	r.unit.add(level, ch.OrgUnitID, ch)
	r.line.add(level, ch.ProductLineID, ch)
	r.measure.add(level, ch.MeasureID, ch)
	r.period.add(level, int64(ch.Period), ch)
}
