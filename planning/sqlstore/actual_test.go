package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// rows turns "unit,line,measure,month,amount" lines into import rows
// numbered from 2, as under a header row.
func rows(lines ...string) []planning.ActualInput {
	out := make([]planning.ActualInput, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",")
		for len(f) < 5 {
			f = append(f, "")
		}
		out[i] = planning.ActualInput{Row: i + 2, OrgUnit: f[0], ProductLine: f[1], Measure: f[2], Month: f[3], Amount: f[4]}
	}
	return out
}

func (e *env) actualCount() int64 {
	e.t.Helper()
	n, err := storetest.Bun(e.db).NewSelect().Table("actuals").Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// actuals reads the rolled-up actuals of one unit (alone) as
// "line/measure/month" → amount.
func (e *env) actuals(t *testing.T, user, unit string) map[string]string {
	t.Helper()
	id := e.unit(unit).ID
	out := map[string]string{}
	rs, next, err := e.svcs.Actuals.FindActuals(e.as(user), planning.ActualFilter{OrgUnitID: &id})
	if err != nil || next != "" {
		t.Fatalf("actuals of %s: %v", unit, err)
	}
	for _, r := range rs {
		for _, m := range r.Months {
			out[r.ProductLineCode+"/"+r.MeasureCode+"/"+m.Month] = planning.FormatAmount(m.Amount, r.Scale)
		}
		out[r.ProductLineCode+"/"+r.MeasureCode+"/total"] = planning.FormatAmount(r.Total, r.Scale)
	}
	return out
}

func TestActualsImportIsIdempotentAndReplaces(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		file := rows(
			"B-SH-KA,POS,revenue,2027-06,1000.50",
			"B-SH-CH,POS,revenue,2027-06,2000",
			"B-SH-KA,CPC,revenue,2027-06,-30.25",
			"B-SH-KA,POS,units,2027-06,7",
			"B-JS-KA,POS,revenue,2027-06,500.00",
		)
		imp := planning.ActualImport{Rows: file, RoundID: &re.round.ID, Format: "csv", FileName: "june.csv"}

		// Only the strategy office and admins import.
		_, err := e.svcs.Actuals.ImportActuals(e.as("pm-industry"), imp)
		wantCode(t, err, planning.EFORBIDDEN)

		// A dry run reports and writes nothing.
		audits := e.auditCount()
		dry := imp
		dry.DryRun = true
		rep, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), dry)
		if err != nil || rep.Added != 5 || rep.Written || rep.ProblemCount != 0 {
			t.Fatalf("dry run: %+v %v", rep, err)
		}
		if e.actualCount() != 0 || e.auditCount() != audits {
			t.Fatal("a dry run wrote")
		}

		rep, err = e.svcs.Actuals.ImportActuals(e.as("strategy"), imp)
		if err != nil || rep.Added != 5 || rep.Changed != 0 || rep.Unchanged != 0 || !rep.Written || rep.ImportID == 0 ||
			rep.OrgUnits != 3 || len(rep.Months) != 1 || rep.Months[0] != "2027-06" {
			t.Fatalf("import: %+v %v", rep, err)
		}
		if e.auditCount() != audits+1 {
			t.Fatal("the import left no audit event")
		}
		// The same file again changes nothing.
		rep, err = e.svcs.Actuals.ImportActuals(e.as("admin"), imp)
		if err != nil || rep.Added != 0 || rep.Changed != 0 || rep.Unchanged != 5 || rep.Removed != 0 {
			t.Fatalf("re-import: %+v %v", rep, err)
		}
		// A corrected file replaces the units' months: one amount changed,
		// one row gone, one added; other units and months stay.
		other := rows("B-SH-KA,POS,revenue,2027-05,10.00")
		if _, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: other}); err != nil {
			t.Fatal(err)
		}
		fixed := rows(
			"B-SH-KA,POS,revenue,2027-06,1000.55",
			"B-SH-CH,POS,revenue,2027-06,2000.00",
			"B-SH-KA,POS,units,2027-06,7",
			"B-SH-KA,DMP,revenue,2027-06,1.00",
		)
		rep, err = e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: fixed, RoundID: &re.round.ID})
		if err != nil || rep.Added != 1 || rep.Changed != 1 || rep.Unchanged != 2 || rep.Removed != 1 {
			t.Fatalf("corrected import: %+v %v", rep, err)
		}
		got := e.actuals(t, "strategy", "B-SH-KA")
		want := map[string]string{"POS/revenue/2027-05": "10.00", "POS/revenue/2027-06": "1000.55", "POS/revenue/total": "1010.55",
			"DMP/revenue/2027-06": "1.00", "DMP/revenue/total": "1.00", "POS/units/2027-06": "7", "POS/units/total": "7"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("B-SH-KA actuals\n got %v\nwant %v", got, want)
		}
		if got := e.actuals(t, "strategy", "B-JS-KA"); got["POS/revenue/2027-06"] != "500.00" {
			t.Fatalf("another unit's actuals changed: %v", got)
		}
		// A unit holding actuals is not deleted.
		wantCode(t, e.svcs.OrgUnits.DeleteOrgUnit(e.as("admin"), e.unit("B-JS-KA").ID), planning.ECONFLICT)
	})
}

func TestActualsImportReportsEveryBadRow(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		good := rows("B-SH-KA,POS,revenue,2027-06,1.00")
		if _, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: good}); err != nil {
			t.Fatal(err)
		}
		inactive := e.unit("B-FJ-CH")
		if _, err := e.svcs.OrgUnits.UpdateOrgUnit(e.as("admin"), inactive.ID, planning.OrgUnitUpdate{Active: new(bool)}); err != nil {
			t.Fatal(err)
		}
		file := rows(
			"B-SH-KA,POS,revenue,2027-06,2.00",     // 2: good, would change the stored 1.00
			"NOPE,POS,revenue,2027-06,1.00",        // 3: unknown unit
			"B-SH,POS,revenue,2027-06,1.00",        // 4: not a leaf
			"B-SH-KA,NOPE,revenue,2027-06,1.00",    // 5: unknown product
			"B-SH-KA,POS,collections,2027-06,1.00", // 6: not a measure of the round
			"B-SH-KA,POS,profit,2027-06,1.00",      // 7: unknown measure
			"B-SH-KA,POS,revenue,2027-03,1.00",     // 8: before the round's year
			"B-SH-KA,POS,revenue,2027-6,1.00",      // 9: malformed month
			"B-SH-KA,POS,revenue,2027-07,1.005",    // 10: too many decimals
			"B-SH-KA,POS,units,2027-07,1.5",        // 11: units keep none
			"B-SH-KA,POS,revenue,2027-07,1 000,00", // 12: text in a number (a sixth field too)
			"B-SH-KA,POS,revenue,2027-08,twelve",   // 13: text in a number
			"B-SH-KA,POS,revenue,2027-06,3.00",     // 14: repeats row 2
			"B-FJ-CH,POS,revenue,2027-06,1.00",     // 15: inactive
			",,,,",                                 // 16: everything missing
			"B-SH-KA,POS,revenue,2027-09,1e3",      // 17: exponent
		)
		file[10].Amount = "1 000,00"
		imp := planning.ActualImport{Rows: file, RoundID: &re.round.ID}
		for _, dry := range []bool{true, false} {
			imp.DryRun = dry
			audits := e.auditCount()
			rep, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), imp)
			if dry {
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
			} else {
				wantCode(t, err, planning.EINVALID)
			}
			if rep == nil || rep.Written || rep.ImportID != 0 {
				t.Fatalf("report %+v", rep)
			}
			want := []struct {
				row    int
				column string
				reason string
			}{
				{3, "org_unit", "no org unit"},
				{4, "org_unit", "not a leaf"},
				{5, "product_line", "no product line"},
				{6, "measure", "not a measure of round FY2027"},
				{7, "measure", "no measure"},
				{8, "month", "outside the round's fiscal year"},
				{9, "month", "must be a month"},
				{10, "amount", "3 decimal places; this measure keeps 2"},
				{11, "amount", "1 decimal places; this measure keeps 0"},
				{12, "amount", "plain decimal number"},
				{13, "amount", "plain decimal number"},
				{14, "", "repeats row 2"},
				{15, "org_unit", "inactive"},
				{16, "org_unit", "is required"},
				{16, "product_line", "is required"},
				{16, "measure", "is required"},
				{16, "month", "must be a month"},
				{16, "amount", "is required"},
				{17, "amount", "plain decimal number"},
			}
			if rep.ProblemCount != len(want) || len(rep.Problems) != len(want) {
				t.Fatalf("dry=%v: %d problems, want %d: %+v", dry, rep.ProblemCount, len(want), rep.Problems)
			}
			for i, w := range want {
				p := rep.Problems[i]
				if p.Row != w.row || p.Column != w.column || !strings.Contains(p.Reason, w.reason) {
					t.Errorf("problem %d: %+v, want row %d column %q reason ~%q", i, p, w.row, w.column, w.reason)
				}
			}
			if rep.Problems[0].Value != "NOPE" {
				t.Errorf("the problem does not quote the value: %+v", rep.Problems[0])
			}
			// Nothing changed: the good row did not overwrite the stored 1.00.
			if got := e.actuals(t, "strategy", "B-SH-KA")["POS/revenue/2027-06"]; got != "1.00" || e.actualCount() != 1 || e.auditCount() != audits {
				t.Fatalf("a refused import changed something: %s, %d actuals", got, e.actualCount())
			}
		}

		// No rows at all, and problems found while reading, refuse too.
		rep, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{})
		wantCode(t, err, planning.EINVALID)
		if rep.ProblemCount != 1 || !strings.Contains(rep.Problems[0].Reason, "no data rows") {
			t.Fatalf("empty: %+v", rep)
		}
		rep, err = e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: good,
			ReadProblems: []planning.ImportProblem{{Row: 1, Column: "amont", Reason: "is not a known column"}}})
		wantCode(t, err, planning.EINVALID)
		if rep.ProblemCount != 1 {
			t.Fatalf("read problems: %+v", rep)
		}
		_, err = e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: make([]planning.ActualInput, planning.MaxImportRows+1)})
		wantCode(t, err, planning.ETOOLARGE)
		_, err = e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: good, RoundID: new(int64)})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestActualsRollUpExactly(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		// Random amounts at every leaf of the demo tree, for two lines and
		// three months; every level's rollup must equal the exact sum.
		leaves := []string{"NKA", "NCH"}
		for _, b := range []string{"B-SH", "B-JS", "B-ZJ", "B-AH", "B-BJ", "B-TJ", "B-GD", "B-FJ"} {
			leaves = append(leaves, b+"-KA", b+"-CH")
		}
		rng := rand.New(rand.NewPCG(7, 11))
		var lines []string
		want := map[string]decimal.Decimal{} // unit code/line/month → expected
		ancestors := func(code string) []string {
			switch {
			case code == "NKA" || code == "NCH":
				return []string{code, "CO"}
			}
			b := code[:len(code)-3]
			region := map[string]string{"B-SH": "R-EAST", "B-JS": "R-EAST", "B-ZJ": "R-EAST", "B-AH": "R-EAST",
				"B-BJ": "R-NORTH", "B-TJ": "R-NORTH", "B-GD": "R-SOUTH", "B-FJ": "R-SOUTH"}[b]
			return []string{code, b, region, "CO"}
		}
		for _, leaf := range leaves {
			for _, line := range []string{"POS", "EPSON"} {
				for _, month := range []string{"2027-04", "2027-05", "2027-06"} {
					cents := rng.Int64N(2_000_000_000_00) - 500_000_00 // negative amounts (returns) too
					amt := decimal.New(cents, -2)
					lines = append(lines, fmt.Sprintf("%s,%s,revenue,%s,%s", leaf, line, month, amt.StringFixed(2)))
					for _, a := range ancestors(leaf) {
						k := a + "/" + line + "/" + month
						want[k] = want[k].Add(amt)
					}
				}
			}
		}
		if _, err := e.svcs.Actuals.ImportActuals(e.as("strategy"), planning.ActualImport{Rows: rows(lines...)}); err != nil {
			t.Fatal(err)
		}
		for _, unit := range []string{"CO", "R-EAST", "R-SOUTH", "B-SH", "B-FJ", "B-SH-KA", "NKA"} {
			got := e.actuals(t, "president", unit)
			for _, line := range []string{"POS", "EPSON"} {
				total := decimal.Zero
				for _, month := range []string{"2027-04", "2027-05", "2027-06"} {
					w := want[unit+"/"+line+"/"+month]
					total = total.Add(w)
					if got[line+"/revenue/"+month] != w.StringFixed(2) {
						t.Errorf("%s %s %s: %s, want %s", unit, line, month, got[line+"/revenue/"+month], w.StringFixed(2))
					}
				}
				if got[line+"/revenue/total"] != total.StringFixed(2) {
					t.Errorf("%s %s total: %s, want %s", unit, line, got[line+"/revenue/total"], total.StringFixed(2))
				}
			}
		}

		// A subtree lists each unit rolled up; a month range and a page size
		// apply; the pages hold every row once.
		sh := e.unit("B-SH").ID
		rs, _, err := e.svcs.Actuals.FindActuals(e.as("strategy"), planning.ActualFilter{OrgUnitID: &sh, Subtree: true, MonthFrom: "2027-05", MonthTo: "2027-05"})
		if err != nil || len(rs) != 6 || rs[0].OrgUnitCode != "B-SH" || len(rs[0].Months) != 1 || rs[0].Months[0].Month != "2027-05" {
			t.Fatalf("subtree: %v %+v", err, rs)
		}
		seen, cursor, pages := map[string]bool{}, "", 0
		for {
			rs, next, err := e.svcs.Actuals.FindActuals(e.as("strategy"), planning.ActualFilter{Page: planning.PageRequest{Limit: 7, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range rs {
				k := fmt.Sprint(r.OrgUnitID, r.ProductLineID, r.MeasureID)
				if seen[k] || len(r.Months) != 3 {
					t.Fatalf("row %s twice or with %d months", k, len(r.Months))
				}
				seen[k] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
		// 18 leaves + 8 branches + 3 regions + the company, two lines each.
		if len(seen) != 60 || pages != 9 {
			t.Fatalf("%d rows on %d pages", len(seen), pages)
		}

		// Scope: a branch manager sees their branch and teams only.
		js := e.unit("B-JS").ID
		_, _, err = e.svcs.Actuals.FindActuals(e.as("bm-sh"), planning.ActualFilter{OrgUnitID: &js})
		wantCode(t, err, planning.ENOTFOUND)
		rs, _, err = e.svcs.Actuals.FindActuals(e.as("bm-sh"), planning.ActualFilter{})
		if err != nil || len(rs) != 6 {
			t.Fatalf("bm-sh sees %d rows: %v", len(rs), err)
		}
		for _, r := range rs {
			if !strings.HasPrefix(r.OrgUnitCode, "B-SH") {
				t.Fatalf("bm-sh sees %s", r.OrgUnitCode)
			}
		}
		_, _, err = e.svcs.Actuals.FindActuals(e.as("bm-sh"), planning.ActualFilter{MonthFrom: "2027-13"})
		wantCode(t, err, planning.EINVALID)
	})
}
