package sqlstore

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type cpRow struct {
	bun.BaseModel `bun:"table:counterproposals,alias:cp"`
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	VersionID     int64      `bun:"version_id" json:"version_id"`
	OrgUnitID     int64      `bun:"org_unit_id" json:"org_unit_id"`
	Title         string     `bun:"title" json:"title"`
	Status        string     `bun:"status" json:"status"`
	AuthorID      int64      `bun:"author_id" json:"author_id"`
	Revision      int64      `bun:"revision" json:"revision"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time  `bun:"updated_at" json:"updated_at"`
	SubmittedAt   *time.Time `bun:"submitted_at" json:"submitted_at"`
	ClosedAt      *time.Time `bun:"closed_at" json:"closed_at"`
}

type cpLineRow struct {
	bun.BaseModel     `bun:"table:counterproposal_lines,alias:l"`
	ID                int64      `bun:"id,pk,autoincrement" json:"id"`
	CounterproposalID int64      `bun:"counterproposal_id" json:"-"`
	Position          int        `bun:"position" json:"position"`
	ProductLineID     int64      `bun:"product_line_id" json:"product_line_id"`
	MeasureID         int64      `bun:"measure_id" json:"measure_id"`
	Period            int        `bun:"period" json:"period"`
	Proposed          string     `bun:"proposed" json:"proposed"`
	Reason            string     `bun:"reason" json:"reason"`
	Decision          *string    `bun:"decision" json:"decision"`
	DecidedAmount     *string    `bun:"decided_amount" json:"decided_amount"`
	DecisionComment   string     `bun:"decision_comment" json:"decision_comment"`
	ApplyMode         *string    `bun:"apply_mode" json:"apply_mode"`
	DecidedBy         *int64     `bun:"decided_by" json:"decided_by"`
	DecidedAt         *time.Time `bun:"decided_at" json:"decided_at"`
}

type commentRow struct {
	bun.BaseModel     `bun:"table:counterproposal_comments"`
	ID                int64     `bun:"id,pk,autoincrement"`
	CounterproposalID int64     `bun:"counterproposal_id"`
	AuthorID          int64     `bun:"author_id"`
	Body              string    `bun:"body"`
	CreatedAt         time.Time `bun:"created_at"`
}

// CounterproposalService implements planning.CounterproposalService.
type CounterproposalService struct {
	db      *DB
	targets *TargetService
}

var _ planning.CounterproposalService = (*CounterproposalService)(nil)

func (r *cpRow) toDomain() *planning.Counterproposal {
	return &planning.Counterproposal{ID: r.ID, VersionID: r.VersionID, OrgUnitID: r.OrgUnitID, Title: r.Title,
		Status: planning.CounterproposalStatus(r.Status), AuthorID: r.AuthorID, Revision: r.Revision,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), SubmittedAt: utcPtr(r.SubmittedAt), ClosedAt: utcPtr(r.ClosedAt)}
}

func (l *cpLineRow) toDomain() (planning.CounterproposalLine, error) {
	out := planning.CounterproposalLine{ID: l.ID, ProductLineID: l.ProductLineID, MeasureID: l.MeasureID, Period: l.Period,
		Reason: l.Reason, DecisionComment: l.DecisionComment, DecidedBy: l.DecidedBy, DecidedAt: utcPtr(l.DecidedAt)}
	var err error
	if out.Proposed, err = decimal.NewFromString(l.Proposed); err != nil {
		return out, err
	}
	if l.Decision != nil {
		out.Decision = planning.Decision(*l.Decision)
	}
	if l.ApplyMode != nil {
		out.ApplyMode = planning.ApplyMode(*l.ApplyMode)
	}
	if l.DecidedAmount != nil {
		d, err := decimal.NewFromString(*l.DecidedAmount)
		if err != nil {
			return out, err
		}
		out.DecidedAmount = &d
	}
	return out, nil
}

// loadCP reads a counterproposal the actor may see, with its unit's path.
func (s *CounterproposalService) loadCP(ctx context.Context, idb bun.IDB, a *planning.Actor, id int64) (*cpRow, *orgUnitRow, error) {
	row := new(cpRow)
	if err := s.db.scanOne(ctx, idb.NewSelect().Model(row).Where("id = ?", id), "counterproposal", id); err != nil {
		return nil, nil, err
	}
	unit := new(orgUnitRow)
	if err := idb.NewSelect().Model(unit).Where("id = ?", row.OrgUnitID).Scan(ctx); err != nil {
		return nil, nil, err
	}
	if !a.CanSeeOrgPath(unit.Path) {
		return nil, nil, notFound("counterproposal", id)
	}
	return row, unit, nil
}

// withLines loads a counterproposal's lines with their current targets.
func (s *CounterproposalService) withLines(ctx context.Context, idb bun.IDB, row *cpRow) (*planning.Counterproposal, error) {
	var lines []cpLineRow
	if err := idb.NewSelect().Model(&lines).Where("counterproposal_id = ?", row.ID).OrderExpr("position").Scan(ctx); err != nil {
		return nil, err
	}
	cp := row.toDomain()
	for i := range lines {
		l, err := lines[i].toDomain()
		if err != nil {
			return nil, err
		}
		months, err := s.db.unitMonths(ctx, idb, row.VersionID, row.OrgUnitID, l.ProductLineID, l.MeasureID)
		if err != nil {
			return nil, err
		}
		l.Current = currentOf(months, l.Period)
		l.Delta = l.Proposed.Sub(l.Current)
		cp.Lines = append(cp.Lines, l)
	}
	return cp, nil
}

// currentOf is a unit's target for a period, or its year for YearPeriod.
func currentOf(months [12]decimal.Decimal, period int) decimal.Decimal {
	if period != planning.YearPeriod {
		return months[period-1]
	}
	sum := decimal.Zero
	for _, m := range months {
		sum = sum.Add(m)
	}
	return sum
}

// unitMonths reads one unit's twelve months of a product line's measure.
func (db *DB) unitMonths(ctx context.Context, idb bun.IDB, versionID, unitID, lineID, measureID int64) ([12]decimal.Decimal, error) {
	var out [12]decimal.Decimal
	from, fromArgs, err := db.cellsOf(ctx, idb, versionID, "c")
	if err != nil {
		return out, err
	}
	var cells []cellRow
	if err := idb.NewSelect().TableExpr(from, fromArgs...).Column("period", "amount").
		Where("version_id = ? AND org_unit_id = ? AND product_line_id = ? AND measure_id = ?", versionID, unitID, lineID, measureID).
		Scan(ctx, &cells); err != nil {
		return out, err
	}
	for i := range out {
		out[i] = decimal.Zero
	}
	for _, c := range cells {
		d, err := decimal.NewFromString(c.Amount)
		if err != nil {
			return out, err
		}
		out[c.Period-1] = d
	}
	return out, nil
}

// FindCounterproposalByID implements planning.CounterproposalService.
func (s *CounterproposalService) FindCounterproposalByID(ctx context.Context, id int64) (*planning.Counterproposal, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	row, _, err := s.loadCP(ctx, s.db.bun, a, id)
	if err != nil {
		return nil, err
	}
	cp, err := s.withLines(ctx, s.db.bun, row)
	if err != nil {
		return nil, err
	}
	return cp, s.named(ctx, s.db.bun, cp)
}

// FindCounterproposals implements planning.CounterproposalService.
func (s *CounterproposalService) FindCounterproposals(ctx context.Context, f planning.CounterproposalFilter) ([]*planning.Counterproposal, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	if _, err := s.db.loadVersion(ctx, s.db.bun, f.VersionID); err != nil {
		return nil, "", err
	}
	var rows []cpRow
	q := s.db.bun.NewSelect().Model(&rows).Join("JOIN org_units AS ou ON ou.id = cp.org_unit_id").
		Where("cp.version_id = ?", f.VersionID).OrderExpr("cp.id").Limit(fetchLimit(f.Page))
	scopeWhere(q, a, "ou.path")
	if f.OrgUnitID != nil {
		q.Where("cp.org_unit_id = ?", *f.OrgUnitID)
	}
	if f.Status != "" {
		q.Where("cp.status = ?", string(f.Status))
	}
	if f.AwaitingDecisionBy != nil {
		q.Where("cp.status = ?", string(planning.CPSubmitted)).
			Where(`EXISTS (SELECT 1 FROM counterproposal_lines AS l JOIN product_lines AS pl ON pl.id = l.product_line_id
				WHERE l.counterproposal_id = cp.id AND l.decision IS NULL AND pl.owner_id = ?)`, *f.AwaitingDecisionBy)
	}
	if after, err := idCursor(f.Page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("cp.id > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *cpRow) string { return itoa(r.ID) })
	out := make([]*planning.Counterproposal, len(rows))
	for i := range rows {
		if out[i], err = s.withLines(ctx, s.db.bun, &rows[i]); err != nil {
			return nil, "", err
		}
	}
	if err := s.named(ctx, s.db.bun, out...); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// AddComment implements planning.CounterproposalService. Anyone who sees a
// counterproposal may comment on it, in any state.
func (s *CounterproposalService) AddComment(ctx context.Context, id int64, body string) (*planning.Comment, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if body == "" || len(body) > 10000 {
		return nil, fieldErr(planning.EINVALID, "body", "must be 1 to 10000 characters")
	}
	if msg := planning.CheckText(body, true); msg != "" {
		return nil, fieldErr(planning.EINVALID, "body", "%s", msg)
	}
	var out *planning.Comment
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row, unit, err := s.loadCP(ctx, tx, a, id)
		if err != nil {
			return err
		}
		c := &commentRow{CounterproposalID: id, AuthorID: a.UserID(), Body: body, CreatedAt: s.db.Now()}
		if _, err := tx.NewInsert().Model(c).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		out = &planning.Comment{ID: c.ID, AuthorID: c.AuthorID, Body: c.Body, CreatedAt: c.CreatedAt.UTC()}
		v, err := s.db.loadVersion(ctx, tx, row.VersionID)
		if err != nil {
			return err
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: v.RoundID, VersionID: v.ID, OrgPath: unit.Path},
			"counterproposal.comment", "counterproposal", id, nil, map[string]any{"comment_id": c.ID, "body": body})
		return err
	})
	return out, err
}

// FindComments implements planning.CounterproposalService.
func (s *CounterproposalService) FindComments(ctx context.Context, id int64) ([]*planning.Comment, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.loadCP(ctx, s.db.bun, a, id); err != nil {
		return nil, err
	}
	var rows []struct {
		commentRow
		AuthorName *string `bun:"author_name"`
	}
	if err := s.db.bun.NewSelect().Model(&rows).ModelTableExpr("counterproposal_comments AS c").ColumnExpr("c.*").
		ColumnExpr("u.name AS author_name").Join("LEFT JOIN users AS u ON u.id = c.author_id").
		Where("c.counterproposal_id = ?", id).OrderExpr("c.id").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]*planning.Comment, len(rows))
	for i, c := range rows {
		out[i] = &planning.Comment{ID: c.ID, AuthorID: c.AuthorID, Body: c.Body, CreatedAt: c.CreatedAt.UTC()}
		if c.AuthorName != nil {
			out[i].AuthorName = *c.AuthorName
		}
	}
	return out, nil
}

// CountCounterproposals implements planning.CounterproposalService: lines and
// undecided lines by unit, product line and state, plus a row in state
// "none" for every branch that has not submitted anything.
func (s *CounterproposalService) CountCounterproposals(ctx context.Context, versionID int64) ([]planning.CounterproposalCount, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.loadVersion(ctx, s.db.bun, versionID); err != nil {
		return nil, err
	}
	var rows []struct {
		OrgUnitID     int64  `bun:"org_unit_id"`
		ProductLineID int64  `bun:"product_line_id"`
		Status        string `bun:"status"`
		Lines         int64  `bun:"lines"`
		Undecided     int64  `bun:"undecided"`
	}
	q := s.db.bun.NewSelect().TableExpr("counterproposals AS cp").
		ColumnExpr("cp.org_unit_id, l.product_line_id, cp.status, COUNT(*) AS lines").
		ColumnExpr("SUM(CASE WHEN l.decision IS NULL THEN 1 ELSE 0 END) AS undecided").
		Join("JOIN counterproposal_lines AS l ON l.counterproposal_id = cp.id").
		Join("JOIN org_units AS ou ON ou.id = cp.org_unit_id").
		Where("cp.version_id = ?", versionID).
		GroupExpr("cp.org_unit_id, l.product_line_id, cp.status").OrderExpr("cp.org_unit_id, l.product_line_id, cp.status")
	scopeWhere(q, a, "ou.path")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]planning.CounterproposalCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, planning.CounterproposalCount{OrgUnitID: r.OrgUnitID, ProductLineID: r.ProductLineID,
			Status: planning.CounterproposalStatus(r.Status), Lines: r.Lines, Undecided: r.Undecided})
	}
	var silent []int64
	sq := s.db.bun.NewSelect().TableExpr("org_units AS ou").Column("ou.id").
		Where("ou.kind = ? AND ou.active", string(planning.KindBranch)).
		Where(`NOT EXISTS (SELECT 1 FROM counterproposals AS cp JOIN org_units AS u ON u.id = cp.org_unit_id
			WHERE cp.version_id = ? AND cp.status IN ('submitted', 'closed') AND u.path LIKE ou.path || '%')`, versionID).
		OrderExpr("ou.id")
	scopeWhere(sq, a, "ou.path")
	if err := sq.Scan(ctx, &silent); err != nil {
		return nil, s.db.mapError(err)
	}
	for _, id := range silent {
		out = append(out, planning.CounterproposalCount{OrgUnitID: id, Status: "none"})
	}
	var units, lines []int64
	for _, x := range out {
		units, lines = append(units, x.OrgUnitID), append(lines, x.ProductLineID)
	}
	uc, err := s.db.idCodes(ctx, s.db.bun, "org_units", "id, code", units)
	if err != nil {
		return nil, err
	}
	lc, err := s.db.idCodes(ctx, s.db.bun, "product_lines", "id, code", lines)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].OrgUnitCode, out[i].ProductLineCode = uc[out[i].OrgUnitID].Code, lc[out[i].ProductLineID].Code
	}
	return out, nil
}

// named fills what readers see of cps besides ids: the codes of their
// units, product lines and measures, the measures' scales, the periods as
// months of their rounds, and the names of their authors and deciders. One
// query per kind, for all of cps at once.
func (s *CounterproposalService) named(ctx context.Context, idb bun.IDB, cps ...*planning.Counterproposal) error {
	if len(cps) == 0 {
		return nil
	}
	var versionIDs, unitIDs, lineIDs, measureIDs, userIDs []int64
	for _, cp := range cps {
		versionIDs, unitIDs, userIDs = append(versionIDs, cp.VersionID), append(unitIDs, cp.OrgUnitID), append(userIDs, cp.AuthorID)
		for _, l := range cp.Lines {
			lineIDs, measureIDs = append(lineIDs, l.ProductLineID), append(measureIDs, l.MeasureID)
			if l.DecidedBy != nil {
				userIDs = append(userIDs, *l.DecidedBy)
			}
		}
	}
	units, err := s.db.idCodes(ctx, idb, "org_units", "id, code", unitIDs)
	if err != nil {
		return err
	}
	lines, err := s.db.idCodes(ctx, idb, "product_lines", "id, code", lineIDs)
	if err != nil {
		return err
	}
	measures, err := s.db.idCodes(ctx, idb, "measures", "id, code, scale", measureIDs)
	if err != nil {
		return err
	}
	users, err := s.db.idCodes(ctx, idb, "users", "id, name AS code", userIDs)
	if err != nil {
		return err
	}
	var years []struct {
		ID         int64 `bun:"id"`
		FiscalYear int   `bun:"fiscal_year"`
		FirstMonth int   `bun:"first_month"`
	}
	if err := idb.NewSelect().TableExpr("versions AS v").Join("JOIN rounds AS r ON r.id = v.round_id").
		ColumnExpr("v.id, r.fiscal_year, r.first_month").Where("v.id IN (?)", bun.In(versionIDs)).Scan(ctx, &years); err != nil {
		return s.db.mapError(err)
	}
	rounds := map[int64]*planning.Round{}
	for _, y := range years {
		rounds[y.ID] = &planning.Round{FiscalYear: y.FiscalYear, FirstMonth: y.FirstMonth}
	}
	for _, cp := range cps {
		cp.OrgUnitCode, cp.AuthorName = units[cp.OrgUnitID].Code, users[cp.AuthorID].Code
		for i := range cp.Lines {
			l := &cp.Lines[i]
			m := measures[l.MeasureID]
			l.ProductLineCode, l.MeasureCode, l.Scale = lines[l.ProductLineID].Code, m.Code, m.Scale
			l.PeriodLabel = "year"
			if r := rounds[cp.VersionID]; r != nil && l.Period != planning.YearPeriod {
				l.PeriodLabel = r.MonthLabel(l.Period)
			}
			if l.DecidedBy != nil {
				l.DecidedByName = users[*l.DecidedBy].Code
			}
		}
	}
	return nil
}

// idCode is a row's id with its code (or name) and, for measures, scale.
type idCode struct {
	ID    int64  `bun:"id"`
	Code  string `bun:"code"`
	Scale int32  `bun:"scale"`
}

// idCodes reads cols (id, code and maybe scale, as idCode names them) of
// the rows ids of table, in one query.
func (db *DB) idCodes(ctx context.Context, idb bun.IDB, table, cols string, ids []int64) (map[int64]idCode, error) {
	out := map[int64]idCode{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []idCode
	if err := idb.NewSelect().TableExpr(table).ColumnExpr(cols).Where("id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return nil, db.mapError(err)
	}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}
