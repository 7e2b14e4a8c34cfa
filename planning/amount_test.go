package planning_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

func TestCheckStoredAmount(t *testing.T) {
	cases := []struct {
		name   string
		amount string
		scale  int32
		ok     bool
	}{
		{"a million yuan", "1000000.00", 2, true},
		{"sixteen digits before the point at scale 2", "9999999999999999.99", 2, true},
		{"seventeen digits before the point at scale 2", "10000000000000000", 2, false},
		{"negative at the bound", "-9999999999999999.99", 2, true},
		{"units at the bound", "999999999999999999", 0, true},
		{"units beyond", "1000000000000000000", 0, false},
		{"a fraction is never too large", "0.123456", 6, true},
		{"scale 6 leaves twelve digits", "1000000000000", 6, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := planning.CheckStoredAmount(decimal.RequireFromString(tc.amount), tc.scale)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckStoredAmount(%s, %d) = %v, want ok=%v", tc.amount, tc.scale, err, tc.ok)
			}
		})
	}
}
