package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestParseLSN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0/0", 0, true},
		{"16/B374D848", 0x16<<32 | 0xB374D848, true},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, true},
		{"16B374D848", 0, false},
		{"1/2/3", 0, false},
		{"G/0", 0, false},
		{"100000000/0", 0, false},
	} {
		got, err := parseLSN(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseLSN(%q) = %x, %v; want %x, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestLagBound checks the bound on staleness against its definition: the
// replica must have replayed every commit sample made maxLag or more ago,
// whatever the order and spacing of the commits, and asking never changes
// the answer of a later question.
func TestLagBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxLag := time.Second
		r := &replica{maxLag: maxLag}
		start := time.Unix(1_000_000, 0)
		type commit struct {
			lsn uint64
			at  time.Time
		}
		var all []commit
		now, lsn := start, uint64(0)
		for range rapid.IntRange(0, 80).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 400).Draw(t, "gap ms")) * time.Millisecond)
			if rapid.Bool().Draw(t, "commit") {
				lsn += uint64(rapid.IntRange(0, 1000).Draw(t, "wal"))
				all = append(all, commit{lsn, now})
				r.note(lsn, now)
				continue
			}
			got := r.lagBound(now)
			// The bound covers every commit made maxLag (plus the
			// sampling interval) ago, and no commit made less than
			// maxLag minus that ago.
			var covered, allowed uint64
			for _, c := range all {
				if now.Sub(c.at) >= maxLag+maxLag/16 {
					covered = max(covered, c.lsn)
				}
				if now.Sub(c.at) >= maxLag-maxLag/16 {
					allowed = max(allowed, c.lsn)
				}
			}
			if got < covered || got > allowed {
				t.Fatalf("lagBound at +%s = %d, want between %d and %d", now.Sub(start), got, covered, allowed)
			}
		}
	})
}

// note records a commit at lsn made at now, as committed does.
func (r *replica) note(lsn uint64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addSample(lsn, now)
}

func TestForgetSessions(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := &replica{maxLag: time.Second, replayed: 100, sessions: map[int64]commitMark{
		1: {lsn: 50, at: now},                               // replayed: forgotten
		2: {lsn: 150, at: now},                              // not replayed, recent: kept
		3: {lsn: 150, at: now.Add(-2 * time.Second)},        // older than maxLag: the lag bound covers it
		4: {lsn: unknownLSN, at: now},                       // unknown, recent: kept
		5: {lsn: unknownLSN, at: now.Add(-2 * time.Second)}, // unknown, expired
	}}
	r.forgetSessions(now)
	if len(r.sessions) != 2 || r.sessions[2].lsn != 150 || r.sessions[4].lsn != unknownLSN {
		t.Fatalf("sessions left: %v", r.sessions)
	}
}

func TestAttachReplicaNeedsPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir()+"/c.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AttachReplica(ctx, "postgres://u:p@127.0.0.1:1/x", ReplicaOptions{}); err == nil || !strings.Contains(err.Error(), "needs PostgreSQL") {
		t.Fatalf("attach a replica to SQLite: %v", err)
	}
	if _, ok := db.ReplicaStats(); ok {
		t.Fatal("stats of a replica that was refused")
	}
}
