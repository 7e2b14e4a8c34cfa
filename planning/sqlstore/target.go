package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// TargetService implements planning.TargetService.
type TargetService struct{ db *DB }

var _ planning.TargetService = (*TargetService)(nil)

// cellRow is a target cell joined with the codes that order and label it.
type cellRow struct {
	OrgUnitID       int64  `bun:"org_unit_id"`
	ProductLineID   int64  `bun:"product_line_id"`
	MeasureID       int64  `bun:"measure_id"`
	Period          int    `bun:"period"`
	Amount          string `bun:"amount"`
	Path            string `bun:"path"`
	ProductLineCode string `bun:"pl_code"`
	MeasureCode     string `bun:"m_code"`
	OrgUnitCode     string `bun:"ou_code"`
	Scale           int32  `bun:"scale"`
	// Kind is 1 when the measure's aggregation rule is not a sum, else 0
	// (grid reads only): rollupKinds looks up only those measures.
	Kind int64 `bun:"-"`
}

// cellScope restricts a query over target_cells joined as c with org_units
// as ou to the units the filter and the actor's scope allow. It returns
// ENOTFOUND when the filter names a unit the actor cannot see.
func (db *DB) cellScope(ctx context.Context, q *bun.SelectQuery, a *planning.Actor, orgUnitID *int64, subtree bool) error {
	if orgUnitID != nil {
		unit := new(orgUnitRow)
		if err := db.scanOne(ctx, db.bun.NewSelect().Model(unit).Where("id = ?", *orgUnitID), "org unit", *orgUnitID); err != nil {
			return err
		}
		if !a.CanSeeOrgPath(unit.Path) {
			return notFound("org unit", *orgUnitID)
		}
		if subtree {
			q.Where("ou.path LIKE ?", unit.Path+"%")
		} else {
			q.Where("c.org_unit_id = ?", unit.ID)
		}
		return nil
	}
	scopeWhere(q, a, "ou.path")
	return nil
}

func periodRange(from, to int) (int, int, error) {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = 12
	}
	if from < 1 || from > 12 || to < 1 || to > 12 || from > to {
		return 0, 0, fieldErr(planning.EINVALID, "period", "must be a range of months inside the round's fiscal year")
	}
	return from, to, nil
}

// byPrimaryKey is the clause that makes SQLite look a WITHOUT ROWID
// table's rows up by its primary key (whose automatic index SQLite names
// sqlite_autoindex_<table>_1). Left to itself, SQLite looks target cells
// up through the narrower product-line index and then the primary key for
// each amount, which makes a grid read three times slower. PostgreSQL
// needs no hint.
func (db *DB) byPrimaryKey(table string) string {
	if db.dialect == SQLite {
		return " INDEXED BY sqlite_autoindex_" + table + "_1"
	}
	return ""
}

// FindGrid implements planning.TargetService.
func (s *TargetService) FindGrid(ctx context.Context, f planning.GridFilter) ([]planning.GridRow, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	from, to, err := periodRange(f.PeriodFrom, f.PeriodTo)
	if err != nil {
		return nil, "", err
	}
	if f.Grain == "" {
		f.Grain = planning.GrainMonth
	}
	if f.Grain != planning.GrainMonth && f.Grain != planning.GrainQuarter && f.Grain != planning.GrainYear {
		return nil, "", fieldErr(planning.EINVALID, "grain", "must be month, quarter or year")
	}
	v, err := s.db.loadVersion(ctx, s.db.bun, f.VersionID)
	if err != nil {
		return nil, "", err
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, v.RoundID)
	if err != nil {
		return nil, "", err
	}
	size := f.Page.Size()
	for limit := size + 1; ; limit *= 2 {
		rows, err := s.gridSeries(ctx, a, v, f, from, to, limit)
		if err != nil {
			return nil, "", err
		}
		// A version over a base may list series whose every cell it
		// deleted; they drop out, and the page reads further if they made
		// it short.
		n := len(rows)
		if v.base() != 0 {
			if rows, err = dropHidden(rows); err != nil {
				return nil, "", err
			}
		}
		if len(rows) > size || n < limit {
			out, next, err := buildGrid(rows, r, f.Grain, from, to, size)
			if err != nil {
				return nil, "", err
			}
			if err := s.db.rollupKinds(ctx, v, rows, out, f.Grain, from, to); err != nil {
				return nil, "", err
			}
			return out, next, nil
		}
	}
}

// gridSeries reads up to limit series of a grid page (see scanCells).
func (s *TargetService) gridSeries(ctx context.Context, a *planning.Actor, v *versionRow, f planning.GridFilter, from, to, limit int) ([]cellRow, error) {
	var rows []cellRow
	// The joins nest in the order of the result: org units by path, their
	// product lines by code, measures by code, then each series' cells by
	// primary key. SQLite (where CROSS JOIN fixes the nesting; elsewhere it
	// is a plain join) then streams a page in order from the indexes and
	// stops at the limit, instead of reading and sorting every cell of the
	// version or the subtree first.
	q := s.db.bun.NewSelect().TableExpr("org_units AS ou").
		ColumnExpr("ou.id, pl.id, m.id, ou.path, ou.code, pl.code, m.code, m.scale, CASE WHEN m.aggregation = 'sum' THEN 0 ELSE 1 END").
		Join("CROSS JOIN product_lines AS pl").
		Join("CROSS JOIN measures AS m").
		Join("CROSS JOIN target_cells AS c"+s.db.byPrimaryKey("target_cells")).
		Where("c.round_id = ? AND c.org_unit_id = ou.id AND c.product_line_id = pl.id AND c.measure_id = m.id", v.RoundID).
		Where("c.period BETWEEN ? AND ?", from, to).
		GroupExpr("ou.path, pl.code, m.code, ou.id, pl.id, m.id").
		OrderExpr("ou.path, pl.code, m.code").
		Limit(int64(limit))
	if v.base() == 0 {
		q.ColumnExpr(s.db.concatAgg("CAST(c.period AS text) || ':' || CAST(c.amount AS text)")).
			Where("c.version_id = ?", v.ID)
	} else {
		// A version over a base reads both layers by primary key; the
		// version's own cells come marked with "!" and win (see
		// dropHidden), a tombstone's amount is empty.
		q.ColumnExpr(s.db.concatAgg("CASE WHEN c.version_id = "+strconv.FormatInt(v.layer(), 10)+" THEN '!' ELSE '' END || CAST(c.period AS text) || ':' || COALESCE(CAST(c.amount AS text), '')")).
			Where("c.version_id IN (?, ?)", v.layer(), v.base())
	}
	if err := s.db.cellScope(ctx, q, a, f.OrgUnitID, f.Subtree); err != nil {
		return nil, err
	}
	if len(f.ProductLineIDs) > 0 {
		q.Where("c.product_line_id IN (?)", bun.In(f.ProductLineIDs))
	}
	if len(f.MeasureIDs) > 0 {
		q.Where("c.measure_id IN (?)", bun.In(f.MeasureIDs))
	}
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		parts := strings.Split(after, "\x1f")
		if len(parts) != 3 {
			return nil, fieldErr(planning.EINVALID, "cursor", "is not a cursor returned by this list")
		}
		q.Where("(ou.path > ? OR (ou.path = ? AND (pl.code > ? OR (pl.code = ? AND m.code > ?))))",
			parts[0], parts[0], parts[1], parts[1], parts[2])
	}
	rows, err := s.db.scanCells(ctx, q)
	return rows, s.db.mapError(err)
}

// dropHidden resolves the series of a version over a base, whose cells
// come as "!period:amount" (the version's own layer, an empty amount for a
// deleted cell) and "period:amount" (the base): a period's own cell wins
// over the base's, and deleted cells and series left without cells drop
// out.
func dropHidden(rows []cellRow) ([]cellRow, error) {
	out := rows[:0]
	for _, c := range rows {
		if !strings.Contains(c.Amount, "!") {
			out = append(out, c)
			continue
		}
		var own [13]bool
		var cells [13]string
		var set [13]bool
		for rest := c.Amount; rest != ""; {
			var cell string
			cell, rest, _ = strings.Cut(rest, ",")
			mine := strings.HasPrefix(cell, "!")
			period, amount, ok := strings.Cut(strings.TrimPrefix(cell, "!"), ":")
			p, err := strconv.Atoi(period)
			if !ok || err != nil || p < 1 || p > 12 {
				return nil, fmt.Errorf("grid cell %q", cell)
			}
			if own[p] && !mine {
				continue
			}
			own[p] = own[p] || mine
			cells[p], set[p] = amount, amount != ""
		}
		var b strings.Builder
		for p := 1; p <= 12; p++ {
			if set[p] {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Itoa(p))
				b.WriteByte(':')
				b.WriteString(cells[p])
			}
		}
		if b.Len() == 0 {
			continue
		}
		c.Amount = b.String()
		out = append(out, c)
	}
	return out, nil
}

// buildGrid turns series, each one org unit's months of one line and
// measure as "period:amount,…" in Amount, into grid rows: it fills missing
// months with zero and rolls them up to the grain. Rollups are exact: sums
// of integers of minor units (every stored amount has at most
// planning.MaxStoredDigits digits at its scale), or, for a series whose
// text or sums do not fit that, decimal sums; rollupKinds then redoes those
// of measures that do not add up by their own rules.
func buildGrid(series []cellRow, r *planning.Round, grain planning.Grain, from, to, size int) ([]planning.GridRow, string, error) {
	out := make([]planning.GridRow, 0, min(len(series), size))
	// The period labels, once per read rather than once per row.
	var labels [13]string
	for p := from; p <= to; p++ {
		labels[p] = r.MonthLabel(p)
	}
	var quarters [5]string
	for q := (from-1)/3 + 1; grain == planning.GrainQuarter && q <= (to-1)/3+1; q++ {
		quarters[q] = fmt.Sprintf("FY%d-Q%d", r.FiscalYear, q)
	}
	year := fmt.Sprintf("FY%d", r.FiscalYear)
	for i := range series {
		c := &series[i]
		if i == size {
			return out, planning.EncodeCursor(series[i-1].Path + "\x1f" + series[i-1].ProductLineCode + "\x1f" + series[i-1].MeasureCode), nil
		}
		g := planning.GridRow{OrgUnitID: c.OrgUnitID, OrgUnitCode: c.OrgUnitCode, ProductLineID: c.ProductLineID,
			ProductLineCode: c.ProductLineCode, MeasureID: c.MeasureID, MeasureCode: c.MeasureCode, Scale: c.Scale}
		months, ok, err := minorMonths(c.Amount, c.Scale)
		if err != nil {
			return nil, "", err
		}
		var sums gridSums
		if ok {
			sums = minorSums(&months, c.Scale)
		}
		if !sums.ok {
			if sums, err = decimalSums(c.Amount); err != nil {
				return nil, "", err
			}
		}
		g.Total = sums.span(from, to)
		switch grain {
		case planning.GrainMonth:
			g.Periods = make([]planning.PeriodAmount, 0, to-from+1)
			for p := from; p <= to; p++ {
				g.Periods = append(g.Periods, planning.PeriodAmount{Period: labels[p], Amount: sums.span(p, p)})
			}
		case planning.GrainQuarter:
			for q := (from-1)/3 + 1; q <= (to-1)/3+1; q++ {
				g.Periods = append(g.Periods, planning.PeriodAmount{Period: quarters[q], Amount: sums.span(max(from, q*3-2), min(to, q*3))})
			}
		case planning.GrainYear:
			g.Periods = append(g.Periods, planning.PeriodAmount{Period: year, Amount: g.Total})
		}
		out = append(out, g)
	}
	return out, "", nil
}

// minorMonths reads a series' "period:amount,…" as minor units at scale;
// ok is false when an amount is not a plain decimal of at most
// planning.MaxStoredDigits digits at that scale.
func minorMonths(text string, scale int32) (months [13]int64, ok bool, err error) {
	ok = true
	for rest := text; rest != ""; {
		var cell string
		cell, rest, _ = strings.Cut(rest, ",")
		p, amount, err := gridCell(cell)
		if err != nil {
			return months, false, err
		}
		if months[p], ok = planning.ParseMinor(amount, scale); !ok {
			return months, false, nil
		}
	}
	return months, true, nil
}

// gridCell splits one "period:amount" of a series.
func gridCell(cell string) (int, string, error) {
	period, amount, ok := strings.Cut(cell, ":")
	p, err := strconv.Atoi(period)
	if !ok || err != nil || p < 1 || p > 12 {
		return 0, "", fmt.Errorf("grid cell %q", cell)
	}
	return p, amount, nil
}

// gridSums answers the sum of a series' months over any span of them.
type gridSums struct {
	ok     bool
	scale  int32
	prefix [13]int64           // months 1..p in minor units
	dec    [13]decimal.Decimal // the same as decimals, when the integers do not fit
	big    bool
}

// minorSums sums months of minor units; ok is false when a sum would not
// fit 64 bits.
func minorSums(months *[13]int64, scale int32) gridSums {
	s := gridSums{ok: true, scale: scale}
	for p := 1; p <= 12; p++ {
		a, b := s.prefix[p-1], months[p]
		sum := a + b
		if (a > 0 && b > 0 && sum < 0) || (a < 0 && b < 0 && sum >= 0) {
			return gridSums{}
		}
		s.prefix[p] = sum
	}
	// Every span is a difference of two prefixes; one that does not fit
	// sends the series to decimals.
	for from := 1; from <= 12; from++ {
		for to := from; to <= 12; to++ {
			a, b := s.prefix[to], s.prefix[from-1]
			if d := a - b; (a >= 0 && b < 0 && d < 0) || (a < 0 && b > 0 && d > 0) {
				return gridSums{}
			}
		}
	}
	return s
}

// decimalSums is minorSums in decimals, for any amounts.
func decimalSums(text string) (gridSums, error) {
	s := gridSums{ok: true, big: true}
	var months [13]decimal.Decimal
	for rest := text; rest != ""; {
		var cell string
		cell, rest, _ = strings.Cut(rest, ",")
		p, amount, err := gridCell(cell)
		if err != nil {
			return s, err
		}
		if months[p], err = decimal.NewFromString(amount); err != nil {
			return s, fmt.Errorf("cell amount %q: %w", amount, err)
		}
	}
	s.dec[0] = decimal.Zero
	for p := 1; p <= 12; p++ {
		s.dec[p] = s.dec[p-1].Add(months[p])
	}
	return s, nil
}

// span is the exact sum of months from..to.
func (s *gridSums) span(from, to int) decimal.Decimal {
	if s.big {
		return s.dec[to].Sub(s.dec[from-1])
	}
	return decimal.New(s.prefix[to]-s.prefix[from-1], -s.scale)
}
