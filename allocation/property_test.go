package allocation

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// Generators.

// genScale draws a measure's scale.
func genScale(t *rapid.T) int32 { return int32(rapid.IntRange(0, 4).Draw(t, "scale")) }

// genAmount draws an amount at scale: usually modest, sometimes negative
// or zero, sometimes near or beyond the int64 range of minor units.
func genAmount(t *rapid.T, scale int32, label string) decimal.Decimal {
	switch rapid.IntRange(0, 9).Draw(t, label+"_kind") {
	case 0:
		return decimal.Zero
	case 1: // near int64
		v := rapid.Int64Range(-1<<62, 1<<62).Draw(t, label) * 2
		return decimal.New(v, -scale)
	case 2: // beyond int64
		digits := rapid.StringMatching(`-?[1-9][0-9]{19,30}`).Draw(t, label)
		return decimal.RequireFromString(digits).Shift(-scale)
	default:
		return decimal.New(rapid.Int64Range(-1e9, 1e9).Draw(t, label), -scale)
	}
}

// genWeight draws a weight: zero or more, at up to six places.
func genWeight(t *rapid.T, label string) decimal.Decimal {
	if rapid.IntRange(0, 5).Draw(t, label+"_zero") == 0 {
		return decimal.Zero
	}
	return decimal.New(rapid.Int64Range(0, 1e7).Draw(t, label), -int32(rapid.IntRange(0, 6).Draw(t, label+"_places")))
}

// genBuffer draws an over-assignment buffer.
func genBuffer(t *rapid.T) decimal.Decimal {
	return rapid.SampledFrom([]decimal.Decimal{decimal.Zero, d("0.10"), d("0.125"), d("0.05"), d("1.5"), d("0.333")}).Draw(t, "buffer")
}

// genKeys draws n distinct keys.
func genKeys(t *rapid.T, n int, label string) []string {
	return rapid.SliceOfNDistinct(rapid.StringMatching(`[A-Za-z0-9-]{1,6}`), n, n, rapid.ID[string]).Draw(t, label)
}

// genSpec draws a split spec.
func genSpec(t *rapid.T, cascade bool) Spec {
	s := Spec{
		Method:     rapid.SampledFrom([]Method{Even, Proportional, Manual}).Draw(t, "method"),
		ZeroWeight: rapid.SampledFrom([]ZeroWeight{ZeroWeightFail, ZeroWeightEven}).Draw(t, "zero_weight"),
		Buffer:     genBuffer(t),
	}
	residuals := []Residual{ResidualFail, ResidualReport, ResidualEven, ResidualProportional}
	if cascade {
		residuals = []Residual{ResidualEven, ResidualProportional}
	}
	s.Residual = rapid.SampledFrom(residuals).Draw(t, "residual")
	return s
}

// withForceBig runs f with every operation on the math/big path.
func withForceBig(f func()) {
	forceBig = true
	defer func() { forceBig = false }()
	f()
}

// sharesByKey returns a result's shares keyed by child key.
func sharesByKey(r *Result) map[string]string {
	m := map[string]string{}
	for i := 0; i < r.Len(); i++ {
		m[r.Key(i)] = r.Amount(i).String()
	}
	return m
}

func TestPropSplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := genScale(t)
		total := genAmount(t, scale, "total")
		spec := genSpec(t, false)
		n := rapid.IntRange(1, 12).Draw(t, "n")
		keys := genKeys(t, n, "keys")
		children := make([]Child, n)
		for i := range children {
			children[i] = Child{Key: keys[i], Weight: genWeight(t, "weight")}
			switch rapid.IntRange(0, 5).Draw(t, "fixed") {
			case 0:
				lock := decimal.New(rapid.Int64Range(-1e6, 1e6).Draw(t, "lock"), -scale)
				children[i].Lock = &lock
			case 1, 2:
				if spec.Method == Manual {
					m := decimal.New(rapid.Int64Range(-1e6, 1e6).Draw(t, "manual"), -scale)
					children[i].Manual = &m
				}
			}
		}
		r, err := Split(total, scale, children, spec)
		checkTyped(t, err)
		checkAgainstRef(t, total, scale, children, spec, r, err)
		if err != nil {
			return
		}
		// Determinism: the same input twice, and shuffled.
		again, _ := Split(total, scale, children, spec)
		perm := rapid.Permutation(children).Draw(t, "perm")
		shuffled, err := Split(total, scale, perm, spec)
		if err != nil || fmt.Sprint(sharesByKey(again)) != fmt.Sprint(sharesByKey(r)) || fmt.Sprint(sharesByKey(shuffled)) != fmt.Sprint(sharesByKey(r)) {
			t.Fatalf("not deterministic: %v %v %v (%v)", sharesByKey(r), sharesByKey(again), sharesByKey(shuffled), err)
		}
		// Scaling every weight by a constant changes nothing.
		k := rapid.SampledFrom([]decimal.Decimal{d("7"), d("0.001"), d("1000000"), d("3.5")}).Draw(t, "k")
		scaled := append([]Child(nil), children...)
		for i := range scaled {
			scaled[i].Weight = scaled[i].Weight.Mul(k)
		}
		rs, err := Split(total, scale, scaled, spec)
		if err != nil || fmt.Sprint(sharesByKey(rs)) != fmt.Sprint(sharesByKey(r)) {
			t.Fatalf("scaling the weights by %s changed the split: %v vs %v (%v)", k, sharesByKey(rs), sharesByKey(r), err)
		}
		// The int64 and math/big paths agree.
		var rb *Result
		withForceBig(func() { rb, err = Split(total, scale, children, spec) })
		if err != nil || fmt.Sprint(sharesByKey(rb)) != fmt.Sprint(sharesByKey(r)) {
			t.Fatalf("math/big path differs: %v vs %v (%v)", sharesByKey(rb), sharesByKey(r), err)
		}
		ex, err := r.Explain()
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		for i, e := range ex {
			if !e.Amount.Equal(r.Amount(i)) || e.Reason == "" {
				t.Fatalf("explanation %+v", e)
			}
			if e.Rule != RuleFixed && !e.Floor.v.add(e.Rounding.v).isZero() == e.Amount.IsZero() && e.Floor.v.add(e.Rounding.v).cmp(e.Amount.v) != 0 {
				t.Fatalf("floor + rounding ≠ amount in %+v", e)
			}
		}
	})
}

// checkTyped fails unless err is nil or an *Error with a code and message.
func checkTyped(t tb, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := err.(*Error)
	if !ok || e.Code == "" || e.Message == "" {
		t.Fatalf("error %#v is not a complete *Error", err)
	}
	if e.Code == EINTERNAL {
		t.Fatalf("internal error: %v", err)
	}
}

func TestPropTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := genScale(t)
		m := rapid.IntRange(1, 12).Draw(t, "m")
		n := rapid.IntRange(1, 8).Draw(t, "n")
		keys := genKeys(t, n, "keys")
		big_ := rapid.Bool().Draw(t, "big")
		cell := func(label string) int64 {
			if big_ {
				return rapid.Int64Range(-1<<60, 1<<60).Draw(t, label)
			}
			return rapid.Int64Range(-1000, 1000).Draw(t, label)
		}
		// A consistent table: random cells define the row and column sums;
		// some rows are pinned to their cells.
		rows := make([]Row, n)
		cols := make([]int64, m)
		pins := make([][]*big.Int, n)
		for i := range rows {
			cells := make([]decimal.Decimal, m)
			sum := new(big.Int)
			var pin []*big.Int
			for j := range cells {
				v := cell("cell")
				if rapid.IntRange(0, 3).Draw(t, "same_sign") > 0 && v < 0 {
					v = -v
				}
				cols[j] += v
				cells[j] = decimal.New(v, -scale)
				sum.Add(sum, big.NewInt(v))
				pin = append(pin, big.NewInt(v))
			}
			rows[i] = Row{Key: keys[i], Total: decimal.NewFromBigInt(sum, -scale)}
			if rapid.IntRange(0, 4).Draw(t, "pinned") == 0 {
				rows[i].Months = cells
				pins[i] = pin
			}
		}
		columns := make([]decimal.Decimal, m)
		bigCols := make([]*big.Int, m)
		for j, v := range cols {
			columns[j] = decimal.New(v, -scale)
			bigCols[j] = big.NewInt(v)
		}
		tb, err := PhaseTable(scale, columns, rows)
		checkTyped(t, err)
		if err != nil {
			t.Fatalf("a consistent table failed: %v", err)
		}
		r, c, cells := tableBig(tb)
		checkTable(t, r, c, pins, cells, ones(m))
		perm := rapid.Permutation(rows).Draw(t, "perm")
		tb2, err := PhaseTable(scale, columns, perm)
		if err != nil {
			t.Fatal(err)
		}
		byKey := func(tb *Table) map[string]string {
			out := map[string]string{}
			for i := 0; i < tb.Rows(); i++ {
				var cs []string
				for j := 0; j < tb.Columns(); j++ {
					cs = append(cs, tb.Cell(i, j).String())
				}
				out[tb.Key(i)] = fmt.Sprint(cs)
			}
			return out
		}
		if fmt.Sprint(byKey(tb)) != fmt.Sprint(byKey(tb2)) {
			t.Fatal("shuffled rows changed the table")
		}
		var tb3 *Table
		withForceBig(func() { tb3, err = PhaseTable(scale, columns, rows) })
		if err != nil || fmt.Sprint(byKey(tb)) != fmt.Sprint(byKey(tb3)) {
			t.Fatalf("math/big path differs (%v)", err)
		}
		for i := 0; i < tb.Rows(); i++ {
			if _, err := tb.Explain(i); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// genTree draws a tree of depth at most maxDepth below node key.
func genTree(t *rapid.T, key string, depth, maxDepth int, counter *int) Node {
	n := Node{Key: key, Weight: genWeight(t, "weight")}
	if depth == maxDepth {
		return n
	}
	kids := rapid.IntRange(0, 5).Draw(t, "kids")
	if depth == 0 && kids == 0 {
		kids = 1
	}
	for i := 0; i < kids; i++ {
		*counter++
		n.Children = append(n.Children, genTree(t, fmt.Sprintf("N%d", *counter), depth+1, maxDepth, counter))
	}
	return n
}

// shuffleTree returns a copy of n with every node's children permuted.
func shuffleTree(t *rapid.T, n Node) Node {
	out := n
	out.Children = rapid.Permutation(n.Children).Draw(t, "order")
	for i := range out.Children {
		out.Children[i] = shuffleTree(t, out.Children[i])
	}
	return out
}

// scaleWeights returns a copy of n with every weight multiplied by k.
func scaleWeights(n Node, k decimal.Decimal) Node {
	out := n
	out.Weight = n.Weight.Mul(k)
	out.Children = make([]Node, len(n.Children))
	for i := range n.Children {
		out.Children[i] = scaleWeights(n.Children[i], k)
	}
	return out
}

func TestPropCascade(t *testing.T) {
	var ok, infeasible int
	rapid.Check(t, func(t *rapid.T) {
		scale := genScale(t)
		maxDepth := rapid.IntRange(1, 4).Draw(t, "depth")
		counter := 0
		in := CascadeInput{Root: genTree(t, "ROOT", 0, maxDepth, &counter), Amount: genAmount(t, scale, "amount"), Scale: scale}
		for i := 0; i < maxDepth; i++ {
			in.Levels = append(in.Levels, genSpec(t, true))
		}
		switch rapid.IntRange(0, 3).Draw(t, "phasing") {
		case 0:
		case 1:
			in.Phasing = &Phasing{Method: PhaseEven}
		default:
			w := make([]decimal.Decimal, Months)
			for j := range w {
				w[j] = decimal.New(rapid.Int64Range(0, 20).Draw(t, "season"), 0)
			}
			in.Phasing = &Phasing{Method: PhaseProfile, Weights: w, ZeroWeight: ZeroWeightEven}
		}
		// Manual amounts and locks are drawn near an unlocked run's result,
		// so that most inputs are feasible.
		base, err := Cascade(in)
		checkTyped(t, err)
		if err != nil {
			infeasible++
			return
		}
		addManualAndLocks(t, &in, base)
		r, err := Cascade(in)
		checkTyped(t, err)
		if err != nil {
			if ErrorCode(err) != EINFEASIBLE {
				t.Fatalf("well-formed input failed: %v", err)
			}
			infeasible++
			return
		}
		ok++
		checkCascade(t, in, r)
		sum := r.Checksum()
		if again, _ := Cascade(in); again.Checksum() != sum {
			t.Fatal("a second run differs")
		}
		shuffled := in
		shuffled.Root = shuffleTree(t, in.Root)
		if r2, err := Cascade(shuffled); err != nil || r2.Checksum() != sum {
			t.Fatalf("shuffled children changed the result (%v)", err)
		}
		k := rapid.SampledFrom([]decimal.Decimal{d("3"), d("0.01"), d("12.5")}).Draw(t, "k")
		scaled := in
		scaled.Root = scaleWeights(in.Root, k)
		if r3, err := Cascade(scaled); err != nil || r3.Checksum() != sum {
			t.Fatalf("scaling the weights by %s changed the result (%v)", k, err)
		}
		var rb *CascadeResult
		withForceBig(func() { rb, err = Cascade(in) })
		if err != nil || rb.Checksum() != sum {
			t.Fatalf("math/big path differs (%v)", err)
		}
		key := r.Key(rapid.IntRange(0, r.Len()-1).Draw(t, "explain"))
		if _, err := r.Explain(key); err != nil {
			t.Fatalf("explain %s: %v", key, err)
		}
	})
	t.Logf("%d feasible cascades checked, %d infeasible", ok, infeasible)
	if ok*5 < ok+infeasible {
		t.Errorf("too few feasible inputs: %d of %d", ok, ok+infeasible)
	}
}

// addManualAndLocks locks some nodes, with or without months, and gives
// manual amounts where a level is Manual, near the amounts of base.
func addManualAndLocks(t *rapid.T, in *CascadeInput, base *CascadeResult) {
	nodes := map[string]*Node{}
	var walk func(n *Node)
	walk = func(n *Node) {
		nodes[n.Key] = n
		for i := range n.Children {
			walk(&n.Children[i])
		}
	}
	in.Root = scaleWeights(in.Root, decimal.NewFromInt(1)) // a deep copy
	walk(&in.Root)
	for i := 1; i < base.Len(); i++ {
		key := base.Key(i)
		level := in.Levels[base.Depth(base.Parent(i))]
		year := base.Year(i).Decimal()
		nudge := decimal.Zero
		if rapid.IntRange(0, 3).Draw(t, "nudged") == 0 {
			nudge = decimal.New(rapid.Int64Range(-3, 3).Draw(t, "nudge"), -in.Scale)
		}
		switch rapid.IntRange(0, 5).Draw(t, "what") {
		case 0:
			in.Locks = append(in.Locks, Lock{Key: key, Amount: year.Add(nudge)})
		case 1:
			if in.Phasing == nil {
				continue
			}
			months := make([]decimal.Decimal, Months)
			for j := range months {
				months[j] = base.Month(i, j+1).Decimal()
			}
			months[0] = months[0].Add(nudge)
			in.Locks = append(in.Locks, Lock{Key: key, Amount: year.Add(nudge), Months: months})
		case 2, 3:
			if level.Method == Manual {
				m := year.Add(nudge)
				nodes[key].Manual = &m
			}
		}
	}
}
