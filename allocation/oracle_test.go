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

// checkTable verifies a rounded table: rows add up to their totals,
// columns to theirs, pinned rows are untouched, and every free cell is
// its quota rounded down or up, the quota being R_i × C'_j / B' (or the
// zero-total formula with the given fallback weights).
func checkTable(t tb, rows []*big.Int, cols []*big.Int, pins [][]*big.Int, cells [][]*big.Int, fallback []*big.Int) {
	t.Helper()
	n, m := len(rows), len(cols)
	left := make([]*big.Int, m)
	for j := range cols {
		left[j] = new(big.Int).Set(cols[j])
	}
	var free []int
	for i := 0; i < n; i++ {
		s := new(big.Int)
		for j := 0; j < m; j++ {
			s.Add(s, cells[i][j])
		}
		if s.Cmp(rows[i]) != 0 {
			t.Fatalf("row %d adds up to %s, want %s", i, s, rows[i])
		}
		if pins != nil && pins[i] != nil {
			for j := 0; j < m; j++ {
				if cells[i][j].Cmp(pins[i][j]) != 0 {
					t.Fatalf("pinned cell (%d,%d) = %s, want %s", i, j, cells[i][j], pins[i][j])
				}
				left[j].Sub(left[j], pins[i][j])
			}
			continue
		}
		free = append(free, i)
	}
	for j := 0; j < m; j++ {
		s := new(big.Int)
		for i := 0; i < n; i++ {
			s.Add(s, cells[i][j])
		}
		if s.Cmp(cols[j]) != 0 {
			t.Fatalf("column %d adds up to %s, want %s", j, s, cols[j])
		}
	}
	b := new(big.Int)
	for _, i := range free {
		b.Add(b, rows[i])
	}
	fbTotal := new(big.Int)
	for _, w := range fallback {
		fbTotal.Add(fbTotal, w)
	}
	for _, i := range free {
		for j := 0; j < m; j++ {
			var q *big.Rat
			if b.Sign() != 0 {
				q = new(big.Rat).SetFrac(new(big.Int).Mul(rows[i], left[j]), b)
			} else {
				q = new(big.Rat).SetFrac(new(big.Int).Mul(rows[i], fallback[j]), fbTotal)
				q.Add(q, new(big.Rat).SetFrac(left[j], big.NewInt(int64(len(free)))))
			}
			checkWithinOne(t, cells[i][j], q, "cell")
		}
	}
}

// checkWithinOne fails unless v is q rounded down or up.
func checkWithinOne(t tb, v *big.Int, q *big.Rat, what string) {
	t.Helper()
	diff := new(big.Rat).Sub(new(big.Rat).SetInt(v), q)
	if diff.Cmp(big.NewRat(-1, 1)) <= 0 || diff.Cmp(big.NewRat(1, 1)) >= 0 {
		t.Fatalf("%s %s is not within one unit of its quota %s", what, v, q.RatString())
	}
}

// checkCascade verifies every invariant of a cascade result against its
// input: years by the reference split at every parent, months by the
// table check, the root's months by the reference phasing, months adding
// up to years, locks untouched.
func checkCascade(t tb, in CascadeInput, r *CascadeResult) {
	t.Helper()
	scale := in.Scale
	byKey := map[string]*Node{}
	var walk func(n *Node)
	walk = func(n *Node) {
		byKey[n.Key] = n
		for i := range n.Children {
			walk(&n.Children[i])
		}
	}
	walk(&in.Root)
	if r.Len() != len(byKey) {
		t.Fatalf("%d nodes, want %d", r.Len(), len(byKey))
	}
	locks := map[string]Lock{}
	for _, l := range in.Locks {
		locks[l.Key] = l
	}
	year := func(i int) *big.Int { return r.Year(i).BigMinor() }
	month := func(i, m int) *big.Int { return r.Month(i, m).BigMinor() }
	if year(0).Cmp(minorOf(in.Amount, scale)) != 0 {
		t.Fatalf("root year %s, want %s", r.Year(0), in.Amount)
	}
	var fb []*big.Int
	if in.Phasing != nil {
		ph := in.Phasing
		var w []*big.Rat
		if ph.Method != PhaseEven {
			sum := new(big.Rat)
			for _, x := range ph.Weights {
				w = append(w, ratOf(x))
				sum.Add(sum, ratOf(x))
			}
			if sum.Sign() == 0 {
				w = nil
			}
		}
		want := refLR(year(0), w, monthKeys[:])
		for j := 0; j < Months; j++ {
			if month(0, j+1).Cmp(want[j]) != 0 {
				t.Fatalf("root month %d = %s, want %s", j+1, r.Month(0, j+1), minorString(want[j], scale))
			}
		}
		// The fallback weights are the profile's, as integers with the
		// same ratios.
		lcm := big.NewInt(1)
		for _, x := range w {
			g := new(big.Int).GCD(nil, nil, lcm, x.Denom())
			lcm.Mul(lcm, new(big.Int).Quo(x.Denom(), g))
		}
		for j := 0; j < Months; j++ {
			if w == nil {
				fb = append(fb, big.NewInt(1))
			} else {
				x := new(big.Rat).Mul(w[j], new(big.Rat).SetInt(lcm))
				fb = append(fb, new(big.Int).Set(x.Num()))
			}
		}
	}
	for i := 0; i < r.Len(); i++ {
		key := r.Key(i)
		if l, ok := locks[key]; ok {
			if year(i).Cmp(minorOf(l.Amount, scale)) != 0 {
				t.Fatalf("locked %s moved: %s, want %s", key, r.Year(i), l.Amount)
			}
			for j, x := range l.Months {
				if month(i, j+1).Cmp(minorOf(x, scale)) != 0 {
					t.Fatalf("locked month %d of %s moved", j+1, key)
				}
			}
		}
		if in.Phasing != nil {
			s := new(big.Int)
			for m := 1; m <= Months; m++ {
				s.Add(s, month(i, m))
			}
			if s.Cmp(year(i)) != 0 {
				t.Fatalf("months of %s add up to %s, year %s", key, s, r.Year(i))
			}
		}
		first, n := r.Children(i)
		if n == 0 {
			continue
		}
		spec := in.Levels[r.Depth(i)]
		node := byKey[key]
		children := make([]Child, n)
		for k := 0; k < n; k++ {
			c := byKey[r.Key(first+k)]
			children[k] = Child{Key: c.Key, Weight: c.Weight, Manual: c.Manual}
			if r.Parent(first+k) != i {
				t.Fatalf("parent of %s is %d, want %d", c.Key, r.Parent(first+k), i)
			}
			if l, ok := locks[c.Key]; ok {
				children[k].Lock = &l.Amount
			}
		}
		if len(node.Children) != n {
			t.Fatalf("%s has %d children, want %d", key, n, len(node.Children))
		}
		ref := refSplit(r.Year(i).Decimal(), scale, children, spec)
		if ref.code != "" {
			t.Fatalf("the reference cannot split %s: %s", key, ref.code)
		}
		for k := 0; k < n; k++ {
			if year(first+k).Cmp(ref.shares[k]) != 0 {
				t.Fatalf("year of %s = %s, want %s", r.Key(first+k), r.Year(first+k), minorString(ref.shares[k], scale))
			}
		}
		if in.Phasing == nil {
			continue
		}
		// The buffered months: within one unit of P_j × (1 + b), adding
		// up to the buffered year.
		cols := make([]*big.Int, Months)
		csum := new(big.Int)
		for j := 0; j < Months; j++ {
			cols[j] = new(big.Int)
			for k := 0; k < n; k++ {
				cols[j].Add(cols[j], month(first+k, j+1))
			}
			csum.Add(csum, cols[j])
			q := new(big.Rat).Mul(new(big.Rat).SetInt(month(i, j+1)), new(big.Rat).Add(big.NewRat(1, 1), ratOf(spec.Buffer)))
			checkWithinOne(t, cols[j], q, "buffered month")
			if spec.Buffer.IsZero() && cols[j].Cmp(month(i, j+1)) != 0 {
				t.Fatalf("children of %s add up to %s in month %d, parent %s", key, cols[j], j+1, r.Month(i, j+1))
			}
		}
		if csum.Cmp(ref.target) != 0 {
			t.Fatalf("children of %s add up to %s over the year, want %s", key, csum, ref.target)
		}
		rows := make([]*big.Int, n)
		cells := make([][]*big.Int, n)
		pins := make([][]*big.Int, n)
		for k := 0; k < n; k++ {
			rows[k] = year(first + k)
			cells[k] = make([]*big.Int, Months)
			for j := range cells[k] {
				cells[k][j] = month(first+k, j+1)
			}
			if l, ok := locks[r.Key(first+k)]; ok && l.Months != nil {
				pins[k] = make([]*big.Int, Months)
				for j, x := range l.Months {
					pins[k][j] = minorOf(x, scale)
				}
			}
		}
		checkTable(t, rows, cols, pins, cells, fb)
	}
}
