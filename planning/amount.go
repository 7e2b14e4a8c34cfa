package planning

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxAmountDigits is the most significant digits an amount may have, before
// and after the point together. It keeps every amount inside PostgreSQL's
// numeric and far from any arithmetic blow-up.
const MaxAmountDigits = 30

// ParseAmount parses a plain decimal string such as "-1250000.50" kept at
// scale decimal places. It accepts an optional sign, digits and at most scale
// digits after the point; it refuses exponents, NaN, Infinity, spaces, more
// places than the scale (amounts are never silently rounded) and more than
// MaxAmountDigits digits.
func ParseAmount(s string, scale int32) (decimal.Decimal, error) {
	if err := checkAmountSyntax(s, scale); err != nil {
		return decimal.Decimal{}, err
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("is not a decimal number")
	}
	return d, nil
}

func checkAmountSyntax(s string, scale int32) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	body := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, hasPoint := strings.Cut(body, ".")
	if intPart == "" || (hasPoint && frac == "") {
		return fmt.Errorf("must be a plain decimal number such as \"1250.00\"")
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return fmt.Errorf("must be a plain decimal number such as \"1250.00\" (no exponent, spaces or symbols)")
			}
		}
	}
	if int32(len(frac)) > scale {
		return fmt.Errorf("has %d decimal places; this measure keeps %d", len(frac), scale)
	}
	// Zeros before the first and after the last significant digit do not
	// count: "1000.000" has the digits of "1000", so an amount accepted once
	// is accepted again as FormatAmount writes it, at its scale.
	if len(strings.TrimLeft(intPart, "0"))+len(strings.TrimRight(frac, "0")) > MaxAmountDigits {
		return fmt.Errorf("has more than %d digits", MaxAmountDigits)
	}
	return nil
}

// MaxStoredDigits is the most digits a stored amount may have at its
// measure's scale: a target of 1,000,000.00 CNY has 9. The bound keeps
// every amount, in minor units, well inside a 64-bit integer, which is how
// the embedded SQLite adds amounts up exactly.
const MaxStoredDigits = 18

// CheckStoredAmount refuses an amount whose minor units at scale would have
// more than MaxStoredDigits digits.
func CheckStoredAmount(d decimal.Decimal, scale int32) error {
	if len(d.Abs().Truncate(0).String())+int(scale) > MaxStoredDigits && !d.Truncate(0).IsZero() {
		return fmt.Errorf("is too large: an amount may have at most %d digits at its measure's scale of %d", MaxStoredDigits, scale)
	}
	return nil
}

// FormatAmount renders d at exactly scale decimal places, the form every
// amount takes in the API and in files. An amount held at its scale in
// at most 18 digits (every stored amount, see MaxStoredDigits) is written
// from its integer of minor units, without big-number arithmetic.
func FormatAmount(d decimal.Decimal, scale int32) string {
	if d.Exponent() == -scale && scale >= 0 && scale <= MaxStoredDigits && d.NumDigits() <= MaxStoredDigits {
		var buf [40]byte
		return string(AppendMinor(buf[:0], d.CoefficientInt64(), scale))
	}
	return d.StringFixed(scale)
}

// AppendAmount appends FormatAmount(d, scale) to dst.
func AppendAmount(dst []byte, d decimal.Decimal, scale int32) []byte {
	if d.Exponent() == -scale && scale >= 0 && scale <= MaxStoredDigits && d.NumDigits() <= MaxStoredDigits {
		return AppendMinor(dst, d.CoefficientInt64(), scale)
	}
	return append(dst, d.StringFixed(scale)...)
}

// AppendMinor appends an amount of minor units at scale decimal places
// (12345 at scale 2 is "123.45") to dst, as FormatAmount writes it; scale
// is at most MaxStoredDigits.
func AppendMinor(dst []byte, minor int64, scale int32) []byte {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
		dst = append(dst, '-')
	}
	var digits [24]byte
	n := len(digits)
	for u > 0 || n > len(digits)-int(scale)-1 {
		n--
		digits[n] = byte('0' + u%10)
		u /= 10
	}
	intDigits := len(digits) - n - int(scale)
	dst = append(dst, digits[n:n+intDigits]...)
	if scale > 0 {
		dst = append(dst, '.')
		dst = append(dst, digits[n+intDigits:]...)
	}
	return dst
}

// ParseMinor reads a stored amount, a plain decimal with at most scale
// places and at most MaxStoredDigits digits such as "-1250.5", as minor
// units at scale (-125050 at scale 2). ok is false for any other text; the
// caller then parses it as a decimal.
func ParseMinor(s string, scale int32) (minor int64, ok bool) {
	if scale < 0 || scale > MaxStoredDigits {
		return 0, false
	}
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var v uint64 // at most MaxStoredDigits digits: no overflow
	digits, places, point := 0, int32(0), false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !point:
			point = true
		case c >= '0' && c <= '9':
			if point {
				places++
				if places > scale {
					return 0, false
				}
			}
			if v != 0 || c != '0' {
				digits++
			}
			v = v*10 + uint64(c-'0')
		default:
			return 0, false
		}
		if digits > MaxStoredDigits {
			return 0, false
		}
	}
	start := 0
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		start = 1
	}
	if len(s) == start || s[start] == '.' || s[len(s)-1] == '.' {
		return 0, false
	}
	if v != 0 && digits+int(scale-places) > MaxStoredDigits {
		return 0, false
	}
	for ; places < scale; places++ {
		v *= 10
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}
