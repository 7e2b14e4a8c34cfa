package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// benchConfig is what `cascade bench` builds and measures.
type benchConfig struct {
	DB       string // SQLite path (the new file goes next to it) or postgres:// URL
	Units    int    // org units in the tree
	Lines    int    // product lines
	Measures int    // measures of the round
	Edits    int    // cells changed in the copy before the diff
	Reads    int    // measured grid reads
	Warmups  int    // grid reads before the measured ones
	Repeats  int    // runs of each diff, Cascade and baseline; the median counts
	Out      string // a Markdown file for the report, besides stdout
	Profile  string // a directory for CPU profiles of the measured calls
	Keep     bool   // keep the database afterwards
	// Rate is the grid reads a second of the latency measurement.
	Rate int
	// CapacityTime is how long each client count of the capacity sweep reads.
	CapacityTime time.Duration
	// FillCells, when more than the rows of target_cells after the other
	// steps, has the database write further rounds' cells up to it, and the
	// grid measured again.
	FillCells int64
	// GridOnly measures only the grid reads, on the database --db names,
	// one a benchmark kept (--keep).
	GridOnly bool
	// Compare, with GridOnly, is a second kept database whose grid is
	// measured taking turns with the first's.
	Compare string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := benchConfig{}
	fs, db := newFlagSet("bench", stderr)
	fs.IntVar(&cfg.Units, "units", 2000, "org units in the generated tree (company, regions, branches, two teams per branch)")
	fs.IntVar(&cfg.Lines, "lines", 40, "product lines")
	fs.IntVar(&cfg.Measures, "measures", 5, "measures of the round")
	fs.IntVar(&cfg.Edits, "edits", 5000, "cells changed in the copy before the diff (at most 10000)")
	fs.IntVar(&cfg.Reads, "reads", 500, "measured grid reads")
	fs.IntVar(&cfg.Warmups, "warmups", 20, "grid reads before the measured ones")
	fs.IntVar(&cfg.Rate, "rate", 50, "grid reads a second of the latency measurement (open loop)")
	fs.DurationVar(&cfg.CapacityTime, "capacity-time", 10*time.Second, "how long each client count of the grid capacity sweep reads")
	fs.Int64Var(&cfg.FillCells, "fill-cells", 0, "after the other steps, have the database write further rounds' cells until target_cells holds this many rows, then measure the grid again (e.g. 100000000)")
	fs.BoolVar(&cfg.GridOnly, "grid-only", false, "only measure the grid reads and capacity, on the database --db names, one a benchmark kept with --keep (it is neither created nor dropped)")
	fs.StringVar(&cfg.Compare, "compare", "", "with --grid-only: a second kept database, measured taking turns with --db's (blocks of 10 s of the open-loop reads, each client count of the sweep), with a row of ratios")
	fs.IntVar(&cfg.Repeats, "repeats", 3, "runs of each diff and its baseline (the median counts)")
	small := fs.Bool("small", false, "a quick run for CI: 200 units × 10 lines, 1000 edits, 100 reads, 1 s per capacity step (explicit flags still win)")
	fs.StringVar(&cfg.Out, "out", "", "also write the report to this Markdown file")
	fs.StringVar(&cfg.Profile, "profile", "", "write CPU profiles of the measured calls into this directory")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the benchmark database and print where it is")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: cascade-tools bench [flags]

Builds a planning data set in a fresh database (a new SQLite file next to
--db, or a new PostgreSQL database cascade_bench_<random> on the --db
server, dropped at the end), runs the service in-process and measures, end
to end over HTTP, a top-down allocation of lines × units × 12 cells, a
version copy, a diff and grid reads, each against the same work done by
the database's own client (psql, sqlite3) in the same run. Prints a
Markdown table; exits non-zero only on errors, not on missed goals.

`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *small {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"units": &cfg.Units, "lines": &cfg.Lines, "edits": &cfg.Edits, "reads": &cfg.Reads} {
			if !set[name] {
				*v = map[string]int{"units": 200, "lines": 10, "edits": 1000, "reads": 100}[name]
			}
		}
		if !set["capacity-time"] {
			cfg.CapacityTime = time.Second
		}
	}
	cfg.DB = *db
	if cfg.Units < 5 || cfg.Lines < 1 || cfg.Measures < 1 || cfg.Edits < 1 || cfg.Edits > 10000 || cfg.Reads < 1 || cfg.Repeats < 1 ||
		cfg.Rate < 1 || cfg.CapacityTime <= 0 || cfg.FillCells < 0 || (cfg.Compare != "" && !cfg.GridOnly) {
		fmt.Fprintln(stderr, "--units must be at least 5, --lines, --measures, --reads, --repeats and --rate at least 1, --edits between 1 and 10000, --capacity-time positive, --fill-cells not negative; --compare needs --grid-only")
		return errUsage
	}
	if cfg.Out != "" {
		if _, err := os.Stat(filepath.Dir(cfg.Out)); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	b := &bench{cfg: cfg, stdout: stdout, log: stderr}
	return b.run(ctx)
}

// bench is one run of the benchmark.
type bench struct {
	cfg     benchConfig
	stdout  io.Writer
	log     io.Writer
	main    *service
	raw     *benchRawDB
	client  *benchClient
	data    *benchData
	tmp     string
	rows    []benchRow
	dialect sqlstore.Dialect
	copyID  int64 // the version copied from the first
	grids   []gridResult
	held    int64  // rows of target_cells at the last grid measurement
	csv     string // the first allocation's cells, for the bulk-load baselines
}

// step announces the next step. On PostgreSQL it first waits, up to a
// minute, until no other session is busy in the benchmark database: the
// statistics refresh the service starts after a bulk write, or an
// autovacuum worker, would otherwise run during the next measurement and
// slow whichever side it lands on.
func (b *bench) step(ctx context.Context, format string, args ...any) {
	if b.raw != nil {
		if busy, err := b.raw.probe.WaitIdle(ctx, time.Minute); err == nil && busy > 0 {
			fmt.Fprintf(b.log, "bench: %d other sessions still busy in the database; measuring anyway\n", busy)
		}
	}
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) run(ctx context.Context) (err error) {
	target, drop, err := b.cfg.DB, func() error { return nil }, error(nil)
	if b.cfg.GridOnly {
		b.cfg.Keep = true
	} else if target, drop, err = freshBenchDB(ctx, b.cfg.DB); err != nil {
		return err
	}
	defer func() {
		if b.main != nil {
			if cerr := b.main.Close(); err == nil {
				err = cerr
			}
		}
		if b.cfg.Keep {
			b.step(ctx, "kept the database: %s", redactDSN(target))
		} else if derr := drop(); err == nil && derr != nil {
			err = fmt.Errorf("drop the benchmark database: %w", derr)
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "cascade-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)

	logger := slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The per-token rate limit would cap the grid capacity measured; the
	// latency reads stay below it anyway. Requests are not bounded in time:
	// the benchmark measures how long they take at sizes (10^7 cells) where
	// a diff outlasts the service's default bound.
	if b.main, err = startService(ctx, target, logger, func(c *api.Config) { c.RateLimit, c.RequestTimeout = -1, -1 }); err != nil {
		return err
	}
	stopJobs := b.main.startJobs(logger)
	defer stopJobs()
	b.dialect = b.main.DB.Dialect()
	b.raw = newBenchRawDB(b.dialect, target, b.main.DB.Probe())
	// Enough idle connections for the capacity sweep's clients, so no read
	// pays for a new connection.
	b.client = &benchClient{base: b.main.URL() + "/api/v1", http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	b.step(ctx, "database %s (%s); server on %s", redactDSN(target), b.dialect, b.main.URL())

	if b.cfg.GridOnly {
		if b.data, err = loadBenchData(ctx, sqlstore.NewServices(b.main.DB)); err != nil {
			return err
		}
		if b.cfg.Compare == "" {
			for _, f := range []func(context.Context) error{b.gridReads, b.gridCapacity} {
				if err := f(ctx); err != nil {
					return err
				}
			}
			return b.report(ctx)
		}
		o := &bench{cfg: b.cfg, stdout: b.stdout, log: b.log}
		if o.main, err = startService(ctx, b.cfg.Compare, logger, func(c *api.Config) { c.RateLimit, c.RequestTimeout = -1, -1 }); err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		defer o.main.Close()
		o.dialect = o.main.DB.Dialect()
		o.raw = newBenchRawDB(o.dialect, b.cfg.Compare, o.main.DB.Probe())
		o.client = &benchClient{base: o.main.URL() + "/api/v1", http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
		if o.data, err = loadBenchData(ctx, sqlstore.NewServices(o.main.DB)); err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		if err := b.gridCompare(ctx, o); err != nil {
			return err
		}
		return b.report(ctx)
	}
	start := time.Now()
	b.step(ctx, "building the data set: %d units, %d lines, %d measures", b.cfg.Units, b.cfg.Lines, b.cfg.Measures)
	if b.data, err = buildBenchData(ctx, sqlstore.NewServices(b.main.DB), b.cfg.Units, b.cfg.Lines, b.cfg.Measures); err != nil {
		return fmt.Errorf("build the data set: %w", err)
	}
	b.step(ctx, "data set built in %s", benchSeconds(time.Since(start)))

	for _, f := range []func(context.Context) error{b.allocate, b.fillBranch, b.copyVersion, b.diff, b.gridReads, b.gridCapacity, b.reallocate, b.diffApart, b.fillDatabase} {
		if err := f(ctx); err != nil {
			return err
		}
	}
	return b.report(ctx)
}

// profiled runs fn under the CPU profiler when --profile is set.
func (b *bench) profiled(name string, fn func() error) error {
	if b.cfg.Profile == "" {
		return fn()
	}
	if err := os.MkdirAll(b.cfg.Profile, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.cfg.Profile, name+".pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// allocate runs the big allocation: every line's revenue from the company
// down to every unit and month, in one POST.
func (b *bench) allocate(ctx context.Context) error {
	d := b.data
	req := map[string]any{"measure": d.Measures[0].Code, "root": d.CompanyCode, "depth": 0,
		"levels": []map[string]any{{"method": "even"}}, "phasing": map[string]any{"method": "even"}}
	var targets []map[string]any
	for _, code := range d.LineCodes {
		targets = append(targets, map[string]any{"product_line": code, "amount": "123456789.00"})
	}
	req["targets"] = targets
	want := d.allocationCells()
	b.step(ctx, "allocating %s cells over HTTP", benchCount(want))
	var took time.Duration
	var wrote int64
	mem := startBenchMemSampler(10 * time.Millisecond)
	err := b.profiled("allocate", func() (err error) {
		took, wrote, err = b.allocation(ctx, req, want)
		return err
	})
	peaks := mem.Stop()
	b.csv = filepath.Join(b.tmp, "cells.csv")
	if err != nil {
		return err
	}
	if wrote != want {
		return fmt.Errorf("the allocation wrote %d cells, want %d", wrote, want)
	}
	b.step(ctx, "allocation took %s; exporting its cells for the baseline", benchSeconds(took))
	file := b.csv
	n, err := b.raw.exportCSV(ctx, d.VersionID, d.Measures[0].ID, file)
	if err != nil {
		return fmt.Errorf("export the cells: %w", err)
	}
	if n != want {
		return fmt.Errorf("exported %d cells, want %d", n, want)
	}
	base, baseErr := time.Duration(0), b.raw.missing()
	if baseErr == "" {
		if err := b.raw.probe.CreateBaselineTable(ctx); err != nil {
			return fmt.Errorf("baseline table: %w", err)
		}
		b.step(ctx, "baseline: %s bulk load of the same %s rows", b.raw.tool, benchCount(n))
		if base, err = b.raw.importCSV(ctx, sqlstore.BaselineTable, file); err != nil {
			return err
		}
		if loaded, err := b.raw.probe.DropBaselineTable(ctx); err != nil || loaded != n {
			return fmt.Errorf("the baseline loaded %d rows, want %d (%v)", loaded, n, err)
		}
	}
	what, limit := `psql \copy of a CSV`, 2.0
	if b.dialect == sqlstore.SQLite {
		what, limit = "sqlite3 .import of a CSV", 3.0
	}
	b.rows = append(b.rows, benchRatioRow(fmt.Sprintf("save an allocation: POST /versions/{id}/allocations (%d lines × %d units × 12 months)", len(d.LineCodes), len(d.Units)),
		benchCount(want), took, what, base, baseErr, limit))
	b.rows = append(b.rows,
		benchRow{Operation: "server memory during that allocation: peak resident set (VmHWM)", Rows: benchCount(want),
			Cascade: benchMB(peaks.RSS), Baseline: fmt.Sprintf("before the call: %s", benchMB(peaks.RSSBefore)), Ratio: "—",
			Goal: "< 500 MB", Result: benchCheck(peaks.RSS < 500e6)},
		benchRow{Operation: "… of which Go heap in use, peak (runtime.MemStats.HeapInuse, sampled every 10 ms)", Rows: benchCount(want),
			Cascade: benchMB(peaks.HeapInuse), Baseline: fmt.Sprintf("Go runtime total from the OS: %s", benchMB(peaks.Sys)), Ratio: "—",
			Goal: "—", Result: fmt.Sprintf("info (%d samples)", peaks.Samples)})
	return nil
}

// allocation runs an allocation of the benchmark's version over HTTP and
// returns how long it took, statistics refresh included, and the cells it
// wrote. One of up to planning.MaxAllocationCells cells is the synchronous
// POST /versions/{id}/allocations; a larger one is an allocation job
// (POST /versions/{id}/allocation-jobs), timed from the POST until a poll
// every 50 ms sees it succeeded.
func (b *bench) allocation(ctx context.Context, req map[string]any, cells int64) (time.Duration, int64, error) {
	d := b.data
	if cells <= planning.MaxAllocationCells {
		var resp struct {
			Run struct {
				CellCount int64 `json:"cell_count"`
			} `json:"run"`
		}
		took, err := b.client.do(ctx, http.MethodPost, fmt.Sprintf("/versions/%d/allocations", d.VersionID), d.PMToken, req, http.StatusCreated, &resp)
		if err != nil {
			return 0, 0, err
		}
		return took + b.statsWait(), resp.Run.CellCount, nil
	}
	start := time.Now()
	var job api.AllocationJob
	if _, err := b.client.do(ctx, http.MethodPost, fmt.Sprintf("/versions/%d/allocation-jobs", d.VersionID), d.PMToken, req, http.StatusAccepted, &job); err != nil {
		return 0, 0, err
	}
	b.step(ctx, "allocation job %d queued; polling it", job.ID)
	last := time.Now()
	for !planning.JobState(job.State).Final() {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := b.client.do(ctx, http.MethodGet, fmt.Sprintf("/allocation-jobs/%d", job.ID), d.PMToken, nil, http.StatusOK, &job); err != nil {
			return 0, 0, err
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(b.log, "bench: job %d %s: %s of %s cells\n", job.ID, job.State, benchCount(job.CellsDone), benchCount(job.CellsTotal))
			last = time.Now()
		}
	}
	if job.State != string(planning.JobSucceeded) {
		detail := ""
		if job.Error != nil {
			detail = ": " + job.Error.Detail
		}
		return 0, 0, fmt.Errorf("allocation job %d %s%s", job.ID, job.State, detail)
	}
	took := time.Since(start)
	return took + b.statsWait(), job.CellsTotal, nil
}

// driverRow compares an operation with its baseline SQL run through the
// service's own driver and connection pool, without HTTP or the service:
// what Cascade adds on top of the database engine it embeds or talks to.
func (b *bench) driverRow(rows string, cascade, direct time.Duration) benchRow {
	driver := "pgdriver"
	if b.dialect == sqlstore.SQLite {
		driver = "modernc.org/sqlite, the pure-Go SQLite the service embeds"
	}
	return benchRow{Operation: "… the same SQL through the service's own driver (" + driver + ")", Rows: rows,
		Cascade: benchSeconds(cascade), Baseline: benchSeconds(direct), Ratio: fmt.Sprintf("%.2f×", cascade.Seconds()/direct.Seconds()),
		Goal: "—", Result: "info"}
}

// fillBranch allocates the other measures to one branch and its teams, so
// that branch's grid has every line, month and measure.
func (b *bench) fillBranch(ctx context.Context) error {
	d := b.data
	for _, m := range d.Measures[1:] {
		amount := "1200000"
		if m.Scale > 0 {
			amount += "." + strings.Repeat("0", int(m.Scale))
		}
		var targets []map[string]any
		for _, code := range d.LineCodes {
			targets = append(targets, map[string]any{"product_line": code, "amount": amount})
		}
		req := map[string]any{"measure": m.Code, "root": d.BranchCode, "targets": targets, "depth": 0,
			"levels": []map[string]any{{"method": "even"}}, "phasing": map[string]any{"method": "even"}}
		if _, err := b.client.do(ctx, http.MethodPost, fmt.Sprintf("/versions/%d/allocations", d.VersionID), d.PMToken, req, http.StatusCreated, nil); err != nil {
			return err
		}
	}
	return nil
}

// versionCells returns how many cells a version holds.
func (b *bench) versionCells(ctx context.Context, versionID int64) (int64, error) {
	return b.raw.probe.CountCells(ctx, versionID)
}

// copyVersion copies the first version over HTTP, and has the database
// copy the same cells under an unused version id with INSERT … SELECT
// (what a copy cost before copy-on-write), before and after, deleting
// them again untimed, so both baselines find the table as the copy did.
func (b *bench) copyVersion(ctx context.Context) error {
	d := b.data
	n, err := b.versionCells(ctx, d.VersionID)
	if err != nil {
		return err
	}
	// The baselines copy the same cells under a version id nobody has
	// (target_cells has no foreign keys) and delete them again, untimed.
	const scratch = 999_999_999
	baseline := func(run func() (time.Duration, error)) (time.Duration, error) {
		took, err := run()
		if err != nil {
			return 0, err
		}
		if got, err := b.versionCells(ctx, scratch); err != nil || got != n {
			return 0, fmt.Errorf("the baseline copied %d cells, want %d (%v)", got, n, err)
		}
		if err := b.raw.probe.DeleteCells(ctx, scratch); err != nil {
			return 0, err
		}
		return took, nil
	}
	var bases []time.Duration
	baseErr := b.raw.missing()
	runBaseline := func() error {
		if baseErr != "" {
			return nil
		}
		b.step(ctx, "baseline: INSERT … SELECT of the same cells by %s", b.raw.tool)
		took, err := baseline(func() (time.Duration, error) { return b.raw.exec(ctx, b.raw.probe.CopyCellsSQL(d.VersionID, scratch)) })
		bases = append(bases, took)
		return err
	}
	if err := runBaseline(); err != nil {
		return err
	}
	b.step(ctx, "copying a version of %s cells over HTTP", benchCount(n))
	var v struct {
		ID        int64 `json:"id"`
		CellCount int64 `json:"cell_count"`
	}
	var took time.Duration
	err = b.profiled("copy", func() (err error) {
		if took, err = b.client.do(ctx, http.MethodPost, fmt.Sprintf("/rounds/%d/versions", d.RoundID), d.PMToken,
			map[string]any{"from_version_id": d.VersionID, "label": "copy"}, http.StatusCreated, &v); err == nil {
			took += b.statsWait()
		}
		return err
	})
	if err != nil {
		return err
	}
	if got, err := b.versionCells(ctx, v.ID); err != nil || got != n {
		return fmt.Errorf("the copy holds %d cells, want %d (%v)", got, n, err)
	}
	b.copyID = v.ID
	// The first version's cells now sit under its id as the copy's base;
	// the baseline reads them there as before.
	if err := runBaseline(); err != nil {
		return err
	}
	b.rows = append(b.rows, benchRatioRow("copy a version: POST /rounds/{id}/versions (copy-on-write)", benchCount(n), took,
		"INSERT … SELECT by "+b.raw.tool+beforeAfter(bases), benchMean(bases), baseErr, 0.02))
	return nil
}

// statsWait waits for the statistics refresh the service started after a
// bulk write and returns how long that took: the write's own cost.
func (b *bench) statsWait() time.Duration {
	start := time.Now()
	b.raw.probe.WaitStats()
	return time.Since(start)
}

// beforeAfter describes two baseline runs, one before and one after the
// service's step.
func beforeAfter(runs []time.Duration) string {
	if len(runs) != 2 {
		return ""
	}
	return fmt.Sprintf(" (before %s, after %s; mean)", benchSeconds(runs[0]), benchSeconds(runs[1]))
}

func benchMean(runs []time.Duration) time.Duration {
	if len(runs) == 0 {
		return 0
	}
	var sum time.Duration
	for _, r := range runs {
		sum += r
	}
	return sum / time.Duration(len(runs))
}

// diff changes cells of the copy with one batch edit, then compares the
// two versions over HTTP and with the same join run by the database.
func (b *bench) diff(ctx context.Context) error {
	d := b.data
	var cells []map[string]any
	const month = "2027-03" // the benchmark round's fiscal year starts in January 2027
	for i := 0; len(cells) < b.cfg.Edits; i++ {
		if i >= len(d.Units)*len(d.LineCodes) {
			return fmt.Errorf("--edits %d is more than the %d unit × line pairs", b.cfg.Edits, i)
		}
		cells = append(cells, map[string]any{"org_unit": d.Units[i%len(d.Units)].Code, "product_line": d.LineCodes[i/len(d.Units)],
			"measure": d.Measures[0].Code, "period": month, "amount": "1.00"})
	}
	b.step(ctx, "editing %d cells of the copy over HTTP", len(cells))
	took, err := b.client.do(ctx, http.MethodPut, fmt.Sprintf("/versions/%d/targets", b.copyID), d.PMToken,
		map[string]any{"cells": cells}, http.StatusOK, nil, "If-Match", "*")
	if err != nil {
		return err
	}
	b.rows = append(b.rows, benchRow{Operation: "batch edit: PUT /versions/{id}/targets", Rows: benchCount(int64(len(cells))),
		Cascade: benchSeconds(took), Baseline: "—", Ratio: "—", Goal: "—", Result: "info"})

	return b.diffStep(ctx, "diff a copy against its parent after a batch edit", b.copyID, d.VersionID, int64(len(cells)))
}

// diffStep diffs version a against b over HTTP, and, as baseline, the
// same two versions written out in full under unused ids (as a store
// without copy-on-write holds them) diffed by the service's own SQL for
// plain rows, run by the database's client before and after the
// service's runs, and through the service's driver.
func (b *bench) diffStep(ctx context.Context, label string, a, against int64, want int64) error {
	d := b.data
	total, err := b.versionCells(ctx, d.VersionID)
	if err != nil {
		return err
	}
	const scratchA, scratchB = 999_999_997, 999_999_998
	b.step(ctx, "writing both versions out in full for the baseline (untimed)")
	for _, m := range [][2]int64{{a, scratchA}, {against, scratchB}} {
		if _, err := b.raw.probe.MaterializeCells(ctx, m[0], m[1]); err != nil {
			return err
		}
	}
	defer func() {
		_ = b.raw.probe.DeleteCells(ctx, scratchA)
		_ = b.raw.probe.DeleteCells(ctx, scratchB)
	}()
	if err := b.raw.probe.Settle(ctx); err != nil {
		return err
	}
	stmts, err := b.raw.probe.DiffBaselineSQL(ctx, scratchA, scratchB)
	if err != nil {
		return err
	}
	var baseRuns []time.Duration
	baseErr := b.raw.missing()
	baseline := func() error {
		if baseErr != "" {
			return nil
		}
		b.step(ctx, "baseline: the service's diff SQL on the versions in full, by %s (%d runs)", b.raw.tool, b.cfg.Repeats)
		for range b.cfg.Repeats {
			took, err := b.raw.timed(ctx, stmts...)
			if err != nil {
				return err
			}
			baseRuns = append(baseRuns, took)
		}
		return nil
	}
	if err := baseline(); err != nil {
		return err
	}
	b.step(ctx, "%s over HTTP: versions of %s cells (%d runs)", label, benchCount(total), b.cfg.Repeats)
	var runs []time.Duration
	var changed int64
	err = b.profiled("diff", func() error {
		for range b.cfg.Repeats {
			var resp struct {
				ChangedCells int64 `json:"changed_cells"`
			}
			took, err := b.client.do(ctx, http.MethodGet, fmt.Sprintf("/versions/%d/diff?against=%d&limit=100", a, against),
				d.PMToken, nil, http.StatusOK, &resp)
			if err != nil {
				return err
			}
			runs, changed = append(runs, took), resp.ChangedCells
		}
		return nil
	})
	if err != nil {
		return err
	}
	if changed != want {
		return fmt.Errorf("the diff found %d changed cells, want %d", changed, want)
	}
	if err := baseline(); err != nil {
		return err
	}
	b.step(ctx, "the same SQL through the service's driver (%d runs)", b.cfg.Repeats)
	var directRuns []time.Duration
	for range b.cfg.Repeats {
		var took time.Duration
		for _, q := range stmts {
			t, err := b.raw.probe.Query(ctx, q)
			if err != nil {
				return err
			}
			took += t
		}
		directRuns = append(directRuns, took)
	}
	what := "the plain full outer join by psql"
	if b.dialect == sqlstore.SQLite {
		what = "the service's plain-rows diff SQL by sqlite3"
	}
	b.rows = append(b.rows, benchRatioRow(fmt.Sprintf("%s: GET /versions/{id}/diff?against=…&limit=100 (median of %d)", label, b.cfg.Repeats),
		fmt.Sprintf("%s changed of %s × 2", benchCount(changed), benchCount(total)), benchMedian(runs),
		what+" on both versions in full, before and after", benchMedian(baseRuns), baseErr, 1),
		b.driverRow(benchCount(changed)+" changed", benchMedian(runs), benchMedian(directRuns)))
	return nil
}

// reallocate runs the first allocation again with other amounts, replacing
// every cell it wrote, against DELETE + bulk load of as many rows into a
// table that holds them, before and after.
func (b *bench) reallocate(ctx context.Context) error {
	d := b.data
	req := map[string]any{"measure": d.Measures[0].Code, "root": d.CompanyCode, "depth": 0,
		"levels": []map[string]any{{"method": "even"}}, "phasing": map[string]any{"method": "even"}}
	var targets []map[string]any
	for _, code := range d.LineCodes {
		targets = append(targets, map[string]any{"product_line": code, "amount": "987654321.00"})
	}
	req["targets"] = targets
	want := d.allocationCells()
	var bases []time.Duration
	baseErr := b.raw.missing()
	if baseErr == "" {
		if err := b.raw.probe.CreateBaselineTable(ctx); err != nil {
			return fmt.Errorf("baseline table: %w", err)
		}
		if _, err := b.raw.importCSV(ctx, sqlstore.BaselineTable, b.csv); err != nil {
			return err
		}
	}
	baseline := func() error {
		if baseErr != "" {
			return nil
		}
		b.step(ctx, "baseline: DELETE of %s rows and %s bulk load of as many", benchCount(want), b.raw.tool)
		took, err := b.raw.importCSV(ctx, sqlstore.BaselineTable, b.csv, "DELETE FROM "+sqlstore.BaselineTable)
		bases = append(bases, took)
		return err
	}
	if err := baseline(); err != nil {
		return err
	}
	if err := b.raw.probe.Settle(ctx); err != nil {
		return err
	}
	b.step(ctx, "re-allocating the %s cells over HTTP", benchCount(want))
	var took time.Duration
	var wrote int64
	err := b.profiled("reallocate", func() (err error) {
		took, wrote, err = b.allocation(ctx, req, want)
		return err
	})
	if err != nil {
		return err
	}
	if wrote != want {
		return fmt.Errorf("the re-allocation wrote %d cells, want %d", wrote, want)
	}
	if err := baseline(); err != nil {
		return err
	}
	if baseErr == "" {
		if loaded, err := b.raw.probe.DropBaselineTable(ctx); err != nil || loaded != want {
			return fmt.Errorf("the baseline holds %d rows, want %d (%v)", loaded, want, err)
		}
	}
	b.rows = append(b.rows, benchRatioRow("re-allocate (replace every cell of the first allocation, in a version that was copied)", benchCount(want), took,
		"DELETE + "+b.raw.tool+" bulk load"+beforeAfter(bases), benchMean(bases), baseErr, 1.5))
	return nil
}

// diffApart diffs the copy against the re-allocated first version: two
// versions whose every allocated cell differs.
func (b *bench) diffApart(ctx context.Context) error {
	return b.diffStep(ctx, "diff two versions apart (the parent re-allocated in full)", b.copyID, b.data.VersionID, b.data.allocationCells())
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report prints the table with what was measured on what.
func (b *bench) report(ctx context.Context) error {
	var sb strings.Builder
	dbVersion, err := b.raw.probe.ServerVersion(ctx)
	if err != nil {
		return err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&sb, "Cascade %s, %s %s (baselines: %s), %d units × %d lines × %d measures, %s, %d CPUs (GOMAXPROCS %d), load average %s, %s\n\n",
		buildVersion(), b.dialect, dbVersion, b.raw.tool, len(b.data.Units), len(b.data.LineCodes), len(b.data.Measures),
		runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "),
		time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if hwm, err := benchProcStatus("VmHWM"); err == nil {
		since := "since the first allocation began"
		if b.cfg.GridOnly {
			since = "since the process started"
		}
		b.rows = append(b.rows, benchRow{Operation: "server memory over the whole run: peak resident set (VmHWM " + since + ")", Rows: "—",
			Cascade: benchMB(hwm), Baseline: "—", Ratio: "—", Goal: "< 500 MB", Result: benchCheck(hwm < 500e6)})
	}
	writeBenchTable(&sb, b.rows)
	fmt.Fprint(&sb, "\nCascade times are whole HTTP calls on the loopback to the service running in this process; baseline times are the database's own client running the same statements on the same database and rows in the same run, without its start-up and connection (psql's \\timing; for sqlite3 the run less a run that does nothing), before and after the service's step where the table state allows; a statistics refresh (ANALYZE) the service starts after a bulk write counts in the write's time. Memory is this process's (the service's, plus the benchmark client's).\n")
	missed := 0
	for _, r := range b.rows {
		if strings.Contains(r.Result, "MISSED") || r.Result == "no baseline" {
			missed++
		}
	}
	if missed > 0 {
		fmt.Fprintf(&sb, "\n%d goal(s) missed or not measured.\n", missed)
	}
	fmt.Fprint(b.stdout, sb.String())
	if b.cfg.Out != "" {
		if err := os.WriteFile(b.cfg.Out, []byte(sb.String()), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}
