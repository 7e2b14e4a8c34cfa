package planning_test

import (
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestRoundMoveRefusalNamesEachRoleOnce: a refusal for want of a role names
// who may, each role once, although several moves lead to one phase (a
// round returns to open from three phases); the console shows it as is.
func TestRoundMoveRefusalNamesEachRoleOnce(t *testing.T) {
	bm := actor(1, planning.RoleBranchManager)
	for _, to := range append(append([]planning.RoundStatus{}, planning.RoundStatuses...), "no-such-phase") {
		err := bm.MayMoveRoundTo(to)
		if err == nil {
			t.Fatalf("a branch manager may move a round to %s", to)
		}
		msg := err.Error()
		open, end := strings.LastIndex(msg, "["), strings.LastIndex(msg, "]")
		if open < 0 || end < open {
			t.Fatalf("%s: %q names no roles", to, msg)
		}
		seen := map[string]bool{}
		for _, r := range strings.Fields(msg[open+1 : end]) {
			if seen[r] {
				t.Errorf("%s: %q names %s twice", to, msg, r)
			}
			seen[r] = true
		}
		if len(seen) == 0 {
			t.Errorf("%s: %q names no roles", to, msg)
		}
	}
	round := &planning.Round{Status: planning.RoundApproved}
	for _, m := range round.Moves(bm) {
		if m.Refusal != nil && strings.Count(m.Refusal.Error(), string(planning.RoleStrategyOffice)) > 1 {
			t.Errorf("move to %s: %q names the strategy office twice", m.To, m.Refusal.Error())
		}
	}
}
