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
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cascade-planning/cascade/api"
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
	fs.IntVar(&cfg.Repeats, "repeats", 3, "runs of each diff and its baseline (the median counts)")
	small := fs.Bool("small", false, "a quick run for CI: 200 units × 10 lines, 1000 edits, 100 reads (explicit flags still win)")
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
	}
	cfg.DB = *db
	if cfg.Units < 5 || cfg.Lines < 1 || cfg.Measures < 1 || cfg.Edits < 1 || cfg.Edits > 10000 || cfg.Reads < 1 || cfg.Repeats < 1 {
		fmt.Fprintln(stderr, "--units must be at least 5, --lines, --measures, --reads and --repeats at least 1, --edits between 1 and 10000")
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
	copyID  int64  // the version copied from the first
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
	target, drop, err := freshBenchDB(ctx, b.cfg.DB)
	if err != nil {
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
	// latency reads stay below it anyway.
	if b.main, err = startService(ctx, target, logger, func(c *api.Config) { c.RateLimit = -1 }); err != nil {
		return err
	}
	b.dialect = b.main.DB.Dialect()
	b.raw = newBenchRawDB(b.dialect, target, b.main.DB.Probe())
	b.client = &benchClient{base: b.main.URL() + "/api/v1", http: &http.Client{}}
	b.step(ctx, "database %s (%s); server on %s", redactDSN(target), b.dialect, b.main.URL())

	start := time.Now()
	b.step(ctx, "building the data set: %d units, %d lines, %d measures", b.cfg.Units, b.cfg.Lines, b.cfg.Measures)
	if b.data, err = buildBenchData(ctx, sqlstore.NewServices(b.main.DB), b.cfg.Units, b.cfg.Lines, b.cfg.Measures); err != nil {
		return fmt.Errorf("build the data set: %w", err)
	}
	b.step(ctx, "data set built in %s", benchSeconds(time.Since(start)))

	for _, f := range []func(context.Context) error{b.allocate, b.fillBranch, b.copyVersion, b.diff, b.gridReads, b.gridCapacity, b.reallocate, b.diffApart} {
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
	var resp struct {
		Run struct {
			ID        int64  `json:"id"`
			CellCount int64  `json:"cell_count"`
			Checksum  string `json:"checksum"`
		} `json:"run"`
	}
	var took time.Duration
	mem := startBenchMemSampler(10 * time.Millisecond)
	err := b.profiled("allocate", func() (err error) {
		if took, err = b.client.do(ctx, http.MethodPost, fmt.Sprintf("/versions/%d/allocations", d.VersionID), d.PMToken, req, http.StatusCreated, &resp); err == nil {
			took += b.statsWait()
		}
		return err
	})
	peaks := mem.Stop()
	b.csv = filepath.Join(b.tmp, "cells.csv")
	if err != nil {
		return err
	}
	if resp.Run.CellCount != want {
		return fmt.Errorf("the allocation wrote %d cells, want %d", resp.Run.CellCount, want)
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
	var resp struct {
		Run struct {
			CellCount int64 `json:"cell_count"`
		} `json:"run"`
	}
	err := b.profiled("reallocate", func() (err error) {
		if took, err = b.client.do(ctx, http.MethodPost, fmt.Sprintf("/versions/%d/allocations", d.VersionID), d.PMToken, req, http.StatusCreated, &resp); err == nil {
			took += b.statsWait()
		}
		return err
	})
	if err != nil {
		return err
	}
	if resp.Run.CellCount != want {
		return fmt.Errorf("the re-allocation wrote %d cells, want %d", resp.Run.CellCount, want)
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

// gridReads reads one branch's grid as its manager, again and again, while
// the database holds both versions.
func (b *bench) gridReads(ctx context.Context) error {
	d := b.data
	held, err := b.raw.probe.CountCells(ctx, 0)
	if err != nil {
		return err
	}
	// Let the statistics catch up with the bulk loads, as autovacuum would
	// shortly after them: reads are timed in the steady state, not while an
	// autovacuum worker competes for the CPU.
	if err := b.raw.probe.Settle(ctx); err != nil {
		return err
	}
	path := fmt.Sprintf("/versions/%d/targets?org_unit=%s&grain=month&limit=1000", d.VersionID, d.BranchCode)
	want := len(d.LineCodes) * len(d.Measures)
	b.step(ctx, "reading branch %s's grid %d times (after %d warm-ups) while the database holds %s cells", d.BranchCode, b.cfg.Reads, b.cfg.Warmups, benchCount(held))
	var lat []time.Duration
	err = b.profiled("grid", func() error {
		// One read every 25 ms: a client below the service's per-token
		// rate limit (50 requests a second), which latency is about.
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < b.cfg.Warmups+b.cfg.Reads; i++ {
			<-tick.C
			var page struct {
				Items []struct{} `json:"items"`
			}
			took, err := b.client.do(ctx, http.MethodGet, path, d.BMToken, nil, http.StatusOK, &page)
			if err != nil {
				return err
			}
			if len(page.Items) != want {
				return fmt.Errorf("the grid has %d rows, want %d", len(page.Items), want)
			}
			if i >= b.cfg.Warmups {
				lat = append(lat, took)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(lat)
	p99 := benchPercentile(lat, 99)
	b.rows = append(b.rows, benchRow{
		Operation: fmt.Sprintf("grid read as the branch manager: GET /versions/{id}/targets?org_unit=…&grain=month (%d reads, 40 a second)", len(lat)),
		Rows:      fmt.Sprintf("%d rows × 12 months; %s cells in the database", want, benchCount(held)),
		Cascade:   fmt.Sprintf("p99 %s (p50 %s, p95 %s)", benchSeconds(p99), benchSeconds(benchPercentile(lat, 50)), benchSeconds(benchPercentile(lat, 95))),
		Baseline:  "—", Ratio: "—", Goal: "p99 < 20 ms", Result: benchCheck(p99 < 20*time.Millisecond)})
	return nil
}

// gridCapacity reads the branch's grid back to back from four clients at
// once for ten seconds (or 4 × --reads reads): how many reads a second the
// service answers when nothing else runs, and what a read costs this
// process in CPU time and allocations (the benchmark's client included).
func (b *bench) gridCapacity(ctx context.Context) error {
	d := b.data
	path := fmt.Sprintf("/versions/%d/targets?org_unit=%s&grain=month&limit=1000", d.VersionID, d.BranchCode)
	const clients = 4
	limit := int64(4 * b.cfg.Reads)
	b.step(ctx, "reading branch %s's grid back to back from %d clients (at most 10 s or %d reads)", d.BranchCode, clients, limit)
	var done atomic.Int64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	errs := make(chan error, clients)
	for range clients {
		go func() {
			for time.Now().Before(deadline) && done.Load() < limit {
				if _, err := b.client.do(ctx, http.MethodGet, path, d.BMToken, nil, http.StatusOK, nil); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&ms1)
	n := done.Load()
	rate := float64(n) / elapsed.Seconds()
	b.rows = append(b.rows, benchRow{
		Operation: fmt.Sprintf("grid read capacity: the same read back to back from %d clients (%d reads in %s)", clients, n, benchSeconds(elapsed)),
		Rows:      fmt.Sprintf("%d rows × 12 months", len(d.LineCodes)*len(d.Measures)),
		Cascade:   fmt.Sprintf("%.0f reads/s", rate),
		Baseline: fmt.Sprintf("this process per read: %s CPU, %.0f allocations", benchSeconds(cpu/time.Duration(max(n, 1))),
			float64(ms1.Mallocs-ms0.Mallocs)/float64(max(n, 1))),
		Ratio: "—", Goal: "≥ 300 reads/s", Result: benchCheck(rate >= 300)})
	return nil
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
