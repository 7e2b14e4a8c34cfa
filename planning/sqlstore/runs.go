package sqlstore

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/uptrace/bun"

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
	v, err := s.db.loadVersion(ctx, s.db.bun, versionID)
	if err != nil {
		return nil, "", err
	}
	var rows []runRow
	q := s.db.bun.NewSelect().Model(&rows).ExcludeColumn("inputs").Where("round_id = ? AND version_id = ?", v.RoundID, versionID).
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
	p, err := planning.DecodeAllocationInputs(row.Inputs)
	if err != nil {
		return nil, planning.Errorf(planning.EINTERNAL, "allocation run %d has corrupt inputs", id)
	}
	replay, err := p.Run()
	if err != nil {
		return nil, err
	}
	run.Replayed = replay.Checksum() == row.Checksum
	if run.Explanation, err = replay.Explain(explainUnder, sc.VisibleOrgUnit); err != nil {
		return nil, err
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
