package planning

import (
	"github.com/shopspring/decimal"
)

// Series is one cell series over the fiscal year: a unit's (or a leaf's)
// values of one product line and measure by fiscal period 1-12, which
// periods hold a value, and, for a weighted average, the weight measure's
// amounts of the same cells.
type Series struct {
	Has    [13]bool
	Value  [13]decimal.Decimal
	Weight [13]decimal.Decimal
}

// Set records the value of period p (1-12).
func (s *Series) Set(p int, v decimal.Decimal) {
	s.Has[p], s.Value[p] = true, v
}

// last returns the value of the latest period in from..to that holds one.
func (s *Series) last(from, to int) (decimal.Decimal, bool) {
	for p := to; p >= from; p-- {
		if s.Has[p] {
			return s.Value[p], true
		}
	}
	return decimal.Zero, false
}

// Aggregate combines the values of series over the fiscal periods
// from..to (inclusive) by the rule, at scale decimal places. It reports
// false when the span holds no value the rule can use: no cell at all for
// last_value; no cell in the last period, or cells of more than one series
// there, for none; weights summing to zero for weighted_average. A sum is
// always defined (missing cells count as zero).
//
// The result is exact: sums and last values are kept as they are, a
// weighted average Σ value × weight ÷ Σ weight is rounded once at scale,
// half away from zero.
func (a Aggregation) Aggregate(series []*Series, from, to int, scale int32) (decimal.Decimal, bool) {
	switch a {
	case AggWeightedAverage:
		num, den := decimal.Zero, decimal.Zero
		for _, s := range series {
			for p := from; p <= to; p++ {
				if s.Has[p] {
					num = num.Add(s.Value[p].Mul(s.Weight[p]))
					den = den.Add(s.Weight[p])
				}
			}
		}
		if den.IsZero() {
			return decimal.Zero, false
		}
		return DivRound(num, den, scale, false), true
	case AggLastValue:
		sum, any := decimal.Zero, false
		for _, s := range series {
			if v, ok := s.last(from, to); ok {
				sum, any = sum.Add(v), true
			}
		}
		return sum, any
	case AggNone:
		var out decimal.Decimal
		n := 0
		for _, s := range series {
			if s.Has[to] {
				out = s.Value[to]
				n++
			}
		}
		if n != 1 {
			return decimal.Zero, false
		}
		return out, true
	default:
		sum := decimal.Zero
		for _, s := range series {
			for p := from; p <= to; p++ {
				if s.Has[p] {
					sum = sum.Add(s.Value[p])
				}
			}
		}
		return sum, true
	}
}

// RollsUp reports whether a unit's actuals include its descendants'
// (every rule but none, which takes a unit's own values only).
func (a Aggregation) RollsUp() bool { return a != AggNone }
