package sqlstore_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

type timerView struct {
	Kind    string     `bun:"kind"`
	FireAt  time.Time  `bun:"fire_at"`
	FiredAt *time.Time `bun:"fired_at"`
}

func (e *env) timers(roundID int64) []timerView {
	e.t.Helper()
	var out []timerView
	if err := storetest.Bun(e.db).NewSelect().Table("deadline_timers").Column("kind", "fire_at", "fired_at").
		Where("round_id = ?", roundID).OrderExpr("fire_at").Scan(context.Background(), &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func deadlineEvents(t *testing.T, e *env) []*planning.Event {
	t.Helper()
	evs, _, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*planning.Event
	for _, ev := range evs {
		if ev.Type == planning.EventDeadlineApproaching || ev.Type == planning.EventDeadlinePassed {
			out = append(out, ev)
		}
	}
	return out
}

// TestDeadlineTimers: a round's calendar makes three durable timers per
// phase deadline, recomputed when the calendar moves; due timers fire once
// each, with who has not answered, even with two servers firing at once on
// one database; a timer whose phase is not the round's fires silently.
func TestDeadlineTimers(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		strategy := e.as("strategy")
		due := time.Date(2030, 3, 10, 18, 0, 0, 0, time.UTC)
		cal := []planning.Deadline{{Phase: planning.RoundCounterproposals, Due: due.Add(24 * time.Hour)}, {Phase: planning.RoundReview, Due: due.Add(30 * 24 * time.Hour)}}
		if _, err := e.svcs.Rounds.UpdateRound(strategy, re.round.ID, planning.RoundUpdate{Calendar: &cal}); err != nil {
			t.Fatal(err)
		}
		cal[0].Due = due // moved a day earlier: the timers follow
		if _, err := e.svcs.Rounds.UpdateRound(strategy, re.round.ID, planning.RoundUpdate{Calendar: &cal}); err != nil {
			t.Fatal(err)
		}
		ts := e.timers(re.round.ID)
		if len(ts) != 6 || !ts[0].FireAt.Equal(due.Add(-72*time.Hour)) || !ts[2].FireAt.Equal(due) {
			t.Fatalf("timers %+v", ts)
		}
		// Shanghai has answered; Jiangsu has not.
		vid := *re.round.WorkingVersionID
		cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, re.unitID("B-SH"), "", []planning.LineInput{{ProductLineID: re.lines["POS"].ID,
			MeasureID: re.revenue.ID, Period: planning.YearPeriod, Proposed: dec("50000.00"), Reason: "r"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs.Proposals.Submit(e.as("bm-sh"), cp.ID, nil); err != nil {
			t.Fatal(err)
		}

		// Two servers on one database, both firing everything due after
		// the deadline, at once.
		second, err := sqlstore.Open(context.Background(), e.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		later := func() time.Time { return due.Add(time.Hour) }
		e.db.Now, second.Now = later, later
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, db := range []*sqlstore.DB{e.db, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := sqlstore.NewDeadlineQueue(db).FireDue(context.Background())
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] != 3 {
			t.Fatalf("fired %v, want 3 in all", counts)
		}
		// Fired after the deadline, the two reminders are superseded by
		// the escalation: one event, not three at once.
		evs := deadlineEvents(t, e)
		if len(evs) != 1 || evs[0].Type != planning.EventDeadlinePassed {
			t.Fatalf("deadline events %+v", evs)
		}
		var data struct {
			Waiting []struct {
				UserID    int64 `json:"user_id"`
				OrgUnitID int64 `json:"org_unit_id"`
			} `json:"waiting"`
			EscalatedTo []int64 `json:"escalated_to"`
		}
		if err := json.Unmarshal(evs[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		js, sh := re.unitID("B-JS"), re.unitID("B-SH")
		foundJS := false
		for _, w := range data.Waiting {
			if w.OrgUnitID == sh {
				t.Fatal("Shanghai answered but is still waited on")
			}
			foundJS = foundJS || w.OrgUnitID == js
		}
		if !foundJS || len(data.EscalatedTo) == 0 {
			t.Fatalf("escalation %+v", data)
		}
		// The branch manager sees the event, but no other branch in it.
		mine, _, err := e.svcs.Events.FindEvents(e.as("bm-sh"), planning.EventFilter{AfterID: evs[0].ID - 1})
		if err != nil || len(mine) != 1 {
			t.Fatalf("bm-sh: %v %v", mine, err)
		}
		if err := json.Unmarshal(mine[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		for _, w := range data.Waiting {
			if w.OrgUnitID == js {
				t.Fatal("Shanghai sees Jiangsu waited on")
			}
		}
		// Nothing fires twice; the review deadline's timers wait.
		if n, err := sqlstore.NewDeadlineQueue(second).FireDue(context.Background()); err != nil || n != 0 {
			t.Fatalf("fired again: %d %v", n, err)
		}
		// Past the review deadline while still in counterproposals: the
		// review timers fire without an event.
		e.db.Now = func() time.Time { return due.Add(60 * 24 * time.Hour) }
		if n, err := sqlstore.NewDeadlineQueue(e.db).FireDue(context.Background()); err != nil || n != 3 || len(deadlineEvents(t, e)) != 1 {
			t.Fatalf("review timers: %d %v", n, err)
		}
	})
}
