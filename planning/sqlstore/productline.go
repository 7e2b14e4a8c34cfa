package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type productLineRow struct {
	bun.BaseModel `bun:"table:product_lines"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Code          string    `bun:"code" json:"code"`
	Name          string    `bun:"name" json:"name"`
	NameLocal     string    `bun:"name_local" json:"name_local"`
	Group         string    `bun:"product_group" json:"group"`
	OwnerID       *int64    `bun:"owner_id" json:"owner_id"`
	Active        bool      `bun:"active" json:"active"`
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *productLineRow) toDomain() *planning.ProductLine {
	return &planning.ProductLine{ID: r.ID, Code: r.Code, Name: r.Name, NameLocal: r.NameLocal,
		Group: planning.ProductGroup(r.Group), OwnerID: r.OwnerID, Active: r.Active, Revision: r.Revision,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// ProductLineService implements planning.ProductLineService.
type ProductLineService struct{ db *DB }

var _ planning.ProductLineService = (*ProductLineService)(nil)

// FindProductLineByID implements planning.ProductLineService.
func (s *ProductLineService) FindProductLineByID(ctx context.Context, id int64) (*planning.ProductLine, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	row := new(productLineRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(row).Where("id = ?", id), "product line", id); err != nil {
		return nil, err
	}
	return row.toDomain(), nil
}

// FindProductLines implements planning.ProductLineService.
func (s *ProductLineService) FindProductLines(ctx context.Context, f planning.ProductLineFilter) ([]*planning.ProductLine, string, error) {
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
		if f.Group != "" {
			q.Where("product_group = ?", string(f.Group))
		}
		if f.OwnerID != nil {
			q.Where("owner_id = ?", *f.OwnerID)
		}
		if f.Active != nil {
			q.Where("active = ?", *f.Active)
		}
		return nil
	}, byCode(func(r *productLineRow) string { return r.Code }), func(r *productLineRow) (*planning.ProductLine, error) { return r.toDomain(), nil })
}

// checkOwner verifies that ownerID is an active user with the product
// manager role.
func (s *ProductLineService) checkOwner(ctx context.Context, tx bun.IDB, ownerID int64) error {
	n, err := tx.NewSelect().Table("role_assignments").
		Join("JOIN users AS u ON u.id = role_assignments.user_id").
		Where("role_assignments.user_id = ? AND role_assignments.role = ? AND u.active", ownerID, string(planning.RoleProductManager)).
		Count(ctx)
	if err != nil {
		return err
	} else if n == 0 {
		return fieldErr(planning.EINVALID, "owner_id", "must be an active user with the product_manager role")
	}
	return nil
}

// CreateProductLine implements planning.ProductLineService.
func (s *ProductLineService) CreateProductLine(ctx context.Context, p *planning.ProductLine) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayCreateProductLines(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		if p.OwnerID != nil {
			if err := s.checkOwner(ctx, tx, *p.OwnerID); err != nil {
				return err
			}
		}
		now := s.db.Now()
		row := &productLineRow{Code: p.Code, Name: p.Name, NameLocal: p.NameLocal, Group: string(p.Group),
			OwnerID: p.OwnerID, Active: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		*p = *row.toDomain()
		return s.db.writeAudit(ctx, tx, "product_line.create", "product_line", row.ID, nil, row)
	})
}

// UpdateProductLine implements planning.ProductLineService.
func (s *ProductLineService) UpdateProductLine(ctx context.Context, id int64, upd planning.ProductLineUpdate) (*planning.ProductLine, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.ProductLine
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(productLineRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(row).Where("id = ?", id), "product line", id); err != nil {
			return err
		}
		if err := a.MayChangeProductLine(row.toDomain(), upd.OwnerID != nil || upd.Active != nil); err != nil {
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
		if upd.Group != nil {
			row.Group = string(*upd.Group)
		}
		if upd.Active != nil {
			row.Active = *upd.Active
		}
		if upd.OwnerID != nil {
			if *upd.OwnerID == 0 {
				row.OwnerID = nil
			} else {
				if err := s.checkOwner(ctx, tx, *upd.OwnerID); err != nil {
					return err
				}
				row.OwnerID = upd.OwnerID
			}
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
		return s.db.writeAudit(ctx, tx, "product_line.update", "product_line", id, before, row)
	})
	return out, err
}
