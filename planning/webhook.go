package planning

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EndpointStatus is whether a webhook endpoint receives deliveries.
type EndpointStatus string

// The states of an endpoint. A paused endpoint keeps its deliveries queued
// until it is resumed; a disabled one (its receiver answered 410 Gone)
// gets no new ones until it is resumed.
const (
	EndpointActive   EndpointStatus = "active"
	EndpointPaused   EndpointStatus = "paused"
	EndpointDisabled EndpointStatus = "disabled"
)

// WebhookEndpoint is a receiver of signed event deliveries (Standard
// Webhooks 1.0). Its payloads are scoped to its owner, the user who
// created it.
type WebhookEndpoint struct {
	ID          int64
	URL         string
	Description string
	// EventTypes filters the events sent; empty means every type.
	EventTypes []EventType
	// Secret is "whsec_" + base64 of the signing key; it is shown when
	// the endpoint is created or its secret rotated.
	Secret string
	// PreviousSecret still signs, beside Secret, until PreviousUntil.
	PreviousSecret *string
	PreviousUntil  *time.Time
	Status         EndpointStatus
	DisabledReason string
	OwnerID        int64
	Revision       int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Wants reports whether the endpoint subscribes to events of type t.
func (e *WebhookEndpoint) Wants(t EventType) bool {
	return len(e.EventTypes) == 0 || slices.Contains(e.EventTypes, t)
}

// Validate checks the endpoint's URL and filters.
func (e *WebhookEndpoint) Validate() error {
	v := &Validation{}
	u, err := url.Parse(e.URL)
	switch {
	case e.URL == "":
		v.Add("url", "is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.Add("url", "must be an absolute http or https URL")
	case u.User != nil:
		v.Add("url", "must not carry credentials")
	case len(e.URL) > 2048:
		v.Add("url", "must be at most 2048 characters")
	}
	if len(e.Description) > 500 {
		v.Add("description", "must be at most 500 characters")
	}
	for i, t := range e.EventTypes {
		if !t.Valid() {
			v.Add(fieldIndex("event_types", i), "must be one of %v", EventTypes)
		}
	}
	return v.Err()
}

// NewWebhookSecret returns a fresh "whsec_" secret of 32 random bytes.
func NewWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// WebhookEndpointUpdate changes an endpoint; nil fields stay.
type WebhookEndpointUpdate struct {
	URL         *string
	Description *string
	EventTypes  *[]EventType
	// Status moves the endpoint to active (resume) or paused.
	Status  *EndpointStatus
	IfMatch *int64
}

// DeliveryState is where one delivery stands.
type DeliveryState string

// The states of a delivery.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
)

// WebhookDelivery is one event sent (or to be sent) to one endpoint. Its
// MessageID is the webhook-id header, the same on every attempt and replay,
// so a receiver dedupes on it.
type WebhookDelivery struct {
	ID         int64
	EndpointID int64
	EventID    int64
	EventType  EventType
	State      DeliveryState
	Attempts   int
	NextAt     time.Time
	LastStatus *int
	CreatedAt  time.Time
	FinishedAt *time.Time
	// Log is the attempts, oldest first, when asked for.
	Log []WebhookAttempt
}

// MessageID is the delivery's webhook-id.
func (d *WebhookDelivery) MessageID() string { return MessageID(d.ID) }

// MessageID is the webhook-id of the delivery with this id.
func MessageID(deliveryID int64) string { return "msg_" + strconv.FormatInt(deliveryID, 10) }

// WebhookAttempt is one try of a delivery: the receiver's status (0 when
// none came), how long it took, and the start of its answer or the error.
type WebhookAttempt struct {
	At       time.Time
	Status   int
	Latency  time.Duration
	Error    string
	Response string
}

// DeliveryFilter selects an endpoint's deliveries, newest first.
type DeliveryFilter struct {
	State *DeliveryState
	From  *time.Time
	To    *time.Time
	Page  PageRequest
}

// WebhookService manages endpoints and their delivery logs. Every method
// returns EFORBIDDEN unless the caller MayManageWebhooks, ENOTFOUND for an
// unknown endpoint or delivery.
type WebhookService interface {
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	FindWebhookEndpoints(ctx context.Context) ([]*WebhookEndpoint, error)
	FindWebhookEndpointByID(ctx context.Context, id int64) (*WebhookEndpoint, error)
	// UpdateWebhookEndpoint changes the URL, filters or status; EPRECONDITION
	// on a stale IfMatch, EINVALID on a bad URL or filter.
	UpdateWebhookEndpoint(ctx context.Context, id int64, upd WebhookEndpointUpdate) (*WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id int64) error
	// RotateWebhookSecret gives the endpoint a new secret; the old one
	// signs too for the overlap, so receivers switch without a gap.
	RotateWebhookSecret(ctx context.Context, id int64, overlap time.Duration) (*WebhookEndpoint, error)
	FindWebhookDeliveries(ctx context.Context, endpointID int64, f DeliveryFilter) ([]*WebhookDelivery, string, error)
	FindWebhookDelivery(ctx context.Context, endpointID, deliveryID int64) (*WebhookDelivery, error)
	// ReplayWebhookDeliveries queues the deliveries again, due now: one
	// (deliveryID != 0) or those created in [from, to). It returns how
	// many were queued.
	ReplayWebhookDeliveries(ctx context.Context, endpointID, deliveryID int64, from, to *time.Time) (int, error)
}

// Outgoing is a claimed delivery with everything needed to send it: the
// endpoint with its signing secrets, and the event, already scoped to the
// endpoint's owner (nil when the owner may no longer see it, or is gone:
// the delivery is then dropped as failed).
type Outgoing struct {
	Delivery WebhookDelivery
	Endpoint WebhookEndpoint
	Event    *Event
	// FirstAt is when the delivery was created, for the retry horizon.
	FirstAt time.Time
}

// AttemptOutcome is what the worker reports of one attempt.
type AttemptOutcome struct {
	Attempt WebhookAttempt
	// RetryAfter is the receiver's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
}

// DeliveryQueue is the delivery worker's side of the outbox: no actor, no
// permissions; each call is one short transaction.
type DeliveryQueue interface {
	// ClaimDeliveries leases up to n due deliveries of active endpoints
	// for lease, so no other worker sends them meanwhile.
	ClaimDeliveries(ctx context.Context, n int, lease time.Duration) ([]*Outgoing, error)
	// FinishAttempt records an attempt and what follows from it under the
	// policy: delivered, retried later, failed, or (410) the endpoint
	// disabled.
	FinishAttempt(ctx context.Context, out *Outgoing, res AttemptOutcome, p RetryPolicy) error
}

// RetryPolicy says when a failed delivery is tried again.
type RetryPolicy struct {
	// Base is the first wait; each further one doubles, up to Max.
	Base time.Duration
	Max  time.Duration
	// For is how long after its event a delivery is still tried; at least
	// 24 hours in production.
	For time.Duration
}

// DefaultRetryPolicy tries for 3 days, waiting 10 s, 20 s, 40 s … up to an
// hour between attempts.
var DefaultRetryPolicy = RetryPolicy{Base: 10 * time.Second, Max: time.Hour, For: 72 * time.Hour}

// AttemptResult is what an attempt leads to.
type AttemptResult int

// The results of an attempt.
const (
	AttemptDelivered AttemptResult = iota
	AttemptRetry
	AttemptFailed
	AttemptGone // 410: the endpoint is disabled
)

// Next decides what follows an attempt: the receiver's 2xx delivers; 410
// disables the endpoint; anything else is tried again after an exponential
// backoff (Base, 2·Base, 4·Base … up to Max) plus a random half of it, so
// servers retrying at once spread out while each wait still exceeds the
// one before,
// or after the receiver's Retry-After when that is longer, until the
// delivery is older than For. attempts counts this one.
func (p RetryPolicy) Next(status int, retryAfter time.Duration, attempts int, firstAt, now time.Time) (AttemptResult, time.Time) {
	switch {
	case status >= 200 && status < 300:
		return AttemptDelivered, now
	case status == 410:
		return AttemptGone, now
	}
	wait := p.Base
	for i := 1; i < attempts && wait < p.Max; i++ {
		wait *= 2
	}
	wait = min(wait, p.Max)
	wait += time.Duration(mrand.Int64N(int64(wait/2) + 1))
	if retryAfter > wait {
		wait = min(retryAfter, p.For)
	}
	next := now.Add(wait)
	if next.Sub(firstAt) > p.For {
		return AttemptFailed, now
	}
	return AttemptRetry, next
}

// EventTypesString is the filter as stored: ",a,b," or "" for every type.
func EventTypesString(ts []EventType) string {
	if len(ts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte(',')
	for _, t := range ts {
		b.WriteString(string(t))
		b.WriteByte(',')
	}
	return b.String()
}

// ParseEventTypes undoes EventTypesString.
func ParseEventTypes(s string) []EventType {
	var out []EventType
	for _, p := range strings.Split(strings.Trim(s, ","), ",") {
		if p != "" {
			out = append(out, EventType(p))
		}
	}
	return out
}
