package allocation

import (
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// parseList parses a comma-separated list of decimals, skipping bad items.
func parseList(s string, max int) []decimal.Decimal {
	var out []decimal.Decimal
	for _, f := range strings.Split(s, ",") {
		if x, err := decimal.NewFromString(strings.TrimSpace(f)); err == nil {
			out = append(out, x)
		}
		if len(out) == max {
			break
		}
	}
	return out
}

func FuzzSplit(f *testing.F) {
	f.Add("100.00", int8(2), "1,2,3", uint8(1), "0", "", uint8(0), uint8(0))
	f.Add("-0.01", int8(2), "0,0,0,0,0,0,0", uint8(2), "0.125", "1:0.01", uint8(1), uint8(1))
	f.Add("92233720368547758.07", int8(2), "1e40,3e-10", uint8(2), "0.5", "0:-5", uint8(2), uint8(0))
	f.Add("1e-2000", int8(3), "1.5,2,0.25", uint8(3), "1e-19", "2:7", uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, total string, scale int8, weights string, method uint8, buffer string, fixed string, residual uint8, zero uint8) {
		tot, err := decimal.NewFromString(total)
		if err != nil {
			return
		}
		buf, err := decimal.NewFromString(buffer)
		if err != nil {
			buf = decimal.Zero
		}
		ws := parseList(weights, 64)
		children := make([]Child, len(ws))
		for i, w := range ws {
			children[i] = Child{Key: string(rune('A'+i%26)) + string(rune('a'+i/26)), Weight: w}
		}
		// fixed: "index:amount" pairs; odd indexes lock, even ones are manual.
		for _, p := range strings.Split(fixed, ",") {
			is, as, ok := strings.Cut(p, ":")
			a, err := decimal.NewFromString(as)
			if !ok || err != nil || len(is) != 1 || len(children) == 0 {
				continue
			}
			i := int(is[0]) % len(children)
			if i%2 == 1 {
				children[i].Lock = &a
			} else {
				children[i].Manual = &a
			}
		}
		spec := Spec{Method: Method(method % 4), Residual: Residual(residual % 5), ZeroWeight: ZeroWeight(zero % 3), Buffer: buf}
		r, err := Split(tot, int32(scale), children, spec)
		if err != nil {
			checkTyped(t, err)
			return
		}
		ref := refSplit(tot, int32(scale), children, spec)
		if ref.code != "" {
			t.Fatalf("split succeeded where the reference fails with %s", ref.code)
		}
		sum := new(big.Int)
		for i := range children {
			got := r.Amount(i).BigMinor()
			if got.Cmp(ref.shares[i]) != 0 {
				t.Fatalf("share %d = %s, want %s", i, r.Amount(i), minorString(ref.shares[i], int32(scale)))
			}
			sum.Add(sum, got)
		}
		if sum.Add(sum, r.Residual().BigMinor()).Cmp(r.Target().BigMinor()) != 0 {
			t.Fatalf("shares add up to %s, target %s", sum, r.Target())
		}
		if _, err := r.Explain(); err != nil {
			t.Fatalf("explain: %v", err)
		}
	})
}

func FuzzPhaseTable(f *testing.F) {
	f.Add(int8(2), "8.34,8.34,8.33", "33.34;33.33;-41.66", "0")
	f.Add(int8(0), "0,0,0,0", "5;-3;-2", "")
	f.Add(int8(0), "3,4", "3;4", "1:1,2")
	f.Fuzz(func(t *testing.T, scale int8, columns string, rows string, pinned string) {
		cols := parseList(columns, 12)
		var rs []Row
		for i, s := range strings.Split(rows, ";") {
			if x, err := decimal.NewFromString(strings.TrimSpace(s)); err == nil && len(rs) < 16 {
				rs = append(rs, Row{Key: string(rune('A' + i%26)), Total: x})
			}
		}
		// pinned: "row:cells" pins that row's months.
		if is, cs, ok := strings.Cut(pinned, ":"); ok && len(is) == 1 && len(rs) > 0 {
			rs[int(is[0])%len(rs)].Months = parseList(cs, 16)
		}
		tb, err := PhaseTable(int32(scale), cols, rs)
		if err != nil {
			checkTyped(t, err)
			return
		}
		r, c, cells := tableBig(tb)
		pins := make([][]*big.Int, len(rs))
		for i, row := range rs {
			for _, m := range row.Months {
				pins[i] = append(pins[i], minorOf(m, int32(scale)))
			}
		}
		checkTable(t, r, c, pins, cells, ones(len(c)))
		for i := 0; i < tb.Rows(); i++ {
			if _, err := tb.Explain(i); err != nil {
				t.Fatalf("explain: %v", err)
			}
		}
	})
}

// fuzzTree builds a tree from shape bytes: each byte gives the number of
// children (0–3) of the next node, breadth-first, and a weight.
func fuzzTree(shape []byte) Node {
	root := Node{Key: "R"}
	queue := []*Node{&root}
	count := 0
	for b := 0; b < len(shape) && len(queue) > 0 && count < 200; b++ {
		n := queue[0]
		queue = queue[1:]
		kids := int(shape[b] % 4)
		for k := 0; k < kids; k++ {
			count++
			w := decimal.New(int64(shape[b]>>2)+int64(k%2), -1) // zero only for some siblings
			n.Children = append(n.Children, Node{Key: string(rune('a'+count%26)) + string(rune('0'+count/26)), Weight: w})
		}
		for k := range n.Children {
			queue = append(queue, &n.Children[k])
		}
	}
	return root
}

func FuzzCascade(f *testing.F) {
	f.Add([]byte{2, 3, 1, 2, 0, 6}, "1000.00", int8(2), []byte{1, 0x80, 0}, "0.1", "1,2,3,4,5,6,7,8,9,10,11,12", "c0:5")
	f.Add([]byte{3, 3, 3, 3}, "-12345.67", int8(2), []byte{0, 0x81, 0}, "0.125", "x", "d0:-1")
	f.Add([]byte{1, 1, 1, 1, 1}, "92233720368547758.07", int8(2), []byte{0, 0, 0x81, 0, 0}, "2", "0,0,0,0,0,0,0,0,0,0,0,0", "")
	f.Add([]byte{2, 2, 2, 2, 2, 2, 2}, "17", int8(0), []byte{7, 6, 0x80}, "0.5", "1,0,0,0,0,0,0,0,0,0,0,3", "b0:9,f0:1")
	f.Fuzz(func(t *testing.T, shape []byte, amount string, scale int8, methods []byte, buffer string, season string, locks string) {
		a, err := decimal.NewFromString(amount)
		if err != nil {
			return
		}
		buf, err := decimal.NewFromString(buffer)
		if err != nil {
			buf = decimal.Zero
		}
		in := CascadeInput{Root: fuzzTree(shape), Amount: a, Scale: int32(scale)}
		for i, m := range methods {
			if i == 8 {
				break
			}
			sp := Spec{Method: Method(m%3 + 1), Residual: Residual(m / 3 % 4), ZeroWeight: ZeroWeight(m / 12 % 2)}
			if m&0x80 != 0 {
				sp.Buffer = buf
			}
			in.Levels = append(in.Levels, sp)
		}
		if w := parseList(season, 13); len(w) > 0 {
			in.Phasing = &Phasing{Method: PhaseProfile, Weights: w, ZeroWeight: ZeroWeightEven}
		} else if len(season)%2 == 1 {
			in.Phasing = &Phasing{Method: PhaseEven}
		}
		for _, l := range strings.Split(locks, ",") {
			k, v, ok := strings.Cut(l, ":")
			if x, err := decimal.NewFromString(v); ok && err == nil {
				in.Locks = append(in.Locks, Lock{Key: k, Amount: x})
			}
		}
		r, err := Cascade(in)
		if err != nil {
			checkTyped(t, err)
			return
		}
		checkCascade(t, in, r)
		for i := 0; i < r.Len(); i++ {
			if _, err := r.Explain(r.Key(i)); err != nil {
				t.Fatalf("explain: %v", err)
			}
		}
	})
}
