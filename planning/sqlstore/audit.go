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
	RoundID       *int64    `bun:"round_id"`
	VersionID     *int64    `bun:"version_id"`
	OrgPath       *string   `bun:"org_path"`
}

// auditScope places an audit event in the cycle and the org tree, for the
// round, version and scope filters of the audit trail.
type auditScope struct {
	RoundID   int64
	VersionID int64
	OrgPath   string
}

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// writeAudit appends one audit event inside tx, so the event and the write it
// records commit or roll back together. before and after are any values that
// marshal to JSON; nil means "did not exist".
func (db *DB) writeAudit(ctx context.Context, tx bun.IDB, action, entity string, id int64, before, after any) error {
	_, err := db.writeAuditIn(ctx, tx, auditScope{}, action, entity, id, before, after)
	return err
}

// writeAuditIn is writeAudit with the event's place in the cycle; it
// returns the event's id.
func (db *DB) writeAuditIn(ctx context.Context, tx bun.IDB, sc auditScope, action, entity string, id int64, before, after any) (int64, error) {
	row := &auditRow{At: db.Now(), Action: action, Entity: entity, EntityID: id,
		RoundID: optID(sc.RoundID), VersionID: optID(sc.VersionID)}
	if sc.OrgPath != "" {
		row.OrgPath = &sc.OrgPath
	}
	if uid := planning.ActorFromContext(ctx).UserID(); uid != 0 {
		row.ActorID = &uid
	}
	var err error
	if row.Before, err = marshalAudit(before); err != nil {
		return 0, err
	}
	if row.After, err = marshalAudit(after); err != nil {
		return 0, err
	}
	if _, err = tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return 0, err
	}
	return row.ID, db.emitEvent(ctx, tx, row, after)
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
	reach, err := a.MayReadAudit()
	if err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []auditRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(fetchLimit(f.Page))
	switch {
	case reach.All:
	case reach.ExceptUsers:
		q.Where("entity NOT IN ('user', 'token')")
	default:
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, p := range reach.Paths {
				q = q.WhereOr("org_path LIKE ?", p+"%")
			}
			return q
		})
	}
	if f.RoundID != nil {
		q.Where("round_id = ?", *f.RoundID)
	}
	if f.VersionID != nil {
		q.Where("version_id = ?", *f.VersionID)
	}
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
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, "", err
	}
	var actors []int64
	for _, r := range rows {
		if r.ActorID != nil {
			actors = append(actors, *r.ActorID)
		}
	}
	names, err := s.db.userNames(ctx, s.db.bun, actors)
	if err != nil {
		return nil, "", err
	}
	out := make([]*planning.AuditEvent, len(rows))
	for i, r := range rows {
		e := &planning.AuditEvent{ID: r.ID, At: r.At.UTC(), ActorID: r.ActorID, Action: r.Action, Entity: r.Entity, EntityID: r.EntityID,
			RoundID: r.RoundID, VersionID: r.VersionID}
		if r.ActorID != nil {
			e.ActorName = names[*r.ActorID]
		}
		if r.Before != nil {
			e.Before = json.RawMessage(*r.Before)
		}
		if r.After != nil {
			e.After = json.RawMessage(*r.After)
		}
		sc.RedactAuditEvent(e)
		out[i] = e
	}
	return out, next, nil
}
