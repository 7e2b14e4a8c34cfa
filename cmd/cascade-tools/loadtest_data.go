package main

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// loadData is the load test's data set: the benchmark's organisation and
// product lines, and the simulated users with their tokens.
type loadData struct {
	*benchData
	Measure  string
	Branches []string // every branch; each has a key-account and a channel team
	PMs      []loadPM
	BMs      []loadUser
	Readers  []loadUser
	// Initial is each product line's amount of the allocation made before
	// the load starts.
	Initial map[string]string
}

// loadUser is one simulated user.
type loadUser struct {
	Name   string
	Token  string
	Branch string // a branch manager's branch
}

// loadPM is a product manager. Its product lines are split in two, so that
// every cell has one writer and the last acknowledged value of every cell
// is known: AllocLines are only ever re-allocated from the company down,
// EditLines only edited, by moving an amount between a branch's two teams
// in one month (which keeps every parent's sum).
type loadPM struct {
	loadUser
	AllocLines []string
	EditLines  []string
}

// buildLoadData fills the empty database of cfg through the services: a
// tree of cfg.Units org units, two product lines per product manager, one
// user and token per simulated user (a fifth product managers, two fifths
// branch managers, the rest auditors), an allocation of every line, and the
// round in its counterproposal phase.
func buildLoadData(ctx context.Context, cfg loadConfig) (*loadData, error) {
	db, err := sqlstore.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	svcs := sqlstore.NewServices(db)
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	if units, _, err := svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 1}}); err != nil {
		return nil, err
	} else if len(units) > 0 {
		return nil, fmt.Errorf("the database is not empty: the load test fills an empty one (or use --fresh)")
	}

	pms := max(1, cfg.Users/5)
	bms := max(1, cfg.Users*2/5)
	readers := cfg.Users - pms - bms
	bd, err := buildBenchData(ctx, svcs, cfg.Units, 2*pms, 1)
	if err != nil {
		return nil, err
	}
	d := &loadData{benchData: bd, Measure: bd.Measures[0].Code, Initial: map[string]string{}}
	unitIDs, err := codeIDs(ctx, svcs)
	if err != nil {
		return nil, err
	}
	for _, u := range bd.Units {
		if u.Kind == planning.KindBranch {
			d.Branches = append(d.Branches, u.Code)
		}
	}
	lines, _, err := svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{Page: planning.PageRequest{Limit: 1000}})
	if err != nil {
		return nil, err
	}
	lineIDs := map[string]int64{}
	for _, l := range lines {
		lineIDs[l.Code] = l.ID
	}

	for i := range pms {
		pm := loadPM{loadUser: loadUser{Name: fmt.Sprintf("load-pm-%02d", i+1)}}
		u, err := benchUser(ctx, svcs, pm.Name, planning.RoleProductManager, nil, &pm.Token)
		if err != nil {
			return nil, err
		}
		pm.AllocLines = []string{bd.LineCodes[2*i]}
		pm.EditLines = []string{bd.LineCodes[2*i+1]}
		for _, code := range append(pm.AllocLines, pm.EditLines...) {
			if _, err := svcs.ProductLines.UpdateProductLine(ctx, lineIDs[code], planning.ProductLineUpdate{OwnerID: &u.ID}); err != nil {
				return nil, fmt.Errorf("owner of %s: %w", code, err)
			}
		}
		d.PMs = append(d.PMs, pm)
	}
	for i := range bms {
		bm := loadUser{Name: fmt.Sprintf("load-bm-%02d", i+1), Branch: d.Branches[i%len(d.Branches)]}
		scope := unitIDs[bm.Branch]
		if _, err := benchUser(ctx, svcs, bm.Name, planning.RoleBranchManager, &scope, &bm.Token); err != nil {
			return nil, err
		}
		d.BMs = append(d.BMs, bm)
	}
	for i := range readers {
		r := loadUser{Name: fmt.Sprintf("load-auditor-%02d", i+1)}
		if _, err := benchUser(ctx, svcs, r.Name, planning.RoleAuditor, nil, &r.Token); err != nil {
			return nil, err
		}
		d.Readers = append(d.Readers, r)
	}

	req := planning.AllocationRequest{VersionID: bd.VersionID, MeasureID: bd.Measures[0].ID, RootID: unitIDs[bd.CompanyCode],
		Levels: []planning.LevelSpec{{Method: planning.MethodEven}}, Phasing: planning.Phasing{Method: planning.PhaseEven}}
	for i, code := range bd.LineCodes {
		amount := fmt.Sprintf("%d.00", 100_000_000+i*1_000_003)
		d.Initial[code] = amount
		req.Targets = append(req.Targets, planning.AllocationTarget{ProductLineID: lineIDs[code], Amount: decimal.RequireFromString(amount)})
	}
	if _, err := svcs.Targets.Allocate(ctx, req); err != nil {
		return nil, fmt.Errorf("initial allocation: %w", err)
	}
	if _, err := svcs.Rounds.TransitionRound(ctx, bd.RoundID, planning.RoundCounterproposals, "load test", nil); err != nil {
		return nil, err
	}
	return d, nil
}

// codeIDs maps every org unit's code to its id.
func codeIDs(ctx context.Context, svcs planning.Services) (map[string]int64, error) {
	out := map[string]int64{}
	for u, err := range planning.AllPages(func(page planning.PageRequest) ([]*planning.OrgUnit, string, error) {
		return svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: page})
	}) {
		if err != nil {
			return nil, err
		}
		out[u.Code] = u.ID
	}
	return out, nil
}
