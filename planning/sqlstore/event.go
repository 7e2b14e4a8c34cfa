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
//
// Readers follow the outbox by id (the event stream, the mail cursor,
// pages after an id), so ids must become visible in their order. On
// PostgreSQL an id is taken at insert and seen at commit: a transaction
// that took id n and commits after another took and committed n+1 would
// put n behind a reader that has passed n+1, and that reader would never
// see it. So a transaction's events are kept until it commits, then
// written last (writeOutbox) under a lock held to the commit: ids are
// taken and committed one transaction at a time, and the lock, taken
// after every other lock of the transaction, cannot close a cycle of
// waits. SQLite has one writer, which orders them the same way.
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
	if t, ok := tx.(bun.Tx); ok && t.Tx != nil {
		held, _ := db.outbox.LoadOrStore(t.Tx, &[]*eventRow{})
		rows := held.(*[]*eventRow)
		*rows = append(*rows, row)
		return nil
	}
	return db.insertEvents(ctx, tx, []*eventRow{row})
}

// writeOutbox writes the events tx emitted, as its last writes before it
// commits (see emitEvent).
func (db *DB) writeOutbox(ctx context.Context, tx bun.Tx) error {
	held, ok := db.outbox.LoadAndDelete(tx.Tx)
	if !ok {
		return nil
	}
	return db.insertEvents(ctx, tx, *held.(*[]*eventRow))
}

// dropOutbox forgets the events of tx, which rolls back.
func (db *DB) dropOutbox(tx bun.Tx) { db.outbox.Delete(tx.Tx) }

// undone runs fn in tx inside a savepoint that is then rolled back, so
// what fn writes is undone, the events it emitted (held until the commit)
// included, and tx goes on: a dry run runs the very statements of the
// write. It returns fn's error. Every savepoint of the store is this one,
// so no rolled-back write leaves an event behind.
func (db *DB) undone(ctx context.Context, tx bun.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT cascade_undone"); err != nil {
		return err
	}
	mark := 0
	if held, ok := db.outbox.Load(tx.Tx); ok {
		mark = len(*held.(*[]*eventRow))
	}
	err := fn()
	if held, ok := db.outbox.Load(tx.Tx); ok {
		rows := held.(*[]*eventRow)
		*rows = (*rows)[:mark]
	}
	if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT cascade_undone"); rerr != nil && err == nil {
		err = rerr
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT cascade_undone"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// eventsLock is the PostgreSQL advisory lock that orders the outbox's ids.
const eventsLock = 0x63617363616465 // "cascade"

// insertEvents inserts rows and queues their deliveries.
func (db *DB) insertEvents(ctx context.Context, tx bun.IDB, rows []*eventRow) error {
	if len(rows) == 0 {
		return nil
	}
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(eventsLock)); err != nil {
			return err
		}
	}
	for _, row := range rows {
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw(`INSERT INTO webhook_deliveries (endpoint_id, event_id, state, attempts, next_at, created_at)
			SELECT id, ?, ?, 0, ?, ? FROM webhook_endpoints
			WHERE status IN (?, ?) AND (event_types = '' OR event_types LIKE ?)`,
			row.ID, planning.DeliveryPending, row.At, row.At, planning.EndpointActive, planning.EndpointPaused,
			"%,"+row.Type+",%").Exec(ctx)
		if err != nil {
			return err
		}
	}
	return nil
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
func (s *EventService) FindEvents(ctx context.Context, f planning.EventFilter) ([]*planning.Event, int64, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, 0, err
	}
	after := f.AfterID
	if f.FromNewest {
		err := s.db.bun.NewSelect().TableExpr("events").ColumnExpr("COALESCE(MAX(id), 0)").Scan(ctx, &after)
		return nil, after, s.db.mapError(err)
	}
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var out []*planning.Event
	// Scope filtering happens after the read, so a page can come back
	// short; read on until it is full or the outbox is exhausted.
	for len(out) < limit {
		var rows []eventRow
		if err := s.db.bun.NewSelect().Model(&rows).Where("id > ?", after).OrderExpr("id").Limit(int64(limit)).Scan(ctx); err != nil {
			return nil, 0, s.db.mapError(err)
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
	return out, after, nil
}
