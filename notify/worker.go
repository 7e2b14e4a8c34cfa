package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cascade-planning/cascade/planning"
)

// Message is the body of a webhook delivery and of a stream event: the
// Standard Webhooks envelope (type, timestamp, data) with the event's
// place in the plan in data.
type Message struct {
	ID        int64       `json:"id"`
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      MessageData `json:"data"`
}

// MessageData is what the event is about.
type MessageData struct {
	Entity    string          `json:"entity"`
	EntityID  int64           `json:"entity_id"`
	RoundID   *int64          `json:"round_id,omitempty"`
	VersionID *int64          `json:"version_id,omitempty"`
	OrgPath   string          `json:"org_path,omitempty"`
	ActorID   *int64          `json:"actor_id,omitempty"`
	AuditID   int64           `json:"audit_id"`
	Details   json.RawMessage `json:"details,omitempty"`
}

// MessageOf is the wire form of an event.
func MessageOf(e *planning.Event) Message {
	return Message{ID: e.ID, Type: string(e.Type), Timestamp: e.At, Data: MessageData{Entity: e.Entity, EntityID: e.EntityID,
		RoundID: e.RoundID, VersionID: e.VersionID, OrgPath: e.OrgPath, ActorID: e.ActorID, AuditID: e.AuditID, Details: e.Data}}
}

// WorkerConfig tunes the delivery worker.
type WorkerConfig struct {
	// Poll is how often the queue is looked at when idle (default 1 s).
	Poll time.Duration
	// Timeout bounds one attempt (default 15 s).
	Timeout time.Duration
	// Concurrency is how many deliveries are sent at once (default 8).
	Concurrency int
	Retry       planning.RetryPolicy
	Guard       *Guard
	Logger      *slog.Logger
	// Now returns the time signed into webhook-timestamp (default
	// time.Now).
	Now func() time.Time
}

// Worker sends due deliveries until its context ends. Any number of
// workers, in any number of servers, may share one queue.
type Worker struct {
	cfg    WorkerConfig
	queue  planning.DeliveryQueue
	client *http.Client
	wake   chan struct{}
}

// NewWorker returns a worker over queue.
func NewWorker(queue planning.DeliveryQueue, cfg WorkerConfig) *Worker {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Retry.Base <= 0 {
		cfg.Retry = planning.DefaultRetryPolicy
	}
	if cfg.Guard == nil {
		cfg.Guard = &Guard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Worker{cfg: cfg, queue: queue, client: cfg.Guard.Client(cfg.Timeout), wake: make(chan struct{}, 1)}
}

// Wake makes an idle worker look at the queue now rather than at its next
// poll (a commit on this server has queued something).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	lease := w.cfg.Timeout*2 + time.Second
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n, err := w.RunOnce(ctx, lease)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("webhook delivery", slog.Any("error", err))
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due deliveries and sends them, returning
// how many it claimed.
func (w *Worker) RunOnce(ctx context.Context, lease time.Duration) (int, error) {
	batch, err := w.queue.ClaimDeliveries(ctx, w.cfg.Concurrency*4, lease)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, o := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := w.send(ctx, o)
			if ctx.Err() != nil {
				return // the lease runs out and another attempt follows
			}
			if err := w.queue.FinishAttempt(context.WithoutCancel(ctx), o, res, w.cfg.Retry); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(batch), firstErr
}

// send makes one attempt.
func (w *Worker) send(ctx context.Context, o *planning.Outgoing) planning.AttemptOutcome {
	start := time.Now()
	out := planning.AttemptOutcome{Attempt: planning.WebhookAttempt{At: start.UTC()}}
	if o.Event == nil {
		return out
	}
	body, err := json.Marshal(MessageOf(o.Event))
	if err != nil {
		out.Attempt.Error = err.Error()
		return out
	}
	id := o.Delivery.MessageID()
	ts := w.cfg.Now()
	secrets := []string{o.Endpoint.Secret}
	if o.Endpoint.PreviousSecret != nil && o.Endpoint.PreviousUntil != nil && ts.Before(*o.Endpoint.PreviousUntil) {
		secrets = append(secrets, *o.Endpoint.PreviousSecret)
	}
	sig, err := Sign(secrets, id, ts, body)
	if err != nil {
		out.Attempt.Error = err.Error()
		return out
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		out.Attempt.Error = err.Error()
		return out
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Cascade-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	out.Attempt.Latency = time.Since(start)
	if err != nil {
		out.Attempt.Error = err.Error()
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	out.Attempt.Status = resp.StatusCode
	out.Attempt.Response = string(b)
	out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return out
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
