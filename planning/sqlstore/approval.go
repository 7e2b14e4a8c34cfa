package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type approvalRow struct {
	bun.BaseModel `bun:"table:approval_actions"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	VersionID     int64     `bun:"version_id" json:"version_id"`
	Step          int       `bun:"step" json:"step"`
	Action        string    `bun:"action" json:"action"`
	ActorID       int64     `bun:"actor_id" json:"actor_id"`
	Comment       string    `bun:"comment" json:"comment"`
	At            time.Time `bun:"at" json:"at"`
}

// ApprovalService implements planning.ApprovalService.
type ApprovalService struct{ db *DB }

var _ planning.ApprovalService = (*ApprovalService)(nil)

// FindApproval implements planning.ApprovalService.
func (s *ApprovalService) FindApproval(ctx context.Context, versionID int64) (*planning.Approval, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	v, err := s.db.loadVersion(ctx, s.db.bun, versionID)
	if err != nil {
		return nil, err
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
	if err != nil {
		return nil, err
	}
	return s.approvalOf(ctx, s.db.bun, v, r)
}

// approvalOf assembles the chain's state from the recorded actions. Only
// the actions since the last submission count for the steps' states; the
// history keeps all of them.
func (s *ApprovalService) approvalOf(ctx context.Context, idb bun.IDB, v *versionRow, r *planning.Round) (*planning.Approval, error) {
	var rows []approvalRow
	if err := idb.NewSelect().Model(&rows).Where("version_id = ?", v.ID).OrderExpr("id").Scan(ctx); err != nil {
		return nil, err
	}
	out := &planning.Approval{VersionID: v.ID, State: planning.ApprovalState(v.ApprovalState), Current: v.ApprovalStep, Revision: v.Revision}
	ids := make([]int64, len(rows))
	for i, a := range rows {
		ids[i] = a.ActorID
	}
	names, err := s.db.userNames(ctx, idb, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range rows {
		out.History = append(out.History, planning.ApprovalAction{ID: a.ID, VersionID: a.VersionID, Step: a.Step, Action: a.Action,
			ActorID: a.ActorID, Comment: a.Comment, At: a.At.UTC(), ActorName: names[a.ActorID]})
	}
	// The current pass starts at the last submission.
	start := -1
	for i, a := range rows {
		if a.Action == planning.ActSubmit {
			start = i
		}
	}
	done := map[int]*approvalRow{}
	if start >= 0 && out.State != planning.ApprovalNone {
		for i := start; i < len(rows); i++ {
			if rows[i].Action == planning.ActSubmit || rows[i].Action == planning.ActApprove {
				done[rows[i].Step] = &rows[i]
			}
		}
	}
	now := s.db.Now()
	var prev *time.Time
	for i, st := range r.ApprovalChain {
		ss := planning.ApprovalStepStatus{Step: i, Role: st.Role, Action: st.Action, State: "pending"}
		if a, ok := done[i]; ok {
			at := a.At.UTC()
			ss.State, ss.ActorID, ss.At, ss.Comment = "done", &a.ActorID, &at, a.Comment
			if prev != nil {
				ss.Took = at.Sub(*prev)
			}
			prev = &at
		} else if (out.State == planning.ApprovalInProgress && i == out.Current) || (out.State == planning.ApprovalNone && i == 0) {
			ss.State = "current"
			if prev != nil {
				ss.Took = now.Sub(*prev)
			}
			role := st.Role
			out.NextRole = &role
		}
		out.Steps = append(out.Steps, ss)
	}
	return out, nil
}

// Act implements planning.ApprovalService. The rules are the version's
// (planning.Version.ActOnApproval); this loads what they look at through
// UpdateVersion's closure, and records the act, the sign-off and the audit
// events in the same transaction.
func (s *ApprovalService) Act(ctx context.Context, versionID int64, action, comment string, ifMatch *int64) (*planning.Approval, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Approval
	var refused *planning.ApprovalSubject
	var earlier int64
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		var subject planning.ApprovalSubject
		var move planning.ApprovalMove
		before, v, err := s.db.updateVersion(ctx, tx, versionID, func(ver *planning.Version) error {
			_, r, err := s.db.loadRound(ctx, tx, ver.RoundID)
			if err != nil {
				return err
			}
			acts, err := s.actsFor(ctx, tx, ver.ID, r)
			if err != nil {
				return err
			}
			// The subject keeps the version as read, for the audit of a
			// refusal; the act moves a copy.
			read := *ver
			subject = planning.ApprovalSubject{Round: r, Version: &read, Current: ver.ApprovalStep, Acts: acts, IfMatch: ifMatch}
			move, err = ver.ActOnApproval(a, action, comment, subject, s.db.Now())
			var sep *planning.DutySeparationError
			if errors.As(err, &sep) {
				refused, earlier = &subject, sep.Earlier.ID
			}
			return err
		})
		if err != nil {
			return err
		}
		r := subject.Round
		if move.SignOff {
			if _, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: v.ID}, "version.freeze", "version", v.ID, before, v); err != nil {
				return err
			}
			if err := s.signOff(ctx, tx, a, v.ID, r); err != nil {
				return err
			}
		}
		act := &approvalRow{VersionID: v.ID, Step: move.Step, Action: action, ActorID: a.UserID(), Comment: comment, At: s.db.Now()}
		if _, err := tx.NewInsert().Model(act).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		if out, err = s.approvalOf(ctx, tx, v, r); err != nil {
			return err
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: v.ID}, "approval."+action, "version", v.ID, before,
			map[string]any{"version": v, "action": act, "separation_of_duties": r.SeparationOfDuties.OrDefault()})
		return err
	})
	if refused != nil {
		if rerr := s.auditRefusal(ctx, refused, action, earlier, err); rerr != nil {
			return nil, rerr
		}
	}
	return out, err
}

// auditRefusal audits a refusal under the separation of duties on its
// own, after the act's transaction rolled back: who tried what, the earlier
// act that ruled it out, and the reason.
func (s *ApprovalService) auditRefusal(ctx context.Context, refused *planning.ApprovalSubject, action string, earlier int64, reason error) error {
	versionID := refused.Version.ID
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		_, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: refused.Round.ID, VersionID: versionID}, "approval.refused", "version", versionID, nil,
			map[string]any{"action": action, "approval_state": refused.Version.ApprovalState, "step": refused.Current,
				"separation_of_duties": refused.Round.SeparationOfDuties.OrDefault(), "earlier_action_id": earlier,
				"reason": planning.ErrorMessage(reason)})
		return err
	})
}

// actsFor returns the recorded acts the round's separation of duties looks
// at: the version's, or under SeparateWithinRound every version's of the
// round, oldest first.
func (s *ApprovalService) actsFor(ctx context.Context, idb bun.IDB, versionID int64, r *planning.Round) ([]planning.ApprovalAction, error) {
	var rows []approvalRow
	q := idb.NewSelect().Model(&rows).OrderExpr("id")
	if r.SeparationOfDuties.OrDefault() == planning.SeparateWithinRound {
		q = q.Where("version_id IN (SELECT id FROM versions WHERE round_id = ?)", r.ID)
	} else {
		q = q.Where("version_id = ?", versionID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]planning.ApprovalAction, len(rows))
	for i, a := range rows {
		out[i] = planning.ApprovalAction{ID: a.ID, VersionID: a.VersionID, Step: a.Step, Action: a.Action, ActorID: a.ActorID, Comment: a.Comment, At: a.At.UTC()}
	}
	return out, nil
}

// signOff makes the version, frozen by the chain's final approval, the
// round's budget of record; a round in review moves to approved.
func (s *ApprovalService) signOff(ctx context.Context, tx bun.Tx, a *planning.Actor, versionID int64, r *planning.Round) error {
	var moved bool
	var signed *planning.Round
	if err := s.db.updateRound(ctx, tx, r.ID, func(r *planning.Round) (string, map[string]any, error) {
		moved, signed = r.SignOff(versionID), r
		return "round.record_version", nil, nil
	}); err != nil {
		return err
	}
	if !moved {
		return nil
	}
	tr := &transitionRow{RoundID: r.ID, From: string(planning.RoundReview), To: string(planning.RoundApproved), ActorID: actorIDPtr(a),
		Comment: "approved through the approval chain", At: signed.UpdatedAt}
	_, err := tx.NewInsert().Model(tr).Exec(ctx)
	return err
}

// userNames returns the display names of the users ids (the system actor,
// 0, and users gone have none).
func (db *DB) userNames(ctx context.Context, idb bun.IDB, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID   int64  `bun:"id"`
		Name string `bun:"name"`
	}
	if err := idb.NewSelect().TableExpr("users").Column("id", "name").Where("id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return nil, db.mapError(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
