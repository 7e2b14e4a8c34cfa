package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

// encodeGridReflect is how a grid page was written before writeGrid: the
// GridPage DTO with its amounts (gridAmount: null when absent), through encoding/json as echo's
// encoder writes it (newline included). It is the reference of
// TestGridJSONIsEncodingJSON and the baseline of BenchmarkGridJSON.
func encodeGridReflect(versionID int64, grain string, rows []planning.GridRow, next string) []byte {
	page := GridPage{VersionID: versionID, Grain: grain, Items: make([]GridRow, 0, len(rows)), NextCursor: next}
	for _, row := range rows {
		g := GridRow{OrgUnitID: row.OrgUnitID, OrgUnit: row.OrgUnitCode, ProductLineID: row.ProductLineID, ProductLine: row.ProductLineCode,
			MeasureID: row.MeasureID, Measure: row.MeasureCode, Total: gridAmount(row.Total, row.TotalAbsent, row.Scale),
			Periods: make([]PeriodValue, len(row.Periods))}
		for i, p := range row.Periods {
			g.Periods[i] = PeriodValue{Period: p.Period, Amount: gridAmount(p.Amount, p.Absent, row.Scale)}
		}
		page.Items = append(page.Items, g)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(page); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func genDecimal(t *rapid.T, scale int32) decimal.Decimal {
	switch rapid.IntRange(0, 4).Draw(t, "kind") {
	case 0: // any size and exponent: rounding and big numbers
		c, _ := decimal.NewFromString(rapid.StringMatching(`-?[0-9]{1,28}`).Draw(t, "digits"))
		return c.Shift(-rapid.Int32Range(0, 12).Draw(t, "shift"))
	default: // as the store builds them, from minor units at the scale
		return decimal.New(rapid.Int64Range(-999_999_999_999_999_999, 999_999_999_999_999_999).Draw(t, "minor"), -scale)
	}
}

// TestGridJSONIsEncodingJSON checks that the grid's direct encoder writes
// exactly the bytes of encoding/json and StringFixed, for any codes
// (quotes, HTML, control and non-ASCII characters, invalid UTF-8), any
// amounts and scales, with and without a cursor.
func TestGridJSONIsEncodingJSON(t *testing.T) {
	text := rapid.OneOf(rapid.StringMatching(`[A-Z0-9-]{0,12}`), rapid.String(), rapid.StringMatching(`[<>&"\\\x00-\x1f\x7f\x{2028}\x{2029}é]{0,5}`),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 6).Draw(t, "rows")
		rows := make([]planning.GridRow, n)
		for i := range rows {
			scale := rapid.Int32Range(0, 8).Draw(t, "scale")
			r := planning.GridRow{OrgUnitID: rapid.Int64().Draw(t, "unit"), OrgUnitCode: text.Draw(t, "unit code"),
				ProductLineID: rapid.Int64().Draw(t, "line"), ProductLineCode: text.Draw(t, "line code"),
				MeasureID: rapid.Int64().Draw(t, "measure"), MeasureCode: text.Draw(t, "measure code"), Scale: scale,
				Total: genDecimal(t, scale), TotalAbsent: rapid.IntRange(0, 4).Draw(t, "total absent") == 0}
			for range rapid.IntRange(0, 12).Draw(t, "periods") {
				r.Periods = append(r.Periods, planning.PeriodAmount{Period: text.Draw(t, "period"), Amount: genDecimal(t, scale),
					Absent: rapid.IntRange(0, 4).Draw(t, "absent") == 0})
			}
			rows[i] = r
		}
		id, grain, next := rapid.Int64().Draw(t, "version"), text.Draw(t, "grain"), text.Draw(t, "next")
		want := encodeGridReflect(id, grain, rows, next)
		if got := appendGridPage(nil, id, grain, rows, next); !bytes.Equal(got, want) {
			t.Fatalf("direct:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// benchGridRows is a branch's grid page as the benchmark reads it: 40
// lines × 5 measures, twelve months each, built as the store builds them.
func benchGridRows() []planning.GridRow {
	rows := make([]planning.GridRow, 200)
	for i := range rows {
		r := planning.GridRow{OrgUnitID: 7, OrgUnitCode: "B-007", ProductLineID: int64(i/5 + 1), ProductLineCode: fmt.Sprintf("PL%02d", i/5),
			MeasureID: int64(i%5 + 1), MeasureCode: fmt.Sprintf("m%d", i%5), Scale: 2}
		var total int64
		for p := 1; p <= 12; p++ {
			minor := int64(10000000 + i*3701 + p*101300 + (i+p)%100)
			total += minor
			r.Periods = append(r.Periods, planning.PeriodAmount{Period: fmt.Sprintf("2027-%02d", p), Amount: decimal.New(minor, -2)})
		}
		r.Total = decimal.New(total, -2)
		rows[i] = r
	}
	return rows
}

// BenchmarkGridJSON compares, in one run, writing a 200-row grid page
// with encoding/json and StringFixed (reflect) and with the direct encoder
// (direct).
func BenchmarkGridJSON(b *testing.B) {
	rows := benchGridRows()
	for _, bc := range []struct {
		name   string
		encode func() []byte
	}{
		{"reflect", func() []byte { return encodeGridReflect(1, "month", rows, "") }},
		{"direct", func() []byte {
			bp := gridBuffers.Get().(*[]byte)
			*bp = appendGridPage((*bp)[:0], 1, "month", rows, "")
			out := *bp
			gridBuffers.Put(bp)
			return out
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			var n int
			for range b.N {
				n = len(bc.encode())
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
			b.ReportMetric(float64(n), "bytes/page")
		})
	}
}
