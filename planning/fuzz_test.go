package planning_test

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// These fuzz targets cover the parsers every request's numbers, months and
// cursors go through. CI runs each for a bounded time:
//
//	go test -run '^$' -fuzz '^FuzzParseAmount$' -fuzztime 20s ./planning

// plainDecimal is the only syntax ParseAmount may accept.
var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]+)(\.([0-9]+))?$`)

// canonicalDecimal is what decimal.Decimal.String prints for a plain
// decimal: no plus sign, no leading zeros, no trailing zeros after the
// point, no point without digits after it, and zero without a sign.
func canonicalDecimal(s string) string {
	m := plainDecimal.FindStringSubmatch(s)
	neg := strings.HasPrefix(s, "-")
	intPart := strings.TrimLeft(m[1], "0")
	if intPart == "" {
		intPart = "0"
	}
	frac := strings.TrimRight(m[3], "0")
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// significantDigits counts the digits of a plainDecimal match between its
// first and last non-zero digit, roughly: leading zeros of the integer part
// and trailing zeros of the fraction do not count.
func significantDigits(m []string) int {
	return len(strings.TrimLeft(m[1], "0")) + len(strings.TrimRight(m[3], "0"))
}

func FuzzParseAmount(f *testing.F) {
	for _, seed := range []struct {
		s     string
		scale int32
	}{
		{"1250000.50", 2}, {"-1250000.50", 2}, {"+7", 0}, {"0", 2}, {"-0.00", 2}, {"000123.4500", 4},
		{"1.005", 2}, {"1e3", 2}, {"1E-2", 2}, {"NaN", 2}, {"Infinity", 2}, {"-Inf", 2}, {"1e400", 6},
		{" 1", 2}, {"1 ", 2}, {"1,000.00", 2}, {".5", 2}, {"5.", 2}, {"-", 2}, {"+", 2}, {"", 2},
		{"-+5", 2}, {"+-5", 2}, {"--5", 2}, {"0x10", 2}, {"１２", 2}, {"1_000", 2},
		{strings.Repeat("9", 30), 0}, {strings.Repeat("9", 31), 0}, {strings.Repeat("0", 40) + "1", 0},
		{"0." + strings.Repeat("0", 5) + "1", 6}, {"5", -1}, {"5", math.MaxInt32}, {"5.5", math.MinInt32},
	} {
		f.Add(seed.s, seed.scale)
	}
	f.Fuzz(func(t *testing.T, s string, scale int32) {
		d, err := planning.ParseAmount(s, scale)
		m := plainDecimal.FindStringSubmatch(s)
		if err != nil {
			// Refusing is right unless s is a plain decimal within the
			// scale and the digit limit.
			if m != nil && int64(len(m[3])) <= int64(scale) && significantDigits(m) <= planning.MaxAmountDigits {
				t.Fatalf("ParseAmount(%q, %d) refused a plain decimal: %v", s, scale, err)
			}
			return
		}
		if m == nil {
			t.Fatalf("ParseAmount(%q, %d) accepted something that is not a plain decimal: %s", s, scale, d)
		}
		if int64(len(m[3])) > int64(scale) || -int64(d.Exponent()) > int64(scale) {
			t.Fatalf("ParseAmount(%q, %d) = %s keeps more places than the scale", s, scale, d)
		}
		if n := significantDigits(m); n > planning.MaxAmountDigits {
			t.Fatalf("ParseAmount(%q, %d) accepted %d digits", s, scale, n)
		}
		if got, want := d.String(), canonicalDecimal(s); got != want {
			t.Fatalf("ParseAmount(%q, %d) = %s, want the canonical %s", s, scale, got, want)
		}
		if !d.Equal(decimal.RequireFromString(s)) {
			t.Fatalf("ParseAmount(%q, %d) = %s disagrees with decimal", s, scale, d)
		}
		// The form every response uses parses back to the same amount.
		if scale <= planning.MaxScale {
			out := planning.FormatAmount(d, scale)
			back, err := planning.ParseAmount(out, scale)
			if err != nil || !back.Equal(d) {
				t.Fatalf("FormatAmount(%s, %d) = %q does not parse back: %s %v", d, scale, out, back, err)
			}
		}
	})
}

func FuzzPeriodOf(f *testing.F) {
	for _, seed := range []struct {
		year, first int
		month       string
	}{
		{2027, 1, "2027-01"}, {2027, 4, "2028-03"}, {2027, 4, "2027-03"}, {2027, 12, "2028-11"},
		{2027, 4, "2027-13"}, {2027, 4, "2027-00"}, {2027, 4, "2027-4"}, {2027, 4, "-027-04"},
		{2027, 4, "2027--4"}, {2027, 4, "+027-04"}, {2027, 4, "2027-+4"}, {2027, 4, "2027/04"},
		{2027, 4, " 2027-04"}, {2027, 4, "2027-04 "}, {2027, 4, "２０２７-04"}, {2999, 12, "3000-11"},
		{1900, 1, "1900-01"}, {0, 0, "0000-00"}, {-5, 13, "2027-04"}, {math.MaxInt, math.MinInt, "9999-12"},
	} {
		f.Add(seed.year, seed.first, seed.month)
	}
	f.Fuzz(func(t *testing.T, year, first int, month string) {
		// Any round, valid or not, must not make PeriodOf panic.
		_, _ = (&planning.Round{FiscalYear: year, FirstMonth: first}).PeriodOf(month)

		// For a valid round, accepted months map back with MonthLabel and
		// every month of the year is accepted as its own period.
		r := &planning.Round{FiscalYear: 1900 + int(uint(year)%1100), FirstMonth: 1 + int(uint(first)%12)}
		p, err := r.PeriodOf(month)
		if err == nil {
			if p < 1 || p > 12 {
				t.Fatalf("round %d/%d: PeriodOf(%q) = %d", r.FiscalYear, r.FirstMonth, month, p)
			}
			if got := r.MonthLabel(p); got != month {
				t.Fatalf("round %d/%d: PeriodOf(%q) = %d, whose label is %q", r.FiscalYear, r.FirstMonth, month, p, got)
			}
		}
		for q := 1; q <= 12; q++ {
			label := r.MonthLabel(q)
			if got, err := r.PeriodOf(label); err != nil || got != q {
				t.Fatalf("round %d/%d: PeriodOf(MonthLabel(%d) = %q) = %d, %v", r.FiscalYear, r.FirstMonth, q, label, got, err)
			}
		}
	})
}

func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2027-06", "1900-01", "2999-12", "1899-12", "3000-01", "2027-13", "2027-00", "2027-6", "+027-06", "2027-+6", "", "２０２７-06"} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])$`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := planning.ParseMonth(s)
		if (err == nil) != valid.MatchString(s) {
			t.Fatalf("ParseMonth(%q) = %q, %v", s, got, err)
		}
		if err == nil && got != s {
			t.Fatalf("ParseMonth(%q) changed it to %q", s, got)
		}
	})
}

func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "MQ", "L2EvMy8", planning.EncodeCursor("/1/4/\x1fPOS\x1frevenue"), "!!!", "AA", "__4", "MQ==", "MR",
		planning.EncodeCursor(strings.Repeat("k", 256)), planning.EncodeCursor(strings.Repeat("k", 257)), "'; DROP TABLE rounds; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		key, err := planning.DecodeCursor(c)
		switch {
		case err != nil:
			if planning.ErrorCode(err) != planning.EINVALID || key != "" {
				t.Fatalf("DecodeCursor(%q) = %q, %v", c, key, err)
			}
		case c == "":
			if key != "" {
				t.Fatalf("DecodeCursor(\"\") = %q", key)
			}
		default:
			if key == "" || len(key) > 256 || !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
				t.Fatalf("DecodeCursor(%q) accepted the key %q", c, key)
			}
			if again, err := planning.DecodeCursor(planning.EncodeCursor(key)); err != nil || again != key {
				t.Fatalf("key %q does not survive re-encoding: %q %v", key, again, err)
			}
		}
		// Every key a list makes (any non-empty text of at most 256 bytes
		// without NUL) round-trips.
		if k := c; k != "" && len(k) <= 256 && utf8.ValidString(k) && strings.IndexByte(k, 0) < 0 {
			if got, err := planning.DecodeCursor(planning.EncodeCursor(k)); err != nil || got != k {
				t.Fatalf("EncodeCursor(%q) decodes to %q, %v", k, got, err)
			}
		}
	})
}
