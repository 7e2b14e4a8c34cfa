package planning

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// EventType names a domain event of the outbox.
type EventType string

// The domain events. Each is written in the transaction of the change it
// reports, so it exists if and only if that change committed.
const (
	EventRoundCreated            EventType = "round.created"
	EventRoundOpened             EventType = "round.opened"
	EventRoundPhaseChanged       EventType = "round.phase_changed"
	EventRoundUpdated            EventType = "round.updated"
	EventVersionCreated          EventType = "version.created"
	EventVersionFrozen           EventType = "version.frozen"
	EventAllocationSaved         EventType = "allocation.saved"
	EventTargetsEdited           EventType = "targets.edited"
	EventCounterproposalSubmit   EventType = "counterproposal.submitted"
	EventCounterproposalDecided  EventType = "counterproposal.decided"
	EventCounterproposalWithdraw EventType = "counterproposal.withdrawn"
	EventCounterproposalComment  EventType = "counterproposal.commented"
	EventApprovalActed           EventType = "approval.acted"
	EventApprovalRejected        EventType = "approval.rejected"
	EventActualsImported         EventType = "actuals.imported"
	EventDeadlineApproaching     EventType = "deadline.approaching"
	EventDeadlinePassed          EventType = "deadline.passed"
)

// EventTypes lists every event type, for filters and the documentation.
var EventTypes = []EventType{
	EventRoundCreated, EventRoundOpened, EventRoundPhaseChanged, EventRoundUpdated,
	EventVersionCreated, EventVersionFrozen, EventAllocationSaved, EventTargetsEdited,
	EventCounterproposalSubmit, EventCounterproposalDecided, EventCounterproposalWithdraw, EventCounterproposalComment,
	EventApprovalActed, EventApprovalRejected, EventActualsImported,
	EventDeadlineApproaching, EventDeadlinePassed,
}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// EventTypeOfAudit is the event an audited action reports, or "" when it
// reports none (master data, users, tokens, refusals). phase is the round's
// status after a round transition. The audit trail is the single place
// every effect is recorded, so the outbox row is written right beside it.
func EventTypeOfAudit(action string, phase RoundStatus) EventType {
	switch action {
	case "round.create":
		return EventRoundCreated
	case "round.update":
		return EventRoundUpdated
	case "round.transition":
		if phase == RoundOpen {
			return EventRoundOpened
		}
		return EventRoundPhaseChanged
	case "version.create":
		return EventVersionCreated
	case "version.freeze":
		return EventVersionFrozen
	case "targets.allocate":
		return EventAllocationSaved
	case "targets.edit":
		return EventTargetsEdited
	case "counterproposal.submit":
		return EventCounterproposalSubmit
	case "counterproposal.decide":
		return EventCounterproposalDecided
	case "counterproposal.withdraw":
		return EventCounterproposalWithdraw
	case "counterproposal.comment":
		return EventCounterproposalComment
	case "approval.submit", "approval.approve", "approval.reopen":
		return EventApprovalActed
	case "approval.reject":
		return EventApprovalRejected
	case "actuals.import":
		return EventActualsImported
	case "deadline.approaching":
		return EventDeadlineApproaching
	case "deadline.passed":
		return EventDeadlinePassed
	}
	return ""
}

// Event is one outbox row as a reader sees it: what happened, to which
// entity, where in the cycle and the org tree, and by whom. Data holds the
// event's own small details (a round's phase, a counterproposal's status,
// a deadline); the full before and after stay in the audit trail.
type Event struct {
	ID        int64
	Type      EventType
	At        time.Time
	AuditID   int64
	ActorID   *int64
	Entity    string
	EntityID  int64
	RoundID   *int64
	VersionID *int64
	// OrgPath is the materialized path of the org unit the event is
	// about, "" for round- and version-wide events.
	OrgPath string
	Data    json.RawMessage
}

// VisibleEvent reports whether the scope may see the event: round- and
// version-wide events are seen by every reader of the plan (rounds and
// versions are not read-scoped), the events of one org unit by the readers
// of that unit.
func (s *Scope) VisibleEvent(e *Event) bool {
	return e.OrgPath == "" || s.VisibleOrgPath(e.OrgPath)
}

// RedactEvent shows the event's path from the scope's root, as every other
// payload shows paths, and passes its data through the same redaction as
// the audit trail's.
func (s *Scope) RedactEvent(e *Event) {
	if s.all || e == nil {
		return
	}
	e.OrgPath = s.ScopedPath(e.OrgPath)
	e.Data = s.redactJSON(e.Data)
}

// EventFilter selects events after a position of the stream.
type EventFilter struct {
	// AfterID is the last event the reader has (Last-Event-ID).
	AfterID int64
	// FromNewest starts after the newest event there is now, whatever
	// AfterID says: where a stream that asks for no history starts.
	FromNewest bool
	Limit      int
}

// EventService reads the outbox as a stream, scoped to the caller.
type EventService interface {
	// FindEvents returns the events after f.AfterID that the actor of ctx
	// may see, oldest first, redacted to their scope, and the id of the
	// last event it read (f.AfterID when it read none): the AfterID of
	// the next call, which so skips the events the actor may not see
	// rather than reading them again.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, int64, error)
}

// MayManageWebhooks: administrators and the strategy office manage the
// webhook endpoints.
func (a *Actor) MayManageWebhooks() error {
	if !a.HasRole(RoleAdmin, RoleStrategyOffice) {
		return Errorf(EFORBIDDEN, "only administrators and the strategy office manage webhooks")
	}
	return nil
}

// EventCursors keeps where a reader of the whole outbox (the e-mail
// sender) has got to, shared by every server.
type EventCursors interface {
	// ClaimCursor leases the named cursor for lease and returns its
	// position; ok is false while another server holds it. A new cursor
	// starts at the newest event.
	ClaimCursor(ctx context.Context, name string, lease time.Duration) (last int64, ok bool, err error)
	// ReleaseCursor moves the cursor to last and ends the lease.
	ReleaseCursor(ctx context.Context, name string, last int64) error
}
