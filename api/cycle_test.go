package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestPlanningCycle runs the whole annual cycle on the demo data through
// HTTP, each step with the token of the role that takes it.
func TestPlanningCycle(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		call := env.Caller(t)
		// 1. The strategy office opens the round.
		round := openDemoRound(t, env, "FY2027")
		v1 := *round.WorkingVersionID
		rid := round.ID

		// 2. Each product manager cascades revenue and gross margin of their
		// lines from the company to every team and month.
		owners := map[string][]string{
			"pm-industry":   {"TERM", "POS", "DMP", "ATM", "SOFT"},
			"pm-commercial": {"CPC", "HPC", "UPS", "MODEM", "PERI"},
			"pm-agency":     {"COMPAQ", "EPSON"},
		}
		for pm, lines := range owners {
			for _, measure := range []string{"revenue", "gross_margin"} {
				var targets []map[string]any
				for i, l := range lines {
					amount := fmt.Sprintf("%d.00", (i+1)*1_000_000)
					if measure == "gross_margin" {
						amount = fmt.Sprintf("%d.50", (i+1)*210_000)
					}
					targets = append(targets, map[string]any{"product_line": l, "amount": amount})
				}
				levels := []map[string]any{{"method": "even"}}
				if pm == "pm-industry" {
					levels = []map[string]any{{"method": "even"}, {"method": "even", "buffer": "0.05"}, {"method": "even"}}
				}
				call(pm, "POST", fmt.Sprintf("/api/v1/versions/%d/allocations", v1), map[string]any{
					"measure": measure, "root": "CO", "targets": targets, "levels": levels,
					"phasing": map[string]any{"method": "profile", "profile": "year-end-peak"}}, 201)
			}
		}
		var cons api.InconsistencyPage
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d/consistency", v1), nil, 200).Decode(t, &cons)
		if len(cons.Items) != 0 {
			t.Fatalf("top-down plan inconsistent: %+v", cons.Items)
		}
		// The top-down plan is frozen as published; the branches answer a
		// working copy of it.
		call("strategy", "POST", fmt.Sprintf("/api/v1/versions/%d/freeze", v1), nil, 200)
		var v2 api.Version
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/versions", rid),
			map[string]any{"from_version_id": v1, "label": "after counterproposals"}, 201).Decode(t, &v2)

		// 3. The round moves to counterproposals.
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "counterproposals"}, 200)

		// 4. Shanghai raises POS for the year; Beijing lowers Epson in
		// March and asks for less ATM too.
		grid := readGrid(t, env, "strategy", v2.ID, "measure=revenue&grain=year")
		shPOS := grid["B-SH/POS/revenue"][0]
		bjATM := grid["B-BJ/ATM/revenue"][0]
		months := readGrid(t, env, "strategy", v2.ID, "measure=revenue&product_line=EPSON&org_unit=B-BJ")
		bjEpsonJune := months["B-BJ/EPSON/revenue"][2]
		raise := shPOS.Add(decimal.RequireFromString("20000.00"))
		var sh, bj api.Counterproposal
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", v2.ID), map[string]any{
			"org_unit": "B-SH", "title": "Shanghai 2027",
			"lines": []map[string]any{{"product_line": "POS", "measure": "revenue", "period": "year", "proposed": raise.StringFixed(2), "reason": "three new bank branches"}},
		}, 201).Decode(t, &sh)
		call("bm-bj", "POST", fmt.Sprintf("/api/v1/versions/%d/counterproposals", v2.ID), map[string]any{
			"org_unit": "B-BJ", "title": "Beijing 2027",
			"lines": []map[string]any{
				{"product_line": "EPSON", "measure": "revenue", "period": "2027-06", "proposed": "100.00", "reason": "distributor lost"},
				{"product_line": "ATM", "measure": "revenue", "period": "year", "proposed": bjATM.Sub(decimal.NewFromInt(5000)).StringFixed(2), "reason": "budget freeze at the banks"},
			},
		}, 201).Decode(t, &bj)
		if bj.Lines[0].Current != bjEpsonJune.StringFixed(2) || sh.Lines[0].Delta != "20000.00" {
			t.Fatalf("lines show current and delta: %+v %+v", bj.Lines[0], sh.Lines[0])
		}
		call("bm-bj", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", sh.ID), nil, 404) // not theirs to see
		call("bm-sh", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", sh.ID), nil, 200)
		call("bm-bj", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/submit", bj.ID), nil, 200)
		var inbox api.CounterproposalPage
		call("pm-agency", "GET", fmt.Sprintf("/api/v1/versions/%d/counterproposals?awaiting_decision=true", v2.ID), nil, 200).Decode(t, &inbox)
		if len(inbox.Items) != 1 || inbox.Items[0].ID != bj.ID {
			t.Fatalf("pm-agency inbox %+v", inbox.Items)
		}

		// 5. The product managers decide: accept Shanghai rebalancing its
		// siblings; modify Beijing's Epson month, raising the parents;
		// reject Beijing's ATM.
		call("pm-agency", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", sh.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": sh.Lines[0].ID, "decision": "accept"}}}, 403)
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", sh.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": sh.Lines[0].ID, "decision": "accept", "apply": "rebalance", "comment": "welcome"}}}, 200)
		call("pm-agency", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", bj.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": bj.Lines[0].ID, "decision": "modify", "amount": "500.00", "apply": "raise_parent", "comment": "halfway"}}}, 200)
		var closed api.Counterproposal
		call("pm-industry", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/decision", bj.ID), map[string]any{
			"decisions": []map[string]any{{"line_id": bj.Lines[1].ID, "decision": "reject", "comment": "the banks are buying"}}}, 200).Decode(t, &closed)
		if closed.Status != "closed" || closed.Lines[0].DecidedAmount == nil || *closed.Lines[0].DecidedAmount != "500.00" {
			t.Fatalf("closed %+v", closed)
		}
		call("bm-bj", "POST", fmt.Sprintf("/api/v1/counterproposals/%d/comments", bj.ID), map[string]any{"body": "understood"}, 201)

		// 6. The chain runs, with one rejection and a resubmission.
		call("strategy", "POST", fmt.Sprintf("/api/v1/rounds/%d/transitions", rid), map[string]any{"to": "review"}, 200)
		approval := fmt.Sprintf("/api/v1/versions/%d/approval/actions", v2.ID)
		call("pm-commercial", "POST", approval, map[string]any{"action": "submit", "comment": "the plan"}, 200)
		call("marketing-director", "POST", approval, map[string]any{"action": "approve"}, 403) // not their turn
		call("sales-director", "POST", approval, map[string]any{"action": "reject", "comment": "East China is too light in Q1"}, 200)
		call("pm-commercial", "POST", approval, map[string]any{"action": "submit", "comment": "checked"}, 200)
		call("sales-director", "POST", approval, map[string]any{"action": "approve", "comment": "ok"}, 200)
		call("marketing-director", "POST", approval, map[string]any{"action": "approve", "comment": "ok"}, 200)
		var ap api.Approval
		call("president", "POST", approval, map[string]any{"action": "approve", "comment": "signed"}, 200).Decode(t, &ap)
		if ap.State != "approved" || len(ap.History) != 6 || ap.Steps[3].State != "done" || ap.NextRole != nil {
			t.Fatalf("approval %+v", ap)
		}

		// 7. The approved version is frozen, the budget of record.
		var r api.Round
		call("auditor", "GET", fmt.Sprintf("/api/v1/rounds/%d", rid), nil, 200).Decode(t, &r)
		if r.Status != "approved" || r.RecordVersionID == nil || *r.RecordVersionID != v2.ID {
			t.Fatalf("round %+v", r)
		}
		var got api.Version
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d", v2.ID), nil, 200).Decode(t, &got)
		if got.Status != "frozen" {
			t.Fatalf("record version %+v", got)
		}
		frozenWrite := env.Request("PUT", fmt.Sprintf("/api/v1/versions/%d/targets", v2.ID), apitest.Token("pm-agency"), map[string]any{"cells": []map[string]any{
			{"org_unit": "CO", "product_line": "EPSON", "measure": "revenue", "period": "2027-04", "amount": "1.00"}}}, map[string]string{"If-Match": "*"})
		if frozenWrite.Status != 409 {
			t.Fatalf("write to the approved version: %d %s", frozenWrite.Status, frozenWrite.Body)
		}

		// 8. The diff shows exactly the accepted changes.
		var d api.Diff
		call("strategy", "GET", fmt.Sprintf("/api/v1/versions/%d/diff?against=%d&measure=revenue&limit=1000", v2.ID, v1), nil, 200).Decode(t, &d)
		byUnit := map[string]string{}
		for _, x := range d.Rollups.ByOrgUnit {
			byUnit[x.Key] = x.Delta
		}
		eDelta := decimal.RequireFromString("500.00").Sub(bjEpsonJune).StringFixed(2)
		if byUnit["B-SH"] != "20000.00" || byUnit["B-BJ"] != eDelta || byUnit["R-NORTH"] != eDelta || byUnit["CO"] != eDelta {
			t.Fatalf("rollups by unit %v (Epson delta %s)", byUnit, eDelta)
		}
		if _, moved := byUnit["R-EAST"]; moved {
			t.Fatalf("East China's total moved: %v", byUnit)
		}
		for _, c := range d.Changes {
			okPOS := c.ProductLine == "POS" && (strings.HasPrefix(c.OrgUnit, "B-SH") || strings.HasPrefix(c.OrgUnit, "B-JS") ||
				strings.HasPrefix(c.OrgUnit, "B-ZJ") || strings.HasPrefix(c.OrgUnit, "B-AH"))
			okEpson := c.ProductLine == "EPSON" && c.Period == "2027-06" && (strings.HasPrefix(c.OrgUnit, "B-BJ") || c.OrgUnit == "R-NORTH" || c.OrgUnit == "CO")
			if !okPOS && !okEpson {
				t.Fatalf("unexpected change %+v", c)
			}
		}
		for _, x := range d.Rollups.ByProductLine {
			if x.Key == "ATM" {
				t.Fatalf("the rejected ATM line changed targets: %+v", x)
			}
		}
		call("auditor", "GET", fmt.Sprintf("/api/v1/versions/%d/consistency", v2.ID), nil, 200).Decode(t, &cons)
		if len(cons.Items) != 0 {
			t.Fatalf("approved plan inconsistent: %+v", cons.Items)
		}

		// 9. The audit trail shows every step.
		var events api.AuditEventPage
		call("auditor", "GET", fmt.Sprintf("/api/v1/audit?round=%d&limit=1000", rid), nil, 200).Decode(t, &events)
		seen := map[string]int{}
		for _, e := range events.Items {
			seen[e.Action]++
		}
		for action, min := range map[string]int{"round.transition": 3, "targets.allocate": 6, "version.freeze": 2, "version.create": 2,
			"counterproposal.create": 2, "counterproposal.submit": 2, "counterproposal.decide": 3, "counterproposal.comment": 1,
			"approval.submit": 2, "approval.reject": 1, "approval.approve": 3, "round.record_version": 1} {
			if seen[action] < min {
				t.Errorf("audit: %d × %s, want at least %d (%v)", seen[action], action, min, seen)
			}
		}
		var hist api.CellHistory
		call("bm-bj", "GET", fmt.Sprintf("/api/v1/versions/%d/cell-history?org_unit=B-BJ&product_line=EPSON&measure=revenue&period=2027-06", v2.ID), nil, 200).Decode(t, &hist)
		last := hist.Items[len(hist.Items)-1]
		if last.Action != "counterproposal.decide" || last.After != "500.00" || hist.Items[0].AllocationRunID == nil {
			t.Fatalf("cell history %+v", hist.Items)
		}
		var mine api.AuditEventPage
		call("bm-sh", "GET", "/api/v1/audit?limit=1000", nil, 200).Decode(t, &mine)
		for _, e := range mine.Items {
			if e.Entity == "counterproposal" && e.EntityID == bj.ID {
				t.Fatalf("Shanghai reads Beijing's audit events: %+v", e)
			}
		}
	})
}
