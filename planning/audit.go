package planning

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent records one write: who did what to which entity, and the entity
// before and after as JSON. Events are appended in the same transaction as
// the write and are never changed or deleted.
type AuditEvent struct {
	ID       int64
	At       time.Time
	ActorID  *int64
	Action   string // e.g. "org_unit.create"
	Entity   string // e.g. "org_unit"
	EntityID int64
	Before   json.RawMessage
	After    json.RawMessage
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Entity   string
	EntityID *int64
	ActorID  *int64
	From     *time.Time
	To       *time.Time
	Page     PageRequest
}

// AuditService reads the audit trail. There is no method to change it.
type AuditService interface {
	// FindAuditEvents returns events, newest first. Administrators and
	// auditors read everything (EFORBIDDEN for others).
	FindAuditEvents(ctx context.Context, filter AuditFilter) ([]*AuditEvent, string, error)
}
