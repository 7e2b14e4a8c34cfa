package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning"
)

// startJobWorker runs allocation jobs for env as cascade serve does,
// until the test ends.
func startJobWorker(t *testing.T, env *apitest.Env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w := &planning.JobWorker{Jobs: env.Services.AllocationJobs, Concurrency: 2, Poll: 50 * time.Millisecond, Wake: env.DB.JobQueued(),
		OnError: func(err error) { t.Logf("job worker: %v", err) }}
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// jobBody is the allocation cascadeRevenue makes, as a job's body.
func jobBody(line, amount, root string) map[string]any {
	return map[string]any{
		"measure": "revenue", "root": root,
		"targets": []map[string]any{{"product_line": line, "amount": amount}},
		"levels": []map[string]any{
			{"method": "proportional", "weights": []map[string]string{{"org_unit": "NKA", "value": "2"}, {"org_unit": "NCH", "value": "1"},
				{"org_unit": "R-EAST", "value": "4"}, {"org_unit": "R-NORTH", "value": "2"}, {"org_unit": "R-SOUTH", "value": "1.5"}}},
			{"method": "even", "buffer": "0.05"},
			{"method": "even"},
		},
		"phasing": map[string]any{"method": "profile", "profile": "year-end-peak"},
	}
}

// waitJob polls a job until it reaches a final state, and returns every
// state it saw on the way.
func waitJob(t *testing.T, env *apitest.Env, user string, id int64) []api.AllocationJob {
	t.Helper()
	var seen []api.AllocationJob
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var j api.AllocationJob
		env.GetJSON(user, fmt.Sprintf("/api/v1/allocation-jobs/%d", id), &j)
		seen = append(seen, j)
		switch j.State {
		case "succeeded", "failed", "cancelled":
			return seen
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("job %d did not finish: %+v", id, seen[len(seen)-1])
	return nil
}

// checkMonotonic fails unless progress never goes down and the total,
// once known, stays.
func checkMonotonic(t *testing.T, seen []api.AllocationJob) {
	t.Helper()
	var done, total int64
	for i, j := range seen {
		if j.CellsDone < done || (total != 0 && j.CellsTotal != total) || (j.CellsTotal != 0 && j.CellsDone > j.CellsTotal) {
			t.Fatalf("progress went from %d/%d to %d/%d at sample %d", done, total, j.CellsDone, j.CellsTotal, i)
		}
		done, total = j.CellsDone, j.CellsTotal
	}
}

func TestAllocationJobs(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		startJobWorker(t, env)
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		v1 := *round.WorkingVersionID
		var v2 api.Version
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), map[string]any{"from_version_id": v1, "label": "jobs"}, 201).Decode(t, &v2)

		// The same request, synchronously on v1 and as a job on v2.
		status, sync, body := cascadeRevenue(t, env, "pm-industry", v1, "POS", "12000000.00", false)
		if status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		r := call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), jobBody("POS", "12000000.00", "CO"), 202)
		var job api.AllocationJob
		r.Decode(t, &job)
		if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/api/v1/allocation-jobs/%d", job.ID) || job.State != "queued" || job.VersionID != v2.ID ||
			job.CreatedBy == nil || *job.CreatedBy != env.UserID("pm-industry") || job.RunID != nil {
			t.Fatalf("accepted %s %+v", loc, job)
		}
		seen := waitJob(t, env, "pm-industry", job.ID)
		checkMonotonic(t, seen)
		end := seen[len(seen)-1]
		if end.State != "succeeded" || end.RunID == nil || end.CellsDone != sync.Run.CellCount || end.CellsTotal != sync.Run.CellCount ||
			end.StartedAt == nil || end.FinishedAt == nil || end.Error != nil {
			t.Fatalf("finished job %+v, sync run %+v", end, sync.Run)
		}
		// The run is recorded as a synchronous run is, and writes the same cells.
		var run api.AllocationRun
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/allocations/%d", *end.RunID), &run)
		if run.Checksum != sync.Run.Checksum || run.CellCount != sync.Run.CellCount || run.VersionID != v2.ID || run.Replayed == nil || !*run.Replayed ||
			run.ActorID == nil || *run.ActorID != env.UserID("pm-industry") {
			t.Fatalf("job's run %+v, sync run %+v", run, sync.Run)
		}
		var runs api.AllocationRunPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/versions/%d/allocations", v2.ID), &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID != *end.RunID {
			t.Fatalf("runs of v2: %+v", runs)
		}
		g1, g2 := readGrid(t, env, "strategy", v1, ""), readGrid(t, env, "strategy", v2.ID, "")
		if len(g1) != 30 || len(g2) != len(g1) {
			t.Fatalf("grids: %d and %d rows", len(g1), len(g2))
		}
		for k, a := range g1 {
			for m := range a {
				if !a[m].Equal(g2[k][m]) {
					t.Fatalf("%s month %d: sync %s, job %s", k, m+1, a[m], g2[k][m])
				}
			}
		}
		var cons api.InconsistencyPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency", v2.ID), &cons)
		if len(cons.Items) != 0 {
			t.Fatalf("inconsistent after the job: %+v", cons.Items)
		}

		// A retry with the same Idempotency-Key is the same job.
		keyed := map[string]string{"Idempotency-Key": "job-1"}
		first := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), apitest.Token("pm-industry"), jobBody("POS", "1000.00", "R-EAST"), keyed)
		again := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), apitest.Token("pm-industry"), jobBody("POS", "1000.00", "R-EAST"), keyed)
		var j1, j2 api.AllocationJob
		first.Decode(t, &j1)
		again.Decode(t, &j2)
		if first.Status != 202 || again.Status != 202 || j1.ID != j2.ID || again.Header.Get(api.HeaderReplayed) != "true" {
			t.Fatalf("idempotent retry: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
		}
		waitJob(t, env, "pm-industry", j1.ID)

		// A job on a branch's subtree, by id and in the list.
		var branchJob api.AllocationJob
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID),
			map[string]any{"measure": "revenue", "root": "B-JS", "targets": []map[string]any{{"product_line": "POS", "amount": "500.00"}}}, 202).Decode(t, &branchJob)
		if j := waitJob(t, env, "pm-industry", branchJob.ID); j[len(j)-1].State != "succeeded" {
			t.Fatalf("branch job %+v", j[len(j)-1])
		}
		// A job the engine refuses fails with the problem the synchronous
		// call answers, and changes nothing.
		var before api.Version
		call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d", v2.ID), nil, 200).Decode(t, &before)
		zero := map[string]any{"measure": "revenue", "root": "R-EAST", "targets": []map[string]any{{"product_line": "POS", "amount": "500.00"}},
			"levels": []map[string]any{{"method": "proportional", "weights": []map[string]string{{"org_unit": "B-SH", "value": "0"}}}}}
		sr := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/allocations", v2.ID), apitest.Token("pm-industry"), zero, nil)
		var failing api.AllocationJob
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), zero, 202).Decode(t, &failing)
		failed := waitJob(t, env, "pm-industry", failing.ID)
		end = failed[len(failed)-1]
		var syncProblem api.Problem
		sr.Decode(t, &syncProblem)
		if end.State != "failed" || end.Error == nil || end.Error.Status != sr.Status || end.Error.Code != syncProblem.Code ||
			end.Error.Detail != syncProblem.Detail || end.RunID != nil || sr.Status != 422 {
			t.Fatalf("failed job %+v, error %+v; the synchronous call: %d %s", end, end.Error, sr.Status, sr.Body)
		}
		var after api.Version
		call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d", v2.ID), nil, 200).Decode(t, &after)
		if after.CellCount != before.CellCount || after.Revision != before.Revision {
			t.Fatalf("the failed job changed the version: %+v, was %+v", after, before)
		}
		var page api.AllocationJobPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), &page)
		if len(page.Items) != 4 || page.Items[1].ID != branchJob.ID || page.Items[3].ID != job.ID || page.Items[0].ID != failing.ID {
			t.Fatalf("jobs of v2, newest first: %+v", page.Items)
		}
		page = api.AllocationJobPage{}
		env.GetJSON("bm-sh", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID), &page)
		for _, j := range page.Items {
			if j.ID == branchJob.ID {
				t.Fatalf("bm-sh lists B-JS's job: %+v", page.Items)
			}
		}
		if len(page.Items) != 3 {
			t.Fatalf("bm-sh sees %d jobs, want the three whose subtree holds B-SH", len(page.Items))
		}
		// Paged: bm-js's second page holds B-JS's job.
		page = api.AllocationJobPage{}
		env.GetJSON("bm-js", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs?limit=1", v2.ID), &page)
		if len(page.Items) != 1 || page.Items[0].ID != failing.ID || page.NextCursor == "" {
			t.Fatalf("bm-js's first page: %+v", page)
		}
		env.GetJSON("bm-js", fmt.Sprintf("/api/v1/versions/%d/allocation-jobs?limit=1&cursor=%s", v2.ID, page.NextCursor), &page)
		if len(page.Items) != 1 || page.Items[0].ID != branchJob.ID {
			t.Fatalf("bm-js's second page: %+v", page)
		}

		// A failure is reported the way the synchronous call reports it.
		frozen := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/freeze", v1), apitest.Token("strategy"), map[string]any{}, nil)
		if frozen.Status != 200 {
			t.Fatalf("freeze: %d %s", frozen.Status, frozen.Body)
		}
		jobs := fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v2.ID)
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "another's job by id", Method: "GET", URL: fmt.Sprintf("/api/v1/allocation-jobs/%d", branchJob.ID), As: "bm-sh", ExpectedStatus: 404},
			{Name: "own branch's job by id", Method: "GET", URL: fmt.Sprintf("/api/v1/allocation-jobs/%d", branchJob.ID), As: "bm-js", ExpectedStatus: 200,
				ExpectedContent: []string{`"state":"succeeded"`}},
			{Name: "unknown job", Method: "GET", URL: "/api/v1/allocation-jobs/999999", As: "strategy", ExpectedStatus: 404},
			{Name: "cancel an unknown job", Method: "POST", URL: "/api/v1/allocation-jobs/999999/cancel", As: "strategy", ExpectedStatus: 404},
			{Name: "cancel an invisible job", Method: "POST", URL: fmt.Sprintf("/api/v1/allocation-jobs/%d/cancel", branchJob.ID), As: "bm-sh", ExpectedStatus: 404},
			{Name: "cancel a finished job", Method: "POST", URL: fmt.Sprintf("/api/v1/allocation-jobs/%d/cancel", job.ID), As: "pm-industry", ExpectedStatus: 409,
				ExpectedContent: []string{"already succeeded"}},
			{Name: "jobs of an unknown version", Method: "GET", URL: "/api/v1/versions/999999/allocation-jobs", As: "strategy", ExpectedStatus: 404},
			{Name: "a job on an unknown version", Method: "POST", URL: "/api/v1/versions/999999/allocation-jobs", As: "pm-industry",
				Body: jobBody("POS", "1.00", "CO"), ExpectedStatus: 404},
			{Name: "dry run refused", Method: "POST", URL: jobs, As: "pm-industry",
				Body:           map[string]any{"measure": "revenue", "root": "CO", "dry_run": true, "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"dry_run"`}},
			{Name: "unknown root", Method: "POST", URL: jobs, As: "pm-industry",
				Body:           map[string]any{"measure": "revenue", "root": "NOPE", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"root"`}},
			{Name: "too many decimals", Method: "POST", URL: jobs, As: "pm-industry",
				Body:           map[string]any{"measure": "units", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1.5"}}},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"targets[0].amount"`}},
			{Name: "another owner's line", Method: "POST", URL: jobs, As: "pm-agency",
				Body: map[string]any{"measure": "revenue", "root": "CO", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}}, ExpectedStatus: 403},
			{Name: "a branch manager may not start one", Method: "POST", URL: jobs, As: "bm-sh",
				Body: map[string]any{"measure": "revenue", "root": "B-SH", "targets": []map[string]any{{"product_line": "POS", "amount": "1.00"}}}, ExpectedStatus: 403},
			{Name: "stale If-Match", Method: "POST", URL: jobs, As: "pm-industry", Headers: map[string]string{"If-Match": `"1"`},
				Body: jobBody("POS", "1.00", "CO"), ExpectedStatus: 412},
			{Name: "frozen version", Method: "POST", URL: fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", v1), As: "pm-industry",
				Body: jobBody("POS", "1.00", "CO"), ExpectedStatus: 409},
		})
		// None of the refused requests queued anything.
		env.GetJSON("strategy", jobs, &page)
		if len(page.Items) != 4 {
			t.Fatalf("refused requests queued jobs: %+v", page.Items)
		}
		// The current ETag is accepted.
		var v api.Version
		vr := call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d", v2.ID), nil, 200)
		vr.Decode(t, &v)
		ok := env.Request("POST", jobs, apitest.Token("pm-industry"), jobBody("POS", "1.00", "CO"), map[string]string{"If-Match": vr.Header.Get("ETag")})
		if ok.Status != http.StatusAccepted {
			t.Fatalf("current If-Match: %d %s", ok.Status, ok.Body)
		}
	})
}

// bigRegion adds a region under the company with branches branches, and
// returns its code: room for a job that runs long enough to watch.
func bigRegion(t *testing.T, env *apitest.Env, branches int) string {
	t.Helper()
	ctx := env.SystemContext()
	co := env.OrgUnitID("CO")
	region := &planning.OrgUnit{Code: "R-JOB", Name: "Jobs region", Kind: planning.KindRegion, ParentID: &co}
	if err := env.Services.OrgUnits.CreateOrgUnit(ctx, region); err != nil {
		t.Fatal(err)
	}
	for i := range branches {
		b := &planning.OrgUnit{Code: fmt.Sprintf("B-JOB%04d", i), Name: "Branch", Kind: planning.KindBranch, ParentID: &region.ID}
		if err := env.Services.OrgUnits.CreateOrgUnit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return region.Code
}

// everyLine is a job body that allocates every product line from root.
func everyLine(t *testing.T, env *apitest.Env, root string) map[string]any {
	var lines api.ProductLinePage
	env.GetJSON("strategy", "/api/v1/product-lines?limit=1000", &lines)
	var targets []map[string]any
	for _, l := range lines.Items {
		targets = append(targets, map[string]any{"product_line": l.Code, "amount": "98765432.10"})
	}
	return map[string]any{"measure": "revenue", "root": root, "targets": targets}
}

func TestAllocationJobProgressAndCancel(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		startJobWorker(t, env)
		call := env.Caller(t)
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		root := bigRegion(t, env, 2000)
		body := everyLine(t, env, root)
		jobs := fmt.Sprintf("/api/v1/versions/%d/allocation-jobs", vid)

		// A whole job: progress only grows, and ends at the total.
		var job api.AllocationJob
		start := time.Now()
		call("strategy", "POST", jobs, body, 202).Decode(t, &job)
		seen := waitJob(t, env, "strategy", job.ID)
		checkMonotonic(t, seen)
		end := seen[len(seen)-1]
		var v api.Version
		call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d", vid), nil, 200).Decode(t, &v)
		if end.State != "succeeded" || end.CellsTotal == 0 || end.CellsDone != end.CellsTotal || v.CellCount != end.CellsTotal {
			t.Fatalf("finished %+v; version holds %d cells", end, v.CellCount)
		}
		partial := 0
		for _, j := range seen {
			if j.CellsDone > 0 && j.CellsDone < j.CellsTotal {
				partial++
			}
		}
		t.Logf("%d cells in %s; %d of %d samples saw partial progress", end.CellsTotal, time.Since(start), partial, len(seen))
		if partial == 0 {
			t.Fatalf("no sample saw the job part-way: %+v", seen)
		}
		var cons api.InconsistencyPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency", vid), &cons)
		before, consBefore := v, len(cons.Items)

		// The same job again, cancelled part-way: the version keeps its
		// cells, its revision and its consistency.
		call("strategy", "POST", jobs, body, 202).Decode(t, &job)
		var running api.AllocationJob
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			env.GetJSON("strategy", fmt.Sprintf("/api/v1/allocation-jobs/%d", job.ID), &running)
			if running.CellsDone > 0 || running.State != "queued" && running.State != "running" {
				break
			}
		}
		if running.State != "running" || running.CellsDone == 0 || running.CellsDone == running.CellsTotal {
			t.Fatalf("the job was not caught part-way: %+v", running)
		}
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/allocation-jobs/%d/cancel", job.ID), nil, 403)
		var cancelled api.AllocationJob
		call("strategy", "POST", fmt.Sprintf("/api/v1/allocation-jobs/%d/cancel", job.ID), nil, 200).Decode(t, &cancelled)
		if !cancelled.CancelRequested || (cancelled.State != "running" && cancelled.State != "cancelled") {
			t.Fatalf("cancel answered %+v", cancelled)
		}
		seen = waitJob(t, env, "strategy", job.ID)
		checkMonotonic(t, append([]api.AllocationJob{running}, seen...))
		end = seen[len(seen)-1]
		if end.State != "cancelled" || end.RunID != nil || !end.CancelRequested || end.FinishedAt == nil {
			t.Fatalf("cancelled job %+v", end)
		}
		call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d", vid), nil, 200).Decode(t, &v)
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency", vid), &cons)
		if v.CellCount != before.CellCount || v.Revision != before.Revision || len(cons.Items) != consBefore {
			t.Fatalf("the cancelled job changed the version: %+v (%d inconsistencies), was %+v (%d)", v, len(cons.Items), before, consBefore)
		}
		var runs api.AllocationRunPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/allocations", vid), &runs)
		if len(runs.Items) != 1 {
			t.Fatalf("runs after the cancel: %+v", runs.Items)
		}
		call("strategy", "POST", fmt.Sprintf("/api/v1/allocation-jobs/%d/cancel", job.ID), nil, 409)

	})
}
