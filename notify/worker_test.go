package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/notify"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

type fixture struct {
	t    *testing.T
	db   *sqlstore.DB
	svcs planning.Services
}

func forEachDB(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db := storetest.Open(t, d)
			svcs := sqlstore.NewServices(db)
			if _, err := demo.Load(context.Background(), svcs); err != nil {
				t.Fatal(err)
			}
			fn(t, &fixture{t: t, db: db, svcs: svcs})
		})
	}
}

func (f *fixture) as(user string) context.Context {
	f.t.Helper()
	a, err := f.svcs.Tokens.Authenticate(context.Background(), demo.TokenFor(user))
	if err != nil {
		f.t.Fatal(err)
	}
	return planning.NewContextWithActor(context.Background(), a)
}

// emit commits one event (a new round) and returns its round's code.
func (f *fixture) emit(code string) {
	f.t.Helper()
	ms, _, err := f.svcs.Measures.FindMeasures(f.as("strategy"), planning.MeasureFilter{})
	if err != nil || len(ms) == 0 {
		f.t.Fatal(err)
	}
	r := &planning.Round{Code: code, Name: code, FiscalYear: 2027, FirstMonth: 1, MeasureIDs: []int64{ms[0].ID}}
	if err := f.svcs.Rounds.CreateRound(f.as("strategy"), r); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) endpoint(url string) *planning.WebhookEndpoint {
	f.t.Helper()
	ep := &planning.WebhookEndpoint{URL: url, EventTypes: []planning.EventType{planning.EventRoundCreated}}
	if err := f.svcs.Webhooks.CreateWebhookEndpoint(f.as("admin"), ep); err != nil {
		f.t.Fatal(err)
	}
	return ep
}

var loopback = &notify.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// verify checks a Standard Webhooks signature the way the specification
// describes it, independently of notify.Sign: any of the space-separated
// v1 signatures must be the HMAC-SHA256, under the base64-decoded secret,
// of "id.timestamp.body".
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return errors.New("bad timestamp")
	}
	m := hmac.New(sha256.New, key)
	io.WriteString(m, h.Get("webhook-id")+"."+h.Get("webhook-timestamp")+".")
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

type hit struct {
	at     time.Time
	header http.Header
	body   []byte
}

type receiver struct {
	mu     sync.Mutex
	hits   []hit
	answer func(n int) int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.hits = append(rc.hits, hit{time.Now(), r.Header.Clone(), b})
	n := len(rc.hits)
	rc.mu.Unlock()
	w.WriteHeader(rc.answer(n))
	io.WriteString(w, "answer "+strconv.Itoa(n))
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.hits)
}

func drain(t *testing.T, w *notify.Worker, until func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !until() {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting for the worker")
		}
		if _, err := w.RunOnce(context.Background(), time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetriesBackOffUntilDelivered: a receiver answering 500 three times,
// then 200, gets the event on the fourth attempt, each wait longer than
// the one before (the policy keeps a margin of half a base, 200 ms here,
// between the longest wait of one step and the shortest of the next, far
// above the noise of a loaded machine), with the same webhook-id and a valid signature on each;
// the delivery log shows the four attempts.
func TestRetriesBackOffUntilDelivered(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		rc := &receiver{answer: func(n int) int {
			if n <= 3 {
				return 500
			}
			return 200
		}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ep := f.endpoint(srv.URL + "/hook")
		f.emit("R1")
		q := sqlstore.NewDeliveryQueue(f.db)
		w := notify.NewWorker(q, notify.WorkerConfig{Guard: loopback,
			Retry: planning.RetryPolicy{Base: 400 * time.Millisecond, Max: 10 * time.Second, For: time.Minute}})
		drain(t, w, func() bool { return rc.count() >= 4 })
		for i, h := range rc.hits {
			if err := verify(ep.Secret, h.header, h.body); err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
			if h.header.Get("webhook-id") != rc.hits[0].header.Get("webhook-id") {
				t.Fatal("webhook-id changed between attempts")
			}
		}
		for i := 2; i < len(rc.hits); i++ {
			prev, cur := rc.hits[i-1].at.Sub(rc.hits[i-2].at), rc.hits[i].at.Sub(rc.hits[i-1].at)
			if cur <= prev {
				t.Fatalf("wait %d (%v) not longer than wait %d (%v)", i, cur, i-1, prev)
			}
		}
		ds, _, err := f.svcs.Webhooks.FindWebhookDeliveries(f.as("strategy"), ep.ID, planning.DeliveryFilter{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries: %v %v", ds, err)
		}
		d, err := f.svcs.Webhooks.FindWebhookDelivery(f.as("strategy"), ep.ID, ds[0].ID)
		if err != nil || d.State != planning.DeliveryDelivered || len(d.Log) != 4 || d.Log[3].Status != 200 || d.Log[0].Status != 500 ||
			d.Log[3].Response != "answer 4" || d.MessageID() != rc.hits[0].header.Get("webhook-id") {
			t.Fatalf("delivery %+v %v", d, err)
		}
		// A replay sends it again under the same webhook-id.
		if n, err := f.svcs.Webhooks.ReplayWebhookDeliveries(f.as("admin"), ep.ID, d.ID, nil, nil); err != nil || n != 1 {
			t.Fatalf("replay: %d %v", n, err)
		}
		drain(t, w, func() bool { return rc.count() >= 5 })
		if rc.hits[4].header.Get("webhook-id") != d.MessageID() {
			t.Fatal("a replay changed the webhook-id")
		}
	})
}

// TestGoneDisablesTheEndpoint: 410 disables the endpoint and fails the
// delivery; later events are not queued for it.
func TestGoneDisablesTheEndpoint(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		rc := &receiver{answer: func(int) int { return http.StatusGone }}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ep := f.endpoint(srv.URL)
		f.emit("R1")
		w := notify.NewWorker(sqlstore.NewDeliveryQueue(f.db), notify.WorkerConfig{Guard: loopback})
		drain(t, w, func() bool { return rc.count() >= 1 })
		got, err := f.svcs.Webhooks.FindWebhookEndpointByID(f.as("admin"), ep.ID)
		if err != nil || got.Status != planning.EndpointDisabled {
			t.Fatalf("endpoint after 410: %+v %v", got, err)
		}
		f.emit("R2")
		if n, _ := w.RunOnce(context.Background(), time.Minute); n != 0 || rc.count() != 1 {
			t.Fatal("a disabled endpoint got another delivery")
		}
	})
}

// TestRotationSignsWithBothSecrets: during the overlap every delivery
// carries a signature under the new secret and one under the old.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		rc := &receiver{answer: func(int) int { return 204 }}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ep := f.endpoint(srv.URL)
		rot, err := f.svcs.Webhooks.RotateWebhookSecret(f.as("admin"), ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f.emit("R1")
		w := notify.NewWorker(sqlstore.NewDeliveryQueue(f.db), notify.WorkerConfig{Guard: loopback})
		drain(t, w, func() bool { return rc.count() >= 1 })
		h := rc.hits[0]
		if err := verify(ep.Secret, h.header, h.body); err != nil {
			t.Fatalf("old secret: %v", err)
		}
		if err := verify(rot.Secret, h.header, h.body); err != nil {
			t.Fatalf("new secret: %v", err)
		}
		if err := verify(planning.NewWebhookSecret(), h.header, h.body); err == nil {
			t.Fatal("a stranger's secret verified")
		}
	})
}

// TestGuardRefusesPrivateTargets: without an allow-list, loopback is
// refused at connect time, and so is a redirect from an allowed target to
// one that is not; the attempt is logged with the refusal.
func TestGuardRefusesPrivateTargets(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "100.64.0.1", "0.0.0.0"} {
		if err := (&notify.Guard{}).Check(netip.MustParseAddr(a)); !errors.Is(err, notify.ErrRefusedTarget) {
			t.Errorf("%s allowed", a)
		}
	}
	if err := (&notify.Guard{}).Check(netip.MustParseAddr("93.184.215.14")); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	forEachDB(t, func(t *testing.T, f *fixture) {
		rc := &receiver{answer: func(int) int { return 200 }}
		inner := httptest.NewServer(rc)
		defer inner.Close()
		_, port, _ := strings.Cut(strings.TrimPrefix(inner.URL, "http://"), ":")
		// The outer server is allowed; it redirects to 127.0.0.2, which is not.
		outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.2:"+port+"/", http.StatusTemporaryRedirect)
		}))
		defer outer.Close()
		direct := f.endpoint(inner.URL)
		redirected := f.endpoint(outer.URL)
		f.emit("R1")
		w := notify.NewWorker(sqlstore.NewDeliveryQueue(f.db), notify.WorkerConfig{Guard: &notify.Guard{}})
		if _, err := w.RunOnce(context.Background(), time.Minute); err != nil {
			t.Fatal(err)
		}
		w = notify.NewWorker(sqlstore.NewDeliveryQueue(f.db), notify.WorkerConfig{Guard: loopback})
		if err := f.svcs.Webhooks.DeleteWebhookEndpoint(f.as("admin"), direct.ID); err != nil {
			t.Fatal(err)
		}
		replayAll := func() {
			from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
			if _, err := f.svcs.Webhooks.ReplayWebhookDeliveries(f.as("admin"), redirected.ID, 0, &from, &to); err != nil {
				t.Fatal(err)
			}
		}
		replayAll()
		if _, err := w.RunOnce(context.Background(), time.Minute); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 0 {
			t.Fatal("a refused target was reached")
		}
		ds, _, err := f.svcs.Webhooks.FindWebhookDeliveries(f.as("admin"), redirected.ID, planning.DeliveryFilter{})
		if err != nil || len(ds) != 1 {
			t.Fatal(err)
		}
		d, err := f.svcs.Webhooks.FindWebhookDelivery(f.as("admin"), redirected.ID, ds[0].ID)
		if err != nil || len(d.Log) != 2 || !strings.Contains(d.Log[1].Error, "refused target address 127.0.0.2") ||
			!strings.Contains(d.Log[0].Error, "refused target address 127.0.0.1") {
			t.Fatalf("log: %+v %v", d.Log, err)
		}
	})
}
