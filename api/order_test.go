package api_test

import (
	"fmt"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestForbiddenBeforeConflict: checks run in one order, authenticate →
// authorize → state → validate, so a user without the right to an approval
// action or a counterproposal change gets 403 in every state of the
// version or the counterproposal, never the 409 (or 422) that would tell
// them where it stands.
func TestForbiddenBeforeConflict(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := func(user, method, path string, body any, want int) *apitest.Response {
			t.Helper()
			r := env.Request(method, path, apitest.Token(user), body, nil)
			if r.Status != want {
				t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, r.Status, want, r.Body)
			}
			return r
		}
		round := openDemoRound(t, env, "FY2027")
		vid, rid := *round.WorkingVersionID, round.ID
		if st, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "1200000.00", false); st != 201 {
			t.Fatalf("cascade: %d %s", st, body)
		}
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "counterproposals"}, 200)
		newCP := func() (int64, int64) {
			var cp api.Counterproposal
			call("bm-sh", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", vid), map[string]any{
				"org_unit": "B-SH", "title": "Shanghai", "lines": []map[string]any{{"product_line": "POS", "measure": "revenue",
					"period": "year", "proposed": "1.00", "reason": "r"}}}, 201).Decode(t, &cp)
			return cp.ID, cp.Lines[0].ID
		}
		type attempt struct {
			name, user, method, path string
			body                     any
		}
		cpAttempts := func(id, line int64) []attempt {
			p := fmt.Sprintf("/api/v1/counterproposals/%d", id)
			return []attempt{
				{"edit by a reader who is not its author", "strategy", "PATCH", p, map[string]any{"title": "x"}},
				{"edit by a product manager", "pm-industry", "PATCH", p, map[string]any{"title": "x"}},
				{"submit by a product manager", "pm-industry", "POST", p + "/submit", nil},
				{"withdraw by the auditor", "auditor", "POST", p + "/withdraw", nil},
				{"decide by the branch", "bm-sh", "POST", p + "/decision", map[string]any{"decisions": []map[string]any{{"line_id": line, "decision": "accept"}}}},
				{"decide another manager's line", "pm-agency", "POST", p + "/decision", map[string]any{"decisions": []map[string]any{{"line_id": line, "decision": "accept"}}}},
				{"decide another manager's line, invalidly", "pm-agency", "POST", p + "/decision", map[string]any{"decisions": []map[string]any{{"line_id": line, "decision": "modify"}}}},
			}
		}
		check := func(state string, as []attempt) {
			t.Helper()
			for _, a := range as {
				r := env.Request(a.method, a.path, apitest.Token(a.user), a.body, map[string]string{"If-Match": "*"})
				if r.Status != 403 {
					t.Errorf("%s, %s: %d, want 403: %s", state, a.name, r.Status, r.Body)
				}
			}
		}
		draft, dl := newCP()
		check("draft", cpAttempts(draft, dl))
		sub, sl := newCP()
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", sub), nil, 200)
		check("submitted", cpAttempts(sub, sl))
		wd, wl := newCP()
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/withdraw", wd), nil, 200)
		check("withdrawn", cpAttempts(wd, wl))
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", sub), map[string]any{
			"decisions": []map[string]any{{"line_id": sl, "decision": "reject", "comment": "no"}}}, 200)
		check("closed", cpAttempts(sub, sl))

		act := func(user, action, comment string) attempt {
			return attempt{user + " " + action, user, "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid),
				map[string]any{"action": action, "comment": comment}}
		}
		approvalAttempts := []attempt{
			act("sales-director", "submit", ""),
			act("bm-sh", "approve", ""),
			act("auditor", "reject", ""), // no reason either: still 403
			act("tl-sh-ka", "reject", "why"),
			act("bm-sh", "reopen", ""),
			act("pm-agency", "reopen", ""),
		}
		check("round in counterproposals", approvalAttempts)
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "review"}, 200)
		check("outside the chain", approvalAttempts)
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "submit"}, 200)
		check("in approval", append(approvalAttempts, act("president", "approve", ""), act("pm-industry", "approve", "")))
		for _, u := range []string{"sales-director", "marketing-director", "president"} {
			call(u, "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "approve"}, 200)
		}
		check("approved", approvalAttempts)
		// Someone with the right, out of turn, still learns the state.
		call("president", "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "approve"}, 409)
	})
}
