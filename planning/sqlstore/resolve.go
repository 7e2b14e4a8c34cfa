package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// resolve turns an allocation request into a plan: it reads the subtree
// below the root, checks every key the request names, and gathers the
// weights, locks and phasing the engine needs.
func (s *TargetService) resolve(ctx context.Context, idb bun.IDB, a *planning.Actor, r *planning.Round, req *planning.AllocationRequest) (*planning.AllocationInputs, error) {
	root := new(orgUnitRow)
	if err := idb.NewSelect().Model(root).Where("id = ?", req.RootID).Scan(ctx); err != nil || !a.CanSeeOrgPath(root.Path) {
		return nil, fieldErr(planning.EINVALID, "root", "no such org unit")
	}
	if !root.Active {
		return nil, fieldErr(planning.EINVALID, "root", "org unit %s is inactive", root.Code)
	}
	lineIDs := make([]int64, len(req.Targets))
	for i, t := range req.Targets {
		lineIDs[i] = t.ProductLineID
	}
	w, err := s.db.newWriteChecker(ctx, idb, a, r, nil, lineIDs)
	if err != nil {
		return nil, err
	}
	var val planning.Validation
	m := w.checkMeasure(&val, "measure", req.MeasureID)
	if m != nil && m.Aggregation != string(planning.AggSum) {
		val.Add("measure", "%s is a %s measure: only amounts that add up (aggregation sum) are cascaded; set rates, scores and ratings per unit with PUT /versions/{id}/targets", m.Code, m.Aggregation)
	}
	if err := val.Err(); err != nil {
		return nil, err
	}
	p := &planning.AllocationInputs{Scale: m.Scale, MeasureID: m.ID}
	for i, t := range req.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		if err := w.checkLine(&val, f+".product_line", t.ProductLineID); err != nil {
			return nil, err
		}
		checkAmount(&val, f+".amount", t.Amount, m.Scale)
		code := ""
		if pl := w.lines[t.ProductLineID]; pl != nil {
			code = pl.Code
		}
		p.Lines = append(p.Lines, planning.AllocationLineInputs{ProductLineID: t.ProductLineID, Code: code, Amount: t.Amount.StringFixed(m.Scale)})
	}
	if err := val.Err(); err != nil {
		return nil, err
	}

	// The subtree, parents before children (a path sorts after its prefix).
	var units []orgUnitRow
	if err := idb.NewSelect().Model(&units).Column("id", "code", "parent_id", "path").
		Where("path LIKE ? AND active", root.Path+"%").OrderExpr("path").Scan(ctx); err != nil {
		return nil, err
	}
	rootDepth := strings.Count(root.Path, "/") - 1
	pos := map[int64]int{}
	locked := map[int64]bool{}
	for _, id := range req.Locks {
		locked[id] = true
	}
	depthOf := []int{}
	for _, u := range units {
		d := strings.Count(u.Path, "/") - 1 - rootDepth
		if req.Depth > 0 && d > req.Depth {
			continue
		}
		parent := -1
		if d > 0 {
			pi, ok := pos[*u.ParentID]
			if !ok || locked[*u.ParentID] {
				continue // below a locked unit, or below the depth: untouched
			}
			parent = pi
		}
		pos[u.ID] = len(p.Keys)
		p.Keys = append(p.Keys, u.Code)
		p.IDs = append(p.IDs, u.ID)
		p.Parents = append(p.Parents, parent)
		depthOf = append(depthOf, d)
	}
	if cells, limit := int64(len(p.Keys))*int64(len(p.Lines))*12, req.CellLimit(); cells > limit {
		return nil, planning.Errorf(planning.ETOOLARGE, "the allocation would write %d cells; at most %d per run", cells, limit)
	}
	maxDepth := 0
	for _, d := range depthOf {
		maxDepth = max(maxDepth, d)
	}
	for d := 0; d < max(maxDepth, 1); d++ {
		spec := req.Levels[min(d, len(req.Levels)-1)]
		p.Levels = append(p.Levels, planning.AllocationLevelInputs{Method: string(spec.Method), Buffer: spec.Buffer.String(), ZeroWeights: spec.ZeroWeights})
	}
	for i := range p.Lines {
		p.Lines[i].Weights, p.Lines[i].Manual = map[int]string{}, map[int]string{}
	}
	for d := 0; d < maxDepth; d++ {
		spec := req.Levels[min(d, len(req.Levels)-1)]
		if err := s.levelInputs(ctx, idb, p, depthOf, d, &spec, fmt.Sprintf("levels[%d]", min(d, len(req.Levels)-1))); err != nil {
			return nil, err
		}
	}
	if err := s.lockInputs(ctx, idb, p, req, pos); err != nil {
		return nil, err
	}
	return p, s.phasingInputs(ctx, idb, p, req)
}

// levelInputs fills the weights and manual amounts of the children of the
// nodes at depth d.
func (s *TargetService) levelInputs(ctx context.Context, idb bun.IDB, p *planning.AllocationInputs, depthOf []int, d int, spec *planning.LevelSpec, field string) error {
	var ref map[[2]int64]decimal.Decimal
	if spec.Method == planning.MethodProportional && spec.ReferenceVersionID != nil {
		var err error
		if ref, err = s.yearSums(ctx, idb, *spec.ReferenceVersionID, p); err != nil {
			return err
		}
	}
	var val planning.Validation
	for i, id := range p.IDs {
		if depthOf[i] != d+1 {
			continue
		}
		for li := range p.Lines {
			l := &p.Lines[li]
			switch spec.Method {
			case planning.MethodProportional:
				if ref != nil {
					if w, ok := ref[[2]int64{id, l.ProductLineID}]; ok {
						l.Weights[i] = w.String()
					}
				} else if w, ok := spec.Weights[id]; ok {
					l.Weights[i] = w.String()
				}
			case planning.MethodManual:
				if amt, ok := spec.Manual[id]; ok {
					checkAmount(&val, fmt.Sprintf("%s.manual.%d", field, id), amt, p.Scale)
					l.Manual[i] = amt.String()
				}
			}
		}
	}
	return val.Err()
}

// yearSums returns each org unit's year amount per product line in a
// reference version, for the plan's lines and measure.
func (s *TargetService) yearSums(ctx context.Context, idb bun.IDB, versionID int64, p *planning.AllocationInputs) (map[[2]int64]decimal.Decimal, error) {
	if _, err := s.db.loadVersion(ctx, idb, versionID); err != nil {
		return nil, fieldErr(planning.EINVALID, "reference_version_id", "no such version")
	}
	lines := make([]int64, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = l.ProductLineID
	}
	var rows []struct {
		OrgUnitID     int64  `bun:"org_unit_id"`
		ProductLineID int64  `bun:"product_line_id"`
		Sum           string `bun:"total"`
	}
	from, args, err := s.db.cellsOf(ctx, idb, versionID, "c")
	if err != nil {
		return nil, err
	}
	err = idb.NewRaw("SELECT org_unit_id, product_line_id, SUM("+s.db.minorUnits("amount")+") AS total FROM "+from+
		" WHERE version_id = ? AND measure_id = ? AND product_line_id IN (?) GROUP BY org_unit_id, product_line_id",
		append(args, versionID, p.MeasureID, bun.In(lines))...).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]int64]decimal.Decimal, len(rows))
	for _, r := range rows {
		d, err := s.db.fromMinor(r.Sum, p.Scale)
		if err != nil {
			return nil, err
		}
		// A loss-making history weighs by its size, so a plan of losses
		// is split like the losses were.
		out[[2]int64{r.OrgUnitID, r.ProductLineID}] = d.Abs()
	}
	return out, nil
}

// lockInputs records the current year and months of every locked unit.
func (s *TargetService) lockInputs(ctx context.Context, idb bun.IDB, p *planning.AllocationInputs, req *planning.AllocationRequest, pos map[int64]int) error {
	if len(req.Locks) == 0 {
		return nil
	}
	var val planning.Validation
	for i, id := range req.Locks {
		if idx, ok := pos[id]; !ok || idx == 0 {
			val.Add(fmt.Sprintf("locks[%d]", i), "must be an org unit below the root")
		}
	}
	if err := val.Err(); err != nil {
		return err
	}
	lines := make([]int64, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = l.ProductLineID
	}
	from, fromArgs, err := s.db.cellsOf(ctx, idb, req.VersionID, "c")
	if err != nil {
		return err
	}
	var cells []cellRow
	if err := idb.NewSelect().TableExpr(from, fromArgs...).Column("org_unit_id", "product_line_id", "period", "amount").
		Where("version_id = ? AND measure_id = ? AND product_line_id IN (?) AND org_unit_id IN (?)",
			req.VersionID, p.MeasureID, bun.In(lines), bun.In(req.Locks)).Scan(ctx, &cells); err != nil {
		return err
	}
	cur := map[[2]int64]*[12]decimal.Decimal{}
	for _, c := range cells {
		k := [2]int64{c.OrgUnitID, c.ProductLineID}
		if cur[k] == nil {
			cur[k] = &[12]decimal.Decimal{}
		}
		d, err := decimal.NewFromString(c.Amount)
		if err != nil {
			return err
		}
		cur[k][c.Period-1] = d
	}
	for li := range p.Lines {
		l := &p.Lines[li]
		l.Locks = map[int][]string{}
		for _, id := range req.Locks {
			months := cur[[2]int64{id, l.ProductLineID}]
			if months == nil {
				months = &[12]decimal.Decimal{}
			}
			year := decimal.Zero
			vals := make([]string, 13)
			for m, x := range months {
				year = year.Add(x)
				vals[m+1] = x.StringFixed(p.Scale)
			}
			vals[0] = year.StringFixed(p.Scale)
			l.Locks[pos[id]] = vals
		}
	}
	return nil
}

// phasingInputs resolves the seasonality profile or the reference months.
func (s *TargetService) phasingInputs(ctx context.Context, idb bun.IDB, p *planning.AllocationInputs, req *planning.AllocationRequest) error {
	p.Phasing = &planning.AllocationPhasing{Method: string(req.Phasing.Method)}
	switch req.Phasing.Method {
	case planning.PhaseProfile:
		row := new(seasonalityRow)
		if err := idb.NewSelect().Model(row).Where("id = ?", *req.Phasing.ProfileID).Scan(ctx); err != nil {
			return fieldErr(planning.EINVALID, "phasing.profile", "no such seasonality profile")
		}
		prof, err := row.toDomain()
		if err != nil {
			return err
		}
		for _, w := range prof.Weights {
			p.Phasing.Weights = append(p.Phasing.Weights, w.String())
		}
	case planning.PhaseReference:
		if _, err := s.db.loadVersion(ctx, idb, *req.Phasing.ReferenceVersionID); err != nil {
			return fieldErr(planning.EINVALID, "phasing.reference_version_id", "no such version")
		}
		lines := make([]int64, len(p.Lines))
		for i, l := range p.Lines {
			lines[i] = l.ProductLineID
		}
		from, fromArgs, err := s.db.cellsOf(ctx, idb, *req.Phasing.ReferenceVersionID, "c")
		if err != nil {
			return err
		}
		var cells []cellRow
		if err := idb.NewSelect().TableExpr(from, fromArgs...).Column("product_line_id", "period", "amount").
			Where("version_id = ? AND measure_id = ? AND org_unit_id = ? AND product_line_id IN (?)",
				*req.Phasing.ReferenceVersionID, p.MeasureID, p.IDs[0], bun.In(lines)).Scan(ctx, &cells); err != nil {
			return err
		}
		for li := range p.Lines {
			months := make([]string, 12)
			for m := range months {
				months[m] = "0"
			}
			for _, c := range cells {
				if c.ProductLineID == p.Lines[li].ProductLineID {
					d, err := decimal.NewFromString(c.Amount)
					if err != nil {
						return err
					}
					months[c.Period-1] = d.Abs().String()
				}
			}
			p.Lines[li].RootMonths = months
		}
	}
	return nil
}
