package allocation_test

import (
	"fmt"

	"github.com/cascade-planning/cascade/allocation"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// An even split of 100.00 over three branches: the remainder unit goes to
// the smallest key.
func ExampleSplit_even() {
	r, err := allocation.Split(dec("100.00"), 2, []allocation.Child{{Key: "SH"}, {Key: "JS"}, {Key: "ZJ"}},
		allocation.Spec{Method: allocation.Even})
	if err != nil {
		panic(err)
	}
	for _, s := range r.Shares() {
		fmt.Println(s.Key, s.Amount)
	}
	// Output:
	// SH 33.33
	// JS 33.34
	// ZJ 33.33
}

// A proportional split by last year's actuals.
func ExampleSplit_proportional() {
	children := []allocation.Child{
		{Key: "EAST", Weight: dec("4520000.00")},
		{Key: "NORTH", Weight: dec("2260000.00")},
		{Key: "SOUTH", Weight: dec("0")},
	}
	r, err := allocation.Split(dec("1000000.00"), 2, children, allocation.Spec{Method: allocation.Proportional})
	if err != nil {
		panic(err)
	}
	for _, s := range r.Shares() {
		fmt.Println(s.Key, s.Amount)
	}
	// Output:
	// EAST 666666.67
	// NORTH 333333.33
	// SOUTH 0.00
}

// Manual amounts for some children, the residual spread evenly over the
// others.
func ExampleSplit_manual() {
	sh := dec("500.00")
	children := []allocation.Child{{Key: "SH", Manual: &sh}, {Key: "JS"}, {Key: "ZJ"}, {Key: "AH"}}
	r, err := allocation.Split(dec("1000.00"), 2, children,
		allocation.Spec{Method: allocation.Manual, Residual: allocation.ResidualEven})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Shares())

	// Without spreading, the residual is reported.
	r, _ = allocation.Split(dec("1000.00"), 2, children,
		allocation.Spec{Method: allocation.Manual, Residual: allocation.ResidualReport})
	fmt.Println(r.Shares(), "residual", r.Residual())
	// Output:
	// [{SH 500.00} {JS 166.67} {ZJ 166.66} {AH 166.67}]
	// [{SH 500.00} {JS 0.00} {ZJ 0.00} {AH 0.00}] residual 500.00
}

// A locked branch keeps its current amount; the rest is spread over the
// others. Locks that exceed the parent are an error.
func ExampleSplit_locks() {
	current := dec("400.00")
	children := []allocation.Child{{Key: "SH", Lock: &current}, {Key: "JS"}, {Key: "ZJ"}}
	r, err := allocation.Split(dec("1000.00"), 2, children, allocation.Spec{Method: allocation.Even})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Shares())

	tooMuch := dec("1000.01")
	_, err = allocation.Split(dec("1000.00"), 2, []allocation.Child{{Key: "SH", Lock: &tooMuch}, {Key: "JS"}},
		allocation.Spec{Method: allocation.Even})
	fmt.Println(allocation.ErrorCode(err))
	// Output:
	// [{SH 400.00} {JS 300.00} {ZJ 300.00}]
	// infeasible
}

// An over-assignment buffer of 12.5%: the teams together carry 112.5% of
// the branch.
func ExampleSplit_buffer() {
	r, err := allocation.Split(dec("1000.00"), 2, []allocation.Child{{Key: "KA"}, {Key: "CH"}},
		allocation.Spec{Method: allocation.Even, Buffer: dec("0.125")})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Target(), r.Shares())
	// Output:
	// 1125.00 [{KA 562.50} {CH 562.50}]
}

// Every share explains itself.
func ExampleResult_Explain() {
	r, _ := allocation.Split(dec("100.00"), 2, []allocation.Child{{Key: "A"}, {Key: "B"}, {Key: "C"}},
		allocation.Spec{Method: allocation.Even})
	ex, _ := r.Explain()
	for _, e := range ex {
		fmt.Println(e.Key, e.Amount, e.Quota, e.Rule, e.Rank)
	}
	fmt.Println(ex[0].Reason)
	// Output:
	// A 33.34 100/3 largest_remainder 1
	// B 33.33 100/3 rounded_down 2
	// C 33.33 100/3 rounded_down 3
	// 33.34: quota 100/3 = 33.333333…, rounded toward zero to 33.33 plus one remainder unit: largest remainder, rank 1 of 3, 1 unit(s) handed out; tie broken by key
}

// A year phased by a seasonality profile.
func ExamplePhase() {
	weights := make([]decimal.Decimal, 12)
	for i := range weights {
		weights[i] = decimal.NewFromInt(int64(i%3 + 1)) // 1, 2, 3, 1, 2, 3, …
	}
	r, err := allocation.Phase(dec("1000.00"), 2, allocation.Phasing{Method: allocation.PhaseProfile, Weights: weights})
	if err != nil {
		panic(err)
	}
	for _, s := range r.Shares() {
		fmt.Print(s.Amount, " ")
	}
	fmt.Println()
	// Output:
	// 41.67 83.33 125.00 41.67 83.33 125.00 41.67 83.33 125.00 41.67 83.33 125.00
}

// Children's years into the parent's months, both sums exact at once.
func ExamplePhaseTable() {
	months := []decimal.Decimal{dec("33.34"), dec("33.33"), dec("33.33")}
	rows := []allocation.Row{{Key: "A", Total: dec("50.00")}, {Key: "B", Total: dec("25.00")}, {Key: "C", Total: dec("25.00")}}
	tb, err := allocation.PhaseTable(2, months, rows)
	if err != nil {
		panic(err)
	}
	for i := 0; i < tb.Rows(); i++ {
		fmt.Println(tb.Key(i), tb.Cell(i, 0), tb.Cell(i, 1), tb.Cell(i, 2), "=", tb.Total(i))
	}
	// Output:
	// A 16.67 16.67 16.66 = 50.00
	// B 8.34 8.33 8.33 = 25.00
	// C 8.33 8.33 8.34 = 25.00
}

// A product line's annual target cascaded from the company to regions,
// branches and teams, with a 10% buffer at the teams and seasonality.
func ExampleCascade() {
	tree := allocation.Node{Key: "CO", Children: []allocation.Node{
		{Key: "EAST", Weight: dec("3"), Children: []allocation.Node{
			{Key: "SH", Weight: dec("2"), Children: []allocation.Node{{Key: "SH-KA"}, {Key: "SH-CH"}}},
			{Key: "JS", Weight: dec("1")},
		}},
		{Key: "NORTH", Weight: dec("1")},
	}}
	season := make([]decimal.Decimal, 12)
	for i := range season {
		season[i] = decimal.NewFromInt(int64(1 + i/6)) // the second half sells twice as much
	}
	r, err := allocation.Cascade(allocation.CascadeInput{
		Root: tree, Amount: dec("1000.00"), Scale: 2,
		Levels: []allocation.Spec{
			{Method: allocation.Proportional},
			{Method: allocation.Proportional},
			{Method: allocation.Even, Buffer: dec("0.10")},
		},
		Locks:   []allocation.Lock{{Key: "NORTH", Amount: dec("250.00")}},
		Phasing: &allocation.Phasing{Method: allocation.PhaseProfile, Weights: season},
	})
	if err != nil {
		panic(err)
	}
	for _, n := range r.Nodes() {
		fmt.Printf("%-5s %-5s %7s  Jan %6s  Dec %6s\n", n.Key, n.Parent, n.Year, n.Months[0], n.Months[11])
	}
	// Output:
	// CO          1000.00  Jan  55.56  Dec 111.11
	// EAST  CO     750.00  Jan  41.67  Dec  83.34
	// NORTH CO     250.00  Jan  13.89  Dec  27.77
	// JS    EAST   250.00  Jan  13.89  Dec  27.78
	// SH    EAST   500.00  Jan  27.78  Dec  55.56
	// SH-CH SH     275.00  Jan  15.28  Dec  30.55
	// SH-KA SH     275.00  Jan  15.28  Dec  30.56
}

// Storing a cascade's cells without a decimal.Decimal per cell.
func ExampleCascadeResult_Cells() {
	r, _ := allocation.Cascade(allocation.CascadeInput{
		Root:   allocation.Node{Key: "CO", Children: []allocation.Node{{Key: "A"}, {Key: "B"}}},
		Amount: dec("12"), Scale: 0,
		Levels:  []allocation.Spec{{Method: allocation.Even}},
		Phasing: &allocation.Phasing{Method: allocation.PhaseEven},
	})
	var buf []byte
	total := int64(0)
	for c := range r.Cells() {
		if c.Key == "A" && c.Month <= 2 {
			buf, _ = c.Amount.AppendText(append(buf, c.Key+" "...))
			buf = append(buf, '\n')
		}
		minor, _ := c.Amount.Minor()
		total += minor
	}
	fmt.Print(string(buf))
	fmt.Println("cells:", r.Len()*12, "sum:", total, "checksum:", r.Checksum()[:12])
	// Output:
	// A 1
	// A 1
	// cells: 36 sum: 24 checksum: 4c6b43033fd3
}
