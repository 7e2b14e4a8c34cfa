package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// AuditEvent records one write: who did what to which entity, with the
// entity before and after.
type AuditEvent struct {
	ID int64     `json:"id" example:"101"`
	At time.Time `json:"at"`
	// ActorID is the user who wrote; null for the command line's system actor.
	ActorID  *int64 `json:"actor_id" example:"1"`
	Action   string `json:"action" example:"org_unit.update"`
	Entity   string `json:"entity" example:"org_unit"`
	EntityID int64  `json:"entity_id" example:"4"`
	// Before is the entity before the write; null for a creation.
	Before json.RawMessage `json:"before" swaggertype:"object"`
	// After is the entity after the write; null for a deletion.
	After json.RawMessage `json:"after" swaggertype:"object"`
}

// AuditEventPage is one page of audit events, newest first.
type AuditEventPage struct {
	Items      []AuditEvent `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func fromDomainAuditEvent(e *planning.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, At: e.At.UTC(), ActorID: e.ActorID, Action: e.Action, Entity: e.Entity,
		EntityID: e.EntityID, Before: rawOrNull(e.Before), After: rawOrNull(e.After)}
}

// rawOrNull passes stored JSON through, and null when there is none (or it
// is somehow not JSON, which must never break the response).
func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return json.RawMessage("null")
	}
	return b
}

// listAuditEvents godoc
//
//	@Summary		Read the audit trail
//	@Description	Needs the admin or auditor role. Newest first.
//	@Tags			audit
//	@Security		BearerAuth
//	@Produce		json
//	@Param			entity		query		string	false	"Only events about this kind of entity, e.g. org_unit"
//	@Param			entity_id	query		int		false	"Only events about this entity id"
//	@Param			actor		query		int		false	"Only events written by this user id"
//	@Param			from		query		string	false	"Only events at or after this RFC 3339 time"	Format(date-time)
//	@Param			to			query		string	false	"Only events before this RFC 3339 time"			Format(date-time)
//	@Param			limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Success		200			{object}	api.AuditEventPage
//	@Failure		400			{object}	api.Problem	"Bad query parameter"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Neither admin nor auditor"
//	@Failure		422			{object}	api.Problem	"Invalid filter"
//	@Router			/audit [get]
func (s *Server) listAuditEvents(c echo.Context) error {
	q := newQuery(c, "entity", "entity_id", "actor", "from", "to")
	f := planning.AuditFilter{Entity: q.str("entity"), EntityID: q.id("entity_id"), ActorID: q.id("actor"),
		From: q.time("from"), To: q.time("to"), Page: q.page()}
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		q.fail("to", "must not be before from")
	}
	if err := q.err(); err != nil {
		return err
	}
	events, next, err := s.svcs.Audit.FindAuditEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := AuditEventPage{Items: make([]AuditEvent, 0, len(events)), NextCursor: next}
	for _, e := range events {
		page.Items = append(page.Items, fromDomainAuditEvent(e))
	}
	return c.JSON(http.StatusOK, page)
}
