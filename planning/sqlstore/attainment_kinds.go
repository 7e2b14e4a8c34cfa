package sqlstore

import (
	"context"
	"slices"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// measureKinds returns the measures ids name, as the domain sees them.
func (db *DB) measureKinds(ctx context.Context, ids []int64) (map[int64]*planning.Measure, error) {
	out := map[int64]*planning.Measure{}
	if len(ids) == 0 {
		return out, nil
	}
	var ms []measureRow
	if err := db.bun.NewSelect().Model(&ms).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, db.mapError(err)
	}
	for i := range ms {
		out[ms[i].ID] = ms[i].toDomain()
	}
	return out, nil
}

// cellSeries gathers cell series: by the unit reported on, the product
// line and the measure, one series per source unit (the unit itself for
// targets; each leaf below it for actuals that roll up).
type cellSeries map[seriesKey]map[int64]*planning.Series

func (cs cellSeries) at(k seriesKey, src int64) *planning.Series {
	m := cs[k]
	if m == nil {
		m = map[int64]*planning.Series{}
		cs[k] = m
	}
	x := m[src]
	if x == nil {
		x = &planning.Series{}
		m[src] = x
	}
	return x
}

// weigh sets the weights of every weighted average's series from the
// weight measure's series of the same unit, line and source unit.
func (cs cellSeries) weigh(kinds map[int64]*planning.Measure) {
	for k, bySrc := range cs {
		m := kinds[k.measure]
		if m == nil || m.Agg() != planning.AggWeightedAverage || m.WeightMeasureID == nil {
			continue
		}
		wk := k
		wk.measure = *m.WeightMeasureID
		for src, x := range bySrc {
			if w := cs[wk][src]; w != nil {
				x.Weight = w.Value
			}
		}
	}
}

// scanSeries reads rows of (unit, source unit, line, measure, period or
// month, amount) into cs; month turns a month label into a period.
func (db *DB) scanSeries(ctx context.Context, q string, args []any, cs cellSeries, period func(string) int) error {
	rows, err := db.bun.QueryContext(ctx, q, args...)
	if err != nil {
		return db.mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k seriesKey
		var src int64
		var when, amount string
		if err := rows.Scan(&k.unit, &src, &k.line, &k.measure, &when, &amount); err != nil {
			return err
		}
		p := period(when)
		if p < 1 || p > 12 {
			continue
		}
		d, err := decimal.NewFromString(amount)
		if err != nil {
			return err
		}
		cs.at(k, src).Set(p, d)
	}
	return db.mapError(rows.Err())
}

// attainOthers computes the attainment sums of measures that do not add up
// (q.measures), each by its aggregation rule, into sums (per product line)
// and totals (over the product lines, ProductLineID 0).
//
// Targets are each unit's own cells. Actuals of weighted averages and last
// values roll up from the leaves below the unit, each leaf a series of its
// own; actuals of measures that are not aggregated are the unit's own.
// A weighted average's weights are the weight measure's cells of the same
// unit (or leaf), line and month, read alongside.
func (s *AttainmentService) attainOthers(ctx context.Context, a *planning.Actor, q attainmentQuery, r *planning.Round,
	rep *planning.AttainmentReport, kinds map[int64]*planning.Measure, sums, totals map[seriesKey]*seriesSums) error {
	wq := q
	wq.measures = slices.Clone(q.measures)
	var rolled, own []int64
	for _, id := range q.measures {
		m := kinds[id]
		if m.WeightMeasureID != nil {
			wq.measures = append(wq.measures, *m.WeightMeasureID)
		}
		if m.Agg().RollsUp() {
			rolled = append(rolled, id)
			if m.WeightMeasureID != nil {
				rolled = append(rolled, *m.WeightMeasureID)
			}
		} else {
			own = append(own, id)
		}
	}
	var extra []int64
	for _, id := range wq.measures {
		if _, ok := kinds[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(extra) > 0 {
		more, err := s.db.measureKinds(ctx, extra)
		if err != nil {
			return err
		}
		for id, m := range more {
			kinds[id] = m
		}
	}

	targets, actuals := cellSeries{}, cellSeries{}
	where, args, err := s.db.orgSetSQL(ctx, a, q.orgUnitID, q.subtree, "ou")
	if err != nil {
		return err
	}
	cells, cellArgs, err := s.db.cellsOf(ctx, s.db.bun, rep.VersionID, "c")
	if err != nil {
		return err
	}
	tq := `SELECT c.org_unit_id, c.org_unit_id, c.product_line_id, c.measure_id, CAST(c.period AS text), CAST(c.amount AS text)
		FROM ` + cells + ` JOIN org_units AS ou ON ou.id = c.org_unit_id
		WHERE c.version_id = ? AND ` + where + s.db.seriesFilter("c", "ou", wq, &args)
	if err := s.db.scanSeries(ctx, tq, append(append(cellArgs, rep.VersionID), args...), targets, func(p string) int {
		var n int
		for _, c := range p {
			n = n*10 + int(c-'0')
		}
		return n
	}); err != nil {
		return err
	}
	month := func(m string) int {
		p, err := r.PeriodOf(m)
		if err != nil {
			return 0
		}
		return p
	}
	from, to := r.MonthLabel(1), r.MonthLabel(q.period)
	if len(rolled) > 0 {
		rq := q
		rq.measures = rolled
		where, args, err := s.db.orgSetSQL(ctx, a, q.orgUnitID, q.subtree, "anc")
		if err != nil {
			return err
		}
		aq := ancestorCTE + `SELECT anc.id, a.org_unit_id, a.product_line_id, a.measure_id, a.month, CAST(a.amount AS text)` + ancestorJoin + `
			WHERE a.month BETWEEN ? AND ? AND ` + where + s.db.seriesFilter("a", "anc", rq, &args)
		if err := s.db.scanSeries(ctx, aq, append([]any{from, to}, args...), actuals, month); err != nil {
			return err
		}
	}
	if len(own) > 0 {
		oq := q
		oq.measures = own
		where, args, err := s.db.orgSetSQL(ctx, a, q.orgUnitID, q.subtree, "anc")
		if err != nil {
			return err
		}
		aq := `SELECT a.org_unit_id, a.org_unit_id, a.product_line_id, a.measure_id, a.month, CAST(a.amount AS text)
			FROM actuals AS a JOIN org_units AS anc ON anc.id = a.org_unit_id
			WHERE a.month BETWEEN ? AND ? AND ` + where + s.db.seriesFilter("a", "anc", oq, &args)
		if err := s.db.scanSeries(ctx, aq, append([]any{from, to}, args...), actuals, month); err != nil {
			return err
		}
	}
	targets.weigh(kinds)
	actuals.weigh(kinds)

	// Every (unit, line, measure) with a target or an actual, and its
	// total over the lines.
	type group struct{ t, a []*planning.Series }
	lines, tots := map[seriesKey]*group{}, map[seriesKey]*group{}
	add := func(cs cellSeries, actual bool) {
		for k, bySrc := range cs {
			if !slices.Contains(q.measures, k.measure) {
				continue // a weight, read for its measure
			}
			for _, at := range []struct {
				g   map[seriesKey]*group
				key seriesKey
			}{{lines, k}, {tots, seriesKey{unit: k.unit, measure: k.measure}}} {
				x := at.g[at.key]
				if x == nil {
					x = &group{}
					at.g[at.key] = x
				}
				for _, ser := range bySrc {
					if actual {
						x.a = append(x.a, ser)
					} else {
						x.t = append(x.t, ser)
					}
				}
			}
		}
	}
	add(targets, false)
	add(actuals, true)
	compute := func(out map[seriesKey]*seriesSums, gs map[seriesKey]*group) {
		for k, g := range gs {
			m := kinds[k.measure]
			agg, scale := m.Agg(), m.Scale
			var x seriesSums
			var ok [4]bool
			x.target, ok[0] = agg.Aggregate(g.t, rep.TargetFrom, rep.TargetTo, scale)
			x.yearTarget, ok[1] = agg.Aggregate(g.t, 1, 12, scale)
			x.actual, ok[2] = agg.Aggregate(g.a, rep.ActualFrom, rep.ActualTo, scale)
			x.ytd, ok[3] = agg.Aggregate(g.a, 1, q.period, scale)
			if ok[0] || ok[1] || ok[2] || ok[3] {
				out[k] = &x
			}
		}
	}
	compute(sums, lines)
	compute(totals, tots)
	return nil
}
