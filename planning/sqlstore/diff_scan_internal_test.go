package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

// TestScanDiffMinorMatchesDecimal checks scanDiff's integer arithmetic
// against its decimal one (the same rows with no scale known): the same
// changes, page, cursor and rollups, for amounts at and below their
// measure's scale, amounts no 64-bit integer holds, sums that overflow one,
// and measures of different scales rolled up together.
func TestScanDiffMinorMatchesDecimal(t *testing.T) {
	sqldb, err := sql.Open(sqliteshim.ShimName, "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	db := bun.NewDB(sqldb, sqlitedialect.New())
	ctx := context.Background()
	rapid.Check(t, func(t *rapid.T) {
		scales := map[int64]int32{1: rapid.Int32Range(0, 6).Draw(t, "scale1"), 2: rapid.Int32Range(0, 6).Draw(t, "scale2")}
		amount := func(label string, scale int32) string {
			switch rapid.IntRange(0, 5).Draw(t, label+" kind") {
			case 0:
				return "NULL"
			case 1: // beyond 64 bits in minor units
				return "'" + rapid.StringMatching(`-?[1-9][0-9]{18,22}`).Draw(t, label+" huge") + "'"
			case 2: // near the limit: sums overflow
				return "'" + decimal.New(rapid.Int64Range(9e17, 999_999_999_999_999_999).Draw(t, label+" big"), -scale).StringFixed(scale) + "'"
			default:
				return "'" + decimal.New(rapid.Int64Range(-1e8, 1e8).Draw(t, label+" minor"), -scale).StringFixed(scale) + "'"
			}
		}
		if rapid.Bool().Draw(t, "overflowing sums") {
			amount = func(label string, scale int32) string {
				return "'" + decimal.New(rapid.Int64Range(9e17, 999_999_999_999_999_999).Draw(t, label+" big"), -scale).StringFixed(scale) + "'"
			}
		}
		n := rapid.IntRange(1, 40).Draw(t, "rows")
		var rows []string
		for i := 0; i < n; i++ {
			m := int64(rapid.IntRange(1, 2).Draw(t, "measure"))
			rows = append(rows, fmt.Sprintf("(%d, %d, %d, %d, %s, %s)", 1+i%3, 1+i%2, m, 1+i%12, amount("before", scales[m]), amount("after", scales[m])))
		}
		q := "SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ")"
		size := rapid.IntRange(1, 10).Draw(t, "size")
		units := map[int64]int{1: 1, 2: 2, 3: 2}
		got, gotAdded, err := scanDiff(ctx, db, q, nil, planning.CellKey{}, size, diffKeys{units: units, scales: scales})
		if err != nil {
			t.Fatal(err)
		}
		want, wantAdded, err := scanDiff(ctx, db, q, nil, planning.CellKey{}, size, diffKeys{units: units})
		if err != nil {
			t.Fatal(err)
		}
		if got.ChangedCells != want.ChangedCells || gotAdded != wantAdded || got.NextCursor != want.NextCursor || len(got.Changes) != len(want.Changes) {
			t.Fatalf("%d changed, %d added, cursor %q, %d listed; want %d, %d, %q, %d", got.ChangedCells, gotAdded, got.NextCursor, len(got.Changes),
				want.ChangedCells, wantAdded, want.NextCursor, len(want.Changes))
		}
		for i := range got.Changes {
			g, w := got.Changes[i], want.Changes[i]
			if g.CellKey != w.CellKey || !g.Before.Equal(w.Before) || !g.After.Equal(w.After) || !g.Delta.Equal(w.Delta) {
				t.Fatalf("change %d: %+v, want %+v", i, g, w)
			}
		}
		for _, pair := range [][2][]planning.DiffRollup{{got.ByOrgUnit, want.ByOrgUnit}, {got.ByProductLine, want.ByProductLine},
			{got.ByMeasure, want.ByMeasure}, {got.ByPeriod, want.ByPeriod}} {
			g, w := pair[0], pair[1]
			if len(g) != len(w) {
				t.Fatalf("%d rollups, want %d", len(g), len(w))
			}
			for i := range g {
				if g[i].Level != w[i].Level || g[i].Key != w[i].Key || !g[i].Before.Equal(w[i].Before) || !g[i].After.Equal(w[i].After) || !g[i].Delta.Equal(w[i].Delta) {
					t.Fatalf("rollup %d: %+v, want %+v", i, g[i], w[i])
				}
			}
		}
	})
}
