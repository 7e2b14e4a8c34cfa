package sqlstore_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// roundEnv is a demo database with an open round planning revenue and
// gross margin.
type roundEnv struct {
	*env
	round   *planning.Round
	revenue *planning.Measure
	margin  *planning.Measure
	units   *planning.Measure
	lines   map[string]*planning.ProductLine
}

func openRound(t *testing.T, e *env) *roundEnv {
	t.Helper()
	re := &roundEnv{env: e, lines: map[string]*planning.ProductLine{}}
	ctx := e.as("strategy")
	ms, _, err := e.svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		switch m.Code {
		case "revenue":
			re.revenue = m
		case "gross_margin":
			re.margin = m
		case "units":
			re.units = m
		}
	}
	pls, _, err := e.svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pls {
		re.lines[p.Code] = p
	}
	r := &planning.Round{Code: "FY2027", Name: "Plan 2027", FiscalYear: 2027, FirstMonth: 4,
		MeasureIDs: []int64{re.revenue.ID, re.margin.ID, re.units.ID}}
	if err := e.svcs.Rounds.CreateRound(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r, err = e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundOpen, "go", nil); err != nil {
		t.Fatal(err)
	}
	re.round = r
	return re
}

func (re *roundEnv) unitID(code string) int64 { return re.unit(code).ID }

// cascade allocates one product line's revenue from the company to every
// team and month.
func (re *roundEnv) cascade(t *testing.T, user, line, amount string, dry bool) *planning.AllocationResult {
	t.Helper()
	return re.cascadeInto(t, user, *re.round.WorkingVersionID, line, amount, dry)
}

// cascadeInto is cascade into the given version.
func (re *roundEnv) cascadeInto(t *testing.T, user string, versionID int64, line, amount string, dry bool) *planning.AllocationResult {
	t.Helper()
	profiles, _, err := re.svcs.Seasonality.FindSeasonalityProfiles(re.as(user), planning.SeasonalityProfileFilter{Code: "year-end-peak"})
	if err != nil || len(profiles) != 1 {
		t.Fatalf("profile: %v", err)
	}
	res, err := re.svcs.Targets.Allocate(re.as(user), planning.AllocationRequest{
		VersionID: versionID, MeasureID: re.revenue.ID, RootID: re.unitID("CO"),
		Targets: []planning.AllocationTarget{{ProductLineID: re.lines[line].ID, Amount: dec(amount)}},
		Levels: []planning.LevelSpec{
			{Method: planning.MethodProportional, Weights: map[int64]decimal.Decimal{
				re.unitID("NKA"): dec("2"), re.unitID("NCH"): dec("1"), re.unitID("R-EAST"): dec("4"),
				re.unitID("R-NORTH"): dec("2"), re.unitID("R-SOUTH"): dec("1.5")}},
			{Method: planning.MethodEven, Buffer: dec("0.10")},
			{Method: planning.MethodEven},
		},
		Phasing: planning.Phasing{Method: planning.PhaseProfile, ProfileID: &profiles[0].ID},
		DryRun:  dry,
	})
	if err != nil {
		t.Fatalf("allocate %s: %v", line, err)
	}
	return res
}

// grid reads every cell of a version visible to user, by unit, line and
// measure.
func (re *roundEnv) grid(t *testing.T, user string, f planning.GridFilter) map[[3]int64][]decimal.Decimal {
	t.Helper()
	out := map[[3]int64][]decimal.Decimal{}
	f.Page.Limit = 1000
	for {
		rows, next, err := re.svcs.Targets.FindGrid(re.as(user), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var vals []decimal.Decimal
			for _, p := range r.Periods {
				vals = append(vals, p.Amount)
			}
			out[[3]int64{r.OrgUnitID, r.ProductLineID, r.MeasureID}] = vals
		}
		if next == "" {
			return out
		}
		f.Page.Cursor = next
	}
}

func TestAllocationCascade(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vid := *re.round.WorkingVersionID

		// A dry run saves nothing.
		dry := re.cascade(t, "pm-industry", "POS", "12000000.00", true)
		if len(dry.Nodes) != 30 || dry.Run.CellCount != 30*12 {
			t.Fatalf("dry run: %d nodes, %d cells", len(dry.Nodes), dry.Run.CellCount)
		}
		if g := re.grid(t, "strategy", planning.GridFilter{VersionID: vid}); len(g) != 0 {
			t.Fatalf("dry run saved %d rows", len(g))
		}
		res := re.cascade(t, "pm-industry", "POS", "12000000.00", false)
		if res.Run.Checksum != dry.Run.Checksum || res.Run.CellCount != 360 {
			t.Fatalf("real run %+v differs from its dry run %+v", res.Run, dry.Run)
		}

		// Sums are exact at every node and month.
		g := re.grid(t, "strategy", planning.GridFilter{VersionID: vid})
		units, _, _ := e.svcs.OrgUnits.FindOrgUnits(re.as("strategy"), planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 100}})
		pos := re.lines["POS"].ID
		key := func(u int64) [3]int64 { return [3]int64{u, pos, re.revenue.ID} }
		year := decimal.Zero
		for _, m := range g[key(re.unitID("CO"))] {
			year = year.Add(m)
		}
		if !year.Equal(dec("12000000")) {
			t.Fatalf("company year %s", year)
		}
		for _, u := range units {
			var kids []*planning.OrgUnit
			for _, c := range units {
				if c.ParentID != nil && *c.ParentID == u.ID {
					kids = append(kids, c)
				}
			}
			if len(kids) == 0 {
				continue
			}
			buffer := decimal.Zero
			if u.Kind == planning.KindRegion {
				buffer = dec("0.10")
			}
			parent := g[key(u.ID)]
			for m := 0; m < 12; m++ {
				sum := decimal.Zero
				for _, k := range kids {
					sum = sum.Add(g[key(k.ID)][m])
				}
				want := parent[m]
				if buffer.IsZero() && !sum.Equal(want) {
					t.Fatalf("%s month %d: children %s, parent %s", u.Code, m+1, sum, want)
				}
				if !buffer.IsZero() && sum.Sub(want.Mul(dec("1.1"))).Abs().GreaterThan(dec("0.01")) {
					t.Fatalf("%s month %d: children %s, buffered parent %s", u.Code, m+1, sum, want.Mul(dec("1.1")))
				}
			}
		}
		// The consistency check knows the buffers: nothing to report.
		inc, _, err := e.svcs.Targets.FindInconsistencies(re.as("strategy"), vid, planning.PageRequest{})
		if err != nil || len(inc) != 0 {
			t.Fatalf("inconsistencies after a cascade: %v %v", inc, err)
		}
		// A manual edit breaks it, and the check says where.
		if _, err := e.svcs.Targets.EditCells(re.as("pm-industry"), vid, []planning.CellEdit{{
			CellKey: planning.CellKey{OrgUnitID: re.unitID("B-SH-KA"), ProductLineID: pos, MeasureID: re.revenue.ID, Period: 3},
			Amount:  dec("1.00")}}, nil); err != nil {
			t.Fatal(err)
		}
		inc, _, err = e.svcs.Targets.FindInconsistencies(re.as("strategy"), vid, planning.PageRequest{})
		if err != nil || len(inc) != 1 || inc[0].ParentID != re.unitID("B-SH") || inc[0].Period != 3 {
			t.Fatalf("inconsistencies after an edit: %+v %v", inc, err)
		}

		// The run is recorded, replays to its checksum and explains itself.
		runs, _, err := e.svcs.Targets.FindAllocationRuns(re.as("auditor"), vid, planning.PageRequest{})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs %v %v", runs, err)
		}
		run, err := e.svcs.Targets.FindAllocationRunByID(re.as("auditor"), runs[0].ID, nil)
		if err != nil || !run.Replayed || len(run.Explanation) != 5 {
			t.Fatalf("run %+v %v", run, err)
		}
		for _, ex := range run.Explanation {
			if ex.Reason == "" || ex.Basis != "proportional" || len(ex.Months) != 12 {
				t.Fatalf("explanation %+v", ex)
			}
		}
		east := re.unitID("R-EAST")
		run, err = e.svcs.Targets.FindAllocationRunByID(re.as("auditor"), runs[0].ID, &east)
		if err != nil || len(run.Explanation) != 4 {
			t.Fatalf("explanation under R-EAST: %d entries, %v", len(run.Explanation), err)
		}

		// Only the owner allocates a line.
		_, err = e.svcs.Targets.Allocate(re.as("pm-commercial"), planning.AllocationRequest{VersionID: vid, MeasureID: re.revenue.ID,
			RootID: re.unitID("CO"), Targets: []planning.AllocationTarget{{ProductLineID: pos, Amount: dec("1")}}})
		wantCode(t, err, planning.EFORBIDDEN)
		// More decimal places than the measure keeps are refused.
		_, err = e.svcs.Targets.Allocate(re.as("pm-industry"), planning.AllocationRequest{VersionID: vid, MeasureID: re.units.ID,
			RootID: re.unitID("CO"), Targets: []planning.AllocationTarget{{ProductLineID: pos, Amount: dec("1.5")}}})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestAllocationLocksAndReference(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vid := *re.round.WorkingVersionID
		re.cascade(t, "pm-agency", "EPSON", "1000000.00", false)
		pl := re.lines["EPSON"].ID
		before := re.grid(t, "strategy", planning.GridFilter{VersionID: vid})
		sh := re.unitID("B-SH")
		// Re-allocate a new amount proportionally to the current version,
		// holding Shanghai.
		_, err := e.svcs.Targets.Allocate(re.as("pm-agency"), planning.AllocationRequest{
			VersionID: vid, MeasureID: re.revenue.ID, RootID: re.unitID("R-EAST"),
			Targets: []planning.AllocationTarget{{ProductLineID: pl, Amount: dec("500000.00")}},
			Levels:  []planning.LevelSpec{{Method: planning.MethodProportional, ReferenceVersionID: &vid}},
			Phasing: planning.Phasing{Method: planning.PhaseReference, ReferenceVersionID: &vid},
			Locks:   []int64{sh},
		})
		if err != nil {
			t.Fatal(err)
		}
		after := re.grid(t, "strategy", planning.GridFilter{VersionID: vid})
		for _, code := range []string{"B-SH", "B-SH-KA", "B-SH-CH", "CO", "NKA"} {
			k := [3]int64{re.unitID(code), pl, re.revenue.ID}
			for m := range before[k] {
				if !before[k][m].Equal(after[k][m]) {
					t.Fatalf("%s month %d changed from %s to %s", code, m+1, before[k][m], after[k][m])
				}
			}
		}
		sum := decimal.Zero
		for _, code := range []string{"B-SH", "B-JS", "B-ZJ", "B-AH"} {
			for _, x := range after[[3]int64{re.unitID(code), pl, re.revenue.ID}] {
				sum = sum.Add(x)
			}
		}
		if !sum.Equal(dec("500000")) {
			t.Fatalf("East China branches add up to %s", sum)
		}
		// A lock worth more than the parent is refused, naming the problem.
		_, err = e.svcs.Targets.Allocate(re.as("pm-agency"), planning.AllocationRequest{
			VersionID: vid, MeasureID: re.revenue.ID, RootID: re.unitID("R-EAST"),
			Targets: []planning.AllocationTarget{{ProductLineID: pl, Amount: dec("1.00")}},
			Locks:   []int64{sh},
		})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestRoundLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("strategy")
		rev, _, _ := e.svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{Code: "revenue"})
		r := &planning.Round{Code: "FY2028", Name: "Plan 2028", FiscalYear: 2028, FirstMonth: 1}
		wantCode(t, e.svcs.Rounds.CreateRound(e.as("pm-industry"), r), planning.EFORBIDDEN)
		if err := e.svcs.Rounds.CreateRound(ctx, r); err != nil {
			t.Fatal(err)
		}
		if len(r.ApprovalChain) != 4 || r.ApprovalChain[3].Role != planning.RolePresident {
			t.Fatalf("default chain %+v", r.ApprovalChain)
		}
		steps := []struct {
			user string
			to   planning.RoundStatus
			want string
		}{
			{"strategy", planning.RoundOpen, planning.ECONFLICT}, // no measures yet
			{"strategy", planning.RoundReview, planning.ECONFLICT},
			{"strategy", planning.RoundClosed, planning.ECONFLICT},
			{"pm-industry", planning.RoundOpen, planning.EFORBIDDEN},
			{"strategy", "bogus", planning.EINVALID},
		}
		for _, s := range steps {
			_, err := e.svcs.Rounds.TransitionRound(e.as(s.user), r.ID, s.to, "", nil)
			wantCode(t, err, s.want)
		}
		ids := []int64{rev[0].ID}
		if _, err := e.svcs.Rounds.UpdateRound(ctx, r.ID, planning.RoundUpdate{MeasureIDs: &ids}); err != nil {
			t.Fatal(err)
		}
		legal := []struct {
			user string
			to   planning.RoundStatus
		}{
			{"strategy", planning.RoundOpen}, {"admin", planning.RoundCounterproposals}, {"strategy", planning.RoundOpen},
			{"strategy", planning.RoundCounterproposals}, {"strategy", planning.RoundReview}, {"strategy", planning.RoundCounterproposals},
			{"strategy", planning.RoundReview}, {"strategy", planning.RoundOpen}, {"strategy", planning.RoundCounterproposals},
			{"strategy", planning.RoundReview},
		}
		for _, s := range legal {
			got, err := e.svcs.Rounds.TransitionRound(e.as(s.user), r.ID, s.to, "step", nil)
			if err != nil || got.Status != s.to {
				t.Fatalf("%s → %s: %v", s.user, s.to, err)
			}
		}
		// Measures and chain are fixed once the round is under way.
		_, err := e.svcs.Rounds.UpdateRound(ctx, r.ID, planning.RoundUpdate{MeasureIDs: &ids})
		wantCode(t, err, planning.ECONFLICT)
		// Only the president signs off, and only through the approval
		// chain, whose final step freezes the working version.
		_, err = e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundApproved, "", nil)
		wantCode(t, err, planning.EFORBIDDEN)
		_, err = e.svcs.Rounds.TransitionRound(e.as("president"), r.ID, planning.RoundApproved, "approved", nil)
		wantCode(t, err, planning.ECONFLICT)
		cur, _ := e.svcs.Rounds.FindRoundByID(ctx, r.ID)
		for _, step := range []struct{ user, action string }{
			{"pm-industry", planning.ActSubmit}, {"sales-director", planning.ActApprove},
			{"marketing-director", planning.ActApprove}, {"president", planning.ActApprove},
		} {
			if _, err := e.svcs.Approvals.Act(e.as(step.user), *cur.WorkingVersionID, step.action, "ok", nil); err != nil {
				t.Fatalf("%s %s: %v", step.user, step.action, err)
			}
		}
		got, err := e.svcs.Rounds.FindRoundByID(ctx, r.ID)
		if err != nil || got.RecordVersionID == nil || got.Status != planning.RoundApproved {
			t.Fatalf("approve: %+v %v", got, err)
		}
		v, _ := e.svcs.Versions.FindVersionByID(ctx, *got.RecordVersionID)
		if v.Status != planning.VersionFrozen {
			t.Fatalf("record version is %s", v.Status)
		}
		_, err = e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundOpen, "", nil)
		if planning.ErrorCode(err) != planning.ECONFLICT || !strings.Contains(err.Error(), "possible now: closed") {
			t.Fatalf("illegal move error %v should list the possible moves", err)
		}
		if _, err := e.svcs.Rounds.TransitionRound(ctx, r.ID, planning.RoundClosed, "", nil); err != nil {
			t.Fatal(err)
		}
		trs, err := e.svcs.Rounds.FindRoundTransitions(ctx, r.ID)
		if err != nil || len(trs) != len(legal)+2 || trs[0].Comment != "step" || trs[len(legal)].To != planning.RoundApproved {
			t.Fatalf("transitions %d %v", len(trs), err)
		}
	})
}

func TestVersionsFreezeCopyDiff(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascade(t, "pm-commercial", "CPC", "3000000.00", false)
		ctx := e.as("pm-commercial")

		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "revised", "second thoughts")
		if err != nil || v2.ParentID == nil || *v2.ParentID != v1 || v2.Number != 2 {
			t.Fatalf("copy %+v %v", v2, err)
		}
		if d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: v1}); err != nil || d.ChangedCells != 0 {
			t.Fatalf("a fresh copy differs: %+v %v", d, err)
		}
		// A hand-checked edit: two cells change, one is new.
		cpc := re.lines["CPC"].ID
		sh, js := re.unitID("B-SH-KA"), re.unitID("B-JS-CH")
		old := re.grid(t, "strategy", planning.GridFilter{VersionID: v1, OrgUnitID: &sh})[[3]int64{sh, cpc, re.revenue.ID}][0]
		edits := []planning.CellEdit{
			{CellKey: planning.CellKey{OrgUnitID: sh, ProductLineID: cpc, MeasureID: re.revenue.ID, Period: 1}, Amount: old.Add(dec("100.50"))},
			{CellKey: planning.CellKey{OrgUnitID: js, ProductLineID: cpc, MeasureID: re.margin.ID, Period: 12}, Amount: dec("-20.25")},
		}
		if _, err := e.svcs.Targets.EditCells(ctx, v2.ID, edits, &v2.Revision); err != nil {
			t.Fatal(err)
		}
		d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: v1})
		if err != nil || d.ChangedCells != 2 {
			t.Fatalf("diff %+v %v", d, err)
		}
		if !d.Changes[0].Delta.Equal(dec("100.50")) || !d.Changes[0].Before.Equal(old) {
			t.Fatalf("first change %+v", d.Changes[0])
		}
		if !d.Changes[1].Before.IsZero() || !d.Changes[1].Delta.Equal(dec("-20.25")) {
			t.Fatalf("second change %+v", d.Changes[1])
		}
		if len(d.ByMeasure) != 2 || len(d.ByPeriod) != 2 || len(d.ByProductLine) != 1 || !d.ByProductLine[0].Delta.Equal(dec("80.25")) {
			t.Fatalf("rollups %+v", d)
		}
		// Stale revision: refused, nothing changes.
		_, err = e.svcs.Targets.EditCells(ctx, v2.ID, edits[:1], &v2.Revision)
		wantCode(t, err, planning.EPRECONDITION)

		// Freezing blocks every write.
		if _, err := e.svcs.Versions.FreezeVersion(e.as("strategy"), v1, nil); err != nil {
			t.Fatal(err)
		}
		_, err = e.svcs.Targets.EditCells(ctx, v1, edits[:1], nil)
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Targets.Allocate(ctx, planning.AllocationRequest{VersionID: v1, MeasureID: re.revenue.ID,
			RootID: re.unitID("CO"), Targets: []planning.AllocationTarget{{ProductLineID: cpc, Amount: dec("1.00")}}})
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Versions.FreezeVersion(e.as("strategy"), v1, nil)
		wantCode(t, err, planning.ECONFLICT)
		_, err = e.svcs.Targets.EditCells(e.as("pm-industry"), v2.ID, edits[:1], nil)
		wantCode(t, err, planning.EFORBIDDEN)
	})
}

// TestDiffRandomEdits applies random edits to a copy and checks that the
// diff names exactly them: applying the diff's "after" amounts to the old
// version gives the new one.
func TestDiffRandomEdits(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascade(t, "pm-agency", "COMPAQ", "777777.77", false)
		ctx := e.as("pm-agency")
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "random", "")
		if err != nil {
			t.Fatal(err)
		}
		units, _, _ := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{})
		rng := rand.New(rand.NewPCG(7, 11))
		want := map[planning.CellKey]decimal.Decimal{}
		var edits []planning.CellEdit
		for len(edits) < 40 {
			k := planning.CellKey{OrgUnitID: units[rng.IntN(len(units))].ID, ProductLineID: re.lines["COMPAQ"].ID,
				MeasureID: re.revenue.ID, Period: 1 + rng.IntN(12)}
			if _, dup := want[k]; dup {
				continue
			}
			amt := decimal.New(rng.Int64N(2_000_000)-1_000_000, -2)
			want[k] = amt
			edits = append(edits, planning.CellEdit{CellKey: k, Amount: amt})
		}
		if _, err := e.svcs.Targets.EditCells(ctx, v2.ID, edits, nil); err != nil {
			t.Fatal(err)
		}
		old := re.grid(t, "strategy", planning.GridFilter{VersionID: v1})
		cur := re.grid(t, "strategy", planning.GridFilter{VersionID: v2.ID})
		got := map[planning.CellKey]decimal.Decimal{}
		page := planning.PageRequest{Limit: 7}
		for {
			d, err := e.svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: v1, Page: page})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range d.Changes {
				got[c.CellKey] = c.After
				o := old[[3]int64{c.OrgUnitID, c.ProductLineID, c.MeasureID}]
				if !o[c.Period-1].Equal(c.Before) || !c.After.Sub(c.Before).Equal(c.Delta) {
					t.Fatalf("change %+v: before should be %s", c, o[c.Period-1])
				}
			}
			if d.NextCursor == "" {
				break
			}
			page.Cursor = d.NextCursor
		}
		// Apply the diff to the old grid: it must give the new grid.
		for k, v := range got {
			old[[3]int64{k.OrgUnitID, k.ProductLineID, k.MeasureID}][k.Period-1] = v
		}
		for k, vals := range cur {
			for m := range vals {
				if !old[k][m].Equal(vals[m]) {
					t.Fatalf("cell %v month %d: old+diff %s, new %s", k, m+1, old[k][m], vals[m])
				}
			}
		}
		for k, v := range want {
			if o := old[[3]int64{k.OrgUnitID, k.ProductLineID, k.MeasureID}][k.Period-1]; !o.Equal(v) {
				t.Fatalf("edit %v lost", k)
			}
		}
	})
}

func TestGridScopeAndGrain(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vid := *re.round.WorkingVersionID
		re.cascade(t, "pm-industry", "ATM", "1200000.00", false)
		js, sh := re.unitID("B-JS"), re.unitID("B-SH")
		bm := e.as("bm-sh")
		// A branch sees only itself and its teams, by any filter.
		g := re.grid(t, "bm-sh", planning.GridFilter{VersionID: vid})
		if len(g) != 3 {
			t.Fatalf("bm-sh sees %d rows", len(g))
		}
		for _, f := range []planning.GridFilter{
			{VersionID: vid, OrgUnitID: &js},
			{VersionID: vid, OrgUnitID: &js, Subtree: true},
		} {
			_, _, err := e.svcs.Targets.FindGrid(bm, f)
			wantCode(t, err, planning.ENOTFOUND)
		}
		d, err := e.svcs.Targets.DiffVersions(bm, planning.DiffFilter{VersionID: vid, AgainstID: vid, OrgUnitID: &js})
		wantCode(t, err, planning.ENOTFOUND)
		_ = d
		// Quarters and the year are exact rollups of the months.
		months := re.grid(t, "bm-sh", planning.GridFilter{VersionID: vid, OrgUnitID: &sh})
		quarters := re.grid(t, "bm-sh", planning.GridFilter{VersionID: vid, OrgUnitID: &sh, Grain: planning.GrainQuarter})
		years := re.grid(t, "bm-sh", planning.GridFilter{VersionID: vid, OrgUnitID: &sh, Grain: planning.GrainYear})
		k := [3]int64{sh, re.lines["ATM"].ID, re.revenue.ID}
		total := decimal.Zero
		for q := 0; q < 4; q++ {
			sum := months[k][3*q].Add(months[k][3*q+1]).Add(months[k][3*q+2])
			if !sum.Equal(quarters[k][q]) {
				t.Fatalf("Q%d: %s vs %s", q+1, sum, quarters[k][q])
			}
			total = total.Add(sum)
		}
		if len(years[k]) != 1 || !years[k][0].Equal(total) {
			t.Fatalf("year %v vs %s", years[k], total)
		}
		rows, _, err := e.svcs.Targets.FindGrid(bm, planning.GridFilter{VersionID: vid, OrgUnitID: &sh, Grain: planning.GrainQuarter})
		if err != nil || rows[0].Periods[0].Period != "FY2027-Q1" {
			t.Fatalf("quarter labels %+v %v", rows, err)
		}
		rows, _, err = e.svcs.Targets.FindGrid(bm, planning.GridFilter{VersionID: vid, OrgUnitID: &sh, PeriodFrom: 10, PeriodTo: 12})
		if err != nil || len(rows[0].Periods) != 3 || rows[0].Periods[0].Period != "2028-01" {
			t.Fatalf("period filter %+v %v", rows, err)
		}
		_ = context.Background()
	})
}
