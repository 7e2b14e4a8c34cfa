package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// The writes of counterproposals. The rules are the aggregate's
// (planning.NewCounterproposal and the methods of planning.Counterproposal);
// this file loads what they look at, calls them and saves the result.

// cpRowOf is the stored row of a counterproposal.
func cpRowOf(cp *planning.Counterproposal) *cpRow {
	return &cpRow{ID: cp.ID, VersionID: cp.VersionID, OrgUnitID: cp.OrgUnitID, Title: cp.Title, Status: string(cp.Status),
		AuthorID: cp.AuthorID, Revision: cp.Revision, CreatedAt: cp.CreatedAt, UpdatedAt: cp.UpdatedAt,
		SubmittedAt: cp.SubmittedAt, ClosedAt: cp.ClosedAt}
}

// cpLineRowOf is the stored row of line l at position pos.
func cpLineRowOf(cpID int64, pos int, l *planning.CounterproposalLine, scale int32) cpLineRow {
	row := cpLineRow{ID: l.ID, CounterproposalID: cpID, Position: pos, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID,
		Period: l.Period, Proposed: l.Proposed.StringFixed(scale), Reason: l.Reason, DecisionComment: l.DecisionComment,
		DecidedBy: l.DecidedBy, DecidedAt: l.DecidedAt}
	if l.Decided() {
		d := string(l.Decision)
		row.Decision = &d
	}
	if l.ApplyMode != "" {
		m := string(l.ApplyMode)
		row.ApplyMode = &m
	}
	if l.DecidedAmount != nil {
		s := l.DecidedAmount.StringFixed(scale)
		row.DecidedAmount = &s
	}
	return row
}

// loadCounterproposal reads a counterproposal the actor may see (ENOTFOUND
// otherwise) with its lines, without their current amounts, and its unit.
func (s *CounterproposalService) loadCounterproposal(ctx context.Context, idb bun.IDB, a *planning.Actor, id int64) (*planning.Counterproposal, *orgUnitRow, error) {
	row, unit, err := s.loadCP(ctx, idb, a, id)
	if err != nil {
		return nil, nil, err
	}
	var lines []cpLineRow
	if err := idb.NewSelect().Model(&lines).Where("counterproposal_id = ?", id).OrderExpr("position").Scan(ctx); err != nil {
		return nil, nil, err
	}
	cp := row.toDomain()
	for i := range lines {
		l, err := lines[i].toDomain()
		if err != nil {
			return nil, nil, err
		}
		cp.Lines = append(cp.Lines, l)
	}
	return cp, unit, nil
}

// proposalContext loads what a counterproposal's rules look at: the
// version (locked for a write of its cells when lock is set) and its round,
// the product lines named by lineIDs and the round's measures.
func (s *CounterproposalService) proposalContext(ctx context.Context, tx bun.Tx, a *planning.Actor, unit *orgUnitRow, versionID int64,
	ifMatch *int64, lineIDs []int64, lock bool) (*planning.ProposalContext, *versionRow, error) {
	var v *versionRow
	var err error
	if lock {
		v, err = s.db.lockVersion(ctx, tx, versionID)
	} else {
		v, err = s.db.loadVersion(ctx, tx, versionID)
	}
	if err != nil {
		return nil, nil, err
	}
	_, r, err := s.db.loadRound(ctx, tx, v.RoundID)
	if err != nil {
		return nil, nil, err
	}
	w, err := s.db.newWriteChecker(ctx, tx, a, r, nil, lineIDs)
	if err != nil {
		return nil, nil, err
	}
	c := &planning.ProposalContext{Actor: a, Unit: unit.toDomain(), Version: v.toDomain(), Round: r, Now: s.db.Now(), IfMatch: ifMatch,
		ProductLines: make(map[int64]*planning.ProductLine, len(w.lines)), Scales: make(map[int64]int32, len(w.measures)), Measures: w.kinds}
	for id, pl := range w.lines {
		c.ProductLines[id] = pl.toDomain()
	}
	for id, m := range w.measures {
		c.Scales[id] = m.Scale
	}
	return c, v, nil
}

// scales returns every measure's scale.
func (s *CounterproposalService) scales(ctx context.Context, idb bun.IDB) (map[int64]int32, error) {
	var ms []measureRow
	if err := idb.NewSelect().Model(&ms).Column("id", "scale").Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[int64]int32, len(ms))
	for _, m := range ms {
		out[m.ID] = m.Scale
	}
	return out, nil
}

// saveLines stores a counterproposal's lines: all of them anew when they
// were replaced (new lines have no id yet), else the decisions made since
// they were read (was).
func (s *CounterproposalService) saveLines(ctx context.Context, tx bun.Tx, cp *planning.Counterproposal, was []planning.CounterproposalLine) error {
	scales, err := s.scales(ctx, tx)
	if err != nil {
		return err
	}
	replaced := len(cp.Lines) != len(was)
	for i := range cp.Lines {
		replaced = replaced || cp.Lines[i].ID == 0
	}
	if !replaced {
		for i := range cp.Lines {
			if l := &cp.Lines[i]; l.Decided() && !was[i].Decided() {
				row := cpLineRowOf(cp.ID, i, l, scales[l.MeasureID])
				if _, err := tx.NewUpdate().Model(&row).WherePK().Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if _, err := tx.NewDelete().Model((*cpLineRow)(nil)).Where("counterproposal_id = ?", cp.ID).Exec(ctx); err != nil {
		return err
	}
	if len(cp.Lines) == 0 {
		return nil
	}
	rows := make([]cpLineRow, len(cp.Lines))
	for i := range cp.Lines {
		rows[i] = cpLineRowOf(cp.ID, i, &cp.Lines[i], scales[cp.Lines[i].MeasureID])
		rows[i].ID = 0
	}
	_, err = tx.NewInsert().Model(&rows).Returning("id").Exec(ctx)
	return err
}

// updateCounterproposal loads the counterproposal id in tx, lets fn change
// it by the aggregate's rules, and saves it with a new revision. It returns
// the row as it was and the counterproposal as saved.
func (s *CounterproposalService) updateCounterproposal(ctx context.Context, tx bun.Tx, a *planning.Actor, id int64,
	fn func(cp *planning.Counterproposal, unit *orgUnitRow) error) (*cpRow, *planning.Counterproposal, *orgUnitRow, error) {
	if err := lockRow(ctx, tx, "counterproposals", id); err != nil {
		return nil, nil, nil, err
	}
	cp, unit, err := s.loadCounterproposal(ctx, tx, a, id)
	if err != nil {
		return nil, nil, nil, err
	}
	before := cpRowOf(cp)
	was := append([]planning.CounterproposalLine(nil), cp.Lines...)
	if err := fn(cp, unit); err != nil {
		return nil, nil, nil, err
	}
	cp.Revision++
	cp.UpdatedAt = s.db.Now()
	if _, err := tx.NewUpdate().Model(cpRowOf(cp)).WherePK().Exec(ctx); err != nil {
		return nil, nil, nil, err
	}
	if err := s.saveLines(ctx, tx, cp, was); err != nil {
		return nil, nil, nil, err
	}
	return before, cp, unit, nil
}

// CreateCounterproposal implements planning.CounterproposalService.
func (s *CounterproposalService) CreateCounterproposal(ctx context.Context, versionID, orgUnitID int64, title string, lines []planning.LineInput) (*planning.Counterproposal, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Counterproposal
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		unit := new(orgUnitRow)
		if err := tx.NewSelect().Model(unit).Where("id = ?", orgUnitID).Scan(ctx); err != nil || !a.CanSeeOrgPath(unit.Path) {
			return fieldErr(planning.EINVALID, "org_unit", "no such org unit")
		}
		c, _, err := s.proposalContext(ctx, tx, a, unit, versionID, nil, lineIDsOf(lines), false)
		if err != nil {
			return err
		}
		cp, err := planning.NewCounterproposal(c, title, lines)
		if err != nil {
			return err
		}
		row := cpRowOf(cp)
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		cp.ID = row.ID
		if err := s.saveLines(ctx, tx, cp, nil); err != nil {
			return err
		}
		if out, err = s.withLines(ctx, tx, row); err != nil {
			return err
		}
		if _, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: c.Round.ID, VersionID: versionID, OrgPath: unit.Path},
			"counterproposal.create", "counterproposal", row.ID, nil, map[string]any{"counterproposal": row, "lines": lines}); err != nil {
			return err
		}
		return s.named(ctx, tx, out)
	})
	return out, err
}

func lineIDsOf(lines []planning.LineInput) []int64 {
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.ProductLineID
	}
	return ids
}

// change runs one of the unit managers' changes (update, submit,
// withdraw): fn is the aggregate's method.
func (s *CounterproposalService) change(ctx context.Context, id int64, ifMatch *int64, action planning.CounterproposalAction, lineIDs []int64,
	fn func(cp *planning.Counterproposal, c *planning.ProposalContext) error) (*planning.Counterproposal, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Counterproposal
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		var c *planning.ProposalContext
		before, cp, unit, err := s.updateCounterproposal(ctx, tx, a, id, func(cp *planning.Counterproposal, unit *orgUnitRow) error {
			var err error
			if c, _, err = s.proposalContext(ctx, tx, a, unit, cp.VersionID, ifMatch, lineIDs, false); err != nil {
				return err
			}
			return fn(cp, c)
		})
		if err != nil {
			return err
		}
		row := cpRowOf(cp)
		if out, err = s.withLines(ctx, tx, row); err != nil {
			return err
		}
		if _, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: c.Round.ID, VersionID: cp.VersionID, OrgPath: unit.Path},
			"counterproposal."+string(action), "counterproposal", id, before, map[string]any{"counterproposal": row, "lines": out.Lines}); err != nil {
			return err
		}
		return s.named(ctx, tx, out)
	})
	return out, err
}

// UpdateCounterproposal implements planning.CounterproposalService.
func (s *CounterproposalService) UpdateCounterproposal(ctx context.Context, id int64, title *string, lines *[]planning.LineInput, ifMatch *int64) (*planning.Counterproposal, error) {
	var lineIDs []int64
	if lines != nil {
		lineIDs = lineIDsOf(*lines)
	}
	return s.change(ctx, id, ifMatch, planning.CPActUpdate, lineIDs, func(cp *planning.Counterproposal, c *planning.ProposalContext) error {
		return cp.Update(c, title, lines)
	})
}

// Submit implements planning.CounterproposalService.
func (s *CounterproposalService) Submit(ctx context.Context, id int64, ifMatch *int64) (*planning.Counterproposal, error) {
	return s.change(ctx, id, ifMatch, planning.CPActSubmit, nil, (*planning.Counterproposal).Submit)
}

// Withdraw implements planning.CounterproposalService.
func (s *CounterproposalService) Withdraw(ctx context.Context, id int64, ifMatch *int64) (*planning.Counterproposal, error) {
	return s.change(ctx, id, ifMatch, planning.CPActWithdraw, nil, (*planning.Counterproposal).Withdraw)
}
