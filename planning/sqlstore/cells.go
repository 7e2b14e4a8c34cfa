package sqlstore

import (
	"context"
	"strconv"

	"github.com/uptrace/bun"
)

// Copy-on-write versions.
//
// The rows of target_cells are grouped in layers by their version_id
// column. A version writes one layer, its own (versions.cells_id, or the
// version's id when that is NULL), and may read through to one base layer
// (versions.base_id) that never changes again. The cells of a version are
// the cells of its layer whose amount is not NULL, and the cells of its
// base whose key its layer does not hold: a layer row with a NULL amount (a
// tombstone) hides the base's cell of that key. Every row also carries
// its version's round (round_id, the first column of the key): a layer and
// its base are always of one round, and every read and write names it.
//
// Copying a version therefore writes no cells when it has no base: the copy
// reads through to the source's layer, and a working source (whose layer
// must stay writable) moves on to a new empty layer over that same base.
// Copying a version over a base gives the copy the same base and a copy of
// the source's layer, so a chain is never deeper than one and every read
// is one layer over one base. A copy costs what the source changed since
// its base was taken, never the base's size.
//
// cellsFrom is the one way a read names a version's cells; a version
// without a base (every version that was never copied or copied from) is
// the plain table, read as before.

// layer is the layer of target_cells the version writes.
func (r *versionRow) layer() int64 {
	if r.CellsID != nil {
		return *r.CellsID
	}
	return r.ID
}

// base is the layer the version reads through to, 0 when it has none.
func (r *versionRow) base() int64 {
	if r.BaseID != nil {
		return *r.BaseID
	}
	return 0
}

// keyCols are the key columns of a cell after the version.
const keyCols = "org_unit_id, product_line_id, measure_id, period"

// sameKey is the condition that rows x and y hold the same cell key.
func sameKey(x, y string) string {
	return x + ".org_unit_id = " + y + ".org_unit_id AND " + x + ".product_line_id = " + y + ".product_line_id AND " +
		x + ".measure_id = " + y + ".measure_id AND " + x + ".period = " + y + ".period"
}

// cellsFrom is a FROM item named alias holding the cells of version v with
// the columns of target_cells, version_id being v's id: a query written
// against "target_cells AS c WHERE c.version_id = ?" reads the same with
// cellsFrom in place of the table. Every read names the version's round,
// the first column of the key (a sharded database finds the round's node
// by it). The arguments go before the query's own.
func cellsFrom(v *versionRow, alias string) (string, []any) {
	if v.base() == 0 {
		return "(SELECT round_id, version_id, " + keyCols + ", amount FROM target_cells WHERE round_id = ? AND version_id = ?) AS " + alias,
			[]any{v.RoundID, v.ID}
	}
	id := strconv.FormatInt(v.ID, 10)
	return "(SELECT o.round_id, CAST(" + id + " AS bigint) AS version_id, o.org_unit_id, o.product_line_id, o.measure_id, o.period, o.amount" +
			" FROM target_cells AS o WHERE o.round_id = ? AND o.version_id = ? AND o.amount IS NOT NULL" +
			" UNION ALL SELECT b.round_id, CAST(" + id + " AS bigint), b.org_unit_id, b.product_line_id, b.measure_id, b.period, b.amount" +
			" FROM target_cells AS b WHERE b.round_id = ? AND b.version_id = ? AND NOT EXISTS (SELECT 1 FROM target_cells AS x WHERE x.round_id = b.round_id AND x.version_id = ? AND " +
			sameKey("x", "b") + ")) AS " + alias,
		[]any{v.RoundID, v.layer(), v.RoundID, v.base(), v.layer()}
}

// cellJoin is a LEFT JOIN of version v's one cell at a key, named alias
// in on (which gives the key's condition for an alias), and the expression
// of its amount (NULL when v holds no cell there). Over a base it is two
// probes by primary key, the version's layer first, not a join on the
// cellsFrom union, which SQLite would scan once per outer row.
func cellJoin(v *versionRow, alias string, on func(alias string) string) (join, amount string, args []any) {
	if v.base() == 0 {
		return " LEFT JOIN target_cells AS " + alias + " ON " + alias + ".round_id = ? AND " + alias + ".version_id = ? AND " + on(alias),
			alias + ".amount", []any{v.RoundID, v.ID}
	}
	own, base := alias+"_own", alias+"_base"
	return " LEFT JOIN target_cells AS " + own + " ON " + own + ".round_id = ? AND " + own + ".version_id = ? AND " + on(own) +
			" LEFT JOIN target_cells AS " + base + " ON " + base + ".round_id = ? AND " + base + ".version_id = ? AND " + on(base),
		"CASE WHEN " + own + ".version_id IS NOT NULL THEN " + own + ".amount ELSE " + base + ".amount END",
		[]any{v.RoundID, v.layer(), v.RoundID, v.base()}
}

// cellsOf is cellsFrom for a version known by its id.
func (db *DB) cellsOf(ctx context.Context, idb bun.IDB, versionID int64, alias string) (string, []any, error) {
	v, err := db.loadVersion(ctx, idb, versionID)
	if err != nil {
		return "", nil, err
	}
	q, args := cellsFrom(v, alias)
	return q, args, nil
}

// layerOf is the layer a version writes.
func (db *DB) layerOf(ctx context.Context, idb bun.IDB, versionID int64) (*versionRow, error) {
	return db.loadVersion(ctx, idb, versionID)
}

// hideBase writes tombstones into the layer of a version over a base for
// the base's cells that match where (on key columns, with args) and that
// the layer does not hold: after an allocation has replaced a region of
// the version, the base's cells it did not write again are gone.
func (db *DB) hideBase(ctx context.Context, idb bun.IDB, v *versionRow, where string, args ...any) error {
	if v.base() == 0 {
		return nil
	}
	q := "INSERT INTO target_cells (round_id, version_id, " + keyCols + ", amount) SELECT b.round_id, ?, " + keyCols + ", NULL FROM target_cells AS b" +
		" WHERE b.round_id = ? AND b.version_id = ? AND " + where + " AND NOT EXISTS (SELECT 1 FROM target_cells AS x WHERE x.round_id = b.round_id AND x.version_id = ? AND " + sameKey("x", "b") + ")"
	_, err := idb.NewRaw(q, append(append([]any{v.layer(), v.RoundID, v.base()}, args...), v.layer())...).Exec(ctx)
	return err
}
