package planning

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestJobCancelRules(t *testing.T) {
	now := time.Date(2027, 4, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from      JobState
		wantState JobState
		wantCode  string
	}{
		{JobQueued, JobCancelled, ""},
		{JobRunning, JobRunning, ""},
		{JobSucceeded, JobSucceeded, ECONFLICT},
		{JobFailed, JobFailed, ECONFLICT},
		{JobCancelled, JobCancelled, ECONFLICT},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			j := &AllocationJob{ID: 1, State: tc.from}
			err := j.RequestCancel(now)
			if ErrorCode(err) != tc.wantCode || j.State != tc.wantState {
				t.Fatalf("cancel from %s: state %s, error %v", tc.from, j.State, err)
			}
			if err == nil && !j.CancelRequested {
				t.Fatalf("cancel from %s did not record the request", tc.from)
			}
			if (j.State == JobCancelled && err == nil) != (j.FinishedAt != nil) {
				t.Fatalf("cancel from %s: finished at %v", tc.from, j.FinishedAt)
			}
			if err == nil && j.State != tc.from && !tc.from.CanMove(j.State) {
				t.Fatalf("%s → %s is not a move of JobTransitions", tc.from, j.State)
			}
		})
	}
	for _, s := range []JobState{JobSucceeded, JobFailed, JobCancelled} {
		if len(JobTransitions[s]) != 0 || !s.Final() {
			t.Errorf("%s must be final", s)
		}
	}
}

func TestMayCancelJob(t *testing.T) {
	starter := int64(7)
	j := &AllocationJob{CreatedBy: &starter}
	for _, tc := range []struct {
		name string
		a    *Actor
		ok   bool
	}{
		{"the starter", &Actor{User: &User{ID: 7}, Roles: []RoleAssignment{{Role: RoleProductManager}}}, true},
		{"another product manager", &Actor{User: &User{ID: 8}, Roles: []RoleAssignment{{Role: RoleProductManager}}}, false},
		{"the strategy office", &Actor{User: &User{ID: 9}, Roles: []RoleAssignment{{Role: RoleStrategyOffice}}}, true},
		{"an administrator", &Actor{User: &User{ID: 10}, Roles: []RoleAssignment{{Role: RoleAdmin}}}, true},
		{"an auditor", &Actor{User: &User{ID: 11}, Roles: []RoleAssignment{{Role: RoleAuditor}}}, false},
	} {
		err := tc.a.MayCancelJob(j)
		if (err == nil) != tc.ok || (err != nil && ErrorCode(err) != EFORBIDDEN) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestProgressNeverGoesDown: a run that starts over (a transient
// failure of the database runs the transaction again) counts on from the
// highest value reached, and a cancelled context stops the stream.
func TestProgressNeverGoesDown(t *testing.T) {
	p := new(JobProgress)
	cells := func(n int) CellStream {
		return func(emit func(unit, line int64, period int, amount []byte) error) error {
			for i := range n {
				if err := emit(int64(i), 1, 1, []byte("1.00")); err != nil {
					return err
				}
			}
			return nil
		}
	}
	var last int64
	sink := func(int64, int64, int, []byte) error {
		if d := p.Done(); d < last {
			t.Fatalf("progress went from %d to %d", last, d)
		} else {
			last = d
		}
		return nil
	}
	ctx := context.Background()
	if err := withProgress(ctx, p, 10000, cells(10000))(sink); err != nil || p.Done() != 10000 || p.Total() != 10000 {
		t.Fatalf("first pass: %v %d/%d", err, p.Done(), p.Total())
	}
	if err := withProgress(ctx, p, 10000, cells(5000))(sink); err != nil || p.Done() != 10000 {
		t.Fatalf("a second, shorter pass moved progress to %d (%v)", p.Done(), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := withProgress(cctx, new(JobProgress), 10000, cells(10000))(sink); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run streamed on: %v", err)
	}
}
