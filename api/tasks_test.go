package api_test

import (
	"fmt"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestMyTasks follows a round through its phases and checks what each
// person's "my work" shows at every step, and what it must not show.
func TestMyTasks(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		tasks := func(user string) []api.Task {
			t.Helper()
			var l api.TaskList
			env.GetJSON(user, "/api/v1/me/tasks", &l)
			// Every task's link opens, for its person, where it is done.
			for _, x := range l.Items {
				if r := env.Request("GET", x.Link, apitest.Token(user), nil, nil); r.Status != 200 {
					t.Errorf("%s's %s task links to %s: %d", user, x.Kind, x.Link, r.Status)
				}
			}
			return l.Items
		}
		kinds := func(user string) []string {
			t.Helper()
			var out []string
			for _, x := range tasks(user) {
				out = append(out, x.Kind)
			}
			return out
		}
		expect := func(user string, want ...string) {
			t.Helper()
			if got := kinds(user); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s's tasks: %v, want %v", user, got, want)
			}
		}

		round := openDemoRound(t, env, "TASKS")
		expect("bm-sh")
		cascadeRevenue(t, env, "pm-industry", *round.WorkingVersionID, "POS", "1200000.00", false)
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), map[string]any{"to": "counterproposals"}, 200)
		var r api.Round
		call("strategy", "GET", fmt.Sprintf("/api/v1/rounds/%d", round.ID), nil, 200).Decode(t, &r)
		vid := *r.WorkingVersionID

		ts := tasks("bm-sh")
		if len(ts) != 1 || ts[0].Kind != "review_targets" || ts[0].OrgUnitCode == nil || *ts[0].OrgUnitCode != "B-SH" ||
			ts[0].OrgUnitNameLocal == nil || *ts[0].OrgUnitNameLocal == "" || ts[0].Due == nil || ts[0].RoundName != "Plan TASKS" {
			t.Fatalf("bm-sh tasks %+v", ts)
		}
		expect("pm-industry")

		var cp api.Counterproposal
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", vid), map[string]any{
			"org_unit": "B-SH", "title": "Shanghai asks less",
			"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "1000.00", "reason": "r"}},
		}, 201).Decode(t, &cp)
		expect("bm-sh", "review_targets", "submit_counterproposal")
		expect("bm-js", "review_targets") // another branch's draft is not theirs
		expect("pm-industry")             // a draft is not in the inbox

		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", cp.ID), nil, 200)
		ts = tasks("pm-industry")
		if len(ts) != 1 || ts[0].Kind != "decide_counterproposal" || ts[0].Undecided != 1 || ts[0].CounterproposalTitle == nil ||
			*ts[0].CounterproposalTitle != "Shanghai asks less" || *ts[0].OrgUnitCode != "B-SH" {
			t.Fatalf("pm-industry tasks %+v", ts)
		}
		expect("pm-agency") // not their product line

		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", cp.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "reject", "comment": "no"}}}, 200)
		expect("pm-industry")

		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), map[string]any{"to": "review"}, 200)
		expect("pm-industry", "submit_version")
		expect("bm-sh")
		call("pm-commercial", "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "submit"}, 200)
		expect("pm-industry")
		ts = tasks("sales-director")
		if len(ts) != 1 || ts[0].Kind != "approve_version" || ts[0].StepRole == nil || *ts[0].StepRole != "sales_director" {
			t.Fatalf("sales-director tasks %+v", ts)
		}
		expect("marketing-director")
		expect("auditor")
	})
}
