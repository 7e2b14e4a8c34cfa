package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// importOutcome is what a workbook import answered: its status, the fields
// of its errors and its report.
type importOutcome struct {
	status int
	fields []string
	report api.TargetImportReport
}

func importWorkbook(t *testing.T, env *apitest.Env, user string, vid int64, data []byte, dry bool) importOutcome {
	t.Helper()
	fields := map[string]string{}
	if dry {
		fields["dry_run"] = "true"
	}
	r := upload(t, env, user, fmt.Sprintf("/api/v1/versions/%d/imports", vid), "edited.xlsx", data, fields)
	out := importOutcome{status: r.Status}
	var body struct {
		api.TargetImportReport
		Report *api.TargetImportReport `json:"report"`
		Errors []api.ProblemField      `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("import answer %d %s: %v", r.Status, r.Body, err)
	}
	out.report = body.TargetImportReport
	if body.Report != nil {
		out.report = *body.Report
	}
	for _, e := range body.Errors {
		out.fields = append(out.fields, e.Field+": "+e.Message)
	}
	return out
}

// TestWorkbookDryRunIsTheImport checks a dry run refuses exactly what the
// import refuses, whatever the rule (an amount too large to store, a product
// line that is not the importer's), because it goes through the write and
// undoes it; and that a clean dry run is followed by a clean import.
func TestWorkbookDryRunIsTheImport(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		if status, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "12000000.00", false); status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		book := exportXLSX(t, env, "pm-industry", vid, "product_line=POS&measure=revenue")
		for _, c := range []struct {
			name, user string
			data       []byte
			status     int
			field      string
		}{
			{"an amount of 1E+300, a number the version cannot store", "pm-industry",
				editWorkbook(t, book, [5]string{"revenue", "B-SH-KA", "POS", "2027-04", "1E+300"}), 422, "revenue!"},
			{"another product manager's line", "pm-agency",
				editWorkbook(t, book, [5]string{"revenue", "B-SH-KA", "POS", "2027-04", "5.00"}), 403, ""},
			{"a clean edit", "pm-industry",
				editWorkbook(t, book, [5]string{"revenue", "B-SH-KA", "POS", "2027-04", "5.00"}), 200, ""},
		} {
			before := readGrid(t, env, "strategy", vid, "org_unit=B-SH-KA&product_line=POS&measure=revenue")
			dry := importWorkbook(t, env, c.user, vid, c.data, true)
			if after := readGrid(t, env, "strategy", vid, "org_unit=B-SH-KA&product_line=POS&measure=revenue"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("%s: the dry run wrote: %v → %v", c.name, before, after)
			}
			real := importWorkbook(t, env, c.user, vid, c.data, false)
			if dry.status != c.status || real.status != c.status || strings.Join(dry.fields, "; ") != strings.Join(real.fields, "; ") {
				t.Fatalf("%s: dry run %d %v, import %d %v; want both %d alike", c.name, dry.status, dry.fields, real.status, real.fields, c.status)
			}
			if c.field != "" && (len(real.fields) != 1 || !strings.HasPrefix(real.fields[0], c.field)) {
				t.Fatalf("%s: errors %v do not name the workbook cell", c.name, real.fields)
			}
			if c.status == 200 && (dry.report.Written || !real.report.Written || dry.report.ChangedCells != real.report.ChangedCells) {
				t.Fatalf("%s: dry run %+v, import %+v", c.name, dry.report, real.report)
			}
		}
		// Inside the transaction of an idempotent request too, the dry run
		// undoes its write and nothing else.
		before := readGrid(t, env, "strategy", vid, "org_unit=B-SH-KA&product_line=POS&measure=revenue")
		book = exportXLSX(t, env, "pm-industry", vid, "product_line=POS&measure=revenue")
		body, ct := multipartBody(t, "edited.xlsx", editWorkbook(t, book, [5]string{"revenue", "B-SH-KA", "POS", "2027-04", "7.00"}), map[string]string{"dry_run": "true"})
		r := env.Request("POST", fmt.Sprintf("/api/v1/versions/%d/imports", vid), apitest.Token("pm-industry"), body,
			map[string]string{"Content-Type": ct, "Idempotency-Key": "dry-run-1"})
		if after := readGrid(t, env, "strategy", vid, "org_unit=B-SH-KA&product_line=POS&measure=revenue"); r.Status != 200 || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("idempotent dry run: %d %s; %v → %v", r.Status, r.Body, before, after)
		}
	})
}

// TestWorkbookImportReportsInconsistencies changes a leaf without its
// parent, and a parent without its children: each import is written as the
// workbook says and reports, as its dry run did, exactly the groups the
// changed cells take part in that no longer add up, which the version's
// consistency report then lists too.
func TestWorkbookImportReportsInconsistencies(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		round := openDemoRound(t, env, "FY2027")
		vid := *round.WorkingVersionID
		if status, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "12000000.00", false); status != 201 {
			t.Fatalf("allocate: %d %s", status, body)
		}
		var all api.InconsistencyPage
		env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency?limit=1000", vid), &all)
		if len(all.Items) != 0 {
			t.Fatalf("inconsistent after the allocation: %+v", all.Items)
		}
		book := exportXLSX(t, env, "pm-industry", vid, "product_line=POS&measure=revenue")
		groups := func(xs []api.Inconsistency) []string {
			var out []string
			for _, x := range xs {
				out = append(out, x.Parent+" "+x.ProductLine+" "+x.Measure+" "+x.Period)
			}
			return out
		}
		for _, c := range []struct {
			name string
			edit [5]string
			want []string
		}{
			{"a leaf without its parent", [5]string{"revenue", "B-SH-KA", "POS", "2027-04", "1.00"}, []string{"B-SH POS revenue 2027-04"}},
			{"a parent without its children", [5]string{"revenue", "R-EAST", "POS", "2027-05", "1.00"},
				[]string{"CO POS revenue 2027-05", "R-EAST POS revenue 2027-05"}},
		} {
			data := editWorkbook(t, book, c.edit)
			dry := importWorkbook(t, env, "pm-industry", vid, data, true)
			real := importWorkbook(t, env, "pm-industry", vid, data, false)
			if dry.status != 200 || real.status != 200 || !real.report.Written {
				t.Fatalf("%s: dry run %d, import %d %v", c.name, dry.status, real.status, real.fields)
			}
			got, gotDry := groups(real.report.Inconsistencies), groups(dry.report.Inconsistencies)
			if strings.Join(got, "; ") != strings.Join(c.want, "; ") || strings.Join(gotDry, "; ") != strings.Join(got, "; ") {
				t.Fatalf("%s: import reports %v, dry run %v; want %v", c.name, got, gotDry, c.want)
			}
			env.GetJSON("strategy", fmt.Sprintf("/api/v1/versions/%d/consistency?limit=1000", vid), &all)
			listed := map[string]api.Inconsistency{}
			for _, x := range all.Items {
				listed[x.Parent+" "+x.ProductLine+" "+x.Measure+" "+x.Period] = x
			}
			for i, g := range got {
				if listed[g] != real.report.Inconsistencies[i] {
					t.Fatalf("%s: the import reports %+v, the version's consistency %+v", c.name, real.report.Inconsistencies[i], listed[g])
				}
			}
			book = exportXLSX(t, env, "pm-industry", vid, "product_line=POS&measure=revenue")
		}
	})
}
