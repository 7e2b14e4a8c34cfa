package api_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestDryRunExplainsAsTheSavedRun previews an allocation with explain_under
// (two levels, weights, a buffer, a lock and a profile) and then saves the
// same request: the preview's explanation of every child of each unit is
// the saved run's (GET /allocations/{id}?explain_under=), field for field,
// months included. A bad explain_under is 422 naming the field and saves
// nothing.
func TestDryRunExplainsAsTheSavedRun(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		v := *round.WorkingVersionID
		body := func(dry bool, under string) map[string]any {
			b := jobBody("POS", "12000000.00", "CO")
			b["locks"] = []string{"B-JS"}
			b["dry_run"] = dry
			if under != "" {
				b["explain_under"] = under
			}
			return b
		}
		path := fmt.Sprintf("/api/v1/versions/%d/allocations", v)
		previews := map[string][]api.NodeExplanation{}
		for _, under := range []string{"CO", "R-EAST", "B-SH"} {
			var p api.AllocationResponse
			call("pm-industry", "POST", path, body(true, under), 200).Decode(t, &p)
			if len(p.Run.Explanation) == 0 || p.Run.ID != 0 || !p.Run.DryRun || p.Run.Replayed != nil {
				t.Fatalf("preview explained under %s: %+v", under, p.Run)
			}
			previews[under] = p.Run.Explanation
		}
		// Without explain_under a preview carries no explanation, as before.
		var plain api.AllocationResponse
		call("pm-industry", "POST", path, body(true, ""), 200).Decode(t, &plain)
		if plain.Run.Explanation != nil {
			t.Fatalf("an unexplained preview: %+v", plain.Run.Explanation)
		}

		var versionBefore api.Version
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d", v), &versionBefore)
		for name, c := range map[string]struct {
			body  map[string]any
			field string
		}{
			"explain_under with a saved run": {body(false, "CO"), "explain_under"},
			"an unknown unit":                {body(true, "NOPE"), "explain_under"},
		} {
			r := env.Request("POST", path, apitest.Token("pm-industry"), c.body, nil)
			var p api.Problem
			r.Decode(t, &p)
			if r.Status != 422 || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		// A unit that exists but is not part of this allocation (the root's
		// parent is none; a unit of another region is no node's parent
		// here when the allocation starts at R-EAST).
		b := body(true, "R-NORTH")
		b["root"] = "R-EAST"
		b["levels"] = []map[string]any{{"method": "even"}}
		b["locks"] = []string{}
		r := env.Request("POST", path, apitest.Token("pm-industry"), b, nil)
		if r.Status != 422 || !json.Valid(r.Body) {
			t.Errorf("explained under a unit outside the allocation: %d %s", r.Status, r.Body)
		} else {
			var p api.Problem
			r.Decode(t, &p)
			if len(p.Errors) == 0 || p.Errors[0].Field != "explain_under" {
				t.Errorf("explained under a unit outside the allocation: %s", r.Body)
			}
		}
		var versionAfter api.Version
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d", v), &versionAfter)
		var runs api.AllocationRunPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/allocations", v), &runs)
		if versionAfter.Revision != versionBefore.Revision || versionAfter.CellCount != versionBefore.CellCount || len(runs.Items) != 0 {
			t.Fatalf("a preview or a refused request changed the version: %+v → %+v, %d runs", versionBefore, versionAfter, len(runs.Items))
		}

		// Saved, the run explains every unit as the preview did.
		var saved api.AllocationResponse
		call("pm-industry", "POST", path, body(false, ""), 201).Decode(t, &saved)
		for under, want := range previews {
			var run api.AllocationRun
			env.GetJSON("pm-industry", fmt.Sprintf("/api/v1/allocations/%d?explain_under=%s", saved.Run.ID, under), &run)
			if run.Replayed == nil || !*run.Replayed {
				t.Fatalf("the saved run did not replay")
			}
			if !reflect.DeepEqual(run.Explanation, want) {
				t.Errorf("under %s: the saved run explains\n%+v\nthe preview explained\n%+v", under, run.Explanation, want)
			}
		}
		if len(previews["R-EAST"]) == 0 || previews["R-EAST"][0].Months == nil || len(previews["R-EAST"][0].Months) != 12 {
			t.Fatalf("the preview's months: %+v", previews["R-EAST"])
		}
	})
}

// TestAllocationJobCarriesItsRequest starts a job and reads it back: GET
// /allocation-jobs/{id} (and the version's job list) carries the request
// with codes as sent, which, sent again as a dry run, computes what the job
// wrote (the same checksum); a branch manager reading the job gets no
// request.
func TestAllocationJobCarriesItsRequest(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		startJobWorker(t, env)
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		v := *round.WorkingVersionID
		sent := jobBody("POS", "12000000.00", "CO")
		sent["locks"] = []string{"B-JS"}
		sent["targets"] = []map[string]any{{"product_line": "POS", "amount": "12000000.00"}, {"product_line": "ATM", "amount": "7654321.09"}}
		var job api.AllocationJob
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v), sent, 202).Decode(t, &job)
		if job.Request == nil {
			t.Fatalf("the accepted job carries no request")
		}
		seen := waitJob(t, env, "pm-industry", job.ID)
		end := seen[len(seen)-1]
		if end.State != "succeeded" || end.Request == nil {
			t.Fatalf("job %+v", end)
		}
		want := api.AllocationRequest{Measure: "revenue", Root: "CO", Locks: []string{"B-JS"},
			Targets: []api.AllocationTarget{{ProductLine: "POS", Amount: "12000000.00"}, {ProductLine: "ATM", Amount: "7654321.09"}},
			Levels: []api.AllocationLevel{
				{Method: "proportional", Weights: []api.UnitValue{{OrgUnit: "NCH", Value: "1"}, {OrgUnit: "NKA", Value: "2"},
					{OrgUnit: "R-EAST", Value: "4"}, {OrgUnit: "R-NORTH", Value: "2"}, {OrgUnit: "R-SOUTH", Value: "1.5"}}},
				{Method: "even", Buffer: "0.05"},
				{Method: "even"},
			},
			Phasing: api.AllocationPhasing{Method: "profile", Profile: "year-end-peak"}}
		norm := func(r api.AllocationRequest) string {
			for i := range r.Levels {
				if len(r.Levels[i].Weights) == 0 {
					r.Levels[i].Weights = nil
				}
				if len(r.Levels[i].Manual) == 0 {
					r.Levels[i].Manual = nil
				}
			}
			b, _ := json.Marshal(r)
			return string(b)
		}
		if norm(*end.Request) != norm(want) || norm(*job.Request) != norm(want) {
			t.Fatalf("the job's request\n%s\nwant\n%s", norm(*end.Request), norm(want))
		}
		var page api.AllocationJobPage
		env.GetJSON("pm-industry", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v), &page)
		if len(page.Items) != 1 || page.Items[0].Request == nil || norm(*page.Items[0].Request) != norm(want) {
			t.Fatalf("listed: %+v", page.Items)
		}
		// Sent again as a dry run, the request computes what the job wrote.
		var run api.AllocationRun
		env.GetJSON("pm-industry", fmt.Sprintf("/api/v1/allocations/%d", *end.RunID), &run)
		again := *end.Request
		again.DryRun = true
		var preview api.AllocationResponse
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", v), again, 200).Decode(t, &preview)
		if preview.Run.Checksum != run.Checksum || preview.Run.CellCount != run.CellCount {
			t.Fatalf("the request sent again: %s (%d cells), the job's run %s (%d cells)", preview.Run.Checksum, preview.Run.CellCount, run.Checksum, run.CellCount)
		}
		// A branch manager sees the job, not what it was asked.
		var scoped api.AllocationJob
		env.GetJSON("bm-sh", fmt.Sprintf("/api/v1/allocation-jobs/%d", job.ID), &scoped)
		if scoped.Request != nil {
			t.Fatalf("a branch manager reads the request: %+v", scoped.Request)
		}
	})
}
