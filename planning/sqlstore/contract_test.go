package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// The store's contract: one table of tests over what the store promises
// the domain (the planning service interfaces it implements and its update
// closures), run against every database, each test on a fresh database
// holding the demo data and an open round. A second store implementation
// runs the same table.
var storeContract = []struct {
	name string
	test func(t *testing.T, re *roundEnv)
}{
	{"UpdateVersion saves what the closure changed, one revision up", contractUpdateVersionSaves},
	{"UpdateVersion: a closure error rolls everything back", contractUpdateVersionRollsBack},
	{"UpdateVersion joins the ambient transaction, which rolls it back", contractUpdateVersionAmbient},
	{"UpdateVersion: concurrent updates of one version serialize", contractUpdateVersionSerializes},
	{"service closures: a refused change rolls back", contractRefusedChangesRollBack},
	{"service closures: concurrent round updates serialize", contractRoundUpdatesSerialize},
	{"service closures: concurrent counterproposal updates serialize", contractCounterproposalUpdatesSerialize},
	{"bulk: an allocation writes every cell, exactly", contractAllocationBulk},
	{"bulk: a dry run writes nothing", contractDryRunWritesNothing},
	{"bulk: a copy holds the same cells and a diff finds exactly the edits", contractCopyAndDiff},
	{"pages: every finder's pages hold every item once, in order", contractPages},
	{"not found: every lookup of a missing id is ENOTFOUND", contractNotFound},
	{"conflicts: duplicates, frozen versions and stale revisions", contractConflicts},
}

func TestStoreContract(t *testing.T) {
	for _, tc := range storeContract {
		t.Run(tc.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, e *env) {
				tc.test(t, openRound(t, e))
			})
		})
	}
}

// snapshotIgnore are the columns authenticating a request touches.
var snapshotIgnore = []string{"tokens.last_used_at"}

var errClosure = errors.New("the closure refuses")

func (re *roundEnv) version(t *testing.T) *planning.Version {
	t.Helper()
	v, err := re.svcs.Versions.FindVersionByID(re.as("admin"), *re.round.WorkingVersionID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func contractUpdateVersionSaves(t *testing.T, re *roundEnv) {
	was := re.version(t)
	err := re.db.UpdateVersion(context.Background(), was.ID, func(v *planning.Version) error {
		if v.Revision != was.Revision {
			t.Errorf("the closure sees revision %d, want %d as read", v.Revision, was.Revision)
		}
		v.Label = "renamed"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := re.version(t)
	if now.Label != "renamed" || now.Revision != was.Revision+1 {
		t.Fatalf("after the update: label %q revision %d, want renamed at %d", now.Label, now.Revision, was.Revision+1)
	}
}

func contractUpdateVersionRollsBack(t *testing.T, re *roundEnv) {
	was := re.version(t)
	before := storetest.TakeSnapshot(t, re.db, snapshotIgnore...)
	err := re.db.UpdateVersion(context.Background(), was.ID, func(v *planning.Version) error {
		v.Label, v.Status = "half done", planning.VersionFrozen
		return errClosure
	})
	if !errors.Is(err, errClosure) {
		t.Fatalf("err = %v, want the closure's", err)
	}
	if d := before.Diff(storetest.TakeSnapshot(t, re.db, snapshotIgnore...)); d != nil {
		t.Fatalf("a failed closure changed the database:\n%s", strings.Join(d, "\n"))
	}
}

func contractUpdateVersionAmbient(t *testing.T, re *roundEnv) {
	was := re.version(t)
	before := storetest.TakeSnapshot(t, re.db, snapshotIgnore...)
	err := re.svcs.Atomically(re.as("admin"), func(ctx context.Context) error {
		if err := re.db.UpdateVersion(ctx, was.ID, func(v *planning.Version) error { v.Label = "saved, then undone"; return nil }); err != nil {
			return err
		}
		return errClosure
	})
	if !errors.Is(err, errClosure) {
		t.Fatalf("err = %v, want the closure's", err)
	}
	if d := before.Diff(storetest.TakeSnapshot(t, re.db, snapshotIgnore...)); d != nil {
		t.Fatalf("a rolled-back ambient transaction kept an update:\n%s", strings.Join(d, "\n"))
	}
}

func contractUpdateVersionSerializes(t *testing.T, re *roundEnv) {
	was := re.version(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- re.db.UpdateVersion(context.Background(), was.ID, func(v *planning.Version) error {
				v.Label += "+"
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	now := re.version(t)
	if want := was.Label + strings.Repeat("+", n); now.Label != want || now.Revision != was.Revision+n {
		t.Fatalf("after %d concurrent updates: label %q revision %d, want %q at %d (an update was lost)", n, now.Label, now.Revision, want, was.Revision+n)
	}
}

func contractRefusedChangesRollBack(t *testing.T, re *roundEnv) {
	before := storetest.TakeSnapshot(t, re.db, snapshotIgnore...)
	vid := *re.round.WorkingVersionID
	// Each is refused inside its closure, after the store loaded and
	// locked what it changes.
	type refusal struct {
		what string
		err  error
		code string
	}
	var refusals []refusal
	_, err := re.svcs.Rounds.TransitionRound(re.as("president"), re.round.ID, planning.RoundApproved, "skip ahead", nil)
	refusals = append(refusals, refusal{"round open → approved", err, planning.ECONFLICT})
	_, err = re.svcs.Approvals.Act(re.as("president"), vid, planning.ActApprove, "", nil)
	refusals = append(refusals, refusal{"approve outside the chain", err, planning.ECONFLICT})
	_, err = re.svcs.Approvals.Act(re.as("bm-sh"), vid, planning.ActSubmit, "", nil)
	refusals = append(refusals, refusal{"submit by a branch manager", err, planning.EFORBIDDEN})
	stale := int64(-1)
	_, err = re.svcs.Versions.FreezeVersion(re.as("strategy"), vid, &stale)
	refusals = append(refusals, refusal{"freeze at a stale revision", err, planning.EPRECONDITION})
	for _, r := range refusals {
		if got := planning.ErrorCode(r.err); got != r.code {
			t.Errorf("%s: code %q (%v), want %q", r.what, got, r.err, r.code)
		}
	}
	if d := before.Diff(storetest.TakeSnapshot(t, re.db, snapshotIgnore...)); d != nil {
		t.Fatalf("refused changes wrote:\n%s", strings.Join(d, "\n"))
	}
}

func contractRoundUpdatesSerialize(t *testing.T, re *roundEnv) {
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("Plan 2027, take %d", i)
			_, err := re.svcs.Rounds.UpdateRound(re.as("strategy"), re.round.ID, planning.RoundUpdate{Name: &name})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := re.svcs.Rounds.FindRoundByID(re.as("strategy"), re.round.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != re.round.Revision+n {
		t.Fatalf("after %d concurrent updates the round is at revision %d, want %d", n, r.Revision, re.round.Revision+n)
	}
}

func contractCounterproposalUpdatesSerialize(t *testing.T, re *roundEnv) {
	re.cascadeFlat(t, "pm-industry", "POS", "1200000.00")
	r, err := re.svcs.Rounds.TransitionRound(re.as("strategy"), re.round.ID, planning.RoundCounterproposals, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	re.round = r
	bm := re.as("bm-sh")
	cp, err := re.svcs.Proposals.CreateCounterproposal(bm, *r.WorkingVersionID, re.unitID("B-SH"), "Shanghai", []planning.LineInput{{
		ProductLineID: re.lines["POS"].ID, MeasureID: re.revenue.ID, Period: planning.YearPeriod, Proposed: dec("50000.00"), Reason: "two customers left"}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			title := fmt.Sprintf("Shanghai, take %d", i)
			_, err := re.svcs.Proposals.UpdateCounterproposal(bm, cp.ID, &title, nil, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	now, err := re.svcs.Proposals.FindCounterproposalByID(bm, cp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if now.Revision != cp.Revision+n {
		t.Fatalf("after %d concurrent updates the counterproposal is at revision %d, want %d", n, now.Revision, cp.Revision+n)
	}
	if now.OrgUnitCode != "B-SH" || now.AuthorName == "" || len(now.Lines) != 1 || now.Lines[0].ProductLineCode != "POS" ||
		now.Lines[0].MeasureCode != "revenue" || now.Lines[0].PeriodLabel != "year" || now.Lines[0].Scale != re.revenue.Scale {
		t.Fatalf("the counterproposal does not name what it names: %+v", now)
	}
}

func contractAllocationBulk(t *testing.T, re *roundEnv) {
	res := re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
	cells := re.grid(t, "admin", planning.GridFilter{VersionID: *re.round.WorkingVersionID, MeasureIDs: []int64{re.revenue.ID},
		ProductLineIDs: []int64{re.lines["CPC"].ID}, Grain: planning.GrainMonth})
	if int64(len(cells)*12) < res.Run.CellCount/2 || res.Run.CellCount == 0 {
		t.Fatalf("the run reports %d cells, the grid holds %d rows", res.Run.CellCount, len(cells))
	}
	root := re.year(t, "CO", "CPC")
	if !root.Equal(dec("3000000.00")) {
		t.Fatalf("the company's year is %s, want exactly 3000000.00", root)
	}
	v := re.version(t)
	if v.CellCount < res.Run.CellCount {
		t.Fatalf("the version counts %d cells, the run wrote %d", v.CellCount, res.Run.CellCount)
	}
	re.consistent(t)
}

func contractDryRunWritesNothing(t *testing.T, re *roundEnv) {
	before := storetest.TakeSnapshot(t, re.db, snapshotIgnore...)
	res := re.cascade(t, "pm-commercial", "CPC", "3000000.00", true)
	if res.Run.CellCount == 0 {
		t.Fatal("a dry run reports no cells")
	}
	if d := before.Diff(storetest.TakeSnapshot(t, re.db, snapshotIgnore...)); d != nil {
		t.Fatalf("a dry run wrote:\n%s", strings.Join(d, "\n"))
	}
}

func contractCopyAndDiff(t *testing.T, re *roundEnv) {
	re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
	from := re.version(t)
	cp, err := re.svcs.Versions.CopyVersion(re.as("strategy"), from.ID, "copy", "contract")
	if err != nil {
		t.Fatal(err)
	}
	if cp.CellCount != from.CellCount {
		t.Fatalf("the copy counts %d cells, the original %d", cp.CellCount, from.CellCount)
	}
	diff, err := re.svcs.Targets.DiffVersions(re.as("strategy"), planning.DiffFilter{VersionID: cp.ID, AgainstID: from.ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff.ChangedCells != 0 {
		t.Fatalf("a fresh copy differs in %d cells", diff.ChangedCells)
	}
	edits := []planning.CellEdit{
		{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH-KA"), ProductLineID: re.lines["CPC"].ID, MeasureID: re.revenue.ID, Period: 1}, Amount: dec("12345.67")},
		{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH-CH"), ProductLineID: re.lines["CPC"].ID, MeasureID: re.revenue.ID, Period: 2}, Amount: decimal.Zero},
	}
	if _, err := re.svcs.Targets.EditCells(re.as("strategy"), cp.ID, edits, nil); err != nil {
		t.Fatal(err)
	}
	diff, err = re.svcs.Targets.DiffVersions(re.as("strategy"), planning.DiffFilter{VersionID: cp.ID, AgainstID: from.ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff.ChangedCells != int64(len(edits)) || len(diff.Changes) != len(edits) {
		t.Fatalf("the diff finds %d changed cells (%d listed), want exactly the %d edits", diff.ChangedCells, len(diff.Changes), len(edits))
	}
}

// drain reads every page of find with pages of size, checking that the
// cursors move forward, and returns the keys in the order read.
func drain[T any](t *testing.T, what string, size int, find func(planning.PageRequest) ([]T, string, error), key func(T) string) []string {
	t.Helper()
	var keys []string
	page := planning.PageRequest{Limit: size}
	for i := 0; ; i++ {
		items, next, err := find(page)
		if err != nil {
			t.Fatalf("%s page %d: %v", what, i, err)
		}
		if len(items) > size {
			t.Fatalf("%s page %d holds %d items, more than %d", what, i, len(items), size)
		}
		for _, it := range items {
			keys = append(keys, key(it))
		}
		if next == "" {
			return keys
		}
		if i > 1000 {
			t.Fatalf("%s: the pages never end", what)
		}
		page.Cursor = next
	}
}

func contractPages(t *testing.T, re *roundEnv) {
	ctx := re.as("admin")
	for _, code := range []string{"FY2028", "FY2029"} {
		r := &planning.Round{Code: code, Name: "Plan " + code, FiscalYear: 2028, FirstMonth: 1, MeasureIDs: re.round.MeasureIDs}
		if err := re.svcs.Rounds.CreateRound(re.as("strategy"), r); err != nil {
			t.Fatal(err)
		}
	}
	// Each finder: all of it in one page, then in pages of 2; the two
	// must agree, with no item twice.
	finders := []struct {
		what string
		all  func(size int) []string
	}{
		{"org units", func(size int) []string {
			return drain(t, "org units", size, func(p planning.PageRequest) ([]*planning.OrgUnit, string, error) {
				return re.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: p})
			}, func(u *planning.OrgUnit) string { return u.Code })
		}},
		{"product lines", func(size int) []string {
			return drain(t, "product lines", size, func(p planning.PageRequest) ([]*planning.ProductLine, string, error) {
				return re.svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{Page: p})
			}, func(l *planning.ProductLine) string { return l.Code })
		}},
		{"measures", func(size int) []string {
			return drain(t, "measures", size, func(p planning.PageRequest) ([]*planning.Measure, string, error) {
				return re.svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{Page: p})
			}, func(m *planning.Measure) string { return m.Code })
		}},
		{"seasonality profiles", func(size int) []string {
			return drain(t, "profiles", size, func(p planning.PageRequest) ([]*planning.SeasonalityProfile, string, error) {
				return re.svcs.Seasonality.FindSeasonalityProfiles(ctx, planning.SeasonalityProfileFilter{Page: p})
			}, func(s *planning.SeasonalityProfile) string { return s.Code })
		}},
		{"users", func(size int) []string {
			return drain(t, "users", size, func(p planning.PageRequest) ([]*planning.User, string, error) {
				return re.svcs.Users.FindUsers(ctx, planning.UserFilter{Page: p})
			}, func(u *planning.User) string { return u.Username })
		}},
		{"rounds", func(size int) []string {
			return drain(t, "rounds", size, func(p planning.PageRequest) ([]*planning.Round, string, error) {
				return re.svcs.Rounds.FindRounds(ctx, planning.RoundFilter{Page: p})
			}, func(r *planning.Round) string { return r.Code })
		}},
		{"audit events", func(size int) []string {
			return drain(t, "audit", size, func(p planning.PageRequest) ([]*planning.AuditEvent, string, error) {
				return re.svcs.Audit.FindAuditEvents(ctx, planning.AuditFilter{Page: p})
			}, func(e *planning.AuditEvent) string { return fmt.Sprint(e.ID) })
		}},
	}
	for _, f := range finders {
		whole, paged := f.all(planning.MaxPageSize), f.all(2)
		if len(whole) < 2 {
			t.Errorf("%s: the demo data holds %d, too few to page", f.what, len(whole))
		}
		if strings.Join(whole, ",") != strings.Join(paged, ",") {
			t.Errorf("%s: pages of 2 read\n%v\none page read\n%v", f.what, paged, whole)
		}
		seen := map[string]bool{}
		for _, k := range whole {
			if seen[k] {
				t.Errorf("%s: %s listed twice", f.what, k)
			}
			seen[k] = true
		}
	}
	if _, _, err := re.svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{Page: planning.PageRequest{Limit: planning.MaxPageSize + 1}}); planning.ErrorCode(err) != planning.EINVALID {
		t.Errorf("a page over the maximum: %v, want EINVALID", err)
	}
}

func contractNotFound(t *testing.T, re *roundEnv) {
	ctx := re.as("admin")
	const missing = int64(1) << 40
	lookups := map[string]error{}
	_, lookups["version"] = re.svcs.Versions.FindVersionByID(ctx, missing)
	_, lookups["round"] = re.svcs.Rounds.FindRoundByID(ctx, missing)
	_, lookups["org unit"] = re.svcs.OrgUnits.FindOrgUnitByID(ctx, missing)
	_, lookups["product line"] = re.svcs.ProductLines.FindProductLineByID(ctx, missing)
	_, lookups["measure"] = re.svcs.Measures.FindMeasureByID(ctx, missing)
	_, lookups["user"] = re.svcs.Users.FindUserByID(ctx, missing)
	_, lookups["counterproposal"] = re.svcs.Proposals.FindCounterproposalByID(ctx, missing)
	_, lookups["approval"] = re.svcs.Approvals.FindApproval(ctx, missing)
	_, lookups["freeze"] = re.svcs.Versions.FreezeVersion(ctx, missing, nil)
	_, lookups["approval act"] = re.svcs.Approvals.Act(ctx, missing, planning.ActSubmit, "", nil)
	lookups["UpdateVersion"] = re.db.UpdateVersion(ctx, missing, func(*planning.Version) error {
		t.Error("the closure ran for a missing version")
		return nil
	})
	for what, err := range lookups {
		if planning.ErrorCode(err) != planning.ENOTFOUND {
			t.Errorf("%s %d: %v, want ENOTFOUND", what, missing, err)
		}
	}
}

func contractConflicts(t *testing.T, re *roundEnv) {
	ctx := re.as("strategy")
	dup := &planning.Round{Code: re.round.Code, Name: "again", FiscalYear: 2027, FirstMonth: 4, MeasureIDs: re.round.MeasureIDs}
	wantCode(t, re.svcs.Rounds.CreateRound(ctx, dup), planning.ECONFLICT)
	wantCode(t, re.svcs.Users.CreateUser(re.as("admin"), &planning.User{Username: "strategy", Name: "again", Active: true}), planning.ECONFLICT)
	v := re.version(t)
	stale := v.Revision - 1
	_, err := re.svcs.Targets.EditCells(ctx, v.ID, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH-KA"),
		ProductLineID: re.lines["CPC"].ID, MeasureID: re.revenue.ID, Period: 1}, Amount: dec("1")}}, &stale)
	wantCode(t, err, planning.EPRECONDITION)
	if _, err := re.svcs.Versions.FreezeVersion(ctx, v.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = re.svcs.Versions.FreezeVersion(ctx, v.ID, nil)
	wantCode(t, err, planning.ECONFLICT)
	_, err = re.svcs.Targets.EditCells(ctx, v.ID, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH-KA"),
		ProductLineID: re.lines["CPC"].ID, MeasureID: re.revenue.ID, Period: 1}, Amount: dec("1")}}, nil)
	wantCode(t, err, planning.ECONFLICT)
}
