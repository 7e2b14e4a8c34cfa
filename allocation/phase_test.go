package allocation

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func decs(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = d(s)
	}
	return out
}

func ints(from, to int) []decimal.Decimal {
	var out []decimal.Decimal
	for i := from; i <= to; i++ {
		out = append(out, decimal.NewFromInt(int64(i)))
	}
	return out
}

func TestPhase(t *testing.T) {
	tests := []struct {
		name    string
		total   string
		scale   int32
		phasing Phasing
		want    string
		code    string
		field   string
	}{
		{name: "even, exact", total: "1200.00", scale: 2, phasing: Phasing{Method: PhaseEven},
			want: "[100.00 100.00 100.00 100.00 100.00 100.00 100.00 100.00 100.00 100.00 100.00 100.00]"},
		{name: "even, earlier months take the remainder", total: "100.00", scale: 2, phasing: Phasing{Method: PhaseEven},
			want: "[8.34 8.34 8.34 8.34 8.33 8.33 8.33 8.33 8.33 8.33 8.33 8.33]"},
		{name: "even, negative mirrors", total: "-100.00", scale: 2, phasing: Phasing{Method: PhaseEven},
			want: "[-8.34 -8.34 -8.34 -8.34 -8.33 -8.33 -8.33 -8.33 -8.33 -8.33 -8.33 -8.33]"},
		{name: "even units", total: "5", scale: 0, phasing: Phasing{Method: PhaseEven},
			want: "[1 1 1 1 1 0 0 0 0 0 0 0]"},
		{name: "profile 1..12", total: "78.00", scale: 2, phasing: Phasing{Method: PhaseProfile, Weights: ints(1, 12)},
			want: "[1.00 2.00 3.00 4.00 5.00 6.00 7.00 8.00 9.00 10.00 11.00 12.00]"},
		{name: "profile with a zero month", total: "10", scale: 0,
			phasing: Phasing{Method: PhaseProfile, Weights: decs("0", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1")},
			want:    "[0 1 1 1 1 1 1 1 1 1 1 0]"},
		{name: "reference year", total: "1000.00", scale: 2,
			phasing: Phasing{Method: PhaseReference, Weights: decs("10.50", "10.50", "21", "0", "0", "0", "0", "0", "0", "0", "0", "0")},
			want:    "[250.00 250.00 500.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00]"},
		{name: "zero weights fail", total: "1.00", scale: 2, phasing: Phasing{Method: PhaseProfile, Weights: make([]decimal.Decimal, 12)},
			code: EINFEASIBLE, field: "phasing.zero_weight"},
		{name: "zero weights fall back to even", total: "0.12", scale: 2,
			phasing: Phasing{Method: PhaseProfile, Weights: make([]decimal.Decimal, 12), ZeroWeight: ZeroWeightEven},
			want:    "[0.01 0.01 0.01 0.01 0.01 0.01 0.01 0.01 0.01 0.01 0.01 0.01]"},
		{name: "zero weights and nothing to phase", total: "0", scale: 2, phasing: Phasing{Method: PhaseProfile, Weights: make([]decimal.Decimal, 12)},
			want: "[0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00 0.00]"},
		{name: "eleven weights", total: "1", scale: 0, phasing: Phasing{Method: PhaseProfile, Weights: ints(1, 11)},
			code: EINVALID, field: "phasing.weights"},
		{name: "negative reference month", total: "1", scale: 0,
			phasing: Phasing{Method: PhaseReference, Weights: decs("1", "1", "1", "-1", "1", "1", "1", "1", "1", "1", "1", "1")},
			code:    EINVALID, field: "phasing.weights[3]"},
		{name: "even with weights", total: "1", scale: 0, phasing: Phasing{Method: PhaseEven, Weights: ints(1, 12)},
			code: EINVALID, field: "phasing.weights"},
		{name: "unknown method", total: "1", scale: 0, phasing: Phasing{}, code: EINVALID, field: "phasing.method"},
		{name: "more places than the scale", total: "0.001", scale: 2, phasing: Phasing{Method: PhaseEven}, code: EINVALID, field: "total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Phase(d(tt.total), tt.scale, tt.phasing)
			if tt.code != "" {
				if e, ok := err.(*Error); !ok || e.Code != tt.code || e.Field != tt.field || e.Message == "" {
					t.Fatalf("error %#v, want code %s field %s", err, tt.code, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(amounts(r)); got != tt.want {
				t.Fatalf("months %s, want %s", got, tt.want)
			}
			if r.Len() != Months || r.Key(0) != "01" || r.Key(11) != "12" {
				t.Fatalf("keys %v", r.Shares())
			}
			ex, err := r.Explain()
			if err != nil || len(ex) != Months {
				t.Fatalf("explain: %v", err)
			}
		})
	}
}

func TestPhaseExplainBasis(t *testing.T) {
	r, err := Phase(d("78.01"), 2, Phasing{Method: PhaseProfile, Weights: ints(1, 12)})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := r.Explain()
	if ex[0].Basis != BasisProfile || ex[11].Rule != RuleLargestRemainder || ex[11].Amount.String() != "12.01" {
		t.Fatalf("explanations %+v %+v", ex[0], ex[11])
	}
}

// tableCells returns a table's cells, rows and columns as big integers.
func tableBig(tb *Table) (rows, cols []*big.Int, cells [][]*big.Int) {
	for i := 0; i < tb.Rows(); i++ {
		rows = append(rows, tb.Total(i).BigMinor())
		var row []*big.Int
		for j := 0; j < tb.Columns(); j++ {
			row = append(row, tb.Cell(i, j).BigMinor())
		}
		cells = append(cells, row)
	}
	for j := 0; j < tb.Columns(); j++ {
		cols = append(cols, tb.Column(j).BigMinor())
	}
	return rows, cols, cells
}

func ones(n int) []*big.Int {
	out := make([]*big.Int, n)
	for i := range out {
		out[i] = big.NewInt(1)
	}
	return out
}

func TestPhaseTable(t *testing.T) {
	months100 := decs("8.34", "8.34", "8.34", "8.34", "8.33", "8.33", "8.33", "8.33", "8.33", "8.33", "8.33", "8.33")
	row := func(key, total string, pinned ...string) Row {
		r := Row{Key: key, Total: d(total)}
		if pinned != nil {
			r.Months = decs(pinned...)
		}
		return r
	}
	tests := []struct {
		name    string
		scale   int32
		columns []decimal.Decimal
		rows    []Row
		want    []string // rows, when checked exactly
		code    string
		field   string
	}{
		{name: "100.00 over 3 children and 12 months", scale: 2, columns: months100,
			rows: []Row{row("A", "33.34"), row("B", "33.33"), row("C", "33.33")}},
		{name: "one row takes the columns", scale: 2, columns: months100, rows: []Row{row("ONLY", "100.00")},
			want: []string{"[8.34 8.34 8.34 8.34 8.33 8.33 8.33 8.33 8.33 8.33 8.33 8.33]"}},
		{name: "exact quotas", scale: 0, columns: decs("10", "20", "30"), rows: []Row{row("A", "30"), row("B", "30")},
			want: []string{"[5 10 15]", "[5 10 15]"}},
		{name: "units with remainders", scale: 0, columns: decs("1", "1", "1"), rows: []Row{row("A", "1"), row("B", "1"), row("C", "1")}},
		{name: "negative table mirrors", scale: 0, columns: decs("-10", "-20", "-30"), rows: []Row{row("A", "-31"), row("B", "-29")}},
		{name: "mixed signs", scale: 0, columns: decs("10", "20", "30"), rows: []Row{row("A", "-30"), row("B", "90")}},
		{name: "pinned row", scale: 2, columns: months100,
			rows: []Row{row("A", "12.00", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"), row("B", "44.00"), row("C", "44.00")}},
		{name: "pinned row exceeding a month", scale: 0, columns: decs("10", "10"),
			rows: []Row{row("A", "15", "15", "0"), row("B", "5")}, want: []string{"[15 0]", "[-5 10]"}},
		{name: "free rows adding up to zero", scale: 0, columns: decs("0", "0", "0", "0"),
			rows: []Row{row("A", "5"), row("B", "-3"), row("C", "-2")}},
		{name: "free rows adding up to zero around a pinned row", scale: 0, columns: decs("4", "0", "0", "0"),
			rows: []Row{row("A", "4", "1", "1", "1", "1"), row("B", "3"), row("C", "-3")}},
		{name: "all pinned and adding up", scale: 0, columns: decs("3", "4"),
			rows: []Row{row("A", "3", "1", "2"), row("B", "4", "2", "2")}, want: []string{"[1 2]", "[2 2]"}},
		{name: "beyond int64", scale: 2, columns: decs("92233720368547758.07", "92233720368547758.07", "0.01"),
			rows: []Row{row("A", "92233720368547758.07"), row("B", "92233720368547758.08")}},
		{name: "all pinned but the columns differ", scale: 0, columns: decs("3", "4"),
			rows: []Row{row("A", "3", "2", "1"), row("B", "4", "2", "2")}, code: EINFEASIBLE, field: "rows"},
		{name: "rows and columns disagree", scale: 0, columns: decs("3", "4"), rows: []Row{row("A", "8")}, code: EINVALID, field: "rows"},
		{name: "pinned cells of the wrong number", scale: 0, columns: decs("3", "4"), rows: []Row{row("A", "7", "7")},
			code: EINVALID, field: "rows[0].months"},
		{name: "pinned cells not adding up", scale: 0, columns: decs("3", "4"), rows: []Row{row("A", "7", "3", "3")},
			code: EINVALID, field: "rows[0].months"},
		{name: "no columns", scale: 0, rows: []Row{row("A", "7")}, code: EINVALID, field: "columns"},
		{name: "no rows", scale: 0, columns: decs("1"), code: EINVALID, field: "rows"},
		{name: "duplicate rows", scale: 0, columns: decs("2"), rows: []Row{row("A", "1"), row("A", "1")}, code: EINVALID, field: "rows[1].key"},
		{name: "column with more places", scale: 0, columns: decs("1.5"), rows: []Row{row("A", "1.5")}, code: EINVALID, field: "columns[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := PhaseTable(tt.scale, tt.columns, tt.rows)
			if tt.code != "" {
				if e, ok := err.(*Error); !ok || e.Code != tt.code || e.Field != tt.field || e.Message == "" {
					t.Fatalf("error %#v, want code %s field %s", err, tt.code, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows, cols, cells := tableBig(tb)
			pins := make([][]*big.Int, len(tt.rows))
			for i, r := range tt.rows {
				for _, m := range r.Months {
					pins[i] = append(pins[i], minorOf(m, tt.scale))
				}
			}
			checkTable(t, rows, cols, pins, cells, ones(len(cols)))
			for i, w := range tt.want {
				var got []string
				for j := 0; j < tb.Columns(); j++ {
					got = append(got, tb.Cell(i, j).String())
				}
				if fmt.Sprint(got) != w {
					t.Errorf("row %d = %v, want %s", i, got, w)
				}
			}
			for i := 0; i < tb.Rows(); i++ {
				ex, err := tb.Explain(i)
				if err != nil || len(ex) != tb.Columns() {
					t.Fatalf("explain row %d: %v", i, err)
				}
				for j, e := range ex {
					if e.Reason == "" || e.Month != j+1 || e.Key != tb.Key(i) || !e.Amount.Equal(tb.Cell(i, j)) {
						t.Fatalf("explanation %+v", e)
					}
				}
			}
		})
	}
}

func TestPhaseTableExplain(t *testing.T) {
	tb, err := PhaseTable(0, decs("1", "1", "1"), []Row{{Key: "A", Total: d("2")}, {Key: "B", Total: d("1"), Months: decs("0", "0", "1")}})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := tb.Explain(1)
	if ex[2].Basis != BasisPinned || ex[2].Rule != RuleFixed {
		t.Fatalf("pinned %+v", ex[2])
	}
	ex, _ = tb.Explain(0)
	if ex[0].Quota != "1" || ex[2].Quota != "0" || ex[0].Rule != RuleExact {
		t.Fatalf("free %+v", ex)
	}
	tb, _ = PhaseTable(0, decs("2", "1"), []Row{{Key: "A", Total: d("1")}, {Key: "B", Total: d("1")}, {Key: "C", Total: d("1")}})
	ex, _ = tb.Explain(0)
	if ex[0].Quota != "2/3" || !strings.Contains(ex[0].Reason, "month") {
		t.Fatalf("explanation %+v", ex[0])
	}
}
