package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// ApprovalRecordService implements planning.ApprovalRecordService.
//
// The record is read from the approval chain: the version's actions from its
// last submission to its final approval. Rounds approved before the chain
// recorded its actions fall back to the round's move to approved, and then
// to the version's freeze; the documents built on the record do not change
// with its source.
type ApprovalRecordService struct{ db *DB }

var _ planning.ApprovalRecordService = (*ApprovalRecordService)(nil)

// FindApprovalRecord implements planning.ApprovalRecordService.
func (s *ApprovalRecordService) FindApprovalRecord(ctx context.Context, versionID int64) (*planning.ApprovalRecord, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	v, err := s.db.loadVersion(ctx, s.db.bun, versionID)
	if err != nil {
		return nil, err
	}
	_, round, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
	if err != nil {
		return nil, err
	}
	rec := &planning.ApprovalRecord{VersionID: v.ID, RoundID: v.RoundID, FrozenBy: v.FrozenBy, FrozenAt: utcPtr(v.FrozenAt),
		Record: round.RecordVersionID != nil && *round.RecordVersionID == v.ID}
	if rec.FrozenBy != nil {
		if rec.FrozenByName, err = s.db.userName(ctx, *rec.FrozenBy); err != nil {
			return nil, err
		}
	}
	if !rec.Record {
		return rec, nil
	}
	if ok, err := s.db.approvedByChain(ctx, rec, round); ok || err != nil {
		return rec, err
	}
	return rec, s.db.approvedByTransition(ctx, rec)
}

// approvedByChain fills in the record from the version's approval actions,
// and reports whether they hold its final approval.
func (db *DB) approvedByChain(ctx context.Context, rec *planning.ApprovalRecord, round *planning.Round) (bool, error) {
	var acts []approvalRow
	if err := db.bun.NewSelect().Model(&acts).Where("version_id = ?", rec.VersionID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return false, db.mapError(err)
	}
	start := -1
	for i, x := range acts {
		if x.Action == planning.ActSubmit {
			start = i
		}
	}
	if start < 0 {
		return false, nil
	}
	final := -1
	for i := start; i < len(acts); i++ {
		switch acts[i].Action {
		case planning.ActSubmit, planning.ActApprove:
			final = i
		default:
			return false, nil // rejected or reopened after the submission
		}
	}
	if acts[final].Action != planning.ActApprove {
		return false, nil
	}
	names := map[int64]string{}
	for _, x := range acts[start : final+1] {
		if _, ok := names[x.ActorID]; !ok {
			n, err := db.userName(ctx, x.ActorID)
			if err != nil {
				return false, err
			}
			names[x.ActorID] = n
		}
		step := planning.ApprovalRecordStep{Action: x.Action, ActorID: x.ActorID, ActorName: names[x.ActorID], Comment: x.Comment, At: x.At.UTC()}
		if x.Step >= 0 && x.Step < len(round.ApprovalChain) {
			step.Role = round.ApprovalChain[x.Step].Role
		}
		rec.Steps = append(rec.Steps, step)
	}
	last := rec.Steps[len(rec.Steps)-1]
	id, at := last.ActorID, last.At
	rec.ApprovedBy, rec.ApprovedByName, rec.ApprovedAt, rec.Comment, rec.Source = &id, last.ActorName, &at, last.Comment, "approval_chain"
	return true, nil
}

// approvedByTransition fills in the record from the round's latest move to
// approved, or else from the version's freeze.
func (db *DB) approvedByTransition(ctx context.Context, rec *planning.ApprovalRecord) error {
	var trs []transitionRow
	if err := db.bun.NewSelect().Model(&trs).Where("round_id = ? AND to_status = ?", rec.RoundID, string(planning.RoundApproved)).
		OrderExpr("id DESC").Limit(1).Scan(ctx); err != nil {
		return db.mapError(err)
	}
	if len(trs) == 0 {
		rec.ApprovedBy, rec.ApprovedByName, rec.ApprovedAt, rec.Source = rec.FrozenBy, rec.FrozenByName, rec.FrozenAt, "version_freeze"
		return nil
	}
	at := trs[0].At.UTC()
	rec.ApprovedBy, rec.ApprovedAt, rec.Comment, rec.Source = trs[0].ActorID, &at, trs[0].Comment, "round_transition"
	if rec.ApprovedBy != nil {
		name, err := db.userName(ctx, *rec.ApprovedBy)
		if err != nil {
			return err
		}
		rec.ApprovedByName = name
	}
	return nil
}

// userName returns a user's display name for documents, or "" when the user
// is gone; the system actor has no user.
func (db *DB) userName(ctx context.Context, id int64) (string, error) {
	var names []string
	if err := db.bun.NewSelect().TableExpr("users").Column("name").Where("id = ?", id).Scan(ctx, &names); err != nil {
		return "", db.mapError(err)
	}
	if len(names) == 0 {
		return "", nil
	}
	return names[0], nil
}

// RecordLettersIssued implements planning.ApprovalRecordService.
func (s *ApprovalRecordService) RecordLettersIssued(ctx context.Context, versionID int64, units []*planning.OrgUnit, format string) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayIssueLetters(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		v, err := s.db.loadVersion(ctx, tx, versionID)
		if err != nil {
			return err
		}
		_, round, err := s.db.loadRound(ctx, tx, v.RoundID)
		if err != nil {
			return err
		}
		if err := round.CheckLetterVersion(v.ID); err != nil {
			return err
		}
		// One event per unit, scoped to it, so each branch's trail shows
		// its own letter and no other unit's.
		for _, u := range units {
			after := map[string]any{"version_id": v.ID, "round": round.Code, "org_unit": u.Code, "format": format}
			if _, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: round.ID, VersionID: v.ID, OrgPath: u.Path}, "letter.issue", "org_unit", u.ID, nil, after); err != nil {
				return err
			}
		}
		return nil
	})
}
