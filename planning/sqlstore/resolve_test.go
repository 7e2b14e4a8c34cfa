package sqlstore_test

import (
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestResolveLooksUpARequest checks the one call that looks up what a
// request names: the version (or round) first, codes and ids of every kind
// at once, within the caller's scope, however many are named, and codes
// that cannot name anything never reach the database.
func TestResolveLooksUpARequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		re := openRound(t, e)
		vs, _, err := e.svcs.Versions.FindVersions(e.as("admin"), planning.VersionFilter{RoundID: re.round.ID})
		if err != nil || len(vs) == 0 {
			t.Fatalf("versions of the round: %v %v", vs, err)
		}
		sh, js := e.unit("B-SH"), e.unit("B-JS")
		ctx := e.as("bm-sh")

		var lineCodes []string
		for code := range re.lines {
			lineCodes = append(lineCodes, code, code) // named twice: found once
		}
		got, err := e.svcs.Resolve.Resolve(ctx, planning.Refs{VersionID: vs[0].ID,
			UnitCodes:    []string{"B-SH", "B-JS", "NOPE", "B-\x00", "B-\xff", ""},
			UnitIDs:      []int64{js.ID},
			LineCodes:    append(lineCodes, "nope"),
			MeasureCodes: []string{"revenue", "nope"}, MeasureIDs: []int64{re.margin.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version.ID != vs[0].ID || got.Round.ID != re.round.ID {
			t.Fatalf("version %+v round %+v, want version %d of round %d", got.Version, got.Round, vs[0].ID, re.round.ID)
		}
		if len(got.Units) != 1 || got.Units[0].ID != sh.ID {
			t.Fatalf("bm-sh resolves units %v, want B-SH alone (B-JS is outside the scope, by code and by id)", got.Units)
		}
		if len(got.Lines) != len(re.lines) {
			t.Fatalf("%d lines, want each of the %d once", len(got.Lines), len(re.lines))
		}
		if len(got.Measures) != 2 {
			t.Fatalf("measures %v, want revenue and gross_margin", got.Measures)
		}

		// The version answers first: nothing else is looked up.
		_, err = e.svcs.Resolve.Resolve(ctx, planning.Refs{VersionID: 1 << 40, UnitCodes: []string{"B-SH"}})
		wantCode(t, err, planning.ENOTFOUND)
		_, err = e.svcs.Resolve.Resolve(ctx, planning.Refs{RoundID: 1 << 40})
		wantCode(t, err, planning.ENOTFOUND)
		got, err = e.svcs.Resolve.Resolve(ctx, planning.Refs{RoundID: re.round.ID})
		if err != nil || got.Round.ID != re.round.ID || got.Version != nil || len(got.Measures) != 0 {
			t.Fatalf("round alone: %+v %v", got, err)
		}
		got, err = e.svcs.Resolve.Resolve(ctx, planning.Refs{RoundID: re.round.ID, RoundMeasures: true, MeasureIDs: []int64{re.revenue.ID}})
		if err != nil || len(got.Measures) != len(re.round.MeasureIDs) {
			t.Fatalf("the round's measures: %v %v, want its %d", got.Measures, err, len(re.round.MeasureIDs))
		}

		// More ids than one query may name are looked up in pieces.
		all, _, err := e.svcs.OrgUnits.FindOrgUnits(e.as("admin"), planning.OrgUnitFilter{Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, 0, 2*planning.MaxPageSize+len(all))
		for i := range 2 * planning.MaxPageSize {
			ids = append(ids, int64(1<<30+i))
		}
		for _, u := range all {
			ids = append(ids, u.ID)
		}
		got, err = e.svcs.Resolve.Resolve(e.as("admin"), planning.Refs{UnitIDs: ids})
		if err != nil || len(got.Units) != len(all) {
			t.Fatalf("%d of %d units by id (%v)", len(got.Units), len(all), err)
		}
	})
}
