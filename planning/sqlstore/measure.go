package sqlstore

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type measureRow struct {
	bun.BaseModel `bun:"table:measures"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Code          string    `bun:"code" json:"code"`
	Name          string    `bun:"name" json:"name"`
	NameLocal     string    `bun:"name_local" json:"name_local"`
	Unit          string    `bun:"unit" json:"unit"`
	Scale         int32     `bun:"scale" json:"scale"`
	Kind          string    `bun:"kind" json:"kind"`
	Aggregation   string    `bun:"aggregation" json:"aggregation"`
	WeightID      *int64    `bun:"weight_measure_id" json:"weight_measure_id"`
	RatingMin     *string   `bun:"rating_min" json:"rating_min"`
	RatingMax     *string   `bun:"rating_max" json:"rating_max"`
	RatingStep    *string   `bun:"rating_step" json:"rating_step"`
	Active        bool      `bun:"active" json:"active"`
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *measureRow) toDomain() *planning.Measure {
	m := &planning.Measure{ID: r.ID, Code: r.Code, Name: r.Name, NameLocal: r.NameLocal, Unit: r.Unit,
		Scale: r.Scale, Kind: planning.MeasureKind(r.Kind), Aggregation: planning.Aggregation(r.Aggregation), WeightMeasureID: r.WeightID,
		Active: r.Active, Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if m.Kind == "" {
		m.Kind = planning.MeasureAmount
	}
	if m.Aggregation == "" {
		m.Aggregation = planning.AggSum
	}
	if r.RatingMin != nil && r.RatingMax != nil && r.RatingStep != nil {
		m.Rating = &planning.RatingScale{Min: decimal.RequireFromString(*r.RatingMin), Max: decimal.RequireFromString(*r.RatingMax),
			Step: decimal.RequireFromString(*r.RatingStep)}
	}
	return m
}

// setKind copies the kind, aggregation, weight measure and rating scale of
// m into the row.
func (r *measureRow) setKind(m *planning.Measure) {
	r.Kind, r.Aggregation, r.WeightID = string(m.Kind), string(m.Aggregation), m.WeightMeasureID
	if r.Kind == "" {
		r.Kind = string(planning.MeasureAmount)
	}
	if r.Aggregation == "" {
		r.Aggregation = string(planning.AggSum)
	}
	r.RatingMin, r.RatingMax, r.RatingStep = nil, nil, nil
	if x := m.Rating; x != nil {
		mn, mx, st := x.Min.StringFixed(m.Scale), x.Max.StringFixed(m.Scale), x.Step.StringFixed(m.Scale)
		r.RatingMin, r.RatingMax, r.RatingStep = &mn, &mx, &st
	}
}

// checkWeight checks a weighted average's weight measure: an existing
// measure that adds up (EINVALID on the field weight_measure).
func (db *DB) checkWeight(ctx context.Context, idb bun.IDB, m *planning.Measure) error {
	if m.WeightMeasureID == nil {
		return nil
	}
	w := new(measureRow)
	if err := idb.NewSelect().Model(w).Where("id = ?", *m.WeightMeasureID).Scan(ctx); err != nil {
		if isNoRows(err) {
			return fieldErr(planning.EINVALID, "weight_measure", "no such measure")
		}
		return db.mapError(err)
	}
	if w.ID == m.ID {
		return fieldErr(planning.EINVALID, "weight_measure", "must be another measure")
	}
	if w.Aggregation != string(planning.AggSum) || w.Kind != string(planning.MeasureAmount) {
		return fieldErr(planning.EINVALID, "weight_measure", "%s is not an amount that adds up: a weight must be one, such as revenue", w.Code)
	}
	return nil
}

// labelWeights fills in the codes of weight measures.
func (db *DB) labelWeights(ctx context.Context, ms ...*planning.Measure) error {
	var ids []int64
	for _, m := range ms {
		if m.WeightMeasureID != nil {
			ids = append(ids, *m.WeightMeasureID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []measureRow
	if err := db.bun.NewSelect().Model(&rows).Column("id", "code").Where("id IN (?)", bun.In(uniq(ids))).Scan(ctx); err != nil {
		return db.mapError(err)
	}
	codes := map[int64]string{}
	for _, r := range rows {
		codes[r.ID] = r.Code
	}
	for _, m := range ms {
		if m.WeightMeasureID != nil {
			m.WeightMeasureCode = codes[*m.WeightMeasureID]
		}
	}
	return nil
}

// MeasureService implements planning.MeasureService.
type MeasureService struct{ db *DB }

var _ planning.MeasureService = (*MeasureService)(nil)

// FindMeasureByID implements planning.MeasureService.
func (s *MeasureService) FindMeasureByID(ctx context.Context, id int64) (*planning.Measure, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	row := new(measureRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(row).Where("id = ?", id), "measure", id); err != nil {
		return nil, err
	}
	m := row.toDomain()
	return m, s.db.labelWeights(ctx, m)
}

// FindMeasures implements planning.MeasureService.
func (s *MeasureService) FindMeasures(ctx context.Context, f planning.MeasureFilter) ([]*planning.Measure, string, error) {
	ms, next, err := s.findMeasures(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return ms, next, s.db.labelWeights(ctx, ms...)
}

func (s *MeasureService) findMeasures(ctx context.Context, f planning.MeasureFilter) ([]*planning.Measure, string, error) {
	return findPage(ctx, s.db, f.Page, func(q *bun.SelectQuery) error {
		if len(f.IDs) > 0 {
			q.Where("id IN (?)", bun.In(f.IDs))
		}
		if f.Code != "" {
			q.Where("code = ?", f.Code)
		}
		if len(f.Codes) > 0 {
			q.Where("code IN (?)", bun.In(f.Codes))
		}
		if f.Active != nil {
			q.Where("active = ?", *f.Active)
		}
		return nil
	}, byCode(func(r *measureRow) string { return r.Code }), func(r *measureRow) (*planning.Measure, error) { return r.toDomain(), nil })
}

func requireMasterData(a *planning.Actor, what string) error {
	return a.MayManageMasterData(what)
}

// CreateMeasure implements planning.MeasureService.
func (s *MeasureService) CreateMeasure(ctx context.Context, m *planning.Measure) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := requireMasterData(a, "measures"); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		now := s.db.Now()
		if err := s.db.checkWeight(ctx, tx, m); err != nil {
			return err
		}
		row := &measureRow{Code: m.Code, Name: m.Name, NameLocal: m.NameLocal, Unit: m.Unit, Scale: m.Scale,
			Active: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
		row.setKind(m)
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		code := m.WeightMeasureCode
		*m = *row.toDomain()
		m.WeightMeasureCode = code
		return s.db.writeAudit(ctx, tx, "measure.create", "measure", row.ID, nil, row)
	})
}

// UpdateMeasure implements planning.MeasureService.
func (s *MeasureService) UpdateMeasure(ctx context.Context, id int64, upd planning.MeasureUpdate) (*planning.Measure, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireMasterData(a, "measures"); err != nil {
		return nil, err
	}
	var out *planning.Measure
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(measureRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(row).Where("id = ?", id), "measure", id); err != nil {
			return err
		}
		if err := checkRevision(upd.IfMatch, row.Revision); err != nil {
			return err
		}
		before := *row
		if upd.Name != nil {
			row.Name = *upd.Name
		}
		if upd.NameLocal != nil {
			row.NameLocal = *upd.NameLocal
		}
		if upd.Active != nil {
			row.Active = *upd.Active
		}
		if upd.Aggregation != nil {
			row.Aggregation = string(*upd.Aggregation)
		}
		if upd.WeightSet {
			row.WeightID = upd.WeightMeasureID
		}
		m := row.toDomain()
		if err := m.Validate(); err != nil {
			return err
		}
		if err := s.db.checkWeight(ctx, tx, m); err != nil {
			return err
		}
		if before.Aggregation == string(planning.AggSum) && row.Aggregation != before.Aggregation {
			// Another measure's weighted average may be weighted by it.
			n, err := tx.NewSelect().Model((*measureRow)(nil)).Where("weight_measure_id = ?", id).Count(ctx)
			if err != nil {
				return s.db.mapError(err)
			}
			if n > 0 {
				return fieldErr(planning.EINVALID, "aggregation", "weighted averages are weighted by %s: it must stay an amount that adds up", row.Code)
			}
		}
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		out = row.toDomain()
		return s.db.writeAudit(ctx, tx, "measure.update", "measure", id, before, row)
	})
	if err == nil {
		err = s.db.labelWeights(ctx, out)
	}
	return out, err
}
