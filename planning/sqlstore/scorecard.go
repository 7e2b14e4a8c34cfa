package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type scorecardRow struct {
	bun.BaseModel `bun:"table:scorecards"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	RoundID       int64     `bun:"round_id" json:"round_id"`
	Level         string    `bun:"level" json:"level"`
	Name          string    `bun:"name" json:"name"`
	KPIs          string    `bun:"kpis" json:"kpis"`         // JSON: []kpiDoc
	Rounding      string    `bun:"rounding" json:"rounding"` // JSON: roundingDoc
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

// kpiDoc is a KPI as stored: ids, and decimals as strings.
type kpiDoc struct {
	MeasureID      int64     `json:"measure_id"`
	ProductLineIDs []int64   `json:"product_line_ids,omitempty"`
	Label          string    `json:"label,omitempty"`
	Weight         string    `json:"weight"`
	Direction      string    `json:"direction"`
	Curve          string    `json:"curve"`
	FloorPct       string    `json:"floor_pct,omitempty"`
	CapPct         string    `json:"cap_pct,omitempty"`
	Steps          []stepDoc `json:"steps,omitempty"`
}

type stepDoc struct {
	MinPct string `json:"min_pct"`
	Points string `json:"points"`
}

type roundingDoc struct {
	Places int32  `json:"places"`
	Mode   string `json:"mode"`
}

func encodeScorecard(s *planning.Scorecard) (kpis, rounding string) {
	docs := make([]kpiDoc, len(s.KPIs))
	for i, k := range s.KPIs {
		d := kpiDoc{MeasureID: k.MeasureID, ProductLineIDs: k.ProductLineIDs, Label: k.Label, Weight: k.Weight.String(),
			Direction: string(k.Direction), Curve: string(k.Curve.Kind)}
		if k.Curve.Kind == planning.CurveLinear {
			d.FloorPct, d.CapPct = k.Curve.FloorPct.String(), k.Curve.CapPct.String()
		}
		for _, st := range k.Curve.Steps {
			d.Steps = append(d.Steps, stepDoc{MinPct: st.MinPct.String(), Points: st.Points.String()})
		}
		docs[i] = d
	}
	b, _ := json.Marshal(docs)
	r, _ := json.Marshal(roundingDoc{Places: s.Rounding.Places, Mode: string(s.Rounding.Mode)})
	return string(b), string(r)
}

func (r *scorecardRow) toDomain() (*planning.Scorecard, error) {
	corrupt := planning.Errorf(planning.EINTERNAL, "scorecard %d is corrupt", r.ID)
	var docs []kpiDoc
	var rd roundingDoc
	if json.Unmarshal([]byte(r.KPIs), &docs) != nil || json.Unmarshal([]byte(r.Rounding), &rd) != nil {
		return nil, corrupt
	}
	s := &planning.Scorecard{ID: r.ID, RoundID: r.RoundID, Level: planning.OrgUnitKind(r.Level), Name: r.Name,
		Rounding: planning.Rounding{Places: rd.Places, Mode: planning.RoundingMode(rd.Mode)},
		Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	dec := func(s string) decimal.Decimal {
		if s == "" {
			return decimal.Zero
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			corrupt.Message += ": " + s
		}
		return d
	}
	for _, d := range docs {
		k := planning.KPI{MeasureID: d.MeasureID, ProductLineIDs: d.ProductLineIDs, Label: d.Label, Weight: dec(d.Weight),
			Direction: planning.Direction(d.Direction),
			Curve:     planning.Curve{Kind: planning.CurveKind(d.Curve), FloorPct: dec(d.FloorPct), CapPct: dec(d.CapPct)}}
		for _, st := range d.Steps {
			k.Curve.Steps = append(k.Curve.Steps, planning.Step{MinPct: dec(st.MinPct), Points: dec(st.Points)})
		}
		s.KPIs = append(s.KPIs, k)
	}
	if err := s.Validate(); err != nil {
		return nil, corrupt
	}
	return s, nil
}

// ScorecardService implements planning.ScorecardService.
type ScorecardService struct {
	db         *DB
	attainment *AttainmentService
}

var _ planning.ScorecardService = (*ScorecardService)(nil)

// label fills in the codes of the KPIs' measures and product lines.
func (s *ScorecardService) label(ctx context.Context, idb bun.IDB, cards ...*planning.Scorecard) error {
	var mids, lids []int64
	for _, c := range cards {
		for _, k := range c.KPIs {
			mids = append(mids, k.MeasureID)
			lids = append(lids, k.ProductLineIDs...)
		}
	}
	measures := map[int64]string{}
	kinds := map[int64]*planning.Measure{}
	if len(mids) > 0 {
		var ms []measureRow
		if err := idb.NewSelect().Model(&ms).Where("id IN (?)", bun.In(uniq(mids))).Scan(ctx); err != nil {
			return s.db.mapError(err)
		}
		var weights []int64
		for _, m := range ms {
			measures[m.ID] = m.Code
			kinds[m.ID] = m.toDomain()
			if m.WeightID != nil {
				weights = append(weights, *m.WeightID)
			}
		}
		if len(weights) > 0 {
			var ws []measureRow
			if err := idb.NewSelect().Model(&ws).Column("id", "code").Where("id IN (?)", bun.In(uniq(weights))).Scan(ctx); err != nil {
				return s.db.mapError(err)
			}
			for _, w := range ws {
				for _, k := range kinds {
					if k.WeightMeasureID != nil && *k.WeightMeasureID == w.ID {
						k.WeightMeasureCode = w.Code
					}
				}
			}
		}
	}
	lines := map[int64]string{}
	if len(lids) > 0 {
		var ls []productLineRow
		if err := idb.NewSelect().Model(&ls).Where("id IN (?)", bun.In(uniq(lids))).Scan(ctx); err != nil {
			return s.db.mapError(err)
		}
		for _, l := range ls {
			lines[l.ID] = l.Code
		}
	}
	for _, c := range cards {
		for i := range c.KPIs {
			k := &c.KPIs[i]
			k.MeasureCode = measures[k.MeasureID]
			if m := kinds[k.MeasureID]; m != nil {
				k.Aggregation, k.WeightCode = m.Agg(), m.WeightMeasureCode
			}
			k.ProductLineCodes = nil
			for _, id := range k.ProductLineIDs {
				k.ProductLineCodes = append(k.ProductLineCodes, lines[id])
			}
		}
	}
	return nil
}

// FindScorecards implements planning.ScorecardService.
func (s *ScorecardService) FindScorecards(ctx context.Context, roundID int64) ([]*planning.Scorecard, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	if _, _, err := s.db.loadRound(ctx, s.db.bun, roundID); err != nil {
		return nil, err
	}
	var rows []scorecardRow
	if err := s.db.bun.NewSelect().Model(&rows).Where("round_id = ?", roundID).OrderExpr("level ASC").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]*planning.Scorecard, len(rows))
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	if err := s.label(ctx, s.db.bun, out...); err != nil {
		return nil, err
	}
	return out, nil
}

// FindScorecard implements planning.ScorecardService.
func (s *ScorecardService) FindScorecard(ctx context.Context, roundID int64, level planning.OrgUnitKind) (*planning.Scorecard, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, roundID)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, s.db.bun, r, level)
}

func (s *ScorecardService) find(ctx context.Context, idb bun.IDB, r *planning.Round, level planning.OrgUnitKind) (*planning.Scorecard, error) {
	row := new(scorecardRow)
	if err := idb.NewSelect().Model(row).Where("round_id = ? AND level = ?", r.ID, string(level)).Scan(ctx); err != nil {
		if isNoRows(err) {
			return nil, planning.Errorf(planning.ENOTFOUND, "round %s has no scorecard for level %s", r.Code, level)
		}
		return nil, s.db.mapError(err)
	}
	c, err := row.toDomain()
	if err != nil {
		return nil, err
	}
	return c, s.label(ctx, idb, c)
}

// PutScorecard implements planning.ScorecardService.
func (s *ScorecardService) PutScorecard(ctx context.Context, c *planning.Scorecard, ifMatch *int64) (created bool, err error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return false, err
	}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		_, r, err := s.db.loadRound(ctx, tx, c.RoundID)
		if err != nil {
			return err
		}
		if err := planning.CheckScorecardWrite(a, r); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if err := s.checkReferences(ctx, tx, r, c); err != nil {
			return err
		}
		old := new(scorecardRow)
		err = tx.NewSelect().Model(old).Where("round_id = ? AND level = ?", r.ID, string(c.Level)).Scan(ctx)
		if err != nil && !isNoRows(err) {
			return s.db.mapError(err)
		}
		created = isNoRows(err)
		now := s.db.Now()
		kpis, rounding := encodeScorecard(c)
		row := &scorecardRow{RoundID: r.ID, Level: string(c.Level), Name: c.Name, KPIs: kpis, Rounding: rounding,
			Revision: 1, CreatedAt: now, UpdatedAt: now}
		if created {
			if ifMatch != nil {
				return planning.Errorf(planning.EPRECONDITION, "round %s has no scorecard for level %s yet", r.Code, c.Level)
			}
			if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
				return s.db.mapError(err)
			}
		} else {
			if err := checkRevision(ifMatch, old.Revision); err != nil {
				return err
			}
			row.ID, row.Revision, row.CreatedAt = old.ID, old.Revision+1, old.CreatedAt
			if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
				return s.db.mapError(err)
			}
		}
		out, err := row.toDomain()
		if err != nil {
			return err
		}
		if err := s.label(ctx, tx, out); err != nil {
			return err
		}
		*c = *out
		var before any
		action := "scorecard.create"
		if !created {
			before, action = old, "scorecard.update"
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID}, action, "scorecard", row.ID, before, row)
		return err
	})
	return created, err
}

// checkReferences checks that every KPI's measure is one of the round's and
// every key product line exists.
func (s *ScorecardService) checkReferences(ctx context.Context, idb bun.IDB, r *planning.Round, c *planning.Scorecard) error {
	var v planning.Validation
	var lids []int64
	for i, k := range c.KPIs {
		found := false
		for _, id := range r.MeasureIDs {
			found = found || id == k.MeasureID
		}
		if !found {
			v.Add(kpiField(i, "measure"), "is not a measure of round %s", r.Code)
		}
		lids = append(lids, k.ProductLineIDs...)
	}
	if len(lids) > 0 {
		n, err := idb.NewSelect().Model((*productLineRow)(nil)).Where("id IN (?)", bun.In(uniq(lids))).Count(ctx)
		if err != nil {
			return s.db.mapError(err)
		}
		if int(n) != len(uniq(lids)) {
			v.Add("kpis", "names a product line that does not exist")
		}
	}
	return v.Err()
}

func kpiField(i int, f string) string {
	return "kpis[" + decimal.NewFromInt(int64(i)).String() + "]." + f
}

// DeleteScorecard implements planning.ScorecardService.
func (s *ScorecardService) DeleteScorecard(ctx context.Context, roundID int64, level planning.OrgUnitKind) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		_, r, err := s.db.loadRound(ctx, tx, roundID)
		if err != nil {
			return err
		}
		if err := planning.CheckScorecardWrite(a, r); err != nil {
			return err
		}
		old := new(scorecardRow)
		if err := tx.NewSelect().Model(old).Where("round_id = ? AND level = ?", r.ID, string(level)).Scan(ctx); err != nil {
			if isNoRows(err) {
				return planning.Errorf(planning.ENOTFOUND, "round %s has no scorecard for level %s", r.Code, level)
			}
			return s.db.mapError(err)
		}
		if _, err := tx.NewDelete().Model(old).WherePK().Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID}, "scorecard.delete", "scorecard", old.ID, old, nil)
		return err
	})
}

// FindScores implements planning.ScorecardService: each KPI is one
// attainment query over the level (the same sums, the same scope), and each
// unit's totals over the KPI's product lines are scored.
func (s *ScorecardService) FindScores(ctx context.Context, f planning.ScoreFilter) (*planning.ScoreReport, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !f.Level.Valid() {
		return nil, fieldErr(planning.EINVALID, "level", "must be one of %v", planning.OrgUnitKinds)
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, f.RoundID)
	if err != nil {
		return nil, err
	}
	card, err := s.find(ctx, s.db.bun, r, f.Level)
	if err != nil {
		return nil, err
	}
	// The units: every active unit of the level the actor sees, so units
	// with neither targets nor actuals are scored (zero) too.
	var units []orgUnitRow
	q := s.db.bun.NewSelect().Model(&units).Where("kind = ? AND active", string(f.Level)).OrderExpr("path")
	scopeWhere(q, a, "path")
	if err := q.Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	if f.OrgUnitID != nil {
		u := new(orgUnitRow)
		if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(u).Where("id = ?", *f.OrgUnitID), "org unit", *f.OrgUnitID); err != nil {
			return nil, err
		}
		if !a.CanSeeOrgPath(u.Path) {
			return nil, notFound("org unit", *f.OrgUnitID)
		}
		if u.Kind != string(f.Level) {
			return nil, fieldErr(planning.EINVALID, "org_unit", "is a %s, not a %s", u.Kind, f.Level)
		}
	}
	inputs := make(map[int64][]planning.KPIInput, len(units))
	for _, u := range units {
		inputs[u.ID] = make([]planning.KPIInput, len(card.KPIs))
	}
	rep := &planning.ScoreReport{Scorecard: card}
	scales, err := s.db.measureScales(ctx, r.MeasureIDs)
	if err != nil {
		return nil, err
	}
	for i, k := range card.KPIs {
		for _, in := range inputs {
			in[i].Scale = scales[k.MeasureID]
		}
		att, err := s.attainment.attain(ctx, a, attainmentQuery{roundID: r.ID, versionID: f.VersionID,
			kind: f.Level, lines: k.ProductLineIDs, measures: []int64{k.MeasureID}, period: f.Period, basis: f.Basis})
		if err != nil {
			return nil, err
		}
		if i == 0 {
			rep.AttainmentReport = *att
			rep.Rows = nil
			// Every KPI is scored as of the same month.
			f.Period = att.Period
		}
		for _, row := range att.Rows {
			if in, ok := inputs[row.OrgUnitID]; ok && row.ProductLineID == 0 {
				in[i].Target, in[i].Actual = row.Target, row.Actual
			}
		}
	}
	for _, u := range units {
		rep.Units = append(rep.Units, planning.UnitScore{OrgUnitID: u.ID, OrgUnitCode: u.Code, OrgUnitName: u.Name,
			OrgUnitPath: u.Path, Score: card.ScoreCard(inputs[u.ID])})
	}
	// Ranks are places among every unit of the level the actor sees; one
	// unit asked for keeps its place.
	planning.RankScores(rep.Units)
	if f.OrgUnitID != nil {
		for _, u := range rep.Units {
			if u.OrgUnitID == *f.OrgUnitID {
				rep.Units = []planning.UnitScore{u}
				break
			}
		}
	}
	return rep, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

type scoreIssueRow struct {
	bun.BaseModel     `bun:"table:score_issues"`
	ID                int64     `bun:"id,pk,autoincrement" json:"id"`
	RoundID           int64     `bun:"round_id" json:"round_id"`
	Level             string    `bun:"level" json:"level"`
	VersionID         int64     `bun:"version_id" json:"version_id"`
	Period            int       `bun:"period" json:"period"`
	Basis             string    `bun:"basis" json:"basis"`
	ScorecardRevision int64     `bun:"scorecard_revision" json:"scorecard_revision"`
	Scorecard         string    `bun:"scorecard" json:"-"` // JSON: scorecardDoc
	Items             string    `bun:"items" json:"-"`     // JSON: []issuedUnit
	IssuedBy          *int64    `bun:"issued_by" json:"issued_by"`
	IssuedAt          time.Time `bun:"issued_at" json:"issued_at"`
}

// scorecardDoc is a scorecard as an issue keeps it, codes included.
type scorecardDoc struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	KPIs     string     `json:"kpis"`
	Rounding string     `json:"rounding"`
	Measures []string   `json:"measures"`
	Lines    [][]string `json:"lines"`
}

type issuedKPI struct {
	Target   string  `json:"target"`
	Actual   string  `json:"actual"`
	Scale    int32   `json:"scale"`
	Pct      *string `json:"pct"`
	Points   string  `json:"points"`
	Weighted string  `json:"weighted"`
}

type issuedUnit struct {
	Rank  int         `json:"rank"`
	ID    int64       `json:"id"`
	Code  string      `json:"code"`
	Name  string      `json:"name"`
	Path  string      `json:"path"`
	Total string      `json:"total"`
	Exact string      `json:"exact"`
	KPIs  []issuedKPI `json:"kpis"`
}

// IssueScores implements planning.ScorecardService.
func (s *ScorecardService) IssueScores(ctx context.Context, f planning.ScoreFilter) (*planning.ScoreIssue, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := planning.CheckScoreIssue(a); err != nil {
		return nil, err
	}
	f.OrgUnitID = nil
	rep, err := s.FindScores(ctx, f)
	if err != nil {
		return nil, err
	}
	card := rep.Scorecard
	kpis, rounding := encodeScorecard(card)
	doc := scorecardDoc{ID: card.ID, Name: card.Name, KPIs: kpis, Rounding: rounding}
	for _, k := range card.KPIs {
		doc.Measures = append(doc.Measures, k.MeasureCode)
		doc.Lines = append(doc.Lines, k.ProductLineCodes)
	}
	units := make([]issuedUnit, len(rep.Units))
	for i, u := range rep.Units {
		iu := issuedUnit{Rank: u.Rank, ID: u.OrgUnitID, Code: u.OrgUnitCode, Name: u.OrgUnitName, Path: u.OrgUnitPath,
			Total: u.Total.String(), Exact: u.Exact.String()}
		for _, k := range u.KPIs {
			ik := issuedKPI{Target: k.Target.String(), Actual: k.Actual.String(), Scale: k.Scale, Points: k.Points.String(), Weighted: k.Weighted.String()}
			if k.AttainmentPct != nil {
				p := k.AttainmentPct.String()
				ik.Pct = &p
			}
			iu.KPIs = append(iu.KPIs, ik)
		}
		units[i] = iu
	}
	cb, _ := json.Marshal(doc)
	ub, _ := json.Marshal(units)
	row := &scoreIssueRow{RoundID: rep.Round.ID, Level: string(card.Level), VersionID: rep.VersionID, Period: rep.Period, Basis: string(rep.Basis),
		ScorecardRevision: card.Revision, Scorecard: string(cb), Items: string(ub), IssuedAt: s.db.Now()}
	if id := a.UserID(); id != 0 {
		row.IssuedBy = &id
	}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		// The audit event names the issue, not the units' scores: the
		// trail is read by people who see part of the tree only.
		_, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: row.RoundID, VersionID: row.VersionID}, "scores.issue", "score_issue", row.ID, nil, row)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.issueToDomain(row, a)
}

func (s *ScorecardService) issueToDomain(row *scoreIssueRow, a *planning.Actor) (*planning.ScoreIssue, error) {
	corrupt := planning.Errorf(planning.EINTERNAL, "score issue %d is corrupt", row.ID)
	var doc scorecardDoc
	var units []issuedUnit
	if json.Unmarshal([]byte(row.Scorecard), &doc) != nil || json.Unmarshal([]byte(row.Items), &units) != nil {
		return nil, corrupt
	}
	card, err := (&scorecardRow{ID: doc.ID, RoundID: row.RoundID, Level: row.Level, Name: doc.Name, KPIs: doc.KPIs, Rounding: doc.Rounding,
		Revision: row.ScorecardRevision}).toDomain()
	if err != nil || len(doc.Measures) != len(card.KPIs) || len(doc.Lines) != len(card.KPIs) {
		return nil, corrupt
	}
	for i := range card.KPIs {
		card.KPIs[i].MeasureCode, card.KPIs[i].ProductLineCodes = doc.Measures[i], doc.Lines[i]
	}
	out := &planning.ScoreIssue{ID: row.ID, RoundID: row.RoundID, VersionID: row.VersionID, Period: row.Period, Basis: planning.Basis(row.Basis),
		Scorecard: card, IssuedBy: row.IssuedBy, IssuedAt: row.IssuedAt.UTC()}
	dec := func(s string) decimal.Decimal {
		d, e := decimal.NewFromString(s)
		if e != nil {
			err = corrupt
		}
		return d
	}
	for _, u := range units {
		if !a.CanSeeOrgPath(u.Path) {
			continue
		}
		us := planning.UnitScore{Rank: u.Rank, OrgUnitID: u.ID, OrgUnitCode: u.Code, OrgUnitName: u.Name, OrgUnitPath: u.Path,
			Score: planning.Score{Total: dec(u.Total), Exact: dec(u.Exact)}}
		if len(u.KPIs) != len(card.KPIs) {
			return nil, corrupt
		}
		for i, k := range u.KPIs {
			ks := planning.KPIScore{KPI: &card.KPIs[i], Target: dec(k.Target), Actual: dec(k.Actual), Scale: k.Scale, Points: dec(k.Points), Weighted: dec(k.Weighted)}
			if k.Pct != nil {
				p := dec(*k.Pct)
				ks.AttainmentPct = &p
			}
			us.KPIs = append(us.KPIs, ks)
		}
		out.Units = append(out.Units, us)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindScoreIssues implements planning.ScorecardService.
func (s *ScorecardService) FindScoreIssues(ctx context.Context, roundID int64, level planning.OrgUnitKind) ([]*planning.ScoreIssue, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.db.loadRound(ctx, s.db.bun, roundID); err != nil {
		return nil, err
	}
	var rows []scoreIssueRow
	if err := s.db.bun.NewSelect().Model(&rows).Where("round_id = ? AND level = ?", roundID, string(level)).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]*planning.ScoreIssue, len(rows))
	for i := range rows {
		if out[i], err = s.issueToDomain(&rows[i], a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ApplyDefaultScorecards implements planning.ScorecardService: the
// scorecards are created in one transaction, each as PutScorecard creates
// one.
func (s *ScorecardService) ApplyDefaultScorecards(ctx context.Context, roundID int64) ([]*planning.Scorecard, error) {
	return s.applyTemplates(ctx, roundID, planning.DefaultTemplates)
}

// applyTemplates gives round roundID the scorecards of choose(the
// organisation's templates), read and written in one transaction that
// joins the caller's (ctx may carry one).
func (s *ScorecardService) applyTemplates(ctx context.Context, roundID int64, choose func([]planning.ScorecardTemplate) []planning.ScorecardTemplate) ([]*planning.Scorecard, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out []*planning.Scorecard
	err = s.db.Atomically(ctx, func(ctx context.Context) error {
		// Reads join the ambient transaction, so a round created in it
		// (CreateRound gives a new round the templates) is seen.
		return s.db.inTx(ctx, func(tx bun.Tx) error {
			ts, err := s.db.scorecardTemplates(ctx, tx)
			if err != nil {
				return err
			}
			if ts = choose(ts); len(ts) == 0 {
				return nil
			}
			return s.applyDefaults(ctx, tx, a, roundID, ts, &out)
		})
	})
	return out, err
}

// applyDefaults is ApplyDefaultScorecards in tx.
func (s *ScorecardService) applyDefaults(ctx context.Context, tx bun.Tx, a *planning.Actor, roundID int64, templates []planning.ScorecardTemplate, out *[]*planning.Scorecard) error {
	_, r, err := s.db.loadRound(ctx, tx, roundID)
	if err != nil {
		return err
	}
	if err := planning.CheckScorecardWrite(a, r); err != nil {
		return err
	}
	var ms []measureRow
	if err := tx.NewSelect().Model(&ms).Where("id IN (?)", bun.In(append([]int64{0}, r.MeasureIDs...))).Scan(ctx); err != nil {
		return s.db.mapError(err)
	}
	measures := map[string]int64{}
	for _, m := range ms {
		measures[m.Code] = m.ID
	}
	var ls []productLineRow
	if err := tx.NewSelect().Model(&ls).Scan(ctx); err != nil {
		return s.db.mapError(err)
	}
	lines := map[string]int64{}
	for _, l := range ls {
		lines[l.Code] = l.ID
	}
	var existing []scorecardRow
	if err := tx.NewSelect().Model(&existing).Column("level").Where("round_id = ?", r.ID).Scan(ctx); err != nil {
		return s.db.mapError(err)
	}
	has := map[planning.OrgUnitKind]bool{}
	for _, c := range existing {
		has[planning.OrgUnitKind(c.Level)] = true
	}
	for _, t := range templates {
		if has[t.Level] {
			continue
		}
		kpis := t.Reweight(func(k planning.KPITemplate) bool {
			if measures[k.MeasureCode] == 0 {
				return false
			}
			for _, code := range k.ProductLineCodes {
				if lines[code] == 0 {
					return false
				}
			}
			return true
		})
		if kpis == nil {
			continue
		}
		card := &planning.Scorecard{RoundID: r.ID, Level: t.Level, Name: t.Name, Rounding: t.Rounding}
		for _, k := range kpis {
			kpi := planning.KPI{MeasureID: measures[k.MeasureCode], Label: k.Label, Weight: k.Weight, Direction: k.Direction, Curve: k.Curve}
			for _, code := range k.ProductLineCodes {
				kpi.ProductLineIDs = append(kpi.ProductLineIDs, lines[code])
			}
			card.KPIs = append(card.KPIs, kpi)
		}
		if _, err := s.PutScorecard(ctx, card, nil); err != nil {
			return err
		}
		*out = append(*out, card)
	}
	return nil
}
