package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// setMonths sets a unit's target for a line and measure to amount in every
// month of the year.
func (re *roundEnv) setMonths(t *testing.T, unit, line string, m *planning.Measure, amount string) {
	t.Helper()
	var edits []planning.CellEdit
	for p := 1; p <= 12; p++ {
		edits = append(edits, planning.CellEdit{CellKey: planning.CellKey{OrgUnitID: re.unitID(unit), ProductLineID: re.lines[line].ID,
			MeasureID: m.ID, Period: p}, Amount: dec(amount)})
	}
	if _, err := re.svcs.Targets.EditCells(re.as("strategy"), *re.round.WorkingVersionID, edits, nil); err != nil {
		t.Fatal(err)
	}
}

// attainmentFixture is the hand-checked example of the attainment tests, in
// a round whose fiscal year runs from April 2027 to March 2028.
//
// Targets (each month of the year): B-SH-KA POS revenue 100.00, B-SH-CH POS
// revenue 150.00, B-SH POS revenue 250.00 and CPC revenue 50.00, B-JS POS
// revenue 200.00; B-SH-KA POS units 800 in June only.
//
// Actuals: B-SH-KA POS revenue April 90.00, May 110.00, June 120.00; B-SH-CH
// POS revenue 150.00, 140.00, 160.00; B-SH-KA CPC revenue June 30.00;
// B-JS-KA POS revenue 200.00 each month; B-SH-KA POS units June 1.
func attainmentFixture(t *testing.T, e *env) *roundEnv {
	t.Helper()
	re := openRound(t, e)
	re.setMonths(t, "B-SH-KA", "POS", re.revenue, "100.00")
	re.setMonths(t, "B-SH-CH", "POS", re.revenue, "150.00")
	re.setMonths(t, "B-SH", "POS", re.revenue, "250.00")
	re.setMonths(t, "B-SH", "CPC", re.revenue, "50.00")
	re.setMonths(t, "B-JS", "POS", re.revenue, "200.00")
	if _, err := re.svcs.Targets.EditCells(re.as("strategy"), *re.round.WorkingVersionID, []planning.CellEdit{{CellKey: planning.CellKey{
		OrgUnitID: re.unitID("B-SH-KA"), ProductLineID: re.lines["POS"].ID, MeasureID: re.units.ID, Period: 3}, Amount: dec("800")}}, nil); err != nil {
		t.Fatal(err)
	}
	file := rows(
		"B-SH-KA,POS,revenue,2027-04,90.00", "B-SH-KA,POS,revenue,2027-05,110.00", "B-SH-KA,POS,revenue,2027-06,120.00",
		"B-SH-CH,POS,revenue,2027-04,150.00", "B-SH-CH,POS,revenue,2027-05,140.00", "B-SH-CH,POS,revenue,2027-06,160.00",
		"B-SH-KA,CPC,revenue,2027-06,30.00",
		"B-JS-KA,POS,revenue,2027-04,200.00", "B-JS-KA,POS,revenue,2027-05,200.00", "B-JS-KA,POS,revenue,2027-06,200.00",
		"B-SH-KA,POS,units,2027-06,1",
		// Outside the fiscal year: never counted.
		"B-SH-KA,POS,revenue,2027-03,999.00", "B-SH-KA,POS,revenue,2028-04,999.00",
	)
	if _, err := re.svcs.Actuals.ImportActuals(re.as("strategy"), planning.ActualImport{Rows: file}); err != nil {
		t.Fatal(err)
	}
	return re
}

// attainment returns the report's rows as "unit/line/measure" (line "*"
// for the total over lines) → "target actual gap pct | year_target ytd
// run_rate run_rate_pct".
func (re *roundEnv) attainment(t *testing.T, user string, f planning.AttainmentFilter) (map[string]string, *planning.AttainmentReport) {
	t.Helper()
	f.RoundID = re.round.ID
	if f.VersionID == nil {
		f.VersionID = re.round.WorkingVersionID
	}
	rep, err := re.svcs.Attainment.FindAttainment(re.as(user), f)
	if err != nil {
		t.Fatalf("attainment: %v", err)
	}
	out := map[string]string{}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		line := r.ProductLineCode
		if r.ProductLineID == 0 {
			line = "*"
		}
		p, rp := "null", "null"
		if r.Pct != nil {
			p = r.Pct.StringFixed(2)
		}
		if r.RunRatePct != nil {
			rp = r.RunRatePct.StringFixed(2)
		}
		out[r.OrgUnitCode+"/"+line+"/"+r.MeasureCode] = fmt.Sprintf("%s %s %s %s | %s %s %s %s",
			r.Target.StringFixed(r.Scale), r.Actual.StringFixed(r.Scale), r.Gap.StringFixed(r.Scale), p,
			r.YearTarget.StringFixed(r.Scale), r.YTDActual.StringFixed(r.Scale), r.RunRate.StringFixed(r.Scale), rp)
	}
	return out, rep
}

func TestAttainmentHandChecked(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := attainmentFixture(t, e)
		sh := re.unitID("B-SH")
		for _, c := range []struct {
			basis planning.Basis
			want  map[string]string
		}{
			{planning.BasisMonth, map[string]string{
				// June: 120 of 100; the run rate is 320 × 12 ÷ 3.
				"B-SH-KA/POS/revenue": "100.00 120.00 20.00 120.00 | 1200.00 320.00 1280.00 106.67",
				"B-SH-CH/POS/revenue": "150.00 160.00 10.00 106.67 | 1800.00 450.00 1800.00 100.00",
				// The branch's own target against its teams' actuals.
				"B-SH/POS/revenue":    "250.00 280.00 30.00 112.00 | 3000.00 770.00 3080.00 102.67",
				"B-SH/CPC/revenue":    "50.00 30.00 -20.00 60.00 | 600.00 30.00 120.00 20.00",
				"B-SH/*/revenue":      "300.00 310.00 10.00 103.33 | 3600.00 800.00 3200.00 88.89",
				"B-SH-KA/CPC/revenue": "0.00 30.00 30.00 null | 0.00 30.00 120.00 null",
				// 1 of 800 is 0.125 %: half to even gives 0.12.
				"B-SH-KA/POS/units": "800 1 -799 0.12 | 800 1 4 0.50",
			}},
			{planning.BasisQTD, map[string]string{
				"B-SH-KA/POS/revenue": "300.00 320.00 20.00 106.67 | 1200.00 320.00 1280.00 106.67",
				"B-SH/POS/revenue":    "750.00 770.00 20.00 102.67 | 3000.00 770.00 3080.00 102.67",
				"B-SH/*/revenue":      "900.00 800.00 -100.00 88.89 | 3600.00 800.00 3200.00 88.89",
			}},
			{planning.BasisYTD, map[string]string{
				"B-SH-CH/POS/revenue": "450.00 450.00 0.00 100.00 | 1800.00 450.00 1800.00 100.00",
				"B-SH/POS/revenue":    "750.00 770.00 20.00 102.67 | 3000.00 770.00 3080.00 102.67",
			}},
			{planning.BasisYear, map[string]string{
				// The year's actuals to date against the whole year's target.
				"B-SH-KA/POS/revenue": "1200.00 320.00 -880.00 26.67 | 1200.00 320.00 1280.00 106.67",
				"B-SH/*/revenue":      "3600.00 800.00 -2800.00 22.22 | 3600.00 800.00 3200.00 88.89",
			}},
		} {
			got, rep := re.attainment(t, "strategy", planning.AttainmentFilter{OrgUnitID: &sh, Subtree: true, Period: 3, Basis: c.basis})
			for k, w := range c.want {
				if got[k] != w {
					t.Errorf("%s %s:\n got %s\nwant %s", c.basis, k, got[k], w)
				}
			}
			if rep.Period != 3 || rep.Record {
				t.Errorf("%s: report %+v", c.basis, rep)
			}
			// Parents first, the total over lines first within a measure.
			if rep.Rows[0].OrgUnitCode != "B-SH" || rep.Rows[0].ProductLineID != 0 {
				t.Errorf("%s: first row %+v", c.basis, rep.Rows[0])
			}
		}

		// Quarter to date in the quarter's first month; July holds no
		// actuals, but the year to date still runs.
		got, _ := re.attainment(t, "strategy", planning.AttainmentFilter{OrgUnitID: &sh, Subtree: true, Period: 4, Basis: planning.BasisQTD})
		if w := "100.00 0.00 -100.00 0.00 | 1200.00 320.00 960.00 80.00"; got["B-SH-KA/POS/revenue"] != w {
			t.Errorf("Q2 to date: %s, want %s", got["B-SH-KA/POS/revenue"], w)
		}
		// Without a period, the report is as of the latest month with actuals.
		_, rep := re.attainment(t, "strategy", planning.AttainmentFilter{OrgUnitID: &sh})
		// Revenue of POS, CPC and both; units of POS and all lines, rolled up
		// from B-SH-KA.
		if rep.Period != 3 || len(rep.Rows) != 5 {
			t.Errorf("default period %d, rows %d", rep.Period, len(rep.Rows))
		}
		// Rollups to the region and the company are the exact sums.
		got, _ = re.attainment(t, "strategy", planning.AttainmentFilter{Period: 3, Basis: planning.BasisYTD, MeasureIDs: []int64{re.revenue.ID}})
		if w := "0.00 1400.00 1400.00 null | 0.00 1400.00 5600.00 null"; got["R-EAST/*/revenue"] != w {
			t.Errorf("region: %s", got["R-EAST/*/revenue"])
		}
		if got["CO/POS/revenue"] != got["R-EAST/POS/revenue"] || got["CO/POS/revenue"] != "0.00 1370.00 1370.00 null | 0.00 1370.00 5480.00 null" {
			t.Errorf("company %s, region %s", got["CO/POS/revenue"], got["R-EAST/POS/revenue"])
		}

		// Pages of three hold every row once, in order.
		all, _ := re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: re.round.ID,
			VersionID: re.round.WorkingVersionID, Period: 3})
		var paged []planning.AttainmentRow
		for cursor := ""; ; {
			page, err := re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: re.round.ID,
				VersionID: re.round.WorkingVersionID, Period: 3, Page: planning.PageRequest{Limit: 3, Cursor: cursor}})
			if err != nil || len(page.Rows) > 3 {
				t.Fatalf("page: %v", err)
			}
			paged = append(paged, page.Rows...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(paged) != len(all.Rows) || len(paged) < 10 {
			t.Fatalf("%d rows paged, %d in all", len(paged), len(all.Rows))
		}
		for i := range paged {
			if paged[i].OrgUnitID != all.Rows[i].OrgUnitID || paged[i].ProductLineID != all.Rows[i].ProductLineID || paged[i].MeasureID != all.Rows[i].MeasureID {
				t.Fatalf("row %d differs: %+v / %+v", i, paged[i], all.Rows[i])
			}
		}

		// Scope: a branch manager sees their branch and its teams only.
		got, _ = re.attainment(t, "bm-sh", planning.AttainmentFilter{Period: 3})
		for k := range got {
			if k[:4] != "B-SH" {
				t.Errorf("bm-sh sees %s", k)
			}
		}
		js := re.unitID("B-JS")
		_, err := re.svcs.Attainment.FindAttainment(re.as("bm-sh"), planning.AttainmentFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID, OrgUnitID: &js})
		wantCode(t, err, planning.ENOTFOUND)

		// Rankings of the branches by revenue, year to date: B-JS 100 %,
		// B-SH 88.89 %, the rest without targets share the last rank.
		rk, err := re.svcs.Attainment.FindRankings(re.as("president"), planning.RankingFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID,
			MeasureID: re.revenue.ID, Kind: planning.KindBranch, Period: 3, Basis: planning.BasisYTD})
		if err != nil || len(rk.Items) != 8 {
			t.Fatalf("ranking: %v %+v", err, rk)
		}
		if rk.Items[0].OrgUnitCode != "B-JS" || rk.Items[0].Rank != 1 || rk.Items[0].Pct.StringFixed(2) != "100.00" ||
			rk.Items[1].OrgUnitCode != "B-SH" || rk.Items[1].Rank != 2 || rk.Items[1].Pct.StringFixed(2) != "88.89" ||
			rk.Items[2].Rank != 3 || rk.Items[7].Rank != 3 || rk.Items[7].Pct != nil {
			t.Fatalf("ranking %+v", rk.Items[:3])
		}
		// Ranked by one product line, and as a branch manager (their branch only).
		rk, _ = re.svcs.Attainment.FindRankings(re.as("bm-sh"), planning.RankingFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID,
			MeasureID: re.revenue.ID, Kind: planning.KindBranch, ProductLineIDs: []int64{re.lines["POS"].ID}, Period: 3, Basis: planning.BasisYTD})
		if len(rk.Items) != 1 || rk.Items[0].OrgUnitCode != "B-SH" || rk.Items[0].Pct.StringFixed(2) != "102.67" {
			t.Fatalf("bm-sh ranking %+v", rk.Items)
		}

		// The budget of record is the default; there is none yet.
		_, err = re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: re.round.ID})
		wantCode(t, err, planning.ECONFLICT)
		other := &planning.Round{Code: "FY2028", Name: "Plan 2028", FiscalYear: 2028, FirstMonth: 1, MeasureIDs: []int64{re.revenue.ID}}
		if err := re.svcs.Rounds.CreateRound(re.as("strategy"), other); err != nil {
			t.Fatal(err)
		}
		_, err = re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: other.ID, VersionID: re.round.WorkingVersionID})
		wantCode(t, err, planning.EINVALID)
		collections, _, _ := re.svcs.Measures.FindMeasures(re.as("strategy"), planning.MeasureFilter{Code: "collections"})
		_, err = re.svcs.Attainment.FindAttainment(re.as("strategy"), planning.AttainmentFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID,
			MeasureIDs: []int64{collections[0].ID}})
		wantCode(t, err, planning.EINVALID)
		_, err = re.svcs.Attainment.FindRankings(re.as("strategy"), planning.RankingFilter{RoundID: re.round.ID, VersionID: re.round.WorkingVersionID, MeasureID: re.revenue.ID})
		wantCode(t, err, planning.EINVALID)

		// Approved through the chain, the version is the budget of record,
		// compared by default, with its approval record.
		vid := *re.round.WorkingVersionID
		for _, to := range []planning.RoundStatus{planning.RoundCounterproposals, planning.RoundReview} {
			if _, err := re.svcs.Rounds.TransitionRound(re.as("strategy"), re.round.ID, to, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, step := range []struct{ user, action string }{{"pm-industry", planning.ActSubmit}, {"sales-director", planning.ActApprove},
			{"marketing-director", planning.ActApprove}, {"president", planning.ActApprove}} {
			if _, err := re.svcs.Approvals.Act(re.as(step.user), vid, step.action, "ok by "+step.user, nil); err != nil {
				t.Fatalf("%s %s: %v", step.user, step.action, err)
			}
		}
		rep, err = re.svcs.Attainment.FindAttainment(re.as("bm-sh"), planning.AttainmentFilter{RoundID: re.round.ID, OrgUnitID: &sh, Period: 3})
		if err != nil || !rep.Record || rep.VersionID != vid || len(rep.Rows) != 5 {
			t.Fatalf("record: %v %+v", err, rep)
		}
		rec, err := re.svcs.ApprovalRecords.FindApprovalRecord(re.as("bm-sh"), vid)
		if err != nil || !rec.Record || rec.Source != "approval_chain" || rec.ApprovedByName != "President (总裁)" || rec.ApprovedAt == nil ||
			rec.Comment != "ok by president" || len(rec.Steps) != 4 || rec.Steps[0].Role != planning.RoleProductManager || rec.FrozenAt == nil {
			t.Fatalf("approval record %+v %v", rec, err)
		}
	})
}
