package sqlstore

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type auditRow struct {
	bun.BaseModel `bun:"table:audit_events"`
	ID            int64     `bun:"id,pk,autoincrement"`
	At            time.Time `bun:"at"`
	ActorID       *int64    `bun:"actor_id"`
	Action        string    `bun:"action"`
	Entity        string    `bun:"entity"`
	EntityID      int64     `bun:"entity_id"`
	Before        *string   `bun:"before"`
	After         *string   `bun:"after"`
}

// writeAudit appends one audit event inside tx, so the event and the write it
// records commit or roll back together. before and after are any values that
// marshal to JSON; nil means "did not exist".
func (db *DB) writeAudit(ctx context.Context, tx bun.IDB, action, entity string, id int64, before, after any) error {
	row := &auditRow{At: db.Now(), Action: action, Entity: entity, EntityID: id}
	if uid := planning.ActorFromContext(ctx).UserID(); uid != 0 {
		row.ActorID = &uid
	}
	var err error
	if row.Before, err = marshalAudit(before); err != nil {
		return err
	}
	if row.After, err = marshalAudit(after); err != nil {
		return err
	}
	_, err = tx.NewInsert().Model(row).Exec(ctx)
	return err
}

func marshalAudit(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// AuditService reads the audit trail.
type AuditService struct{ db *DB }

var _ planning.AuditService = (*AuditService)(nil)

// FindAuditEvents implements planning.AuditService.
func (s *AuditService) FindAuditEvents(ctx context.Context, f planning.AuditFilter) ([]*planning.AuditEvent, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if !a.CanReadAudit() {
		return nil, "", planning.Errorf(planning.EFORBIDDEN, "only administrators and auditors read the audit trail")
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []auditRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(fetchLimit(f.Page))
	if f.Entity != "" {
		q.Where("entity = ?", f.Entity)
	}
	if f.EntityID != nil {
		q.Where("entity_id = ?", *f.EntityID)
	}
	if f.ActorID != nil {
		q.Where("actor_id = ?", *f.ActorID)
	}
	if f.From != nil {
		q.Where("at >= ?", f.From.UTC())
	}
	if f.To != nil {
		q.Where("at < ?", f.To.UTC())
	}
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		id, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return nil, "", planning.Errorf(planning.EINVALID, "invalid cursor")
		}
		q.Where("id < ?", id)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *auditRow) string { return strconv.FormatInt(r.ID, 10) })
	out := make([]*planning.AuditEvent, len(rows))
	for i, r := range rows {
		e := &planning.AuditEvent{ID: r.ID, At: r.At.UTC(), ActorID: r.ActorID, Action: r.Action, Entity: r.Entity, EntityID: r.EntityID}
		if r.Before != nil {
			e.Before = json.RawMessage(*r.Before)
		}
		if r.After != nil {
			e.After = json.RawMessage(*r.After)
		}
		out[i] = e
	}
	return out, next, nil
}
