package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/api"
)

// The endpoints the users call, as the report names them.
const (
	epVersion     = "GET /versions/{id}"
	epGrid        = "GET /versions/{id}/targets"
	epEdit        = "PUT /versions/{id}/targets"
	epAllocate    = "POST /versions/{id}/allocations"
	epConsistency = "GET /versions/{id}/consistency"
	epCreateCP    = "POST /versions/{id}/counterproposals"
	epSubmitCP    = "POST /counterproposals/{id}/submit"
)

// maxAttempts bounds how often a user retries one write after 409 or 412.
const maxAttempts = 8

// start sets the pacer and every user going.
func (r *loadRun) start(ctx context.Context) {
	r.began = time.Now()
	go r.pace(ctx)
	httpc := newHTTPClient(r.cfg.Users)
	seed := r.cfg.Seed
	for i, pm := range r.data.PMs {
		r.goUser(func() {
			r.productManager(ctx, &apiClient{http: httpc, token: pm.Token}, pm, rand.New(rand.NewPCG(seed, uint64(i))))
		})
	}
	for i, bm := range r.data.BMs {
		r.goUser(func() {
			r.branchManager(ctx, &apiClient{http: httpc, token: bm.Token}, bm, rand.New(rand.NewPCG(seed, uint64(1000+i))))
		})
	}
	for i, rd := range r.data.Readers {
		r.goUser(func() {
			r.reader(ctx, &apiClient{http: httpc, token: rd.Token}, rand.New(rand.NewPCG(seed, uint64(2000+i))))
		})
	}
}

func (r *loadRun) goUser(fn func()) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); fn() }()
}

// wait waits for the users to finish and returns the report of what they saw.
func (r *loadRun) wait() *loadReport {
	r.wg.Wait()
	r.elapsed = time.Since(r.began)
	return r.stats.report(r.paced, r.elapsed, r.cfg.Rate)
}

// pace hands out one tick per request at the fixed rate, as vegeta's
// attacker does, until the duration or the request bound is reached. A tick
// nobody takes waits; the pacer then catches up, and the report shows the
// rate achieved.
func (r *loadRun) pace(ctx context.Context) {
	defer func() { r.paced = time.Since(r.began); r.over.Store(true); close(r.ticks) }()
	pacer := vegeta.ConstantPacer{Freq: r.cfg.Rate, Per: time.Second}
	end := time.NewTimer(r.cfg.Duration)
	defer end.Stop()
	for hits := uint64(0); hits < uint64(r.cfg.MaxRequests); hits++ {
		wait, stop := pacer.Pace(time.Since(r.began), hits)
		if stop {
			return
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-end.C:
				return
			case <-ctx.Done():
				return
			}
		}
		if r.owed.Load() > 0 {
			r.owed.Add(-1) // a follow-up request took this slot
			continue
		}
		select {
		case r.ticks <- struct{}{}:
		case <-end.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// call waits for a tick, sends one request to the next server and records
// it under endpoint. ok is false when the run is over and nothing was sent.
func (r *loadRun) call(ctx context.Context, c *apiClient, endpoint, method, path string, body any, headers ...string) (res apiResponse, ok bool) {
	if !r.tick(ctx) {
		return apiResponse{}, false
	}
	return r.send(ctx, c, endpoint, method, path, body, headers...), true
}

// followUp sends the write that completes a read at once, as a person
// would, instead of waiting for a tick: the pacer skips the next one, so
// the rate stays fixed. ok is false when the run is over.
func (r *loadRun) followUp(ctx context.Context, c *apiClient, endpoint, method, path string, body any, headers ...string) (res apiResponse, ok bool) {
	if r.over.Load() {
		return apiResponse{}, false
	}
	r.owed.Add(1)
	return r.send(ctx, c, endpoint, method, path, body, headers...), true
}

func (r *loadRun) send(ctx context.Context, c *apiClient, endpoint, method, path string, body any, headers ...string) apiResponse {
	at := time.Now()
	res := c.do(ctx, method, r.url(path), body, headers...)
	r.stats.record(endpoint, at, res)
	return res
}

// idempotencyKey returns a new random Idempotency-Key, or "" (no header)
// when the run sends none.
func (r *loadRun) idempotencyKey() string {
	if !r.cfg.IdemKeys {
		return ""
	}
	var b [12]byte
	_, _ = crand.Read(b[:])
	return "load-" + hex.EncodeToString(b[:])
}

// productManager re-allocates and edits the manager's own product lines
// until the run ends.
func (r *loadRun) productManager(ctx context.Context, c *apiClient, pm loadPM, rng *rand.Rand) {
	for {
		var more bool
		if rng.IntN(10) < 4 {
			more = r.allocate(ctx, c, pm.AllocLines[rng.IntN(len(pm.AllocLines))], rng)
		} else {
			more = r.edit(ctx, c, pm.EditLines[rng.IntN(len(pm.EditLines))], rng)
		}
		if !more {
			return
		}
	}
}

// allocate cascades a new amount of line from the company down, with
// If-Match on the version as just read; on 409 or 412 it reads again and
// retries. A transport error is retried with the same Idempotency-Key, so
// the outcome becomes known either way.
func (r *loadRun) allocate(ctx context.Context, c *apiClient, line string, rng *rand.Rand) bool {
	amount := fmt.Sprintf("%d.%02d", 90_000_000+rng.IntN(20_000_000), rng.IntN(100))
	body := api.AllocationRequest{Measure: r.data.Measure, Root: r.data.CompanyCode,
		Targets: []api.AllocationTarget{{ProductLine: line, Amount: amount}},
		Levels:  []api.AllocationLevel{{Method: "even"}}, Phasing: api.AllocationPhasing{Method: "even"}}
	key := r.idempotencyKey()
	path := fmt.Sprintf("/versions/%d", r.data.VersionID)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		res, ok := r.call(ctx, c, epVersion, http.MethodGet, path, nil)
		if !ok {
			return false
		}
		if res.Status != http.StatusOK {
			r.stats.unexpected(epVersion, res)
			continue
		}
		etag := res.Header.Get("ETag")
		for try := 0; ; try++ {
			send := r.followUp
			if try > 0 {
				send = r.call
			}
			res, ok = send(ctx, c, epAllocate, http.MethodPost, path+"/allocations", body, "If-Match", etag, api.HeaderIdempotencyKey, key)
			if !ok {
				if try > 0 {
					r.acks.uncertainLine(line)
				}
				return false
			}
			if res.Err == nil || try == 2 {
				break
			}
		}
		var ar api.AllocationResponse
		switch {
		case res.Err != nil:
			r.acks.uncertainLine(line)
			return true
		case res.Status == http.StatusCreated && res.decode(&ar) == nil:
			r.acks.allocation(line, amount, ar.Run.ID)
			return true
		case res.Status == http.StatusPreconditionFailed || res.Status == http.StatusConflict:
			r.stats.retry()
		default:
			r.stats.unexpected(epAllocate, res)
			return true
		}
	}
	r.stats.giveUp()
	return true
}

// edit moves a small amount between the key-account and the channel team
// of a random branch, in one month of line: the branch's sum stays, so the
// version stays consistent. It reads the three rows with the version's
// ETag and writes with If-Match; on 409 or 412 it reads again and retries.
func (r *loadRun) edit(ctx context.Context, c *apiClient, line string, rng *rand.Rand) bool {
	branch := r.data.Branches[rng.IntN(len(r.data.Branches))]
	month := 1 + rng.IntN(12)
	period := fmt.Sprintf("2027-%02d", month)
	move := decimal.New(int64(1+rng.IntN(500)), -2)
	q := url.Values{"org_unit": {branch}, "subtree": {"true"}, "product_line": {line}, "measure": {r.data.Measure}, "period": {period}}
	path := fmt.Sprintf("/versions/%d/targets", r.data.VersionID)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		res, ok := r.call(ctx, c, epGrid, http.MethodGet, path+"?"+q.Encode(), nil)
		if !ok {
			return false
		}
		var grid api.GridPage
		if err := res.decode(&grid); err != nil {
			r.stats.unexpected(epGrid, res)
			continue
		}
		amounts := map[string]decimal.Decimal{}
		for _, row := range grid.Items {
			for _, p := range row.Periods {
				if p.Period == period && p.Amount != nil {
					amounts[row.OrgUnit], _ = decimal.NewFromString(*p.Amount)
				}
			}
		}
		ka, kaOK := amounts[branch+"-KA"]
		ch, chOK := amounts[branch+"-CH"]
		if !kaOK || !chOK {
			r.stats.fail(fmt.Sprintf("the grid of %s %s %s lacks a team: %s", branch, line, period, res.Body))
			return true
		}
		cells := []api.CellInput{
			{OrgUnit: branch + "-KA", ProductLine: line, Measure: r.data.Measure, Period: period, Amount: ka.Sub(move).StringFixed(2)},
			{OrgUnit: branch + "-CH", ProductLine: line, Measure: r.data.Measure, Period: period, Amount: ch.Add(move).StringFixed(2)},
		}
		res, ok = r.followUp(ctx, c, epEdit, http.MethodPut, path, api.CellBatch{Cells: cells}, "If-Match", res.Header.Get("ETag"))
		if !ok {
			return false
		}
		var v api.Version
		switch {
		case res.Err != nil:
			for _, cell := range cells {
				r.acks.uncertainCell(cellKey(cell.OrgUnit, line, month))
			}
			return true
		case res.Status == http.StatusOK && res.decode(&v) == nil:
			for _, cell := range cells {
				r.acks.edit(cellKey(cell.OrgUnit, line, month), cell.Amount, v.Revision)
			}
			return true
		case res.Status == http.StatusPreconditionFailed || res.Status == http.StatusConflict:
			r.stats.retry()
		default:
			r.stats.unexpected(epEdit, res)
			return true
		}
	}
	r.stats.giveUp()
	return true
}

func cellKey(unit, line string, period int) string {
	return fmt.Sprintf("%s/%s/%d", unit, line, period)
}

// branchManager drafts a counterproposal for the branch, submits it with
// If-Match, and reads the branch's grid, until the run ends.
func (r *loadRun) branchManager(ctx context.Context, c *apiClient, bm loadUser, rng *rand.Rand) {
	gridPath := fmt.Sprintf("/versions/%d/targets?org_unit=%s&subtree=true", r.data.VersionID, url.QueryEscape(bm.Branch))
	for n := 1; ; n++ {
		title := fmt.Sprintf("%s proposal %d", bm.Name, n)
		body := api.CounterproposalCreate{OrgUnit: bm.Branch, Title: title, Lines: []api.CPLineInput{{
			ProductLine: r.data.LineCodes[rng.IntN(len(r.data.LineCodes))], Measure: r.data.Measure,
			Period: fmt.Sprintf("2027-%02d", 1+rng.IntN(12)), Proposed: fmt.Sprintf("%d.00", 50_000+rng.IntN(100_000)),
			Reason: "load test"}}}
		key := r.idempotencyKey()
		var res apiResponse
		for try := 0; ; try++ {
			var ok bool
			if res, ok = r.call(ctx, c, epCreateCP, http.MethodPost, fmt.Sprintf("/versions/%d/counterproposals", r.data.VersionID), body,
				api.HeaderIdempotencyKey, key); !ok {
				return
			}
			if res.Err == nil || try == 2 {
				break
			}
		}
		var cp api.Counterproposal
		if res.Status != http.StatusCreated || res.decode(&cp) != nil {
			r.stats.unexpected(epCreateCP, res)
		} else {
			r.acks.counterproposal(cp.ID, title)
			etag := res.Header.Get("ETag")
			res, ok := r.followUp(ctx, c, epSubmitCP, http.MethodPost, fmt.Sprintf("/counterproposals/%d/submit", cp.ID), nil, "If-Match", etag)
			if !ok {
				return
			}
			if res.Status == http.StatusOK {
				r.acks.submitted(cp.ID)
			} else {
				r.stats.unexpected(epSubmitCP, res)
			}
		}
		for range 2 {
			res, ok := r.call(ctx, c, epGrid, http.MethodGet, gridPath, nil)
			if !ok {
				return
			}
			if res.Status != http.StatusOK {
				r.stats.unexpected(epGrid, res)
			}
		}
	}
}

// reader reads the grid of random org units, the version and now and then
// its consistency, which must be empty at every moment: every write keeps
// it so within its transaction.
func (r *loadRun) reader(ctx context.Context, c *apiClient, rng *rand.Rand) {
	for {
		ep, path := epVersion, fmt.Sprintf("/versions/%d", r.data.VersionID)
		switch n := rng.IntN(10); {
		case n < 6:
			unit := r.data.Units[rng.IntN(len(r.data.Units))].Code
			ep, path = epGrid, fmt.Sprintf("/versions/%d/targets?org_unit=%s", r.data.VersionID, url.QueryEscape(unit))
		case n == 9:
			ep, path = epConsistency, fmt.Sprintf("/versions/%d/consistency", r.data.VersionID)
		}
		res, ok := r.call(ctx, c, ep, http.MethodGet, path, nil)
		if !ok {
			return
		}
		if res.Status != http.StatusOK {
			r.stats.unexpected(ep, res)
			continue
		}
		if ep == epConsistency {
			var page api.InconsistencyPage
			if err := res.decode(&page); err != nil {
				r.stats.fail("consistency: " + err.Error())
			} else {
				r.acks.consistencyRead(len(page.Items))
			}
		}
	}
}
