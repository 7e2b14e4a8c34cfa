package planning_test

import (
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// A branch manager of unit 5 (path /1/4/5/) with team 6 under it.
func branchScope() *planning.Scope { return planning.SubtreeScope([]string{"/1/4/5/"}, []int64{5, 6}) }

func TestScopePaths(t *testing.T) {
	sc := branchScope()
	for _, c := range []struct{ full, scoped string }{{"/1/4/5/", "/5/"}, {"/1/4/5/6/", "/5/6/"}, {"/1/4/8/", ""}, {"/1/", ""}} {
		if got := sc.ScopedPath(c.full); got != c.scoped {
			t.Errorf("ScopedPath(%s) = %q, want %q", c.full, got, c.scoped)
		}
		if c.scoped != "" && sc.FullPath(c.scoped) != c.full {
			t.Errorf("FullPath(%s) = %q, want %s", c.scoped, sc.FullPath(c.scoped), c.full)
		}
	}
	if !sc.Touches("/1/") || !sc.Touches("/1/4/5/6/") || sc.Touches("/1/7/") {
		t.Error("Touches: a run rooted above or inside the scope touches it, one in another region does not")
	}
	u := &planning.OrgUnit{ID: 5, ParentID: new(int64), Path: "/1/4/5/"}
	*u.ParentID = 4
	sc.RedactOrgUnit(u)
	if u.ParentID != nil || u.Path != "/5/" {
		t.Errorf("scope root: parent %v path %s, want none and /5/", u.ParentID, u.Path)
	}
	full := planning.FullScope()
	u = &planning.OrgUnit{ID: 5, ParentID: new(int64), Path: "/1/4/5/"}
	full.RedactOrgUnit(u)
	if u.ParentID == nil || u.Path != "/1/4/5/" {
		t.Error("the full scope changes nothing")
	}
}

func TestScopeRedactsAuditAndRuns(t *testing.T) {
	sc := branchScope()
	e := &planning.AuditEvent{After: json.RawMessage(`{"counterproposal":{"org_unit_id":5},"cells":[` +
		`{"org_unit_id":5,"after":"1.00"},{"org_unit_id":4,"after":"9.00"},{"org_unit_id":1,"after":"99.00"}],` +
		`"unit":{"id":5,"kind":"branch","parent_id":4,"path":"/1/4/5/"},"version":{"parent_id":4}}`)}
	sc.RedactAuditEvent(e)
	want := `{"cells":[{"after":"1.00","org_unit_id":5}],"counterproposal":{"org_unit_id":5},` +
		`"unit":{"id":5,"kind":"branch","parent_id":null,"path":"/5/"},"version":{"parent_id":4}}`
	if string(e.After) != want {
		t.Errorf("audit after:\n got %s\nwant %s", e.After, want)
	}

	run := &planning.AllocationRun{Request: planning.AllocationRequest{RootID: 1, Locks: []int64{6, 8},
		Targets: []planning.AllocationTarget{{ProductLineID: 2, Amount: decimal.RequireFromString("12000000")}},
		Levels:  []planning.LevelSpec{{Weights: map[int64]decimal.Decimal{4: decimal.NewFromInt(1), 5: decimal.NewFromInt(2)}}}},
		Explanation: []planning.NodeExplanation{{OrgUnitID: 4}, {OrgUnitID: 6}}}
	sc.RedactAllocationRun(run)
	rq := run.Request
	if !run.Redacted || rq.RootID != 0 || !rq.Targets[0].Amount.IsZero() || len(rq.Locks) != 1 || rq.Locks[0] != 6 ||
		len(rq.Levels[0].Weights) != 1 || len(run.Explanation) != 1 || run.Explanation[0].OrgUnitID != 6 {
		t.Errorf("redacted run: %+v", run)
	}
}
