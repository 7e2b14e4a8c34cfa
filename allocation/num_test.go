package allocation

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// genInt64 draws an int64 that is often at or near the edges.
func genInt64(t *rapid.T, label string) int64 {
	return rapid.OneOf(
		rapid.SampledFrom([]int64{0, 1, -1, 2, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 62, -(1 << 62)}),
		rapid.Int64(),
		rapid.Int64Range(-1000, 1000),
	).Draw(t, label)
}

func TestPropNum(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genInt64(t, "a"), genInt64(t, "b")
		c := genInt64(t, "c")
		if c &= math.MaxInt64; c == 0 { // a positive divisor
			c = 1
		}
		x, y, z := small(a), small(b), small(c)
		ba, bb, bc := big.NewInt(a), big.NewInt(b), big.NewInt(c)
		check := func(what string, got num, want *big.Int) {
			if got.toBig().Cmp(want) != 0 || (got.b != nil && got.b.IsInt64()) {
				t.Fatalf("%s: got %v, want %s", what, got.toBig(), want)
			}
		}
		check("add", x.add(y), new(big.Int).Add(ba, bb))
		check("sub", x.sub(y), new(big.Int).Sub(ba, bb))
		check("mul", x.mul(y), new(big.Int).Mul(ba, bb))
		check("neg", x.neg(), new(big.Int).Neg(ba))
		check("abs", x.abs(), new(big.Int).Abs(ba))
		q, r := mulDivFloor(x, y, z)
		wq, wr := new(big.Int).DivMod(new(big.Int).Mul(ba, bb), bc, new(big.Int))
		check("quotient", q, wq)
		check("remainder", r, wr)
		if x.cmp(y) != ba.Cmp(bb) || x.sign() != ba.Sign() {
			t.Fatal("cmp or sign")
		}
		// Chained through big values and back.
		s := x.mul(y).add(z).sub(x.mul(y))
		check("chain", s, bc)
	})
}

func TestDigits(t *testing.T) {
	for _, tt := range []struct {
		v    num
		want int
	}{{small(0), 1}, {small(9), 1}, {small(-10), 2}, {small(math.MinInt64), 19}, {fromBig(new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil)), 31}} {
		if got := tt.v.digits(); got != tt.want {
			t.Errorf("digits(%s) = %d, want %d", tt.v.toBig(), got, tt.want)
		}
	}
}

func TestPropSelect(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rems := rapid.SliceOfN(rapid.OneOf(rapid.Int64Range(0, 5), rapid.Int64Range(0, math.MaxInt64)), 0, 200).Draw(t, "rems")
		want := rapid.IntRange(0, len(rems)+1).Draw(t, "want")
		order, _ := rank64(nil, nil, rems)
		top, _ := top64(nil, nil, rems, want)
		n := min(want, len(order))
		a := slices.Clone(order[:n])
		b := slices.Clone(top)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Fatalf("top %d of %v: %v, ranking says %v", want, rems, b, a)
		}
		for k := 1; k < len(order); k++ {
			i, j := order[k-1], order[k]
			if rems[i] < rems[j] || rems[i] == rems[j] && i > j || rems[j] <= 0 {
				t.Fatalf("order %v of %v", order, rems)
			}
		}
	})
}

func TestAmount(t *testing.T) {
	beyond, _ := new(big.Int).SetString("-123456789012345678901234", 10)
	for _, tt := range []struct {
		a    Amount
		want string
	}{
		{NewAmount(0, 2), "0.00"},
		{NewAmount(5, 2), "0.05"},
		{NewAmount(-5, 2), "-0.05"},
		{NewAmount(-123450, 2), "-1234.50"},
		{NewAmount(7, 0), "7"},
		{NewAmount(math.MinInt64, 2), "-92233720368547758.08"},
		{NewAmount(1, 18), "0.000000000000000001"},
		{Amount{v: fromBig(beyond), scale: 4}, "-12345678901234567890.1234"},
	} {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String = %s, want %s", got, tt.want)
		}
		if got := tt.a.Decimal(); !got.Equal(d(tt.want)) || got.StringFixed(tt.a.Scale()) != tt.want {
			t.Errorf("Decimal = %s, want %s", got, tt.want)
		}
		if b, _ := tt.a.MarshalText(); string(b) != tt.want {
			t.Errorf("MarshalText = %s", b)
		}
		if _, ok := tt.a.Minor(); ok != tt.a.v.isSmall() || tt.a.BigMinor().Cmp(tt.a.v.toBig()) != 0 {
			t.Errorf("Minor of %s", tt.want)
		}
	}
	if !NewAmount(15, 1).Equal(NewAmount(150, 2)) || NewAmount(15, 1).Equal(NewAmount(15, 2)) || !NewAmount(0, 0).IsZero() || NewAmount(-1, 0).Sign() != -1 {
		t.Error("Equal, IsZero or Sign")
	}
	a := NewAmount(-123450, 2)
	if n := testing.AllocsPerRun(100, func() {
		var buf [32]byte
		_, _ = a.AppendText(buf[:0])
	}); n != 0 {
		t.Errorf("AppendText allocates %v times", n)
	}
}

func TestToMinor(t *testing.T) {
	for _, tt := range []struct {
		d     decimal.Decimal
		scale int32
		want  string
		code  string
	}{
		{d("12.34"), 2, "1234", ""},
		{d("12.3400"), 2, "1234", ""},
		{d("12.345"), 2, "", EINVALID},
		{d("1e3"), 0, "1000", ""},
		{d("-0.5"), 0, "", EINVALID},
		{decimal.New(1, math.MinInt32), 2, "", EINVALID},
		{decimal.New(1, math.MaxInt32), 2, "", ETOOLARGE},
		{decimal.New(0, math.MinInt32), 2, "0", ""},
		{d("1e57"), 2, "1" + fmt.Sprintf("%059d", 0), ""},
		{d("1e58"), 2, "", ETOOLARGE},
		{d("123456789012345678901234567890.12"), 2, "12345678901234567890123456789012", ""},
	} {
		v, err := toMinor(tt.d, tt.scale, "f", "k")
		if tt.code != "" {
			if err == nil || err.Code != tt.code || err.Field != "f" || err.Key != "k" {
				t.Errorf("toMinor(%s) error %v, want %s", show(tt.d), err, tt.code)
			}
			continue
		}
		if err != nil || v.toBig().String() != tt.want {
			t.Errorf("toMinor(%s) = %v, %v; want %s", show(tt.d), v.toBig(), err, tt.want)
		}
	}
}

func TestToFactor(t *testing.T) {
	for _, tt := range []struct {
		b       string
		t, want int64
	}{
		{"0", 101, 101}, {"0.1", 5, 6}, {"0.1", -5, -6}, {"0.1", 4, 4}, {"0.125", 100, 113}, {"2", 7, 21}, {"1e1", 3, 33},
	} {
		f, err := toFactor(d(tt.b), "b")
		if err != nil {
			t.Fatal(err)
		}
		if got := f.apply(small(tt.t)); got.s != tt.want {
			t.Errorf("%d × (1 + %s) = %d, want %d", tt.t, tt.b, got.s, tt.want)
		}
	}
}

func TestKeyIndex(t *testing.T) {
	keys := []string{"a", "b", "c", "a"}
	x := newKeyIndex(len(keys))
	for i := 0; i < 3; i++ {
		if _, ok := x.insert(keys, int32(i)); !ok {
			t.Fatal("insert")
		}
	}
	if prev, ok := x.insert(keys, 3); ok || prev != 0 {
		t.Fatal("duplicate not found")
	}
	if i, ok := x.find(keys, "c"); !ok || i != 2 {
		t.Fatal("find")
	}
	if _, ok := x.find(keys, "z"); ok {
		t.Fatal("found a missing key")
	}
}
