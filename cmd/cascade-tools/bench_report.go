package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchClient calls the API as a client would, over the loopback.
type benchClient struct {
	base string // http://127.0.0.1:port/api/v1
	http *http.Client
}

// do sends one request and decodes the response into out (when not nil).
// The time covers sending the request and reading the whole response; the
// request body is encoded before the clock starts. A status other than
// want is an error quoting the response. headers are name, value pairs.
func (c *benchClient) do(ctx context.Context, method, path, token string, body any, want int, out any, headers ...string) (time.Duration, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != want {
		return 0, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return d, nil
}

// benchMemPeaks is the process's memory at its highest while a sampler ran.
type benchMemPeaks struct {
	HeapInuse uint64 // Go heap in use (runtime.MemStats.HeapInuse), sampled
	Sys       uint64 // memory the Go runtime holds from the OS, sampled
	RSS       uint64 // resident set: the kernel's high-water mark when it could be reset, else the sampled peak
	RSSBefore uint64 // resident set when sampling began
	Samples   int
}

// benchMemSampler samples the process's memory every interval until stopped.
// The service runs in this process, so this is the server's memory (plus
// the benchmark's own, which is small: its client reads one response).
type benchMemSampler struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	peaks benchMemPeaks
	hwm   bool // the kernel's peak RSS counter was reset at the start
}

func startBenchMemSampler(interval time.Duration) *benchMemSampler {
	runtime.GC()
	s := &benchMemSampler{stop: make(chan struct{})}
	// Writing 5 to clear_refs resets VmHWM (Linux 4.0+), so the kernel's
	// own peak covers exactly the measured call.
	s.hwm = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	s.peaks.RSSBefore, _ = benchProcStatus("VmRSS")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *benchMemSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := &s.peaks
	p.HeapInuse, p.Sys = max(p.HeapInuse, ms.HeapInuse), max(p.Sys, ms.Sys)
	if rss, err := benchProcStatus("VmRSS"); err == nil {
		p.RSS = max(p.RSS, rss)
	}
	p.Samples++
}

// Stop ends the sampling and returns the peaks.
func (s *benchMemSampler) Stop() benchMemPeaks {
	close(s.stop)
	s.wg.Wait()
	s.sample()
	if s.hwm {
		if hwm, err := benchProcStatus("VmHWM"); err == nil {
			s.peaks.RSS = max(s.peaks.RSS, hwm)
		}
	}
	return s.peaks
}

// benchProcStatus reads one memory line of /proc/self/status, in bytes.
func benchProcStatus(key string) (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", key)
}

// benchPercentile returns the p-th percentile (0-100) of sorted durations, by
// the nearest-rank method.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func benchMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return benchPercentile(s, 50)
}

// benchRow is one line of the result table.
type benchRow struct {
	Operation string
	Rows      string
	Cascade   string
	Baseline  string // what the baseline is, and its time
	Ratio     string
	Goal      string
	Result    string // pass, MISSED, or info
}

// benchCheck compares a ratio or a value with its goal.
func benchCheck(ok bool) string {
	if ok {
		return "pass"
	}
	return "**MISSED**"
}

func benchRatioRow(op, rows string, cascade time.Duration, what string, base time.Duration, baseErr string, limit float64) benchRow {
	r := benchRow{Operation: op, Rows: rows, Cascade: benchSeconds(cascade), Goal: fmt.Sprintf("≤ %g× baseline", limit)}
	if baseErr != "" {
		r.Baseline, r.Ratio, r.Result = what+": "+baseErr, "—", "no baseline"
		return r
	}
	ratio := cascade.Seconds() / base.Seconds()
	r.Baseline = what + ": " + benchSeconds(base)
	r.Ratio = fmt.Sprintf("%.2f×", ratio)
	if ratio < 0.1 {
		r.Ratio = fmt.Sprintf("%.4f× (%.0f× faster)", ratio, 1/ratio)
	}
	r.Result = benchCheck(ratio <= limit)
	return r
}

func benchSeconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func benchMB(b uint64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

// benchCount formats n with thousands separators.
func benchCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeBenchTable prints the rows as a Markdown table.
func writeBenchTable(w io.Writer, rows []benchRow) {
	fmt.Fprintln(w, "| operation | rows | Cascade | baseline (same run) | ratio | goal | result |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Operation, r.Rows, r.Cascade, r.Baseline, r.Ratio, r.Goal, r.Result)
	}
}

// benchLoad is the system's load averages over 1, 5 and 15 minutes.
func benchLoad() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	return strings.Join(f[:min(3, len(f))], " ")
}
