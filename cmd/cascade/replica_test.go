package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// replicaEnv names the DSN of a streaming replica of the PostgreSQL that
// CASCADE_TEST_PG_DSN names (scripts/pg-replica.sh starts one); any
// database name in it is replaced by the test's own.
const replicaEnv = "CASCADE_TEST_PG_REPLICA_DSN"

func TestReadReplicaNeedsPostgres(t *testing.T) {
	for name, args := range map[string][]string{
		"flag":        {"-read-db", "postgres://u:p@127.0.0.1:1/x"},
		"environment": nil,
	} {
		t.Run(name, func(t *testing.T) {
			if args == nil {
				t.Setenv("CASCADE_READ_DB", "postgres://u:p@127.0.0.1:1/x")
			}
			var stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve", "-addr", "127.0.0.1:0", "-db", t.TempDir() + "/c.db"}, args...), io.Discard, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "-read-db needs PostgreSQL") {
				t.Fatalf("serve on SQLite with a read database: exit %d: %s", code, stderr.String())
			}
		})
	}
}

// TestReadReplica runs the service on a fresh database of the test
// PostgreSQL with its replica, reached through a proxy the test can cut, and
// checks where reads go: a read-only request by someone else reads the
// replica (it sees what the replica has, stale while replay is paused, with
// the revision of that state as its ETag), the writer reads its own write,
// a replica further behind than the maximum lag is left alone, and a
// replica that goes away costs no request.
func TestReadReplica(t *testing.T) {
	base := strings.TrimSpace(os.Getenv(replicaEnv))
	if base == "" || storetest.PGDSN() == "" {
		println("cmd/cascade: " + replicaEnv + " (and " + storetest.PGEnv + ") not set: read-replica test skipped (scripts/pg-replica.sh starts a replica)")
		t.Skipf("%s and %s not set: read-replica test skipped", replicaEnv, storetest.PGEnv)
	}
	ctx := context.Background()
	primaryDSN := storetest.DSN(t, sqlstore.Postgres)
	replicaDSN := onDatabase(t, base, primaryDSN, "")
	primary, replica := openPG(t, primaryDSN), openPG(t, replicaDSN) // waits until the new database reached the replica
	replicaAdmin := openPG(t, onDatabase(t, base, "/postgres", ""))

	t.Run("refuses a read database that is no replica", func(t *testing.T) {
		db, err := sqlstore.Open(ctx, primaryDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.AttachReplica(ctx, primaryDSN, sqlstore.ReplicaOptions{}); err == nil || !strings.Contains(err.Error(), "is not a replica") {
			t.Fatalf("attach the primary as its own replica: %v", err)
		}
	})

	px := startProxy(t, hostPort(t, replicaDSN))
	const maxLag = 5 * time.Second
	m := NewMain()
	m.Stdout = io.Discard
	var logs syncBuffer
	m.Logger = newLogger(&logs, "text", 0)
	m.Config.DB, m.Config.Addr, m.Config.Demo = primaryDSN, "127.0.0.1:0", true
	m.Config.ReadDB, m.Config.ReadMaxLag = onDatabase(t, base, primaryDSN, px.addr()), maxLag
	if err := m.Run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	stats := func() sqlstore.ReplicaStats { st, _ := m.db.ReplicaStats(); return st }
	call := func(t *testing.T, method, path, user string, body any, header ...string) (int, []byte, http.Header) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, m.URL()+"/api/v1"+path, rd)
		req.Header.Set("Authorization", "Bearer "+demo.TokenFor(user))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out, resp.Header
	}
	mustCall := func(t *testing.T, want int, method, path, user string, body any, header ...string) ([]byte, http.Header) {
		t.Helper()
		status, out, h := call(t, method, path, user, body, header...)
		if status != want {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, status, want, out)
		}
		return out, h
	}

	// A round with a working version, and one cell in it.
	out, _ := mustCall(t, 201, "POST", "/rounds", "strategy", map[string]any{"code": "FY2027", "name": "Plan FY2027", "fiscal_year": 2027, "first_month": 4,
		"measures": []string{"revenue", "units"}, "calendar": []map[string]any{{"phase": "counterproposals", "due": "2099-12-15T18:00:00Z"}}})
	var round struct {
		ID               int64  `json:"id"`
		WorkingVersionID *int64 `json:"working_version_id"`
	}
	_ = json.Unmarshal(out, &round)
	out, _ = mustCall(t, 200, "POST", fmt.Sprintf("/rounds/%d/transitions", round.ID), "strategy", map[string]any{"to": "open", "comment": "go"})
	_ = json.Unmarshal(out, &round)
	if round.WorkingVersionID == nil {
		t.Fatalf("opened round: %s", out)
	}
	version := *round.WorkingVersionID
	gridPath := fmt.Sprintf("/versions/%d/targets?org_unit=B-ZJ-CH&product_line=UPS&measure=revenue&grain=year", version)
	setCell := func(t *testing.T, amount string) {
		t.Helper()
		mustCall(t, 200, "PUT", fmt.Sprintf("/versions/%d/targets", version), "pm-commercial", map[string]any{"cells": []map[string]any{
			{"org_unit": "B-ZJ-CH", "product_line": "UPS", "measure": "revenue", "period": "2027-06", "amount": amount}}}, "If-Match", "*")
	}
	// readCell reads the cell through the grid as user; it returns the
	// amount (or "" without the row) and the ETag.
	readCell := func(t *testing.T, user string) (string, string) {
		t.Helper()
		out, h := mustCall(t, 200, "GET", gridPath, user, nil)
		var page struct {
			Items []struct {
				Total string `json:"total"`
			} `json:"items"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			t.Fatalf("grid: %v: %s", err, out)
		}
		if len(page.Items) == 0 {
			return "", h.Get("ETag")
		}
		return page.Items[0].Total, h.Get("ETag")
	}
	setCell(t, "100.00")
	waitReplayed(t, primary, replica)

	t.Run("reads come from the replica", func(t *testing.T) {
		before := stats()
		if got, _ := readCell(t, "strategy"); got != "100.00" {
			t.Fatalf("strategy reads %q, want 100.00", got)
		}
		if after := stats(); after.Reads != before.Reads+1 {
			t.Fatalf("the replica served %d reads, want %d: %+v", after.Reads, before.Reads+1, after)
		}
	})

	t.Run("replay paused: others read the replica, the writer its write", func(t *testing.T) {
		pauseReplay(t, replicaAdmin)
		_, oldTag := readCell(t, "strategy")
		setCell(t, "200.00")
		before := stats()
		got, tag := readCell(t, "pm-commercial")
		if got != "200.00" {
			t.Fatalf("the writer reads %q right after writing 200.00", got)
		}
		after := stats()
		if after.Fallbacks[sqlstore.FallbackOwnWrite] != before.Fallbacks[sqlstore.FallbackOwnWrite]+1 {
			t.Fatalf("the writer's read was not sent to the primary for its own write: %+v → %+v", before, after)
		}
		stale, staleTag := readCell(t, "strategy")
		if stale != "100.00" {
			t.Fatalf("strategy reads %q while the replica has not replayed 200.00: not the replica", stale)
		}
		if staleTag != oldTag || staleTag == tag {
			t.Fatalf("ETag %s with the replica's rows: want the replica's revision %s (the primary's is %s)", staleTag, oldTag, tag)
		}
		if n := stats().Reads; n != after.Reads+1 {
			t.Fatalf("the replica served %d reads, want %d", n, after.Reads+1)
		}

		// Past the maximum lag, the replica is too far behind for anyone.
		time.Sleep(maxLag + 500*time.Millisecond)
		before = stats()
		if got, _ := readCell(t, "strategy"); got != "200.00" {
			t.Fatalf("strategy reads %q from a replica more than %s behind", got, maxLag)
		}
		if n := stats().Fallbacks[sqlstore.FallbackLag]; n != before.Fallbacks[sqlstore.FallbackLag]+1 {
			t.Fatalf("lag fallbacks %d, want %d", n, before.Fallbacks[sqlstore.FallbackLag]+1)
		}
		if !strings.Contains(logs.String(), "read replica too far behind") {
			t.Fatalf("no log line for the lagging replica:\n%s", logs.String())
		}

		resumeReplay(t, replicaAdmin)
		waitReplayed(t, primary, replica)
		before = stats()
		if got, _ := readCell(t, "strategy"); got != "200.00" {
			t.Fatalf("strategy reads %q after replay resumed", got)
		}
		if n := stats().Reads; n != before.Reads+1 {
			t.Fatalf("the caught-up replica did not serve the read: %+v", stats())
		}
		if !strings.Contains(logs.String(), "read replica in use again") {
			t.Fatalf("no log line for the replica in use again:\n%s", logs.String())
		}
	})

	t.Run("every heavy read runs on the replica", func(t *testing.T) {
		out, _ := mustCall(t, 201, "POST", fmt.Sprintf("/rounds/%d/versions", round.ID), "strategy",
			map[string]any{"from_version_id": version, "label": "copy", "purpose": "to diff"})
		var copied struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(out, &copied)
		// Attainment, rankings and scores read the budget of record.
		mustCall(t, 200, "POST", fmt.Sprintf("/rounds/%d/scorecard-defaults", round.ID), "strategy", nil)
		for _, to := range []string{"counterproposals", "review"} {
			mustCall(t, 200, "POST", fmt.Sprintf("/rounds/%d/transitions", round.ID), "strategy", map[string]any{"to": to})
		}
		for _, step := range [][2]string{{"pm-industry", "submit"}, {"sales-director", "approve"}, {"marketing-director", "approve"}, {"president", "approve"}} {
			mustCall(t, 200, "POST", fmt.Sprintf("/versions/%d/approval/actions", copied.ID), step[0], map[string]any{"action": step[1], "comment": step[1]})
		}
		waitReplayed(t, primary, replica)
		for _, path := range []string{
			gridPath,
			fmt.Sprintf("/versions/%d/export?format=csv", version),
			fmt.Sprintf("/versions/%d/export", version),
			fmt.Sprintf("/versions/%d/diff?against=%d", copied.ID, version),
			fmt.Sprintf("/rounds/%d/attainment?measure=revenue", round.ID),
			fmt.Sprintf("/rounds/%d/rankings?measure=revenue&level=branch", round.ID),
			fmt.Sprintf("/rounds/%d/scores?level=key_account_team", round.ID),
		} {
			before := stats()
			status, body, _ := call(t, "GET", path, "strategy", nil)
			after := stats()
			if status != 200 || after.Reads != before.Reads+1 || fallbacks(after) != fallbacks(before) {
				t.Errorf("GET %s: %d %.200s; replica reads %d → %d, fallbacks %v → %v", path, status, body, before.Reads, after.Reads, before.Fallbacks, after.Fallbacks)
			}
		}
		before := stats()
		mustCall(t, 200, "GET", fmt.Sprintf("/versions/%d", version), "strategy", nil)
		if after := stats(); after.Reads != before.Reads || fallbacks(after) != fallbacks(before) {
			t.Errorf("a light read went through the replica's routing: %+v → %+v", before, after)
		}
	})

	t.Run("a replica that goes away costs no request", func(t *testing.T) {
		px.cut()
		before := stats()
		for range 3 {
			if got, _ := readCell(t, "strategy"); got != "200.00" {
				t.Fatalf("strategy reads %q with the replica gone", got)
			}
		}
		after := stats()
		if after.Reads != before.Reads || after.Fallbacks[sqlstore.FallbackUnavailable] != before.Fallbacks[sqlstore.FallbackUnavailable]+3 {
			t.Fatalf("with the replica gone: %+v → %+v", before, after)
		}
		if !strings.Contains(logs.String(), "read replica unavailable") {
			t.Fatalf("no log line for the unavailable replica:\n%s", logs.String())
		}
		metrics, _ := http.Get(m.URL() + "/metrics")
		body, _ := io.ReadAll(metrics.Body)
		metrics.Body.Close()
		for _, want := range []string{"cascade_read_replica_reads_total ", `cascade_read_replica_fallbacks_total{reason="unavailable"} `, `db_name="cascade_replica"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}

		px.restore()
		deadline := time.Now().Add(10 * time.Second)
		for {
			before := stats()
			if got, _ := readCell(t, "strategy"); got != "200.00" {
				t.Fatalf("strategy reads %q", got)
			}
			if stats().Reads == before.Reads+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replica is back but serves no reads: %+v", stats())
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func fallbacks(st sqlstore.ReplicaStats) (n uint64) {
	for _, v := range st.Fallbacks {
		n += v
	}
	return n
}

// onDatabase returns dsn with the database of other (a DSN or a path) and,
// when host is set, that host and port.
func onDatabase(t *testing.T, dsn, other, host string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	path := other
	if o, err := url.Parse(other); err == nil && o.Scheme != "" {
		path = o.Path
	}
	u.Path = path
	if host != "" {
		u.Host = host
	}
	return u.String()
}

func hostPort(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// openPG connects to dsn, waiting up to 30 s for the database to exist
// (a database created on the primary reaches the replica with the WAL).
func openPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := db.Ping()
		if err == nil {
			return db
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect %s: %v", dsn, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReplayed waits until the replica has replayed everything the
// primary had written when it was called.
func waitReplayed(t *testing.T, primary, replica *sql.DB) {
	t.Helper()
	var lsn string
	if err := primary.QueryRow("SELECT CAST(pg_current_wal_insert_lsn() AS text)").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		if err := replica.QueryRow("SELECT pg_last_wal_replay_lsn() >= CAST($1 AS pg_lsn)", lsn).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica has not replayed %s in 30 s", lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pauseReplay stops the replica applying WAL (it keeps receiving it) until
// resumeReplay or the end of the test.
func pauseReplay(t *testing.T, admin *sql.DB) {
	t.Helper()
	if _, err := admin.Exec("SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatalf("pause replay (scripts/pg-replica.sh grants it): %v", err)
	}
	t.Cleanup(func() { resumeReplay(t, admin) })
}

func resumeReplay(t *testing.T, admin *sql.DB) {
	t.Helper()
	if _, err := admin.Exec("SELECT pg_wal_replay_resume()"); err != nil {
		t.Errorf("resume replay: %v", err)
	}
}

// proxy forwards TCP connections to a target until cut, which closes
// them all and refuses new ones (it accepts and closes them) until
// restore: a replica that went away, without touching the replica.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close()
		return
	}
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(d, c); d.Close() }()
	_, _ = io.Copy(c, d)
	c.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
