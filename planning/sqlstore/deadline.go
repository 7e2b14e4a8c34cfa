package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type timerRow struct {
	bun.BaseModel `bun:"table:deadline_timers"`
	ID            int64      `bun:"id,pk,autoincrement"`
	RoundID       int64      `bun:"round_id"`
	Phase         string     `bun:"phase"`
	Kind          string     `bun:"kind"`
	Due           time.Time  `bun:"due"`
	FireAt        time.Time  `bun:"fire_at"`
	FiredAt       *time.Time `bun:"fired_at"`
}

func (r *timerRow) toDomain() planning.DeadlineTimer {
	return planning.DeadlineTimer{ID: r.ID, RoundID: r.RoundID, Phase: planning.RoundStatus(r.Phase), Kind: planning.DeadlineKind(r.Kind),
		Due: r.Due.UTC(), FireAt: r.FireAt.UTC()}
}

// scheduleDeadlines makes the round's timer table match its calendar, in
// the transaction of the round's change: unfired timers go, and those the
// calendar asks for are added unless one already fired for the same
// phase, kind and deadline.
func (db *DB) scheduleDeadlines(ctx context.Context, tx bun.IDB, r *planning.Round) error {
	if _, err := tx.NewDelete().Model((*timerRow)(nil)).Where("round_id = ?", r.ID).Where("fired_at IS NULL").Exec(ctx); err != nil {
		return err
	}
	ts := r.DeadlineTimers()
	if len(ts) == 0 {
		return nil
	}
	rows := make([]timerRow, len(ts))
	for i, t := range ts {
		rows[i] = timerRow{RoundID: t.RoundID, Phase: string(t.Phase), Kind: string(t.Kind), Due: t.Due, FireAt: t.FireAt}
	}
	_, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

// DeadlineQueue fires the durable deadline timers.
type DeadlineQueue struct{ db *DB }

// NewDeadlineQueue returns the deadline timers of db.
func NewDeadlineQueue(db *DB) *DeadlineQueue { return &DeadlineQueue{db: db} }

// FireDue fires every timer due by now, each in its own transaction that
// marks it fired and writes its event (if it still applies) together, so
// a timer fires once however many servers run this at once and whether or
// not one dies midway. It returns how many this call fired.
func (q *DeadlineQueue) FireDue(ctx context.Context) (int, error) {
	db := q.db
	var due []timerRow
	if err := db.bun.NewSelect().Model(&due).Where("fired_at IS NULL").Where("fire_at <= ?", db.Now()).
		OrderExpr("fire_at, id").Limit(100).Scan(ctx); err != nil {
		return 0, db.mapError(err)
	}
	n := 0
	for i := range due {
		fired, err := q.fire(ctx, &due[i])
		if err != nil {
			return n, err
		}
		if fired {
			n++
		}
	}
	return n, nil
}

func (q *DeadlineQueue) fire(ctx context.Context, row *timerRow) (bool, error) {
	db := q.db
	fired := false
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	err := db.inTx(ctx, func(tx bun.Tx) error {
		now := db.Now()
		// The conditional update is the claim: a second server's waits for
		// the first's transaction and then finds the timer fired.
		res, err := tx.NewUpdate().Model((*timerRow)(nil)).Set("fired_at = ?", now).
			Where("id = ?", row.ID).Where("fired_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
		fired = true
		t := row.toDomain()
		_, r, err := db.loadRound(ctx, tx, t.RoundID)
		if err != nil {
			return err
		}
		if !t.Applies(r) || t.Superseded(now) {
			return nil
		}
		ans, err := q.answers(ctx, tx, r)
		if err != nil {
			return err
		}
		waiting := []map[string]any{}
		for _, w := range planning.WaitingOn(t.Phase, ans) {
			m := map[string]any{"user_id": w.UserID}
			if w.OrgUnitID != nil {
				m["org_unit_id"] = *w.OrgUnitID
			}
			waiting = append(waiting, m)
		}
		data := map[string]any{"deadline": map[string]any{"phase": t.Phase, "due": t.Due, "kind": t.Kind}, "waiting": waiting}
		if t.Kind == planning.DeadlineEscalate {
			data["escalated_to"] = planning.Escalated(ans.Assignments)
		}
		action := "deadline.approaching"
		if t.EventType() == planning.EventDeadlinePassed {
			action = "deadline.passed"
		}
		_, err = db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID}, action, "round", r.ID, nil, data)
		return err
	})
	return fired, db.mapError(err)
}

// answers gathers who has answered the round's current phase.
func (q *DeadlineQueue) answers(ctx context.Context, tx bun.IDB, r *planning.Round) (planning.DeadlineAnswers, error) {
	db := q.db
	ans := planning.DeadlineAnswers{AnsweredUnits: map[int64]bool{}}
	var roles []roleRow
	if err := tx.NewSelect().Model(&roles).Join("JOIN users AS u ON u.id = ra.user_id").Where("u.active").
		OrderExpr("ra.user_id, ra.id").Scan(ctx); err != nil {
		return ans, err
	}
	for _, ro := range roles {
		ans.Assignments = append(ans.Assignments, planning.RoleAssignment{ID: ro.ID, UserID: ro.UserID, Role: planning.Role(ro.Role), OrgUnitID: ro.OrgUnitID})
	}
	if r.WorkingVersionID == nil {
		return ans, nil
	}
	var units []int64
	if err := tx.NewSelect().TableExpr("counterproposals").ColumnExpr("DISTINCT org_unit_id").
		Where("version_id = ?", *r.WorkingVersionID).Where("status IN (?)", bun.In([]planning.CounterproposalStatus{planning.CPSubmitted, planning.CPClosed})).
		Scan(ctx, &units); err != nil {
		return ans, err
	}
	for _, u := range units {
		ans.AnsweredUnits[u] = true
	}
	if r.Status == planning.RoundReview {
		v, err := db.loadVersion(ctx, tx, *r.WorkingVersionID)
		if err != nil {
			return ans, err
		}
		ap, err := (&ApprovalService{db: db}).approvalOf(ctx, tx, v, r)
		if err != nil {
			return ans, err
		}
		ans.NextApprovalRole = ap.NextRole
		if ap.State == planning.ApprovalNone && len(r.ApprovalChain) > 0 {
			first := r.ApprovalChain[0].Role
			ans.NextApprovalRole = &first
		}
	}
	return ans, nil
}
