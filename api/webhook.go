package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// WebhookEndpoint is a receiver of signed event deliveries (Standard
// Webhooks 1.0). Its secret is shown only when it is created or rotated.
type WebhookEndpoint struct {
	ID          int64  `json:"id" example:"1"`
	URL         string `json:"url" example:"https://hooks.example.com/cascade"`
	Description string `json:"description" example:"planning office bot"`
	// EventTypes filters the events sent; empty means every type.
	EventTypes []string `json:"event_types" example:"counterproposal.submitted"`
	// Status is active, paused (deliveries wait) or disabled (the receiver
	// answered 410 Gone; resume with PATCH status=active).
	Status         string `json:"status" example:"active" enums:"active,paused,disabled"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// PreviousSecretUntil is when the secret before the last rotation
	// stops signing, if it still does.
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
	OwnerID             int64      `json:"owner_id" example:"2"`
	Revision            int64      `json:"revision" example:"1"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// WebhookEndpointList is every endpoint.
type WebhookEndpointList struct {
	Items []WebhookEndpoint `json:"items"`
}

// WebhookEndpointCreate is the body of POST /webhooks.
type WebhookEndpointCreate struct {
	URL         string   `json:"url" validate:"required" example:"https://hooks.example.com/cascade"`
	Description string   `json:"description" example:"planning office bot"`
	EventTypes  []string `json:"event_types" example:"counterproposal.submitted"`
}

// WebhookEndpointPatch changes an endpoint; absent fields stay.
type WebhookEndpointPatch struct {
	URL         *string   `json:"url" example:"https://hooks.example.com/cascade"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	// Status pauses (paused) or resumes (active) the endpoint.
	Status *string `json:"status" enums:"active,paused"`
}

// WebhookEndpointSecret is an endpoint with its signing secret, answered
// when it is created or its secret rotated.
type WebhookEndpointSecret struct {
	WebhookEndpoint
	// Secret is "whsec_" + base64 of the HMAC-SHA256 key.
	Secret string `json:"secret" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// WebhookSecretRotate is the body of POST /webhooks/{id}/secret.
type WebhookSecretRotate struct {
	// OverlapSeconds is how long the old secret still signs beside the
	// new one (default 86400, at most 604800).
	OverlapSeconds *int64 `json:"overlap_seconds" example:"86400"`
}

// WebhookAttempt is one try of a delivery.
type WebhookAttempt struct {
	At time.Time `json:"at"`
	// Status is the receiver's HTTP status, 0 when none came.
	Status    int    `json:"status" example:"500"`
	LatencyMS int64  `json:"latency_ms" example:"42"`
	Error     string `json:"error,omitempty"`
	// Response is the start of the receiver's answer.
	Response string `json:"response,omitempty"`
}

// WebhookDelivery is one event sent, or to be sent, to one endpoint.
type WebhookDelivery struct {
	ID int64 `json:"id" example:"17"`
	// WebhookID is the webhook-id header: the same on every attempt and
	// replay; receivers dedupe on it.
	WebhookID  string           `json:"webhook_id" example:"msg_17"`
	EventID    int64            `json:"event_id" example:"120"`
	EventType  string           `json:"event_type" example:"round.opened"`
	State      string           `json:"state" example:"pending" enums:"pending,delivered,failed"`
	Attempts   int              `json:"attempts" example:"2"`
	NextAt     time.Time        `json:"next_at"`
	LastStatus *int             `json:"last_status" example:"500"`
	CreatedAt  time.Time        `json:"created_at"`
	FinishedAt *time.Time       `json:"finished_at"`
	Log        []WebhookAttempt `json:"log,omitempty"`
}

// WebhookDeliveryPage is one page of an endpoint's deliveries, newest first.
type WebhookDeliveryPage struct {
	Items      []WebhookDelivery `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// WebhookReplay is the body of POST /webhooks/{id}/replay: the deliveries
// created in [from, to) are sent again.
type WebhookReplay struct {
	From time.Time `json:"from" validate:"required"`
	To   time.Time `json:"to" validate:"required"`
}

// WebhookReplayResult says how many deliveries were queued again.
type WebhookReplayResult struct {
	Queued int `json:"queued" example:"3"`
}

func fromDomainEndpoint(e *planning.WebhookEndpoint) WebhookEndpoint {
	out := WebhookEndpoint{ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: make([]string, len(e.EventTypes)),
		Status: string(e.Status), DisabledReason: e.DisabledReason, OwnerID: e.OwnerID, Revision: e.Revision,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	for i, t := range e.EventTypes {
		out.EventTypes[i] = string(t)
	}
	if e.PreviousUntil != nil && e.PreviousUntil.After(time.Now()) {
		out.PreviousSecretUntil = formatTime(e.PreviousUntil)
	}
	return out
}

func fromDomainDelivery(d *planning.WebhookDelivery) WebhookDelivery {
	out := WebhookDelivery{ID: d.ID, WebhookID: d.MessageID(), EventID: d.EventID, EventType: string(d.EventType), State: string(d.State),
		Attempts: d.Attempts, NextAt: d.NextAt.UTC(), LastStatus: d.LastStatus, CreatedAt: d.CreatedAt.UTC(), FinishedAt: formatTime(d.FinishedAt)}
	for _, a := range d.Log {
		out.Log = append(out.Log, WebhookAttempt{At: a.At.UTC(), Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Error: a.Error, Response: a.Response})
	}
	return out
}

func eventTypesOf(ts []string) []planning.EventType {
	out := make([]planning.EventType, len(ts))
	for i, t := range ts {
		out[i] = planning.EventType(t)
	}
	return out
}

// listWebhooks godoc
//
//	@Summary		List webhook endpoints
//	@ID				listWebhooks
//	@Description	Needs the admin or strategy_office role. Secrets are never listed.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Produce		json
//	@Success		200	{object}	api.WebhookEndpointList
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not an admin or the strategy office"
//	@Router			/webhooks [get]
func (s *Server) listWebhooks(c echo.Context) error {
	es, err := s.svcs.Webhooks.FindWebhookEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	out := WebhookEndpointList{Items: make([]WebhookEndpoint, 0, len(es))}
	for _, e := range es {
		out.Items = append(out.Items, fromDomainEndpoint(e))
	}
	return c.JSON(http.StatusOK, out)
}

// createWebhook godoc
//
//	@Summary		Add a webhook endpoint
//	@ID				createWebhook
//	@Description	Needs the admin or strategy_office role. Events are signed per Standard Webhooks 1.0 with the secret in the answer, shown this once. Payloads are scoped to the creator. The URL must not resolve to a private, loopback or link-local address unless the server's allow-list permits it (checked on every connection).
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.WebhookEndpointCreate	true	"URL, description and event filter"
//	@Success		201		{object}	api.WebhookEndpointSecret
//	@Header			201		{string}	ETag		"The revision, as a strong entity tag"
//	@Header			201		{string}	Location	"The URL of the new endpoint"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid URL or event type"
//	@Router			/webhooks [post]
func (s *Server) createWebhook(c echo.Context) error {
	var req WebhookEndpointCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e := &planning.WebhookEndpoint{URL: req.URL, Description: req.Description, EventTypes: eventTypesOf(req.EventTypes)}
	if err := s.svcs.Webhooks.CreateWebhookEndpoint(c.Request().Context(), e); err != nil {
		return err
	}
	return created(c, location("/webhooks/%d", e.ID), &e.Revision, WebhookEndpointSecret{WebhookEndpoint: fromDomainEndpoint(e), Secret: e.Secret})
}

// getWebhook godoc
//
//	@Summary		Get a webhook endpoint
//	@ID				getWebhook
//	@Description	Needs the admin or strategy_office role.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Endpoint id"
//	@Success		200	{object}	api.WebhookEndpoint
//	@Header			200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404	{object}	api.Problem	"Unknown endpoint"
//	@Router			/webhooks/{id} [get]
func (s *Server) getWebhook(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	e, err := s.svcs.Webhooks.FindWebhookEndpointByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, e.Revision, fromDomainEndpoint(e))
}

// updateWebhook godoc
//
//	@Summary		Change, pause or resume a webhook endpoint
//	@ID				updateWebhook
//	@Description	Needs the admin or strategy_office role. status=paused keeps new deliveries queued until status=active; active also resumes an endpoint disabled by a 410.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int							true	"Endpoint id"
//	@Param			If-Match	header		string						false	"ETag the change is based on"
//	@Param			body		body		api.WebhookEndpointPatch	true	"The fields to change"
//	@Success		200			{object}	api.WebhookEndpoint
//	@Header			200			{string}	ETag		"The new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body, id or If-Match"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404			{object}	api.Problem	"Unknown endpoint"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		413			{object}	api.Problem	"Body too large"
//	@Failure		422			{object}	api.Problem	"Invalid fields"
//	@Router			/webhooks/{id} [patch]
func (s *Server) updateWebhook(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req WebhookEndpointPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	upd := planning.WebhookEndpointUpdate{URL: req.URL, Description: req.Description, IfMatch: rev}
	if req.EventTypes != nil {
		ts := eventTypesOf(*req.EventTypes)
		upd.EventTypes = &ts
	}
	if req.Status != nil {
		st := planning.EndpointStatus(*req.Status)
		upd.Status = &st
	}
	e, err := s.svcs.Webhooks.UpdateWebhookEndpoint(c.Request().Context(), id, upd)
	if err != nil {
		return err
	}
	return ok(c, e.Revision, fromDomainEndpoint(e))
}

// deleteWebhook godoc
//
//	@Summary		Delete a webhook endpoint
//	@ID				deleteWebhook
//	@Description	Needs the admin or strategy_office role. Its deliveries and their log go with it.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Param			id	path	int	true	"Endpoint id"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404	{object}	api.Problem	"Unknown endpoint"
//	@Router			/webhooks/{id} [delete]
func (s *Server) deleteWebhook(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.svcs.Webhooks.DeleteWebhookEndpoint(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// rotateWebhookSecret godoc
//
//	@Summary		Rotate a webhook endpoint's secret
//	@ID				rotateWebhookSecret
//	@Description	Needs the admin or strategy_office role. The answer carries the new secret, shown this once. During the overlap every delivery carries two signatures, one per secret, so the receiver switches without missing one.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int						true	"Endpoint id"
//	@Param			body	body		api.WebhookSecretRotate	false	"How long the old secret still signs"
//	@Success		200		{object}	api.WebhookEndpointSecret
//	@Header			200		{string}	ETag		"The new revision"
//	@Failure		400		{object}	api.Problem	"Malformed body or id"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404		{object}	api.Problem	"Unknown endpoint"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid overlap"
//	@Router			/webhooks/{id}/secret [post]
func (s *Server) rotateWebhookSecret(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req WebhookSecretRotate
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	overlap := 24 * time.Hour
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || *req.OverlapSeconds > 7*86400 {
			return invalid("overlap_seconds", "must be between 0 and 604800")
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	e, err := s.svcs.Webhooks.RotateWebhookSecret(c.Request().Context(), id, overlap)
	if err != nil {
		return err
	}
	return ok(c, e.Revision, WebhookEndpointSecret{WebhookEndpoint: fromDomainEndpoint(e), Secret: e.Secret})
}

// listWebhookDeliveries godoc
//
//	@Summary		An endpoint's delivery log
//	@ID				listWebhookDeliveries
//	@Description	Needs the admin or strategy_office role. Newest first; GET one delivery for its attempts.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id		path		int		true	"Endpoint id"
//	@Param			state	query		string	false	"pending, delivered or failed"
//	@Param			from	query		string	false	"Created at or after (RFC 3339)"
//	@Param			to		query		string	false	"Created before (RFC 3339)"
//	@Param			limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	api.WebhookDeliveryPage
//	@Failure		400		{object}	api.Problem	"Bad id or query parameter"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404		{object}	api.Problem	"Unknown endpoint"
//	@Failure		422		{object}	api.Problem	"Invalid filter"
//	@Router			/webhooks/{id}/deliveries [get]
func (s *Server) listWebhookDeliveries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "state", "from", "to")
	f := planning.DeliveryFilter{From: q.time("from"), To: q.time("to"), Page: q.page()}
	if st := q.str("state"); st != "" {
		switch d := planning.DeliveryState(st); d {
		case planning.DeliveryPending, planning.DeliveryDelivered, planning.DeliveryFailed:
			f.State = &d
		default:
			q.fail("state", "must be pending, delivered or failed")
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	ds, next, err := s.svcs.Webhooks.FindWebhookDeliveries(c.Request().Context(), id, f)
	if err != nil {
		return err
	}
	page := WebhookDeliveryPage{Items: make([]WebhookDelivery, 0, len(ds)), NextCursor: next}
	for _, d := range ds {
		page.Items = append(page.Items, fromDomainDelivery(d))
	}
	return c.JSON(http.StatusOK, page)
}

// getWebhookDelivery godoc
//
//	@Summary		One delivery with its attempts
//	@ID				getWebhookDelivery
//	@Description	Needs the admin or strategy_office role. Each attempt's status, latency, and the start of the answer or the error.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id			path		int	true	"Endpoint id"
//	@Param			delivery_id	path		int	true	"Delivery id"
//	@Success		200			{object}	api.WebhookDelivery
//	@Failure		400			{object}	api.Problem	"Bad id"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404			{object}	api.Problem	"Unknown endpoint or delivery"
//	@Router			/webhooks/{id}/deliveries/{delivery_id} [get]
func (s *Server) getWebhookDelivery(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	did, err := pathID(c, "delivery_id")
	if err != nil {
		return err
	}
	d, err := s.svcs.Webhooks.FindWebhookDelivery(c.Request().Context(), id, did)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fromDomainDelivery(d))
}

// replayWebhookDelivery godoc
//
//	@Summary		Send one delivery again
//	@ID				replayWebhookDelivery
//	@Description	Needs the admin or strategy_office role. The delivery is queued now with its webhook-id unchanged, so a receiver that has it already dedupes it.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id			path		int	true	"Endpoint id"
//	@Param			delivery_id	path		int	true	"Delivery id"
//	@Success		202			{object}	api.WebhookReplayResult
//	@Failure		400			{object}	api.Problem	"Bad id"
//	@Failure		401			{object}	api.Problem	"Not authenticated"
//	@Failure		403			{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404			{object}	api.Problem	"Unknown endpoint or delivery"
//	@Router			/webhooks/{id}/deliveries/{delivery_id}/replay [post]
func (s *Server) replayWebhookDelivery(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	did, err := pathID(c, "delivery_id")
	if err != nil {
		return err
	}
	n, err := s.svcs.Webhooks.ReplayWebhookDeliveries(c.Request().Context(), id, did, nil, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, WebhookReplayResult{Queued: n})
}

// replayWebhookRange godoc
//
//	@Summary		Send a time range of deliveries again
//	@ID				replayWebhookRange
//	@Description	Needs the admin or strategy_office role. Every delivery to the endpoint created in [from, to) is queued now, each with its webhook-id unchanged.
//	@Tags			webhooks
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int					true	"Endpoint id"
//	@Param			body	body		api.WebhookReplay	true	"The range"
//	@Success		202		{object}	api.WebhookReplayResult
//	@Failure		400		{object}	api.Problem	"Malformed body or id"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin or the strategy office"
//	@Failure		404		{object}	api.Problem	"Unknown endpoint"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid range"
//	@Router			/webhooks/{id}/replay [post]
func (s *Server) replayWebhookRange(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req WebhookReplay
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v := &planning.Validation{}
	if req.From.IsZero() {
		v.Add("from", "is required")
	}
	switch {
	case req.To.IsZero():
		v.Add("to", "is required")
	case !req.To.After(req.From):
		v.Add("to", "must be after from")
	}
	if err := v.Err(); err != nil {
		return err
	}
	n, err := s.svcs.Webhooks.ReplayWebhookDeliveries(c.Request().Context(), id, 0, &req.From, &req.To)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, WebhookReplayResult{Queued: n})
}
