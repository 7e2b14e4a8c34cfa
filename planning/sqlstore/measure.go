package sqlstore

import (
	"context"
	"time"

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
	Active        bool      `bun:"active" json:"active"`
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *measureRow) toDomain() *planning.Measure {
	return &planning.Measure{ID: r.ID, Code: r.Code, Name: r.Name, NameLocal: r.NameLocal, Unit: r.Unit,
		Scale: r.Scale, Active: r.Active, Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
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
	return row.toDomain(), nil
}

// FindMeasures implements planning.MeasureService.
func (s *MeasureService) FindMeasures(ctx context.Context, f planning.MeasureFilter) ([]*planning.Measure, string, error) {
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
		row := &measureRow{Code: m.Code, Name: m.Name, NameLocal: m.NameLocal, Unit: m.Unit, Scale: m.Scale,
			Active: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		*m = *row.toDomain()
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
		if err := row.toDomain().Validate(); err != nil {
			return err
		}
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		out = row.toDomain()
		return s.db.writeAudit(ctx, tx, "measure.update", "measure", id, before, row)
	})
	return out, err
}
