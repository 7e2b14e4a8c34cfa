package planning

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
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
	// RoundID and VersionID place the event in the planning cycle, when it
	// belongs to a round or a version.
	RoundID   *int64
	VersionID *int64
	// ActorName is the actor's display name, when the actor is a user.
	ActorName string
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Entity    string
	EntityID  *int64
	ActorID   *int64
	From      *time.Time
	To        *time.Time
	RoundID   *int64
	VersionID *int64
	Page      PageRequest
}

// CellHistoryEntry is one change of a target cell: who set it to what, when,
// and through which action (an edit, a counterproposal decision, or an
// allocation run).
type CellHistoryEntry struct {
	At              time.Time
	ActorID         *int64
	Action          string
	Before          *decimal.Decimal
	After           decimal.Decimal
	AuditEventID    int64
	AllocationRunID *int64
}

// AuditService reads the audit trail. There is no method to change it.
type AuditService interface {
	// FindAuditEvents returns events, newest first. Administrators and
	// auditors read everything; the other global readers everything but
	// users and tokens; branch managers and team leads the events of the
	// org units in their scope.
	FindAuditEvents(ctx context.Context, filter AuditFilter) ([]*AuditEvent, string, error)
	// FindCellHistory returns every change of one target cell of a
	// version, oldest first, including the allocation runs that wrote it.
	// Readers of the cell's org unit may read it.
	FindCellHistory(ctx context.Context, versionID int64, key CellKey) ([]CellHistoryEntry, error)
}
