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
// amount takes in the API and in files.
func FormatAmount(d decimal.Decimal, scale int32) string {
	return d.StringFixed(scale)
}
