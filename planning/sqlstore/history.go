package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type cellHistoryRow struct {
	bun.BaseModel `bun:"table:cell_history"`
	ID            int64   `bun:"id,pk,autoincrement"`
	VersionID     int64   `bun:"version_id"`
	OrgUnitID     int64   `bun:"org_unit_id"`
	ProductLineID int64   `bun:"product_line_id"`
	MeasureID     int64   `bun:"measure_id"`
	Period        int     `bun:"period"`
	Before        *string `bun:"before"`
	After         string  `bun:"after"`
	AuditEventID  int64   `bun:"audit_event_id"`
}

// writeCellHistory records cell changes made by one audited action.
func (db *DB) writeCellHistory(ctx context.Context, tx bun.IDB, versionID, auditID int64, changes []cellChange) error {
	rows := make([]cellHistoryRow, len(changes))
	for i, c := range changes {
		rows[i] = cellHistoryRow{VersionID: versionID, OrgUnitID: c.OrgUnitID, ProductLineID: c.ProductLineID,
			MeasureID: c.MeasureID, Period: c.Period, Before: c.Before, After: c.After, AuditEventID: auditID}
	}
	for _, chunk := range chunks(rows, 500) {
		if _, err := tx.NewInsert().Model(&chunk).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// FindCellHistory implements planning.AuditService. Edits and decisions are
// recorded per cell; an allocation run is recorded once, so its amount for
// the cell is recomputed by replaying the run from its recorded inputs.
func (s *AuditService) FindCellHistory(ctx context.Context, versionID int64, k planning.CellKey) ([]planning.CellHistoryEntry, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	unit := new(orgUnitRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(unit).Where("id = ?", k.OrgUnitID), "org unit", k.OrgUnitID); err != nil {
		return nil, err
	}
	if !a.CanSeeOrgPath(unit.Path) {
		return nil, notFound("org unit", k.OrgUnitID)
	}
	if _, err := s.db.loadVersion(ctx, s.db.bun, versionID); err != nil {
		return nil, err
	}
	// The version's own lineage: a copy starts from its parent's cells, so
	// the parent's history is the start of the copy's.
	lineage, err := s.lineage(ctx, versionID)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		cellHistoryRow `bun:",extend"`
		At             time.Time `bun:"at"`
		ActorID        *int64    `bun:"actor_id"`
		Action         string    `bun:"action"`
	}
	if err := s.db.bun.NewSelect().TableExpr("cell_history AS h").ColumnExpr("h.*, e.at, e.actor_id, e.action").
		Join("JOIN audit_events AS e ON e.id = h.audit_event_id").
		Where("h.version_id IN (?) AND h.org_unit_id = ? AND h.product_line_id = ? AND h.measure_id = ? AND h.period = ?",
			bun.In(lineage), k.OrgUnitID, k.ProductLineID, k.MeasureID, k.Period).
		OrderExpr("h.id").Scan(ctx, &rows); err != nil {
		return nil, s.db.mapError(err)
	}
	var out []planning.CellHistoryEntry
	for _, r := range rows {
		e := planning.CellHistoryEntry{At: r.At.UTC(), ActorID: r.ActorID, Action: r.Action, AuditEventID: r.AuditEventID}
		if e.After, err = decimal.NewFromString(r.After); err != nil {
			return nil, err
		}
		if r.Before != nil {
			b, err := decimal.NewFromString(*r.Before)
			if err != nil {
				return nil, err
			}
			e.Before = &b
		}
		out = append(out, e)
	}
	runs, err := s.runEntries(ctx, lineage, k)
	if err != nil {
		return nil, err
	}
	out = append(out, runs...)
	slices.SortStableFunc(out, func(x, y planning.CellHistoryEntry) int { return x.At.Compare(y.At) })
	return out, nil
}

// lineage returns the version and its ancestors' ids.
func (s *AuditService) lineage(ctx context.Context, versionID int64) ([]int64, error) {
	var out []int64
	for id := &versionID; id != nil && len(out) < 1000; {
		v, err := s.db.loadVersion(ctx, s.db.bun, *id)
		if err != nil {
			return nil, err
		}
		out = append(out, v.ID)
		id = v.ParentID
	}
	return out, nil
}

// runEntries finds the allocation runs of the versions that wrote the cell
// and replays each to learn the amount it wrote.
func (s *AuditService) runEntries(ctx context.Context, versions []int64, k planning.CellKey) ([]planning.CellHistoryEntry, error) {
	var runs []runRow
	if err := s.db.bun.NewSelect().Model(&runs).Where("version_id IN (?)", bun.In(versions)).OrderExpr("id").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	var out []planning.CellHistoryEntry
	for i := range runs {
		p, err := planning.DecodeAllocationInputs(runs[i].Inputs)
		if err != nil {
			continue
		}
		after, ok, err := p.CellAmount(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		id := runs[i].ID
		out = append(out, planning.CellHistoryEntry{At: runs[i].At.UTC(), ActorID: runs[i].ActorID, Action: "targets.allocate",
			After: after, AllocationRunID: &id})
	}
	return out, nil
}
