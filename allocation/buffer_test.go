package allocation

import (
	"math/big"
	"sort"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// bufferedOracle is the buffered-level rule as the README states it,
// computed independently with math/big: with the parent's months P_j
// (adding up to the year Y) and buffer b,
//
//  1. the children's year is T = Y × (1 + b) rounded to the scale half away
//     from zero;
//  2. each month's quota is q_j = P_j × (1 + b), exactly;
//  3. for Y ≥ 0 every month gets ⌊q_j⌋ and the T − Σ⌊q_j⌋ units left go
//     one each to the months with the largest fractional parts, ties to the
//     earlier month; for Y < 0 the same rule runs on the negated months and
//     the result is negated back.
func bufferedOracle(months []int64, b *big.Rat) []int64 {
	one := new(big.Rat).Add(big.NewRat(1, 1), b)
	var y int64
	for _, m := range months {
		y += m
	}
	sign := int64(1)
	if y < 0 {
		sign = -1
	}
	// T = round half away from zero of |Y| × (1 + b).
	t := new(big.Rat).Mul(new(big.Rat).SetInt64(y*sign), one)
	tq, tr := new(big.Int).QuoRem(t.Num(), t.Denom(), new(big.Int))
	if new(big.Int).Mul(tr, big.NewInt(2)).Cmp(t.Denom()) >= 0 {
		tq.Add(tq, big.NewInt(1))
	}
	out := make([]int64, len(months))
	fracs := make([]*big.Rat, len(months))
	sum := new(big.Int)
	for j, m := range months {
		q := new(big.Rat).Mul(new(big.Rat).SetInt64(m*sign), one)
		fl := new(big.Int).Div(q.Num(), q.Denom()) // Euclidean: floor for a positive denominator
		out[j] = fl.Int64()
		fracs[j] = new(big.Rat).Sub(q, new(big.Rat).SetInt(fl))
		sum.Add(sum, fl)
	}
	units := new(big.Int).Sub(tq, sum).Int64()
	idx := make([]int, len(months))
	for j := range idx {
		idx[j] = j
	}
	sort.SliceStable(idx, func(a, c int) bool { return fracs[idx[a]].Cmp(fracs[idx[c]]) > 0 })
	for _, j := range idx[:units] {
		out[j]++
	}
	for j := range out {
		out[j] *= sign
	}
	return out
}

// TestPropBufferedMonthsRule: what a buffered level's children must add up
// to in each month (BufferedMonths, which the consistency report checks
// against) is exactly the stated rule, and it is what Cascade itself gives
// the children.
func TestPropBufferedMonthsRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := int32(rapid.IntRange(0, 2).Draw(t, "scale"))
		buf := rapid.SampledFrom([]string{"0", "0.05", "0.10", "0.125", "0.333", "1.5", "0.0333"}).Draw(t, "buffer")
		b := decimal.RequireFromString(buf)
		neg := rapid.Bool().Draw(t, "negative")
		months := make([]int64, Months)
		ds := make([]decimal.Decimal, Months)
		for j := range months {
			months[j] = rapid.Int64Range(0, 1e9).Draw(t, "month")
			if neg {
				months[j] = -months[j]
			}
			ds[j] = decimal.New(months[j], -scale)
		}
		got, err := BufferedMonths(ds, b, scale)
		if err != nil {
			t.Fatal(err)
		}
		br, _ := new(big.Rat).SetString(buf)
		want := bufferedOracle(months, br)
		for j := range want {
			if !got[j].Equal(decimal.New(want[j], -scale)) {
				t.Fatalf("month %d: BufferedMonths %s, the rule %s (months %v, buffer %s)", j+1, got[j], decimal.New(want[j], -scale), months, buf)
			}
		}
		// Cascade's children add up to exactly these months.
		kids := []Node{{Key: "A"}, {Key: "B"}, {Key: "C"}}
		var year decimal.Decimal
		for _, d := range ds {
			year = year.Add(d)
		}
		weights := make([]decimal.Decimal, Months)
		for j := range weights {
			weights[j] = ds[j].Abs()
		}
		weights[0] = weights[0].Add(decimal.NewFromInt(1))
		res, err := Cascade(CascadeInput{Root: Node{Key: "P", Children: kids}, Amount: year, Scale: scale,
			Levels: []Spec{{Method: Even, Buffer: b}}, Phasing: &Phasing{Method: PhaseReference, Weights: weights}})
		if err != nil {
			t.Fatal(err)
		}
		parent := make([]decimal.Decimal, Months)
		for j := range parent {
			parent[j] = res.Month(0, j+1).Decimal()
		}
		expect, err := BufferedMonths(parent, b, scale)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < Months; j++ {
			sum := decimal.Zero
			for i := 1; i <= 3; i++ {
				sum = sum.Add(res.Month(i, j+1).Decimal())
			}
			if !sum.Equal(expect[j]) {
				t.Fatalf("month %d: children add up to %s, the rule says %s", j+1, sum, expect[j])
			}
		}
	})
}
