package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// rollupKinds recomputes, by each measure's aggregation rule, the
// quarters, year and total of the grid rows whose measure does not add up
// (buildGrid sums them all). rows[i] was built from series[i]. A weighted
// average reads its weight measure's cells of the same unit and line; a
// period without a value by the rule is marked absent (not zero).
func (db *DB) rollupKinds(ctx context.Context, v *versionRow, series []cellRow, rows []planning.GridRow, grain planning.Grain, from, to int) error {
	// The grid query told each series' rule: a page of sums (the usual
	// one) needs no further query.
	var ids []int64
	for i := range rows {
		if series[i].Kind != 0 {
			ids = append(ids, rows[i].MeasureID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var others []measureRow
	if err := db.bun.NewSelect().Model(&others).Where("id IN (?) AND aggregation <> 'sum'", bun.In(uniq(ids))).Scan(ctx); err != nil {
		return db.mapError(err)
	}
	if len(others) == 0 {
		return nil
	}
	kinds := map[int64]*planning.Measure{}
	for i := range others {
		kinds[others[i].ID] = others[i].toDomain()
	}
	// The weights: the weight measure's cells of each weighted row's unit
	// and line.
	type wkey struct{ unit, line, measure int64 }
	weights := map[wkey]*planning.Series{}
	var units, lines, wms []int64
	for i := range rows {
		if m := kinds[rows[i].MeasureID]; m != nil && m.WeightMeasureID != nil {
			units, lines, wms = append(units, rows[i].OrgUnitID), append(lines, rows[i].ProductLineID), append(wms, *m.WeightMeasureID)
		}
	}
	if len(units) > 0 {
		from_, fromArgs := cellsFrom(v, "c")
		q := `SELECT c.org_unit_id, c.org_unit_id, c.product_line_id, c.measure_id, CAST(c.period AS text), CAST(c.amount AS text)
			FROM ` + from_ + ` WHERE c.version_id = ? AND c.org_unit_id IN (?) AND c.product_line_id IN (?) AND c.measure_id IN (?)
			AND c.period BETWEEN ? AND ?`
		cs := cellSeries{}
		if err := db.scanSeries(ctx, q, append(fromArgs, v.ID, bun.In(uniq(units)), bun.In(uniq(lines)), bun.In(uniq(wms)), from, to), cs, func(p string) int {
			n, _ := strconv.Atoi(p)
			return n
		}); err != nil {
			return err
		}
		for k, bySrc := range cs {
			weights[wkey{k.unit, k.line, k.measure}] = bySrc[k.unit]
		}
	}
	for i := range rows {
		g := &rows[i]
		m := kinds[g.MeasureID]
		if m == nil {
			continue
		}
		var s planning.Series
		for rest := series[i].Amount; rest != ""; {
			var cell string
			cell, rest, _ = strings.Cut(rest, ",")
			period, amount, _ := strings.Cut(cell, ":")
			p, err := strconv.Atoi(period)
			if err != nil || p < 1 || p > 12 {
				return fmt.Errorf("grid cell %q", cell)
			}
			d, err := decimal.NewFromString(amount)
			if err != nil {
				return fmt.Errorf("cell amount %q: %w", amount, err)
			}
			s.Set(p, d)
		}
		if m.WeightMeasureID != nil {
			if w := weights[wkey{g.OrgUnitID, g.ProductLineID, *m.WeightMeasureID}]; w != nil {
				s.Weight = w.Value
			}
		}
		agg := m.Agg()
		span := func(a, b int) (decimal.Decimal, bool) {
			return agg.Aggregate([]*planning.Series{&s}, a, b, m.Scale)
		}
		var has bool
		g.Total, has = span(from, to)
		g.TotalAbsent = !has
		switch grain {
		case planning.GrainQuarter:
			for j := range g.Periods {
				q := (from-1)/3 + 1 + j
				g.Periods[j].Amount, has = span(max(from, q*3-2), min(to, q*3))
				g.Periods[j].Absent = !has
			}
		case planning.GrainYear:
			g.Periods[0].Amount, g.Periods[0].Absent = g.Total, g.TotalAbsent
		default:
			// A month without a cell holds no value; a month's own cell is
			// its value by every rule.
			for j := range g.Periods {
				g.Periods[j].Absent = !s.Has[from+j]
			}
		}
	}
	return nil
}
