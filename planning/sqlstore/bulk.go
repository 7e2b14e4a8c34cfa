package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cascade-planning/cascade/planning"
)

// inConnTx runs fn in one transaction on one dedicated connection, so bulk
// operations that need the connection itself (PostgreSQL's COPY) take part
// in the transaction. Inside an ambient transaction (see withAmbient) fn
// joins it instead, and its outcome is the ambient one's. A transaction
// that fails for a transient reason of the database's (see transient) is
// rolled back and run once more from the start; fn must therefore keep
// its effects inside the transaction until it returns.
func (db *DB) inConnTx(ctx context.Context, fn func(conn bun.Conn, tx bun.Tx) error) error {
	if amb := ambientFrom(ctx); amb != nil {
		return db.mapError(fn(amb.conn, amb.tx))
	}
	release, err := db.claimWriter(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = db.connTxOnce(ctx, fn)
	if transient(err) && ctx.Err() == nil {
		err = db.connTxOnce(ctx, fn)
	}
	return db.mapError(err)
}

// connTxOnce runs fn in a transaction on a connection of its own and
// commits if fn succeeds; it returns the driver's errors as they are.
func (db *DB) connTxOnce(ctx context.Context, fn func(conn bun.Conn, tx bun.Tx) error) (err error) {
	conn, err := db.bun.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			db.dropOutbox(tx)
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(conn, tx); err != nil {
		db.dropOutbox(tx)
		_ = tx.Rollback()
		return err
	}
	if err := db.writeOutbox(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if db.replica != nil {
		db.replica.committed(ctx, conn)
	}
	return nil
}

// clearAllocated deletes the cells and buffers an allocation replaces and
// returns how many cells it deleted.
//
// In a version over a base (see cells.go) it deletes the region from the
// version's layer and counts the cells the version showed there; the
// base's cells that the allocation does not write again are hidden after
// it by hideAllocated.
func (db *DB) clearAllocated(ctx context.Context, tx bun.Tx, versionID int64, p *planning.AllocationInputs) (int64, error) {
	v, err := db.layerOf(ctx, tx, versionID)
	if err != nil {
		return 0, err
	}
	var deleted int64
	for _, chunk := range chunks(p.WrittenUnits(), 1000) {
		region := []any{p.MeasureID, bun.In(p.LineIDs()), bun.In(chunk)}
		var shown int64 = -1
		if v.base() != 0 {
			// The cells the version shows in the region, from its layer
			// and its base: what the allocation replaces.
			from, args := cellsFrom(v, "c")
			if err := tx.NewRaw("SELECT COUNT(*) FROM "+from+" WHERE measure_id = ? AND product_line_id IN (?) AND org_unit_id IN (?)",
				append(args, region...)...).Scan(ctx, &shown); err != nil {
				return 0, err
			}
		}
		res, err := tx.NewDelete().TableExpr("target_cells").
			Where("round_id = ? AND version_id = ? AND measure_id = ? AND product_line_id IN (?) AND org_unit_id IN (?)",
				append([]any{v.RoundID, v.layer()}, region...)...).Exec(ctx)
		if err != nil {
			return 0, err
		}
		if shown < 0 {
			shown, _ = res.RowsAffected()
		}
		deleted += shown
		if _, err := tx.NewDelete().TableExpr("allocation_buffers").
			Where("round_id = ? AND version_id = ? AND measure_id = ? AND product_line_id IN (?) AND org_unit_id IN (?)",
				v.RoundID, versionID, p.MeasureID, bun.In(p.LineIDs()), bun.In(chunk)).Exec(ctx); err != nil {
			return 0, err
		}
	}
	return deleted, nil
}

// hideAllocated hides, in a version over a base, the base's cells of the
// region an allocation replaced that it did not write again.
func (db *DB) hideAllocated(ctx context.Context, tx bun.Tx, versionID int64, p *planning.AllocationInputs) error {
	v, err := db.layerOf(ctx, tx, versionID)
	if err != nil || v.base() == 0 {
		return err
	}
	for _, chunk := range chunks(p.WrittenUnits(), 1000) {
		if err := db.hideBase(ctx, tx, v, "measure_id = ? AND product_line_id IN (?) AND org_unit_id IN (?)",
			p.MeasureID, bun.In(p.LineIDs()), bun.In(chunk)); err != nil {
			return err
		}
	}
	return nil
}

// writeBuffers records, for every parent an allocation split with a
// buffer, the buffer its children carry, for the consistency check.
func (db *DB) writeBuffers(ctx context.Context, tx bun.Tx, v *versionRow, p *planning.AllocationInputs) error {
	var rows []string
	var args []any
	for _, b := range p.Buffers() {
		rows = append(rows, "(?, ?, ?, ?, ?, ?)")
		args = append(args, v.RoundID, v.ID, b.OrgUnitID, b.ProductLineID, p.MeasureID, b.Buffer)
	}
	for len(rows) > 0 {
		n := min(len(rows), 500)
		if _, err := tx.NewRaw("INSERT INTO allocation_buffers (round_id, version_id, org_unit_id, product_line_id, measure_id, buffer) VALUES "+
			strings.Join(rows[:n], ", "), args[:n*6]...).Exec(ctx); err != nil {
			return err
		}
		rows, args = rows[n:], args[n*6:]
	}
	return nil
}

// writeCells inserts the streamed cells of one measure into a version and
// returns how many it wrote. PostgreSQL gets them through COPY on the
// transaction's connection; SQLite through a prepared multi-row INSERT.
// Neither holds more than a batch of them in memory.
func (db *DB) writeCells(ctx context.Context, conn bun.Conn, tx bun.Tx, versionID, measureID int64, rows planning.CellStream) (int64, error) {
	v, err := db.layerOf(ctx, tx, versionID)
	if err != nil {
		return 0, err
	}
	if db.dialect == Postgres {
		return copyCells(ctx, conn, v.RoundID, v.layer(), measureID, rows)
	}
	return insertCells(ctx, tx.Tx, v.RoundID, v.layer(), measureID, rows)
}

// copyCells streams the cells to PostgreSQL's COPY in its text format.
func copyCells(ctx context.Context, conn bun.Conn, roundID, versionID, measureID int64, rows planning.CellStream) (int64, error) {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<16)
		prefix := strconv.AppendInt(append(strconv.AppendInt(nil, roundID, 10), '\t'), versionID, 10)
		suffix := strconv.AppendInt([]byte{'\t'}, measureID, 10)
		var line []byte
		err := rows(func(unit, pl int64, period int, amount []byte) error {
			line = append(line[:0], prefix...)
			line = append(line, '\t')
			line = strconv.AppendInt(line, unit, 10)
			line = append(line, '\t')
			line = strconv.AppendInt(line, pl, 10)
			line = append(line, suffix...)
			line = append(line, '\t')
			line = strconv.AppendInt(line, int64(period), 10)
			line = append(line, '\t')
			line = append(line, amount...)
			line = append(line, '\n')
			_, err := w.Write(line)
			return err
		})
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
	}()
	res, err := pgdriver.CopyFrom(ctx, conn, pr,
		"COPY target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount) FROM STDIN")
	pr.Close()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqliteBatch is how many cells one INSERT statement carries.
const sqliteBatch = 5000

// insertCells writes the cells in batches of sqliteBatch, each batch one
// JSON array of [org unit, product line, period, "amount"] rows that SQLite
// unpacks with json_each. A statement with three parameters instead of six
// per cell keeps the driver's per-parameter cost (quadratic in the number
// of parameters of a statement in modernc.org/sqlite) out of a million-cell
// load; the amounts stay text and the ids integers, as with plain VALUES.
func insertCells(ctx context.Context, tx *sql.Tx, roundID, versionID, measureID int64, rows planning.CellStream) (int64, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
		SELECT ?1, ?2, value->>0, value->>1, ?3, value->>2, value->>3 FROM json_each(?4)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	var written int64
	var batch []byte
	n := 0
	flush := func() error {
		batch = append(batch, ']')
		res, err := stmt.ExecContext(ctx, roundID, versionID, measureID, string(batch))
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		written += k
		batch, n = batch[:0], 0
		return err
	}
	err = rows(func(unit, line int64, period int, amount []byte) error {
		if n == 0 {
			batch = append(batch, '[')
		} else {
			batch = append(batch, ',')
		}
		batch = append(batch, '[')
		batch = strconv.AppendInt(batch, unit, 10)
		batch = append(batch, ',')
		batch = strconv.AppendInt(batch, line, 10)
		batch = append(batch, ',')
		batch = strconv.AppendInt(batch, int64(period), 10)
		// An amount is a plain decimal (digits, a sign, a point): it needs
		// no escaping inside a JSON string.
		batch = append(batch, ',', '"')
		batch = append(batch, amount...)
		batch = append(batch, '"', ']')
		if n++; n == sqliteBatch {
			return flush()
		}
		return nil
	})
	if err == nil && n > 0 {
		err = flush()
	}
	if err != nil {
		return 0, err
	}
	return written, nil
}
