package api_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestDecisionPreview previews accept-with-rebalance and raise-parent on a
// counterproposal line: rebalance moves the siblings and keeps the parent,
// raise_parent moves the parent and the ancestors; a preview changes
// nothing, and the decision made afterwards does what the preview said.
func TestDecisionPreview(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		round := openDemoRound(t, env, "PREVIEW")
		vid := *round.WorkingVersionID
		// No buffer, so raising the parent is allowed.
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), map[string]any{
			"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1200000.00"}},
			"levels":  []map[string]any{{"method": "even"}, {"method": "even"}, {"method": "even"}},
			"phasing": map[string]any{"method": "even"}}, 201)
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), map[string]any{"to": "counterproposals"}, 200)
		var cp api.Counterproposal
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", vid), map[string]any{
			"org_unit": "B-SH", "title": "more",
			"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": "90000.00", "reason": "r"}},
		}, 201).Decode(t, &cp)
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", cp.ID), nil, 200)
		delta := decimal.RequireFromString(cp.Lines[0].Delta)
		var v0 api.Version
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d", vid), nil, 200).Decode(t, &v0)

		preview := func(apply string) map[string]api.DecisionEffect {
			var p api.DecisionPreview
			call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision/preview", cp.ID), map[string]any{
				"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept", "apply": apply}}}, 200).Decode(t, &p)
			out := map[string]api.DecisionEffect{}
			for _, e := range p.Items {
				out[e.Relation+":"+e.OrgUnit] = e
			}
			return out
		}
		rb := preview("rebalance")
		if rb["unit:B-SH"].Delta != delta.StringFixed(2) || rb["unit:B-SH"].OrgUnitName != "Shanghai branch" {
			t.Errorf("rebalance: the unit %+v, want delta %s", rb["unit:B-SH"], delta)
		}
		if rb["parent:R-EAST"].Delta != "0.00" {
			t.Errorf("rebalance moved the parent: %+v", rb["parent:R-EAST"])
		}
		siblings := decimal.Zero
		for k, e := range rb {
			if len(k) > 8 && k[:8] == "sibling:" {
				siblings = siblings.Add(decimal.RequireFromString(e.Delta))
			}
		}
		if !siblings.Equal(delta.Neg()) {
			t.Errorf("rebalance: the siblings move %s, want %s", siblings, delta.Neg())
		}
		rp := preview("raise_parent")
		if rp["parent:R-EAST"].Delta != delta.StringFixed(2) || rp["ancestor:CO"].Delta != delta.StringFixed(2) {
			t.Errorf("raise_parent: parent %+v, company %+v, want both +%s", rp["parent:R-EAST"], rp["ancestor:CO"], delta)
		}
		for k := range rp {
			if len(k) > 8 && k[:8] == "sibling:" {
				t.Errorf("raise_parent moved a sibling: %s", k)
			}
		}

		// Nothing changed: the version, the counterproposal.
		var v1 api.Version
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d", vid), nil, 200).Decode(t, &v1)
		var again api.Counterproposal
		call("pm-industry", "GET", fmt.Sprintf("/api/v1/counterproposals/%d", cp.ID), nil, 200).Decode(t, &again)
		if v1.Revision != v0.Revision || again.Status != "submitted" || again.Lines[0].Decision != "" {
			t.Fatalf("a preview changed something: version %d→%d, %+v", v0.Revision, v1.Revision, again)
		}
		// With an Idempotency-Key the request runs in one transaction that
		// commits: the preview still changes nothing.
		r := env.Request("POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision/preview", cp.ID), apitest.Token("pm-industry"),
			map[string]any{"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept"}}}, map[string]string{"Idempotency-Key": "preview-1"})
		if r.Status != 200 {
			t.Fatalf("preview with a key: %d %s", r.Status, r.Body)
		}
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d", vid), nil, 200).Decode(t, &v1)
		if v1.Revision != v0.Revision {
			t.Fatalf("a preview with an Idempotency-Key changed the version: %d→%d", v0.Revision, v1.Revision)
		}
		// Errors are Decide's: another manager's line.
		call("pm-agency", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision/preview", cp.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept"}}}, 403)

		// The decision does what the preview said.
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", cp.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": cp.Lines[0].ID, "decision": "accept", "apply": "rebalance"}}}, 200)
		grid := readGrid(t, env, "strategy", vid, "measure=revenue&grain=year&product_line=POS")
		for k, e := range rb {
			code := k[len(e.Relation)+1:]
			if got := grid[code+"/POS/revenue"][0].StringFixed(2); got != e.After {
				t.Errorf("after the decision %s = %s, the preview said %s", code, got, e.After)
			}
		}
	})
}
