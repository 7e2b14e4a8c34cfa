package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// DefaultEventPoll is how often a live stream looks for new events.
const DefaultEventPoll = 500 * time.Millisecond

// eventKeepAlive is how often an idle stream sends a comment, so proxies
// and browsers keep the connection open.
const eventKeepAlive = 15 * time.Second

// Event is one domain event as the caller may see it: the same body a
// webhook delivery carries (type, timestamp, data).
type Event struct {
	ID        int64     `json:"id" example:"120"`
	Type      string    `json:"type" example:"counterproposal.submitted"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is what the event is about. The full before and after are in
// the audit trail under audit_id.
type EventData struct {
	Entity    string `json:"entity" example:"counterproposal"`
	EntityID  int64  `json:"entity_id" example:"4"`
	RoundID   *int64 `json:"round_id,omitempty" example:"1"`
	VersionID *int64 `json:"version_id,omitempty" example:"3"`
	// OrgPath is the org unit's path as the caller's scope shows it.
	OrgPath string `json:"org_path,omitempty" example:"/9/"`
	ActorID *int64 `json:"actor_id,omitempty" example:"7"`
	AuditID int64  `json:"audit_id" example:"311"`
	// Details are the event's own small facts: a round's phase, a
	// counterproposal's status, a deadline and who has not answered.
	Details json.RawMessage `json:"details,omitempty" swaggertype:"object"`
}

// EventPage is the events after a position, oldest first.
type EventPage struct {
	Items []Event `json:"items"`
	// LastEventID is where the next read starts (after=…): the last event
	// read, those the caller may not see included (so they are not read
	// again), or the position given when there was none.
	LastEventID int64 `json:"last_event_id" example:"120"`
}

func fromDomainEvent(e *planning.Event) Event {
	return Event{ID: e.ID, Type: string(e.Type), Timestamp: e.At.UTC(), Data: EventData{Entity: e.Entity, EntityID: e.EntityID,
		RoundID: e.RoundID, VersionID: e.VersionID, OrgPath: e.OrgPath, ActorID: e.ActorID, AuditID: e.AuditID, Details: e.Data}}
}

// wantsEventStream reports whether the request asks for Server-Sent Events.
func wantsEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get(echo.HeaderAccept), "text/event-stream")
}

// listEvents godoc
//
//	@Summary		The caller's events, live
//	@ID				listEvents
//	@Description	With Accept: text/event-stream, a Server-Sent Events stream of the domain events the caller's scope allows, as they commit: each with id (resume with Last-Event-ID), event (the type) and data (the JSON below). Without, one page of them after `after`, as JSON. A new stream without Last-Event-ID or after starts at the newest event.
//	@Tags			events
//	@Security		BearerAuth
//	@Produce		json
//	@Produce		text/event-stream
//	@Param			after			query		int		false	"Events after this id (default: the stream starts now; the page from the beginning)"
//	@Param			limit			query		int		false	"Page size for JSON (1-500, default 100)"
//	@Param			Last-Event-ID	header		string	false	"The last event id the client has, to resume a stream"
//	@Success		200				{object}	api.EventPage
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		401				{object}	api.Problem	"Not authenticated"
//	@Router			/events [get]
func (s *Server) listEvents(c echo.Context) error {
	ctx := c.Request().Context()
	q := newQuery(c, "after", "limit")
	var after *int64
	if v, ok := q.get("after"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			q.fail("after", "must be an event id")
		}
		after = &n
	}
	limit := 100
	if v, ok := q.get("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			q.fail("limit", "must be between 1 and 500")
		}
		limit = n
	}
	if h := c.Request().Header.Get("Last-Event-ID"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			q.fail("Last-Event-ID", "must be an event id")
		}
		after = &n
	}
	if err := q.err(); err != nil {
		return err
	}
	if !wantsEventStream(c.Request()) {
		f := planning.EventFilter{Limit: limit}
		if after != nil {
			f.AfterID = *after
		}
		evs, last, err := s.svcs.Events.FindEvents(ctx, f)
		if err != nil {
			return err
		}
		page := EventPage{Items: make([]Event, 0, len(evs)), LastEventID: last}
		for _, e := range evs {
			page.Items = append(page.Items, fromDomainEvent(e))
		}
		return c.JSON(http.StatusOK, page)
	}
	// A stream without a position starts after the newest event now: its
	// first read finds that position and no events.
	f := planning.EventFilter{Limit: 500, FromNewest: after == nil}
	if after != nil {
		f.AfterID = *after
	}
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no")
	res.WriteHeader(http.StatusOK)
	if !f.FromNewest {
		fmt.Fprintf(res, "retry: 2000\n: stream from %d\n\n", f.AfterID)
		res.Flush()
	}
	poll, keep := time.NewTicker(s.cfg.EventPoll), time.NewTicker(eventKeepAlive)
	defer poll.Stop()
	defer keep.Stop()
	for {
		evs, last, err := s.svcs.Events.FindEvents(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logger.Warn("event stream", "error", err)
			return nil // the client reconnects with Last-Event-ID
		}
		if f.FromNewest {
			fmt.Fprintf(res, "retry: 2000\n: stream from %d\n\n", last)
			res.Flush()
		}
		for _, e := range evs {
			b, err := json.Marshal(fromDomainEvent(e))
			if err != nil {
				return err
			}
			fmt.Fprintf(res, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b)
		}
		if len(evs) > 0 {
			res.Flush()
		}
		more := f.FromNewest || len(evs) == f.Limit
		f = planning.EventFilter{AfterID: last, Limit: f.Limit}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.streams.Done():
			return nil
		case <-keep.C:
			fmt.Fprint(res, ": keep-alive\n\n")
			res.Flush()
		case <-poll.C:
		}
	}
}
