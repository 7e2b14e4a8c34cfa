package allocation

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// TestPropTieToSmallerKey is the tie rule as a rebalance exercises it: a
// parent (with or without a buffer) re-split over its children in
// proportion to their current amounts while one child is locked at a new
// amount, with the months phased. Children with identical weights have
// identical exact quotas; whatever the total, the smaller key never gets
// less than a larger one (for a positive rest; the mirror image for a
// negative one), and they differ by at most one minor unit.
func TestPropTieToSmallerKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := int32(rapid.IntRange(0, 2).Draw(t, "scale"))
		n := rapid.IntRange(2, 7).Draw(t, "n")
		keys := genKeys(t, n, "keys")
		// A few distinct weights, so that several children share one.
		pool := []decimal.Decimal{
			decimal.New(rapid.Int64Range(1, 1e9).Draw(t, "w0"), -scale),
			decimal.New(rapid.Int64Range(1, 1e9).Draw(t, "w1"), -scale),
		}
		kids := make([]Node, n)
		weight := map[string]decimal.Decimal{}
		for i := range kids {
			w := pool[rapid.IntRange(0, 1).Draw(t, "which")]
			kids[i] = Node{Key: keys[i], Weight: w}
			weight[keys[i]] = w
		}
		total := decimal.New(rapid.Int64Range(-1e10, 1e10).Draw(t, "total"), -scale)
		locked := rapid.IntRange(-1, n-1).Draw(t, "locked")
		in := CascadeInput{
			Root: Node{Key: "ROOT", Children: kids}, Amount: total, Scale: scale,
			Levels: []Spec{{Method: Proportional, Buffer: rapid.SampledFrom([]decimal.Decimal{decimal.Zero, d("0.05"), d("0.10")}).Draw(t, "buffer")}},
		}
		if locked >= 0 {
			in.Locks = []Lock{{Key: keys[locked], Amount: decimal.New(rapid.Int64Range(0, 1e9).Draw(t, "lock"), -scale)}}
		}
		if rapid.Bool().Draw(t, "phased") {
			ws := make([]decimal.Decimal, Months)
			for j := range ws {
				ws[j] = decimal.New(rapid.Int64Range(0, 100).Draw(t, "month"), 0)
			}
			ws[0] = ws[0].Add(decimal.NewFromInt(1))
			in.Phasing = &Phasing{Method: PhaseProfile, Weights: ws}
		}
		r, err := Cascade(in)
		if err != nil {
			if ErrorCode(err) == EINFEASIBLE {
				return // the lock exceeds the parent
			}
			t.Fatal(err)
		}
		year := map[string]decimal.Decimal{}
		for i := 1; i < r.Len(); i++ {
			year[r.Key(i)] = r.Year(i).Decimal()
		}
		unit := decimal.New(1, -scale)
		for _, a := range keys {
			for _, b := range keys {
				if a >= b || !weight[a].Equal(weight[b]) || (locked >= 0 && (a == keys[locked] || b == keys[locked])) {
					continue
				}
				ya, yb := year[a], year[b]
				if diff := ya.Sub(yb).Abs(); diff.GreaterThan(unit) || ya.Abs().LessThan(yb.Abs()) {
					t.Fatalf("equal weights, %s got %s and %s got %s: the tie goes to the smaller key (%v)", a, ya, b, yb, fmt.Sprint(year))
				}
			}
		}
	})
}
