package allocation

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// kids returns children with the given keys and no weights.
func kids(keys ...string) []Child {
	c := make([]Child, len(keys))
	for i, k := range keys {
		c[i] = Child{Key: k}
	}
	return c
}

// wkids returns children from "KEY:weight" pairs.
func wkids(pairs ...string) []Child {
	c := make([]Child, len(pairs))
	for i, p := range pairs {
		k, w, _ := strings.Cut(p, ":")
		c[i] = Child{Key: k, Weight: d(w)}
	}
	return c
}

// with returns children with child i changed by f.
func with(c []Child, i int, f func(*Child)) []Child {
	c = append([]Child(nil), c...)
	f(&c[i])
	return c
}

func locked(amount string) func(*Child) { return func(c *Child) { c.Lock = dp(amount) } }
func manual(amount string) func(*Child) { return func(c *Child) { c.Manual = dp(amount) } }

func TestSplit(t *testing.T) {
	even := Spec{Method: Even}
	prop := Spec{Method: Proportional}
	tests := []struct {
		name     string
		total    string
		scale    int32
		children []Child
		spec     Spec
		want     []string // shares in input order
		target   string
		residual string
		code     string
		field    string
	}{
		// even
		{name: "100.00 over 3", total: "100.00", scale: 2, children: kids("A", "B", "C"), spec: even,
			want: []string{"33.34", "33.33", "33.33"}},
		{name: "100.00 over 3, input order does not matter", total: "100.00", scale: 2, children: kids("C", "B", "A"), spec: even,
			want: []string{"33.33", "33.33", "33.34"}},
		{name: "0.01 over 7", total: "0.01", scale: 2, children: kids("G", "F", "E", "D", "C", "B", "A"), spec: even,
			want: []string{"0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.01"}},
		{name: "negative 100.00 over 3", total: "-100.00", scale: 2, children: kids("A", "B", "C"), spec: even,
			want: []string{"-33.34", "-33.33", "-33.33"}},
		{name: "negative 0.01 over 7", total: "-0.01", scale: 2, children: kids("A", "B", "C", "D", "E", "F", "G"), spec: even,
			want: []string{"-0.01", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"}},
		{name: "one child", total: "123.45", scale: 2, children: kids("ONLY"), spec: even, want: []string{"123.45"}},
		{name: "zero total", total: "0", scale: 2, children: kids("A", "B"), spec: even, want: []string{"0.00", "0.00"}},
		{name: "units at scale 0", total: "10", scale: 0, children: kids("A", "B", "C", "D"), spec: even,
			want: []string{"3", "3", "2", "2"}},
		{name: "keys compare byte-wise", total: "0.02", scale: 2, children: kids("b", "B", "a"), spec: even,
			want: []string{"0.00", "0.01", "0.01"}},
		{name: "trailing zeros beyond the scale are fine", total: "1.5000", scale: 2, children: kids("A", "B"), spec: even,
			want: []string{"0.75", "0.75"}},
		// proportional
		{name: "proportional 1:2:3", total: "1000.00", scale: 2, children: wkids("A:1", "B:2", "C:3"), spec: prop,
			want: []string{"166.67", "333.33", "500.00"}},
		{name: "proportional negative total mirrors", total: "-1000.00", scale: 2, children: wkids("A:1", "B:2", "C:3"), spec: prop,
			want: []string{"-166.67", "-333.33", "-500.00"}},
		{name: "proportional equal weights is even", total: "100.00", scale: 2, children: wkids("A:7", "B:7", "C:7"), spec: prop,
			want: []string{"33.34", "33.33", "33.33"}},
		{name: "proportional tie broken by key", total: "0.01", scale: 2, children: wkids("B:1", "A:1"), spec: prop,
			want: []string{"0.00", "0.01"}},
		{name: "proportional weights at mixed places", total: "100.00", scale: 2, children: wkids("A:1.5", "B:2", "C:0.25"), spec: prop,
			want: []string{"40.00", "53.33", "6.67"}},
		{name: "proportional weights at common places give the same", total: "100.00", scale: 2, children: wkids("A:150", "B:200", "C:25"), spec: prop,
			want: []string{"40.00", "53.33", "6.67"}},
		{name: "proportional zero weight gets zero", total: "10.00", scale: 2, children: wkids("A:0", "B:1", "C:1"), spec: prop,
			want: []string{"0.00", "5.00", "5.00"}},
		{name: "all-zero weights fail", total: "10.00", scale: 2, children: wkids("A:0", "B:0"), spec: prop,
			code: EINFEASIBLE, field: "spec.zero_weight"},
		{name: "all-zero weights fall back to even", total: "10.00", scale: 2, children: wkids("A:0", "B:0", "C:0"),
			spec: Spec{Method: Proportional, ZeroWeight: ZeroWeightEven}, want: []string{"3.34", "3.33", "3.33"}},
		{name: "all-zero weights with nothing to split", total: "0.00", scale: 2, children: wkids("A:0", "B:0"), spec: prop,
			want: []string{"0.00", "0.00"}},
		{name: "negative weight", total: "10.00", scale: 2, children: wkids("A:1", "B:-1"), spec: prop,
			code: EINVALID, field: "children[1].weight"},
		{name: "negative weight ignored by even", total: "10.00", scale: 2, children: wkids("A:1", "B:-1"), spec: even,
			want: []string{"5.00", "5.00"}},
		// manual
		{name: "manual adds up", total: "100.00", scale: 2,
			children: with(with(kids("A", "B"), 0, manual("60.00")), 1, manual("40.00")), spec: Spec{Method: Manual},
			want: []string{"60.00", "40.00"}},
		{name: "manual residual fails", total: "100.00", scale: 2,
			children: with(kids("A", "B"), 0, manual("60.00")), spec: Spec{Method: Manual},
			code: EINFEASIBLE, field: "spec.residual"},
		{name: "manual residual reported", total: "100.00", scale: 2,
			children: with(kids("A", "B", "C"), 0, manual("60.00")), spec: Spec{Method: Manual, Residual: ResidualReport},
			want: []string{"60.00", "0.00", "0.00"}, residual: "40.00"},
		{name: "manual residual reported when over", total: "100.00", scale: 2,
			children: with(kids("A", "B"), 0, manual("160.00")), spec: Spec{Method: Manual, Residual: ResidualReport},
			want: []string{"160.00", "0.00"}, residual: "-60.00"},
		{name: "manual residual spread evenly", total: "100.00", scale: 2,
			children: with(kids("A", "B", "C", "D"), 0, manual("70.00")), spec: Spec{Method: Manual, Residual: ResidualEven},
			want: []string{"70.00", "10.00", "10.00", "10.00"}},
		{name: "manual residual spread proportionally", total: "100.00", scale: 2,
			children: with(wkids("A:5", "B:1", "C:2"), 0, manual("70.00")), spec: Spec{Method: Manual, Residual: ResidualProportional},
			want: []string{"70.00", "10.00", "20.00"}},
		{name: "manual exceeding the parent cannot be spread", total: "100.00", scale: 2,
			children: with(kids("A", "B"), 0, manual("120.00")), spec: Spec{Method: Manual, Residual: ResidualEven},
			code: EINFEASIBLE, field: "children"},
		{name: "manual amount under even", total: "100.00", scale: 2,
			children: with(kids("A", "B"), 0, manual("1.00")), spec: even, code: EINVALID, field: "children[0].manual"},
		// locks
		{name: "lock keeps its amount", total: "100.00", scale: 2, children: with(kids("A", "B", "C"), 0, locked("40.00")), spec: even,
			want: []string{"40.00", "30.00", "30.00"}},
		{name: "locks covering everything exactly", total: "100.00", scale: 2,
			children: with(with(kids("A", "B"), 0, locked("40.00")), 1, locked("60.00")), spec: even,
			want: []string{"40.00", "60.00"}},
		{name: "locks covering everything but not the parent", total: "100.00", scale: 2,
			children: with(with(kids("A", "B"), 0, locked("40.00")), 1, locked("50.00")), spec: even,
			code: EINFEASIBLE, field: "children"},
		{name: "locks exceeding the parent", total: "100.00", scale: 2, children: with(kids("A", "B"), 0, locked("100.01")), spec: even,
			code: EINFEASIBLE, field: "children"},
		{name: "locks taking all of the parent", total: "100.00", scale: 2, children: with(kids("A", "B", "C"), 0, locked("100.00")), spec: even,
			want: []string{"100.00", "0.00", "0.00"}},
		{name: "negative lock under a positive parent", total: "100.00", scale: 2, children: with(kids("A", "B", "C"), 0, locked("-20.00")), spec: even,
			want: []string{"-20.00", "60.00", "60.00"}},
		{name: "lock under a negative parent", total: "-100.00", scale: 2, children: with(kids("A", "B", "C"), 0, locked("-40.00")), spec: even,
			want: []string{"-40.00", "-30.00", "-30.00"}},
		{name: "lock exceeding a negative parent", total: "-100.00", scale: 2, children: with(kids("A", "B"), 0, locked("-150.00")), spec: even,
			code: EINFEASIBLE, field: "children"},
		{name: "positive lock under a negative parent", total: "-100.00", scale: 2, children: with(kids("A", "B"), 0, locked("50.00")), spec: even,
			want: []string{"50.00", "-150.00"}},
		{name: "locks under a zero parent must cancel", total: "0.00", scale: 2, children: with(kids("A", "B"), 0, locked("5.00")), spec: even,
			code: EINFEASIBLE, field: "children"},
		{name: "locks under a zero parent that cancel", total: "0.00", scale: 2,
			children: with(with(kids("A", "B", "C"), 0, locked("5.00")), 1, locked("-5.00")), spec: even,
			want: []string{"5.00", "-5.00", "0.00"}},
		{name: "proportional around a lock", total: "100.00", scale: 2, children: with(wkids("A:9", "B:1", "C:2"), 0, locked("70.00")), spec: prop,
			want: []string{"70.00", "10.00", "20.00"}},
		{name: "locked and manual", total: "100.00", scale: 2, children: with(kids("A"), 0, func(c *Child) { c.Lock, c.Manual = dp("1"), dp("1") }),
			spec: Spec{Method: Manual}, code: EINVALID, field: "children[0]"},
		// buffers
		{name: "buffer 0%", total: "100.00", scale: 2, children: kids("A", "B", "C"), spec: Spec{Method: Even, Buffer: d("0")},
			want: []string{"33.34", "33.33", "33.33"}, target: "100.00"},
		{name: "buffer 12.5%", total: "100.00", scale: 2, children: kids("A", "B", "C"), spec: Spec{Method: Even, Buffer: d("0.125")},
			want: []string{"37.50", "37.50", "37.50"}, target: "112.50"},
		{name: "buffer 10% rounds half away from zero", total: "0.05", scale: 2, children: kids("A", "B"), spec: Spec{Method: Even, Buffer: d("0.10")},
			want: []string{"0.03", "0.03"}, target: "0.06"},
		{name: "buffer 10% on a negative total mirrors", total: "-0.05", scale: 2, children: kids("A", "B"), spec: Spec{Method: Even, Buffer: d("0.10")},
			want: []string{"-0.03", "-0.03"}, target: "-0.06"},
		{name: "buffer 12.5% on units", total: "7", scale: 0, children: kids("A", "B"), spec: Spec{Method: Even, Buffer: d("0.125")},
			want: []string{"4", "4"}, target: "8"},
		{name: "buffer with a lock", total: "100.00", scale: 2, children: with(kids("A", "B"), 0, locked("50.00")), spec: Spec{Method: Even, Buffer: d("0.1")},
			want: []string{"50.00", "60.00"}, target: "110.00"},
		{name: "negative buffer", total: "100.00", scale: 2, children: kids("A"), spec: Spec{Method: Even, Buffer: d("-0.1")},
			code: EINVALID, field: "spec.buffer"},
		{name: "buffer with too many places", total: "100.00", scale: 2, children: kids("A"), spec: Spec{Method: Even, Buffer: d("1e-19")},
			code: ETOOLARGE, field: "spec.buffer"},
		// scales and limits
		{name: "more places than the scale", total: "1.005", scale: 2, children: kids("A"), spec: even, code: EINVALID, field: "total"},
		{name: "units with a fraction", total: "1.5", scale: 0, children: kids("A"), spec: even, code: EINVALID, field: "total"},
		{name: "lock with more places than the scale", total: "1.00", scale: 2, children: with(kids("A", "B"), 0, locked("0.001")), spec: even,
			code: EINVALID, field: "children[0].lock"},
		{name: "scale too large", total: "1", scale: 19, children: kids("A"), spec: even, code: EINVALID, field: "scale"},
		{name: "negative scale", total: "1", scale: -1, children: kids("A"), spec: even, code: EINVALID, field: "scale"},
		{name: "max int64 minor units", total: "92233720368547758.07", scale: 2, children: kids("A", "B"), spec: even,
			want: []string{"46116860184273879.04", "46116860184273879.03"}},
		{name: "just beyond int64", total: "92233720368547758.08", scale: 2, children: kids("A", "B"), spec: even,
			want: []string{"46116860184273879.04", "46116860184273879.04"}},
		{name: "min int64 minor units", total: "-92233720368547758.08", scale: 2, children: kids("A", "B", "C"), spec: even,
			want: []string{"-30744573456182586.03", "-30744573456182586.03", "-30744573456182586.02"}},
		{name: "far beyond int64", total: "1000000000000000000000000000000", scale: 0, children: kids("A", "B", "C"), spec: even,
			want: []string{"333333333333333333333333333334", "333333333333333333333333333333", "333333333333333333333333333333"}},
		{name: "beyond int64 proportional", total: "100000000000000000000.00", scale: 2, children: wkids("A:1", "B:2"), spec: prop,
			want: []string{"33333333333333333333.33", "66666666666666666666.67"}},
		{name: "beyond int64 only after the buffer", total: "92233720368547758.07", scale: 2, children: kids("A", "B"), spec: Spec{Method: Even, Buffer: d("0.5")},
			want: []string{"69175290276410818.56", "69175290276410818.55"}, target: "138350580552821637.11"},
		{name: "huge weights", total: "1.00", scale: 2, children: wkids("A:1e40", "B:3e40"), spec: prop,
			want: []string{"0.25", "0.75"}},
		{name: "weights too far apart", total: "1.00", scale: 2, children: wkids("A:1e40", "B:1e-40"), spec: prop,
			code: ETOOLARGE, field: "children[0].weight"},
		{name: "amount too large", total: "1e70", scale: 2, children: kids("A"), spec: even, code: ETOOLARGE, field: "total"},
		// malformed
		{name: "no children", total: "1", scale: 0, children: nil, spec: even, code: EINVALID, field: "children"},
		{name: "empty key", total: "1", scale: 0, children: kids("A", ""), spec: even, code: EINVALID, field: "children[1].key"},
		{name: "duplicate key", total: "1", scale: 0, children: kids("A", "B", "A"), spec: even, code: EINVALID, field: "children[2].key"},
		{name: "unknown method", total: "1", scale: 0, children: kids("A"), spec: Spec{}, code: EINVALID, field: "spec.method"},
		{name: "unknown residual", total: "1", scale: 0, children: kids("A"), spec: Spec{Method: Manual, Residual: 9}, code: EINVALID, field: "spec.residual"},
		{name: "unknown zero-weight option", total: "1", scale: 0, children: kids("A"), spec: Spec{Method: Even, ZeroWeight: 7}, code: EINVALID, field: "spec.zero_weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Split(d(tt.total), tt.scale, tt.children, tt.spec)
			if tt.code != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v, want an *Error with code %s", err, tt.code)
				}
				if e.Code != tt.code || e.Field != tt.field || e.Message == "" {
					t.Fatalf("error %+v, want code %s field %s", e, tt.code, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := fmt.Sprint(amounts(r)); got != fmt.Sprint(tt.want) {
				t.Fatalf("shares %s, want %v", got, tt.want)
			}
			if tt.target != "" && r.Target().String() != tt.target {
				t.Fatalf("target %s, want %s", r.Target(), tt.target)
			}
			if tt.residual != "" && r.Residual().String() != tt.residual {
				t.Fatalf("residual %s, want %s", r.Residual(), tt.residual)
			}
			checkAgainstRef(t, d(tt.total), tt.scale, tt.children, tt.spec, r, err)
			if _, err := r.Explain(); err != nil {
				t.Fatalf("explain: %v", err)
			}
		})
	}
}

// amounts returns a result's shares as strings.
func amounts(r *Result) []string {
	s := make([]string, r.Len())
	for i := range s {
		s[i] = r.Amount(i).String()
	}
	return s
}

func TestSplitTenThousandChildren(t *testing.T) {
	const n = 10_000
	children := make([]Child, n)
	for i := range children {
		children[i] = Child{Key: fmt.Sprintf("K%05d", n-1-i), Weight: d(fmt.Sprint(i%7 + 1))}
	}
	for _, spec := range []Spec{{Method: Even}, {Method: Proportional}} {
		t.Run(spec.Method.String(), func(t *testing.T) {
			total := d("1234567.89")
			r, err := Split(total, 2, children, spec)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstRef(t, total, 2, children, spec, r, err)
			if spec.Method == Even {
				// 123456789 = 12345 × 10000 + 6789: the 6,789 smallest keys get 123.46.
				for i := range children {
					want := "123.45"
					if n-1-i < 6789 {
						want = "123.46"
					}
					if got := r.Amount(i).String(); got != want {
						t.Fatalf("%s got %s, want %s", children[i].Key, got, want)
					}
				}
			}
		})
	}
}

func TestSplitExplain(t *testing.T) {
	r, err := Split(d("100.00"), 2, with(kids("C", "B", "A", "D"), 3, locked("10.00")), Spec{Method: Even})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := r.Explain()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key, amount, quota, floor string
		rule                      Rule
		basis                     Basis
		rank                      int
		tie                       bool
	}{
		{"C", "30.00", "30", "30.00", RuleExact, BasisEven, 0, false},
		{"B", "30.00", "30", "30.00", RuleExact, BasisEven, 0, false},
		{"A", "30.00", "30", "30.00", RuleExact, BasisEven, 0, false},
		{"D", "10.00", "", "10.00", RuleFixed, BasisLocked, 0, false},
	}
	for i, w := range want {
		e := ex[i]
		if e.Key != w.key || e.Amount.String() != w.amount || e.Quota != w.quota || e.Floor.String() != w.floor ||
			e.Rule != w.rule || e.Basis != w.basis || e.Rank != w.rank || e.TieByKey != w.tie || e.Reason == "" {
			t.Errorf("explanation %d = %+v, want %+v", i, e, w)
		}
	}
	r, _ = Split(d("100.00"), 2, kids("C", "B", "A"), Spec{Method: Even})
	ex, _ = r.Explain()
	for i, w := range []struct {
		rule  Rule
		rank  int
		round string
	}{{RuleRoundedDown, 3, "0.00"}, {RuleRoundedDown, 2, "0.00"}, {RuleLargestRemainder, 1, "0.01"}} {
		e := ex[i]
		if e.Rule != w.rule || e.Rank != w.rank || e.Of != 3 || e.Units != 1 || !e.TieByKey || e.Quota != "100/3" ||
			e.Floor.String() != "33.33" || e.Rounding.String() != w.round {
			t.Errorf("explanation %d = %+v", i, e)
		}
	}
	if !strings.Contains(ex[2].Reason, "largest remainder, rank 1 of 3") || !strings.Contains(ex[2].Reason, "tie broken by key") {
		t.Errorf("reason %q", ex[2].Reason)
	}
	r, _ = Split(d("-1000.00"), 2, wkids("A:1", "B:2", "C:3"), Spec{Method: Proportional})
	ex, _ = r.Explain()
	if e := ex[0]; e.Quota != "-1000/6" && e.Quota != "-500/3" || e.Floor.String() != "-166.66" || e.Rounding.String() != "-0.01" || e.TieByKey {
		t.Errorf("negative explanation %+v", ex[0])
	}
	if e := ex[2]; e.Quota != "-500" || e.Rule != RuleExact {
		t.Errorf("exact explanation %+v", ex[2])
	}
	r, _ = Split(d("100.00"), 2, with(kids("A", "B"), 0, manual("30.00")), Spec{Method: Manual, Residual: ResidualReport})
	ex, _ = r.Explain()
	if ex[0].Basis != BasisManual || ex[1].Basis != BasisUnassigned || !strings.Contains(ex[1].Reason, "70.00") {
		t.Errorf("manual explanations %+v", ex)
	}
	r, _ = Split(d("1.00"), 2, wkids("A:0", "B:0", "C:0"), Spec{Method: Proportional, ZeroWeight: ZeroWeightEven})
	ex, _ = r.Explain()
	if ex[0].Basis != BasisEvenFallback {
		t.Errorf("fallback explanation %+v", ex[0])
	}
}

func TestErrorType(t *testing.T) {
	_, err := Split(d("1"), 0, kids("A", "A"), Spec{Method: Even})
	if ErrorCode(err) != EINVALID {
		t.Fatalf("code %q", ErrorCode(err))
	}
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &e) || e.Key != "A" || !strings.Contains(err.Error(), "children[1].key") {
		t.Fatalf("error %v", err)
	}
	if ErrorCode(nil) != "" || ErrorCode(errors.New("other")) != EINTERNAL {
		t.Fatal("ErrorCode of nil or a foreign error")
	}
	if (&Error{Code: EINVALID, Message: "m"}).Error() != "allocation: m" {
		t.Fatal("message without field")
	}
}
