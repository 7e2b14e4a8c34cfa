package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

func (e *env) count(table string) int64 {
	e.t.Helper()
	n, err := storetest.Bun(e.db).NewSelect().Table(table).Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func eventTypes(t *testing.T, evs []*planning.Event) []planning.EventType {
	t.Helper()
	out := make([]planning.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// TestOutboxEventsCommitWithTheirChange checks that an event, and its
// queued deliveries, exist if and only if the change they report committed:
// a change rolled back (here by a later failure in the same transaction)
// leaves no event, no delivery and no audit row behind.
func TestOutboxEventsCommitWithTheirChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		admin := e.as("admin")
		ep := &planning.WebhookEndpoint{URL: "https://receiver.example/hook"}
		if err := e.svcs.Webhooks.CreateWebhookEndpoint(admin, ep); err != nil {
			t.Fatal(err)
		}
		filtered := &planning.WebhookEndpoint{URL: "https://receiver.example/cp", EventTypes: []planning.EventType{planning.EventCounterproposalSubmit}}
		if err := e.svcs.Webhooks.CreateWebhookEndpoint(admin, filtered); err != nil {
			t.Fatal(err)
		}
		re := openRound(t, e)
		evs, _, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		got := eventTypes(t, evs)
		for _, want := range []planning.EventType{planning.EventRoundCreated, planning.EventVersionCreated, planning.EventRoundOpened} {
			if !slices.Contains(got, want) {
				t.Fatalf("events %v lack %s", got, want)
			}
		}
		if n := e.count("webhook_deliveries"); n != int64(len(evs)) {
			t.Fatalf("%d deliveries for %d events to one catch-all endpoint", n, len(evs))
		}

		events, deliveries, audits := e.count("events"), e.count("webhook_deliveries"), e.auditCount()
		boom := errors.New("a later step failed")
		err = e.svcs.Atomically(e.as("strategy"), func(ctx context.Context) error {
			if _, err := e.svcs.Rounds.TransitionRound(ctx, re.round.ID, planning.RoundCounterproposals, "", nil); err != nil {
				t.Fatal(err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if e.count("events") != events || e.count("webhook_deliveries") != deliveries || e.auditCount() != audits {
			t.Fatal("a rolled-back change left an event, a delivery or an audit row")
		}
		// A refused change emits nothing either.
		_, err = e.svcs.Rounds.TransitionRound(e.as("pm-industry"), re.round.ID, planning.RoundCounterproposals, "", nil)
		wantCode(t, err, planning.EFORBIDDEN)
		if e.count("events") != events {
			t.Fatal("a refused change emitted an event")
		}
		if _, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil); err != nil {
			t.Fatal(err)
		}
		evs, _, err = e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{AfterID: evs[len(evs)-1].ID})
		if err != nil || len(evs) != 1 || evs[0].Type != planning.EventRoundPhaseChanged {
			t.Fatalf("after the commit: %v %v", evs, err)
		}
		if e.count("webhook_deliveries") != deliveries+1 {
			t.Fatal("the committed change queued no delivery, or queued one for the filtered endpoint")
		}
	})
}

// TestEventsAreScoped checks that a branch manager's stream holds the
// round's events and their own branch's, never another branch's, and that
// paths show from the scope's root.
func TestEventsAreScoped(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		line := []planning.LineInput{{ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod,
			Proposed: dec("50000.00"), Reason: "two big customers left"}}
		for _, b := range []struct{ user, unit string }{{"bm-sh", "B-SH"}, {"bm-js", "B-JS"}} {
			cp, err := e.svcs.Proposals.CreateCounterproposal(e.as(b.user), vid, re.unitID(b.unit), "", line)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svcs.Proposals.Submit(e.as(b.user), cp.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		all, allRead, err := e.svcs.Events.FindEvents(e.as("pm-industry"), planning.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		mine, mineRead, err := e.svcs.Events.FindEvents(e.as("bm-sh"), planning.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Both read the whole outbox, so both positions are past its
		// newest event, the one Shanghai may not see (Jiangsu's
		// submission) included: a scoped reader's next read does not
		// read it again. FromNewest finds the same position, no events.
		newest, newestAt, err := e.svcs.Events.FindEvents(e.as("bm-sh"), planning.EventFilter{FromNewest: true, AfterID: 1})
		if err != nil {
			t.Fatal(err)
		}
		if allRead != all[len(all)-1].ID || mineRead != allRead || mine[len(mine)-1].ID >= mineRead {
			t.Fatalf("positions: product manager read to %d (last %d), Shanghai read to %d (last %d)", allRead, all[len(all)-1].ID, mineRead, mine[len(mine)-1].ID)
		}
		if len(newest) != 0 || newestAt != allRead {
			t.Fatalf("FromNewest: %d events at %d, want none at %d", len(newest), newestAt, allRead)
		}
		if again, at, err := e.svcs.Events.FindEvents(e.as("bm-sh"), planning.EventFilter{AfterID: mineRead}); err != nil || len(again) != 0 || at != mineRead {
			t.Fatalf("read again from %d: %d events, at %d (%v)", mineRead, len(again), at, err)
		}
		submitted := func(evs []*planning.Event) int {
			n := 0
			for _, ev := range evs {
				if ev.Type == planning.EventCounterproposalSubmit {
					n++
				}
			}
			return n
		}
		if submitted(all) != 2 || submitted(mine) != 1 {
			t.Fatalf("submitted events: product manager %d, Shanghai %d", submitted(all), submitted(mine))
		}
		sh := e.unit("B-SH")
		for _, ev := range mine {
			if ev.OrgPath != "" && ev.OrgPath != "/"+itoa(sh.ID)+"/" {
				t.Fatalf("Shanghai sees path %q", ev.OrgPath)
			}
			if !slices.Contains([]planning.EventType{planning.EventRoundCreated, planning.EventRoundOpened, planning.EventVersionCreated,
				planning.EventAllocationSaved, planning.EventRoundPhaseChanged, planning.EventCounterproposalSubmit}, ev.Type) {
				t.Fatalf("unexpected %s", ev.Type)
			}
		}
	})
}

// TestWebhookEndpointsAdminOnly checks who manages endpoints, and that a
// refused or invalid change leaves nothing behind.
func TestWebhookEndpointsAdminOnly(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ep := &planning.WebhookEndpoint{URL: "https://receiver.example/hook"}
		wantCode(t, e.svcs.Webhooks.CreateWebhookEndpoint(e.as("pm-industry"), ep), planning.EFORBIDDEN)
		wantCode(t, e.svcs.Webhooks.CreateWebhookEndpoint(e.as("strategy"), &planning.WebhookEndpoint{URL: "ftp://x"}), planning.EINVALID)
		wantCode(t, e.svcs.Webhooks.CreateWebhookEndpoint(e.as("strategy"),
			&planning.WebhookEndpoint{URL: "https://x.example", EventTypes: []planning.EventType{"nope"}}), planning.EINVALID)
		if e.count("webhook_endpoints") != 0 {
			t.Fatal("a refused create wrote")
		}
		if err := e.svcs.Webhooks.CreateWebhookEndpoint(e.as("strategy"), ep); err != nil {
			t.Fatal(err)
		}
		old := ep.Secret
		rot, err := e.svcs.Webhooks.RotateWebhookSecret(e.as("admin"), ep.ID, time.Hour)
		if err != nil || rot.Secret == old || rot.PreviousSecret == nil || *rot.PreviousSecret != old {
			t.Fatalf("rotate: %+v %v", rot, err)
		}
		paused := planning.EndpointPaused
		if _, err := e.svcs.Webhooks.UpdateWebhookEndpoint(e.as("admin"), ep.ID, planning.WebhookEndpointUpdate{Status: &paused, IfMatch: &ep.Revision}); err == nil {
			t.Fatal("a stale If-Match was taken")
		}
		up, err := e.svcs.Webhooks.UpdateWebhookEndpoint(e.as("admin"), ep.ID, planning.WebhookEndpointUpdate{Status: &paused})
		if err != nil || up.Status != planning.EndpointPaused {
			t.Fatalf("pause: %v", err)
		}
		// A paused endpoint's deliveries wait: nothing is claimed.
		_ = openRound(t, e)
		out, err := sqlstore.NewDeliveryQueue(e.db).ClaimDeliveries(context.Background(), 10, time.Minute)
		if err != nil || len(out) != 0 || e.count("webhook_deliveries") == 0 {
			t.Fatalf("paused endpoint: claimed %d, %v", len(out), err)
		}
		if err := e.svcs.Webhooks.DeleteWebhookEndpoint(e.as("admin"), ep.ID); err != nil {
			t.Fatal(err)
		}
		if e.count("webhook_deliveries") != 0 {
			t.Fatal("deleting the endpoint left its deliveries")
		}
	})
}

// TestEditsAndCommentsAreEvents checks that the changes a screen shows
// besides allocations and decisions report events too, so an open console
// follows them: an edit of a version's cells (version-wide) and a
// comment on a counterproposal (its unit's, so another branch never sees it).
func TestEditsAndCommentsAreEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, re.unitID("B-SH"), "", []planning.LineInput{{
			ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod, Proposed: dec("50000.00"), Reason: "r"}})
		if err != nil {
			t.Fatal(err)
		}
		last := func(user string) int64 {
			evs, _, err := e.svcs.Events.FindEvents(e.as(user), planning.EventFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				return 0
			}
			return evs[len(evs)-1].ID
		}
		fromSH, fromJS := last("bm-sh"), last("bm-js")
		if _, err := e.svcs.Proposals.AddComment(e.as("bm-sh"), cp.ID, "see the file"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs.Targets.EditCells(e.as("strategy"), vid, []planning.CellEdit{{CellKey: planning.CellKey{
			OrgUnitID: re.unitID("B-SH-KA"), ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: 1}, Amount: dec("10.00")}}, nil); err != nil {
			t.Fatal(err)
		}
		sh, _, err := e.svcs.Events.FindEvents(e.as("bm-sh"), planning.EventFilter{AfterID: fromSH})
		if err != nil {
			t.Fatal(err)
		}
		if got := eventTypes(t, sh); !slices.Equal(got, []planning.EventType{planning.EventCounterproposalComment, planning.EventTargetsEdited}) {
			t.Fatalf("Shanghai's events %v", got)
		}
		if sh[0].EntityID != cp.ID || sh[1].VersionID == nil || *sh[1].VersionID != vid {
			t.Fatalf("events about %s %d and version %v", sh[0].Entity, sh[0].EntityID, sh[1].VersionID)
		}
		js, _, err := e.svcs.Events.FindEvents(e.as("bm-js"), planning.EventFilter{AfterID: fromJS})
		if err != nil {
			t.Fatal(err)
		}
		if got := eventTypes(t, js); !slices.Equal(got, []planning.EventType{planning.EventTargetsEdited}) {
			t.Fatalf("Jiangsu's events %v: another branch's comment must not reach it", got)
		}
	})
}

// TestEventsBecomeVisibleInIDOrder: a reader that follows the outbox by id
// (the event stream, the mail cursor) never passes an event that commits
// later. A transaction that emits an event and stays open while another
// emits and commits its own must not leave its event behind a position
// the reader has already passed. On SQLite the single writer orders them;
// on PostgreSQL the events are written last, under a lock held to the
// commit (emitEvent).
func TestEventsBecomeVisibleInIDOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		if e.db.Dialect() != sqlstore.Postgres {
			t.Skip("SQLite runs one write transaction at a time: ids commit in order")
		}
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		line := []planning.LineInput{{ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod,
			Proposed: dec("50000.00"), Reason: "two big customers left"}}
		_, start, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{FromNewest: true})
		if err != nil {
			t.Fatal(err)
		}
		emitted, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- e.db.Atomically(e.as("bm-sh"), func(ctx context.Context) error {
				cp, err := e.svcs.Proposals.CreateCounterproposal(ctx, vid, re.unitID("B-SH"), "", line)
				if err == nil {
					_, err = e.svcs.Proposals.Submit(ctx, cp.ID, nil)
				}
				close(emitted)
				<-release
				return err
			})
		}()
		<-emitted
		cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-js"), vid, re.unitID("B-JS"), "", line)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs.Proposals.Submit(e.as("bm-js"), cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		first, pos, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{AfterID: start})
		if err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		later, _, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{AfterID: pos})
		if err != nil {
			t.Fatal(err)
		}
		submitted := map[string]int{}
		for _, ev := range append(first, later...) {
			if ev.Type == planning.EventCounterproposalSubmit {
				submitted[ev.OrgPath]++
			}
		}
		all, _, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{AfterID: start})
		if err != nil {
			t.Fatal(err)
		}
		if len(first)+len(later) != len(all) || len(submitted) != 2 {
			t.Fatalf("a reader following the outbox saw %d events then %d (submissions by unit %v); the outbox holds %d since the start",
				len(first), len(later), submitted, len(all))
		}
	})
}

// TestUndoneWritesEmitNoEvents: a dry run of a cell write and a decision
// preview run the write inside a savepoint they roll back; the events the
// write emitted go with it, also when the transaction goes on (a request's
// Idempotency-Key) and commits. No event of an undone write reaches a
// reader, a webhook or the mail.
func TestUndoneWritesEmitNoEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		vid := *re.round.WorkingVersionID
		line := []planning.LineInput{{ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod,
			Proposed: dec("50000.00"), Reason: "two big customers left"}}
		cp, err := e.svcs.Proposals.CreateCounterproposal(e.as("bm-sh"), vid, re.unitID("B-SH"), "", line)
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = e.svcs.Proposals.Submit(e.as("bm-sh"), cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		_, start, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{FromNewest: true})
		if err != nil {
			t.Fatal(err)
		}
		pm := e.as("pm-industry")
		edit := []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH"), ProductLineID: re.lines["POS"].ID,
			MeasureID: re.revenue.ID, Period: 3}, Amount: dec("1234.00")}}
		undone := func(ctx context.Context) error {
			if _, err := e.svcs.Targets.WriteCells(ctx, planning.CellWrite{VersionID: vid, Edits: edit, DryRun: true}); err != nil {
				return err
			}
			_, err := e.svcs.Proposals.PreviewDecision(ctx, cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID, Action: planning.DecisionAccept}})
			return err
		}
		if err := undone(pm); err != nil {
			t.Fatal(err)
		}
		// In one transaction that goes on and commits, as an idempotent
		// request's does.
		if err := e.db.Atomically(pm, undone); err != nil {
			t.Fatal(err)
		}
		evs, _, err := e.svcs.Events.FindEvents(e.as("strategy"), planning.EventFilter{AfterID: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			t.Errorf("an undone write emitted %s (entity %s %d, audit %d)", ev.Type, ev.Entity, ev.EntityID, ev.AuditID)
		}
	})
}
