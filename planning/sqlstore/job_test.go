package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// jobEnv is an open round on a database that a second server (other) can
// open too: on PostgreSQL another pool with its own lease identity, on
// SQLite the same file opened again, as after a restart.
type jobEnv struct {
	*roundEnv
	dsn string
}

func forEachJobDB(t *testing.T, fn func(t *testing.T, je *jobEnv)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			db := openAt(t, dsn)
			svcs := sqlstore.NewServices(db)
			if _, err := demo.Load(context.Background(), svcs); err != nil {
				t.Fatalf("load demo: %v", err)
			}
			e := &env{t: t, db: db, svcs: svcs}
			fn(t, &jobEnv{roundEnv: openRound(t, e), dsn: dsn})
		})
	}
}

// other opens the database as another server would.
func (je *jobEnv) other(t *testing.T) (*sqlstore.DB, planning.Services) {
	db := openAt(t, je.dsn)
	return db, sqlstore.NewServices(db)
}

func (je *jobEnv) request(line, amount string) planning.AllocationRequest {
	return planning.AllocationRequest{VersionID: *je.round.WorkingVersionID, MeasureID: je.revenue.ID, RootID: je.unitID("CO"),
		Targets: []planning.AllocationTarget{{ProductLineID: je.lines[line].ID, Amount: dec(amount)}}}
}

func (je *jobEnv) job(t *testing.T, svcs planning.Services, id int64) *planning.AllocationJob {
	t.Helper()
	j, err := svcs.AllocationJobs.FindAllocationJobByID(je.as("strategy"), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestAllocationJobSurvivesADeadServer: a job a server claimed and died
// with (its lease left behind, its transaction gone) runs again, once,
// and only when its lease has run out; a live lease is another server's.
func TestAllocationJobSurvivesADeadServer(t *testing.T) {
	forEachJobDB(t, func(t *testing.T, je *jobEnv) {
		ctx := context.Background()
		job, err := je.svcs.AllocationJobs.CreateAllocationJob(je.as("pm-industry"), je.request("POS", "1200000.00"))
		if err != nil {
			t.Fatal(err)
		}
		bun := storetest.Bun(je.db)
		died := func(leaseUntil time.Time) {
			t.Helper()
			if _, err := bun.NewRaw("UPDATE allocation_jobs SET state = 'running', lease_owner = 'dead-server', lease_until = ?, attempts = 1, started_at = ? WHERE id = ?",
				leaseUntil, leaseUntil, job.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if je.db.Dialect() == sqlstore.Postgres {
			// A lease still running is another server's job.
			died(time.Now().Add(time.Hour))
			if ran, err := je.svcs.AllocationJobs.RunNextAllocationJob(ctx); err != nil || ran {
				t.Fatalf("ran a job under another server's live lease: %v %v", ran, err)
			}
		}
		died(time.Now().Add(-time.Minute))
		// The restarted server (on SQLite the same file opened again).
		_, svcs2 := je.other(t)
		ran, err := svcs2.AllocationJobs.RunNextAllocationJob(ctx)
		if err != nil || !ran {
			t.Fatalf("the job left behind did not run: %v %v", ran, err)
		}
		j := je.job(t, je.svcs, job.ID)
		if j.State != planning.JobSucceeded || j.RunID == nil || j.CellsDone != 360 || j.CellsTotal != 360 {
			t.Fatalf("re-run job %+v", j)
		}
		runs, _, err := je.svcs.Targets.FindAllocationRuns(je.as("strategy"), j.VersionID, planning.PageRequest{})
		if err != nil || len(runs) != 1 || runs[0].ID != *j.RunID || runs[0].CellCount != 360 {
			t.Fatalf("runs %+v %v", runs, err)
		}
		if ran, err := svcs2.AllocationJobs.RunNextAllocationJob(ctx); err != nil || ran {
			t.Fatalf("a finished job ran again: %v %v", ran, err)
		}
		je.consistent(t)
	})
}

// TestAllocationJobClaimedOnce: servers claiming side by side never run
// one job twice.
func TestAllocationJobClaimedOnce(t *testing.T) {
	forEachJobDB(t, func(t *testing.T, je *jobEnv) {
		if je.db.Dialect() != sqlstore.Postgres {
			t.Skip("SQLite is served by one process")
		}
		ctx := context.Background()
		var ids []int64
		for _, line := range []string{"POS", "ATM", "DMP"} {
			job, err := je.svcs.AllocationJobs.CreateAllocationJob(je.as("pm-industry"), je.request(line, "1200000.00"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, job.ID)
		}
		servers := []planning.Services{je.svcs}
		for range 3 {
			_, s := je.other(t)
			servers = append(servers, s)
		}
		var mu sync.Mutex
		ran := 0
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ok, err := s.AllocationJobs.RunNextAllocationJob(ctx)
					if err != nil {
						t.Error(err)
					}
					if !ok {
						return
					}
					mu.Lock()
					ran++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ran != len(ids) {
			t.Fatalf("%d jobs ran, want %d", ran, len(ids))
		}
		for _, id := range ids {
			if j := je.job(t, je.svcs, id); j.State != planning.JobSucceeded {
				t.Fatalf("job %+v", j)
			}
		}
		runs, _, err := je.svcs.Targets.FindAllocationRuns(je.as("strategy"), *je.round.WorkingVersionID, planning.PageRequest{})
		if err != nil || len(runs) != len(ids) {
			t.Fatalf("%d runs (%v), want one per job", len(runs), err)
		}
	})
}

// TestAllocationJobCancelRules: a queued job is cancelled at once and
// never runs; only its starter, the strategy office and admins cancel;
// a finished job cannot be cancelled.
func TestAllocationJobCancelRules(t *testing.T) {
	forEachJobDB(t, func(t *testing.T, je *jobEnv) {
		ctx := context.Background()
		jobs := je.svcs.AllocationJobs
		job, err := jobs.CreateAllocationJob(je.as("pm-industry"), je.request("POS", "1200000.00"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = jobs.CancelAllocationJob(je.as("sales-director"), job.ID)
		wantCode(t, err, planning.EFORBIDDEN)
		j, err := jobs.CancelAllocationJob(je.as("pm-industry"), job.ID)
		if err != nil || j.State != planning.JobCancelled || !j.CancelRequested || j.FinishedAt == nil {
			t.Fatalf("cancel: %+v %v", j, err)
		}
		if ran, err := jobs.RunNextAllocationJob(ctx); err != nil || ran {
			t.Fatalf("a cancelled job ran: %v %v", ran, err)
		}
		_, err = jobs.CancelAllocationJob(je.as("strategy"), job.ID)
		wantCode(t, err, planning.ECONFLICT)
		req := je.request("POS", "1.00")
		req.DryRun = true
		_, err = jobs.CreateAllocationJob(je.as("pm-industry"), req)
		wantCode(t, err, planning.EINVALID)
	})
}

// TestAllocationJobAcrossServers: on PostgreSQL a job's progress is
// written as it runs, so another server answers for it, and a cancel sent
// to another server stops it; the version is left as it was.
func TestAllocationJobAcrossServers(t *testing.T) {
	forEachJobDB(t, func(t *testing.T, je *jobEnv) {
		if je.db.Dialect() != sqlstore.Postgres {
			t.Skip("SQLite is served by one process")
		}
		ctx := context.Background()
		je.db.SetJobOptions(sqlstore.JobOptions{Heartbeat: 10 * time.Millisecond})
		sys := planning.NewContextWithActor(ctx, planning.SystemActor())
		co := je.unitID("CO")
		region := &planning.OrgUnit{Code: "R-JOB", Name: "Jobs", Kind: planning.KindRegion, ParentID: &co}
		if err := je.svcs.OrgUnits.CreateOrgUnit(sys, region); err != nil {
			t.Fatal(err)
		}
		for i := range 1500 {
			u := &planning.OrgUnit{Code: fmt.Sprintf("B-JOB%04d", i), Name: "B", Kind: planning.KindBranch, ParentID: &region.ID}
			if err := je.svcs.OrgUnits.CreateOrgUnit(sys, u); err != nil {
				t.Fatal(err)
			}
		}
		req := je.request("POS", "1.00")
		req.RootID, req.Targets = region.ID, nil
		for _, l := range je.lines {
			req.Targets = append(req.Targets, planning.AllocationTarget{ProductLineID: l.ID, Amount: dec("7654321.00")})
		}
		job, err := je.svcs.AllocationJobs.CreateAllocationJob(je.as("strategy"), req)
		if err != nil {
			t.Fatal(err)
		}
		_, other := je.other(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := je.svcs.AllocationJobs.RunNextAllocationJob(ctx); err != nil {
				t.Error(err)
			}
		}()
		var seen *planning.AllocationJob
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			seen = je.job(t, other, job.ID)
			if seen.CellsDone > 0 || seen.State.Final() {
				break
			}
		}
		if seen.State != planning.JobRunning || seen.CellsDone == 0 || seen.CellsTotal == 0 {
			t.Fatalf("the other server saw %+v", seen)
		}
		j, err := other.AllocationJobs.CancelAllocationJob(je.as("strategy"), job.ID)
		if err != nil || !j.CancelRequested || j.State != planning.JobRunning {
			t.Fatalf("cancel on the other server: %+v %v", j, err)
		}
		<-done
		j = je.job(t, other, job.ID)
		if j.State != planning.JobCancelled || j.CellsDone < seen.CellsDone || j.RunID != nil {
			t.Fatalf("job %+v after %+v", j, seen)
		}
		v, err := je.svcs.Versions.FindVersionByID(je.as("strategy"), *je.round.WorkingVersionID)
		if err != nil || v.CellCount != 0 {
			t.Fatalf("the cancelled job left %d cells (%v)", v.CellCount, err)
		}
	})
}
