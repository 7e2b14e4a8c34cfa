package sqlstore

import (
	"context"
	"slices"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// rollupActualKinds redoes, by each measure's aggregation rule, the months
// and total of the rows whose measure does not add up (FindActuals sums
// the leaves): a weighted average is Σ value × weight ÷ Σ weight over the
// leaves (per month, and over the months for the total), the weight being
// the weight measure's actual of the same leaf, line and month; a last
// value's total is each leaf's latest month, added up; a measure that is
// not aggregated shows the unit's own values only, and its total is the
// last month's. Rows left without a value are dropped.
func (s *ActualService) rollupActualKinds(ctx context.Context, out []planning.ActualRow, monthFrom, monthTo string) ([]planning.ActualRow, error) {
	var ids []int64
	for i := range out {
		ids = append(ids, out[i].MeasureID)
	}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []measureRow
	if err := s.db.bun.NewSelect().Model(&rows).Where("id IN (?) AND aggregation <> 'sum'", bun.In(uniq(ids))).Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	kinds := map[int64]*planning.Measure{}
	measures := []int64{}
	for i := range rows {
		m := rows[i].toDomain()
		kinds[m.ID] = m
		measures = append(measures, m.ID)
		if m.WeightMeasureID != nil {
			measures = append(measures, *m.WeightMeasureID)
		}
	}
	var units, lines []int64
	for i := range out {
		if kinds[out[i].MeasureID] != nil {
			units, lines = append(units, out[i].OrgUnitID), append(lines, out[i].ProductLineID)
		}
	}
	// Every leaf's value by (unit reported, line, measure) → leaf → month.
	type key struct{ unit, line, measure int64 }
	vals := map[key]map[int64]map[string]decimal.Decimal{}
	q := ancestorCTE + `SELECT anc.id, a.org_unit_id, a.product_line_id, a.measure_id, a.month, CAST(a.amount AS text)` + ancestorJoin + `
		WHERE anc.id IN (?) AND a.product_line_id IN (?) AND a.measure_id IN (?)`
	args := []any{bun.In(uniq(units)), bun.In(uniq(lines)), bun.In(uniq(measures))}
	if monthFrom != "" {
		q += " AND a.month >= ?"
		args = append(args, monthFrom)
	}
	if monthTo != "" {
		q += " AND a.month <= ?"
		args = append(args, monthTo)
	}
	rs, err := s.db.bun.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.db.mapError(err)
	}
	defer rs.Close()
	for rs.Next() {
		var k key
		var src int64
		var month, amount string
		if err := rs.Scan(&k.unit, &src, &k.line, &k.measure, &month, &amount); err != nil {
			return nil, err
		}
		d, err := decimal.NewFromString(amount)
		if err != nil {
			return nil, err
		}
		if vals[k] == nil {
			vals[k] = map[int64]map[string]decimal.Decimal{}
		}
		if vals[k][src] == nil {
			vals[k][src] = map[string]decimal.Decimal{}
		}
		vals[k][src][month] = d
	}
	if err := rs.Err(); err != nil {
		return nil, s.db.mapError(err)
	}

	kept := out[:0]
	for _, r := range out {
		m := kinds[r.MeasureID]
		if m == nil {
			kept = append(kept, r)
			continue
		}
		k := key{r.OrgUnitID, r.ProductLineID, r.MeasureID}
		bySrc := vals[k]
		var weights map[int64]map[string]decimal.Decimal
		if m.WeightMeasureID != nil {
			weights = vals[key{r.OrgUnitID, r.ProductLineID, *m.WeightMeasureID}]
		}
		var months []string
		for src, ms := range bySrc {
			if m.Agg() == planning.AggNone && src != r.OrgUnitID {
				continue
			}
			for month := range ms {
				months = append(months, month)
			}
		}
		slices.Sort(months)
		months = slices.Compact(months)
		if len(months) == 0 {
			continue
		}
		r.Months, r.Total = nil, decimal.Zero
		totalNum, totalDen := decimal.Zero, decimal.Zero
		for _, month := range months {
			var amt decimal.Decimal
			switch m.Agg() {
			case planning.AggWeightedAverage:
				num, den := decimal.Zero, decimal.Zero
				for src, ms := range bySrc {
					if v, ok := ms[month]; ok {
						w := weights[src][month]
						num, den = num.Add(v.Mul(w)), den.Add(w)
					}
				}
				if !den.IsZero() {
					amt = planning.DivRound(num, den, m.Scale, false)
				}
				totalNum, totalDen = totalNum.Add(num), totalDen.Add(den)
			case planning.AggNone:
				amt = bySrc[r.OrgUnitID][month]
			default: // last value: the leaves' values of the month
				for _, ms := range bySrc {
					amt = amt.Add(ms[month])
				}
			}
			r.Months = append(r.Months, planning.MonthAmount{Month: month, Amount: amt})
		}
		switch m.Agg() {
		case planning.AggWeightedAverage:
			if !totalDen.IsZero() {
				r.Total = planning.DivRound(totalNum, totalDen, m.Scale, false)
			}
		case planning.AggNone:
			r.Total = r.Months[len(r.Months)-1].Amount
		default:
			for _, ms := range bySrc {
				last := ""
				for month := range ms {
					last = max(last, month)
				}
				r.Total = r.Total.Add(ms[last])
			}
		}
		kept = append(kept, r)
	}
	return kept, nil
}
