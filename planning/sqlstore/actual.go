package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// ActualService implements planning.ActualService.
type ActualService struct{ db *DB }

var _ planning.ActualService = (*ActualService)(nil)

type actualImportRow struct {
	bun.BaseModel `bun:"table:actual_imports"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	At            time.Time `bun:"at" json:"at"`
	ActorID       *int64    `bun:"actor_id" json:"actor_id"`
	FileName      string    `bun:"file_name" json:"file_name"`
	Format        string    `bun:"format" json:"format"`
	Checksum      string    `bun:"checksum" json:"checksum"`
	RowsRead      int       `bun:"rows_read" json:"rows"`
	Added         int       `bun:"added" json:"added"`
	Changed       int       `bun:"changed" json:"changed"`
	Unchanged     int       `bun:"unchanged" json:"unchanged"`
	Removed       int       `bun:"removed" json:"removed"`
}

// actualChange is the audit record of one actual an import added, changed
// or removed.
type actualChange struct {
	OrgUnitID     int64   `json:"org_unit_id"`
	ProductLineID int64   `json:"product_line_id"`
	MeasureID     int64   `json:"measure_id"`
	Month         string  `json:"month"`
	Before        *string `json:"before"`
	After         *string `json:"after"`
}

// importUnit is an org unit as an import checks it.
type importUnit struct {
	ID       int64  `bun:"id"`
	Code     string `bun:"code"`
	Path     string `bun:"path"`
	Active   bool   `bun:"active"`
	Children int64  `bun:"children"`
}

// importMasterData holds the org units, product lines and measures an import
// names, by code.
type importMasterData struct {
	units    map[string]*importUnit
	lines    map[string]*productLineRow
	measures map[string]*measureRow
}

func (db *DB) loadImportMasterData(ctx context.Context, rows []planning.ActualInput) (*importMasterData, error) {
	md := &importMasterData{units: map[string]*importUnit{}, lines: map[string]*productLineRow{}, measures: map[string]*measureRow{}}
	var units, lines, measures []string
	for _, r := range rows {
		units, lines, measures = append(units, r.OrgUnit), append(lines, r.ProductLine), append(measures, r.Measure)
	}
	for _, chunk := range chunks(lookupCodes(units), 5000) {
		var us []importUnit
		if err := db.bun.NewSelect().TableExpr("org_units AS ou").
			ColumnExpr("ou.id, ou.code, ou.path, ou.active").
			ColumnExpr("(SELECT COUNT(*) FROM org_units AS ch WHERE ch.parent_id = ou.id) AS children").
			Where("ou.code IN (?)", bun.In(chunk)).Scan(ctx, &us); err != nil {
			return nil, db.mapError(err)
		}
		for i := range us {
			md.units[us[i].Code] = &us[i]
		}
	}
	for _, chunk := range chunks(lookupCodes(lines), 5000) {
		var ls []productLineRow
		if err := db.bun.NewSelect().Model(&ls).Where("code IN (?)", bun.In(chunk)).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		for i := range ls {
			md.lines[ls[i].Code] = &ls[i]
		}
	}
	for _, chunk := range chunks(lookupCodes(measures), 5000) {
		var ms []measureRow
		if err := db.bun.NewSelect().Model(&ms).Where("code IN (?)", bun.In(chunk)).Scan(ctx); err != nil {
			return nil, db.mapError(err)
		}
		for i := range ms {
			md.measures[ms[i].Code] = &ms[i]
		}
	}
	return md, nil
}

// lookupCodes returns the distinct codes worth looking up: a code holding
// NUL names nothing (codes are letters, digits and punctuation), and the
// database could not even compare it, so it is left to be reported unknown.
func lookupCodes(xs []string) []string {
	out := uniqStrings(xs)
	return slices.DeleteFunc(out, func(x string) bool { return strings.IndexByte(x, 0) >= 0 })
}

func uniqStrings(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkActualRows checks every row and returns the actuals of the good ones
// with the scale of their measure. Problems go into the report.
func checkActualRows(rep *planning.ActualImportReport, rows []planning.ActualInput, md *importMasterData, round *planning.Round) ([]planning.Actual, map[int64]int32) {
	roundMeasures := map[int64]bool{}
	if round != nil {
		for _, id := range round.MeasureIDs {
			roundMeasures[id] = true
		}
	}
	var out []planning.Actual
	scales := map[int64]int32{}
	seen := map[planning.ActualKey]int{}
	for _, r := range rows {
		bad := false
		problem := func(column, value, format string, args ...any) {
			bad = true
			rep.Add(planning.ImportProblem{Row: r.Row, Column: column, Value: value, Reason: fmt.Sprintf(format, args...)})
		}
		var k planning.ActualKey
		switch u := md.units[r.OrgUnit]; {
		case r.OrgUnit == "":
			problem("org_unit", "", "is required")
		case u == nil:
			problem("org_unit", r.OrgUnit, "no org unit has this code")
		case !u.Active:
			problem("org_unit", r.OrgUnit, "the org unit is inactive")
		default:
			k.OrgUnitID = u.ID
		}
		switch pl := md.lines[r.ProductLine]; {
		case r.ProductLine == "":
			problem("product_line", "", "is required")
		case pl == nil:
			problem("product_line", r.ProductLine, "no product line has this code")
		default:
			k.ProductLineID = pl.ID
		}
		var scale int32 = planning.MaxScale
		scaleKnown := false
		var measure *planning.Measure
		switch m := md.measures[r.Measure]; {
		case r.Measure == "":
			problem("measure", "", "is required")
		case m == nil:
			problem("measure", r.Measure, "no measure has this code")
		case round != nil && !roundMeasures[m.ID]:
			problem("measure", r.Measure, "is not a measure of round %s", round.Code)
		case !m.Active:
			problem("measure", r.Measure, "the measure is inactive")
		default:
			k.MeasureID, scale, scaleKnown = m.ID, m.Scale, true
			scales[m.ID] = m.Scale
			measure = m.toDomain()
		}
		// Actuals that roll up are kept at the leaves; a measure that is
		// not aggregated (a rating of a branch's manager) belongs to the
		// unit it is given for, at any level.
		if u := md.units[r.OrgUnit]; u != nil && u.Active && u.Children > 0 && (measure == nil || measure.Agg().RollsUp()) {
			problem("org_unit", r.OrgUnit, "is not a leaf of the org tree: actuals are imported for units without children (such as teams) and roll up to their parents")
		}
		if _, err := planning.ParseMonth(r.Month); err != nil {
			problem("month", r.Month, "%s", err)
		} else if round != nil {
			if _, err := round.PeriodOf(r.Month); err != nil {
				problem("month", r.Month, "%s", err)
			} else {
				k.Month = r.Month
			}
		} else {
			k.Month = r.Month
		}
		amount, err := planning.ParseAmount(r.Amount, scale)
		if err == nil {
			err = planning.CheckStoredAmount(amount, scale)
		}
		if err != nil {
			problem("amount", r.Amount, "%s", err)
		} else if !scaleKnown {
			bad = true
		} else if measure != nil {
			var v planning.Validation
			measure.CheckValue(&v, "amount", amount)
			for _, e := range v.Fields() {
				problem("amount", r.Amount, "%s", e.Message)
			}
		}
		if bad {
			continue
		}
		if first, dup := seen[k]; dup {
			problem("", "", "repeats row %d: the same org unit, product line, measure and month", first)
			continue
		}
		seen[k] = r.Row
		out = append(out, planning.Actual{ActualKey: k, Amount: amount})
	}
	return out, scales
}

// importPlan is what an import changes: the actuals to write and to remove,
// with their audit records, and the counts.
type importPlan struct {
	write   []planning.Actual
	remove  []planning.ActualKey
	changes []actualChange
}

type replaceScope struct {
	unit, measure int64
	month         string
}

// planImport compares the file's actuals with those stored for the same
// (org unit, measure, month) triples, which the file replaces.
func (db *DB) planImport(ctx context.Context, idb bun.IDB, rep *planning.ActualImportReport, actuals []planning.Actual, scales map[int64]int32) (*importPlan, error) {
	scopes := map[replaceScope]bool{}
	var units []int64
	var months []string
	for _, a := range actuals {
		scopes[replaceScope{a.OrgUnitID, a.MeasureID, a.Month}] = true
		units, months = append(units, a.OrgUnitID), append(months, a.Month)
	}
	months = uniqStrings(months)
	existing := map[planning.ActualKey]decimal.Decimal{}
	for _, chunk := range chunks(uniq(units), 5000) {
		var rows []struct {
			OrgUnitID     int64  `bun:"org_unit_id"`
			ProductLineID int64  `bun:"product_line_id"`
			MeasureID     int64  `bun:"measure_id"`
			Month         string `bun:"month"`
			Amount        string `bun:"amount"`
		}
		if err := idb.NewSelect().TableExpr("actuals").Column("org_unit_id", "product_line_id", "measure_id", "month", "amount").
			Where("org_unit_id IN (?)", bun.In(chunk)).Where("month IN (?)", bun.In(months)).Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			if !scopes[replaceScope{r.OrgUnitID, r.MeasureID, r.Month}] {
				continue
			}
			d, err := decimal.NewFromString(r.Amount)
			if err != nil {
				return nil, fmt.Errorf("actual amount %q: %w", r.Amount, err)
			}
			existing[planning.ActualKey{OrgUnitID: r.OrgUnitID, ProductLineID: r.ProductLineID, MeasureID: r.MeasureID, Month: r.Month}] = d
		}
	}
	p := &importPlan{}
	str := func(d decimal.Decimal, m int64) *string { s := d.StringFixed(scales[m]); return &s }
	inFile := make(map[planning.ActualKey]bool, len(actuals))
	for _, a := range actuals {
		inFile[a.ActualKey] = true
		old, ok := existing[a.ActualKey]
		switch {
		case !ok:
			rep.Added++
		case old.Equal(a.Amount):
			rep.Unchanged++
			continue
		default:
			rep.Changed++
		}
		ch := actualChange{OrgUnitID: a.OrgUnitID, ProductLineID: a.ProductLineID, MeasureID: a.MeasureID, Month: a.Month, After: str(a.Amount, a.MeasureID)}
		if ok {
			ch.Before = str(old, a.MeasureID)
		}
		p.write = append(p.write, a)
		p.changes = append(p.changes, ch)
	}
	for k, old := range existing {
		if inFile[k] {
			continue
		}
		rep.Removed++
		p.remove = append(p.remove, k)
		p.changes = append(p.changes, actualChange{OrgUnitID: k.OrgUnitID, ProductLineID: k.ProductLineID, MeasureID: k.MeasureID, Month: k.Month,
			Before: str(old, k.MeasureID)})
	}
	slices.SortFunc(p.changes, func(a, b actualChange) int {
		if c := cmpKey(planning.CellKey{OrgUnitID: a.OrgUnitID, ProductLineID: a.ProductLineID, MeasureID: a.MeasureID},
			planning.CellKey{OrgUnitID: b.OrgUnitID, ProductLineID: b.ProductLineID, MeasureID: b.MeasureID}); c != 0 {
			return c
		}
		return strings.Compare(a.Month, b.Month)
	})
	return p, nil
}

// ImportActuals implements planning.ActualService.
func (s *ActualService) ImportActuals(ctx context.Context, imp planning.ActualImport) (*planning.ActualImportReport, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayImportActuals(); err != nil {
		return nil, err
	}
	if len(imp.Rows) > planning.MaxImportRows {
		return nil, planning.Errorf(planning.ETOOLARGE, "the file has %d data rows; at most %d are imported at once", len(imp.Rows), planning.MaxImportRows)
	}
	rep := &planning.ActualImportReport{DryRun: imp.DryRun, Rows: len(imp.Rows), At: s.db.Now()}
	for _, p := range imp.ReadProblems {
		rep.Add(p)
	}
	if len(imp.Rows) == 0 && rep.ProblemCount == 0 {
		rep.Add(planning.ImportProblem{Reason: "the file holds no data rows"})
	}
	var round *planning.Round
	if imp.RoundID != nil {
		if _, round, err = s.db.loadRound(ctx, s.db.bun, *imp.RoundID); err != nil {
			if planning.ErrorCode(err) == planning.ENOTFOUND {
				return nil, fieldErr(planning.EINVALID, "round", "no such round")
			}
			return nil, err
		}
	}
	md, err := s.db.loadImportMasterData(ctx, imp.Rows)
	if err != nil {
		return nil, err
	}
	actuals, scales := checkActualRows(rep, imp.Rows, md, round)
	units := map[int64]bool{}
	var months []string
	for _, x := range actuals {
		units[x.OrgUnitID] = true
		months = append(months, x.Month)
	}
	rep.Months, rep.OrgUnits = uniqStrings(months), len(units)
	if rep.ProblemCount > 0 || imp.DryRun {
		if _, err := s.db.planImport(ctx, s.db.bun, rep, actuals, scales); err != nil {
			return nil, s.db.mapError(err)
		}
		if imp.DryRun {
			return rep, nil
		}
		return rep, rep.Err()
	}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		rep.Added, rep.Changed, rep.Unchanged, rep.Removed = 0, 0, 0, 0
		p, err := s.db.planImport(ctx, tx, rep, actuals, scales)
		if err != nil {
			return err
		}
		row := &actualImportRow{At: rep.At, ActorID: actorIDPtr(a), FileName: truncate(imp.FileName, 255), Format: imp.Format, Checksum: imp.Checksum,
			RowsRead: rep.Rows, Added: rep.Added, Changed: rep.Changed, Unchanged: rep.Unchanged, Removed: rep.Removed}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		if err := s.db.removeActuals(ctx, tx, p.remove); err != nil {
			return err
		}
		if err := s.db.upsertActuals(ctx, tx, p.write, scales, row.ID); err != nil {
			return err
		}
		rep.ImportID, rep.Written = row.ID, true
		return s.db.writeAudit(ctx, tx, "actuals.import", "actual_import", row.ID, nil,
			map[string]any{"import": row, "months": rep.Months, "changes": p.changes})
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

func (db *DB) removeActuals(ctx context.Context, idb bun.IDB, keys []planning.ActualKey) error {
	for _, chunk := range chunks(keys, 500) {
		vals := make([]any, 0, len(chunk)*4)
		ph := make([]byte, 0, len(chunk)*10)
		for i, k := range chunk {
			if i > 0 {
				ph = append(ph, ',')
			}
			ph = append(ph, "(?,?,?,?)"...)
			vals = append(vals, k.OrgUnitID, k.ProductLineID, k.MeasureID, k.Month)
		}
		if _, err := idb.NewRaw("DELETE FROM actuals WHERE (org_unit_id, product_line_id, measure_id, month) IN (VALUES "+string(ph)+")", vals...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// upsertActuals writes actuals, replacing existing amounts. Amounts are
// stored at their measure's scale, so SQLite sums them exactly as minor
// units.
func (db *DB) upsertActuals(ctx context.Context, idb bun.IDB, actuals []planning.Actual, scales map[int64]int32, importID int64) error {
	for _, chunk := range chunks(actuals, 500) {
		vals := make([]any, 0, len(chunk)*6)
		ph := make([]byte, 0, len(chunk)*14)
		for i, x := range chunk {
			if i > 0 {
				ph = append(ph, ',')
			}
			ph = append(ph, "(?,?,?,?,?,?)"...)
			vals = append(vals, x.OrgUnitID, x.ProductLineID, x.MeasureID, x.Month, x.Amount.StringFixed(scales[x.MeasureID]), importID)
		}
		q := "INSERT INTO actuals (org_unit_id, product_line_id, measure_id, month, amount, import_id) VALUES " + string(ph) +
			" ON CONFLICT (org_unit_id, product_line_id, measure_id, month) DO UPDATE SET amount = excluded.amount, import_id = excluded.import_id"
		if _, err := idb.NewRaw(q, vals...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
