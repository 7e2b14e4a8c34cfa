package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

// buildGridDecimal is buildGrid as it was before amounts were summed as
// integers: every amount parsed and added as a decimal. It is the
// reference buildGrid is checked against, and the baseline of
// BenchmarkBuildGrid.
func buildGridDecimal(series []cellRow, r *planning.Round, grain planning.Grain, from, to, size int) ([]planning.GridRow, string, error) {
	out := make([]planning.GridRow, 0, min(len(series), size))
	var labels [13]string
	for p := from; p <= to; p++ {
		labels[p] = r.MonthLabel(p)
	}
	for i := range series {
		c := &series[i]
		if i == size {
			return out, planning.EncodeCursor(series[i-1].Path + "\x1f" + series[i-1].ProductLineCode + "\x1f" + series[i-1].MeasureCode), nil
		}
		var months [13]decimal.Decimal
		for rest := c.Amount; rest != ""; {
			var cell string
			cell, rest, _ = strings.Cut(rest, ",")
			period, amount, ok := strings.Cut(cell, ":")
			p, err := strconv.Atoi(period)
			if !ok || err != nil || p < 1 || p > 12 {
				return nil, "", fmt.Errorf("grid cell %q", cell)
			}
			if months[p], err = decimal.NewFromString(amount); err != nil {
				return nil, "", fmt.Errorf("cell amount %q: %w", amount, err)
			}
		}
		g := planning.GridRow{OrgUnitID: c.OrgUnitID, OrgUnitCode: c.OrgUnitCode, ProductLineID: c.ProductLineID,
			ProductLineCode: c.ProductLineCode, MeasureID: c.MeasureID, MeasureCode: c.MeasureCode, Scale: c.Scale}
		g.Total = decimal.Zero
		for p := from; p <= to; p++ {
			g.Total = g.Total.Add(months[p])
		}
		switch grain {
		case planning.GrainMonth:
			for p := from; p <= to; p++ {
				g.Periods = append(g.Periods, planning.PeriodAmount{Period: labels[p], Amount: months[p]})
			}
		case planning.GrainQuarter:
			for q := (from-1)/3 + 1; q <= (to-1)/3+1; q++ {
				sum := decimal.Zero
				for p := max(from, q*3-2); p <= min(to, q*3); p++ {
					sum = sum.Add(months[p])
				}
				g.Periods = append(g.Periods, planning.PeriodAmount{Period: fmt.Sprintf("FY%d-Q%d", r.FiscalYear, q), Amount: sum})
			}
		case planning.GrainYear:
			g.Periods = append(g.Periods, planning.PeriodAmount{Period: fmt.Sprintf("FY%d", r.FiscalYear), Amount: g.Total})
		}
		out = append(out, g)
	}
	return out, "", nil
}

func gridTestRound() *planning.Round {
	return &planning.Round{FiscalYear: 2027, FirstMonth: 4}
}

// genSeries draws grid series as the database returns them, with amounts
// as stored (at most 18 digits at the scale) and, now and then, amounts no
// 64-bit integer holds or with fewer places than the scale.
func genSeries(t *rapid.T) []cellRow {
	n := rapid.IntRange(0, 12).Draw(t, "series")
	out := make([]cellRow, n)
	for i := range out {
		scale := rapid.Int32Range(0, 6).Draw(t, "scale")
		var cells []string
		for p := 1; p <= 12; p++ {
			if !rapid.Bool().Draw(t, "present") {
				continue
			}
			var amt string
			switch rapid.IntRange(0, 9).Draw(t, "kind") {
			case 0:
				amt = rapid.StringMatching(`-?[1-9][0-9]{17,24}`).Draw(t, "huge") // beyond 64 bits in minor units
			case 1:
				amt = strings.TrimRight(decimal.New(rapid.Int64Range(-1e15, 1e15).Draw(t, "short"), -scale).String(), "0")
				amt = strings.TrimSuffix(amt, ".")
				if amt == "" || amt == "-" {
					amt = "0"
				}
			case 2:
				amt = decimal.New(rapid.Int64Range(-999_999_999_999_999_999, 999_999_999_999_999_999).Draw(t, "big"), -scale).StringFixed(scale)
			default:
				amt = decimal.New(rapid.Int64Range(-1e9, 1e9).Draw(t, "minor"), -scale).StringFixed(scale)
			}
			cells = append(cells, strconv.Itoa(p)+":"+amt)
		}
		if len(cells) == 0 {
			cells = []string{"1:0"}
		}
		out[i] = cellRow{OrgUnitID: int64(i + 1), ProductLineID: 1, MeasureID: 1, Path: fmt.Sprintf("/%03d/", i),
			OrgUnitCode: fmt.Sprintf("U%d", i), ProductLineCode: "PL", MeasureCode: "m", Scale: scale, Amount: strings.Join(cells, ",")}
	}
	return out
}

// TestBuildGridMatchesDecimalSums checks the integer sums of buildGrid
// against the decimal sums they replaced, for every grain, span of months
// and page size, amounts that overflow 64 bits included: the same rows,
// the same amounts, the same text at the API.
func TestBuildGridMatchesDecimalSums(t *testing.T) {
	r := gridTestRound()
	rapid.Check(t, func(t *rapid.T) {
		series := genSeries(t)
		grain := rapid.SampledFrom([]planning.Grain{planning.GrainMonth, planning.GrainQuarter, planning.GrainYear}).Draw(t, "grain")
		from := rapid.IntRange(1, 12).Draw(t, "from")
		to := rapid.IntRange(from, 12).Draw(t, "to")
		size := rapid.IntRange(1, 14).Draw(t, "size")
		got, gotNext, err := buildGrid(series, r, grain, from, to, size)
		if err != nil {
			t.Fatal(err)
		}
		want, wantNext, err := buildGridDecimal(series, r, grain, from, to, size)
		if err != nil {
			t.Fatal(err)
		}
		if gotNext != wantNext || len(got) != len(want) {
			t.Fatalf("%d rows, next %q; want %d, %q", len(got), gotNext, len(want), wantNext)
		}
		for i := range got {
			g, w := got[i], want[i]
			if !g.Total.Equal(w.Total) || planning.FormatAmount(g.Total, g.Scale) != planning.FormatAmount(w.Total, w.Scale) {
				t.Fatalf("row %d total %s, want %s", i, g.Total, w.Total)
			}
			if len(g.Periods) != len(w.Periods) {
				t.Fatalf("row %d: %d periods, want %d", i, len(g.Periods), len(w.Periods))
			}
			for j := range g.Periods {
				gp, wp := g.Periods[j], w.Periods[j]
				if gp.Period != wp.Period || !gp.Amount.Equal(wp.Amount) ||
					planning.FormatAmount(gp.Amount, g.Scale) != planning.FormatAmount(wp.Amount, w.Scale) {
					t.Fatalf("row %d period %d: %s %s, want %s %s (series %q)", i, j, gp.Period, gp.Amount, wp.Period, wp.Amount, series[i].Amount)
				}
			}
		}
	})
}

// benchSeries is a branch's grid page as the benchmark reads it: 40
// lines × 5 measures, twelve months each.
func benchSeries() []cellRow {
	out := make([]cellRow, 200)
	for i := range out {
		var cells []string
		for p := 1; p <= 12; p++ {
			cells = append(cells, fmt.Sprintf("%d:%d.%02d", p, 100000+i*37+p*1013, (i+p)%100))
		}
		out[i] = cellRow{OrgUnitID: 7, ProductLineID: int64(i/5 + 1), MeasureID: int64(i%5 + 1), Path: "/1/2/7/", OrgUnitCode: "B-007",
			ProductLineCode: fmt.Sprintf("PL%02d", i/5), MeasureCode: fmt.Sprintf("m%d", i%5), Scale: 2, Amount: strings.Join(cells, ",")}
	}
	return out
}

// BenchmarkBuildGrid compares, in one run, building and formatting a grid
// page of 200 series from integers of minor units (integer) with the
// decimal parsing, sums and StringFixed they replaced (decimal).
func BenchmarkBuildGrid(b *testing.B) {
	series, r := benchSeries(), gridTestRound()
	for _, bc := range []struct {
		name  string
		build func([]cellRow, *planning.Round, planning.Grain, int, int, int) ([]planning.GridRow, string, error)
		fmt   func(decimal.Decimal, int32) string
	}{
		{"decimal", buildGridDecimal, func(d decimal.Decimal, s int32) string { return d.StringFixed(s) }},
		{"integer", buildGrid, planning.FormatAmount},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for range b.N {
				rows, _, err := bc.build(series, r, planning.GrainMonth, 1, 12, 1000)
				if err != nil {
					b.Fatal(err)
				}
				for _, row := range rows {
					_ = bc.fmt(row.Total, row.Scale)
					for _, p := range row.Periods {
						_ = bc.fmt(p.Amount, row.Scale)
					}
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
		})
	}
}
