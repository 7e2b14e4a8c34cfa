package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type endpointRow struct {
	bun.BaseModel  `bun:"table:webhook_endpoints"`
	ID             int64      `bun:"id,pk,autoincrement"`
	URL            string     `bun:"url"`
	Description    string     `bun:"description"`
	EventTypes     string     `bun:"event_types"`
	Secret         string     `bun:"secret"`
	PreviousSecret *string    `bun:"previous_secret"`
	PreviousUntil  *time.Time `bun:"previous_until"`
	Status         string     `bun:"status"`
	DisabledReason string     `bun:"disabled_reason"`
	OwnerID        int64      `bun:"owner_id"`
	Revision       int64      `bun:"revision"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

func (r *endpointRow) toDomain() *planning.WebhookEndpoint {
	e := &planning.WebhookEndpoint{ID: r.ID, URL: r.URL, Description: r.Description, EventTypes: planning.ParseEventTypes(r.EventTypes),
		Secret: r.Secret, PreviousSecret: r.PreviousSecret, Status: planning.EndpointStatus(r.Status), DisabledReason: r.DisabledReason,
		OwnerID: r.OwnerID, Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.PreviousUntil != nil {
		t := r.PreviousUntil.UTC()
		e.PreviousUntil = &t
	}
	return e
}

// auditView is what the audit trail keeps of an endpoint: never its
// secrets.
func (r *endpointRow) auditView() map[string]any {
	return map[string]any{"id": r.ID, "url": r.URL, "description": r.Description, "event_types": r.EventTypes,
		"status": r.Status, "disabled_reason": r.DisabledReason, "owner_id": r.OwnerID, "revision": r.Revision}
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries,alias:d"`
	ID            int64      `bun:"id,pk,autoincrement"`
	EndpointID    int64      `bun:"endpoint_id"`
	EventID       int64      `bun:"event_id"`
	State         string     `bun:"state"`
	Attempts      int        `bun:"attempts"`
	NextAt        time.Time  `bun:"next_at"`
	LeaseUntil    *time.Time `bun:"lease_until"`
	LastStatus    *int       `bun:"last_status"`
	CreatedAt     time.Time  `bun:"created_at"`
	FinishedAt    *time.Time `bun:"finished_at"`
	RetryFrom     *time.Time `bun:"retry_from"`
	EventType     string     `bun:"event_type,scanonly"`
}

func (r *deliveryRow) toDomain() *planning.WebhookDelivery {
	d := &planning.WebhookDelivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: planning.EventType(r.EventType),
		State: planning.DeliveryState(r.State), Attempts: r.Attempts, NextAt: r.NextAt.UTC(), LastStatus: r.LastStatus,
		CreatedAt: r.CreatedAt.UTC()}
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		d.FinishedAt = &t
	}
	return d
}

type attemptRow struct {
	bun.BaseModel `bun:"table:webhook_attempts"`
	ID            int64     `bun:"id,pk,autoincrement"`
	DeliveryID    int64     `bun:"delivery_id"`
	At            time.Time `bun:"at"`
	Status        int       `bun:"status"`
	LatencyMS     int64     `bun:"latency_ms"`
	Error         string    `bun:"error"`
	Response      string    `bun:"response"`
}

// WebhookService implements planning.WebhookService.
type WebhookService struct{ db *DB }

var _ planning.WebhookService = (*WebhookService)(nil)

func mayManageWebhooks(ctx context.Context) (*planning.Actor, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return a, a.MayManageWebhooks()
}

// CreateWebhookEndpoint implements planning.WebhookService.
func (s *WebhookService) CreateWebhookEndpoint(ctx context.Context, e *planning.WebhookEndpoint) error {
	a, err := mayManageWebhooks(ctx)
	if err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	row := &endpointRow{URL: e.URL, Description: e.Description, EventTypes: planning.EventTypesString(e.EventTypes),
		Secret: planning.NewWebhookSecret(), Status: string(planning.EndpointActive), OwnerID: a.UserID(), Revision: 1,
		CreatedAt: now, UpdatedAt: now}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		return s.db.writeAudit(ctx, tx, "webhook.create", "webhook_endpoint", row.ID, nil, row.auditView())
	})
	if err != nil {
		return err
	}
	*e = *row.toDomain()
	return nil
}

// FindWebhookEndpoints implements planning.WebhookService.
func (s *WebhookService) FindWebhookEndpoints(ctx context.Context) ([]*planning.WebhookEndpoint, error) {
	if _, err := mayManageWebhooks(ctx); err != nil {
		return nil, err
	}
	var rows []endpointRow
	if err := s.db.bun.NewSelect().Model(&rows).OrderExpr("id").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]*planning.WebhookEndpoint, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

func (s *WebhookService) loadEndpoint(ctx context.Context, idb bun.IDB, id int64) (*endpointRow, error) {
	row := new(endpointRow)
	if err := idb.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, planning.Errorf(planning.ENOTFOUND, "webhook endpoint %d not found", id)
		}
		return nil, s.db.mapError(err)
	}
	return row, nil
}

// FindWebhookEndpointByID implements planning.WebhookService.
func (s *WebhookService) FindWebhookEndpointByID(ctx context.Context, id int64) (*planning.WebhookEndpoint, error) {
	if _, err := mayManageWebhooks(ctx); err != nil {
		return nil, err
	}
	row, err := s.loadEndpoint(ctx, s.db.bun, id)
	if err != nil {
		return nil, err
	}
	return row.toDomain(), nil
}

// changeEndpoint loads an endpoint, applies fn to it, and saves and audits
// the change in one transaction.
func (s *WebhookService) changeEndpoint(ctx context.Context, id int64, ifMatch *int64, action string, fn func(row *endpointRow) error) (*planning.WebhookEndpoint, error) {
	if _, err := mayManageWebhooks(ctx); err != nil {
		return nil, err
	}
	var out *planning.WebhookEndpoint
	err := s.db.inTx(ctx, func(tx bun.Tx) error {
		row, err := s.loadEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := planning.CheckRevision(ifMatch, row.Revision); err != nil {
			return err
		}
		before := row.auditView()
		if err := fn(row); err != nil {
			return err
		}
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		out = row.toDomain()
		return s.db.writeAudit(ctx, tx, action, "webhook_endpoint", id, before, row.auditView())
	})
	return out, err
}

// UpdateWebhookEndpoint implements planning.WebhookService.
func (s *WebhookService) UpdateWebhookEndpoint(ctx context.Context, id int64, upd planning.WebhookEndpointUpdate) (*planning.WebhookEndpoint, error) {
	return s.changeEndpoint(ctx, id, upd.IfMatch, "webhook.update", func(row *endpointRow) error {
		e := row.toDomain()
		if upd.URL != nil {
			e.URL = *upd.URL
		}
		if upd.Description != nil {
			e.Description = *upd.Description
		}
		if upd.EventTypes != nil {
			e.EventTypes = *upd.EventTypes
		}
		if err := e.Validate(); err != nil {
			return err
		}
		if upd.Status != nil {
			switch *upd.Status {
			case planning.EndpointActive:
				row.DisabledReason = ""
			case planning.EndpointPaused:
			default:
				v := &planning.Validation{}
				v.Add("status", "must be active or paused")
				return v.Err()
			}
			row.Status = string(*upd.Status)
		}
		row.URL, row.Description, row.EventTypes = e.URL, e.Description, planning.EventTypesString(e.EventTypes)
		return nil
	})
}

// RotateWebhookSecret implements planning.WebhookService.
func (s *WebhookService) RotateWebhookSecret(ctx context.Context, id int64, overlap time.Duration) (*planning.WebhookEndpoint, error) {
	return s.changeEndpoint(ctx, id, nil, "webhook.rotate_secret", func(row *endpointRow) error {
		old, until := row.Secret, s.db.Now().Add(overlap)
		row.PreviousSecret, row.PreviousUntil = &old, &until
		row.Secret = planning.NewWebhookSecret()
		return nil
	})
}

// DeleteWebhookEndpoint implements planning.WebhookService. Its deliveries
// and their log go with it.
func (s *WebhookService) DeleteWebhookEndpoint(ctx context.Context, id int64) error {
	if _, err := mayManageWebhooks(ctx); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		row, err := s.loadEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().TableExpr("webhook_attempts").
			Where("delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)", id).Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		if _, err := tx.NewDelete().TableExpr("webhook_deliveries").Where("endpoint_id = ?", id).Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		return s.db.writeAudit(ctx, tx, "webhook.delete", "webhook_endpoint", id, row.auditView(), nil)
	})
}

func (s *WebhookService) deliveries(endpointID int64) *bun.SelectQuery {
	return s.db.bun.NewSelect().TableExpr("webhook_deliveries AS d").
		ColumnExpr("d.*").ColumnExpr("ev.type AS event_type").
		Join("JOIN events AS ev ON ev.id = d.event_id").
		Where("d.endpoint_id = ?", endpointID)
}

// FindWebhookDeliveries implements planning.WebhookService.
func (s *WebhookService) FindWebhookDeliveries(ctx context.Context, endpointID int64, f planning.DeliveryFilter) ([]*planning.WebhookDelivery, string, error) {
	if _, err := s.FindWebhookEndpointByID(ctx, endpointID); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []deliveryRow
	q := s.deliveries(endpointID).OrderExpr("d.id DESC").Limit(fetchLimit(f.Page))
	if f.State != nil {
		q.Where("d.state = ?", *f.State)
	}
	if f.From != nil {
		q.Where("d.created_at >= ?", f.From.UTC())
	}
	if f.To != nil {
		q.Where("d.created_at < ?", f.To.UTC())
	}
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		id, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return nil, "", planning.Errorf(planning.EINVALID, "invalid cursor")
		}
		q.Where("d.id < ?", id)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *deliveryRow) string { return strconv.FormatInt(r.ID, 10) })
	out := make([]*planning.WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, next, nil
}

// FindWebhookDelivery implements planning.WebhookService: the delivery
// with its log of attempts.
func (s *WebhookService) FindWebhookDelivery(ctx context.Context, endpointID, deliveryID int64) (*planning.WebhookDelivery, error) {
	if _, err := s.FindWebhookEndpointByID(ctx, endpointID); err != nil {
		return nil, err
	}
	var rows []deliveryRow
	if err := s.deliveries(endpointID).Where("d.id = ?", deliveryID).Scan(ctx, &rows); err != nil {
		return nil, s.db.mapError(err)
	}
	if len(rows) == 0 {
		return nil, planning.Errorf(planning.ENOTFOUND, "delivery %d not found", deliveryID)
	}
	d := rows[0].toDomain()
	var atts []attemptRow
	if err := s.db.bun.NewSelect().Model(&atts).Where("delivery_id = ?", deliveryID).OrderExpr("id").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	d.Log = make([]planning.WebhookAttempt, len(atts))
	for i, a := range atts {
		d.Log[i] = planning.WebhookAttempt{At: a.At.UTC(), Status: a.Status, Latency: time.Duration(a.LatencyMS) * time.Millisecond,
			Error: a.Error, Response: a.Response}
	}
	return d, nil
}

// ReplayWebhookDeliveries implements planning.WebhookService. A replay
// keeps the delivery's id, so the receiver sees the same webhook-id.
func (s *WebhookService) ReplayWebhookDeliveries(ctx context.Context, endpointID, deliveryID int64, from, to *time.Time) (int, error) {
	if _, err := s.FindWebhookEndpointByID(ctx, endpointID); err != nil {
		return 0, err
	}
	if deliveryID == 0 && (from == nil || to == nil) {
		v := &planning.Validation{}
		v.Add("from", "and to are required when no delivery is named")
		return 0, v.Err()
	}
	var n int
	err := s.db.inTx(ctx, func(tx bun.Tx) error {
		now := s.db.Now()
		q := tx.NewUpdate().TableExpr("webhook_deliveries").
			Set("state = ?", planning.DeliveryPending).Set("next_at = ?", now).Set("retry_from = ?", now).
			Set("lease_until = NULL").Set("finished_at = NULL").
			Where("endpoint_id = ?", endpointID)
		if deliveryID != 0 {
			q.Where("id = ?", deliveryID)
		} else {
			q.Where("created_at >= ?", from.UTC()).Where("created_at < ?", to.UTC())
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return s.db.mapError(err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		if deliveryID != 0 && n == 0 {
			return planning.Errorf(planning.ENOTFOUND, "delivery %d not found", deliveryID)
		}
		return s.db.writeAudit(ctx, tx, "webhook.replay", "webhook_endpoint", endpointID, nil,
			map[string]any{"delivery_id": deliveryID, "from": from, "to": to, "queued": n})
	})
	return n, err
}
