package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/allocation"
	"github.com/cascade-planning/cascade/planning"
)

// Allocate implements planning.TargetService.
func (s *TargetService) Allocate(ctx context.Context, req planning.AllocationRequest) (*planning.AllocationResult, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.CanWriteTargets() {
		return nil, planning.Errorf(planning.EFORBIDDEN, "only product managers, the strategy office and administrators allocate targets")
	}
	if err := validateAllocation(&req); err != nil {
		return nil, err
	}
	if req.DryRun {
		v, err := s.db.loadVersion(ctx, s.db.bun, req.VersionID)
		if err != nil {
			return nil, err
		}
		_, r, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
		if err != nil {
			return nil, err
		}
		p, err := s.resolve(ctx, s.db.bun, a, r, &req)
		if err != nil {
			return nil, err
		}
		results, err := p.run()
		if err != nil {
			return nil, err
		}
		run := &planning.AllocationRun{VersionID: v.ID, Request: req, CellCount: cellCount(p, results),
			Checksum: checksum(p, results), ActorID: actorIDPtr(a), At: s.db.Now()}
		return &planning.AllocationResult{Run: run, Nodes: nodesOf(p, results)}, nil
	}
	var out *planning.AllocationResult
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		v, r, err := s.db.lockWorkingVersion(ctx, tx, req.VersionID, req.IfMatch)
		if err != nil {
			return err
		}
		out, err = s.allocateIn(ctx, conn, tx, a, v, r, &req)
		return err
	})
	if err == nil {
		s.db.afterCommit(ctx, func() { s.db.refreshCellStats(out.Run.CellCount) })
	}
	return out, err
}

// allocateIn runs a real allocation inside tx on a version the caller has
// claimed with lockWorkingVersion: it replaces the cells, records the run
// and audits it. Counterproposal decisions reuse it to rebalance.
func (s *TargetService) allocateIn(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, v *versionRow, r *planning.Round,
	req *planning.AllocationRequest) (*planning.AllocationResult, error) {
	p, err := s.resolve(ctx, tx, a, r, req)
	if err != nil {
		return nil, err
	}
	results, err := p.run()
	if err != nil {
		return nil, err
	}
	deleted, err := s.db.clearAllocated(ctx, tx, v.ID, p)
	if err != nil {
		return nil, err
	}
	written, err := s.db.writeAllocated(ctx, conn, tx, v.ID, p, results)
	if err != nil {
		return nil, err
	}
	if err := s.db.writeBuffers(ctx, tx, v.ID, p); err != nil {
		return nil, err
	}
	reqJSON, _ := json.Marshal(requestRecord(req))
	inputs, err := encodePlan(p)
	if err != nil {
		return nil, err
	}
	run := &runRow{VersionID: v.ID, Request: string(reqJSON), CellCount: written, Checksum: checksum(p, results),
		Inputs: inputs, ActorID: actorIDPtr(a), At: s.db.Now()}
	if _, err := tx.NewInsert().Model(run).Returning("id").Exec(ctx); err != nil {
		return nil, err
	}
	v.CellCount += written - deleted
	if _, err := tx.NewUpdate().Model(v).Column("cell_count").WherePK().Exec(ctx); err != nil {
		return nil, err
	}
	out := &planning.AllocationResult{Run: &planning.AllocationRun{ID: run.ID, VersionID: v.ID, Request: *req,
		CellCount: written, Checksum: run.Checksum, ActorID: run.ActorID, At: run.At}}
	if req.IncludeNodes {
		out.Nodes = nodesOf(p, results)
	}
	// The audit event names the run; the run holds the cells' inputs and
	// checksum, so a million cells are not written twice.
	_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: v.ID}, "targets.allocate", "version", v.ID, nil,
		map[string]any{"allocation_run_id": run.ID, "cells": written, "checksum": run.Checksum})
	return out, err
}

func cellCount(p *plan, results []*allocation.CascadeResult) int64 {
	var n int64
	for i, r := range results {
		n += int64(r.Len()-len(p.Lines[i].Locks)) * 12
	}
	return n
}

// nodesOf lists every allocated node's year and months.
func nodesOf(p *plan, results []*allocation.CascadeResult) []planning.AllocatedNode {
	var out []planning.AllocatedNode
	for li, r := range results {
		for i := 0; i < r.Len(); i++ {
			idx := p.index(r.Key(i))
			n := planning.AllocatedNode{OrgUnitID: p.IDs[idx], ProductLineID: p.Lines[li].ProductLineID, Year: r.Year(i).Decimal()}
			_, n.Locked = p.Lines[li].Locks[idx]
			for m := 1; m <= 12; m++ {
				n.Months[m-1] = r.Month(i, m).Decimal()
			}
			out = append(out, n)
		}
	}
	return out
}

// index returns the plan index of the node with code key.
func (p *plan) index(key string) int {
	if p.byKey == nil {
		p.byKey = make(map[string]int, len(p.Keys))
		for i, k := range p.Keys {
			p.byKey[k] = i
		}
	}
	return p.byKey[key]
}

// requestJSON is the form a run's request is kept in.
type requestJSON struct {
	VersionID int64              `json:"version_id"`
	MeasureID int64              `json:"measure_id"`
	RootID    int64              `json:"root_id"`
	Targets   []targetJSON       `json:"targets"`
	Levels    []levelJSON        `json:"levels"`
	Depth     int                `json:"depth"`
	Phasing   phasingRequestJSON `json:"phasing"`
	Locks     []int64            `json:"locks"`
}

type targetJSON struct {
	ProductLineID int64           `json:"product_line_id"`
	Amount        decimal.Decimal `json:"amount"`
}

type levelJSON struct {
	Method             string                    `json:"method"`
	ReferenceVersionID *int64                    `json:"reference_version_id,omitempty"`
	Weights            map[int64]decimal.Decimal `json:"weights,omitempty"`
	Manual             map[int64]decimal.Decimal `json:"manual,omitempty"`
	Buffer             decimal.Decimal           `json:"buffer"`
	ZeroWeights        string                    `json:"zero_weights,omitempty"`
}

type phasingRequestJSON struct {
	Method             string `json:"method"`
	ProfileID          *int64 `json:"profile_id,omitempty"`
	ReferenceVersionID *int64 `json:"reference_version_id,omitempty"`
}

func requestRecord(req *planning.AllocationRequest) requestJSON {
	out := requestJSON{VersionID: req.VersionID, MeasureID: req.MeasureID, RootID: req.RootID, Depth: req.Depth, Locks: req.Locks,
		Phasing: phasingRequestJSON{Method: string(req.Phasing.Method), ProfileID: req.Phasing.ProfileID, ReferenceVersionID: req.Phasing.ReferenceVersionID}}
	for _, t := range req.Targets {
		out.Targets = append(out.Targets, targetJSON{ProductLineID: t.ProductLineID, Amount: t.Amount})
	}
	for _, l := range req.Levels {
		out.Levels = append(out.Levels, levelJSON{Method: string(l.Method), ReferenceVersionID: l.ReferenceVersionID,
			Weights: l.Weights, Manual: l.Manual, Buffer: l.Buffer, ZeroWeights: l.ZeroWeights})
	}
	return out
}

func (r requestJSON) toDomain() planning.AllocationRequest {
	out := planning.AllocationRequest{VersionID: r.VersionID, MeasureID: r.MeasureID, RootID: r.RootID, Depth: r.Depth, Locks: r.Locks,
		Phasing: planning.Phasing{Method: planning.PhasingMethod(r.Phasing.Method), ProfileID: r.Phasing.ProfileID, ReferenceVersionID: r.Phasing.ReferenceVersionID}}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, planning.AllocationTarget{ProductLineID: t.ProductLineID, Amount: t.Amount})
	}
	for _, l := range r.Levels {
		out.Levels = append(out.Levels, planning.LevelSpec{Method: planning.AllocationMethod(l.Method), ReferenceVersionID: l.ReferenceVersionID,
			Weights: l.Weights, Manual: l.Manual, Buffer: l.Buffer, ZeroWeights: l.ZeroWeights})
	}
	return out
}

// validateAllocation checks what can be checked without the database.
func validateAllocation(req *planning.AllocationRequest) error {
	var v planning.Validation
	if len(req.Targets) == 0 {
		v.Add("targets", "must name at least one product line and its amount")
	}
	seen := map[int64]bool{}
	for i, t := range req.Targets {
		if seen[t.ProductLineID] {
			v.Add(fmt.Sprintf("targets[%d].product_line", i), "is listed twice")
		}
		seen[t.ProductLineID] = true
	}
	if len(req.Levels) == 0 {
		req.Levels = []planning.LevelSpec{{Method: planning.MethodEven}}
	}
	for i, l := range req.Levels {
		f := fmt.Sprintf("levels[%d]", i)
		switch l.Method {
		case planning.MethodEven:
		case planning.MethodProportional:
			if l.ReferenceVersionID == nil && len(l.Weights) == 0 {
				v.Add(f+".method", "proportional needs reference_version_id or weights")
			}
		case planning.MethodManual:
			if len(l.Manual) == 0 {
				v.Add(f+".manual", "manual needs amounts")
			}
		default:
			v.Add(f+".method", "must be even, proportional or manual")
		}
		if l.Buffer.IsNegative() {
			v.Add(f+".buffer", "must not be negative")
		}
		if l.ZeroWeights != "" && l.ZeroWeights != "even" && l.ZeroWeights != "fail" {
			v.Add(f+".zero_weights", "must be even or fail")
		}
		for id, w := range l.Weights {
			if w.IsNegative() {
				v.Add(fmt.Sprintf("%s.weights.%d", f, id), "must not be negative")
			}
		}
	}
	if req.Depth < 0 || req.Depth > planning.MaxOrgDepth {
		v.Add("depth", "must be between 0 (down to the leaves) and %d", planning.MaxOrgDepth)
	}
	switch req.Phasing.Method {
	case "", planning.PhaseEven:
		req.Phasing.Method = planning.PhaseEven
	case planning.PhaseProfile:
		if req.Phasing.ProfileID == nil {
			v.Add("phasing.profile", "is required for profile phasing")
		}
	case planning.PhaseReference:
		if req.Phasing.ReferenceVersionID == nil {
			v.Add("phasing.reference_version_id", "is required for reference phasing")
		}
	default:
		v.Add("phasing.method", "must be even, profile or reference")
	}
	return v.Err()
}
