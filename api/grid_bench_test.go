package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// BenchmarkGridRead reads a region's grid (its units, four product lines,
// three measures: about a hundred rows of twelve months) through the whole
// handler, in one run with the direct grid encoder (direct) and with the
// encoding/json one it replaced (reflect), on SQLite, or on PostgreSQL when
// CASCADE_TEST_PG_DSN is set. It reports reads per second of one client
// and allocations per read.
func BenchmarkGridRead(b *testing.B) {
	opts := apitest.Options{}
	if os.Getenv("CASCADE_TEST_PG_DSN") != "" {
		opts.Dialect = sqlstore.Postgres
	}
	env := apitest.NewWith(b, opts)
	var round struct {
		ID               int64 `json:"id"`
		WorkingVersionID int64 `json:"working_version_id"`
	}
	code, _, body := env.Do(http.MethodPost, "/api/v1/rounds", apitest.Token("strategy"), map[string]any{
		"code": "FY2027", "name": "Plan 2027", "fiscal_year": 2027, "first_month": 4, "measures": []string{"revenue", "gross_margin", "units"},
		"calendar": []map[string]any{{"phase": "counterproposals", "due": "2027-01-31T00:00:00Z"}}})
	if code != http.StatusCreated {
		b.Fatalf("round: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &round); err != nil {
		b.Fatal(err)
	}
	if code, _, body := env.Do(http.MethodPost, fmt.Sprintf("/api/v1/rounds/%d/transitions", round.ID), apitest.Token("strategy"), map[string]any{"to": "open"}); code != http.StatusOK {
		b.Fatalf("open: %d %s", code, body)
	}
	var got struct {
		WorkingVersionID int64 `json:"working_version_id"`
	}
	env.GetJSON("strategy", fmt.Sprintf("/api/v1/rounds/%d", round.ID), &got)
	for _, pa := range []struct{ pm, line string }{{"pm-industry", "POS"}, {"pm-commercial", "CPC"}, {"pm-commercial", "HPC"}, {"pm-industry", "TERM"}} {
		for _, m := range []string{"revenue", "gross_margin", "units"} {
			amount := "1200000.00"
			if m == "units" {
				amount = "1200000"
			}
			if code, _, body := env.Do(http.MethodPost, fmt.Sprintf("/api/v1/versions/%d/allocations", got.WorkingVersionID), apitest.Token(pa.pm), map[string]any{
				"measure": m, "root": "CO", "targets": []map[string]any{{"product_line": pa.line, "amount": amount}}}); code != http.StatusCreated {
				b.Fatalf("allocate %s %s: %d %s", pa.line, m, code, body)
			}
		}
	}
	path := fmt.Sprintf("/api/v1/versions/%d/targets?org_unit=R-EAST&subtree=true&limit=1000", got.WorkingVersionID)
	handler := env.API.Handler()
	read := func() int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+apitest.Token("strategy"))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("grid: %d %s", rec.Code, rec.Body)
		}
		return rec.Body.Len()
	}
	for _, bc := range []struct {
		name  string
		setup func() func()
	}{
		{"reflect", api.UseReflectGridEncoder},
		{"direct", func() func() { return func() {} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			defer bc.setup()()
			read()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			start := time.Now()
			n := 0
			for range b.N {
				n = read()
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/read")
			b.ReportMetric(float64(n), "bytes/read")
		})
	}
}
