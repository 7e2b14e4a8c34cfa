package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestSeparationOfDutiesOverHTTP: the round shows its level of separation;
// a round under way only becomes stricter; a sales director who is also the
// marketing director approves one step and is refused the next with a 403
// problem that says why.
func TestSeparationOfDutiesOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		if round.SeparationOfDuties != "version" {
			t.Fatalf("default level %q", round.SeparationOfDuties)
		}
		rp := fmt.Sprintf("/api/v1/rounds/%d", round.ID)
		call("strategy", "PATCH", rp, map[string]any{"separation_of_duties": "none"}, 422)
		call("strategy", "PATCH", rp, map[string]any{"separation_of_duties": "round"}, 200)
		call("strategy", "PATCH", rp, map[string]any{"separation_of_duties": "version"}, 409)
		var users api.UserPage
		call("admin", "GET", "/api/v1/users?username=sales-director", nil, 200).Decode(t, &users)
		call("admin", "POST", fmt.Sprintf("/api/v1/users/%d/roles", users.Items[0].ID), map[string]any{"role": "marketing_director"}, 201)

		vid := *round.WorkingVersionID
		if st, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "1200000.00", false); st != 201 {
			t.Fatalf("cascade: %d %s", st, body)
		}
		call("strategy", "POST", rp+"/transitions", map[string]any{"to": "counterproposals"}, 200)
		call("strategy", "POST", rp+"/transitions", map[string]any{"to": "review"}, 200)
		ap := fmt.Sprintf("/api/v1/versions/%d/approval/actions", vid)
		call("pm-industry", "POST", ap, map[string]any{"action": "submit"}, 200)
		call("sales-director", "POST", ap, map[string]any{"action": "approve"}, 200)
		r := call("sales-director", "POST", ap, map[string]any{"action": "approve"}, 403)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") || !strings.Contains(string(r.Body), "separation of duties") ||
			!strings.Contains(string(r.Body), "you approved step 2") {
			t.Fatalf("refusal does not say why: %s", r.Body)
		}
		var audit api.AuditEventPage
		call("auditor", "GET", fmt.Sprintf("/api/v1/audit?round=%d", round.ID), nil, 200).Decode(t, &audit)
		found := false
		for _, ev := range audit.Items {
			found = found || ev.Action == "approval.refused"
		}
		if !found {
			t.Fatalf("the refusal is not in the audit trail")
		}
		call("marketing-director", "POST", ap, map[string]any{"action": "approve"}, 200)
		call("president", "POST", ap, map[string]any{"action": "approve"}, 200)
	})
}
