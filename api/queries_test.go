package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// queryCounter counts the statements bun runs, by kind.
type queryCounter struct {
	n      atomic.Int64
	mu     sync.Mutex
	byKind map[string]int
	on     atomic.Bool
}

func (q *queryCounter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	return ctx
}

func (q *queryCounter) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	// A token's last use is recorded at most now and then, so it is left
	// out to keep the counts steady.
	if !q.on.Load() || strings.HasPrefix(e.Query, `UPDATE "tokens"`) {
		return
	}
	q.n.Add(1)
	q.mu.Lock()
	q.byKind[e.Operation()]++
	q.mu.Unlock()
}

// count runs fn with the counter on and returns how many statements ran.
func (q *queryCounter) count(fn func()) (int64, map[string]int) {
	q.n.Store(0)
	q.byKind = map[string]int{}
	q.on.Store(true)
	fn()
	q.on.Store(false)
	return q.n.Load(), q.byKind
}

// TestAllocationQueries counts the statements one allocation request runs
// beyond authentication (what GET /me runs): the codes are translated to
// ids once on the way in (org units, product lines, measure, profile), the
// version and round are read once, the service loads the inputs it needs,
// and the answer needs no further reads, its nodes and explanations
// carrying their codes.
func TestAllocationQueries(t *testing.T) {
	env := apitest.New(t)
	qc := &queryCounter{}
	storetest.Bun(env.DB).AddQueryHook(qc)
	round := openDemoRound(t, env, "FY27")
	vid := *round.WorkingVersionID
	auth, _ := qc.count(func() {
		var me any
		env.GetJSON("pm-industry", "/api/v1/me", &me)
	})
	check := func(name string, max int64, fn func()) {
		t.Helper()
		n, kinds := qc.count(fn)
		t.Logf("%s: %d statements beyond the %d of authentication %v", name, n-auth, auth, kinds)
		if n-auth > max {
			t.Errorf("%s: %d statements beyond authentication, want at most %d", name, n-auth, max)
		}
	}
	for _, c := range []struct {
		name string
		dry  bool
		max  int64
	}{{"dry run", true, 11}, {"real run", false, 20}} {
		check(c.name, c.max, func() {
			if status, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "1200000.00", c.dry); status >= 300 {
				t.Fatalf("%s: %d %s", c.name, status, body)
			}
		})
	}
	var runs struct {
		Items []struct{ ID int64 } `json:"items"`
	}
	check("list runs", 3, func() { env.GetJSON("pm-industry", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), &runs) })
	check("get run", 5, func() {
		var x any
		env.GetJSON("pm-industry", fmt.Sprintf("/api/v1/allocations/%d?explain_under=R-EAST", runs.Items[0].ID), &x)
	})
}
