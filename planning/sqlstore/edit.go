package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// writeChecker validates the keys of cells an actor writes into a round:
// known active org units, product lines the actor may plan, measures of the
// round, amounts at the measure's scale.
type writeChecker struct {
	actor    *planning.Actor
	round    *planning.Round
	measures map[int64]*measureRow
	// kinds are the measures as the domain sees them, to check values.
	kinds map[int64]*planning.Measure
	lines map[int64]*productLineRow
	units map[int64]*orgUnitRow
}

func (db *DB) newWriteChecker(ctx context.Context, idb bun.IDB, a *planning.Actor, r *planning.Round, unitIDs, lineIDs []int64) (*writeChecker, error) {
	w := &writeChecker{actor: a, round: r, measures: map[int64]*measureRow{}, lines: map[int64]*productLineRow{}, units: map[int64]*orgUnitRow{}}
	if len(r.MeasureIDs) > 0 {
		var ms []measureRow
		if err := idb.NewSelect().Model(&ms).Where("id IN (?)", bun.In(r.MeasureIDs)).Scan(ctx); err != nil {
			return nil, err
		}
		w.kinds = make(map[int64]*planning.Measure, len(ms))
		for i := range ms {
			w.measures[ms[i].ID] = &ms[i]
			w.kinds[ms[i].ID] = ms[i].toDomain()
		}
	}
	if len(lineIDs) > 0 {
		var ls []productLineRow
		if err := idb.NewSelect().Model(&ls).Where("id IN (?)", bun.In(uniq(lineIDs))).Scan(ctx); err != nil {
			return nil, err
		}
		for i := range ls {
			w.lines[ls[i].ID] = &ls[i]
		}
	}
	for _, chunk := range chunks(uniq(unitIDs), 5000) {
		var us []orgUnitRow
		if err := idb.NewSelect().Model(&us).Where("id IN (?)", bun.In(chunk)).Scan(ctx); err != nil {
			return nil, err
		}
		for i := range us {
			w.units[us[i].ID] = &us[i]
		}
	}
	return w, nil
}

// checkLine validates a product line the actor writes; forbidden lines are
// reported as an error of their own, so the caller can answer 403.
func (w *writeChecker) checkLine(v *planning.Validation, field string, id int64) error {
	pl, ok := w.lines[id]
	if !ok {
		v.Add(field, "no such product line")
		return nil
	}
	return w.actor.MayPlanProductLine(pl.toDomain())
}

func (w *writeChecker) checkUnit(v *planning.Validation, field string, id int64) {
	u, ok := w.units[id]
	if !ok || !w.actor.CanSeeOrgPath(u.Path) {
		v.Add(field, "no such org unit")
	} else if !u.Active {
		v.Add(field, "org unit %s is inactive", u.Code)
	}
}

func (w *writeChecker) checkMeasure(v *planning.Validation, field string, id int64) *measureRow {
	m, ok := w.measures[id]
	if !ok {
		v.Add(field, "is not a measure of round %s", w.round.Code)
		return nil
	}
	return m
}

// checkAmount refuses amounts with more decimal places than the scale
// (planning.CheckAmountScale).
func checkAmount(v *planning.Validation, field string, d decimal.Decimal, scale int32) {
	planning.CheckAmountScale(v, field, d, scale)
}

func uniq(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

// cellChange is the audit record of one edited cell.
type cellChange struct {
	OrgUnitID     int64   `json:"org_unit_id"`
	ProductLineID int64   `json:"product_line_id"`
	MeasureID     int64   `json:"measure_id"`
	Period        int     `json:"period"`
	Before        *string `json:"before"`
	After         string  `json:"after"`
}

// EditCells implements planning.TargetService.
func (s *TargetService) EditCells(ctx context.Context, versionID int64, edits []planning.CellEdit, ifMatch *int64) (*planning.Version, error) {
	a, err := checkEditRequest(ctx, edits)
	if err != nil {
		return nil, err
	}
	var out *planning.Version
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		out, err = s.editCellsIn(ctx, tx, a, versionID, edits, ifMatch)
		return err
	})
	return out, err
}

// WriteCells implements planning.TargetService: the write of EditCells,
// then the consistency of what it touched, read in the same transaction; a
// dry run does both inside a savepoint it rolls back, so it runs exactly
// the checks and statements of the write.
func (s *TargetService) WriteCells(ctx context.Context, w planning.CellWrite) (*planning.CellWriteResult, error) {
	a, err := checkEditRequest(ctx, w.Edits)
	if err != nil {
		return nil, err
	}
	out := &planning.CellWriteResult{}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		write := func() error {
			v, err := s.editCellsIn(ctx, tx, a, w.VersionID, w.Edits, w.IfMatch)
			if err == nil {
				out.Version = v
				out.Inconsistencies, err = s.touchedInconsistencies(ctx, tx, w.VersionID, w.Edits)
			}
			return err
		}
		if !w.DryRun {
			return write()
		}
		if err := s.db.undone(ctx, tx, write); err != nil {
			return err
		}
		v, err := s.db.loadVersion(ctx, tx, w.VersionID)
		if err == nil {
			out.Version = v.toDomain()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkEditRequest checks what a batch of cells needs before any
// transaction: an actor who writes targets and 1 to MaxBatchCells cells.
func checkEditRequest(ctx context.Context, edits []planning.CellEdit) (*planning.Actor, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayEditTargets(); err != nil {
		return nil, err
	}
	if len(edits) == 0 {
		return nil, fieldErr(planning.EINVALID, "cells", "must list at least one cell")
	}
	if len(edits) > planning.MaxBatchCells {
		return nil, fieldErr(planning.ETOOLARGE, "cells", "at most %d cells per batch", planning.MaxBatchCells)
	}
	return a, nil
}

// editCellsIn writes a batch of cells in tx, all or nothing: the one code
// path of every cell write.
func (s *TargetService) editCellsIn(ctx context.Context, tx bun.Tx, a *planning.Actor, versionID int64, edits []planning.CellEdit, ifMatch *int64) (*planning.Version, error) {
	var out *planning.Version
	v, r, err := s.db.lockWorkingVersion(ctx, tx, versionID, ifMatch)
	if err != nil {
		return nil, err
	}
	unitIDs, lineIDs := make([]int64, len(edits)), make([]int64, len(edits))
	for i, e := range edits {
		unitIDs[i], lineIDs[i] = e.OrgUnitID, e.ProductLineID
	}
	w, err := s.db.newWriteChecker(ctx, tx, a, r, unitIDs, lineIDs)
	if err != nil {
		return nil, err
	}
	var val planning.Validation
	seen := make(map[planning.CellKey]int, len(edits))
	for i, e := range edits {
		f := fmt.Sprintf("cells[%d]", i)
		w.checkUnit(&val, f+".org_unit", e.OrgUnitID)
		if err := w.checkLine(&val, f+".product_line", e.ProductLineID); err != nil {
			return nil, err
		}
		if m := w.checkMeasure(&val, f+".measure", e.MeasureID); m != nil {
			w.kinds[m.ID].CheckValue(&val, f+".amount", e.Amount)
		}
		if e.Period < 1 || e.Period > 12 {
			val.Add(f+".period", "must be a month of the round's fiscal year")
		}
		if j, dup := seen[e.CellKey]; dup {
			val.Add(f, "sets the same cell as cells[%d]", j)
		}
		seen[e.CellKey] = i
	}
	if err := val.Err(); err != nil {
		return nil, err
	}
	before, err := s.db.readCells(ctx, tx, versionID, keysOf(edits))
	if err != nil {
		return nil, err
	}
	changes := make([]cellChange, len(edits))
	added := int64(0)
	for i, e := range edits {
		scale := w.measures[e.MeasureID].Scale
		changes[i] = cellChange{OrgUnitID: e.OrgUnitID, ProductLineID: e.ProductLineID, MeasureID: e.MeasureID,
			Period: e.Period, After: e.Amount.StringFixed(scale)}
		if old, ok := before[e.CellKey]; ok {
			o := old.StringFixed(scale)
			changes[i].Before = &o
		} else {
			added++
		}
	}
	if err := s.db.upsertCells(ctx, tx, versionID, edits, w.measures); err != nil {
		return nil, err
	}
	v.CellCount += added
	if _, err := tx.NewUpdate().Model(v).Column("cell_count").WherePK().Exec(ctx); err != nil {
		return nil, err
	}
	out = v.toDomain()
	auditID, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: versionID}, "targets.edit", "version", versionID,
		nil, map[string]any{"cells": changes})
	if err != nil {
		return nil, err
	}
	if err := s.db.writeCellHistory(ctx, tx, versionID, auditID, changes); err != nil {
		return nil, err
	}
	return out, nil
}

func keysOf(edits []planning.CellEdit) []planning.CellKey {
	out := make([]planning.CellKey, len(edits))
	for i, e := range edits {
		out[i] = e.CellKey
	}
	return out
}

// readCells returns the current amounts of the given cells that exist: the
// version's layer, then, for the keys it does not hold, its base.
func (db *DB) readCells(ctx context.Context, idb bun.IDB, versionID int64, keys []planning.CellKey) (map[planning.CellKey]decimal.Decimal, error) {
	v, err := db.loadVersion(ctx, idb, versionID)
	if err != nil {
		return nil, err
	}
	out := make(map[planning.CellKey]decimal.Decimal, len(keys))
	held := map[planning.CellKey]bool{}
	if err := db.readLayer(ctx, idb, v.RoundID, v.layer(), keys, out, held); err != nil || v.base() == 0 {
		return out, err
	}
	var rest []planning.CellKey
	for _, k := range keys {
		if !held[k] {
			rest = append(rest, k)
		}
	}
	return out, db.readLayer(ctx, idb, v.RoundID, v.base(), rest, out, held)
}

// readLayer adds the amounts one layer holds for the keys to out, and
// marks in held every key the layer holds, tombstones too.
func (db *DB) readLayer(ctx context.Context, idb bun.IDB, roundID, layer int64, keys []planning.CellKey, out map[planning.CellKey]decimal.Decimal, held map[planning.CellKey]bool) error {
	for _, chunk := range chunks(keys, 500) {
		vals := make([]any, 0, len(chunk)*4+2)
		vals = append(vals, roundID, layer)
		ph := make([]byte, 0, len(chunk)*12)
		for i, k := range chunk {
			if i > 0 {
				ph = append(ph, ',')
			}
			ph = append(ph, "(?,?,?,?)"...)
			vals = append(vals, k.OrgUnitID, k.ProductLineID, k.MeasureID, k.Period)
		}
		var rows []struct {
			OrgUnitID     int64   `bun:"org_unit_id"`
			ProductLineID int64   `bun:"product_line_id"`
			MeasureID     int64   `bun:"measure_id"`
			Period        int     `bun:"period"`
			Amount        *string `bun:"amount"`
		}
		err := idb.NewRaw("SELECT org_unit_id, product_line_id, measure_id, period, CAST(amount AS text) AS amount FROM target_cells WHERE round_id = ? AND version_id = ? AND (org_unit_id, product_line_id, measure_id, period) IN (VALUES "+string(ph)+")", vals...).Scan(ctx, &rows)
		if err != nil {
			return err
		}
		for _, r := range rows {
			k := planning.CellKey{OrgUnitID: r.OrgUnitID, ProductLineID: r.ProductLineID, MeasureID: r.MeasureID, Period: r.Period}
			held[k] = true
			if r.Amount == nil {
				continue
			}
			d, err := decimal.NewFromString(*r.Amount)
			if err != nil {
				return err
			}
			out[k] = d
		}
	}
	return nil
}

// upsertCells writes cells, replacing any existing amounts. Amounts are
// stored at their measure's scale, so equal amounts are equal text in
// SQLite too.
func (db *DB) upsertCells(ctx context.Context, idb bun.IDB, versionID int64, edits []planning.CellEdit, measures map[int64]*measureRow) error {
	v, err := db.layerOf(ctx, idb, versionID)
	if err != nil {
		return err
	}
	layer := v.layer()
	for _, chunk := range chunks(edits, 500) {
		vals := make([]any, 0, len(chunk)*7)
		ph := make([]byte, 0, len(chunk)*16)
		for i, e := range chunk {
			if i > 0 {
				ph = append(ph, ',')
			}
			ph = append(ph, "(?,?,?,?,?,?,?)"...)
			vals = append(vals, v.RoundID, layer, e.OrgUnitID, e.ProductLineID, e.MeasureID, e.Period, e.Amount.StringFixed(measures[e.MeasureID].Scale))
		}
		q := "INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount) VALUES " + string(ph) +
			" ON CONFLICT (round_id, version_id, org_unit_id, product_line_id, measure_id, period) DO UPDATE SET amount = excluded.amount"
		if _, err := idb.NewRaw(q, vals...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
