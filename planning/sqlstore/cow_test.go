package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// cowKey is a revenue cell of the copy-on-write tests.
type cowKey struct {
	unit, line string
	period     int
}

// cowCells is a version's revenue cells of the lines CPC and HPC.
type cowCells map[cowKey]string

func (re *roundEnv) revenueCells(t *testing.T, versionID int64) cowCells {
	t.Helper()
	rows, err := re.db.Probe().Cells(context.Background(), versionID, []string{"CPC", "HPC"}, "")
	if err != nil {
		t.Fatal(err)
	}
	out := cowCells{}
	for _, r := range rows {
		out[cowKey{r.Unit, r.Line, r.Period}] = decimal.RequireFromString(r.Amount).String()
	}
	return out
}

// checkVersion compares every way of reading a version's cells with the
// model: the cells themselves, the count the version records, the grid.
func (re *roundEnv) checkVersion(t *testing.T, versionID int64, want cowCells, grid bool) {
	t.Helper()
	got := re.revenueCells(t, versionID)
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("version %d cell %v = %q, want %q", versionID, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("version %d holds cell %v = %q it should not", versionID, k, v)
			}
		}
		t.Fatalf("version %d: %d cells, want %d", versionID, len(got), len(want))
	}
	c, err := re.db.Probe().VersionCounts(context.Background(), versionID)
	if err != nil {
		t.Fatal(err)
	}
	if c.CellCount != int64(len(want)) || c.Cells != int64(len(want)) {
		t.Fatalf("version %d records %d cells and holds %d, want %d", versionID, c.CellCount, c.Cells, len(want))
	}
	if !grid {
		return
	}
	wantGrid := map[[3]int64][]string{}
	for k, v := range want {
		gk := [3]int64{re.unitID(k.unit), re.lines[k.line].ID, re.revenue.ID}
		if wantGrid[gk] == nil {
			wantGrid[gk] = []string{"0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"}
		}
		wantGrid[gk][k.period-1] = v
	}
	gotGrid := map[[3]int64][]string{}
	for k, months := range re.grid(t, "strategy", planning.GridFilter{VersionID: versionID, MeasureIDs: []int64{re.revenue.ID}}) {
		for _, m := range months {
			gotGrid[k] = append(gotGrid[k], m.String())
		}
	}
	if !reflect.DeepEqual(gotGrid, wantGrid) {
		t.Fatalf("version %d grid:\n%v\nwant\n%v", versionID, gotGrid, wantGrid)
	}
}

// checkDiff compares the diff of two versions, read a few changes a page,
// with the difference of their models.
func (re *roundEnv) checkDiff(t *testing.T, a, b int64, ma, mb cowCells) {
	t.Helper()
	want := map[string]string{}
	for _, m := range []cowCells{ma, mb} {
		for k := range m {
			x, y := decimal.RequireFromString(or0(mb[k])), decimal.RequireFromString(or0(ma[k]))
			if !x.Equal(y) {
				want[fmt.Sprintf("%d/%d/%d", re.unitID(k.unit), re.lines[k.line].ID, k.period)] = x.String() + ">" + y.String()
			}
		}
	}
	// Both ways a diff of versions over one base reads: by primary key
	// and by scanning the layers.
	for _, factor := range []int64{0, 1 << 40} {
		restore := sqlstore.SetDiffScanFactor(factor)
		got := map[string]string{}
		page := planning.PageRequest{Limit: 9}
		for {
			d, err := re.svcs.Targets.DiffVersions(re.as("strategy"), planning.DiffFilter{VersionID: a, AgainstID: b,
				MeasureIDs: []int64{re.revenue.ID}, Page: page})
			if err != nil {
				t.Fatal(err)
			}
			if d.ChangedCells != int64(len(want)) {
				t.Fatalf("diff %d against %d (scan factor %d): %d changed cells, want %d", a, b, factor, d.ChangedCells, len(want))
			}
			for _, c := range d.Changes {
				got[fmt.Sprintf("%d/%d/%d", c.OrgUnitID, c.ProductLineID, c.Period)] = c.Before.String() + ">" + c.After.String()
			}
			if d.NextCursor == "" {
				break
			}
			page.Cursor = d.NextCursor
		}
		restore()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("diff %d against %d (scan factor %d):\n%v\nwant\n%v", a, b, factor, got, want)
		}
	}
}

func or0(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// derived is what a version's inconsistencies and attainment report say,
// as text to compare.
func (re *roundEnv) derived(t *testing.T, versionID int64) string {
	t.Helper()
	out, _, err := re.svcs.Targets.FindInconsistencies(re.as("strategy"), versionID, planning.PageRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: re.round.ID, VersionID: &versionID,
		Basis: planning.BasisYear, Period: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) == 0 {
		t.Fatalf("version %d: an empty attainment report", versionID)
	}
	rep.VersionID, rep.Record, rep.Round = 0, false, nil
	b, err := json.Marshal([]any{out, rep})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCopyOnWriteVersionsMatchAModel runs random copies (of working and
// frozen versions, of copies and of their parents), edits, allocations and
// freezes, and after every step checks every version against a model that
// copies cells in full: its cells, its recorded count, its grid, and the
// diff between random versions, read a page at a time. A copy shares its
// parent's cells until one is written, so a write to either must never
// show in the other.
func TestCopyOnWriteVersionsMatchAModel(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		rng := rand.New(rand.NewPCG(15, 7))
		v1 := *re.round.WorkingVersionID
		// What each allocation writes, learnt on the first version, which
		// is not yet anyone's copy.
		type alloc struct{ line, amount string }
		allocs := []alloc{{"CPC", "3000000.00"}, {"CPC", "1000000.00"}, {"HPC", "1200000.00"}}
		wrote := map[alloc]cowCells{}
		for _, al := range allocs {
			re.cascadeInto(t, "pm-commercial", v1, al.line, al.amount, false)
			wrote[al] = cowCells{}
			for k, v := range re.revenueCells(t, v1) {
				if k.line == al.line {
					wrote[al][k] = v
				}
			}
		}
		var universe []cowKey
		for k := range wrote[allocs[0]] {
			universe = append(universe, k)
		}
		for k := range wrote[allocs[2]] {
			universe = append(universe, k)
		}
		model := map[int64]cowCells{v1: re.revenueCells(t, v1)}
		working := map[int64]bool{v1: true}
		var all []int64
		all = append(all, v1)
		pick := func(ids []int64) int64 { return ids[rng.IntN(len(ids))] }
		workingIDs := func() []int64 {
			var out []int64
			for _, id := range all {
				if working[id] {
					out = append(out, id)
				}
			}
			return out
		}
		ctx := re.as("pm-commercial")
		for step := 0; step < 30; step++ {
			ws := workingIDs()
			switch op := rng.IntN(4); {
			case op == 0 || len(ws) == 0:
				src := pick(all)
				before := re.derived(t, src)
				v, err := e.svcs.Versions.CopyVersion(ctx, src, fmt.Sprintf("copy %d", step), "")
				if err != nil {
					t.Fatal(err)
				}
				model[v.ID] = cowCells{}
				for k, x := range model[src] {
					model[v.ID][k] = x
				}
				working[v.ID] = true
				all = append(all, v.ID)
				if after := re.derived(t, v.ID); after != before {
					t.Fatalf("step %d: the copy of %d reports %s, its source %s", step, src, after, before)
				}
				t.Logf("step %d: copy %d -> %d", step, src, v.ID)
			case op == 1 && len(ws) > 1:
				id := pick(ws)
				if _, err := e.svcs.Versions.FreezeVersion(re.as("strategy"), id, nil); err != nil {
					t.Fatal(err)
				}
				working[id] = false
				t.Logf("step %d: freeze %d", step, id)
			case op == 2:
				id := pick(ws)
				var edits []planning.CellEdit
				seen := map[cowKey]bool{}
				for n := 1 + rng.IntN(4); len(edits) < n; {
					k := universe[rng.IntN(len(universe))]
					if seen[k] {
						continue
					}
					seen[k] = true
					amt := decimal.New(rng.Int64N(2000000)-1000000, -2)
					edits = append(edits, planning.CellEdit{CellKey: planning.CellKey{OrgUnitID: re.unitID(k.unit),
						ProductLineID: re.lines[k.line].ID, MeasureID: re.revenue.ID, Period: k.period}, Amount: amt})
					model[id][k] = amt.String()
				}
				if _, err := e.svcs.Targets.EditCells(ctx, id, edits, nil); err != nil {
					t.Fatal(err)
				}
				t.Logf("step %d: edit %d cells of %d", step, len(edits), id)
			default:
				id := pick(ws)
				al := allocs[rng.IntN(len(allocs))]
				re.cascadeInto(t, "pm-commercial", id, al.line, al.amount, false)
				for k := range model[id] {
					if k.line == al.line {
						delete(model[id], k)
					}
				}
				for k, x := range wrote[al] {
					model[id][k] = x
				}
				t.Logf("step %d: allocate %s %s into %d", step, al.line, al.amount, id)
			}
			for _, id := range all {
				re.checkVersion(t, id, model[id], step%5 == 4)
			}
			a, b := pick(all), pick(all)
			re.checkDiff(t, a, b, model[a], model[b])
		}
		// Every pair, once at the end.
		for _, a := range all {
			for _, b := range all {
				re.checkDiff(t, a, b, model[a], model[b])
			}
		}
	})
}

// TestCopyOnWriteDeletedCells checks the reads of a version whose own
// layer hides cells of its base (tombstones): the cells are gone from
// the version, its grid, its diffs and its copies, and come back when
// written again.
func TestCopyOnWriteDeletedCells(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		re.cascadeInto(t, "pm-commercial", v1, "CPC", "3000000.00", false)
		re.cascadeInto(t, "pm-commercial", v1, "HPC", "1200000.00", false)
		ctx := re.as("pm-commercial")
		v2, err := e.svcs.Versions.CopyVersion(ctx, v1, "copy", "")
		if err != nil {
			t.Fatal(err)
		}
		m1 := re.revenueCells(t, v1)
		// Delete unit B-SH-KA's HPC revenue from the copy, as an
		// allocation that no longer writes them would.
		gone := re.unitID("B-SH-KA")
		bdb := storetest.Bun(e.db)
		var layer, base int64
		if err := bdb.NewRaw("SELECT COALESCE(cells_id, id), base_id FROM versions WHERE id = ?", v2.ID).Scan(context.Background(), &layer, &base); err != nil {
			t.Fatal(err)
		}
		res, err := bdb.NewRaw(`INSERT INTO target_cells (round_id, version_id, org_unit_id, product_line_id, measure_id, period, amount)
			SELECT round_id, ?, org_unit_id, product_line_id, measure_id, period, NULL FROM target_cells
			WHERE round_id = ? AND version_id = ? AND org_unit_id = ? AND product_line_id = ? AND measure_id = ?`,
			layer, v2.RoundID, base, gone, re.lines["HPC"].ID, re.revenue.ID).Exec(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.RowsAffected()
		if n != 12 {
			t.Fatalf("%d tombstones, want 12", n)
		}
		if _, err := bdb.NewRaw("UPDATE versions SET cell_count = cell_count - 12 WHERE id = ?", v2.ID).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		m2 := cowCells{}
		for k, v := range m1 {
			if k.unit != "B-SH-KA" || k.line != "HPC" {
				m2[k] = v
			}
		}
		re.checkVersion(t, v1, m1, true)
		re.checkVersion(t, v2.ID, m2, true)
		re.checkDiff(t, v2.ID, v1, m2, m1)
		re.checkDiff(t, v1, v2.ID, m1, m2)
		// A grid page of one series at a time skips the deleted series and
		// still reads every other.
		seen := 0
		f := planning.GridFilter{VersionID: v2.ID, MeasureIDs: []int64{re.revenue.ID}, Page: planning.PageRequest{Limit: 1}}
		for {
			rows, next, err := e.svcs.Targets.FindGrid(re.as("strategy"), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.OrgUnitID == gone && r.ProductLineID == re.lines["HPC"].ID {
					t.Fatalf("the deleted series is listed: %+v", r)
				}
			}
			seen += len(rows)
			if next == "" {
				break
			}
			f.Page.Cursor = next
		}
		if seen != len(m2)/12 {
			t.Fatalf("pages of one listed %d series, want %d", seen, len(m2)/12)
		}
		// A copy of the copy carries the deletion.
		v3, err := e.svcs.Versions.CopyVersion(ctx, v2.ID, "copy of copy", "")
		if err != nil {
			t.Fatal(err)
		}
		re.checkVersion(t, v3.ID, m2, true)
		re.checkDiff(t, v3.ID, v1, m2, m1)
		// Writing a deleted cell brings it back, counted once.
		k := cowKey{"B-SH-KA", "HPC", 3}
		if _, err := e.svcs.Targets.EditCells(ctx, v2.ID, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: gone,
			ProductLineID: re.lines["HPC"].ID, MeasureID: re.revenue.ID, Period: 3}, Amount: dec("12.34")}}, nil); err != nil {
			t.Fatal(err)
		}
		m2[k] = "12.34"
		re.checkVersion(t, v2.ID, m2, true)
		// An allocation writes the series again in full.
		re.cascadeInto(t, "pm-commercial", v2.ID, "HPC", "1200000.00", false)
		re.checkVersion(t, v2.ID, m1, true)
		re.checkVersion(t, v3.ID, func() cowCells { delete(m2, k); return m2 }(), true)
	})
}

// TestDeleteOrgUnitHoldingCells checks that a unit whose cells sit in any
// layer of target cells, a copied version's new layer included, is never
// deleted, and that a unit without cells is.
func TestDeleteOrgUnitHoldingCells(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		v1 := *re.round.WorkingVersionID
		admin := e.as("admin")
		sh := e.unit("B-SH")
		newUnit := func(code string) int64 {
			u := &planning.OrgUnit{Code: code, Name: code, Kind: planning.KindDepartment, ParentID: &sh.ID}
			if err := e.svcs.OrgUnits.CreateOrgUnit(admin, u); err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		edit := func(versionID, unit int64) {
			t.Helper()
			if _, err := e.svcs.Targets.EditCells(e.as("strategy"), versionID, []planning.CellEdit{{CellKey: planning.CellKey{OrgUnitID: unit,
				ProductLineID: re.lines["CPC"].ID, MeasureID: re.revenue.ID, Period: 2}, Amount: dec("5.00")}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		inOwn, inMoved, empty := newUnit("X-OWN"), newUnit("X-MOVED"), newUnit("X-EMPTY")
		edit(v1, inOwn)
		// The copy moves v1 on to a new layer of its own: X-MOVED's only
		// cell is there.
		if _, err := e.svcs.Versions.CopyVersion(e.as("pm-commercial"), v1, "copy", ""); err != nil {
			t.Fatal(err)
		}
		edit(v1, inMoved)
		wantCode(t, e.svcs.OrgUnits.DeleteOrgUnit(admin, inOwn), planning.ECONFLICT)
		wantCode(t, e.svcs.OrgUnits.DeleteOrgUnit(admin, inMoved), planning.ECONFLICT)
		if err := e.svcs.OrgUnits.DeleteOrgUnit(admin, empty); err != nil {
			t.Fatalf("delete a unit without cells: %v", err)
		}
	})
}
