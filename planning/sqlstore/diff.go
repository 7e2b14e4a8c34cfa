package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
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
	if layers := overlayLayers(v, other); layers != nil {
		// Outside the layers named, the two versions hold the same base:
		// only the keys of those layers can differ. Few such keys are read
		// by primary key; many (a version re-allocated in full) by joining
		// the layers. The layers' rows are counted only up to the
		// threshold, which is all the choice needs.
		where, args := whereA[len("version_id = ? AND "):], argsA[1:]
		var held, enough int64
		if diffScanFactor > 0 {
			enough = max(v.CellCount, other.CellCount)/diffScanFactor + 1
			if err := s.db.bun.NewRaw("SELECT COUNT(*) FROM (SELECT 1 FROM target_cells WHERE round_id = ? AND version_id IN (?) LIMIT ?) AS l",
				v.RoundID, bun.In(layers), enough).Scan(ctx, &held); err != nil {
				return nil, s.db.mapError(err)
			}
		}
		q, qargs := overlayDiffQuery(v, other, layers, where, args)
		if enough > 0 && held >= enough {
			if s.db.dialect == SQLite {
				// SQLite plans the joins of overlayScanQuery as nested
				// loops over unindexed subqueries: the layers and the
				// base are read in key order and merged here instead.
				d, err := s.db.mergeLayers(ctx, v, other, layers, where, args, after, f.Page.Size(), levels)
				return d, s.db.mapError(err)
			}
			q, qargs = overlayScanQuery(v, other, layers, where, args)
		}
		d, _, err := scanDiff(ctx, s.db.bun, q, qargs, after, f.Page.Size(), levels)
		return d, s.db.mapError(err)
	}
	return s.db.diffCells(ctx, v, other, whereA, whereB, argsA, argsB, after, f.Page.Size(), levels)
}

// diffScanFactor decides how a diff of two versions over one base reads
// the keys their layers hold: by primary key while the layers hold at
// most 1/diffScanFactor of the larger version's cells, by scanning the
// layers and the base in one pass beyond (0: always by primary key).
var diffScanFactor int64 = 8

// overlayLayers returns the layers outside which versions a and b hold
// the same cells (see cells.go), or nil when they share no base: both
// layers when they read through to the same base; a's alone when a reads
// through to b's layer and b has no base (a copy of b and its parent),
// and b's alone the other way round.
func overlayLayers(a, b *versionRow) []int64 {
	switch {
	case a.base() != 0 && a.base() == b.base():
		return []int64{a.layer(), b.layer()}
	case a.base() != 0 && a.base() == b.layer() && b.base() == 0:
		return []int64{a.layer()}
	case b.base() != 0 && b.base() == a.layer() && a.base() == 0:
		return []int64{b.layer()}
	}
	return nil
}

// overlayScanQuery is overlayDiffQuery by joins rather than probes: the
// rows of each of the two listed layers joined by key with the other
// layer's and with the layer both versions read through (a shared base,
// or the one's layer that is the other's base), so the database can
// hash-join large layers as it joins two whole versions. Each version's amount is its own
// layer's row (a tombstone's NULL included) or else the shared one's.
// The rows come in no particular order (see scanDiff).
func overlayScanQuery(a, b *versionRow, layers []int64, where string, args []any) (string, []any) {
	la, lb, shared := a.layer(), b.layer(), a.base()
	switch {
	case !slices.Contains(layers, lb): // b's layer is a's base
		lb, shared = 0, b.layer()
	case !slices.Contains(layers, la): // a's layer is b's base
		la, shared = 0, a.layer()
	}
	// The keys b's layer holds, then those only a's holds: no FULL JOIN,
	// whose output PostgreSQL can only join further on COALESCEd keys.
	q := `SELECT ob.org_unit_id, ob.product_line_id, ob.measure_id, ob.period, ob.amount,
		CASE WHEN oa.version_id IS NOT NULL THEN oa.amount ELSE s.amount END
		FROM (SELECT * FROM target_cells WHERE round_id = ? AND version_id = ? AND ` + where + `) AS ob
		LEFT JOIN target_cells AS oa ON oa.round_id = ob.round_id AND oa.version_id = ? AND ` + sameKey("oa", "ob") + `
		LEFT JOIN target_cells AS s ON s.round_id = ob.round_id AND s.version_id = ? AND ` + sameKey("s", "ob") + `
		UNION ALL
		SELECT oa.org_unit_id, oa.product_line_id, oa.measure_id, oa.period, s.amount, oa.amount
		FROM (SELECT * FROM target_cells WHERE round_id = ? AND version_id = ? AND ` + where + `) AS oa
		LEFT JOIN target_cells AS s ON s.round_id = oa.round_id AND s.version_id = ? AND ` + sameKey("s", "oa") + `
		WHERE NOT EXISTS (SELECT 1 FROM target_cells AS x WHERE x.round_id = oa.round_id AND x.version_id = ? AND ` + sameKey("x", "oa") + `)`
	r := a.RoundID // versions over one base are of one round
	return q, concatArgs([]any{r, lb}, args, []any{la, shared, r, la}, args, []any{shared, lb})
}

// mergeLayers is overlayScanQuery by merging in Go: it reads the two
// listed layers' rows and the shared layer's (see overlayScanQuery) in
// primary-key order, each by its own statement in one read transaction,
// and walks them together once, as a merge join would, so no row is
// probed by key. Keys that neither listed layer holds are the same in
// both versions and skipped.
func (db *DB) mergeLayers(ctx context.Context, a, b *versionRow, layers []int64, where string, args []any,
	after planning.CellKey, size int, keys diffKeys) (*planning.Diff, error) {
	la, lb, shared := a.layer(), b.layer(), a.base()
	switch {
	case !slices.Contains(layers, lb): // b's layer is a's base
		lb, shared = 0, b.layer()
	case !slices.Contains(layers, la): // a's layer is b's base
		la, shared = 0, a.layer()
	}
	tx, err := db.bun.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction; nothing to keep
	open := func(layer int64) (*layerRows, error) {
		if layer == 0 {
			return &layerRows{}, nil
		}
		// The measure and the month come as one integer: each column
		// read costs a lock of the connection in the embedded SQLite,
		// and where keeps the months within 1 to 12 (periodRange).
		rows, err := tx.QueryContext(ctx, "SELECT org_unit_id, product_line_id, measure_id * 16 + period, amount FROM target_cells WHERE round_id = ? AND version_id = ? AND "+where+
			" ORDER BY "+keyCols, append([]any{a.RoundID, layer}, args...)...)
		if err != nil {
			return nil, err
		}
		r := &layerRows{rows: rows}
		return r, r.next()
	}
	var streams [3]*layerRows // a's layer, b's layer, the shared one
	for i, layer := range []int64{la, lb, shared} {
		if streams[i], err = open(layer); err != nil {
			break
		}
		defer streams[i].close()
	}
	if err != nil {
		return nil, err
	}
	sa, sb, ss := streams[0], streams[1], streams[2]
	sc := newDiffScanner(after, size, keys)
	for {
		var k planning.CellKey
		found := false
		for _, s := range streams {
			if s.ok && (!found || cmpKey(s.key, k) < 0) {
				k, found = s.key, true
			}
		}
		if !found {
			break
		}
		inA, inB, inS := sa.at(k), sb.at(k), ss.at(k)
		if inA || inB {
			before, afterAmt := ss.amountIf(inS), ss.amountIf(inS)
			if inA {
				afterAmt = sa.amount
			}
			if inB {
				before = sb.amount
			}
			if err := sc.add(k, before, afterAmt); err != nil {
				return nil, err
			}
		}
		for _, s := range streams {
			if s.at(k) {
				if err := s.next(); err != nil {
					return nil, err
				}
			}
		}
	}
	return sc.finish(), nil
}

// layerRows is one layer's rows in key order, at its current row.
type layerRows struct {
	rows   *sql.Rows
	ok     bool // at a row
	key    planning.CellKey
	amount sql.RawBytes // nil for NULL: a tombstone
	cols   [3]any
}

func (r *layerRows) next() error {
	if r.rows == nil || !r.rows.Next() {
		r.ok = false
		if r.rows == nil {
			return nil
		}
		return r.rows.Err()
	}
	if err := r.rows.Scan(&r.cols[0], &r.cols[1], &r.cols[2], &r.amount); err != nil {
		return err
	}
	var mp int64
	var ok [3]bool
	r.key.OrgUnitID, ok[0] = keyInt(r.cols[0])
	r.key.ProductLineID, ok[1] = keyInt(r.cols[1])
	mp, ok[2] = keyInt(r.cols[2])
	if ok != [3]bool{true, true, true} || mp&15 < 1 || mp&15 > 12 {
		return fmt.Errorf("diff: a key column holds %v %v %v", r.cols[0], r.cols[1], r.cols[2])
	}
	r.key.MeasureID, r.key.Period, r.ok = mp>>4, int(mp&15), true
	return nil
}

// at reports whether the layer's current row is at key k.
func (r *layerRows) at(k planning.CellKey) bool { return r.ok && r.key == k }

// amountIf is the current row's amount when the layer holds the key, nil
// (no cell) when not.
func (r *layerRows) amountIf(held bool) []byte {
	if !held {
		return nil
	}
	return r.amount
}

func (r *layerRows) close() {
	if r.rows != nil {
		_ = r.rows.Close()
	}
}

// overlayDiffQuery is diffQuery for two versions that differ only at the
// keys of the given layers: it reads each such key's amount in a and in b
// (the layer's row, a tombstone's NULL included, else the base's) by
// primary key, so it costs the layers' size, never the base's. where (with
// args) filters on key columns only.
func overlayDiffQuery(a, b *versionRow, layers []int64, where string, args []any) (string, []any) {
	q := `SELECT k.org_unit_id, k.product_line_id, k.measure_id, k.period,
		CASE WHEN ob.version_id IS NULL THEN bb.amount ELSE ob.amount END,
		CASE WHEN oa.version_id IS NULL THEN ba.amount ELSE oa.amount END
		FROM (SELECT DISTINCT round_id, ` + keyCols + ` FROM target_cells WHERE round_id = ? AND version_id IN (?) AND ` + where + `) AS k
		LEFT JOIN target_cells AS oa ON oa.round_id = k.round_id AND oa.version_id = ? AND ` + sameKey("oa", "k") + `
		LEFT JOIN target_cells AS ba ON ba.round_id = k.round_id AND ba.version_id = ? AND ` + sameKey("ba", "k") + `
		LEFT JOIN target_cells AS ob ON ob.round_id = k.round_id AND ob.version_id = ? AND ` + sameKey("ob", "k") + `
		LEFT JOIN target_cells AS bb ON bb.round_id = k.round_id AND bb.version_id = ? AND ` + sameKey("bb", "k") + `
		ORDER BY 1, 2, 3, 4`
	out := append([]any{a.RoundID, bun.In(layers)}, args...) // versions over one base are of one round
	return q, append(out, a.layer(), a.base(), b.layer(), b.base())
}

// diffKeys is what a diff needs to know of the keys it meets: every org
// unit's level in the tree, every measure's scale, and the measures whose
// changes are not summed (planning.Measure.RollsUp), with their rule.
type diffKeys struct {
	units    map[int64]int
	scales   map[int64]int32
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
	scales := make(map[int64]int32, len(ms))
	unsummed := map[int64]planning.Aggregation{}
	for i := range ms {
		m := ms[i].toDomain()
		scales[m.ID] = m.Scale
		if !m.RollsUp() {
			unsummed[m.ID] = m.Agg()
		}
	}
	return diffKeys{units: units, scales: scales, unsummed: unsummed}, nil
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
func (db *DB) diffCells(ctx context.Context, va, vb *versionRow, whereA, whereB string, argsA, argsB []any, after planning.CellKey, size int, levels diffKeys) (*planning.Diff, error) {
	q, args := db.diffQuery(va, vb, whereA, whereB, argsA, argsB)
	if db.dialect != SQLite {
		d, _, err := scanDiff(ctx, db.bun, q, args, after, size, levels)
		return d, db.mapError(err)
	}
	tx, err := db.bun.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, db.mapError(err)
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction; nothing to keep
	fromA, fa := cellsFrom(va, "t")
	fromB, fb := cellsFrom(vb, "t")
	var na, nb int64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM "+fromA+" WHERE "+whereA+"), (SELECT COUNT(*) FROM "+fromB+" WHERE "+whereB+")",
		concatArgs(fa, argsA, fb, argsB)...).Scan(&na, &nb); err != nil {
		return nil, db.mapError(err)
	}
	nq, nargs := newAndChangedSQL(va, vb, whereA, argsA)
	d, added, err := scanDiff(ctx, tx, nq+`
		ORDER BY 1, 2, 3, 4`, nargs, after, size, levels)
	if err != nil || nb-(na-added) == 0 {
		return d, db.mapError(err)
	}
	d, _, err = scanDiff(ctx, tx, q, args, after, size, levels)
	return d, db.mapError(err)
}

// concatArgs joins argument lists in order.
func concatArgs(lists ...[]any) []any {
	var out []any
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// scanDiff runs a query shaped like diffQuery's and streams its rows once,
// collecting the page and the rollups as it goes (diffScanner), so memory
// stays proportional to the page and the number of rollup keys, not to
// the cells. The rows may come in any order: the page is the smallest
// keys after the cursor, kept as they pass, so the database need not sort
// the cells. It also returns how many rows lacked the "against" amount.
func scanDiff(ctx context.Context, idb bun.IConn, q string, args []any, after planning.CellKey, size int, keys diffKeys) (*planning.Diff, int64, error) {
	rows, err := idb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	sc := newDiffScanner(after, size, keys)
	// Keys are scanned as the driver's values and amounts as raw bytes:
	// no conversion by reflection and no allocation per row.
	var ko, kl, km, kp any
	var before, afterAmt sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&ko, &kl, &km, &kp, &before, &afterAmt); err != nil {
			return nil, 0, err
		}
		var k planning.CellKey
		var p int64
		var ok [4]bool
		k.OrgUnitID, ok[0] = keyInt(ko)
		k.ProductLineID, ok[1] = keyInt(kl)
		k.MeasureID, ok[2] = keyInt(km)
		p, ok[3] = keyInt(kp)
		if ok != [4]bool{true, true, true, true} {
			return nil, 0, fmt.Errorf("diff: a key column holds %T %T %T %T", ko, kl, km, kp)
		}
		k.Period = int(p)
		if err := sc.add(k, before, afterAmt); err != nil {
			return nil, 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return sc.finish(), sc.added, nil
}

// keyInt reads a key column as the drivers return it.
func keyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// diffScanner takes the rows of a diff (a key, the "against" amount and
// this version's, nil where a version lacks the cell) in any order and
// keeps the count of changed cells, the rollups and the page: the size
// smallest changed keys after the cursor, and whether more follow.
// keys gives each org unit's level, by which the rollups are kept apart,
// and each measure's scale: amounts stored at it (at most
// planning.MaxStoredDigits digits) are compared and summed as integers of
// minor units, any other as decimals; both are exact. The changes of
// measures that do not add up are counted, not summed.
type diffScanner struct {
	d     *planning.Diff
	acc   *rollups
	after planning.CellKey
	size  int
	keys  diffKeys
	// page is a max-heap by key of at most size+1 changes: the smallest
	// keys after the cursor seen so far.
	page  []planning.CellChange
	added int64
	// The last unit's and measure's lookups: the rows of one unit, and of
	// one measure within it, mostly come together.
	unit, measure      int64
	level              int
	scale              int32
	known, unsummed    bool
	haveUnit, haveMeas bool
}

func newDiffScanner(after planning.CellKey, size int, keys diffKeys) *diffScanner {
	return &diffScanner{d: &planning.Diff{}, acc: newRollups(), after: after, size: size, keys: keys}
}

// add counts one row.
func (s *diffScanner) add(k planning.CellKey, before, after []byte) error {
	if before == nil {
		s.added++
	}
	if !s.haveUnit || k.OrgUnitID != s.unit {
		s.unit, s.level, s.haveUnit = k.OrgUnitID, s.keys.units[k.OrgUnitID], true
	}
	if !s.haveMeas || k.MeasureID != s.measure {
		s.measure, s.haveMeas = k.MeasureID, true
		s.scale, s.known = s.keys.scales[k.MeasureID]
		_, s.unsummed = s.keys.unsummed[k.MeasureID]
	}
	bm, okB := minorOfBytes(before, s.scale)
	am, okA := minorOfBytes(after, s.scale)
	delta, okD := subInt(am, bm)
	if s.known && okB && okA && okD {
		if am == bm {
			return nil // a missing cell and an explicit zero are the same target
		}
		s.d.ChangedCells++
		if s.unsummed {
			s.acc.notSummed[k.MeasureID]++
		} else {
			s.acc.addMinor(s.level, k, s.scale, bm, am, delta)
		}
		if s.wants(k) {
			s.offer(planning.CellChange{CellKey: k, Before: decimal.New(bm, -s.scale), After: decimal.New(am, -s.scale), Delta: decimal.New(delta, -s.scale)})
		}
		return nil
	}
	b, err := bytesDecimal(before)
	if err != nil {
		return err
	}
	x, err := bytesDecimal(after)
	if err != nil {
		return err
	}
	if b.Equal(x) {
		return nil
	}
	ch := planning.CellChange{CellKey: k, Before: b, After: x, Delta: x.Sub(b)}
	s.d.ChangedCells++
	if s.unsummed {
		s.acc.notSummed[k.MeasureID]++
	} else {
		s.acc.add(&ch, s.level)
	}
	if s.wants(k) {
		s.offer(ch)
	}
	return nil
}

// wants reports whether a change at k belongs on the page as seen so far.
func (s *diffScanner) wants(k planning.CellKey) bool {
	if !keyAfter(k, s.after) {
		return false
	}
	return len(s.page) <= s.size || cmpKey(k, s.page[0].CellKey) < 0
}

// offer puts a change on the page, dropping the largest key when the page
// holds size+1 (one more than it lists, to know a next page exists).
func (s *diffScanner) offer(ch planning.CellChange) {
	h := s.page
	if len(h) <= s.size {
		h = append(h, ch)
		for i := len(h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if cmpKey(h[i].CellKey, h[p].CellKey) <= 0 {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		s.page = h
		return
	}
	h[0] = ch
	for i := 0; ; { // sift down
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && cmpKey(h[l].CellKey, h[m].CellKey) > 0 {
			m = l
		}
		if r < len(h) && cmpKey(h[r].CellKey, h[m].CellKey) > 0 {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// finish returns the diff: the page in key order, and the rollups.
func (s *diffScanner) finish() *planning.Diff {
	d := s.d
	slices.SortFunc(s.page, func(a, b planning.CellChange) int { return cmpKey(a.CellKey, b.CellKey) })
	if len(s.page) > s.size {
		s.page = s.page[:s.size]
		d.NextCursor = cursorOf(s.page[len(s.page)-1].CellKey)
	}
	if len(s.page) > 0 {
		d.Changes = s.page
	}
	acc := s.acc
	acc.fold()
	d.ByOrgUnit, d.ByProductLine, d.ByMeasure, d.ByPeriod = acc.unit.list(), acc.line.list(), acc.measure.list(), acc.period.list()
	d.NotSummed = acc.notSummedList(s.keys)
	return d
}

func cursorOf(k planning.CellKey) string {
	return planning.EncodeCursor(fmt.Sprintf("%d,%d,%d,%d", k.OrgUnitID, k.ProductLineID, k.MeasureID, k.Period))
}

// minorOfBytes reads an amount of a diff row (nil, NULL, is zero) as minor
// units.
func minorOfBytes(b []byte, scale int32) (int64, bool) {
	if b == nil {
		return 0, true
	}
	return planning.ParseMinor(string(b), scale)
}

// diffQuery returns the SQL that lists the cells that differ between
// version a (this one) and b (the one compared against): each cell's key,
// then b's amount and a's, NULL where a version lacks the cell. whereA and
// whereB select each version's cells; they filter on key columns only, so
// a cell that passes one passes the other.
//
// PostgreSQL answers a FULL OUTER JOIN of the two with one hash join, in
// no particular order: scanDiff keeps the page's smallest keys itself,
// so the database never sorts the cells.
// SQLite plans the same join as a nested loop over the materialized second
// version (a million cells each way never finishes), so there the cells of
// a that are new or changed (a LEFT JOIN probing b's primary key) are
// merged with the cells of b that a lacks (NOT EXISTS); both halves come
// out in key order and merge without a sort.
func (db *DB) diffQuery(va, vb *versionRow, whereA, whereB string, argsA, argsB []any) (string, []any) {
	fromA, fa := cellsFrom(va, "t")
	fromB, fb := cellsFrom(vb, "t")
	if db.dialect == Postgres {
		return `SELECT COALESCE(a.org_unit_id, b.org_unit_id), COALESCE(a.product_line_id, b.product_line_id),
		COALESCE(a.measure_id, b.measure_id), COALESCE(a.period, b.period), b.amount, a.amount
		FROM (SELECT * FROM ` + fromA + ` WHERE ` + whereA + `) AS a
		FULL OUTER JOIN (SELECT * FROM ` + fromB + ` WHERE ` + whereB + `) AS b
		ON a.org_unit_id = b.org_unit_id AND a.product_line_id = b.product_line_id
		AND a.measure_id = b.measure_id AND a.period = b.period
		WHERE a.amount IS NULL OR b.amount IS NULL OR a.amount <> b.amount`, concatArgs(fa, argsA, fb, argsB)
	}
	nq, nargs := newAndChangedSQL(va, vb, whereA, argsA)
	joinA, amountA, pa := cellJoin(va, "a", func(a string) string { return sameKey(a, "b") })
	q := nq + `
		UNION ALL
		SELECT b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount, NULL
		FROM (SELECT * FROM ` + fromB + ` WHERE ` + whereB + `) AS b` + joinA + `
		WHERE (` + amountA + `) IS NULL
		ORDER BY 1, 2, 3, 4`
	return q, concatArgs(nargs, fb, argsB, pa)
}

// newAndChangedSQL selects the cells of a (whereA) that b lacks or holds
// another amount for, probing b's primary key once per cell of a (its
// layer, then its base: cellJoin).
func newAndChangedSQL(va, vb *versionRow, whereA string, argsA []any) (string, []any) {
	fromA, fa := cellsFrom(va, "t")
	joinB, amountB, pb := cellJoin(vb, "b", func(b string) string { return sameKey(b, "a") })
	return `SELECT a.org_unit_id, a.product_line_id, a.measure_id, a.period, ` + amountB + `, a.amount
		FROM (SELECT * FROM ` + fromA + ` WHERE ` + whereA + `) AS a` + joinB + `
		WHERE (` + amountB + `) IS NULL OR a.amount <> (` + amountB + `)`, concatArgs(fa, argsA, pb)
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

// bytesDecimal reads an amount of a diff row (nil, NULL, is zero).
func bytesDecimal(b []byte) (decimal.Decimal, error) {
	if b == nil {
		return decimal.Zero, nil
	}
	return decimal.NewFromString(string(b))
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
	// minor holds the sums of changes kept as integers of minor units, by
	// rollup and scale, until fold adds them to the decimal rollups.
	minor map[minorKey]*minorSum
	// notSummed counts the changed cells of each measure that does not
	// add up.
	notSummed map[int64]int64
	// last is the sum each of the four rollups added to last: the
	// changes of one unit, line and measure mostly come together.
	last [4]struct {
		key minorKey
		sum *minorSum
	}
}

// minorKey is one rollup's key in one of the four rollups (0 unit, 1
// line, 2 measure, 3 period), at one scale.
type minorKey struct {
	which int
	key   rollupKey
	scale int32
}

type minorSum struct{ before, after, delta int64 }

func newRollups() *rollups {
	return &rollups{unit: rollup{}, line: rollup{}, measure: rollup{}, period: rollup{}, minor: map[minorKey]*minorSum{}, notSummed: map[int64]int64{}}
}

// addMinor counts one changed cell as add does, in minor units at scale;
// a sum that would overflow goes to the decimal rollup first.
func (r *rollups) addMinor(level int, k planning.CellKey, scale int32, before, after, delta int64) {
	for which, key := range [4]int64{k.OrgUnitID, k.ProductLineID, k.MeasureID, int64(k.Period)} {
		mk := minorKey{which, rollupKey{level, key}, scale}
		s := r.last[which].sum
		if s == nil || r.last[which].key != mk {
			s = r.minor[mk]
			if s == nil {
				s = &minorSum{}
				r.minor[mk] = s
			}
			r.last[which].key, r.last[which].sum = mk, s
		}
		b, okB := addInt(s.before, before)
		a, okA := addInt(s.after, after)
		d, okD := addInt(s.delta, delta)
		if !okB || !okA || !okD {
			r.flush(mk, s)
			b, a, d = before, after, delta
		}
		s.before, s.after, s.delta = b, a, d
	}
}

// flush adds an integer sum to its decimal rollup and zeroes it.
func (r *rollups) flush(mk minorKey, s *minorSum) {
	ch := planning.CellChange{Before: decimal.New(s.before, -mk.scale), After: decimal.New(s.after, -mk.scale), Delta: decimal.New(s.delta, -mk.scale)}
	[4]rollup{r.unit, r.line, r.measure, r.period}[mk.which].add(mk.key.level, mk.key.key, &ch)
	*s = minorSum{}
}

// fold adds every integer sum to its decimal rollup.
func (r *rollups) fold() {
	for mk, s := range r.minor {
		r.flush(mk, s)
	}
	r.minor = map[minorKey]*minorSum{}
	r.last = [4]struct {
		key minorKey
		sum *minorSum
	}{}
}

// subInt subtracts two int64s, reporting whether the difference fits.
func subInt(a, b int64) (int64, bool) {
	d := a - b
	return d, (a >= 0) == (b >= 0) || (d >= 0) == (a >= 0)
}

// addInt adds two int64s, reporting whether the sum fits.
func addInt(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) != (b >= 0) || (s >= 0) == (a >= 0)
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
