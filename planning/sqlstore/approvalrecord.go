package sqlstore

import (
	"context"

	"github.com/cascade-planning/cascade/planning"
)

// ApprovalRecordService implements planning.ApprovalRecordService.
//
// It reads the approval from the round's move to approved (who took it, when
// and with what comment) and the version's freeze. When the approval chain
// records its own final action, only approvedBy below needs to read that
// instead; the documents built on the record stay as they are.
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
	round, _, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
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
	if err := s.db.approvedBy(ctx, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// approvedBy fills in who approved the round's budget of record and when:
// the latest move of the round to approved. A round approved in a way that
// left no such move falls back to the version's freeze.
func (db *DB) approvedBy(ctx context.Context, rec *planning.ApprovalRecord) error {
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
