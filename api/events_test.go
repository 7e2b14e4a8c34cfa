package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
)

// sseEvent is one event read off a stream.
type sseEvent struct {
	id   int64
	typ  string
	data api.Event
}

// openStream opens GET /events as Server-Sent Events and returns a channel
// of its events; lastID, when not empty, resumes after it.
// user is a demo user (bearer token), or "cookie=…" for a console session.
func openStream(t *testing.T, env *apitest.Env, user, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/v1/events", nil)
	if cookie, ok := strings.CutPrefix(user, "cookie="); ok {
		req.Header.Set("Cookie", api.SessionCookie+"="+cookie)
	} else {
		req.Header.Set("Authorization", "Bearer "+apitest.Token(user))
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			case line == "" && ev.id != 0:
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch, cancel
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// TestEventStreamResumes: a live stream outlives the request timeout,
// carries the caller's events as they commit, and resumes after
// Last-Event-ID with nothing lost or repeated; the JSON form pages the
// same events.
func TestEventStreamResumes(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{RequestTimeout: 1500 * time.Millisecond, EventPoll: 20 * time.Millisecond}})
	// Serve as cascade serve does, with a read timeout: the stream must
	// outlive it too (a read deadline that passes cancels the request).
	srv := httptest.NewUnstartedServer(env.API.Handler())
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	defer srv.Close()
	env.URL = srv.URL
	ch, stop := openStream(t, env, "bm-sh", "")
	round := openDemoRound(t, env, "SSE")
	var got []sseEvent
	for range 3 {
		got = append(got, next(t, ch))
	}
	if got[0].typ != "round.created" || got[2].typ != "round.opened" || got[2].data.Data.RoundID == nil || *got[2].data.Data.RoundID != round.ID {
		t.Fatalf("events %+v", got)
	}
	time.Sleep(2 * time.Second) // longer than the request and read timeouts
	env.Caller(t)("strategy", "PATCH", fmt.Sprintf("/api/v1/rounds/%d", round.ID), map[string]any{"name": "Renamed"}, 200)
	if ev := next(t, ch); ev.typ != "round.updated" || ev.id <= got[2].id {
		t.Fatalf("after the request timeout: %+v", ev)
	}
	stop()

	// Resume after the first event: the rest follow, in order, once each.
	ch, stop = openStream(t, env, "bm-sh", strconv.FormatInt(got[0].id, 10))
	defer stop()
	if a, b := next(t, ch), next(t, ch); a.id != got[1].id || b.id != got[2].id {
		t.Fatalf("resumed with %d, %d; want %d, %d", a.id, b.id, got[1].id, got[2].id)
	}
	if ev := next(t, ch); ev.typ != "round.updated" {
		t.Fatalf("resumed: %+v", ev)
	}

	var page api.EventPage
	env.GetJSON("bm-sh", fmt.Sprintf("/api/v1/events?after=%d&limit=2", got[0].id), &page)
	if len(page.Items) != 2 || page.Items[0].ID != got[1].id || page.LastEventID != got[2].id {
		t.Fatalf("page %+v", page)
	}
	// The console streams with its session cookie.
	if err := demo.SetPasswords(context.Background(), env.Services); err != nil {
		t.Fatal(err)
	}
	// Signed in through the service: password hashing on a loaded
	// machine may take longer than this server's short request timeout.
	in, err := env.Services.Sessions.SignIn(context.Background(), planning.SignInRequest{Username: "bm-sh", Password: "demo-bm-sh", Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ch, stopCookie := openStream(t, env, "cookie="+in.Secret, strconv.FormatInt(got[1].id, 10))
	defer stopCookie()
	if ev := next(t, ch); ev.id != got[2].id {
		t.Fatalf("console stream: %+v", ev)
	}
	r := env.Request("GET", "/api/v1/events?after=x", apitest.Token("bm-sh"), nil, nil)
	if r.Status != 400 || !strings.Contains(string(r.Body), `"after"`) {
		t.Fatalf("bad after: %d %s", r.Status, r.Body)
	}
}

// TestWebhookEndpointsAPI walks an endpoint through the API: the secret
// shows once, filters are checked by name, pause and rotate, the delivery
// log, and replays.
func TestWebhookEndpointsAPI(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		var ep api.WebhookEndpointSecret
		call("strategy", "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example/in", "event_types": []string{"round.created"}}, 201).Decode(t, &ep)
		if !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != "active" {
			t.Fatalf("created %+v", ep)
		}
		path := fmt.Sprintf("/api/v1/webhooks/%d", ep.ID)
		if r := call("admin", "GET", path, nil, 200); strings.Contains(string(r.Body), `"secret"`) || strings.Contains(string(r.Body), "whsec_") {
			t.Fatalf("GET shows the secret: %s", r.Body)
		}
		r := call("admin", "PATCH", path, map[string]any{"event_types": []string{"round.created", "nope"}}, 422)
		if !strings.Contains(string(r.Body), `"event_types[1]"`) {
			t.Fatalf("bad filter: %s", r.Body)
		}
		call("admin", "POST", "/api/v1/webhooks", map[string]any{"url": "file:///etc/passwd"}, 422)
		var up api.WebhookEndpoint
		call("admin", "PATCH", path, map[string]any{"status": "paused"}, 200).Decode(t, &up)
		if up.Status != "paused" {
			t.Fatalf("pause: %+v", up)
		}
		var rot api.WebhookEndpointSecret
		call("admin", "POST", path+"/secret", nil, 200).Decode(t, &rot)
		if rot.Secret == ep.Secret || rot.PreviousSecretUntil == nil {
			t.Fatalf("rotate: %+v", rot)
		}
		openDemoRound(t, env, "HOOKS")
		var page api.WebhookDeliveryPage
		call("strategy", "GET", path+"/deliveries", nil, 200).Decode(t, &page)
		if len(page.Items) != 1 || page.Items[0].EventType != "round.created" || page.Items[0].State != "pending" ||
			page.Items[0].WebhookID != fmt.Sprintf("msg_%d", page.Items[0].ID) {
			t.Fatalf("deliveries %+v", page)
		}
		call("strategy", "GET", fmt.Sprintf("%s/deliveries/%d", path, page.Items[0].ID), nil, 200)
		call("strategy", "GET", fmt.Sprintf("%s/deliveries/%d", path, page.Items[0].ID+1000), nil, 404)
		var res api.WebhookReplayResult
		call("admin", "POST", path+"/replay", map[string]any{"from": "2000-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z"}, 202).Decode(t, &res)
		if res.Queued != 1 {
			t.Fatalf("replay %+v", res)
		}
		call("admin", "POST", path+"/replay", map[string]any{"from": "2200-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z"}, 422)
		call("pm-industry", "GET", path+"/deliveries", nil, 403)
		call("admin", "DELETE", path, nil, 204)
		call("admin", "GET", path, nil, 404)
	})
}
