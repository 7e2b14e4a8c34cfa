package planning_test

import (
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

// genSeries draws up to four series of the year, each month holding a
// value with probability one half, values at scale 2 and weights at
// scale 0 (non-negative).
func genSeries(t *rapid.T) []*planning.Series {
	n := rapid.IntRange(0, 4).Draw(t, "series")
	out := make([]*planning.Series, n)
	for i := range out {
		s := &planning.Series{}
		for p := 1; p <= 12; p++ {
			if rapid.Bool().Draw(t, "has") {
				s.Set(p, decimal.New(rapid.Int64Range(-100000, 100000).Draw(t, "v"), -2))
			}
			s.Weight[p] = decimal.NewFromInt(rapid.Int64Range(0, 1000).Draw(t, "w"))
		}
		out[i] = s
	}
	return out
}

// exact returns d as a rational.
func exact(d decimal.Decimal) *big.Rat {
	r := new(big.Rat).SetInt(d.Coefficient())
	e := d.Exponent()
	ten := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e))), nil)
	if e < 0 {
		return r.Quo(r, new(big.Rat).SetInt(ten))
	}
	return r.Mul(r, new(big.Rat).SetInt(ten))
}

func abs(e int32) int32 {
	if e < 0 {
		return -e
	}
	return e
}

// TestAggregateRules checks each rule against an oracle in exact rationals
// over random series and spans.
func TestAggregateRules(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		series := genSeries(t)
		from := rapid.IntRange(1, 12).Draw(t, "from")
		to := rapid.IntRange(from, 12).Draw(t, "to")

		// sum: every value in the span, missing months zero.
		sum, ok := planning.AggSum.Aggregate(series, from, to, 2)
		want := decimal.Zero
		for _, s := range series {
			for p := from; p <= to; p++ {
				if s.Has[p] {
					want = want.Add(s.Value[p])
				}
			}
		}
		if !ok || !sum.Equal(want) {
			t.Fatalf("sum %s (%v), want %s", sum, ok, want)
		}

		// weighted_average: Σ v·w ÷ Σ w within half a minor unit, rounded
		// half away from zero; undefined when the weights sum to zero.
		num, den := new(big.Rat), new(big.Rat)
		for _, s := range series {
			for p := from; p <= to; p++ {
				if s.Has[p] {
					num.Add(num, new(big.Rat).Mul(exact(s.Value[p]), exact(s.Weight[p])))
					den.Add(den, exact(s.Weight[p]))
				}
			}
		}
		avg, ok := planning.AggWeightedAverage.Aggregate(series, from, to, 2)
		if den.Sign() == 0 {
			if ok {
				t.Fatalf("weighted average %s of zero weight", avg)
			}
		} else {
			q := new(big.Rat).Quo(num, den)
			diff := new(big.Rat).Sub(exact(avg), q)
			half := big.NewRat(1, 200)
			if !ok || new(big.Rat).Abs(diff).Cmp(half) > 0 || !avg.Equal(avg.Round(2)) {
				t.Fatalf("weighted average %s, exact %s", avg, q.FloatString(6))
			}
			if new(big.Rat).Abs(diff).Cmp(half) == 0 && (diff.Sign() < 0) != (q.Sign() < 0) {
				t.Fatalf("a half rounded towards zero: %s of %s", avg, q.FloatString(6))
			}
		}

		// last_value: each series' latest value in the span, added up.
		last, ok := planning.AggLastValue.Aggregate(series, from, to, 2)
		want, any := decimal.Zero, false
		for _, s := range series {
			for p := to; p >= from; p-- {
				if s.Has[p] {
					want, any = want.Add(s.Value[p]), true
					break
				}
			}
		}
		if ok != any || !last.Equal(want) {
			t.Fatalf("last value %s (%v), want %s (%v)", last, ok, want, any)
		}

		// none: the one value of the span's last month, defined only when
		// exactly one series holds one.
		v, ok := planning.AggNone.Aggregate(series, from, to, 2)
		n := 0
		for _, s := range series {
			if s.Has[to] {
				n++
				if ok && !v.Equal(s.Value[to]) {
					t.Fatalf("none %s, the series holds %s", v, s.Value[to])
				}
			}
		}
		if ok != (n == 1) {
			t.Fatalf("none defined %v with %d values", ok, n)
		}
	})
}

// TestAggregateByHand checks one example of each rule.
func TestAggregateByHand(t *testing.T) {
	a, b := &planning.Series{}, &planning.Series{}
	a.Set(1, d("10.00"))
	a.Set(2, d("20.00"))
	a.Weight[1], a.Weight[2] = d("100"), d("300")
	b.Set(2, d("40.00"))
	b.Weight[2] = d("200")
	for _, c := range []struct {
		agg  planning.Aggregation
		from int
		to   int
		want string
		ok   bool
	}{
		{planning.AggSum, 1, 3, "70.00", true},
		// (10 × 100 + 20 × 300 + 40 × 200) ÷ 600 = 25.00
		{planning.AggWeightedAverage, 1, 3, "25.00", true},
		// (20 × 300 + 40 × 200) ÷ 500 = 28.00
		{planning.AggWeightedAverage, 2, 2, "28.00", true},
		{planning.AggWeightedAverage, 3, 3, "0.00", false},
		// a's May 20 and b's May 40, although the span runs to June.
		{planning.AggLastValue, 1, 3, "60.00", true},
		{planning.AggLastValue, 1, 1, "10.00", true},
		{planning.AggNone, 1, 1, "10.00", true},
		// Two series hold May: a total of ratings is no rating.
		{planning.AggNone, 1, 2, "0.00", false},
		{planning.AggNone, 1, 3, "0.00", false},
	} {
		got, ok := c.agg.Aggregate([]*planning.Series{a, b}, c.from, c.to, 2)
		if got.StringFixed(2) != c.want || ok != c.ok {
			t.Errorf("%s %d-%d: %s %v, want %s %v", c.agg, c.from, c.to, got.StringFixed(2), ok, c.want, c.ok)
		}
	}
	// A third of a cent rounds half away from zero at the scale.
	x := &planning.Series{}
	x.Set(1, d("1"))
	x.Set(2, d("2"))
	x.Weight[1], x.Weight[2] = d("1"), d("2")
	if got, _ := planning.AggWeightedAverage.Aggregate([]*planning.Series{x}, 1, 2, 2); got.String() != "1.67" {
		t.Errorf("(1 + 4) ÷ 3 = %s, want 1.67", got)
	}
}

// TestMeasureKindValidation checks the kind, aggregation and rating scale
// rules and the values a rating accepts, naming each field.
func TestMeasureKindValidation(t *testing.T) {
	rev := int64(1)
	scale := &planning.RatingScale{Min: d("1"), Max: d("5"), Step: d("0.5")}
	for _, c := range []struct {
		name  string
		m     planning.Measure
		field string
	}{
		{"a weighted average without weight", planning.Measure{Aggregation: planning.AggWeightedAverage}, "weight_measure"},
		{"a weight on a sum", planning.Measure{Aggregation: planning.AggSum, WeightMeasureID: &rev}, "weight_measure"},
		{"an unknown aggregation", planning.Measure{Aggregation: "median"}, "aggregation"},
		{"a rating without scale", planning.Measure{Kind: planning.MeasureRating, Aggregation: planning.AggNone}, "rating"},
		{"a rating that adds up", planning.Measure{Kind: planning.MeasureRating, Aggregation: planning.AggSum, Rating: scale}, "aggregation"},
		{"a scale on an amount", planning.Measure{Rating: scale}, "rating"},
		{"steps that do not fit", planning.Measure{Kind: planning.MeasureRating, Aggregation: planning.AggNone,
			Rating: &planning.RatingScale{Min: d("1"), Max: d("5"), Step: d("1.5")}}, "rating.step"},
		{"max below min", planning.Measure{Kind: planning.MeasureRating, Aggregation: planning.AggNone,
			Rating: &planning.RatingScale{Min: d("5"), Max: d("1"), Step: d("0.5")}}, "rating.max"},
		{"more places than the scale", planning.Measure{Kind: planning.MeasureRating, Aggregation: planning.AggNone,
			Rating: &planning.RatingScale{Min: d("1"), Max: d("5"), Step: d("0.25")}}, "rating.step"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			m.Code, m.Name, m.Unit, m.Scale = "x", "X", "points", 1
			wantFieldErr(t, m.Validate(), c.field)
		})
	}
	m := planning.Measure{Code: "plans", Name: "Plans", Unit: "points", Scale: 1, Kind: planning.MeasureRating, Aggregation: planning.AggNone, Rating: scale}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for v, ok := range map[string]bool{"1": true, "3.5": true, "5.0": true, "0.5": false, "5.5": false, "3.2": false, "3.55": false} {
		var val planning.Validation
		m.CheckValue(&val, "amount", d(v))
		if (val.Err() == nil) != ok {
			t.Errorf("rating %s: %v", v, val.Err())
		}
	}
}

func wantFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	pe, _ := err.(*planning.Error)
	if pe == nil {
		t.Fatalf("no error, want one on %s", field)
	}
	for _, f := range pe.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("%v names %+v, not %s", err, pe.Fields, field)
}
