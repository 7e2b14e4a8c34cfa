package sqlstore

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// DeliveryQueue is the delivery worker's side of the outbox.
type DeliveryQueue struct{ db *DB }

var _ planning.DeliveryQueue = (*DeliveryQueue)(nil)

// NewDeliveryQueue returns the webhook delivery queue of db.
func NewDeliveryQueue(db *DB) *DeliveryQueue { return &DeliveryQueue{db: db} }

// ClaimDeliveries implements planning.DeliveryQueue. On PostgreSQL the
// due rows are locked with FOR UPDATE SKIP LOCKED, so servers claiming at
// once take disjoint sets; on SQLite the single writer serialises claims.
// A lease that runs out (its server died mid-send) makes the row due again.
func (q *DeliveryQueue) ClaimDeliveries(ctx context.Context, n int, lease time.Duration) ([]*planning.Outgoing, error) {
	db := q.db
	now := db.Now()
	// A read first: an idle queue costs no write transaction (on SQLite,
	// no turn of the single writer).
	due, err := db.bun.NewSelect().TableExpr("webhook_deliveries").Where("state = ?", planning.DeliveryPending).
		Where("next_at <= ?", now).Where("(lease_until IS NULL OR lease_until < ?)", now).Exists(ctx)
	if err != nil || !due {
		return nil, db.mapError(err)
	}
	var ids []int64
	err = db.inTx(ctx, func(tx bun.Tx) error {
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE OF d SKIP LOCKED"
		}
		return tx.NewRaw(`UPDATE webhook_deliveries SET lease_until = ? WHERE id IN (
			SELECT d.id FROM webhook_deliveries AS d JOIN webhook_endpoints AS e ON e.id = d.endpoint_id
			WHERE d.state = ? AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?) AND e.status = ?
			ORDER BY d.next_at, d.id LIMIT ?`+lock+`) RETURNING id`,
			now.Add(lease), planning.DeliveryPending, now, now, planning.EndpointActive, n).Scan(ctx, &ids)
	})
	if err != nil || len(ids) == 0 {
		return nil, db.mapError(err)
	}
	var rows []deliveryRow
	if err := db.bun.NewSelect().TableExpr("webhook_deliveries AS d").ColumnExpr("d.*").ColumnExpr("ev.type AS event_type").
		Join("JOIN events AS ev ON ev.id = d.event_id").Where("d.id IN (?)", bun.In(ids)).OrderExpr("d.next_at, d.id").
		Scan(ctx, &rows); err != nil {
		return nil, db.mapError(err)
	}
	endpoints := map[int64]*endpointRow{}
	scopes := map[int64]*planning.Scope{}
	out := make([]*planning.Outgoing, 0, len(rows))
	for i := range rows {
		d := &rows[i]
		ep, ok := endpoints[d.EndpointID]
		if !ok {
			ep = new(endpointRow)
			if err := db.bun.NewSelect().Model(ep).Where("id = ?", d.EndpointID).Scan(ctx); err != nil {
				return nil, db.mapError(err)
			}
			endpoints[d.EndpointID] = ep
		}
		o := &planning.Outgoing{Delivery: *d.toDomain(), Endpoint: *ep.toDomain(), FirstAt: d.CreatedAt.UTC()}
		if d.RetryFrom != nil {
			o.FirstAt = d.RetryFrom.UTC()
		}
		ev := new(eventRow)
		if err := db.bun.NewSelect().Model(ev).Where("id = ?", d.EventID).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		sc, ok := scopes[ep.OwnerID]
		if !ok {
			// The payload is what the endpoint's owner may read, through
			// the same scope every read of theirs goes through.
			if a, err := db.loadActor(ctx, ep.OwnerID); err == nil && a != nil {
				if sc, err = db.readScope(ctx, a); err != nil {
					return nil, err
				}
			}
			scopes[ep.OwnerID] = sc
		}
		if e := ev.toDomain(); sc != nil && sc.VisibleEvent(e) {
			sc.RedactEvent(e)
			o.Event = e
		}
		out = append(out, o)
	}
	return out, nil
}

// excerpt keeps the first n bytes of s, cut on a rune boundary.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// FinishAttempt implements planning.DeliveryQueue: the attempt goes into
// the log, and the delivery is delivered, rescheduled or failed as the
// policy says, in one transaction; a 410 disables the endpoint with it.
func (q *DeliveryQueue) FinishAttempt(ctx context.Context, o *planning.Outgoing, res planning.AttemptOutcome, p planning.RetryPolicy) error {
	db := q.db
	now := db.Now()
	d := &o.Delivery
	att := res.Attempt
	result, next := planning.AttemptFailed, now
	if o.Event != nil {
		result, next = p.Next(att.Status, res.RetryAfter, d.Attempts+1, o.FirstAt, now)
	} else if att.Error == "" {
		att.Error = "the endpoint's owner may not see this event"
	}
	return db.inTx(ctx, func(tx bun.Tx) error {
		row := &attemptRow{DeliveryID: d.ID, At: att.At, Status: att.Status, LatencyMS: att.Latency.Milliseconds(),
			Error: excerpt(att.Error, 1000), Response: excerpt(att.Response, 1000)}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return db.mapError(err)
		}
		upd := tx.NewUpdate().TableExpr("webhook_deliveries").Set("attempts = attempts + 1").Set("lease_until = NULL").
			Where("id = ?", d.ID).Where("state = ?", planning.DeliveryPending)
		if att.Status != 0 {
			upd.Set("last_status = ?", att.Status)
		}
		switch result {
		case planning.AttemptDelivered:
			upd.Set("state = ?", planning.DeliveryDelivered).Set("finished_at = ?", now)
		case planning.AttemptRetry:
			upd.Set("next_at = ?", next)
		default:
			upd.Set("state = ?", planning.DeliveryFailed).Set("finished_at = ?", now)
		}
		if _, err := upd.Exec(ctx); err != nil {
			return db.mapError(err)
		}
		if result != planning.AttemptGone {
			return nil
		}
		_, err := tx.NewUpdate().TableExpr("webhook_endpoints").Set("status = ?", planning.EndpointDisabled).
			Set("disabled_reason = ?", "the receiver answered 410 Gone").Set("revision = revision + 1").Set("updated_at = ?", now).
			Where("id = ?", o.Endpoint.ID).Exec(ctx)
		return db.mapError(err)
	})
}
