package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/allocation"
	"github.com/cascade-planning/cascade/planning"
)

// Decide implements planning.CounterproposalService. Accepted and modified
// lines are applied at once, in the order given, each keeping the tree
// consistent (see applyLine); the whole decision is one transaction.
func (s *CounterproposalService) Decide(ctx context.Context, id int64, decisions []planning.LineDecision, ifMatch *int64) (*planning.Counterproposal, error) {
	a, err := checkDecisions(ctx, decisions)
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

// checkDecisions checks the caller's role and the decisions' own fields.
func checkDecisions(ctx context.Context, decisions []planning.LineDecision) (*planning.Actor, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.HasRole(planning.RoleProductManager, planning.RoleStrategyOffice, planning.RoleAdmin) {
		return nil, planning.Errorf(planning.EFORBIDDEN, "only product managers decide counterproposals")
	}
	var val planning.Validation
	if len(decisions) == 0 {
		val.Add("decisions", "must decide at least one line")
	}
	for i, d := range decisions {
		f := fmt.Sprintf("decisions[%d]", i)
		switch d.Action {
		case planning.DecisionAccept, planning.DecisionReject:
			if d.Amount != nil {
				val.Add(f+".amount", "is only for modify")
			}
		case planning.DecisionModify:
			if d.Amount == nil {
				val.Add(f+".amount", "is required to modify a line")
			}
		default:
			val.Add(f+".decision", "must be accept, modify or reject")
		}
		if d.Apply != "" && d.Apply != planning.ApplyRebalance && d.Apply != planning.ApplyRaiseParent {
			val.Add(f+".apply", "must be rebalance or raise_parent")
		}
		if len(d.Comment) > 2000 {
			val.Add(f+".comment", "must be at most 2000 characters")
		}
	}
	if err := val.Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// decideIn records and applies the decisions in the transaction.
func (s *CounterproposalService) decideIn(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, id int64,
	decisions []planning.LineDecision, ifMatch *int64) (out *planning.Counterproposal, err error) {
	{
		row, unit, err := s.loadCP(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		if err := checkRevision(ifMatch, row.Revision); err != nil {
			return nil, err
		}
		if row.Status != string(planning.CPSubmitted) {
			return nil, planning.Errorf(planning.ECONFLICT, "counterproposal %d is %s: only submitted ones are decided", id, row.Status)
		}
		v, r, err := s.db.lockWorkingVersion(ctx, tx, row.VersionID, nil)
		if err != nil {
			return nil, err
		}
		if r.Status != planning.RoundCounterproposals && r.Status != planning.RoundReview {
			return nil, planning.Errorf(planning.ECONFLICT, "round %s is %s: counterproposals are decided in its counterproposals or review phase", r.Code, r.Status)
		}
		var lines []cpLineRow
		if err := tx.NewSelect().Model(&lines).Where("counterproposal_id = ?", id).OrderExpr("position").Scan(ctx); err != nil {
			return nil, err
		}
		byID := map[int64]*cpLineRow{}
		for i := range lines {
			byID[lines[i].ID] = &lines[i]
		}
		lineIDs := make([]int64, 0, len(lines))
		for _, l := range lines {
			lineIDs = append(lineIDs, l.ProductLineID)
		}
		w, err := s.db.newWriteChecker(ctx, tx, a, r, nil, lineIDs)
		if err != nil {
			return nil, err
		}
		now := s.db.Now()
		var runs []int64
		var changes []cellChange
		for i, d := range decisions {
			f := fmt.Sprintf("decisions[%d]", i)
			l, ok := byID[d.LineID]
			if !ok {
				return nil, fieldErr(planning.EINVALID, f+".line_id", "counterproposal %d has no line %d", id, d.LineID)
			}
			if l.Decision != nil {
				return nil, fieldErr(planning.ECONFLICT, f+".line_id", "line %d is decided already", d.LineID)
			}
			if pl := w.lines[l.ProductLineID]; pl == nil || !canPlan(a, pl) {
				return nil, planning.Errorf(planning.EFORBIDDEN, "line %d is about a product line that is not yours to decide", d.LineID)
			}
			scale := w.measures[l.MeasureID].Scale
			action, mode := string(d.Action), d.Apply
			if mode == "" {
				mode = planning.ApplyRebalance
			}
			l.Decision, l.DecisionComment, l.DecidedBy, l.DecidedAt = &action, d.Comment, actorIDPtr(a), &now
			if d.Action == planning.DecisionReject {
				continue
			}
			amount := decimal.RequireFromString(l.Proposed)
			if d.Action == planning.DecisionModify {
				var v planning.Validation
				checkAmount(&v, f+".amount", *d.Amount, scale)
				if err := v.Err(); err != nil {
					return nil, err
				}
				amount = *d.Amount
				s := amount.StringFixed(scale)
				l.DecidedAmount = &s
			}
			m := string(mode)
			l.ApplyMode = &m
			rs, ch, err := s.applyLine(ctx, conn, tx, a, v, r, unit, l, amount, scale, mode)
			if err != nil {
				return nil, err
			}
			runs, changes = append(runs, rs...), append(changes, ch...)
		}
		undecided := 0
		for i := range lines {
			if _, err := tx.NewUpdate().Model(&lines[i]).WherePK().Exec(ctx); err != nil {
				return nil, err
			}
			if lines[i].Decision == nil {
				undecided++
			}
		}
		before := *row
		if undecided == 0 {
			row.Status, row.ClosedAt = string(planning.CPClosed), &now
		}
		row.Revision++
		row.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return nil, err
		}
		if out, err = s.withLines(ctx, tx, row); err != nil {
			return nil, err
		}
		auditID, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: v.ID, OrgPath: unit.Path},
			"counterproposal.decide", "counterproposal", id, before,
			map[string]any{"counterproposal": row, "lines": out.Lines, "allocation_runs": runs, "cells": changes})
		if err != nil {
			return nil, err
		}
		return out, s.db.writeCellHistory(ctx, tx, v.ID, auditID, changes)
	}
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
	unit *orgUnitRow, l *cpLineRow, amount decimal.Decimal, scale int32, mode planning.ApplyMode) ([]int64, []cellChange, error) {
	old, err := s.db.unitMonths(ctx, tx, v.ID, unit.ID, l.ProductLineID, l.MeasureID)
	if err != nil {
		return nil, nil, err
	}
	newMonths := old
	if l.Period != planning.YearPeriod {
		newMonths[l.Period-1] = amount
	} else {
		weights := make([]decimal.Decimal, 12)
		for i, m := range old {
			weights[i] = m.Abs()
		}
		res, err := allocation.Phase(amount, scale, allocation.Phasing{Method: allocation.PhaseReference, Weights: weights, ZeroWeight: allocation.ZeroWeightEven})
		if err != nil {
			return nil, nil, allocationError(err, "")
		}
		for i := range newMonths {
			newMonths[i] = res.Amount(i).Decimal()
		}
	}
	var changes []cellChange
	var edits []planning.CellEdit
	set := func(unitID int64, months, before [12]decimal.Decimal) {
		for p := 0; p < 12; p++ {
			if months[p].Equal(before[p]) {
				continue
			}
			b := before[p].StringFixed(scale)
			k := planning.CellKey{OrgUnitID: unitID, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID, Period: p + 1}
			edits = append(edits, planning.CellEdit{CellKey: k, Amount: months[p]})
			changes = append(changes, cellChange{OrgUnitID: unitID, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID,
				Period: p + 1, Before: &b, After: months[p].StringFixed(scale)})
		}
	}
	set(unit.ID, newMonths, old)
	raise := mode == planning.ApplyRaiseParent || unit.ParentID == nil
	if raise {
		for pid := unit.ParentID; pid != nil; {
			anc := new(orgUnitRow)
			if err := tx.NewSelect().Model(anc).Where("id = ?", *pid).Scan(ctx); err != nil {
				return nil, nil, err
			}
			n, err := tx.NewSelect().TableExpr("allocation_buffers").
				Where("version_id = ? AND org_unit_id = ? AND product_line_id = ? AND measure_id = ?", v.ID, anc.ID, l.ProductLineID, l.MeasureID).Count(ctx)
			if err != nil {
				return nil, nil, err
			} else if n > 0 {
				return nil, nil, planning.Errorf(planning.EINVALID, "cannot raise the parent: the children of %s carry an over-assignment buffer; rebalance among siblings instead", anc.Code)
			}
			cur, err := s.db.unitMonths(ctx, tx, v.ID, anc.ID, l.ProductLineID, l.MeasureID)
			if err != nil {
				return nil, nil, err
			}
			var raised [12]decimal.Decimal
			for p := range raised {
				raised[p] = cur[p].Add(newMonths[p].Sub(old[p]))
			}
			set(anc.ID, raised, cur)
			pid = anc.ParentID
		}
	}
	measures := map[int64]*measureRow{l.MeasureID: {ID: l.MeasureID, Scale: scale}}
	if err := s.db.upsertCells(ctx, tx, v.ID, edits, measures); err != nil {
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
	return runs, changes, nil
}

// resplit re-cascades root's amount of the line down its subtree in
// proportion to the current amounts, keeping root's months and the
// buffers the subtree's levels carry, and holding the locked units.
func (s *CounterproposalService) resplit(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, v *versionRow, r *planning.Round,
	root *orgUnitRow, l *cpLineRow, year decimal.Decimal, locks []int64) (int64, error) {
	levels, err := s.db.storedLevels(ctx, tx, v.ID, root, l.ProductLineID, l.MeasureID)
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

// storedLevels returns proportional levels for re-splitting root's subtree,
// each with the buffer earlier allocations left at that depth. Differing
// buffers at one depth cannot be kept by one level rule: ECONFLICT.
func (db *DB) storedLevels(ctx context.Context, tx bun.Tx, versionID int64, root *orgUnitRow, lineID, measureID int64) ([]planning.LevelSpec, error) {
	var rows []struct {
		Path   string `bun:"path"`
		Buffer string `bun:"buffer"`
	}
	if err := tx.NewSelect().TableExpr("allocation_buffers AS b").ColumnExpr("ou.path, b.buffer").
		Join("JOIN org_units AS ou ON ou.id = b.org_unit_id").
		Where("b.version_id = ? AND b.product_line_id = ? AND b.measure_id = ? AND ou.path LIKE ?", versionID, lineID, measureID, root.Path+"%").
		Scan(ctx, &rows); err != nil {
		return nil, err
	}
	var deepest int
	if err := tx.NewSelect().Model((*orgUnitRow)(nil)).ColumnExpr("MAX(LENGTH(path) - LENGTH(REPLACE(path, '/', '')))").
		Where("path LIKE ? AND active", root.Path+"%").Scan(ctx, &deepest); err != nil {
		return nil, err
	}
	rootDepth := strings.Count(root.Path, "/")
	n := max(deepest-rootDepth, 1)
	buffers := make([]string, n)
	for _, row := range rows {
		d := strings.Count(row.Path, "/") - rootDepth
		if d < 0 || d >= n {
			continue
		}
		if buffers[d] != "" && buffers[d] != row.Buffer {
			return nil, planning.Errorf(planning.ECONFLICT, "the levels below %s carry different buffers; re-allocate it before applying the change", root.Code)
		}
		buffers[d] = row.Buffer
	}
	levels := make([]planning.LevelSpec, n)
	for d := range levels {
		levels[d] = planning.LevelSpec{Method: planning.MethodProportional, ReferenceVersionID: &versionID, ZeroWeights: "even"}
		if buffers[d] != "" {
			levels[d].Buffer = decimal.RequireFromString(buffers[d])
		}
	}
	return levels, nil
}

// PreviewDecision implements planning.CounterproposalService.
func (s *CounterproposalService) PreviewDecision(ctx context.Context, id int64, decisions []planning.LineDecision) ([]planning.DecisionEffect, error) {
	a, err := checkDecisions(ctx, decisions)
	if err != nil {
		return nil, err
	}
	var effects []planning.DecisionEffect
	// The decision runs inside a savepoint that is always rolled back, so
	// the preview changes nothing, also inside a request's ambient
	// transaction (an Idempotency-Key), which goes on after it.
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT cascade_preview"); err != nil {
			return err
		}
		effects, err = s.preview(ctx, conn, tx, a, id, decisions)
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT cascade_preview"); err == nil {
			err = rerr
		}
		return err
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
		for _, l := range lines {
			byID[l.ID] = l
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
			ms, err := s.db.unitMonths(ctx, tx, row.VersionID, u, line, measure)
			sum := decimal.Zero
			for _, m := range ms {
				sum = sum.Add(m)
			}
			return sum, err
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
				effects = append(effects, planning.DecisionEffect{LineID: l.ID, OrgUnit: u.toDomain(), Relation: rel, Before: b, After: after})
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
