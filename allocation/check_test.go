package allocation

import (
	"math/big"
)

// This file holds the invariant checks shared by the table, property and
// fuzz tests.

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
