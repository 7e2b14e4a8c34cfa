package allocation

import (
	"math"
	"math/big"
	"math/bits"
)

// num is an exact integer: a count of minor units, a weight, a remainder.
//
// Values that fit in an int64 live in s and b is nil; larger values live in
// b. The representation is canonical (a value that fits is never held in b),
// so two nums are equal exactly when their fields are. Every operation takes
// the int64 path when its operands and result fit, using 128-bit
// intermediates from math/bits, and falls back to math/big otherwise, so the
// common case never allocates and the rare case is still exact.
type num struct {
	s int64
	b *big.Int
}

// forceBig makes every operation take the math/big path. Tests set it to
// prove that both paths give identical results; nothing else touches it.
var forceBig bool

// small returns v as a num.
func small(v int64) num { return num{s: v} }

// fromBig returns x as a num, demoting it to int64 when it fits. It keeps x.
func fromBig(x *big.Int) num {
	if x.IsInt64() {
		return num{s: x.Int64()}
	}
	return num{b: x}
}

// toBig returns a fresh *big.Int holding a.
func (a num) toBig() *big.Int {
	if a.b != nil {
		return new(big.Int).Set(a.b)
	}
	return big.NewInt(a.s)
}

// isSmall reports whether a fits in an int64.
func (a num) isSmall() bool { return a.b == nil }

// sign returns -1, 0 or +1.
func (a num) sign() int {
	if a.b != nil {
		return a.b.Sign()
	}
	switch {
	case a.s < 0:
		return -1
	case a.s > 0:
		return 1
	}
	return 0
}

// isZero reports whether a is zero.
func (a num) isZero() bool { return a.b == nil && a.s == 0 }

// cmp compares a and b and returns -1, 0 or +1.
func (a num) cmp(b num) int {
	if a.b == nil && b.b == nil {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	}
	return a.toBig().Cmp(b.toBig())
}

// add returns a + b.
func (a num) add(b num) num {
	if !forceBig && a.b == nil && b.b == nil {
		s := a.s + b.s
		if (s > a.s) == (b.s > 0) {
			return num{s: s}
		}
	}
	x := a.toBig()
	return fromBig(x.Add(x, b.toBig()))
}

// sub returns a - b.
func (a num) sub(b num) num {
	if !forceBig && a.b == nil && b.b == nil {
		s := a.s - b.s
		if (s < a.s) == (b.s > 0) {
			return num{s: s}
		}
	}
	x := a.toBig()
	return fromBig(x.Sub(x, b.toBig()))
}

// neg returns -a.
func (a num) neg() num {
	if !forceBig && a.b == nil && a.s != math.MinInt64 {
		return num{s: -a.s}
	}
	x := a.toBig()
	return fromBig(x.Neg(x))
}

// abs returns |a|.
func (a num) abs() num {
	if a.sign() < 0 {
		return a.neg()
	}
	return a
}

// mul returns a × b.
func (a num) mul(b num) num {
	if !forceBig && a.b == nil && b.b == nil {
		hi, lo := bits.Mul64(abs64(a.s), abs64(b.s))
		if hi == 0 {
			if (a.s < 0) != (b.s < 0) {
				if lo <= 1<<63 {
					return num{s: -int64(lo)}
				}
			} else if lo <= math.MaxInt64 {
				return num{s: int64(lo)}
			}
		}
	}
	x := a.toBig()
	return fromBig(x.Mul(x, b.toBig()))
}

// mulDivFloor returns q = ⌊a×b/d⌋ and r = a×b − q×d, so 0 ≤ r < d. The
// divisor d must be positive. The product is formed in 128 bits, so the
// int64 path serves whenever the quotient fits, whatever the product.
func mulDivFloor(a, b, d num) (q, r num) {
	if !forceBig && a.b == nil && b.b == nil && d.b == nil {
		if q, r, ok := mulDivFloor64(a.s, b.s, d.s); ok {
			return num{s: q}, num{s: r}
		}
	}
	p := a.toBig()
	p.Mul(p, b.toBig())
	rr := new(big.Int)
	p.DivMod(p, d.toBig(), rr) // Euclidean: rr ≥ 0, so p is the floor for d > 0.
	return fromBig(p), fromBig(rr)
}

// divFloor returns q = ⌊a/d⌋ and r = a − q×d for a positive d.
func divFloor(a, d num) (q, r num) { return mulDivFloor(a, small(1), d) }

// mulDivFloor64 is mulDivFloor on int64s; ok is false when the quotient
// does not fit in an int64. It never allocates.
func mulDivFloor64(a, b, d int64) (q, r int64, ok bool) {
	ud := uint64(d)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi >= ud {
		return 0, 0, false
	}
	uq, ur := bits.Div64(hi, lo, ud)
	if (a < 0) != (b < 0) && (hi|lo) != 0 {
		if uq > 1<<63 || (ur != 0 && uq == 1<<63) {
			return 0, 0, false
		}
		if ur != 0 {
			uq++
			ur = ud - ur
		}
		return -int64(uq), int64(ur), true
	}
	if uq > math.MaxInt64 {
		return 0, 0, false
	}
	return int64(uq), int64(ur), true
}

// abs64 returns |a| as a uint64; it is exact for math.MinInt64 too.
func abs64(a int64) uint64 {
	if a < 0 {
		return uint64(-a)
	}
	return uint64(a)
}

// pow10 returns 10^n for n ≥ 0.
func pow10(n int64) num {
	if n < int64(len(pow10Table)) {
		return num{s: pow10Table[n]}
	}
	return fromBig(new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil))
}

var pow10Table = [...]int64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// digits returns the number of decimal digits of |a| (1 for zero).
func (a num) digits() int {
	if a.b == nil {
		u := abs64(a.s)
		n := 1
		for u >= 10 {
			u /= 10
			n++
		}
		return n
	}
	if bl := a.b.BitLen(); bl > 1000 {
		// Only limit checks ask about numbers this long; a lower bound
		// that cannot overflow is all they need.
		return bl * 30103 / 100000
	}
	return len(new(big.Int).Abs(a.b).String())
}

// int returns a as an int. Callers use it only for values proven small
// (deficits, counts); it saturates rather than wrapping if that proof fails.
func (a num) int() int {
	if a.b != nil {
		if a.b.Sign() < 0 {
			return math.MinInt
		}
		return math.MaxInt
	}
	return int(a.s)
}
