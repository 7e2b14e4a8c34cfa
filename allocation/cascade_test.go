package allocation

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// org builds the test tree: a company with two regions, the first with two
// branches of two teams, the second with one branch and no teams.
func org() Node {
	w := d
	return Node{Key: "CO", Children: []Node{
		{Key: "EAST", Weight: w("60"), Children: []Node{
			{Key: "SH", Weight: w("2"), Children: []Node{{Key: "SH-KA", Weight: w("3")}, {Key: "SH-CH", Weight: w("1")}}},
			{Key: "JS", Weight: w("1"), Children: []Node{{Key: "JS-KA", Weight: w("1")}, {Key: "JS-CH", Weight: w("1")}}},
		}},
		{Key: "NORTH", Weight: w("40"), Children: []Node{{Key: "BJ", Weight: w("1")}}},
	}}
}

var profile = ints(1, 12)

func TestCascade(t *testing.T) {
	prop := Spec{Method: Proportional}
	even := Spec{Method: Even}
	phased := &Phasing{Method: PhaseProfile, Weights: profile}
	tests := []struct {
		name  string
		in    CascadeInput
		years map[string]string // exact expectations, by key
		code  string
		field string
		key   string
	}{
		{name: "years only, even", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{even, even, even}},
			years: map[string]string{"EAST": "500.00", "NORTH": "500.00", "JS": "250.00", "SH": "250.00", "BJ": "500.00", "SH-KA": "125.00"}},
		{name: "proportional and phased", in: CascadeInput{Root: org(), Amount: d("1000000.00"), Scale: 2, Levels: []Spec{prop, prop, prop}, Phasing: phased},
			years: map[string]string{"EAST": "600000.00", "NORTH": "400000.00", "SH": "400000.00", "JS": "200000.00", "SH-KA": "300000.00"}},
		{name: "buffers per level", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2,
			Levels: []Spec{{Method: Proportional, Buffer: d("0.10")}, {Method: Proportional}, {Method: Proportional, Buffer: d("0.125")}}, Phasing: phased},
			years: map[string]string{"EAST": "660.00", "NORTH": "440.00", "SH": "440.00", "SH-KA": "371.25", "SH-CH": "123.75"}},
		{name: "buffer 0%", in: CascadeInput{Root: org(), Amount: d("999.99"), Scale: 2,
			Levels: []Spec{{Method: Even, Buffer: d("0")}, even, even}, Phasing: &Phasing{Method: PhaseEven}}},
		{name: "negative amount", in: CascadeInput{Root: org(), Amount: d("-12345.67"), Scale: 2,
			Levels: []Spec{prop, {Method: Proportional, Buffer: d("0.1")}, prop}, Phasing: phased}},
		{name: "units at scale 0", in: CascadeInput{Root: org(), Amount: d("17"), Scale: 0, Levels: []Spec{prop, even, prop}, Phasing: phased}},
		{name: "locked year", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{prop, prop, prop}, Phasing: phased,
			Locks: []Lock{{Key: "SH", Amount: d("100.00")}}},
			years: map[string]string{"SH": "100.00", "JS": "500.00", "SH-KA": "75.00"}},
		{name: "locked year and months", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{prop, prop, prop}, Phasing: phased,
			Locks: []Lock{{Key: "SH", Amount: d("120.00"), Months: decs("10", "10", "10", "10", "10", "10", "10", "10", "10", "10", "10", "10")}}},
			years: map[string]string{"SH": "120.00", "JS": "480.00"}},
		{name: "locks covering every sibling", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{prop, prop, prop}, Phasing: phased,
			Locks: []Lock{{Key: "EAST", Amount: d("700.00")}, {Key: "NORTH", Amount: d("300.00")}}},
			years: map[string]string{"EAST": "700.00", "NORTH": "300.00", "BJ": "300.00"}},
		{name: "locked children cancelling their parent", in: CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{prop, prop, even}, Phasing: phased,
			Locks: []Lock{{Key: "SH-KA", Amount: d("50.00"), Months: decs("50", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0")}}},
			years: map[string]string{"SH": "400.00", "SH-KA": "50.00", "SH-CH": "350.00"}},
		{name: "manual level with even residual", in: CascadeInput{Root: func() Node {
			n := org()
			n.Children[0].Manual = dp("700.00")
			return n
		}(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{{Method: Manual, Residual: ResidualEven}, prop, prop}, Phasing: phased},
			years: map[string]string{"EAST": "700.00", "NORTH": "300.00"}},
		{name: "a leaf root", in: CascadeInput{Root: Node{Key: "CO"}, Amount: d("1.00"), Scale: 2, Phasing: phased}},
		{name: "beyond int64", in: CascadeInput{Root: org(), Amount: d("123456789012345678901234.56"), Scale: 2,
			Levels: []Spec{prop, {Method: Proportional, Buffer: d("0.125")}, prop}, Phasing: phased, Locks: []Lock{{Key: "JS-KA", Amount: d("1.00")}}}},
		{name: "near int64", in: CascadeInput{Root: org(), Amount: d("92233720368547758.07"), Scale: 2,
			Levels: []Spec{prop, {Method: Proportional, Buffer: d("0.5")}, prop}, Phasing: phased}},
		// errors
		{name: "missing level", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop}},
			code: EINVALID, field: "levels", key: "JS"},
		{name: "key used twice", in: CascadeInput{Root: func() Node {
			n := org()
			n.Children[1].Children[0].Key = "SH"
			return n
		}(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}},
			code: EINVALID, field: "root.children[1].children[0].key", key: "SH"},
		{name: "siblings with one key", in: CascadeInput{Root: Node{Key: "CO", Children: []Node{{Key: "A"}, {Key: "A"}}}, Amount: d("1"), Scale: 0, Levels: []Spec{even}},
			code: EINVALID, field: "root.children[1].key", key: "A"},
		{name: "empty root key", in: CascadeInput{Root: Node{}, Amount: d("1"), Scale: 0}, code: EINVALID, field: "root.key"},
		{name: "empty child key", in: CascadeInput{Root: Node{Key: "CO", Children: []Node{{Key: "A"}, {}}}, Amount: d("1"), Scale: 0, Levels: []Spec{even}},
			code: EINVALID, field: "root.children[1].key"},
		{name: "lock on an unknown key", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Locks: []Lock{{Key: "XX"}}},
			code: EINVALID, field: "locks[0].key", key: "XX"},
		{name: "lock on the root", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Locks: []Lock{{Key: "CO"}}},
			code: EINVALID, field: "locks[0].key", key: "CO"},
		{name: "lock twice", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Locks: []Lock{{Key: "SH"}, {Key: "SH"}}},
			code: EINVALID, field: "locks[1].key", key: "SH"},
		{name: "locked months without phasing", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop},
			Locks: []Lock{{Key: "SH", Months: make([]decimal.Decimal, 12)}}}, code: EINVALID, field: "locks[0].months", key: "SH"},
		{name: "locked months of the wrong number", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Phasing: phased,
			Locks: []Lock{{Key: "SH", Months: make([]decimal.Decimal, 11)}}}, code: EINVALID, field: "locks[0].months", key: "SH"},
		{name: "locked months not adding up", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Phasing: phased,
			Locks: []Lock{{Key: "SH", Amount: d("2"), Months: make([]decimal.Decimal, 12)}}}, code: EINVALID, field: "locks[0].months", key: "SH"},
		{name: "lock with more places", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop},
			Locks: []Lock{{Key: "SH", Amount: d("0.5")}}}, code: EINVALID, field: "locks[0].amount", key: "SH"},
		{name: "lock exceeding its parent", in: CascadeInput{Root: org(), Amount: d("1000"), Scale: 0, Levels: []Spec{prop, prop, prop},
			Locks: []Lock{{Key: "SH", Amount: d("601")}}}, code: EINFEASIBLE, field: "root.children[0].children", key: "EAST"},
		{name: "locked months the siblings cannot absorb", in: CascadeInput{Root: org(), Amount: d("12"), Scale: 0, Levels: []Spec{prop, prop, prop}, Phasing: &Phasing{Method: PhaseEven},
			Locks: []Lock{{Key: "BJ", Amount: d("12"), Months: decs("12", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0")}}},
			code: EINFEASIBLE, field: "root.children[1].children", key: "NORTH"},
		{name: "report residual in a cascade", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0,
			Levels: []Spec{{Method: Manual, Residual: ResidualReport}, prop, prop}}, code: EINVALID, field: "levels[0].residual"},
		{name: "manual amount under a proportional level", in: CascadeInput{Root: func() Node {
			n := org()
			n.Children[0].Children[1].Manual = dp("5")
			return n
		}(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}}, code: EINVALID, field: "root.children[0].children[1].manual", key: "JS"},
		{name: "locked and manual node", in: CascadeInput{Root: func() Node {
			n := org()
			n.Children[0].Manual = dp("5")
			return n
		}(), Amount: d("10"), Scale: 0, Levels: []Spec{{Method: Manual, Residual: ResidualEven}, prop, prop}, Locks: []Lock{{Key: "EAST", Amount: d("5")}}},
			code: EINVALID, field: "root.children[0].manual", key: "EAST"},
		{name: "zero weights at a level", in: CascadeInput{Root: Node{Key: "CO", Children: []Node{{Key: "A"}, {Key: "B"}}}, Amount: d("1"), Scale: 0, Levels: []Spec{prop}},
			code: EINFEASIBLE, field: "levels[0].zero_weight", key: "CO"},
		{name: "negative weight", in: CascadeInput{Root: Node{Key: "CO", Children: []Node{{Key: "A", Weight: d("-1")}, {Key: "B"}}}, Amount: d("1"), Scale: 0, Levels: []Spec{prop}},
			code: EINVALID, field: "root.children[0].weight", key: "A"},
		{name: "bad buffer", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, {Method: Even, Buffer: d("-0.1")}, prop}},
			code: EINVALID, field: "levels[1].buffer"},
		{name: "bad phasing", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 0, Levels: []Spec{prop, prop, prop}, Phasing: &Phasing{Method: PhaseProfile}},
			code: EINVALID, field: "phasing.weights"},
		{name: "amount with more places", in: CascadeInput{Root: org(), Amount: d("1.001"), Scale: 2, Levels: []Spec{prop, prop, prop}},
			code: EINVALID, field: "amount", key: "CO"},
		{name: "bad scale", in: CascadeInput{Root: org(), Amount: d("1"), Scale: 30}, code: EINVALID, field: "scale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Cascade(tt.in)
			if tt.code != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field || e.Key != tt.key || e.Message == "" {
					t.Fatalf("error %#v, want code %s field %s key %s", err, tt.code, tt.field, tt.key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkCascade(t, tt.in, r)
			for key, want := range tt.years {
				i, ok := r.Index(key)
				if !ok || r.Year(i).String() != want {
					t.Errorf("%s = %s, want %s", key, r.Year(i), want)
				}
			}
			all, err := r.Explanations()
			if err != nil || len(all) != r.Len() {
				t.Fatalf("explanations: %v", err)
			}
			for i := 0; i < r.Len(); i++ {
				ne, err := r.Explain(r.Key(i))
				if err == nil && fmt.Sprint(*ne) != fmt.Sprint(all[i]) {
					t.Fatalf("Explain(%s) = %+v, Explanations()[%d] = %+v", r.Key(i), *ne, i, all[i])
				}
				if err != nil {
					t.Fatalf("explain %s: %v", r.Key(i), err)
				}
				if ne.Key != r.Key(i) || !ne.Year.Amount.Equal(r.Year(i)) || ne.Year.Reason == "" {
					t.Fatalf("explanation %+v", ne)
				}
				if r.Phased() && len(ne.Months) != Months {
					t.Fatalf("explanation of %s has %d months", ne.Key, len(ne.Months))
				}
				for j, e := range ne.Months {
					if !e.Amount.Equal(r.Month(i, j+1)) || e.Reason == "" {
						t.Fatalf("month explanation %+v", e)
					}
				}
			}
		})
	}
}

func TestCascadeOrderAndAccessors(t *testing.T) {
	in := CascadeInput{Root: org(), Amount: d("1000.00"), Scale: 2, Levels: []Spec{{Method: Proportional}, {Method: Proportional}, {Method: Even}},
		Phasing: &Phasing{Method: PhaseProfile, Weights: profile}}
	r, err := Cascade(in)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, n := range r.Nodes() {
		keys = append(keys, n.Key+"<"+n.Parent)
	}
	want := "[CO< EAST<CO NORTH<CO JS<EAST SH<EAST BJ<NORTH JS-CH<JS JS-KA<JS SH-CH<SH SH-KA<SH]"
	if fmt.Sprint(keys) != want {
		t.Fatalf("order %v, want %s", keys, want)
	}
	// Shuffled input order gives the very same result.
	shuffled := in
	shuffled.Root = org()
	c := shuffled.Root.Children
	c[0], c[1] = c[1], c[0]
	c[1].Children[0], c[1].Children[1] = c[1].Children[1], c[1].Children[0]
	r2, err := Cascade(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if r.Checksum() != r2.Checksum() || fmt.Sprint(r.Nodes()) != fmt.Sprint(r2.Nodes()) {
		t.Fatal("shuffled input changed the result")
	}
	cells := 0
	for c := range r.Cells() {
		if c.Key != r.Key(c.Node) || c.Month < 1 || c.Month > 12 || !c.Amount.Equal(r.Month(c.Node, c.Month)) {
			t.Fatalf("cell %+v", c)
		}
		cells++
	}
	if cells != r.Len()*Months {
		t.Fatalf("%d cells", cells)
	}
	for c := range r.Cells() {
		if c.Node > 0 {
			break // stopping early is allowed
		}
	}
	if first, n := r.Children(0); first != 1 || n != 2 || r.Depth(first) != 1 || r.Parent(0) != -1 || r.Scale() != 2 {
		t.Fatal("accessors")
	}
	if _, ok := r.Index("nope"); ok {
		t.Fatal("unknown key found")
	}
	if _, err := r.Explain("nope"); ErrorCode(err) != EINVALID {
		t.Fatalf("explain unknown: %v", err)
	}
	root, _ := r.Explain("CO")
	if root.Year.Basis != BasisGiven || root.Months[11].Basis != BasisProfile || root.Parent != "" {
		t.Fatalf("root explanation %+v", root)
	}
	ka, _ := r.Explain("SH-KA")
	if ka.Parent != "SH" || ka.Year.Basis != BasisEven || ka.Months[0].Basis != BasisPhased || !strings.Contains(ka.Months[0].Reason, "month") {
		t.Fatalf("explanation %+v", ka)
	}

	years := in
	years.Phasing = nil
	ry, err := Cascade(years)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for c := range ry.Cells() {
		if c.Month != 0 || !c.Amount.Equal(ry.Year(c.Node)) {
			t.Fatalf("year cell %+v", c)
		}
		n++
	}
	if n != ry.Len() || ry.Phased() || ry.Node(0).Months != nil {
		t.Fatal("unphased cells")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Month on an unphased cascade should panic")
		}
	}()
	ry.Month(0, 1)
}

func TestCascadeBigCells(t *testing.T) {
	in := CascadeInput{Root: org(), Amount: d("92233720368547758.07"), Scale: 2,
		Levels:  []Spec{{Method: Even, Buffer: d("2")}, {Method: Even}, {Method: Even}},
		Phasing: &Phasing{Method: PhaseEven}}
	r, err := Cascade(in)
	if err != nil {
		t.Fatal(err)
	}
	checkCascade(t, in, r)
	east, _ := r.Index("EAST")
	if _, ok := r.Year(east).Minor(); ok || r.Year(east).String() != "138350580552821637.11" {
		t.Fatalf("EAST = %s", r.Year(east))
	}
	if got := r.Year(east).Decimal().String(); got != "138350580552821637.11" {
		t.Fatalf("decimal %s", got)
	}
}

func TestCascadeConcurrent(t *testing.T) {
	in := CascadeInput{Root: org(), Amount: d("987654.32"), Scale: 2,
		Levels:  []Spec{{Method: Proportional}, {Method: Proportional, Buffer: d("0.1")}, {Method: Even}},
		Phasing: &Phasing{Method: PhaseProfile, Weights: profile}}
	want, err := Cascade(in)
	if err != nil {
		t.Fatal(err)
	}
	sums := make(chan string, 16)
	for range 16 {
		go func() {
			r, err := Cascade(in)
			if err != nil {
				sums <- err.Error()
				return
			}
			sums <- r.Checksum()
		}()
	}
	for range 16 {
		if got := <-sums; got != want.Checksum() {
			t.Fatalf("concurrent run gave %s, want %s", got, want.Checksum())
		}
	}
}
