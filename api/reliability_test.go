package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

func TestIdempotencyKeys(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		strategy := apitest.Token("strategy")
		body := map[string]any{"code": "FY2029", "name": "Plan 2029", "fiscal_year": 2029, "first_month": 1, "measures": []string{"revenue"}}
		key := map[string]string{"Idempotency-Key": "create-fy2029"}
		first := env.Request("POST", "/api/v1/rounds", strategy, body, key)
		if first.Status != 201 {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		again := env.Request("POST", "/api/v1/rounds", strategy, body, key)
		if again.Status != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
			again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("ETag") != first.Header.Get("ETag") {
			t.Fatalf("retry: %d %v %s", again.Status, again.Header, again.Body)
		}
		var page api.RoundPage
		env.GetJSON("strategy", "/api/v1/rounds?fiscal_year=2029", &page)
		if len(page.Items) != 1 {
			t.Fatalf("%d rounds after a retried create, want 1", len(page.Items))
		}
		// Keys are per caller: the same key from someone else is theirs.
		other := env.Request("POST", "/api/v1/rounds", apitest.Token("admin"), map[string]any{"code": "FY2030", "name": "Plan 2030",
			"fiscal_year": 2030, "first_month": 1}, key)
		if other.Status != 201 || other.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("another caller's key: %d %s", other.Status, other.Body)
		}
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "same key, other body", Method: "POST", URL: "/api/v1/rounds", As: "strategy", Headers: key,
				Body: map[string]any{"code": "FY2031", "name": "x", "fiscal_year": 2031, "first_month": 1}, ExpectedStatus: 422,
				ExpectedContent: []string{"different request"}},
			{Name: "malformed key", Method: "POST", URL: "/api/v1/rounds", As: "strategy", Headers: map[string]string{"Idempotency-Key": "a b"},
				Body: body, ExpectedStatus: 400},
			// A failure is not kept: fixing the request and retrying with
			// the same key works.
			{Name: "failure with a key", Method: "POST", URL: "/api/v1/rounds", As: "strategy", Headers: map[string]string{"Idempotency-Key": "k2"},
				Body: map[string]any{"code": "FY2032", "name": "x", "fiscal_year": 2032, "first_month": 13}, ExpectedStatus: 422},
		})
		// A failed request leaves nothing behind, so its key is free.
		var n int
		if err := storetest.Bun(env.DB).NewSelect().TableExpr("idempotency_keys").ColumnExpr("COUNT(*)").Where("key = 'k2'").Scan(context.Background(), &n); err != nil || n != 0 {
			t.Fatalf("a failed request kept its key: %d %v", n, err)
		}

		// A claim nobody holds any more (a pending record, as earlier
		// releases left when their server died) does not block the retry,
		// however long its lease was meant to last. A live holder is
		// refused with 409 (TestIdempotencyHolder in the store).
		uid := env.UserID("strategy")
		now := time.Now().UTC()
		if _, err := storetest.Bun(env.DB).NewRaw("INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, locked_until) VALUES (?, ?, ?, 'pending', ?, ?)",
			uid, "crashed", fingerprintOf("POST", "/api/v1/rounds", `{"code":"FY2033","name":"x","fiscal_year":2033,"first_month":1}`), now, now.Add(time.Hour)).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		crashed := env.Request("POST", "/api/v1/rounds", strategy, `{"code":"FY2033","name":"x","fiscal_year":2033,"first_month":1}`, map[string]string{"Idempotency-Key": "crashed"})
		if crashed.Status != 201 {
			t.Fatalf("after the holder died: %d %s", crashed.Status, crashed.Body)
		}

		// The key and the effect commit together: an allocation retried
		// runs once.
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		alloc := map[string]any{"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1000.00"}}}
		for i := 0; i < 3; i++ {
			r := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), apitest.Token("pm-industry"), alloc,
				map[string]string{"Idempotency-Key": "alloc-1"})
			if r.Status != 201 {
				t.Fatalf("allocation try %d: %d %s", i, r.Status, r.Body)
			}
		}
		var runs api.AllocationRunPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), &runs)
		if len(runs.Items) != 1 {
			t.Fatalf("%d runs after three tries with one key", len(runs.Items))
		}
	})
}

// TestIdempotentPut checks that Idempotency-Key works on writes other than
// POST (one middleware serves POST, PUT, PATCH and DELETE): a cell edit
// retried with its key (and the If-Match it was sent with, which the first
// attempt made stale) gets the first response again, and the edit is
// applied once.
func TestIdempotentPut(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		pm := apitest.Token("pm-industry")
		path := fmt.Sprintf("/api/v1/versions/%d", vid)
		etag := env.Request("GET", path, pm, nil, nil).Header.Get("ETag")
		edit := map[string]any{"cells": []map[string]any{{"org_unit": "B-SH-KA", "product_line": "POS", "measure": "revenue", "period": "2027-04", "amount": "125.00"}}}
		headers := map[string]string{"If-Match": etag, "Idempotency-Key": "edit-1"}
		first := env.Request("PUT", path+"/targets", pm, edit, headers)
		if first.Status != 200 {
			t.Fatalf("first edit: %d %s", first.Status, first.Body)
		}
		again := env.Request("PUT", path+"/targets", pm, edit, headers)
		if again.Status != 200 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retried edit: %d %v %s", again.Status, again.Header, again.Body)
		}
		// Without the key the same request is stale: the edit happened once.
		if r := env.Request("PUT", path+"/targets", pm, edit, map[string]string{"If-Match": etag}); r.Status != 412 {
			t.Fatalf("the same edit without its key: %d %s", r.Status, r.Body)
		}
		if got := env.Request("GET", path, pm, nil, nil).Header.Get("ETag"); got != first.Header.Get("ETag") {
			t.Fatalf("version ETag %s after one edit retried, want %s (one revision more)", got, first.Header.Get("ETag"))
		}
		// A key reused for another edit is refused and changes nothing.
		other := map[string]any{"cells": []map[string]any{{"org_unit": "B-SH-KA", "product_line": "POS", "measure": "revenue", "period": "2027-04", "amount": "999.00"}}}
		if r := env.Request("PUT", path+"/targets", pm, other, map[string]string{"If-Match": first.Header.Get("ETag"), "Idempotency-Key": "edit-1"}); r.Status != 422 {
			t.Fatalf("the key with another edit: %d %s", r.Status, r.Body)
		}
	})
}

func fingerprintOf(method, uri, body string) string {
	return api.Fingerprint(method, uri, []byte(body))
}

func TestRateLimit(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{RateLimit: 1, RateBurst: 3}})
	token := apitest.Token("auditor")
	var limited *apitest.Response
	for i := 0; i < 10 && limited == nil; i++ {
		if r := env.Request("GET", "/api/v1/me", token, nil, nil); r.Status == 429 {
			limited = r
		} else if r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	if limited == nil || limited.Header.Get("Retry-After") == "" || !strings.Contains(string(limited.Body), "rate_limited") {
		t.Fatalf("no 429 with Retry-After after a burst: %+v", limited)
	}
	// Another token has its own bucket.
	if r := env.Request("GET", "/api/v1/me", apitest.Token("admin"), nil, nil); r.Status != 200 {
		t.Fatalf("another token limited too: %d", r.Status)
	}
}

// TestConcurrentAllocations races two allocations based on the same
// version revision: one wins whole, the other is refused with 412, and the
// tree stays consistent.
func TestConcurrentAllocations(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		r := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d", vid), apitest.Token("pm-industry"), nil, nil)
		etag := r.Header.Get("ETag")
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := map[string]any{"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "ATM", "amount": fmt.Sprintf("%d.00", 1000*(i+1))}},
					"levels": []map[string]any{{"method": "even"}}, "phasing": map[string]any{"method": "profile", "profile": "government"}}
				statuses[i] = env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), apitest.Token("pm-industry"), body,
					map[string]string{"If-Match": etag}).Status
			}(i)
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				won++
			case http.StatusPreconditionFailed, http.StatusConflict:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if won != 1 {
			t.Fatalf("%d allocations won: %v", won, statuses)
		}
		var cons api.InconsistencyPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/versions/%d/consistency", vid), &cons)
		var runs api.AllocationRunPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), &runs)
		if len(cons.Items) != 0 || len(runs.Items) != 1 {
			t.Fatalf("after the race: %d inconsistencies, %d runs", len(cons.Items), len(runs.Items))
		}
		_ = planning.ECONFLICT
	})
}
