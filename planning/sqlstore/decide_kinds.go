package sqlstore

import (
	"context"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// unitYear returns a unit's year of a product line's measure as a decision
// preview compares it: the months' sum for a measure that adds up; else the
// year by the measure's rule (a weighted average by the weight measure's
// months of the same unit and line, the last value, the last month's), zero
// when the year holds no value by it. It reads through idb, so a preview
// sees its own uncommitted decision.
func (db *DB) unitYear(ctx context.Context, idb bun.IDB, versionID, unitID, lineID, measureID int64) (decimal.Decimal, error) {
	mr := new(measureRow)
	if err := idb.NewSelect().Model(mr).Where("id = ?", measureID).Scan(ctx); err != nil {
		return decimal.Zero, err
	}
	m := mr.toDomain()
	from, args, err := db.cellsOf(ctx, idb, versionID, "c")
	if err != nil {
		return decimal.Zero, err
	}
	var cells []cellRow
	if err := idb.NewSelect().TableExpr(from, args...).Column("c.period", "c.amount").
		Where("c.version_id = ? AND c.org_unit_id = ? AND c.product_line_id = ? AND c.measure_id = ?", versionID, unitID, lineID, measureID).
		Scan(ctx, &cells); err != nil {
		return decimal.Zero, err
	}
	var s planning.Series
	for _, c := range cells {
		d, err := decimal.NewFromString(c.Amount)
		if err != nil {
			return decimal.Zero, err
		}
		s.Set(c.Period, d)
	}
	if m.WeightMeasureID != nil {
		w, err := db.unitMonths(ctx, idb, versionID, unitID, lineID, *m.WeightMeasureID)
		if err != nil {
			return decimal.Zero, err
		}
		copy(s.Weight[1:], w[:])
	}
	v, _ := m.Agg().Aggregate([]*planning.Series{&s}, 1, 12, m.Scale)
	return v, nil
}
