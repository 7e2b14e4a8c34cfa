package allocation

import (
	"math/big"
	"strconv"

	"github.com/shopspring/decimal"
)

// Amount is an exact amount kept as a whole number of minor units at a
// scale: 1234.50 at scale 2 is 123450 minor units. It is a small value type
// that costs no allocation while it fits in an int64 of minor units (about
// ±9.2 × 10^16 at scale 2); beyond that it holds a math/big integer and is
// just as exact.
//
// Results hand out Amounts rather than decimal.Decimal so that iterating a
// million cells allocates nothing; Decimal converts one when a caller needs
// it, and AppendText formats one into a caller's buffer.
type Amount struct {
	v     num
	scale int32
}

// NewAmount returns the amount of minor units at scale: NewAmount(123450, 2)
// is 1234.50. It is mostly useful in tests and examples.
func NewAmount(minor int64, scale int32) Amount {
	return Amount{v: small(minor), scale: scale}
}

// Scale returns the number of decimal places the amount is kept at.
func (a Amount) Scale() int32 { return a.scale }

// Minor returns the amount in minor units and true, or 0 and false when it
// does not fit in an int64 (use BigMinor then).
func (a Amount) Minor() (int64, bool) {
	if a.v.b != nil {
		return 0, false
	}
	return a.v.s, true
}

// BigMinor returns the amount in minor units as a new *big.Int; it always
// works and always allocates.
func (a Amount) BigMinor() *big.Int { return a.v.toBig() }

// Decimal returns the amount as a decimal.Decimal with exactly Scale
// decimal places. It allocates.
func (a Amount) Decimal() decimal.Decimal {
	if a.v.b != nil {
		return decimal.NewFromBigInt(a.v.b, -a.scale)
	}
	return decimal.New(a.v.s, -a.scale)
}

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int { return a.v.sign() }

// IsZero reports whether the amount is zero.
func (a Amount) IsZero() bool { return a.v.isZero() }

// Equal reports whether a and b are the same amount, even at different
// scales (1.5 at scale 1 equals 1.50 at scale 2).
func (a Amount) Equal(b Amount) bool {
	x, y := a.v, b.v
	switch {
	case a.scale < b.scale:
		x = x.mul(pow10(int64(b.scale - a.scale)))
	case a.scale > b.scale:
		y = y.mul(pow10(int64(a.scale - b.scale)))
	}
	return x.cmp(y) == 0
}

// String formats the amount with exactly Scale decimal places, such as
// "-0.05" or "1250000.00", the form amounts take in the API.
func (a Amount) String() string {
	var buf [48]byte
	return string(a.appendTo(buf[:0]))
}

// AppendText appends the String form to b without allocating for amounts
// that fit in an int64 of minor units. It implements encoding.TextAppender.
func (a Amount) AppendText(b []byte) ([]byte, error) { return a.appendTo(b), nil }

// MarshalText implements encoding.TextMarshaler with the String form.
func (a Amount) MarshalText() ([]byte, error) { return a.appendTo(nil), nil }

func (a Amount) appendTo(dst []byte) []byte { return appendMinor(dst, a.v, a.scale) }

// appendMinor formats v minor units at scale.
func appendMinor(dst []byte, v num, scale int32) []byte {
	var digits []byte
	var buf [24]byte
	neg := v.sign() < 0
	if v.b != nil {
		digits = new(big.Int).Abs(v.b).Append(nil, 10)
	} else {
		digits = strconv.AppendUint(buf[:0], abs64(v.s), 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	s := int(scale)
	if len(digits) <= s {
		dst = append(dst, '0')
		if s > 0 {
			dst = append(dst, '.')
			for i := len(digits); i < s; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, digits...)
		}
		return dst
	}
	dst = append(dst, digits[:len(digits)-s]...)
	if s > 0 {
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-s:]...)
	}
	return dst
}
