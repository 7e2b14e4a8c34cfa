package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// jobRequest is the benchmark's allocation: every line's revenue from the
// company down to every unit and month.
func jobRequest(d *benchData) map[string]any {
	var targets []map[string]any
	for _, code := range d.LineCodes {
		targets = append(targets, map[string]any{"product_line": code, "amount": "123456789.00"})
	}
	return map[string]any{"measure": d.Measures[0].Code, "root": d.CompanyCode, "targets": targets,
		"levels": []map[string]any{{"method": "even"}}, "phasing": map[string]any{"method": "even"}}
}

// startJob posts the allocation as a job and returns its path.
func startJob(t *testing.T, pm *apiClient, base string, d *benchData) string {
	t.Helper()
	res := pm.do(context.Background(), http.MethodPost, fmt.Sprintf("%s/api/v1/versions/%d/allocation-jobs", base, d.VersionID), jobRequest(d))
	var j api.AllocationJob
	if err := res.decode(&j); err != nil || res.Status != http.StatusAccepted {
		t.Fatalf("start the job: %s", res)
	}
	return res.Header.Get("Location")
}

// pollJob reads the job at url until stop says so or it has finished,
// and returns every state it saw. Answers other than 200 (a server
// starting) are retried.
func pollJob(t *testing.T, pm *apiClient, url string, every, limit time.Duration, stop func(api.AllocationJob) bool) []api.AllocationJob {
	t.Helper()
	var seen []api.AllocationJob
	var res apiResponse
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(every) {
		res = pm.do(context.Background(), http.MethodGet, url, nil)
		var j api.AllocationJob
		if res.Err != nil || res.Status != http.StatusOK || json.Unmarshal(res.Body, &j) != nil {
			continue
		}
		seen = append(seen, j)
		if stop(j) || j.State == "succeeded" || j.State == "failed" || j.State == "cancelled" {
			return seen
		}
	}
	t.Fatalf("job %s did not finish in %s: last answer %s", url, limit, res)
	return nil
}

// TestJobSurvivesKill kills the real server with SIGKILL while it runs an
// allocation job: the version is left untouched, and the job, accepted
// before the kill, runs again after the restart (on PostgreSQL once the
// dead server's lease has run out), once.
func TestJobSurvivesKill(t *testing.T) {
	bin := cascadeBinary(t)
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			if d == sqlstore.Postgres && storetest.PGDSN() == "" {
				t.Skip("CASCADE_TEST_PG_DSN not set: the PostgreSQL half is skipped")
			}
			ctx := context.Background()
			dsn := storetest.DSN(t, d)
			db, svcs := openStore(t, dsn)
			data, err := buildBenchData(ctx, svcs, 1000, 20, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := data.allocationCells()
			pm := &apiClient{http: newHTTPClient(2), token: data.PMToken}
			srv := startServerT(t, bin, dsn, "--job-lease", "2s")
			path := startJob(t, pm, srv.URL, data)
			seen := pollJob(t, pm, srv.URL+path, time.Millisecond, time.Minute, func(j api.AllocationJob) bool { return j.CellsDone > 0 })
			killedAt := seen[len(seen)-1]
			if killedAt.State != "running" || killedAt.CellsDone == 0 {
				t.Fatalf("the job was not caught running: %+v", killedAt)
			}
			srv.Kill()
			if n, err := db.Probe().CountCells(ctx, data.VersionID); err != nil || n != 0 {
				t.Fatalf("the killed job left %d cells (%v)", n, err)
			}
			start := time.Now()
			srv = startServerT(t, bin, dsn, "--job-lease", "2s")
			seen = pollJob(t, pm, srv.URL+path, 20*time.Millisecond, time.Minute, func(api.AllocationJob) bool { return false })
			end := seen[len(seen)-1]
			if end.State != "succeeded" || end.CellsDone != want || end.CellsTotal != want || end.RunID == nil {
				t.Fatalf("after the restart: %+v\n%s", end, srv.Logs())
			}
			if n, err := db.Probe().CountCells(ctx, data.VersionID); err != nil || n != want {
				t.Fatalf("the version holds %d cells (%v), want %d", n, err, want)
			}
			var runs api.AllocationRunPage
			if err := pm.do(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/versions/%d/allocations", srv.URL, data.VersionID), nil).decode(&runs); err != nil || len(runs.Items) != 1 {
				t.Fatalf("runs after the restart: %+v %v", runs.Items, err)
			}
			t.Logf("%s: killed at %d of %d cells; the restarted server finished the job %s after it started", d, killedAt.CellsDone, want, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestMeasureJob measures an allocation job of CASCADE_JOB_MEASURE_CELLS
// cells (rounded down to whole units of CASCADE_JOB_MEASURE_LINES lines,
// default 40, × 12 months) on
// PostgreSQL, end to end through a real `cascade serve`: the time from
// the POST to the job's success and the server's peak resident set,
// against psql's \copy of the same rows into a table like target_cells
// in the same run; then a re-allocation of the same version against
// DELETE plus \copy. It reports, and asserts nothing about speed.
func TestMeasureJob(t *testing.T) {
	cells, _ := strconv.ParseInt(os.Getenv("CASCADE_JOB_MEASURE_CELLS"), 10, 64)
	if cells == 0 || storetest.PGDSN() == "" {
		t.Skip("set CASCADE_JOB_MEASURE_CELLS and CASCADE_TEST_PG_DSN to measure")
	}
	ctx := context.Background()
	bin := cascadeBinary(t)
	dsn := storetest.DSN(t, sqlstore.Postgres)
	db, svcs := openStore(t, dsn)
	lines := envInt("CASCADE_JOB_MEASURE_LINES", 40)
	units := int(cells / int64(lines*12))
	start := time.Now()
	data, err := buildBenchData(ctx, svcs, units, lines, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := data.allocationCells()
	t.Logf("data set of %d units × %d lines built in %s", units, lines, time.Since(start).Round(time.Second))
	srv := startServerT(t, bin, dsn, "--job-max-cells", strconv.FormatInt(want, 10))
	pm := &apiClient{http: newHTTPClient(2), token: data.PMToken}

	measure := func(what string) time.Duration {
		rssBefore := procStatus(t, srv, "VmRSS")
		start := time.Now()
		seen := pollJob(t, pm, srv.URL+startJob(t, pm, srv.URL, data), 250*time.Millisecond, 20*time.Minute, func(api.AllocationJob) bool { return false })
		took := time.Since(start)
		end := seen[len(seen)-1]
		if end.State != "succeeded" || end.CellsDone != want {
			t.Fatalf("%s: %+v", what, end)
		}
		firstTotal := time.Duration(0)
		for i, j := range seen {
			if j.CellsTotal > 0 {
				firstTotal = time.Duration(i) * 250 * time.Millisecond
				break
			}
		}
		t.Logf("%s of %d cells as a job: %s (cells_total known after ≈%s; %d progress samples); server RSS before %s, peak (VmHWM) %s",
			what, want, took.Round(time.Millisecond), firstTotal, len(seen), rssBefore, procStatus(t, srv, "VmHWM"))
		return took
	}
	first := measure("allocation")

	raw := newBenchRawDB(sqlstore.Postgres, dsn, db.Probe())
	if m := raw.missing(); m != "" {
		t.Skip(m)
	}
	file := filepath.Join(t.TempDir(), "cells.csv")
	if n, err := raw.exportCSV(ctx, data.VersionID, data.Measures[0].ID, file); err != nil || n != want {
		t.Fatalf("export: %d %v", n, err)
	}
	if err := db.Probe().CreateBaselineTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Probe().WaitIdle(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	copyTook, err := raw.importCSV(ctx, sqlstore.BaselineTable, file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline: psql \\copy of the same %d rows into a table like target_cells: %s; job / \\copy = %.2f",
		want, copyTook.Round(time.Millisecond), first.Seconds()/copyTook.Seconds())

	if _, err := db.Probe().WaitIdle(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	again := measure("re-allocation")
	delTook, err := raw.exec(ctx, "DELETE FROM "+sqlstore.BaselineTable)
	if err != nil {
		t.Fatal(err)
	}
	copy2, err := raw.importCSV(ctx, sqlstore.BaselineTable, file)
	if err != nil {
		t.Fatal(err)
	}
	base := delTook + copy2
	t.Logf("baseline: DELETE %s + \\copy %s = %s; re-allocation job / baseline = %.2f",
		delTook.Round(time.Millisecond), copy2.Round(time.Millisecond), base.Round(time.Millisecond), again.Seconds()/base.Seconds())
	if _, err := db.Probe().DropBaselineTable(ctx); err != nil {
		t.Fatal(err)
	}
}

// procStatus reads one field of the server process's /proc status.
func procStatus(t *testing.T, p *serverProcess, key string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
