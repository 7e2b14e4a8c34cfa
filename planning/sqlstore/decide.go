package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// Decide implements planning.CounterproposalService. The rules are
// planning.Counterproposal.Decide's; accepted and modified lines are then
// applied at once, in the order given, each keeping the tree consistent
// (see applyLine); the whole decision is one transaction.
func (s *CounterproposalService) Decide(ctx context.Context, id int64, decisions []planning.LineDecision, ifMatch *int64) (*planning.Counterproposal, error) {
	a, err := mayDecide(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Counterproposal
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		var err error
		out, err = s.decideIn(ctx, conn, tx, a, id, decisions, ifMatch)
		return err
	})
	return out, err
}

// mayDecide returns the caller if they hold a deciding role. Whoever holds
// none is refused before anything is looked up, so they learn nothing of
// which counterproposals exist.
func mayDecide(ctx context.Context) (*planning.Actor, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayDecideCounterproposals(); err != nil {
		return nil, err
	}
	return a, nil
}

// decideIn records and applies the decisions in the transaction tx.
func (s *CounterproposalService) decideIn(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, id int64,
	decisions []planning.LineDecision, ifMatch *int64) (*planning.Counterproposal, error) {
	var out *planning.Counterproposal
	err := func() error {
		var c *planning.ProposalContext
		var v *versionRow
		var runs []int64
		var changes []cellChange
		before, cp, unit, err := s.updateCounterproposal(ctx, tx, a, id, func(cp *planning.Counterproposal, unit *orgUnitRow) error {
			lineIDs := make([]int64, len(cp.Lines))
			for i, l := range cp.Lines {
				lineIDs[i] = l.ProductLineID
			}
			var err error
			if c, v, err = s.proposalContext(ctx, tx, a, unit, cp.VersionID, ifMatch, lineIDs, true); err != nil {
				return err
			}
			apps, err := cp.Decide(c, decisions)
			if err != nil {
				return err
			}
			for _, app := range apps {
				rs, ch, err := s.applyLine(ctx, conn, tx, a, v, c.Round, unit, app)
				if err != nil {
					return err
				}
				runs, changes = append(runs, rs...), append(changes, ch...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		row := cpRowOf(cp)
		if out, err = s.withLines(ctx, tx, row); err != nil {
			return err
		}
		auditID, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: c.Round.ID, VersionID: v.ID, OrgPath: unit.Path},
			"counterproposal.decide", "counterproposal", id, before,
			map[string]any{"counterproposal": row, "lines": out.Lines, "allocation_runs": runs, "cells": changes})
		if err != nil {
			return err
		}
		if err := s.db.writeCellHistory(ctx, tx, v.ID, auditID, changes); err != nil {
			return err
		}
		return s.named(ctx, tx, out)
	}()
	return out, err
}

// applyLine puts one accepted amount into the working version and keeps
// every level consistent, by the decider's choice:
//
//   - rebalance: the parent keeps its amount; the unit is held at its new
//     amount and the parent is re-split over the other children in
//     proportion to their current amounts (exactly, by the allocation
//     engine), down to the leaves;
//   - raise_parent: the difference flows up, month by month, through every
//     ancestor to the top of the tree, changing the product line's total.
//     It is refused where an ancestor's children carry an over-assignment
//     buffer, since a raised parent would no longer match them exactly.
//
// Either way the unit's own subtree is then re-split from its new amount in
// proportion to the children's current amounts. A year line is phased like
// the unit's current months (evenly when they are all zero); a month line
// changes that month only. The re-splits are recorded allocation runs; the
// directly set cells are returned for the cell history.
func (s *CounterproposalService) applyLine(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, v *versionRow, r *planning.Round,
	unit *orgUnitRow, app planning.LineApplication) ([]int64, []cellChange, error) {
	l, amount, scale := app.Line, app.Amount, app.Scale
	old, err := s.db.unitMonths(ctx, tx, v.ID, unit.ID, l.ProductLineID, l.MeasureID)
	if err != nil {
		return nil, nil, err
	}
	if app.OwnCells {
		// A rate, level or rating: the unit's own cells, nothing else.
		e := &cellEdits{line: l, scale: scale}
		e.set(unit.ID, app.OwnMonths(old), old)
		err := s.db.upsertCells(ctx, tx, v.ID, e.edits, map[int64]*measureRow{l.MeasureID: {ID: l.MeasureID, Scale: scale}})
		return nil, e.changes, err
	}
	newMonths := old
	if l.Period != planning.YearPeriod {
		newMonths[l.Period-1] = amount
	} else {
		if newMonths, err = planning.PhaseLike(amount, scale, old[:]); err != nil {
			return nil, nil, err
		}
	}
	e := &cellEdits{line: l, scale: scale}
	e.set(unit.ID, newMonths, old)
	raise := app.Mode.RaisesParent(unit.ParentID != nil)
	if raise {
		if err := s.raiseAncestors(ctx, tx, v, unit, e, old, newMonths); err != nil {
			return nil, nil, err
		}
	}
	measures := map[int64]*measureRow{l.MeasureID: {ID: l.MeasureID, Scale: scale}}
	if err := s.db.upsertCells(ctx, tx, v.ID, e.edits, measures); err != nil {
		return nil, nil, err
	}
	var runs []int64
	if !raise {
		parent := new(orgUnitRow)
		if err := tx.NewSelect().Model(parent).Where("id = ?", *unit.ParentID).Scan(ctx); err != nil {
			return nil, nil, err
		}
		pm, err := s.db.unitMonths(ctx, tx, v.ID, parent.ID, l.ProductLineID, l.MeasureID)
		if err != nil {
			return nil, nil, err
		}
		run, err := s.resplit(ctx, conn, tx, a, v, r, parent, l, currentOf(pm, planning.YearPeriod), []int64{unit.ID})
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run)
	}
	hasKids, err := tx.NewSelect().Model((*orgUnitRow)(nil)).Where("parent_id = ? AND active", unit.ID).Exists(ctx)
	if err != nil {
		return nil, nil, err
	}
	if hasKids {
		run, err := s.resplit(ctx, conn, tx, a, v, r, unit, l, currentOf(newMonths, planning.YearPeriod), nil)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run)
	}
	return runs, e.changes, nil
}

// cellEdits collects the cells an applied line sets directly, with their
// entries for the cell history.
type cellEdits struct {
	line    *planning.CounterproposalLine
	scale   int32
	edits   []planning.CellEdit
	changes []cellChange
}

// set sets a unit's months of the line where they differ from before.
func (e *cellEdits) set(unitID int64, months, before [12]decimal.Decimal) {
	l := e.line
	for p := 0; p < 12; p++ {
		if months[p].Equal(before[p]) {
			continue
		}
		b := before[p].StringFixed(e.scale)
		k := planning.CellKey{OrgUnitID: unitID, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID, Period: p + 1}
		e.edits = append(e.edits, planning.CellEdit{CellKey: k, Amount: months[p]})
		e.changes = append(e.changes, cellChange{OrgUnitID: unitID, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID,
			Period: p + 1, Before: &b, After: months[p].StringFixed(e.scale)})
	}
}

// raiseAncestors lets a unit's change of the line (from old to newMonths)
// flow up, month by month, through every ancestor to the top of the tree,
// by planning.CheckRaiseParent's rule.
func (s *CounterproposalService) raiseAncestors(ctx context.Context, tx bun.Tx, v *versionRow, unit *orgUnitRow, e *cellEdits, old, newMonths [12]decimal.Decimal) error {
	l := e.line
	for pid := unit.ParentID; pid != nil; {
		anc := new(orgUnitRow)
		if err := tx.NewSelect().Model(anc).Where("id = ?", *pid).Scan(ctx); err != nil {
			return err
		}
		n, err := tx.NewSelect().TableExpr("allocation_buffers").
			Where("round_id = ? AND version_id = ? AND org_unit_id = ? AND product_line_id = ? AND measure_id = ?", v.RoundID, v.ID, anc.ID, l.ProductLineID, l.MeasureID).Count(ctx)
		if err != nil {
			return err
		}
		if err := planning.CheckRaiseParent(anc.Code, n > 0); err != nil {
			return err
		}
		cur, err := s.db.unitMonths(ctx, tx, v.ID, anc.ID, l.ProductLineID, l.MeasureID)
		if err != nil {
			return err
		}
		var raised [12]decimal.Decimal
		for p := range raised {
			raised[p] = cur[p].Add(newMonths[p].Sub(old[p]))
		}
		e.set(anc.ID, raised, cur)
		pid = anc.ParentID
	}
	return nil
}

// resplit re-cascades root's amount of the line down its subtree in
// proportion to the current amounts, keeping root's months and the
// buffers the subtree's levels carry, and holding the locked units.
func (s *CounterproposalService) resplit(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, v *versionRow, r *planning.Round,
	root *orgUnitRow, l *planning.CounterproposalLine, year decimal.Decimal, locks []int64) (int64, error) {
	levels, err := s.db.storedLevels(ctx, tx, v, root, l.ProductLineID, l.MeasureID)
	if err != nil {
		return 0, err
	}
	vid := v.ID
	req := &planning.AllocationRequest{VersionID: v.ID, MeasureID: l.MeasureID, RootID: root.ID,
		Targets: []planning.AllocationTarget{{ProductLineID: l.ProductLineID, Amount: year}},
		Levels:  levels, Phasing: planning.Phasing{Method: planning.PhaseReference, ReferenceVersionID: &vid}, Locks: locks}
	if err := validateAllocation(req); err != nil {
		return 0, err
	}
	res, err := s.targets.allocateIn(ctx, conn, tx, a, v, r, req)
	if err != nil {
		return 0, err
	}
	return res.Run.ID, nil
}

// storedLevels returns the levels for re-splitting root's subtree, from the
// buffers earlier allocations left in it (planning.ResplitLevels).
func (db *DB) storedLevels(ctx context.Context, tx bun.Tx, v *versionRow, root *orgUnitRow, lineID, measureID int64) ([]planning.LevelSpec, error) {
	var rows []struct {
		Path   string `bun:"path"`
		Buffer string `bun:"buffer"`
	}
	if err := tx.NewSelect().TableExpr("allocation_buffers AS b").ColumnExpr("ou.path, b.buffer").
		Join("JOIN org_units AS ou ON ou.id = b.org_unit_id").
		Where("b.round_id = ? AND b.version_id = ? AND b.product_line_id = ? AND b.measure_id = ? AND ou.path LIKE ?", v.RoundID, v.ID, lineID, measureID, root.Path+"%").
		Scan(ctx, &rows); err != nil {
		return nil, err
	}
	var deepest int
	if err := tx.NewSelect().Model((*orgUnitRow)(nil)).ColumnExpr("MAX(LENGTH(path) - LENGTH(REPLACE(path, '/', '')))").
		Where("path LIKE ? AND active", root.Path+"%").Scan(ctx, &deepest); err != nil {
		return nil, err
	}
	rootDepth := strings.Count(root.Path, "/")
	stored := make([]planning.StoredBuffer, 0, len(rows))
	for _, row := range rows {
		b, err := decimal.NewFromString(row.Buffer)
		if err != nil {
			return nil, err
		}
		stored = append(stored, planning.StoredBuffer{Depth: strings.Count(row.Path, "/") - rootDepth, Buffer: b})
	}
	return planning.ResplitLevels(root.Code, v.ID, deepest-rootDepth, stored)
}

// PreviewDecision implements planning.CounterproposalService.
func (s *CounterproposalService) PreviewDecision(ctx context.Context, id int64, decisions []planning.LineDecision) ([]planning.DecisionEffect, error) {
	a, err := mayDecide(ctx)
	if err != nil {
		return nil, err
	}
	var effects []planning.DecisionEffect
	// The decision runs inside a savepoint that is always rolled back, so
	// the preview changes nothing, also inside a request's ambient
	// transaction (an Idempotency-Key), which goes on after it.
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		return s.db.undone(ctx, tx, func() (err error) {
			effects, err = s.preview(ctx, conn, tx, a, id, decisions)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return effects, nil
}

// preview decides in the transaction and reports the effects.
func (s *CounterproposalService) preview(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, id int64,
	decisions []planning.LineDecision) (effects []planning.DecisionEffect, err error) {
	{
		row, unit, err := s.loadCP(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		var lines []cpLineRow
		if err := tx.NewSelect().Model(&lines).Where("counterproposal_id = ?", id).Scan(ctx); err != nil {
			return nil, err
		}
		byID := map[int64]cpLineRow{}
		var measureIDs []int64
		for _, l := range lines {
			byID[l.ID] = l
			measureIDs = append(measureIDs, l.MeasureID)
		}
		scales := map[int64]int32{}
		if len(measureIDs) > 0 {
			var ms []measureRow
			if err := tx.NewSelect().Model(&ms).Where("id IN (?)", bun.In(measureIDs)).Scan(ctx); err != nil {
				return nil, err
			}
			for _, m := range ms {
				scales[m.ID] = m.Scale
			}
		}
		// The units a line's decision can move: the unit, its ancestors,
		// its siblings and its children.
		var ancestors []int64
		for _, p := range strings.Split(strings.Trim(unit.Path, "/"), "/") {
			if id, err := strconv.ParseInt(p, 10, 64); err == nil && id != unit.ID {
				ancestors = append(ancestors, id)
			}
		}
		var units []orgUnitRow
		q := tx.NewSelect().Model(&units).Where("parent_id = ?", unit.ID)
		if len(ancestors) > 0 {
			q.WhereOr("id IN (?)", bun.In(ancestors))
		}
		if unit.ParentID != nil {
			q.WhereOr("parent_id = ? AND id <> ?", *unit.ParentID, unit.ID)
		}
		if err := q.OrderExpr("path").Scan(ctx); err != nil {
			return nil, err
		}
		units = append(units, *unit)
		relation := func(u *orgUnitRow) string {
			switch {
			case u.ID == unit.ID:
				return "unit"
			case unit.ParentID != nil && u.ID == *unit.ParentID:
				return "parent"
			case u.ParentID != nil && *u.ParentID == unit.ID:
				return "child"
			case u.ParentID != nil && unit.ParentID != nil && *u.ParentID == *unit.ParentID:
				return "sibling"
			}
			return "ancestor"
		}
		year := func(u, line, measure int64) (decimal.Decimal, error) {
			return s.db.unitYear(ctx, tx, row.VersionID, u, line, measure)
		}
		type key struct{ line, unit int64 }
		before := map[key]decimal.Decimal{}
		for _, d := range decisions {
			l, ok := byID[d.LineID]
			if !ok {
				continue // decideIn names the error
			}
			for _, u := range units {
				if before[key{l.ID, u.ID}], err = year(u.ID, l.ProductLineID, l.MeasureID); err != nil {
					return nil, err
				}
			}
		}
		if _, err := s.decideIn(ctx, conn, tx, a, id, decisions, nil); err != nil {
			return nil, err
		}
		for _, d := range decisions {
			l, ok := byID[d.LineID]
			if !ok || d.Action == planning.DecisionReject {
				continue
			}
			for i := range units {
				u := &units[i]
				after, err := year(u.ID, l.ProductLineID, l.MeasureID)
				if err != nil {
					return nil, err
				}
				b := before[key{l.ID, u.ID}]
				rel := relation(u)
				if after.Equal(b) && rel != "unit" && rel != "parent" {
					continue
				}
				effects = append(effects, planning.DecisionEffect{LineID: l.ID, OrgUnit: u.toDomain(), Relation: rel, Before: b, After: after,
					Scale: scales[l.MeasureID]})
			}
		}
		rank := map[string]int{"ancestor": 0, "parent": 1, "unit": 2, "sibling": 3, "child": 4}
		slices.SortStableFunc(effects, func(x, y planning.DecisionEffect) int {
			if x.LineID != y.LineID {
				return cmp.Compare(x.LineID, y.LineID)
			}
			if c := cmp.Compare(rank[x.Relation], rank[y.Relation]); c != 0 {
				return c
			}
			return cmp.Compare(x.OrgUnit.Path, y.OrgUnit.Path)
		})
		return effects, nil
	}
}
