package spreadsheet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// sigDigits is the precision spreadsheet programs keep numbers at.
const sigDigits = 15

// roundSig rounds d to sigDigits significant digits and drops trailing
// zeros after the point, as a spreadsheet program would show it.
func roundSig(d decimal.Decimal) decimal.Decimal {
	if d.IsZero() {
		return decimal.Zero
	}
	digits := len(strings.TrimLeft(d.Coefficient().String(), "-"))
	intDigits := digits + int(d.Exponent())
	if digits > sigDigits {
		d = d.Round(int32(sigDigits - intDigits))
	}
	return decimal.RequireFromString(d.String())
}

// sheetNumber reads a number as a spreadsheet stores it: plain decimal or
// scientific notation, taken at 15 significant digits. Blank is zero.
func sheetNumber(raw string) (decimal.Decimal, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return decimal.Zero, nil
	}
	for _, r := range raw {
		if !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+' || r == 'E' || r == 'e') {
			return decimal.Decimal{}, fmt.Errorf("is not a number")
		}
	}
	// A spreadsheet number is a double: refuse what a double cannot hold
	// before decimal arithmetic could spell out an exponent of a billion.
	// A double too small to hold is zero, as the program shows it.
	if f, err := strconv.ParseFloat(raw, 64); err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return decimal.Decimal{}, fmt.Errorf("is out of range: a spreadsheet number lies within ±1.8E+308")
		}
		return decimal.Decimal{}, fmt.Errorf("is not a number")
	} else if f == 0 {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(raw)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("is not a number")
	}
	return roundSig(d), nil
}

// amountText turns the raw text of an XLSX amount cell into the plain
// decimal an import checks: a number the program stored in scientific
// notation or with more digits than it keeps (0.30000000000000004) is taken
// at 15 significant digits; anything else is left for the importer's strict
// check, so text such as "1,234" is refused, not guessed at.
func amountText(raw string) string {
	raw = strings.TrimSpace(raw)
	digits := 0
	for _, r := range raw {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if !strings.ContainsAny(raw, "eE") && digits <= sigDigits {
		return raw
	}
	d, err := sheetNumber(raw)
	if err != nil {
		return raw
	}
	return d.String()
}

// numFormat is the number format of amounts kept at scale decimal places:
// thousands separated, exactly scale places.
func numFormat(scale int32) string {
	if scale <= 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", int(scale))
}
