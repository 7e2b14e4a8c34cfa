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
	ActorID *int64 `json:"actor_id" example:"1"`
	// ActorName is the display name of who wrote; null with actor_id.
	ActorName *string `json:"actor_name" example:"Business planning office (业务计划)"`
	Action    string  `json:"action" example:"org_unit.update"`
	Entity    string  `json:"entity" example:"org_unit"`
	EntityID  int64   `json:"entity_id" example:"4"`
	// Before is the entity before the write; null for a creation.
	Before json.RawMessage `json:"before" swaggertype:"object"`
	// After is the entity after the write; null for a deletion.
	After json.RawMessage `json:"after" swaggertype:"object"`
	// RoundID and VersionID place the event in a planning round.
	RoundID   *int64 `json:"round_id,omitempty"`
	VersionID *int64 `json:"version_id,omitempty"`
}

// AuditEventPage is one page of audit events, newest first.
type AuditEventPage struct {
	Items      []AuditEvent `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func fromDomainAuditEvent(e *planning.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, At: e.At.UTC(), ActorID: e.ActorID, Action: e.Action, Entity: e.Entity,
		EntityID: e.EntityID, Before: rawOrNull(e.Before), After: rawOrNull(e.After), RoundID: e.RoundID, VersionID: e.VersionID}
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
//	@ID				listAuditEvents
//	@Description	Newest first. Admins and auditors read everything; the strategy office, product managers, directors and the president everything but users and tokens; branch managers and team leads the events of their own units, with what the events name outside their subtree left out (cells of other units dropped, ids of units outside it null, paths from their scope root). No endpoint changes or deletes an event.
//	@Tags			audit
//	@Security		BearerAuth
//	@Produce		json
//	@Param			entity		query		string	false	"Only events about this kind of entity, e.g. org_unit"
//	@Param			entity_id	query		int		false	"Only events about this entity id"
//	@Param			actor		query		int		false	"Only events written by this user id"
//	@Param			from		query		string	false	"Only events at or after this RFC 3339 time"	Format(date-time)
//	@Param			to			query		string	false	"Only events before this RFC 3339 time"			Format(date-time)
//	@Param			round		query		int		false	"Only events of this round"
//	@Param			version		query		int		false	"Only events of this version"
//	@Param			limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor		query		string	false	"next_cursor of the previous page"
//	@Success		200			{object}	api.AuditEventPage
//	@Failure		400			{object}	api.Problem	"Bad query parameter"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"No scope to read"
//	@Failure		422			{object}	api.Problem	"Invalid filter"
//	@Router			/audit [get]
func (s *Server) listAuditEvents(c echo.Context) error {
	q := newQuery(c, "entity", "entity_id", "actor", "from", "to", "round", "version")
	f := planning.AuditFilter{Entity: q.str("entity"), EntityID: q.id("entity_id"), ActorID: q.id("actor"),
		From: q.time("from"), To: q.time("to"), RoundID: q.id("round"), VersionID: q.id("version"), Page: q.page()}
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
		item := fromDomainAuditEvent(e)
		if e.ActorID != nil && e.ActorName != "" {
			n := e.ActorName
			item.ActorName = &n
		}
		page.Items = append(page.Items, item)
	}
	return c.JSON(http.StatusOK, page)
}

// CellHistoryEntry is one change of a target cell.
type CellHistoryEntry struct {
	At      time.Time `json:"at"`
	ActorID *int64    `json:"actor_id"`
	// Action is targets.edit, targets.allocate or counterproposal.decide.
	Action string `json:"action" example:"counterproposal.decide"`
	// Before is null where the action does not record it (an allocation
	// run), or the cell did not exist.
	Before          *string `json:"before" example:"1000.00"`
	After           string  `json:"after" example:"1200.00"`
	AuditEventID    int64   `json:"audit_event_id"`
	AllocationRunID *int64  `json:"allocation_run_id,omitempty"`
}

// CellHistory is the history of one cell, oldest first.
type CellHistory struct {
	VersionID   int64              `json:"version_id"`
	OrgUnit     string             `json:"org_unit"`
	ProductLine string             `json:"product_line"`
	Measure     string             `json:"measure"`
	Period      string             `json:"period"`
	Items       []CellHistoryEntry `json:"items"`
}

// getCellHistory godoc
//
//	@Summary		The history of one target cell
//	@ID				getCellHistory
//	@Description	Who set the cell to what, when, and through which action: batch edits, counterproposal decisions, and the allocation runs that wrote it (their amount recomputed from the recorded run), across the version's lineage. Scoped like the grid.
//	@Tags			audit
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id				path		int		true	"Version id"
//	@Param			org_unit		query		string	true	"Org unit code"
//	@Param			product_line	query		string	true	"Product line code"
//	@Param			measure			query		string	true	"Measure code"
//	@Param			period			query		string	true	"Month, e.g. 2027-04"
//	@Success		200				{object}	api.CellHistory
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such version, or unit outside your scope"
//	@Router			/versions/{id}/cell-history [get]
func (s *Server) getCellHistory(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "org_unit", "product_line", "measure", "period")
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	unit, line, measure, period := q.str("org_unit"), q.str("product_line"), q.str("measure"), q.str("period")
	// The version, its round and the cell's codes are looked up in one
	// call; an unknown version answers before the query is checked.
	if _, err := res.load(planning.Refs{UnitCodes: []string{unit}, LineCodes: []string{line}, MeasureCodes: []string{measure}}); err != nil {
		return err
	}
	r := res.round
	for name, v := range map[string]string{"org_unit": unit, "product_line": line, "measure": measure, "period": period} {
		if v == "" {
			q.fail(name, "is required")
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	if _, found := res.units[unit]; !found {
		// Unknown, or outside the caller's scope: 404, as the grid says.
		return planning.Errorf(planning.ENOTFOUND, "org unit %s not found", unit)
	}
	k := planning.CellKey{OrgUnitID: res.unit("org_unit", unit), ProductLineID: res.line("product_line", line)}
	m := res.measure("measure", measure)
	if p, perr := r.PeriodOf(period); perr != nil {
		res.val.Add("period", "%s", perr)
	} else {
		k.Period = p
	}
	if err := res.err(); err != nil {
		return err
	}
	k.MeasureID = m.ID
	hist, err := s.svcs.Audit.FindCellHistory(ctx, id, k)
	if err != nil {
		return err
	}
	out := CellHistory{VersionID: id, OrgUnit: unit, ProductLine: line, Measure: measure, Period: period, Items: make([]CellHistoryEntry, 0, len(hist))}
	for _, h := range hist {
		e := CellHistoryEntry{At: h.At, ActorID: h.ActorID, Action: h.Action, After: planning.FormatAmount(h.After, m.Scale),
			AuditEventID: h.AuditEventID, AllocationRunID: h.AllocationRunID}
		if h.Before != nil {
			b := planning.FormatAmount(*h.Before, m.Scale)
			e.Before = &b
		}
		out.Items = append(out.Items, e)
	}
	return c.JSON(http.StatusOK, out)
}
