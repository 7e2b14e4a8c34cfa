package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestRoundMovesSayWhatThePostAnswers walks a round through its phases and,
// in each, reads it as every kind of user: every move the round lists as
// refused is then tried, and the POST answers with the listed reason (403
// for role, 409 for phase and precondition, the reason's message as the
// detail) and changes nothing; the moves listed as allowed are exactly
// the strategy office's way on, which the walk then takes.
func TestRoundMovesSayWhatThePostAnswers(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		var r api.Round
		call("strategy", "POST", "/api/v1/rounds", map[string]any{"code": "MOVES", "name": "Moves", "fiscal_year": 2027, "first_month": 1}, 201).Decode(t, &r)
		status := map[string]int{"role": http.StatusForbidden, "phase": http.StatusConflict, "precondition": http.StatusConflict}
		seen := map[string]bool{}
		check := func(step string) map[string]bool {
			t.Helper()
			var strategyAllowed map[string]bool
			for _, user := range []string{"strategy", "admin", "president", "pm-industry", "auditor", "bm-sh"} {
				var got api.Round
				env.GetJSON(user, fmt.Sprintf("/api/v1/rounds/%d", r.ID), &got)
				allowed := map[string]bool{}
				listed := map[string]api.TransitionRule{}
				for _, m := range got.Moves {
					listed[m.To] = m
					what := fmt.Sprintf("%s: %s moving %s to %s", step, user, got.Status, m.To)
					if m.To == got.Status || m.To == "draft" {
						t.Errorf("%s: listed", what)
					}
					if m.Allowed {
						if m.Reason != nil {
							t.Errorf("%s: allowed with reason %+v", what, m.Reason)
						}
						allowed[m.To] = true
						continue
					}
					if m.Reason == nil {
						t.Fatalf("%s: refused without a reason", what)
					}
					seen[m.Reason.Code] = true
					res := env.Request("POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", r.ID), apitest.Token(user), map[string]any{"to": m.To}, nil)
					var p api.Problem
					res.Decode(t, &p)
					if res.Status != status[m.Reason.Code] || p.Detail != m.Reason.Message {
						t.Errorf("%s: listed %s %q, the POST answered %d %q", what, m.Reason.Code, m.Reason.Message, res.Status, p.Detail)
					}
				}
				// possible_transitions are the moves from here, the same entries.
				for _, p := range got.PossibleTransitions {
					m, ok := listed[p.To]
					if !ok || m.Allowed != p.Allowed || (m.Reason == nil) != (p.Reason == nil) || len(p.Roles) == 0 || p.Description == "" {
						t.Errorf("%s: %s: possible transition %+v, move %+v", step, user, p, m)
					}
				}
				if user == "strategy" {
					strategyAllowed = allowed
				}
				var after api.Round
				env.GetJSON("strategy", fmt.Sprintf("/api/v1/rounds/%d", r.ID), &after)
				if after.Revision != got.Revision || after.Status != got.Status {
					t.Fatalf("%s: a refused move changed the round", step)
				}
			}
			return strategyAllowed
		}
		move := func(to string) {
			t.Helper()
			call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", r.ID), map[string]any{"to": to}, 200).Decode(t, &r)
		}
		if a := check("a draft without measures"); len(a) != 0 {
			t.Fatalf("a draft without measures opens: %v", a)
		}
		call("strategy", "PATCH", fmt.Sprintf("/api/v1/rounds/%d", r.ID), map[string]any{"measures": []string{"revenue"}}, 200)
		want := []struct {
			step, to string
			allowed  []string
		}{
			{"draft", "open", []string{"open"}},
			{"open", "counterproposals", []string{"counterproposals"}},
			{"counterproposals", "review", []string{"open", "review"}},
			{"review", "", []string{"open", "counterproposals"}},
		}
		for _, w := range want {
			a := check(w.step)
			if fmt.Sprint(len(a)) != fmt.Sprint(len(w.allowed)) {
				t.Errorf("%s: the strategy office may %v, want %v", w.step, a, w.allowed)
			}
			for _, x := range w.allowed {
				if !a[x] {
					t.Errorf("%s: the strategy office may not move to %s (%v)", w.step, x, a)
				}
			}
			if w.to != "" {
				move(w.to)
			}
		}
		for _, code := range []string{"role", "phase", "precondition"} {
			if !seen[code] {
				t.Errorf("no move was refused for %q", code)
			}
		}
	})
}
