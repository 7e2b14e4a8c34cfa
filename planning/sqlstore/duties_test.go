package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// grant gives a demo user one more unscoped role.
func (e *env) grant(t *testing.T, username string, role planning.Role) {
	t.Helper()
	users, _, err := e.svcs.Users.FindUsers(e.as("admin"), planning.UserFilter{Username: username})
	if err != nil || len(users) != 1 {
		t.Fatalf("user %s: %v", username, err)
	}
	if err := e.svcs.Users.AddRole(e.as("admin"), &planning.RoleAssignment{UserID: users[0].ID, Role: role}); err != nil {
		t.Fatal(err)
	}
}

// TestSeparationOfDuties: one person holding two roles of the chain never
// acts on two steps of one version's chain, submit included, in any pass;
// a round made stricter keeps people apart across its versions; a round
// under way only becomes stricter; refusals say why and are audited.
func TestSeparationOfDuties(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := toCounterproposals(t, e)
		e.grant(t, "sales-director", planning.RoleMarketingDirector)
		e.grant(t, "sales-director", planning.RoleProductManager)
		e.grant(t, "marketing-director", planning.RolePresident)
		vid := *re.round.WorkingVersionID
		if _, err := e.svcs.Rounds.TransitionRound(e.as("strategy"), re.round.ID, planning.RoundReview, "", nil); err != nil {
			t.Fatal(err)
		}
		act := func(user string, v int64, action, comment string) error {
			_, err := e.svcs.Approvals.Act(e.as(user), v, action, comment, nil)
			return err
		}
		refused := func(err error, want string) {
			t.Helper()
			wantCode(t, err, planning.EFORBIDDEN)
			if !strings.Contains(planning.ErrorMessage(err), want) {
				t.Fatalf("refusal %q does not say %q", planning.ErrorMessage(err), want)
			}
		}
		if err := act("pm-industry", vid, planning.ActSubmit, "the plan"); err != nil {
			t.Fatal(err)
		}
		if err := act("sales-director", vid, planning.ActApprove, "step 2"); err != nil {
			t.Fatal(err)
		}
		// Step 3 is the marketing director's; the sales director holds
		// that role too, but took step 2.
		refused(act("sales-director", vid, planning.ActApprove, "step 3 too"), "you approved step 2 of this version's chain")
		refused(act("sales-director", vid, planning.ActReject, "no"), "separation of duties")
		if err := act("marketing-director", vid, planning.ActReject, "Q1 is too light"); err != nil {
			t.Fatal(err)
		}
		// A new pass: the sales director, a product manager too, may not
		// submit what they reviewed, whatever the state.
		refused(act("sales-director", vid, planning.ActSubmit, "fixed"), "you approved step 2")
		if err := act("pm-industry", vid, planning.ActSubmit, "fixed"); err != nil {
			t.Fatal(err)
		}
		// The same step again in a later pass is fine.
		if err := act("sales-director", vid, planning.ActApprove, "step 2 again"); err != nil {
			t.Fatal(err)
		}
		// The marketing director rejected step 3 in the first pass; they
		// hold the president's role but may not take step 4.
		if err := act("marketing-director", vid, planning.ActApprove, "step 3"); err != nil {
			t.Fatal(err)
		}
		refused(act("marketing-director", vid, planning.ActApprove, "and 4"), "you rejected step 3")
		if err := act("president", vid, planning.ActApprove, "signed"); err != nil {
			t.Fatal(err)
		}

		// Refusals are audited with the reason; acts record the level.
		all, _, err := e.svcs.Audit.FindAuditEvents(e.as("auditor"), planning.AuditFilter{VersionID: &vid, Page: planning.PageRequest{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		var evs []*planning.AuditEvent
		acts := 0
		for _, ev := range all {
			switch {
			case ev.Action == "approval.refused":
				evs = append(evs, ev)
			case strings.HasPrefix(ev.Action, "approval."):
				acts++
				if !strings.Contains(string(ev.After), `"separation_of_duties":"version"`) {
					t.Fatalf("act audited without the level in force: %s", ev.After)
				}
			}
		}
		if len(evs) != 4 || acts != 7 {
			t.Fatalf("%d refusals and %d acts audited, want 4 and 7", len(evs), acts)
		}
		for _, ev := range evs {
			if !strings.Contains(string(ev.After), "separation of duties") || ev.ActorID == nil {
				t.Fatalf("refusal audited without its reason or actor: %s", ev.After)
			}
		}

		// The round under way: looser is refused, stricter is fine.
		loose, strict := planning.SeparateWithinVersion, planning.SeparateWithinRound
		r, err := e.svcs.Rounds.UpdateRound(e.as("strategy"), re.round.ID, planning.RoundUpdate{SeparationOfDuties: &strict})
		if err != nil || r.SeparationOfDuties != strict {
			t.Fatalf("tighten: %v", err)
		}
		_, err = e.svcs.Rounds.UpdateRound(e.as("strategy"), re.round.ID, planning.RoundUpdate{SeparationOfDuties: &loose})
		wantCode(t, err, planning.ECONFLICT)
		bad := planning.DutySeparation("none")
		_, err = e.svcs.Rounds.UpdateRound(e.as("strategy"), re.round.ID, planning.RoundUpdate{SeparationOfDuties: &bad})
		wantCode(t, err, planning.EINVALID)

		// Under "round", a re-forecast keeps the people of the first
		// version's chain on their steps: pm-industry submitted version 1,
		// so it may not approve anything in the round.
		v2, err := e.svcs.Versions.CopyVersion(e.as("pm-industry"), vid, "re-forecast", "")
		if err != nil {
			t.Fatal(err)
		}
		refused(act("sales-director", v2.ID, planning.ActSubmit, ""), "version "+itoa(vid)+" of this round")
		if err := act("pm-agency", v2.ID, planning.ActSubmit, ""); err != nil {
			t.Fatal(err)
		}
		if err := act("sales-director", v2.ID, planning.ActApprove, ""); err != nil {
			t.Fatal(err)
		}
	})
}
