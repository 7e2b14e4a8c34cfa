package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// checkAfterCrash checks the restarted server and the database against
// what was acknowledged, and returns how many runs the version has.
func checkAfterCrash(t *testing.T, base, dsn string, data *crashData, acked *ackedWrites, checksum string, version int64) int {
	t.Helper()
	ctx := context.Background()
	admin := &apiClient{http: http.DefaultClient, token: data.AdminToken}
	get := func(path string, v any) {
		t.Helper()
		// A 503 says "retry": the restarted server may meet a database
		// still busy with the killed one's aborted work, or statistics
		// not yet refreshed after the last bulk write. The checks are about
		// what was kept, so they retry as a client would.
		r := admin.do(ctx, http.MethodGet, base+"/api/v1"+path, nil)
		for try := 1; try < 3 && r.Err == nil && r.Status == http.StatusServiceUnavailable; try++ {
			t.Logf("GET %s: 503, retrying: %s", path, r)
			time.Sleep(time.Second)
			r = admin.do(ctx, http.MethodGet, base+"/api/v1"+path, nil)
		}
		if err := r.decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var v api.Version
	get(fmt.Sprintf("/versions/%d", version), &v)

	var runs []api.AllocationRun
	for cursor := ""; ; {
		var page api.AllocationRunPage
		get(fmt.Sprintf("/versions/%d/allocations?limit=1000&cursor=%s", version, cursor), &page)
		runs = append(runs, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	audited := map[int64]int{}
	for cursor := ""; ; {
		var page api.AuditEventPage
		get(fmt.Sprintf("/audit?version=%d&entity=version&limit=1000&cursor=%s", version, cursor), &page)
		for _, e := range page.Items {
			if e.Action != "targets.allocate" {
				continue
			}
			var after struct {
				RunID int64 `json:"allocation_run_id"`
				Cells int64 `json:"cells"`
			}
			if err := json.Unmarshal(e.After, &after); err != nil || after.RunID == 0 {
				t.Fatalf("audit event %d names no run: %s", e.ID, e.After)
			}
			audited[after.RunID]++
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var inc api.InconsistencyPage
	get(fmt.Sprintf("/versions/%d/consistency", version), &inc)

	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dbRuns int64
	// The version's cells, read through its base if it has one.
	cells, err := db.Probe().CountCells(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.Bun(db).NewRaw("SELECT COUNT(*) FROM allocation_runs WHERE round_id = (SELECT round_id FROM versions WHERE id = ?) AND version_id = ?", version, version).Scan(ctx, &dbRuns); err != nil {
		t.Fatal(err)
	}

	switch {
	case cells != 0 && cells != data.FullCells:
		t.Fatalf("the version holds %d cells: neither 0 nor the full %d", cells, data.FullCells)
	case v.CellCount != cells:
		t.Fatalf("the version says it holds %d cells, the database has %d", v.CellCount, cells)
	case (cells == 0) != (len(runs) == 0):
		t.Fatalf("%d cells but %d recorded runs", cells, len(runs))
	case int64(len(runs)) != dbRuns:
		t.Fatalf("the API lists %d runs, the database has %d", len(runs), dbRuns)
	case len(inc.Items) != 0:
		t.Fatalf("the version is inconsistent after a crash: %d groups, first %+v", len(inc.Items), inc.Items[0])
	}
	for _, r := range runs {
		if r.CellCount != data.FullCells || r.Checksum != checksum {
			t.Fatalf("run %d: %d cells, checksum %s; want %d, %s", r.ID, r.CellCount, r.Checksum, data.FullCells, checksum)
		}
		if audited[r.ID] != 1 {
			t.Fatalf("run %d has %d targets.allocate audit events, want 1", r.ID, audited[r.ID])
		}
		delete(audited, r.ID)
	}
	for id := range audited {
		t.Fatalf("a targets.allocate audit event names run %d, which does not exist", id)
	}
	for id, v := range acked.runs {
		if v == version && !containsRun(runs, id) {
			t.Fatalf("acknowledged allocation run %d is missing", id)
		}
	}
	checkAckedSmallWrites(t, db, data, acked)
	return len(runs)
}

// checkUnchanged checks, in the database, that a version the cycle did not
// allocate still holds what its runs say: its cell count and runs, and with
// count its cells too (slow on PostgreSQL right after killed allocations,
// whose rows are dead until vacuumed).
func checkUnchanged(t *testing.T, dsn string, data *crashData, version int64, wantRuns int, count bool) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cells, cellCount, runs int64
	queries := map[string]*int64{
		"SELECT cell_count FROM versions WHERE id = ?":              &cellCount,
		"SELECT COUNT(*) FROM allocation_runs WHERE version_id = ?": &runs,
	}
	for q, dst := range queries {
		if err := storetest.Bun(db).NewRaw(q, version).Scan(ctx, dst); err != nil {
			t.Fatal(err)
		}
	}
	if count {
		if cells, err = db.Probe().CountCells(ctx, version); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(0)
	if wantRuns > 0 {
		want = data.FullCells
	}
	if !count {
		cells = want
	}
	if cells != want || cellCount != want || runs != int64(wantRuns) {
		t.Fatalf("version %d changed without being allocated: %d cells (cell_count %d), %d runs; want %d cells, %d runs",
			version, cells, cellCount, runs, want, wantRuns)
	}
}

func containsRun(runs []api.AllocationRun, id int64) bool {
	for _, r := range runs {
		if r.ID == id {
			return true
		}
	}
	return false
}

// checkAckedSmallWrites checks, in the database, that every acknowledged
// edit and counterproposal is there.
func checkAckedSmallWrites(t *testing.T, db *sqlstore.DB, data *crashData, acked *ackedWrites) {
	t.Helper()
	ctx := context.Background()
	acked.mu.Lock()
	defer acked.mu.Unlock()
	var cells []struct {
		Unit   string `bun:"unit"`
		Line   string `bun:"line"`
		Period int    `bun:"period"`
		Amount string `bun:"amount"`
	}
	if len(acked.edits) > 0 {
		// The scratch version's cells, read through its base if it has one.
		var lines []string
		if err := storetest.Bun(db).NewRaw("SELECT code FROM product_lines").Scan(ctx, &lines); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Probe().Cells(ctx, data.Scratch, lines, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			cells = append(cells, struct {
				Unit   string `bun:"unit"`
				Line   string `bun:"line"`
				Period int    `bun:"period"`
				Amount string `bun:"amount"`
			}{r.Unit, r.Line, r.Period, r.Amount})
		}
	}
	got := map[string]string{}
	for _, c := range cells {
		got[fmt.Sprintf("%s/%s/%d", c.Unit, c.Line, c.Period)] = c.Amount
	}
	for key, amount := range acked.edits {
		if got[key] != amount {
			t.Fatalf("acknowledged edit %s = %s: the database has %q", key, amount, got[key])
		}
	}
	var cps []struct {
		ID    int64  `bun:"id"`
		Title string `bun:"title"`
	}
	if err := storetest.Bun(db).NewRaw("SELECT id, title FROM counterproposals WHERE version_id = ?", data.Proposals).Scan(ctx, &cps); err != nil {
		t.Fatal(err)
	}
	have := map[int64]string{}
	for _, c := range cps {
		have[c.ID] = c.Title
	}
	for id, title := range acked.cps {
		if have[id] != title {
			t.Fatalf("acknowledged counterproposal %d %q is missing (found %q)", id, title, have[id])
		}
	}
}
