package api_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestDiffWorkbookOverHTTP exports the diff of two versions as XLSX: every
// changed cell, across pages, with the same amounts as the JSON diff, each
// org unit's own change by level, the filters and the reader's scope
// applied as they are to the JSON diff.
func TestDiffWorkbookOverHTTP(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		v1 := *round.WorkingVersionID
		if status, _, body := cascadeRevenue(t, env, "pm-industry", v1, "POS", "12000000.00", false); status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		var v2 api.Version
		env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/versions", round.ID), apitest.Token("pm-industry"),
			map[string]any{"from_version_id": v1, "label": "bottom-up"}, nil).Decode(t, &v2)
		putCells(t, env, "strategy", v2.ID,
			[5]string{"B-SH", "POS", "revenue", "2027-05", "123456.78"},
			[5]string{"B-SH-KA", "POS", "revenue", "2027-06", "0.01"},
			[5]string{"B-JS-CH", "POS", "units", "2027-07", "7"})
		var d api.Diff
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/diff?against=%d&limit=1000", v2.ID, v1), &d)
		if d.ChangedCells != 3 {
			t.Fatalf("the JSON diff has %d changed cells", d.ChangedCells)
		}
		read := func(user, query string, want int) *excelize.File {
			t.Helper()
			r := env.Request("GET", fmt.Sprintf("/api/v1/versions/%d/diff?against=%d&format=xlsx%s", v2.ID, v1, query), apitest.Token(user), nil, nil)
			if r.Status != want {
				t.Fatalf("%s %s: %d %s", user, query, r.Status, r.Body)
			}
			if want != 200 {
				return nil
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
				t.Fatalf("content type %q", ct)
			}
			f, err := excelize.OpenReader(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		rowsOf := func(f *excelize.File, sheet string) [][]string {
			t.Helper()
			rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			return rows[5:] // the title, two notes, a blank row and the headings
		}
		f := read("strategy", "", 200)
		changes := rowsOf(f, "Changes")
		if len(changes) != 3 {
			t.Fatalf("the workbook has %d changed cells: %v", len(changes), changes)
		}
		got := map[string][]string{}
		for _, r := range changes {
			got[r[0]+" "+r[4]+" "+r[5]] = r
		}
		for _, ch := range d.Changes {
			r := got[ch.OrgUnit+" "+ch.Measure+" "+ch.Period]
			if r == nil || r[3] != ch.ProductLine || !sameNumber(r[6], ch.Before) || !sameNumber(r[7], ch.After) || !sameNumber(r[8], ch.Delta) {
				t.Errorf("change %+v is %v in the workbook", ch, r)
			}
		}
		if got["B-SH revenue 2027-05"][2] != "3" || got["B-SH-KA revenue 2027-06"][2] != "4" {
			t.Errorf("levels: %v", got)
		}
		units := rowsOf(f, "By org unit")
		var keys []string
		for _, r := range units {
			keys = append(keys, r[0]+" "+r[1])
		}
		slices.Sort(keys)
		if fmt.Sprint(keys) != "[3 B-JS-CH 3 B-SH 4 B-SH-KA]" && fmt.Sprint(keys) != "[3 B-SH 4 B-JS-CH 4 B-SH-KA]" {
			t.Errorf("by org unit: %v", keys)
		}
		// Filters apply as to the JSON diff.
		if n := len(rowsOf(read("strategy", "&measure=units", 200), "Changes")); n != 1 {
			t.Errorf("measure=units: %d changed cells", n)
		}
		// The Shanghai manager gets Shanghai's changes only.
		if n := len(rowsOf(read("bm-sh", "", 200), "Changes")); n != 2 {
			t.Errorf("bm-sh: %d changed cells", n)
		}
		read("bm-sh", "&org_unit=B-JS", 404)
		read("strategy", "&format=pdf", 400)
	})
}

// sameNumber compares a spreadsheet's number with an API amount.
func sameNumber(cell, amount string) bool {
	var a, b float64
	_, err1 := fmt.Sscan(cell, &a)
	_, err2 := fmt.Sscan(amount, &b)
	return err1 == nil && err2 == nil && a == b
}
