package allocation

import (
	"math/big"
	"sort"

	"github.com/shopspring/decimal"
)

// This file holds an independent reference implementation, written with
// math/big.Rat and none of the package's machinery, that the tests compare
// results against, and the invariant checks shared by the table, property
// and fuzz tests.

// tb is what the checks need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dp(s string) *decimal.Decimal {
	x := d(s)
	return &x
}

// ratOf returns a decimal as an exact rational.
func ratOf(x decimal.Decimal) *big.Rat { return x.Rat() }

// minorOf returns a decimal in minor units at scale, or nil if it is not
// whole there.
func minorOf(x decimal.Decimal, scale int32) *big.Int {
	r := ratOf(x)
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil
	}
	return new(big.Int).Set(r.Num())
}

// floorRat returns ⌊r⌋.
func floorRat(r *big.Rat) *big.Int {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	_ = m
	return q
}

// refLR is Hamilton's method on the magnitude, mirrored for negative
// targets, with ties to the smaller key: the rule the package documents.
// weights nil means even.
func refLR(target *big.Int, weights []*big.Rat, keys []string) []*big.Int {
	n := len(keys)
	t := new(big.Int).Abs(target)
	total := new(big.Rat)
	if weights == nil {
		total.SetInt64(int64(n))
	} else {
		for _, w := range weights {
			total.Add(total, w)
		}
	}
	out := make([]*big.Int, n)
	rems := make([]*big.Rat, n)
	sum := new(big.Int)
	for i := range keys {
		w := big.NewRat(1, 1)
		if weights != nil {
			w = weights[i]
		}
		q := new(big.Rat).Mul(new(big.Rat).SetInt(t), w)
		q.Quo(q, total)
		out[i] = floorRat(q)
		rems[i] = q.Sub(q, new(big.Rat).SetInt(out[i]))
		sum.Add(sum, out[i])
	}
	left := new(big.Int).Sub(t, sum).Int64()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		if c := rems[idx[a]].Cmp(rems[idx[b]]); c != 0 {
			return c > 0
		}
		return keys[idx[a]] < keys[idx[b]]
	})
	for _, i := range idx[:left] {
		out[i].Add(out[i], big.NewInt(1))
	}
	if target.Sign() < 0 {
		for _, v := range out {
			v.Neg(v)
		}
	}
	return out
}

// refBuffer returns t × (1 + b) rounded half away from zero.
func refBuffer(t *big.Int, b decimal.Decimal) *big.Int {
	x := new(big.Rat).Mul(new(big.Rat).SetInt(t), new(big.Rat).Add(big.NewRat(1, 1), ratOf(b)))
	neg := x.Sign() < 0
	x.Abs(x)
	x.Add(x, big.NewRat(1, 2))
	q := floorRat(x)
	if neg {
		q.Neg(q)
	}
	return q
}

// refSplit computes what Split must return, by the documented rules, or
// the error code it must fail with (for the rules it can judge: it assumes
// well-formed input).
type refOut struct {
	shares   []*big.Int
	target   *big.Int
	residual *big.Int
	code     string
}

func refSplit(total decimal.Decimal, scale int32, children []Child, spec Spec) refOut {
	t := minorOf(total, scale)
	target := refBuffer(t, spec.Buffer)
	o := refOut{target: target, residual: new(big.Int), shares: make([]*big.Int, len(children))}
	fixed := new(big.Int)
	var free []int
	for i, c := range children {
		switch {
		case c.Lock != nil:
			o.shares[i] = minorOf(*c.Lock, scale)
		case c.Manual != nil:
			o.shares[i] = minorOf(*c.Manual, scale)
		default:
			free = append(free, i)
			continue
		}
		fixed.Add(fixed, o.shares[i])
	}
	rest := new(big.Int).Sub(target, fixed)
	method := spec.Method
	zeroFree := func() {
		for _, i := range free {
			o.shares[i] = new(big.Int)
		}
	}
	if method == Manual {
		switch spec.Residual {
		case ResidualFail:
			if rest.Sign() != 0 {
				o.code = EINFEASIBLE
			}
			zeroFree()
			return o
		case ResidualReport:
			o.residual = rest
			zeroFree()
			return o
		case ResidualEven:
			method = Even
		case ResidualProportional:
			method = Proportional
		}
	}
	if len(free) < len(children) && rest.Sign() != 0 && rest.Sign() != target.Sign() {
		o.code = EINFEASIBLE
		return o
	}
	if len(free) == 0 {
		if rest.Sign() != 0 {
			o.code = EINFEASIBLE
		}
		return o
	}
	if rest.Sign() == 0 {
		zeroFree()
		return o
	}
	keys := make([]string, len(free))
	for k, i := range free {
		keys[k] = children[i].Key
	}
	var weights []*big.Rat
	if method == Proportional {
		weights = make([]*big.Rat, len(free))
		sum := new(big.Rat)
		for k, i := range free {
			weights[k] = ratOf(children[i].Weight)
			sum.Add(sum, weights[k])
		}
		if sum.Sign() == 0 {
			if spec.ZeroWeight != ZeroWeightEven {
				o.code = EINFEASIBLE
				return o
			}
			weights = nil
		}
	}
	for k, v := range refLR(rest, weights, keys) {
		o.shares[free[k]] = v
	}
	return o
}

// minorString formats minor units at scale like Amount.String.
func minorString(v *big.Int, scale int32) string {
	return Amount{v: fromBig(new(big.Int).Set(v)), scale: scale}.String()
}

// checkAgainstRef compares a Split result (or error) with refSplit.
func checkAgainstRef(t tb, total decimal.Decimal, scale int32, children []Child, spec Spec, r *Result, err error) {
	t.Helper()
	ref := refSplit(total, scale, children, spec)
	if ref.code != "" {
		if ErrorCode(err) != ref.code {
			t.Fatalf("error %v, want code %s", err, ref.code)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	for i := range children {
		got := r.Amount(i).BigMinor()
		if got.Cmp(ref.shares[i]) != 0 {
			t.Fatalf("share %d (%s) = %s, want %s", i, children[i].Key, r.Amount(i), minorString(ref.shares[i], scale))
		}
	}
	if r.Target().BigMinor().Cmp(ref.target) != 0 {
		t.Fatalf("target %s, want %s", r.Target(), minorString(ref.target, scale))
	}
	if r.Residual().BigMinor().Cmp(ref.residual) != 0 {
		t.Fatalf("residual %s, want %s", r.Residual(), minorString(ref.residual, scale))
	}
}
