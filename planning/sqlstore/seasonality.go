package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type seasonalityRow struct {
	bun.BaseModel `bun:"table:seasonality_profiles"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Code          string    `bun:"code" json:"code"`
	Name          string    `bun:"name" json:"name"`
	Weights       string    `bun:"weights" json:"weights"` // a JSON array of 12 decimal strings
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *seasonalityRow) toDomain() (*planning.SeasonalityProfile, error) {
	var ws []string
	if err := json.Unmarshal([]byte(r.Weights), &ws); err != nil || len(ws) != 12 {
		return nil, planning.Errorf(planning.EINTERNAL, "seasonality profile %d has corrupt weights", r.ID)
	}
	p := &planning.SeasonalityProfile{ID: r.ID, Code: r.Code, Name: r.Name, Revision: r.Revision,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for i, w := range ws {
		d, err := decimal.NewFromString(w)
		if err != nil {
			return nil, planning.Errorf(planning.EINTERNAL, "seasonality profile %d has corrupt weights", r.ID)
		}
		p.Weights[i] = d
	}
	return p, nil
}

func encodeWeights(w [12]decimal.Decimal) string {
	ws := make([]string, 12)
	for i, d := range w {
		ws[i] = d.String()
	}
	b, _ := json.Marshal(ws)
	return string(b)
}

// SeasonalityProfileService implements planning.SeasonalityProfileService.
type SeasonalityProfileService struct{ db *DB }

var _ planning.SeasonalityProfileService = (*SeasonalityProfileService)(nil)

func requireProfileWriter(a *planning.Actor) error {
	return a.MayManageSeasonality()
}

// FindSeasonalityProfileByID implements planning.SeasonalityProfileService.
func (s *SeasonalityProfileService) FindSeasonalityProfileByID(ctx context.Context, id int64) (*planning.SeasonalityProfile, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	row := new(seasonalityRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(row).Where("id = ?", id), "seasonality profile", id); err != nil {
		return nil, err
	}
	return row.toDomain()
}

// FindSeasonalityProfiles implements planning.SeasonalityProfileService.
func (s *SeasonalityProfileService) FindSeasonalityProfiles(ctx context.Context, f planning.SeasonalityProfileFilter) ([]*planning.SeasonalityProfile, string, error) {
	return findPage(ctx, s.db, f.Page, func(q *bun.SelectQuery) error {
		if f.Code != "" {
			q.Where("code = ?", f.Code)
		}
		return nil
	}, byCode(func(r *seasonalityRow) string { return r.Code }), (*seasonalityRow).toDomain)
}

// CreateSeasonalityProfile implements planning.SeasonalityProfileService.
func (s *SeasonalityProfileService) CreateSeasonalityProfile(ctx context.Context, p *planning.SeasonalityProfile) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := requireProfileWriter(a); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		now := s.db.Now()
		row := &seasonalityRow{Code: p.Code, Name: p.Name, Weights: encodeWeights(p.Weights), Revision: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		out, err := row.toDomain()
		if err != nil {
			return err
		}
		*p = *out
		return s.db.writeAudit(ctx, tx, "seasonality_profile.create", "seasonality_profile", row.ID, nil, row)
	})
}

// UpdateSeasonalityProfile implements planning.SeasonalityProfileService.
func (s *SeasonalityProfileService) UpdateSeasonalityProfile(ctx context.Context, id int64, upd planning.SeasonalityProfileUpdate) (*planning.SeasonalityProfile, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireProfileWriter(a); err != nil {
		return nil, err
	}
	var out *planning.SeasonalityProfile
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(seasonalityRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(row).Where("id = ?", id), "seasonality profile", id); err != nil {
			return err
		}
		if err := checkRevision(upd.IfMatch, row.Revision); err != nil {
			return err
		}
		before := *row
		p, err := row.toDomain()
		if err != nil {
			return err
		}
		if upd.Name != nil {
			p.Name = *upd.Name
		}
		if upd.Weights != nil {
			p.Weights = *upd.Weights
		}
		if err := p.Validate(); err != nil {
			return err
		}
		row.Name, row.Weights = p.Name, encodeWeights(p.Weights)
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		if out, err = row.toDomain(); err != nil {
			return err
		}
		return s.db.writeAudit(ctx, tx, "seasonality_profile.update", "seasonality_profile", id, before, row)
	})
	return out, err
}
