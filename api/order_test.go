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
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		vid, rid := *round.WorkingVersionID, round.ID
		if st, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "1200000.00", false); st != 201 {
			t.Fatalf("cascade: %d %s", st, body)
		}
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
		// Every attempt is refused the same with any If-Match, a stale one
		// included: authorization comes before the revision too.
		check := func(state string, as []attempt) {
			t.Helper()
			for _, a := range as {
				for _, im := range []string{"*", `"999"`} {
					r := env.Request(a.method, a.path, apitest.Token(a.user), a.body, map[string]string{"If-Match": im})
					if r.Status != 403 {
						t.Errorf("%s, %s (If-Match %s): %d, want 403: %s", state, a.name, im, r.Status, r.Body)
					}
				}
			}
		}
		// The round's moves and changes, by people who make none of them,
		// to every phase: 403 whatever the round's phase.
		roundAttempts := func(id int64) []attempt {
			p := fmt.Sprintf("/api/v1/rounds/%d", id)
			var out []attempt
			for _, u := range []string{"bm-sh", "auditor", "pm-industry", "sales-director"} {
				for _, to := range []string{"draft", "open", "counterproposals", "review", "closed", "sideways"} {
					out = append(out, attempt{u + " moves it to " + to, u, "POST", p + "/transitions", map[string]any{"to": to}})
				}
				out = append(out, attempt{u + " renames it", u, "PATCH", p, map[string]any{"name": "x"}},
					attempt{u + " changes its chain", u, "PATCH", p, map[string]any{"approval_chain": []any{}}})
			}
			return append(out, attempt{"the president opens it", "president", "POST", p + "/transitions", map[string]any{"to": "open"}})
		}
		// Drafting a counterproposal, by people who manage no unit, valid
		// or not: 403 whatever the round's phase.
		createAttempts := []attempt{}
		for _, u := range []string{"pm-industry", "strategy", "auditor"} {
			for _, title := range []string{"t", ""} {
				createAttempts = append(createAttempts, attempt{u + " drafts for B-SH, title " + title, u, "POST",
					fmt.Sprintf("/api/v1/versions/%d/counterproposals", vid), map[string]any{"org_unit": "B-SH", "title": title,
						"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "1.00", "reason": "r"}}}})
			}
		}
		var draftRound api.Round
		call("strategy", "POST", "/api/v1/rounds", map[string]any{"code": "FY2099", "name": "Draft", "fiscal_year": 2099, "first_month": 1,
			"measures": []string{"revenue"}}, 201).Decode(t, &draftRound)
		check("round draft", roundAttempts(draftRound.ID))
		check("round open", append(roundAttempts(rid), createAttempts...))
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "counterproposals"}, 200)
		check("round in counterproposals", append(roundAttempts(rid), createAttempts...))
		// The moves listed with a counterproposal and an approval are the
		// state machine's from where it stands.
		wantActions := func(path string, want ...string) {
			t.Helper()
			var got struct {
				PossibleActions []api.PossibleAction `json:"possible_actions"`
			}
			call("strategy", "GET", path, nil, 200).Decode(t, &got)
			var acts []string
			for _, a := range got.PossibleActions {
				acts = append(acts, a.Action)
			}
			if fmt.Sprint(acts) != fmt.Sprint(want) {
				t.Errorf("%s: possible actions %v, want %v", path, acts, want)
			}
		}
		cpPath := func(id int64) string { return fmt.Sprintf("/api/v1/counterproposals/%d", id) }
		approvalPath := fmt.Sprintf("/api/v1/versions/%d/approval", vid)
		draft, dl := newCP()
		check("draft", cpAttempts(draft, dl))
		wantActions(cpPath(draft), "update", "submit", "withdraw")
		sub, sl := newCP()
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", sub), nil, 200)
		check("submitted", cpAttempts(sub, sl))
		wantActions(cpPath(sub), "withdraw", "decide")
		wd, wl := newCP()
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/withdraw", wd), nil, 200)
		check("withdrawn", cpAttempts(wd, wl))
		wantActions(cpPath(wd))
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", sub), map[string]any{
			"decisions": []map[string]any{{"line_id": sl, "decision": "reject", "comment": "no"}}}, 200)
		check("closed", cpAttempts(sub, sl))
		wantActions(cpPath(sub))
		wantActions(approvalPath, "submit")

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
		check("round in review", append(roundAttempts(rid), createAttempts...))
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "submit"}, 200)
		wantActions(approvalPath, "approve", "reject", "reopen")
		check("in approval", append(approvalAttempts, act("president", "approve", ""), act("pm-industry", "approve", "")))
		for _, u := range []string{"sales-director", "marketing-director", "president"} {
			call(u, "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "approve"}, 200)
		}
		check("approved", approvalAttempts)
		wantActions(approvalPath)
		check("round approved", append(roundAttempts(rid), createAttempts...))
		// Someone with the right, out of turn, still learns the state.
		call("president", "POST", fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid), map[string]any{"action": "approve"}, 409)
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "open"}, 409)
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "closed"}, 200)
		check("round closed", append(append(roundAttempts(rid), createAttempts...), approvalAttempts...))
		call("strategy", "PATCH", fmt.Sprintf("/api/v1/rounds/%d", rid), map[string]any{"name": "x"}, 409)
	})
}
