package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type eventRow struct {
	bun.BaseModel `bun:"table:events"`
	ID            int64     `bun:"id,pk,autoincrement"`
	Type          string    `bun:"type"`
	At            time.Time `bun:"at"`
	AuditID       int64     `bun:"audit_id"`
	ActorID       *int64    `bun:"actor_id"`
	Entity        string    `bun:"entity"`
	EntityID      int64     `bun:"entity_id"`
	RoundID       *int64    `bun:"round_id"`
	VersionID     *int64    `bun:"version_id"`
	OrgPath       *string   `bun:"org_path"`
	Data          *string   `bun:"data"`
}

func (r *eventRow) toDomain() *planning.Event {
	e := &planning.Event{ID: r.ID, Type: planning.EventType(r.Type), At: r.At.UTC(), AuditID: r.AuditID, ActorID: r.ActorID,
		Entity: r.Entity, EntityID: r.EntityID, RoundID: r.RoundID, VersionID: r.VersionID}
	if r.OrgPath != nil {
		e.OrgPath = *r.OrgPath
	}
	if r.Data != nil {
		e.Data = json.RawMessage(*r.Data)
	}
	return e
}

// emitEvent writes the outbox row of an audited action, if the action
// reports a domain event, in the audit row's transaction; and queues a
// delivery of it to every endpoint (active or paused) that subscribes to
// its type, in the same transaction, so the worker only ever sends what
// committed.
func (db *DB) emitEvent(ctx context.Context, tx bun.IDB, audit *auditRow, after any) error {
	data, phase := eventData(audit.Action, after)
	typ := planning.EventTypeOfAudit(audit.Action, phase)
	if typ == "" {
		return nil
	}
	row := &eventRow{Type: string(typ), At: audit.At, AuditID: audit.ID, ActorID: audit.ActorID, Entity: audit.Entity,
		EntityID: audit.EntityID, RoundID: audit.RoundID, VersionID: audit.VersionID, OrgPath: audit.OrgPath}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		s := string(b)
		row.Data = &s
	}
	if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return err
	}
	_, err := tx.NewRaw(`INSERT INTO webhook_deliveries (endpoint_id, event_id, state, attempts, next_at, created_at)
		SELECT id, ?, ?, 0, ?, ? FROM webhook_endpoints
		WHERE status IN (?, ?) AND (event_types = '' OR event_types LIKE ?)`,
		row.ID, planning.DeliveryPending, row.At, row.At, planning.EndpointActive, planning.EndpointPaused,
		"%,"+string(typ)+",%").Exec(ctx)
	return err
}

// eventData is the small part of an audited entity that its event
// carries, and a round's phase after a transition.
func eventData(action string, after any) (map[string]any, planning.RoundStatus) {
	switch v := after.(type) {
	case *roundRow:
		return map[string]any{"phase": v.Status, "round_code": v.Code}, planning.RoundStatus(v.Status)
	case *versionRow:
		return map[string]any{"status": v.Status, "number": v.Number, "label": v.Label}, ""
	case map[string]any:
		switch x := v["round"].(type) {
		case *roundRow:
			return map[string]any{"phase": x.Status, "round_code": x.Code}, planning.RoundStatus(x.Status)
		}
		if cp, ok := v["counterproposal"].(*cpRow); ok {
			return map[string]any{"status": cp.Status, "org_unit_id": cp.OrgUnitID, "author_id": cp.AuthorID, "title": cp.Title}, ""
		}
		if act, ok := v["action"].(*approvalRow); ok {
			d := map[string]any{"action": act.Action, "step": act.Step, "comment": act.Comment}
			if vr, ok := v["version"].(*versionRow); ok {
				d["approval_state"] = vr.ApprovalState
			}
			return d, ""
		}
		if _, ok := v["deadline"]; ok {
			return v, ""
		}
		if m, ok := v["months"]; ok {
			return map[string]any{"months": m}, ""
		}
	}
	return nil, ""
}

// EventService reads the outbox as the caller's stream.
type EventService struct{ db *DB }

var _ planning.EventService = (*EventService)(nil)

// FindEvents implements planning.EventService.
func (s *EventService) FindEvents(ctx context.Context, f planning.EventFilter) ([]*planning.Event, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var out []*planning.Event
	after := f.AfterID
	// Scope filtering happens after the read, so a page can come back
	// short; read on until it is full or the outbox is exhausted.
	for len(out) < limit {
		var rows []eventRow
		if err := s.db.bun.NewSelect().Model(&rows).Where("id > ?", after).OrderExpr("id").Limit(int64(limit)).Scan(ctx); err != nil {
			return nil, s.db.mapError(err)
		}
		for i := range rows {
			e := rows[i].toDomain()
			after = e.ID
			if !sc.VisibleEvent(e) {
				continue
			}
			sc.RedactEvent(e)
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
		if len(rows) < limit {
			break
		}
	}
	return out, nil
}

// LatestEventID implements planning.EventService.
func (s *EventService) LatestEventID(ctx context.Context) (int64, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.bun.NewSelect().TableExpr("events").ColumnExpr("COALESCE(MAX(id), 0)").Scan(ctx, &id)
	return id, s.db.mapError(err)
}
