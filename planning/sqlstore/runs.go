package sqlstore

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/allocation"
	"github.com/cascade-planning/cascade/planning"
)

func (r *runRow) toDomain() (*planning.AllocationRun, error) {
	var req requestJSON
	if err := json.Unmarshal([]byte(r.Request), &req); err != nil {
		return nil, planning.Errorf(planning.EINTERNAL, "allocation run %d is corrupt", r.ID)
	}
	return &planning.AllocationRun{ID: r.ID, VersionID: r.VersionID, Request: req.toDomain(), CellCount: r.CellCount,
		Checksum: r.Checksum, ActorID: r.ActorID, At: r.At.UTC()}, nil
}

// FindAllocationRuns implements planning.TargetService.
func (s *TargetService) FindAllocationRuns(ctx context.Context, versionID int64, page planning.PageRequest) ([]*planning.AllocationRun, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := page.Validate(); err != nil {
		return nil, "", err
	}
	if _, err := s.db.loadVersion(ctx, s.db.bun, versionID); err != nil {
		return nil, "", err
	}
	var rows []runRow
	q := s.db.bun.NewSelect().Model(&rows).ExcludeColumn("inputs").Where("version_id = ?", versionID).
		OrderExpr("id DESC").Limit(fetchLimit(page))
	if after, err := idCursor(page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, page, func(r *runRow) string { return itoa(r.ID) })
	out := make([]*planning.AllocationRun, 0, len(rows))
	for i := range rows {
		run, err := rows[i].toDomain()
		if err != nil {
			return nil, "", err
		}
		out = append(out, run)
	}
	// Runs whose subtree holds nothing of the caller's scope are not
	// listed; the others show what the scope allows.
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, "", err
	}
	if !sc.All() {
		roots := make([]int64, len(out))
		for i, run := range out {
			roots[i] = run.Request.RootID
		}
		paths, err := s.unitPaths(ctx, roots)
		if err != nil {
			return nil, "", err
		}
		out = slices.DeleteFunc(out, func(run *planning.AllocationRun) bool { return !sc.Touches(paths[run.Request.RootID]) })
		for _, run := range out {
			sc.RedactAllocationRun(run)
		}
	}
	return out, next, nil
}

// FindAllocationRunByID implements planning.TargetService.
func (s *TargetService) FindAllocationRunByID(ctx context.Context, id int64, explainUnder *int64) (*planning.AllocationRun, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	row := new(runRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(row).Where("id = ?", id), "allocation run", id); err != nil {
		return nil, err
	}
	run, err := row.toDomain()
	if err != nil {
		return nil, err
	}
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, err
	}
	if !sc.All() {
		// A run that holds nothing of the caller's scope does not exist
		// for them.
		paths, err := s.unitPaths(ctx, []int64{run.Request.RootID})
		if err != nil {
			return nil, err
		}
		if !sc.Touches(paths[run.Request.RootID]) {
			return nil, notFound("allocation run", id)
		}
	}
	p, err := decodePlan(row.Inputs)
	if err != nil {
		return nil, planning.Errorf(planning.EINTERNAL, "allocation run %d has corrupt inputs", id)
	}
	results, err := p.run()
	if err != nil {
		return nil, err
	}
	run.Replayed = checksum(p, results) == row.Checksum
	under := 0
	if explainUnder != nil {
		found := false
		for i, uid := range p.IDs {
			if uid == *explainUnder {
				under, found = i, true
			}
		}
		if !found {
			return nil, fieldErr(planning.EINVALID, "org_unit", "org unit %d is not part of this allocation", *explainUnder)
		}
	}
	for li, r := range results {
		for i := range p.IDs {
			if p.Parents[i] != under || !sc.VisibleOrgUnit(p.IDs[i]) {
				continue
			}
			ex, err := r.Explain(p.Keys[i])
			if err != nil {
				return nil, err
			}
			run.Explanation = append(run.Explanation, explanationOf(ex, p.IDs[i], p.Lines[li].ProductLineID))
		}
	}
	sc.RedactAllocationRun(run)
	return run, nil
}

func (s *TargetService) unitPaths(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	for _, chunk := range chunks(ids, 1000) {
		var rows []orgUnitRow
		if err := s.db.bun.NewSelect().Model(&rows).Column("id", "path").Where("id IN (?)", bun.In(chunk)).Scan(ctx); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.Path
		}
	}
	return out, nil
}

func explanationOf(ex *allocation.NodeExplanation, unitID, lineID int64) planning.NodeExplanation {
	y := ex.Year
	out := planning.NodeExplanation{OrgUnitID: unitID, ProductLineID: lineID, Amount: y.Amount.Decimal(), Basis: string(y.Basis),
		Quota: y.Quota, Floor: y.Floor.Decimal(), Rule: string(y.Rule), Rank: y.Rank, Of: y.Of, TieByKey: y.TieByKey, Reason: y.Reason}
	for _, m := range ex.Months {
		out.Months = append(out.Months, planning.MonthExplanation{Period: m.Month, Amount: m.Amount.Decimal(), Basis: string(m.Basis),
			Quota: m.Quota, Rule: string(m.Rule), Reason: m.Reason})
	}
	return out
}
