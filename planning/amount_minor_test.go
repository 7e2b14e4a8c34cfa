package planning_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

const maxMinor = 999_999_999_999_999_999 // 18 digits

// TestAppendMinorIsStringFixed checks the integer formatter against
// shopspring's StringFixed for every stored amount: any 18-digit integer
// of minor units at any scale up to 18.
func TestAppendMinorIsStringFixed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minor := rapid.OneOf(rapid.Int64Range(-maxMinor, maxMinor), rapid.Int64Range(-1000, 1000)).Draw(t, "minor")
		scale := rapid.Int32Range(0, 18).Draw(t, "scale")
		want := decimal.New(minor, -scale).StringFixed(scale)
		if got := string(planning.AppendMinor(nil, minor, scale)); got != want {
			t.Fatalf("AppendMinor(%d, %d) = %q, want %q", minor, scale, got, want)
		}
	})
}

// TestFormatAmountIsStringFixed checks FormatAmount, fast path or not,
// against StringFixed for decimals of any exponent and size, rounding
// included.
func TestFormatAmountIsStringFixed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		digits := rapid.StringMatching(`-?[0-9]{1,30}`).Draw(t, "coefficient")
		coef, _ := new(big.Int).SetString(digits, 10)
		exp := rapid.Int32Range(-20, 5).Draw(t, "exp")
		scale := rapid.Int32Range(0, 20).Draw(t, "scale")
		if rapid.Bool().Draw(t, "at scale") {
			exp = -scale
		}
		d := decimal.NewFromBigInt(coef, exp)
		if got, want := planning.FormatAmount(d, scale), d.StringFixed(scale); got != want {
			t.Fatalf("FormatAmount(%s, %d) = %q, want %q", d, scale, got, want)
		}
	})
}

// TestParseMinorIsExact checks ParseMinor against shopspring's parser: an
// amount it reads is the decimal's value in minor units, and every amount
// as the store writes it (at its scale or with fewer places) is read.
func TestParseMinorIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := rapid.Int32Range(0, 8).Draw(t, "scale")
		var s string
		if rapid.Bool().Draw(t, "stored") {
			minor := rapid.Int64Range(-maxMinor, maxMinor).Draw(t, "minor")
			s = decimal.New(minor, -scale).StringFixed(scale)
			if scale > 0 && rapid.Bool().Draw(t, "trim") {
				s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
			}
			if d := decimal.New(minor, -scale); d.NumDigits() <= planning.MaxStoredDigits {
				if got, ok := planning.ParseMinor(s, scale); !ok || got != minor {
					t.Fatalf("ParseMinor(%q, %d) = %d, %v, want %d", s, scale, got, ok, minor)
				}
			}
		} else {
			s = rapid.StringMatching(`[-+]?[0-9]{0,22}(\.[0-9]{0,10})?|[-+.0-9a-e]{0,6}`).Draw(t, "text")
		}
		got, ok := planning.ParseMinor(s, scale)
		if !ok {
			return
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatalf("ParseMinor(%q, %d) read %d; shopspring refuses it: %v", s, scale, got, err)
		}
		if !decimal.New(got, -scale).Equal(d) {
			t.Fatalf("ParseMinor(%q, %d) = %d, want %s", s, scale, got, d)
		}
	})
}
