package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// gridResult is one measurement of the branch grid, kept to compare the
// same reads before and after the database was filled.
type gridResult struct {
	held     int64         // rows of target_cells when it ran
	p50, p99 time.Duration // of the reads at the fixed rate
	capacity float64       // reads a second at the best client count with p99 under capacityP99
	clients  int           // that client count
}

// capacityP99 is the latency a read may take at the 99th percentile for
// its rate to count as capacity: beyond it more clients only queue.
const capacityP99 = 100 * time.Millisecond

// gridPath is the branch manager's read of their branch's grid.
func (b *bench) gridPath() string {
	d := b.data
	return fmt.Sprintf("/versions/%d/targets?org_unit=%s&grain=month&limit=1000", d.VersionID, d.BranchCode)
}

// gridReads reads one branch's grid as its manager at a fixed rate,
// open loop: read i starts at start + i/rate whether or not the reads
// before it have answered, and its latency counts from that moment, so a
// slow answer delays no later read and hides no queueing (a closed loop
// would wait and read less often exactly when the service is slow). The
// first --warmups reads are checked in full and not timed.
func (b *bench) gridReads(ctx context.Context) error {
	if err := b.gridPrepare(ctx); err != nil {
		return err
	}
	d := b.data
	b.step(ctx, "reading branch %s's grid %d times, %d a second open loop, while the database holds %s cells", d.BranchCode, b.cfg.Reads, b.cfg.Rate, benchCount(b.held))
	var lat []time.Duration
	err := b.profiled(fmt.Sprintf("grid-%d", b.held), func() (err error) {
		lat, err = b.openLoop(ctx, b.cfg.Reads)
		return err
	})
	if err != nil {
		return err
	}
	b.gridLatencyRow(lat, "")
	return nil
}

// gridPrepare counts the cells the database holds, brings the statistics
// up to date and reads the grid --warmups times, checking every row is
// there.
func (b *bench) gridPrepare(ctx context.Context) (err error) {
	if b.held, err = b.raw.probe.CountCells(ctx, 0); err != nil {
		return err
	}
	// Let the statistics catch up with the bulk loads, as autovacuum would
	// shortly after them: reads are timed in the steady state, not while an
	// autovacuum worker competes for the CPU.
	if err := b.raw.probe.Settle(ctx); err != nil {
		return err
	}
	d := b.data
	want := len(d.LineCodes) * len(d.Measures)
	for i := 0; i < b.cfg.Warmups; i++ {
		var page struct {
			Items []struct{} `json:"items"`
		}
		if _, err := b.client.do(ctx, http.MethodGet, b.gridPath(), d.BMToken, nil, http.StatusOK, &page); err != nil {
			return err
		}
		if len(page.Items) != want {
			return fmt.Errorf("the grid has %d rows, want %d", len(page.Items), want)
		}
	}
	return nil
}

// openLoop reads the grid n times at --rate, open loop, and returns the
// latencies.
func (b *bench) openLoop(ctx context.Context, n int) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Second / time.Duration(b.cfg.Rate)
	path, token := b.gridPath(), b.data.BMToken
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.client.do(ctx, http.MethodGet, path, token, nil, http.StatusOK, nil); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return nil, *e
	}
	return lat, ctx.Err()
}

// gridLatencyRow records the open-loop reads' percentiles.
func (b *bench) gridLatencyRow(lat []time.Duration, how string) {
	d := b.data
	slices.Sort(lat)
	res := gridResult{held: b.held, p50: benchPercentile(lat, 50), p99: benchPercentile(lat, 99)}
	b.grids = append(b.grids, res)
	rate := b.cfg.Rate
	b.rows = append(b.rows, benchRow{
		Operation: fmt.Sprintf("grid read as the branch manager: GET /versions/{id}/targets?org_unit=…&grain=month (%d reads, %d a second open loop, over %s%s; load average %s)",
			len(lat), rate, benchSeconds(time.Duration(len(lat))*time.Second/time.Duration(rate)), how, benchLoad()),
		Rows:     fmt.Sprintf("%d rows × 12 months; %s cells in the database", len(d.LineCodes)*len(d.Measures), benchCount(b.held)),
		Cascade:  fmt.Sprintf("p99 %s (p50 %s, p95 %s, max %s)", benchSeconds(res.p99), benchSeconds(res.p50), benchSeconds(benchPercentile(lat, 95)), benchSeconds(lat[len(lat)-1])),
		Baseline: "—", Ratio: "—", Goal: "p99 < 20 ms", Result: benchCheck(res.p99 < 20*time.Millisecond)})
}

// capacityLevel is the grid read back to back from some clients.
type capacityLevel struct {
	clients     int
	n           int64
	elapsed     time.Duration
	p50, p99    time.Duration
	cpu, allocs float64
}

func (lv capacityLevel) rate() float64 { return float64(lv.n) / lv.elapsed.Seconds() }

// capacityStep reads the grid back to back from clients clients for
// --capacity-time (or 4 × --reads reads).
func (b *bench) capacityStep(ctx context.Context, clients int) (capacityLevel, error) {
	path, token := b.gridPath(), b.data.BMToken
	limit := int64(4 * b.cfg.Reads)
	b.step(ctx, "reading branch %s's grid back to back from %d clients (at most %s or %d reads)", b.data.BranchCode, clients, b.cfg.CapacityTime, limit)
	var done atomic.Int64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(b.cfg.CapacityTime)
	errs := make(chan error, clients)
	lats := make([][]time.Duration, clients)
	for c := range clients {
		go func() {
			for time.Now().Before(deadline) && done.Load() < limit {
				took, err := b.client.do(ctx, http.MethodGet, path, token, nil, http.StatusOK, nil)
				if err != nil {
					errs <- err
					return
				}
				lats[c] = append(lats[c], took)
				done.Add(1)
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			return capacityLevel{}, err
		}
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&ms1)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	n := max(done.Load(), 1)
	return capacityLevel{clients: clients, n: done.Load(), elapsed: elapsed, p50: benchPercentile(all, 50), p99: benchPercentile(all, 99),
		cpu: cpu.Seconds() / float64(n), allocs: float64(ms1.Mallocs-ms0.Mallocs) / float64(n)}, nil
}

// capacityClients are the client counts of the capacity sweep.
var capacityClients = []int{1, 2, 4, 8, 16}

// gridCapacity reads the branch's grid back to back from 1, 2, 4, 8 and 16
// clients in turn, each for --capacity-time (or 4 × --reads reads): the
// service's capacity is the most reads a second answered with p99 under
// capacityP99. It reports each client count, and what a read costs this
// process in CPU time and allocations (the benchmark's client included).
func (b *bench) gridCapacity(ctx context.Context) error {
	var levels []capacityLevel
	for _, clients := range capacityClients {
		lv, err := b.capacityStep(ctx, clients)
		if err != nil {
			return err
		}
		levels = append(levels, lv)
		if lv.p99 >= capacityP99 {
			break // more clients would only queue longer
		}
	}
	b.capacityRows(levels)
	return nil
}

// capacityRows records a capacity sweep.
func (b *bench) capacityRows(levels []capacityLevel) {
	d := b.data
	res := &b.grids[len(b.grids)-1]
	for _, lv := range levels {
		if lv.p99 < capacityP99 && lv.rate() > res.capacity {
			res.capacity, res.clients = lv.rate(), lv.clients
		}
		b.rows = append(b.rows, benchRow{
			Operation: fmt.Sprintf("… back to back from %d client(s): %d reads in %s", lv.clients, lv.n, benchSeconds(lv.elapsed)),
			Rows:      fmt.Sprintf("%s cells in the database", benchCount(res.held)),
			Cascade:   fmt.Sprintf("%.0f reads/s, p99 %s (p50 %s)", lv.rate(), benchSeconds(lv.p99), benchSeconds(lv.p50)),
			Baseline:  fmt.Sprintf("this process per read: %s CPU, %.0f allocations", benchSeconds(time.Duration(lv.cpu*float64(time.Second))), lv.allocs),
			Ratio:     "—", Goal: "—", Result: "info"})
	}
	at := fmt.Sprintf("%d clients", res.clients)
	if res.clients == 0 {
		at = "no client count kept it"
	}
	b.rows = append(b.rows, benchRow{
		Operation: fmt.Sprintf("grid read capacity: the most reads a second with p99 under %s (%s; load average %s)", benchSeconds(capacityP99), at, benchLoad()),
		Rows:      fmt.Sprintf("%d rows × 12 months; %s cells in the database", len(d.LineCodes)*len(d.Measures), benchCount(res.held)),
		Cascade:   fmt.Sprintf("%.0f reads/s", res.capacity),
		Baseline:  "—", Ratio: "—", Goal: "≥ 300 reads/s", Result: benchCheck(res.capacity >= 300)})
}

// gridCompare measures the grid of this kept database and of another
// (--compare) taking turns, so both see the same machine: the open-loop
// reads in blocks of ten seconds, alternating, and each client count of
// the capacity sweep on one and then the other. It adds a row of ratios.
func (b *bench) gridCompare(ctx context.Context, o *bench) error {
	for _, x := range []*bench{b, o} {
		if err := x.gridPrepare(ctx); err != nil {
			return err
		}
	}
	block := 10 * b.cfg.Rate
	lats := [2][]time.Duration{}
	for done := 0; done < b.cfg.Reads; done += block {
		for k, x := range []*bench{b, o} {
			n := min(block, b.cfg.Reads-done)
			b.step(ctx, "reading the grid %d times, %d a second open loop, on the database of %s cells", n, b.cfg.Rate, benchCount(x.held))
			lat, err := x.openLoop(ctx, n)
			if err != nil {
				return err
			}
			lats[k] = append(lats[k], lat...)
		}
	}
	how := fmt.Sprintf(", in blocks of %s taking turns with the other database", benchSeconds(time.Duration(block)*time.Second/time.Duration(b.cfg.Rate)))
	b.gridLatencyRow(lats[0], how)
	o.gridLatencyRow(lats[1], how)
	levels := [2][]capacityLevel{}
	for _, clients := range capacityClients {
		stop := true
		for k, x := range []*bench{b, o} {
			lv, err := x.capacityStep(ctx, clients)
			if err != nil {
				return err
			}
			levels[k] = append(levels[k], lv)
			stop = stop && lv.p99 >= capacityP99
		}
		if stop {
			break
		}
	}
	b.capacityRows(levels[0])
	o.capacityRows(levels[1])
	b.rows = append(b.rows, o.rows...)
	b.compareRow(o.grids[len(o.grids)-1], b.grids[len(b.grids)-1], "the --compare database against the --db one, taking turns")
	return nil
}

// compareRow records one grid measurement against another.
func (b *bench) compareRow(after, before gridResult, how string) {
	b.rows = append(b.rows, benchRow{
		Operation: "grid read, " + how + " (same run)",
		Rows:      fmt.Sprintf("%s cells against %s", benchCount(after.held), benchCount(before.held)),
		Cascade:   fmt.Sprintf("p99 %s, p50 %s, %.0f reads/s", benchSeconds(after.p99), benchSeconds(after.p50), after.capacity),
		Baseline:  fmt.Sprintf("p99 %s, p50 %s, %.0f reads/s", benchSeconds(before.p99), benchSeconds(before.p50), before.capacity),
		Ratio: fmt.Sprintf("p99 %.2f×, p50 %.2f×, capacity %.2f×", after.p99.Seconds()/before.p99.Seconds(), after.p50.Seconds()/before.p50.Seconds(),
			after.capacity/max(before.capacity, 1)),
		Goal: "—", Result: "info"})
}

// fillDatabase opens further rounds of the same org tree, lines and
// measures, and has the database write every cell of each one's first
// version (sqlstore's Probe.FillVersionCells: INSERT … SELECT, generated
// in the database), until target_cells holds at least --fill-cells rows;
// then vacuums and analyzes, as autovacuum would, and measures the grid
// again, comparing it with the reads before the fill.
func (b *bench) fillDatabase(ctx context.Context) error {
	if b.cfg.FillCells == 0 {
		return nil
	}
	held, err := b.raw.probe.CountCells(ctx, 0)
	if err != nil {
		return err
	}
	per := int64(len(b.data.Units)) * int64(len(b.data.LineCodes)) * int64(len(b.data.Measures)) * 12
	rounds := int((b.cfg.FillCells - held + per - 1) / per)
	if rounds <= 0 {
		b.step(ctx, "the database already holds %s cells", benchCount(held))
		return nil
	}
	b.step(ctx, "filling the database from %s to at least %s cells: %d more rounds of %s cells each, written by the database", benchCount(held), benchCount(b.cfg.FillCells), rounds, benchCount(per))
	svcs := sqlstore.NewServices(b.main.DB)
	sys := planning.NewContextWithActor(ctx, planning.SystemActor())
	var ids []int64
	for _, m := range b.data.Measures {
		ids = append(ids, m.ID)
	}
	start := time.Now()
	var written int64
	for r := 1; r <= rounds; r++ {
		round := &planning.Round{Code: fmt.Sprintf("FILL%03d", r), Name: fmt.Sprintf("Filled round %d", r), FiscalYear: 2027 + r, FirstMonth: 1, MeasureIDs: ids}
		if err := svcs.Rounds.CreateRound(sys, round); err != nil {
			return fmt.Errorf("fill round %d: %w", r, err)
		}
		opened, err := svcs.Rounds.TransitionRound(sys, round.ID, planning.RoundOpen, "benchmark fill", nil)
		if err != nil {
			return fmt.Errorf("open fill round %d: %w", r, err)
		}
		n, err := b.raw.probe.FillVersionCells(ctx, *opened.WorkingVersionID, ids, nil)
		if err != nil {
			return fmt.Errorf("fill round %d: %w", r, err)
		}
		written += n
		fmt.Fprintf(b.log, "bench: round %d/%d filled: %s cells written in %s (%s cells/s so far)\n", r, rounds, benchCount(written),
			benchSeconds(time.Since(start)), benchCount(int64(float64(written)/time.Since(start).Seconds())))
	}
	took := time.Since(start)
	b.step(ctx, "vacuuming and analyzing after the fill")
	vstart := time.Now()
	if err := b.raw.probe.Settle(ctx); err != nil {
		return err
	}
	b.rows = append(b.rows, benchRow{
		Operation: fmt.Sprintf("fill the database: %d further rounds of the same tree, every cell of each one's version written by INSERT … SELECT in the database, then VACUUM ANALYZE", rounds),
		Rows:      benchCount(written), Cascade: fmt.Sprintf("%s (vacuum %s)", benchSeconds(took), benchSeconds(time.Since(vstart))),
		Baseline: "—", Ratio: "—", Goal: "—", Result: "info"})
	before := b.grids[len(b.grids)-1]
	if err := b.gridReads(ctx); err != nil {
		return err
	}
	if err := b.gridCapacity(ctx); err != nil {
		return err
	}
	b.compareRow(b.grids[len(b.grids)-1], before, "the database filled against before the fill")
	return nil
}
