package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// loadStats counts what every endpoint answered; vegeta's metrics keep the
// latency quantiles.
type loadStats struct {
	mu        sync.Mutex
	endpoints map[string]*endpointStats
	retries   int // writes retried after 409 or 412
	gaveUp    int // writes abandoned after maxAttempts
	odd       int // answers no user expects: 4xx other than 409/412, bad bodies
	failures  []string
}

type endpointStats struct {
	metrics                    vegeta.Metrics
	requests, s2, s4, s5, errs int
}

func newLoadStats() *loadStats { return &loadStats{endpoints: map[string]*endpointStats{}} }

func (s *loadStats) record(endpoint string, at time.Time, res apiResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints[endpoint]
	if e == nil {
		e = &endpointStats{}
		s.endpoints[endpoint] = e
	}
	r := vegeta.Result{Code: uint16(res.Status), Timestamp: at, Latency: res.Latency}
	e.requests++
	switch {
	case res.Err != nil:
		e.errs++
		r.Error = res.Err.Error()
		s.note(fmt.Sprintf("%s: %v", endpoint, res.Err))
	case res.Status >= 500:
		e.s5++
		s.note(fmt.Sprintf("%s: %s", endpoint, res))
	case res.Status >= 400:
		e.s4++
	default:
		e.s2++
	}
	e.metrics.Add(&r)
}

// note keeps the first few descriptions of things that went wrong.
func (s *loadStats) note(msg string) {
	if len(s.failures) < 10 {
		s.failures = append(s.failures, msg)
	}
}

func (s *loadStats) retry()  { s.mu.Lock(); s.retries++; s.mu.Unlock() }
func (s *loadStats) giveUp() { s.mu.Lock(); s.gaveUp++; s.mu.Unlock() }

// unexpected counts an answer no simulated user should get.
func (s *loadStats) unexpected(endpoint string, res apiResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.odd++
	s.note(fmt.Sprintf("unexpected answer to %s: %s", endpoint, res))
}

func (s *loadStats) fail(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.odd++
	s.note(msg)
}

// loadAcks is every write the servers acknowledged, to find in the
// database afterwards.
type loadAcks struct {
	mu             sync.Mutex
	cells          map[string]ackedCell // "unit/line/period" → last acknowledged
	cellEdits      int
	uncertainCells map[string]bool
	lastAlloc      map[string]string // line → amount of its last acknowledged allocation
	runs           []int64
	uncertainLines map[string]bool
	cps            map[int64]string // id → title
	submits        map[int64]bool
	midChecks      int
	midBad         int
}

type ackedCell struct {
	amount   string
	revision int64
}

func newLoadAcks() *loadAcks {
	return &loadAcks{cells: map[string]ackedCell{}, uncertainCells: map[string]bool{}, lastAlloc: map[string]string{},
		uncertainLines: map[string]bool{}, cps: map[int64]string{}, submits: map[int64]bool{}}
}

// edit records an acknowledged cell value and the version revision the
// write produced; the highest revision is the last write.
func (a *loadAcks) edit(key, amount string, revision int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cellEdits++
	if old, ok := a.cells[key]; !ok || revision > old.revision {
		a.cells[key] = ackedCell{amount: amount, revision: revision}
	}
}

func (a *loadAcks) uncertainCell(key string) {
	a.mu.Lock()
	a.uncertainCells[key] = true
	a.mu.Unlock()
}
func (a *loadAcks) uncertainLine(line string) {
	a.mu.Lock()
	a.uncertainLines[line] = true
	a.mu.Unlock()
}

// allocation records an acknowledged allocation. Each line has one
// product manager, who allocates one at a time, so the last recorded is
// the last made.
func (a *loadAcks) allocation(line, amount string, run int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastAlloc[line] = amount
	a.runs = append(a.runs, run)
}

func (a *loadAcks) counterproposal(id int64, title string) {
	a.mu.Lock()
	a.cps[id] = title
	a.mu.Unlock()
}

func (a *loadAcks) submitted(id int64) { a.mu.Lock(); a.submits[id] = true; a.mu.Unlock() }

func (a *loadAcks) consistencyRead(items int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.midChecks++
	if items > 0 {
		a.midBad++
	}
}

// loadReport is the outcome of a load test.
type loadReport struct {
	Rows       []reportRow
	Total      reportRow
	Paced      time.Duration // how long requests were sent
	Elapsed    time.Duration // until the last answer
	TargetRate int
	Retries    int
	GaveUp     int
	Odd        int
	Notes      []string

	CellEdits, CellsChecked, LostCells    int
	AllocsAcked, LinesChecked, LostLines  int
	CPs, MissingCPs, Submits, Unsubmitted int
	Runs, RunsExpected, AuditedRuns       int
	CellCount, Cells                      int64
	Inconsistent, MidChecks, MidBad       int
	Uncertain                             int
	ServerErrors                          int
}

type reportRow struct {
	Endpoint                   string
	Requests, S2, S4, S5, Errs int
	P50, P99                   time.Duration
}

func (s *loadStats) report(paced, elapsed time.Duration, rate int) *loadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := &loadReport{Paced: paced, Elapsed: elapsed, TargetRate: rate, Retries: s.retries, GaveUp: s.gaveUp, Odd: s.odd,
		Notes: slices.Clone(s.failures), Total: reportRow{Endpoint: "all"}}
	for name, e := range s.endpoints {
		e.metrics.Close()
		rep.Rows = append(rep.Rows, reportRow{Endpoint: name, Requests: e.requests, S2: e.s2, S4: e.s4, S5: e.s5, Errs: e.errs,
			P50: e.metrics.Latencies.P50, P99: e.metrics.Latencies.P99})
		t := &rep.Total
		t.Requests, t.S2, t.S4, t.S5, t.Errs = t.Requests+e.requests, t.S2+e.s2, t.S4+e.s4, t.S5+e.s5, t.Errs+e.errs
	}
	slices.SortFunc(rep.Rows, func(a, b reportRow) int { return strings.Compare(a.Endpoint, b.Endpoint) })
	return rep
}

// print writes the table and the checks.
func (r *loadReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\t2xx\t4xx\t5xx\terrors\tp50\tp99\t")
	for _, row := range append(r.Rows, r.Total) {
		p50, p99 := ms(row.P50), ms(row.P99)
		if row.Endpoint == "all" {
			p50, p99 = "", ""
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", row.Endpoint, row.Requests, row.S2, row.S4, row.S5, row.Errs, p50, p99)
	}
	tw.Flush()
	secs := r.Paced.Seconds()
	fmt.Fprintf(w, "rate: %.1f requests/s sent over %.1fs (target %d/s), the last answered after %.1fs; %d writes retried after 409/412, %d abandoned\n",
		float64(r.Total.Requests)/secs, secs, r.TargetRate, r.Elapsed.Seconds(), r.Retries, r.GaveUp)
	fmt.Fprintf(w, "acknowledged: %d cell edits, %d allocations, %d counterproposals (%d submitted)\n",
		r.CellEdits, r.AllocsAcked, r.CPs, r.Submits)
	fmt.Fprintf(w, "lost updates: %d of %d edited cells, %d of %d allocated lines; missing: %d counterproposals, %d submissions; %d writes of unknown outcome\n",
		r.LostCells, r.CellsChecked, r.LostLines, r.LinesChecked, r.MissingCPs, r.Unsubmitted, r.Uncertain)
	fmt.Fprintf(w, "allocation runs: %d (expected %d), %d audited; cell_count %d, cells %d\n",
		r.Runs, r.RunsExpected, r.AuditedRuns, r.CellCount, r.Cells)
	fmt.Fprintf(w, "consistency: %d violations at the end; %d of %d checks during the load found any\n",
		r.Inconsistent, r.MidBad, r.MidChecks)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// failures lists every check that failed.
func (r *loadReport) failures() []string {
	var out []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(r.Total.Requests == 0, "no request was sent")
	add(r.Total.S5 > 0, "%d answers were 5xx", r.Total.S5)
	add(r.Total.Errs > 0, "%d requests got no answer", r.Total.Errs)
	add(r.Odd > 0, "%d unexpected answers", r.Odd)
	add(r.LostCells > 0, "%d acknowledged cell edits are lost", r.LostCells)
	add(r.LostLines > 0, "%d acknowledged allocations are lost", r.LostLines)
	add(r.MissingCPs > 0, "%d acknowledged counterproposals are missing", r.MissingCPs)
	add(r.Unsubmitted > 0, "%d acknowledged submissions are missing", r.Unsubmitted)
	add(r.Uncertain == 0 && r.Runs != r.RunsExpected, "%d allocation runs, expected %d", r.Runs, r.RunsExpected)
	add(r.AuditedRuns != r.Runs, "%d runs but %d targets.allocate audit events", r.Runs, r.AuditedRuns)
	add(r.CellCount != r.Cells, "the version says %d cells, the database holds %d", r.CellCount, r.Cells)
	add(r.Inconsistent > 0, "%d consistency violations at the end", r.Inconsistent)
	add(r.MidBad > 0, "%d consistency checks during the load found violations", r.MidBad)
	add(r.ServerErrors > 0, "the servers logged %d internal errors or panics", r.ServerErrors)
	return out
}

// countServerErrors counts the internal errors and panics in a server log.
func countServerErrors(logs string) int {
	return strings.Count(logs, `msg="internal error"`) + strings.Count(logs, "msg=panic")
}

// verifyLoad checks the database and the API against what the users saw
// acknowledged, and fills in the report.
func verifyLoad(ctx context.Context, cfg loadConfig, data *loadData, run *loadRun, rep *loadReport) error {
	a := run.acks
	a.mu.Lock()
	defer a.mu.Unlock()
	rep.CellEdits, rep.AllocsAcked, rep.CPs, rep.Submits = a.cellEdits, len(a.runs), len(a.cps), len(a.submits)
	rep.MidChecks, rep.MidBad = a.midChecks, a.midBad
	rep.Uncertain = len(a.uncertainCells) + len(a.uncertainLines)

	auditor := &apiClient{http: http.DefaultClient, token: data.Readers[0].Token}
	var inc api.InconsistencyPage
	res := auditor.do(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/versions/%d/consistency?limit=1000", run.urls[0], data.VersionID), nil)
	if err := res.decode(&inc); err != nil {
		return fmt.Errorf("final consistency check: %w", err)
	}
	rep.Inconsistent = len(inc.Items)

	db, err := sqlstore.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	probe := db.Probe()
	var editLines, allocLines []string
	for _, pm := range data.PMs {
		editLines, allocLines = append(editLines, pm.EditLines...), append(allocLines, pm.AllocLines...)
	}
	cellsOf := func(lines []string, unit string) ([]sqlstore.CellRow, error) {
		return probe.Cells(ctx, data.VersionID, lines, unit)
	}

	edited, err := cellsOf(editLines, "")
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, c := range edited {
		have[cellKey(c.Unit, c.Line, c.Period)] = c.Amount
	}
	for key, want := range a.cells {
		if a.uncertainCells[key] {
			continue
		}
		rep.CellsChecked++
		if !sameAmount(have[key], want.amount) {
			rep.LostCells++
			rep.Notes = append(rep.Notes, fmt.Sprintf("cell %s: acknowledged %s at revision %d, the database has %q", key, want.amount, want.revision, have[key]))
		}
	}

	top, err := cellsOf(allocLines, data.CompanyCode)
	if err != nil {
		return err
	}
	years := map[string]decimal.Decimal{}
	for _, c := range top {
		d, err := decimal.NewFromString(c.Amount)
		if err != nil {
			return err
		}
		years[c.Line] = years[c.Line].Add(d)
	}
	for _, line := range allocLines {
		if a.uncertainLines[line] {
			continue
		}
		want, ok := a.lastAlloc[line]
		if !ok {
			want = data.Initial[line]
		}
		rep.LinesChecked++
		if !sameAmount(years[line].String(), want) {
			rep.LostLines++
			rep.Notes = append(rep.Notes, fmt.Sprintf("line %s: last acknowledged allocation %s, the company's year is %s", line, want, years[line]))
		}
	}

	cps, err := probe.Counterproposals(ctx, data.VersionID)
	if err != nil {
		return err
	}
	byID := map[int64]int{}
	for i, c := range cps {
		byID[c.ID] = i
	}
	for id, title := range a.cps {
		i, ok := byID[id]
		if !ok || cps[i].Title != title {
			rep.MissingCPs++
			continue
		}
		if a.submits[id] && cps[i].Status != "submitted" {
			rep.Unsubmitted++
		}
	}

	rep.RunsExpected = 1 + len(a.runs)
	counts, err := probe.VersionCounts(ctx, data.VersionID)
	if err != nil {
		return err
	}
	rep.Runs, rep.AuditedRuns, rep.Cells, rep.CellCount = int(counts.Runs), int(counts.AuditedRuns), counts.Cells, counts.CellCount
	return nil
}

// sameAmount compares two decimal strings by value.
func sameAmount(a, b string) bool {
	x, err1 := decimal.NewFromString(a)
	y, err2 := decimal.NewFromString(b)
	return err1 == nil && err2 == nil && x.Equal(y)
}
