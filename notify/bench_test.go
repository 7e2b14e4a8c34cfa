package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/notify"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// BenchmarkOutbox measures, on each database, the outbox end to end and
// its cost on the write path:
//
//   - events/s: events committed as fast as one writer can, delivered by
//     one worker to a loopback receiver; the clock runs from the first
//     commit to the last delivery received;
//   - submit-p50/p99 of a counterproposal submit with no endpoint and with
//     10 subscribed endpoints (each submit then queues 10 deliveries in its
//     transaction), and their ratio, from the same run.
//
// Run it once: go test ./notify -run '^$' -bench Outbox -benchtime 1x
func BenchmarkOutbox(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			for b.Loop() {
				benchOutbox(b, d)
			}
		})
	}
}

func benchOutbox(b *testing.B, d sqlstore.Dialect) {
	ctx := context.Background()
	db := storetest.Open(b, d)
	svcs := sqlstore.NewServices(db)
	if _, err := demo.Load(ctx, svcs); err != nil {
		b.Fatal(err)
	}
	as := func(user string) context.Context {
		a, err := svcs.Tokens.Authenticate(ctx, demo.TokenFor(user))
		if err != nil {
			b.Fatal(err)
		}
		return planning.NewContextWithActor(ctx, a)
	}
	admin, strategy, bm := as("admin"), as("strategy"), as("bm-sh")

	// Throughput: commit → delivery.
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	ep := &planning.WebhookEndpoint{URL: srv.URL, EventTypes: []planning.EventType{planning.EventRoundCreated}}
	if err := svcs.Webhooks.CreateWebhookEndpoint(admin, ep); err != nil {
		b.Fatal(err)
	}
	ms, _, _ := svcs.Measures.FindMeasures(strategy, planning.MeasureFilter{Code: "revenue"})
	w := notify.NewWorker(sqlstore.NewDeliveryQueue(db), notify.WorkerConfig{Guard: loopback, Poll: 5 * time.Millisecond, Concurrency: 8})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	const events = 400
	start := time.Now()
	for i := range events {
		r := &planning.Round{Code: fmt.Sprintf("B%d", i), Name: "bench", FiscalYear: 2027, FirstMonth: 1, MeasureIDs: []int64{ms[0].ID}}
		if err := svcs.Rounds.CreateRound(strategy, r); err != nil {
			b.Fatal(err)
		}
	}
	committed := time.Since(start)
	for got.Load() < events {
		if time.Since(start) > 2*time.Minute {
			b.Fatalf("%d of %d delivered", got.Load(), events)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	<-done
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	b.ReportMetric(events/committed.Seconds(), "commits/s")
	if err := svcs.Webhooks.DeleteWebhookEndpoint(admin, ep.ID); err != nil {
		b.Fatal(err)
	}

	// The write path: a counterproposal submit, without and with 10
	// subscribed endpoints.
	r := &planning.Round{Code: "CPB", Name: "bench", FiscalYear: 2027, FirstMonth: 1, MeasureIDs: []int64{ms[0].ID}}
	if err := svcs.Rounds.CreateRound(strategy, r); err != nil {
		b.Fatal(err)
	}
	for _, to := range []planning.RoundStatus{planning.RoundOpen, planning.RoundCounterproposals} {
		if r2, err := svcs.Rounds.TransitionRound(strategy, r.ID, to, "", nil); err != nil {
			b.Fatal(err)
		} else {
			r = r2
		}
	}
	units, _, _ := svcs.OrgUnits.FindOrgUnits(admin, planning.OrgUnitFilter{Code: "B-SH"})
	pls, _, _ := svcs.ProductLines.FindProductLines(admin, planning.ProductLineFilter{})
	line := []planning.LineInput{{ProductLineID: pls[0].ID, MeasureID: ms[0].ID, Period: planning.YearPeriod, Proposed: decimal.RequireFromString("1000.00"), Reason: "bench"}}
	submits := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range n {
			cp, err := svcs.Proposals.CreateCounterproposal(bm, *r.WorkingVersionID, units[0].ID, "bench", line)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if _, err := svcs.Proposals.Submit(bm, cp.ID, nil); err != nil {
				b.Fatal(err)
			}
			out[i] = time.Since(t0)
			if _, err := svcs.Proposals.Withdraw(bm, cp.ID, nil); err != nil {
				b.Fatal(err)
			}
		}
		slices.Sort(out)
		return out
	}
	pct := func(ds []time.Duration, p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	const n = 200
	submits(20) // warm up
	base := submits(n)
	for i := range 10 {
		e := &planning.WebhookEndpoint{URL: fmt.Sprintf("%s/%d", srv.URL, i), EventTypes: []planning.EventType{planning.EventCounterproposalSubmit}}
		if err := svcs.Webhooks.CreateWebhookEndpoint(admin, e); err != nil {
			b.Fatal(err)
		}
	}
	with := submits(n)
	b.ReportMetric(pct(base, 0.5), "submit-p50-ms")
	b.ReportMetric(pct(base, 0.99), "submit-p99-ms")
	b.ReportMetric(pct(with, 0.5), "submit10-p50-ms")
	b.ReportMetric(pct(with, 0.99), "submit10-p99-ms")
	b.ReportMetric(pct(with, 0.5)/pct(base, 0.5), "p50-ratio")
	b.ReportMetric(pct(with, 0.99)/pct(base, 0.99), "p99-ratio")
}
