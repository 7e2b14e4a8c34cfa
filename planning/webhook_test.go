package planning_test

import (
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
)

// TestRetryPolicy: each wait is longer than the one before (the jitter
// never overlaps the next step), capped at Max; Retry-After wins when
// longer; past For the delivery fails; 2xx delivers and 410 disables.
func TestRetryPolicy(t *testing.T) {
	p := planning.RetryPolicy{Base: 10 * time.Second, Max: time.Hour, For: 24 * time.Hour}
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 200 {
		now, prev := first, time.Duration(0)
		for n := 1; n <= 8; n++ {
			res, next := p.Next(500, 0, n, first, now)
			if res != planning.AttemptRetry {
				t.Fatalf("attempt %d: %v", n, res)
			}
			wait := next.Sub(now)
			if wait <= prev || wait > p.Max*3/2 {
				t.Fatalf("attempt %d waits %v after %v", n, wait, prev)
			}
			prev, now = wait, next
		}
	}
	if _, next := p.Next(503, 30*time.Minute, 1, first, first); next.Sub(first) != 30*time.Minute {
		t.Fatalf("Retry-After not honoured: %v", next.Sub(first))
	}
	if res, _ := p.Next(500, 0, 3, first, first.Add(24*time.Hour)); res != planning.AttemptFailed {
		t.Fatalf("past the horizon: %v", res)
	}
	if res, _ := p.Next(204, 0, 1, first, first); res != planning.AttemptDelivered {
		t.Fatal("204 not delivered")
	}
	if res, _ := p.Next(410, 0, 1, first, first); res != planning.AttemptGone {
		t.Fatal("410 not gone")
	}
}

// TestDeadlineRules: three timers per phase deadline, none for a closed
// round; the counterproposal phase waits on scoped managers whose unit has
// not answered; escalations go to the product managers and the strategy
// office.
func TestDeadlineRules(t *testing.T) {
	due := time.Date(2027, 1, 31, 18, 0, 0, 0, time.UTC)
	r := &planning.Round{ID: 1, Status: planning.RoundCounterproposals, Calendar: []planning.Deadline{{Phase: planning.RoundCounterproposals, Due: due}}}
	ts := r.DeadlineTimers()
	if len(ts) != 3 || !ts[0].FireAt.Equal(due.Add(-72*time.Hour)) || !ts[1].FireAt.Equal(due.Add(-24*time.Hour)) || !ts[2].FireAt.Equal(due) ||
		ts[2].EventType() != planning.EventDeadlinePassed || ts[0].EventType() != planning.EventDeadlineApproaching || !ts[0].Applies(r) {
		t.Fatalf("timers %+v", ts)
	}
	// A reminder whose later sibling is due too stays silent: the latest
	// due timer speaks.
	for _, c := range []struct {
		now  time.Time
		want [3]bool
	}{
		{due.Add(-80 * time.Hour), [3]bool{false, false, false}},
		{due.Add(-48 * time.Hour), [3]bool{false, false, false}},
		{due.Add(-12 * time.Hour), [3]bool{true, false, false}},
		{due.Add(time.Hour), [3]bool{true, true, false}},
	} {
		for i, tm := range ts {
			if got := tm.Superseded(c.now); got != c.want[i] {
				t.Errorf("%s at %s: superseded %v", tm.Kind, c.now, got)
			}
		}
	}
	r.Status = planning.RoundClosed
	if len(r.DeadlineTimers()) != 0 {
		t.Fatal("a closed round keeps timers")
	}
	sh, js := int64(9), int64(10)
	as := []planning.RoleAssignment{{UserID: 1, Role: planning.RoleBranchManager, OrgUnitID: &sh}, {UserID: 2, Role: planning.RoleBranchManager, OrgUnitID: &js},
		{UserID: 3, Role: planning.RoleProductManager}, {UserID: 4, Role: planning.RoleStrategyOffice}, {UserID: 5, Role: planning.RoleSalesDirector}}
	w := planning.WaitingOn(planning.RoundCounterproposals, planning.DeadlineAnswers{Assignments: as, AnsweredUnits: map[int64]bool{sh: true}})
	if len(w) != 1 || w[0].UserID != 2 {
		t.Fatalf("waiting %+v", w)
	}
	sd := planning.RoleSalesDirector
	if w := planning.WaitingOn(planning.RoundReview, planning.DeadlineAnswers{Assignments: as, NextApprovalRole: &sd}); len(w) != 1 || w[0].UserID != 5 {
		t.Fatalf("review waiting %+v", w)
	}
	if e := planning.Escalated(as); len(e) != 2 || e[0] != 3 || e[1] != 4 {
		t.Fatalf("escalated %v", e)
	}
}
