package sqlstore

import (
	"context"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// AttainmentService implements planning.AttainmentService.
type AttainmentService struct{ db *DB }

var _ planning.AttainmentService = (*AttainmentService)(nil)

// attainmentQuery is what one attainment computation compares.
type attainmentQuery struct {
	roundID   int64
	versionID *int64
	orgUnitID *int64
	subtree   bool
	kind      planning.OrgUnitKind
	lines     []int64
	measures  []int64
	period    int
	basis     planning.Basis
}

type seriesKey struct{ unit, line, measure int64 }

// seriesSums are the sums of one series: the targets over the basis and the
// year, the actuals over the basis and the year to date.
type seriesSums struct {
	target, yearTarget, actual, ytd decimal.Decimal
}

// attain resolves the query's round, version, period and basis, and returns
// the report header with every row, totals over product lines included,
// ordered by org unit path, measure code and product line code.
func (s *AttainmentService) attain(ctx context.Context, a *planning.Actor, q attainmentQuery) (*planning.AttainmentReport, error) {
	_, r, err := s.db.loadRound(ctx, s.db.bun, q.roundID)
	if err != nil {
		return nil, err
	}
	rep := &planning.AttainmentReport{Round: r}
	switch {
	case q.versionID != nil:
		v, err := s.db.loadVersion(ctx, s.db.bun, *q.versionID)
		if err != nil || v.RoundID != r.ID {
			return nil, fieldErr(planning.EINVALID, "version", "must be a version of round %s", r.Code)
		}
		rep.VersionID = v.ID
	default:
		id, err := r.RecordVersion()
		if err != nil {
			return nil, err
		}
		rep.VersionID = id
	}
	rep.Record = r.RecordVersionID != nil && *r.RecordVersionID == rep.VersionID
	if q.basis == "" {
		q.basis = planning.BasisMonth
	}
	if !q.basis.Valid() {
		return nil, fieldErr(planning.EINVALID, "basis", "must be one of month, qtd, ytd, year")
	}
	if q.kind != "" && !q.kind.Valid() {
		return nil, fieldErr(planning.EINVALID, "level", "must be one of %v", planning.OrgUnitKinds)
	}
	if len(q.measures) == 0 {
		q.measures = r.MeasureIDs
	}
	for _, id := range q.measures {
		if !slices.Contains(r.MeasureIDs, id) {
			return nil, fieldErr(planning.EINVALID, "measure", "is not a measure of round %s", r.Code)
		}
	}
	if q.period == 0 {
		latest, err := s.db.latestActualMonth(ctx, r.MonthLabel(1), r.MonthLabel(12))
		if err != nil {
			return nil, err
		}
		q.period = 1
		if latest != "" {
			q.period, _ = r.PeriodOf(latest)
		}
	}
	if q.period < 1 || q.period > 12 {
		return nil, fieldErr(planning.EINVALID, "period", "must be a month of the round's fiscal year")
	}
	rep.Period, rep.Basis = q.period, q.basis
	rep.TargetFrom, rep.TargetTo, rep.ActualFrom, rep.ActualTo = q.basis.Span(q.period)
	if len(q.measures) == 0 {
		return rep, nil
	}

	sums := map[seriesKey]*seriesSums{}
	get := func(k seriesKey) *seriesSums {
		x, ok := sums[k]
		if !ok {
			x = &seriesSums{}
			sums[k] = x
		}
		return x
	}
	scales, err := s.db.measureScales(ctx, q.measures)
	if err != nil {
		return nil, err
	}
	// Measures that add up are summed by the database; the others are
	// aggregated here, each by its rule, from their cells.
	kinds, err := s.db.measureKinds(ctx, q.measures)
	if err != nil {
		return nil, err
	}
	var others []int64
	summed := q.measures[:0:0]
	for _, id := range q.measures {
		if kinds[id].IsSum() {
			summed = append(summed, id)
		} else {
			others = append(others, id)
		}
	}
	totals := map[seriesKey]*seriesSums{}
	if len(others) > 0 {
		oq := q
		oq.measures = others
		if err := s.attainOthers(ctx, a, oq, r, rep, kinds, sums, totals); err != nil {
			return nil, err
		}
	}
	q.measures = summed
	if len(summed) == 0 {
		rows, err := s.db.attainmentRows(ctx, sums, totals, kinds, scales, q.period)
		if err != nil {
			return nil, err
		}
		rep.Rows = rows
		return rep, nil
	}

	// The targets: each unit's own cells.
	where, args, err := s.db.orgSetSQL(ctx, a, q.orgUnitID, q.subtree, "ou")
	if err != nil {
		return nil, err
	}
	cFrom, cArgs, err := s.db.cellsOf(ctx, s.db.bun, rep.VersionID, "c")
	if err != nil {
		return nil, err
	}
	tq := `SELECT c.org_unit_id, c.product_line_id, c.measure_id,
		SUM(CASE WHEN c.period BETWEEN ? AND ? THEN ` + s.db.minorUnits("c.amount") + ` ELSE 0 END),
		SUM(` + s.db.minorUnits("c.amount") + `)
		FROM ` + cFrom + ` JOIN org_units AS ou ON ou.id = c.org_unit_id
		WHERE c.version_id = ? AND ` + where + s.db.seriesFilter("c", "ou", q, &args) + `
		GROUP BY c.org_unit_id, c.product_line_id, c.measure_id`
	targs := append(append([]any{rep.TargetFrom, rep.TargetTo}, cArgs...), rep.VersionID)
	targs = append(targs, args...)
	if err := s.db.scanSums(ctx, tq, targs, scales, func(k seriesKey, basis, year decimal.Decimal) {
		x := get(k)
		x.target, x.yearTarget = basis, year
	}); err != nil {
		return nil, err
	}

	// The actuals: the leaves' amounts rolled up to each unit.
	where, args, err = s.db.orgSetSQL(ctx, a, q.orgUnitID, q.subtree, "anc")
	if err != nil {
		return nil, err
	}
	aq := ancestorCTE + `SELECT anc.id, a.product_line_id, a.measure_id,
		SUM(CASE WHEN a.month BETWEEN ? AND ? THEN ` + s.db.minorUnits("a.amount") + ` ELSE 0 END),
		SUM(` + s.db.minorUnits("a.amount") + `)` + ancestorJoin + `
		WHERE a.month BETWEEN ? AND ? AND ` + where + s.db.seriesFilter("a", "anc", q, &args) + `
		GROUP BY anc.id, a.product_line_id, a.measure_id`
	aargs := append([]any{r.MonthLabel(rep.ActualFrom), r.MonthLabel(rep.ActualTo), r.MonthLabel(1), r.MonthLabel(q.period)}, args...)
	if err := s.db.scanSums(ctx, aq, aargs, scales, func(k seriesKey, basis, ytd decimal.Decimal) {
		x := get(k)
		x.actual, x.ytd = basis, ytd
	}); err != nil {
		return nil, err
	}

	rows, err := s.db.attainmentRows(ctx, sums, totals, kinds, scales, q.period)
	if err != nil {
		return nil, err
	}
	rep.Rows = rows
	return rep, nil
}

// seriesFilter appends the conditions on kind, product lines and measures
// for the table aliased t and the org units aliased ou.
func (db *DB) seriesFilter(t, ou string, q attainmentQuery, args *[]any) string {
	var b strings.Builder
	if q.kind != "" {
		b.WriteString(" AND " + ou + ".kind = ?")
		*args = append(*args, string(q.kind))
	}
	if len(q.lines) > 0 {
		b.WriteString(" AND " + t + ".product_line_id IN (?)")
		*args = append(*args, bun.In(q.lines))
	}
	b.WriteString(" AND " + t + ".measure_id IN (?)")
	*args = append(*args, bun.In(q.measures))
	return b.String()
}

// scanSums runs a query returning (unit, line, measure, sum, sum) and hands
// each row's sums, as amounts, to fn.
func (db *DB) scanSums(ctx context.Context, q string, args []any, scales map[int64]int32, fn func(seriesKey, decimal.Decimal, decimal.Decimal)) error {
	rows, err := db.bun.QueryContext(ctx, q, args...)
	if err != nil {
		return db.mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k seriesKey
		var s1, s2 string
		if err := rows.Scan(&k.unit, &k.line, &k.measure, &s1, &s2); err != nil {
			return err
		}
		d1, err := db.fromMinor(s1, scales[k.measure])
		if err != nil {
			return err
		}
		d2, err := db.fromMinor(s2, scales[k.measure])
		if err != nil {
			return err
		}
		fn(k, d1, d2)
	}
	return db.mapError(rows.Err())
}

func (db *DB) measureScales(ctx context.Context, ids []int64) (map[int64]int32, error) {
	var ms []measureRow
	if err := db.bun.NewSelect().Model(&ms).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, db.mapError(err)
	}
	out := map[int64]int32{}
	for _, m := range ms {
		out[m.ID] = m.Scale
	}
	return out, nil
}

// attainmentRows labels the sums, adds the totals over product lines of
// the measures that add up (totals holds those of the others, aggregated by
// their rules) and computes gaps, percentages and run rates.
func (db *DB) attainmentRows(ctx context.Context, sums, totals map[seriesKey]*seriesSums, kinds map[int64]*planning.Measure, scales map[int64]int32, period int) ([]planning.AttainmentRow, error) {
	var unitIDs, lineIDs, measureIDs []int64
	for k := range totals {
		unitIDs, measureIDs = append(unitIDs, k.unit), append(measureIDs, k.measure)
	}
	for k, x := range sums {
		unitIDs, lineIDs, measureIDs = append(unitIDs, k.unit), append(lineIDs, k.line), append(measureIDs, k.measure)
		if !kinds[k.measure].IsSum() {
			continue
		}
		tk := seriesKey{unit: k.unit, measure: k.measure}
		t, ok := totals[tk]
		if !ok {
			t = &seriesSums{}
			totals[tk] = t
		}
		t.target, t.yearTarget = t.target.Add(x.target), t.yearTarget.Add(x.yearTarget)
		t.actual, t.ytd = t.actual.Add(x.actual), t.ytd.Add(x.ytd)
	}
	units := map[int64]*orgUnitRow{}
	for _, chunk := range chunks(uniq(unitIDs), 5000) {
		var us []orgUnitRow
		if err := db.bun.NewSelect().Model(&us).Where("id IN (?)", bun.In(chunk)).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		for i := range us {
			units[us[i].ID] = &us[i]
		}
	}
	lines := map[int64]string{}
	if len(lineIDs) > 0 {
		var ls []productLineRow
		if err := db.bun.NewSelect().Model(&ls).Where("id IN (?)", bun.In(uniq(lineIDs))).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		for _, l := range ls {
			lines[l.ID] = l.Code
		}
	}
	measures := map[int64]string{}
	if len(measureIDs) > 0 {
		var ms []measureRow
		if err := db.bun.NewSelect().Model(&ms).Where("id IN (?)", bun.In(uniq(measureIDs))).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		for _, m := range ms {
			measures[m.ID] = m.Code
		}
	}
	out := make([]planning.AttainmentRow, 0, len(sums)+len(totals))
	add := func(k seriesKey, x *seriesSums) {
		u := units[k.unit]
		scale := scales[k.measure]
		row := planning.AttainmentRow{OrgUnitID: k.unit, OrgUnitCode: u.Code, OrgUnitName: u.Name, OrgUnitKind: planning.OrgUnitKind(u.Kind),
			OrgUnitPath: u.Path, ProductLineID: k.line, ProductLineCode: lines[k.line], MeasureID: k.measure, MeasureCode: measures[k.measure],
			Scale: scale, Target: x.target, Actual: x.actual, Gap: x.actual.Sub(x.target), YearTarget: x.yearTarget, YTDActual: x.ytd}
		row.Pct = planning.AttainmentPct(x.actual, x.target)
		row.RunRate = planning.RunRate(x.ytd, period, scale)
		if !kinds[k.measure].IsSum() {
			// A rate, a level or a rating to date projects as itself.
			row.RunRate = x.ytd
		}
		row.RunRatePct = planning.AttainmentPct(row.RunRate, x.yearTarget)
		out = append(out, row)
	}
	for k, x := range sums {
		add(k, x)
	}
	for k, x := range totals {
		add(k, x)
	}
	slices.SortFunc(out, func(a, b planning.AttainmentRow) int {
		return strings.Compare(attainmentKey(&a), attainmentKey(&b))
	})
	return out, nil
}

// attainmentKey orders rows by org unit path, measure code and product line
// code, the total over product lines (no code) first; it is also the cursor.
func attainmentKey(r *planning.AttainmentRow) string {
	return r.OrgUnitPath + "\x1f" + r.MeasureCode + "\x1f" + r.ProductLineCode
}

// FindAttainment implements planning.AttainmentService.
func (s *AttainmentService) FindAttainment(ctx context.Context, f planning.AttainmentFilter) (*planning.AttainmentReport, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, err
	}
	rep, err := s.attain(ctx, a, attainmentQuery{roundID: f.RoundID, versionID: f.VersionID, orgUnitID: f.OrgUnitID, subtree: f.Subtree,
		kind: f.Kind, lines: f.ProductLineIDs, measures: f.MeasureIDs, period: f.Period, basis: f.Basis})
	if err != nil {
		return nil, err
	}
	rows := rep.Rows
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		i, _ := slices.BinarySearchFunc(rows, after, func(r planning.AttainmentRow, key string) int {
			return strings.Compare(attainmentKey(&r), key)
		})
		for i < len(rows) && attainmentKey(&rows[i]) <= after {
			i++
		}
		rows = rows[i:]
	}
	if size := f.Page.Size(); len(rows) > size {
		rows = rows[:size]
		rep.NextCursor = planning.EncodeCursor(attainmentKey(&rows[size-1]))
	}
	rep.Rows = rows
	return rep, nil
}

// FindRankings implements planning.AttainmentService.
func (s *AttainmentService) FindRankings(ctx context.Context, f planning.RankingFilter) (*planning.Ranking, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if f.MeasureID == 0 {
		return nil, fieldErr(planning.EINVALID, "measure", "is required")
	}
	if f.Kind == "" {
		return nil, fieldErr(planning.EINVALID, "level", "is required: the kind of org unit to rank, such as branch")
	}
	rep, err := s.attain(ctx, a, attainmentQuery{roundID: f.RoundID, versionID: f.VersionID, kind: f.Kind, lines: f.ProductLineIDs,
		measures: []int64{f.MeasureID}, period: f.Period, basis: f.Basis})
	if err != nil {
		return nil, err
	}
	var totals []planning.AttainmentRow
	ranked := map[int64]bool{}
	for _, r := range rep.Rows {
		if r.ProductLineID == 0 {
			totals = append(totals, r)
			ranked[r.OrgUnitID] = true
		}
	}
	// Units of the level with neither targets nor actuals are ranked too,
	// last, so the ranking lists the whole level.
	var units []orgUnitRow
	q := s.db.bun.NewSelect().Model(&units).Where("kind = ? AND active", string(f.Kind)).OrderExpr("path")
	scopeWhere(q, a, "path")
	if err := q.Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	if len(units) > 0 {
		scales, err := s.db.measureScales(ctx, []int64{f.MeasureID})
		if err != nil {
			return nil, err
		}
		var code string
		if err := s.db.bun.NewSelect().TableExpr("measures").Column("code").Where("id = ?", f.MeasureID).Scan(ctx, &code); err != nil {
			return nil, s.db.mapError(err)
		}
		for _, u := range units {
			if ranked[u.ID] {
				continue
			}
			totals = append(totals, planning.AttainmentRow{OrgUnitID: u.ID, OrgUnitCode: u.Code, OrgUnitName: u.Name,
				OrgUnitKind: planning.OrgUnitKind(u.Kind), OrgUnitPath: u.Path, MeasureID: f.MeasureID, MeasureCode: code,
				Scale: scales[f.MeasureID]})
		}
	}
	rep.Rows = nil
	return &planning.Ranking{AttainmentReport: *rep, Items: planning.RankRows(totals)}, nil
}
