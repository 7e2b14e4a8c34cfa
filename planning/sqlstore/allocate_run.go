package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type runRow struct {
	bun.BaseModel `bun:"table:allocation_runs"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	RoundID       int64     `bun:"round_id" json:"round_id"`
	VersionID     int64     `bun:"version_id" json:"version_id"`
	Request       string    `bun:"request" json:"request"`
	CellCount     int64     `bun:"cell_count" json:"cell_count"`
	Checksum      string    `bun:"checksum" json:"checksum"`
	Inputs        []byte    `bun:"inputs" json:"-"`
	ActorID       *int64    `bun:"actor_id" json:"actor_id"`
	At            time.Time `bun:"at" json:"at"`
}

var (
	validateAllocation = planning.ValidateAllocation
	allocationError    = planning.AllocationError
)

// Allocate implements planning.TargetService. A dry run reads the database
// as it is; a real run holds the version in a transaction. Both take the
// one path of planning.RunAllocation.
func (s *TargetService) Allocate(ctx context.Context, req planning.AllocationRequest) (*planning.AllocationResult, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayAllocate(); err != nil {
		return nil, err
	}
	// The checks answer in one order: the version (404), then the
	// request (422), then the version's state (409, 412).
	invalid := req.Invalid
	if invalid == nil {
		invalid = validateAllocation(&req)
	}
	if req.DryRun {
		v, err := s.db.loadVersion(ctx, s.db.bun, req.VersionID)
		if err != nil {
			return nil, err
		}
		if invalid != nil {
			return nil, invalid
		}
		_, r, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
		if err != nil {
			return nil, err
		}
		return planning.RunAllocation(ctx, &allocStore{s: s, idb: s.db.bun}, a, r, &req, s.db.Now())
	}
	var out *planning.AllocationResult
	err = s.db.inConnTx(ctx, func(conn bun.Conn, tx bun.Tx) error {
		v, r, err := s.db.lockWorkingVersion(ctx, tx, req.VersionID, req.IfMatch)
		if planning.ErrorCode(err) == planning.ENOTFOUND {
			return err
		}
		if invalid != nil {
			return invalid
		}
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
// claimed with lockWorkingVersion. Counterproposal decisions reuse it to
// rebalance.
func (s *TargetService) allocateIn(ctx context.Context, conn bun.Conn, tx bun.Tx, a *planning.Actor, v *versionRow, r *planning.Round,
	req *planning.AllocationRequest) (*planning.AllocationResult, error) {
	req.VersionID, req.DryRun = v.ID, false
	return planning.RunAllocation(ctx, &allocStore{s: s, idb: tx, conn: conn, tx: tx, version: v}, a, r, req, s.db.Now())
}

// allocStore is planning.AllocationStore on the database (a dry run) or
// inside the transaction that holds the version (a real run).
type allocStore struct {
	s       *TargetService
	idb     bun.IDB
	conn    bun.Conn
	tx      bun.Tx
	version *versionRow // the locked version; nil on a dry run
}

func (st *allocStore) LoadAllocationInputs(ctx context.Context, a *planning.Actor, r *planning.Round, req *planning.AllocationRequest) (*planning.AllocationInputs, error) {
	return st.s.resolve(ctx, st.idb, a, r, req)
}

func (st *allocStore) ReplaceCells(ctx context.Context, versionID int64, in *planning.AllocationInputs, cells planning.CellStream) (int64, error) {
	v := st.version
	if v == nil || v.ID != versionID {
		return 0, planning.Errorf(planning.EINTERNAL, "version %d is not held for writing", versionID)
	}
	db := st.s.db
	deleted, err := db.clearAllocated(ctx, st.tx, v.ID, in)
	if err != nil {
		return 0, err
	}
	written, err := db.writeCells(ctx, st.conn, st.tx, v.ID, in.MeasureID, cells)
	if err != nil {
		return 0, err
	}
	// An allocation that wrote every cell of its region (every unit, line
	// and month; the engine writes zeros too) left no cell of the base
	// there to hide.
	if written != int64(len(in.WrittenUnits())*len(in.LineIDs())*12) {
		if err := db.hideAllocated(ctx, st.tx, v.ID, in); err != nil {
			return 0, err
		}
	}
	if err := db.writeBuffers(ctx, st.tx, v, in); err != nil {
		return 0, err
	}
	v.CellCount += written - deleted
	if _, err := st.tx.NewUpdate().Model(v).Column("cell_count").WherePK().Exec(ctx); err != nil {
		return 0, err
	}
	return written, nil
}

func (st *allocStore) RecordRun(ctx context.Context, r *planning.Round, run *planning.AllocationRun, in *planning.AllocationInputs) error {
	reqJSON, _ := json.Marshal(requestRecord(&run.Request))
	inputs, err := planning.EncodeAllocationInputs(in)
	if err != nil {
		return err
	}
	row := &runRow{RoundID: r.ID, VersionID: run.VersionID, Request: string(reqJSON), CellCount: run.CellCount, Checksum: run.Checksum,
		Inputs: inputs, ActorID: run.ActorID, At: run.At}
	if _, err := st.tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return err
	}
	run.ID = row.ID
	// The audit event names the run; the run holds the cells' inputs and
	// checksum, so a million cells are not written twice.
	_, err = st.s.db.writeAuditIn(ctx, st.tx, auditScope{RoundID: r.ID, VersionID: run.VersionID}, "targets.allocate", "version", run.VersionID, nil,
		map[string]any{"allocation_run_id": row.ID, "cells": run.CellCount, "checksum": run.Checksum})
	return err
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
