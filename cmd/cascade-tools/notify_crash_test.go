package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// hookReceiver is a webhook receiver that dedupes on webhook-id, as the
// documentation tells receivers to: it counts every delivery it answered
// 200 and the distinct ids, and which event each id carried. While gated,
// it holds requests open until the gate opens or the sender goes away.
type hookReceiver struct {
	mu    sync.Mutex
	hits  int
	ids   map[string]int64 // webhook-id → event id
	gate  chan struct{}
	held  chan struct{} // one value per request held at the gate
	delay time.Duration
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	select {
	case h.held <- struct{}{}:
	default:
	}
	select {
	case <-h.gate:
	case <-r.Context().Done():
		return
	}
	time.Sleep(h.delay)
	var msg struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal(body, &msg)
	h.mu.Lock()
	h.hits++
	id := r.Header.Get("webhook-id")
	if prev, ok := h.ids[id]; ok && prev != msg.ID {
		h.ids[id] = -1 // one id, two events: caught below
	} else {
		h.ids[id] = msg.ID
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) counts() (hits int, ids map[string]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids = make(map[string]int64, len(h.ids))
	for k, v := range h.ids {
		ids[k] = v
	}
	return h.hits, ids
}

// TestCrashBetweenCommitAndDelivery kills `cascade serve` with SIGKILL
// after events committed but before their deliveries finished (the
// receiver holds the first request open), and again at a random moment
// while deliveries are under way. After the restarts every event reaches
// the receiver: at least one delivery each, and exactly one distinct
// webhook-id per event, so a receiver that dedupes on it sees each event
// once.
func TestCrashBetweenCommitAndDelivery(t *testing.T) {
	bin := cascadeBinary(t)
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			if d == sqlstore.Postgres && storetest.PGDSN() == "" {
				t.Skip("CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
			}
			dsn := storetest.DSN(t, d)
			db, svcs := openStore(t, dsn)
			if _, err := demo.Load(context.Background(), svcs); err != nil {
				t.Fatal(err)
			}
			db.Close()

			rc := &hookReceiver{ids: map[string]int64{}, gate: make(chan struct{}), held: make(chan struct{}, 1), delay: 5 * time.Millisecond}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			flags := []string{"--webhook-allow", "127.0.0.1/32", "--notify-poll", "50ms", "--webhook-timeout", "2s", "--webhook-retry-base", "100ms"}
			ctx := context.Background()
			start := func() *serverProcess {
				p, err := startServer(ctx, bin, dsn, flags...)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			admin := &apiClient{http: newHTTPClient(4), token: demo.TokenFor("admin")}
			strategy := &apiClient{http: admin.http, token: demo.TokenFor("strategy")}
			rounds := 0
			create := func(p *serverProcess, n int) {
				for range n {
					rounds++
					r := strategy.do(ctx, "POST", p.URL+"/api/v1/rounds", map[string]any{"code": fmt.Sprintf("K%d", rounds), "name": "Kill",
						"fiscal_year": 2027, "first_month": 1, "measures": []string{"revenue"}})
					if r.Status != http.StatusCreated {
						t.Fatalf("create round: %d %v %s", r.Status, r.Err, r.Body)
					}
				}
			}

			p := start()
			var ep api.WebhookEndpointSecret
			if err := admin.do(ctx, "POST", p.URL+"/api/v1/webhooks", map[string]any{"url": srv.URL + "/hook", "event_types": []string{"round.created"}}).decode(&ep); err != nil {
				t.Fatal(err)
			}
			// Committed, and a delivery in flight at the receiver: kill.
			create(p, 10)
			select {
			case <-rc.held:
			case <-time.After(30 * time.Second):
				t.Fatalf("no delivery arrived:\n%s", p.Logs())
			}
			p.Kill()
			close(rc.gate)
			if hits, _ := rc.counts(); hits != 0 {
				t.Fatalf("%d deliveries before the kill; the test kills too late", hits)
			}
			// Kill again at a random moment while deliveries are under way.
			for range 3 {
				p = start()
				create(p, 5)
				time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
				p.Kill()
			}
			p = start()
			defer p.Stop(20 * time.Second)
			deadline := time.Now().Add(90 * time.Second)
			for {
				hits, ids := rc.counts()
				if len(ids) >= rounds {
					for id, ev := range ids {
						if ev <= 0 {
							t.Fatalf("webhook-id %s carried two events", id)
						}
					}
					events := map[int64]bool{}
					for _, ev := range ids {
						events[ev] = true
					}
					if len(ids) != rounds || len(events) != rounds {
						t.Fatalf("%d distinct webhook-ids, %d distinct events, for %d events", len(ids), len(events), rounds)
					}
					t.Logf("%s: %d events, %d deliveries, %d distinct webhook-ids", d, rounds, hits, len(ids))
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the restarts %d of %d events delivered:\n%s", len(ids), rounds, p.Logs())
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
