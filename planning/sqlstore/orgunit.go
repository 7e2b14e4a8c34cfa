package sqlstore

import (
	"context"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type orgUnitRow struct {
	bun.BaseModel `bun:"table:org_units"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Code          string    `bun:"code" json:"code"`
	Name          string    `bun:"name" json:"name"`
	NameLocal     string    `bun:"name_local" json:"name_local"`
	Kind          string    `bun:"kind" json:"kind"`
	ParentID      *int64    `bun:"parent_id" json:"parent_id"`
	Path          string    `bun:"path" json:"path"`
	Active        bool      `bun:"active" json:"active"`
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *orgUnitRow) toDomain() *planning.OrgUnit {
	return &planning.OrgUnit{ID: r.ID, Code: r.Code, Name: r.Name, NameLocal: r.NameLocal,
		Kind: planning.OrgUnitKind(r.Kind), ParentID: r.ParentID, Path: r.Path, Active: r.Active,
		Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// orgDataTables lists the tables whose rows tie an org unit to data, with the
// column that refers to it; a unit referred to from any of them is never
// hard-deleted.
// Target cells are checked apart, by unitHoldsCells.
var orgDataTables = []struct{ table, column string }{
	{"org_units", "parent_id"},
	{"role_assignments", "org_unit_id"},
	{"actuals", "org_unit_id"},
}

// unitHoldsCells says whether any layer of target cells (see cells.go)
// holds a row of the unit: one probe of the primary key's (round_id,
// version_id, org_unit_id) prefix per layer, so target_cells needs no index
// of its own on org_unit_id.
func (db *DB) unitHoldsCells(ctx context.Context, idb bun.IDB, unitID int64) (bool, error) {
	var held bool
	err := idb.NewRaw(`SELECT EXISTS (SELECT 1 FROM (SELECT round_id, id AS layer FROM versions UNION ALL
		SELECT round_id, cells_id FROM versions WHERE cells_id IS NOT NULL) AS l
		WHERE EXISTS (SELECT 1 FROM target_cells AS c WHERE c.round_id = l.round_id AND c.version_id = l.layer AND c.org_unit_id = ?))`, unitID).Scan(ctx, &held)
	return held, err
}

// OrgUnitService implements planning.OrgUnitService.
type OrgUnitService struct{ db *DB }

var _ planning.OrgUnitService = (*OrgUnitService)(nil)

func notFound(entity string, id int64) error {
	return planning.Errorf(planning.ENOTFOUND, "%s %d not found", entity, id)
}

// loadOrgUnit reads a unit visible to the actor, inside tx or not.
func (s *OrgUnitService) loadOrgUnit(ctx context.Context, db bun.IDB, a *planning.Actor, id int64) (*orgUnitRow, error) {
	row := new(orgUnitRow)
	if err := s.db.scanOne(ctx, db.NewSelect().Model(row).Where("id = ?", id), "org unit", id); err != nil {
		return nil, err
	}
	if !a.CanSeeOrgPath(row.Path) {
		return nil, notFound("org unit", id)
	}
	return row, nil
}

// FindOrgUnitByID implements planning.OrgUnitService.
func (s *OrgUnitService) FindOrgUnitByID(ctx context.Context, id int64) (*planning.OrgUnit, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	row, err := s.loadOrgUnit(ctx, s.db.bun, a, id)
	if err != nil {
		return nil, err
	}
	u := row.toDomain()
	a.ReadScope().RedactOrgUnit(u)
	return u, nil
}

// scopeWhere restricts q to the org subtrees the actor may see.
func scopeWhere(q *bun.SelectQuery, a *planning.Actor, column string) *bun.SelectQuery {
	if a.SeesAllOrgUnits() {
		return q
	}
	paths := a.ScopePaths()
	if len(paths) == 0 {
		return q.Where("1 = 0")
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, p := range paths {
			q = q.WhereOr(column+" LIKE ?", p+"%")
		}
		return q
	})
}

// FindOrgUnits implements planning.OrgUnitService. The units come in tree
// order, put there in memory rather than by the database: the order is by
// ids zero-padded within the path (planning.SortKey), which no portable SQL
// expression computes, and an org tree is small master data (thousands of
// units at most). Keys and cursors are made of the path as the caller's
// scope shows it (from the scope root down), which orders the caller's
// units as the full path does and names no unit above the scope.
func (s *OrgUnitService) FindOrgUnits(ctx context.Context, f planning.OrgUnitFilter) ([]*planning.OrgUnit, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	sc := a.ReadScope()
	return findPage(ctx, s.db, f.Page, func(q *bun.SelectQuery) error {
		scopeWhere(q, a, "path")
		if len(f.IDs) > 0 {
			q.Where("id IN (?)", bun.In(f.IDs))
		}
		if f.Code != "" {
			q.Where("code = ?", f.Code)
		}
		if len(f.Codes) > 0 {
			q.Where("code IN (?)", bun.In(f.Codes))
		}
		if f.Kind != "" {
			q.Where("kind = ?", string(f.Kind))
		}
		if f.ParentID != nil {
			q.Where("parent_id = ?", *f.ParentID)
		}
		if f.Active != nil {
			q.Where("active = ?", *f.Active)
		}
		if f.SubtreeOf != nil {
			root, err := s.loadOrgUnit(ctx, s.db.bun, a, *f.SubtreeOf)
			if err != nil {
				return err
			}
			q.Where("path LIKE ?", root.Path+"%")
		}
		return nil
	}, inMemory(func(r *orgUnitRow) string {
		return (&planning.OrgUnit{Path: sc.ScopedPath(r.Path)}).SortKey()
	}), func(r *orgUnitRow) (*planning.OrgUnit, error) {
		u := r.toDomain()
		if f.ParentID != nil && u.ParentID != nil && !sc.VisibleOrgPath(planning.ParentPath(u.Path)) {
			// Children of a parent outside the scope: as for an unknown
			// parent, there are none.
			return nil, errEmptyPage
		}
		sc.RedactOrgUnit(u)
		return u, nil
	})
}

// CreateOrgUnit implements planning.OrgUnitService.
func (s *OrgUnitService) CreateOrgUnit(ctx context.Context, u *planning.OrgUnit) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageMasterData("org units"); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		now := s.db.Now()
		row := &orgUnitRow{Code: u.Code, Name: u.Name, NameLocal: u.NameLocal, Kind: string(u.Kind),
			ParentID: u.ParentID, Active: true, Revision: 1, CreatedAt: now, UpdatedAt: now, Path: "/"}
		parentPath := "/"
		if u.ParentID == nil {
			n, err := tx.NewSelect().Model((*orgUnitRow)(nil)).Where("parent_id IS NULL").Count(ctx)
			if err != nil {
				return err
			}
			if err := planning.CheckNewRoot(n > 0); err != nil {
				return err
			}
		} else {
			parent := new(orgUnitRow)
			if err := tx.NewSelect().Model(parent).Where("id = ?", *u.ParentID).Scan(ctx); err != nil || !a.CanSeeOrgPath(parent.Path) {
				return fieldErr(planning.EINVALID, "parent_id", "no such org unit")
			}
			if !parent.Active {
				return fieldErr(planning.EINVALID, "parent_id", "the parent is inactive")
			}
			if (&planning.OrgUnit{Path: parent.Path}).Depth() >= planning.MaxOrgDepth {
				return fieldErr(planning.EINVALID, "parent_id", "the tree may be at most %d levels deep", planning.MaxOrgDepth)
			}
			parentPath = parent.Path
		}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		row.Path = parentPath + strconv.FormatInt(row.ID, 10) + "/"
		if _, err := tx.NewUpdate().Model(row).Column("path").WherePK().Exec(ctx); err != nil {
			return err
		}
		*u = *row.toDomain()
		_, err := s.db.writeAuditIn(ctx, tx, auditScope{OrgPath: row.Path}, "org_unit.create", "org_unit", row.ID, nil, row)
		return err
	})
}

func fieldErr(code, field, format string, args ...any) error {
	e := planning.Errorf(code, format, args...)
	e.Message = field + ": " + e.Message
	e.Fields = []planning.FieldError{{Field: field, Message: planning.Errorf(code, format, args...).Message}}
	return e
}

func checkRevision(ifMatch *int64, current int64) error {
	return planning.CheckRevision(ifMatch, current)
}

// UpdateOrgUnit implements planning.OrgUnitService.
func (s *OrgUnitService) UpdateOrgUnit(ctx context.Context, id int64, upd planning.OrgUnitUpdate) (*planning.OrgUnit, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.OrgUnit
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row, err := s.loadOrgUnit(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if err := a.MayManageMasterData("org units"); err != nil {
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
		if err := row.toDomain().Validate(); err != nil {
			return err
		}
		if upd.Active != nil && *upd.Active != row.Active {
			if err := s.checkActivation(ctx, tx, row, *upd.Active); err != nil {
				return err
			}
			row.Active = *upd.Active
		}
		if upd.ParentID != nil && (row.ParentID == nil || *upd.ParentID != *row.ParentID) {
			if err := s.move(ctx, tx, a, row, *upd.ParentID); err != nil {
				return err
			}
		}
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		out = row.toDomain()
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{OrgPath: row.Path}, "org_unit.update", "org_unit", row.ID, before, row)
		return err
	})
	return out, err
}

// checkActivation refuses to deactivate a unit with active children (they
// would be orphaned in every view) or to reactivate one under an inactive
// parent.
func (s *OrgUnitService) checkActivation(ctx context.Context, tx bun.Tx, row *orgUnitRow, active bool) error {
	if !active {
		n, err := tx.NewSelect().Model((*orgUnitRow)(nil)).Where("parent_id = ? AND active", row.ID).Count(ctx)
		if err != nil {
			return err
		}
		return planning.CheckDeactivation(n)
	}
	if row.ParentID != nil {
		parent := new(orgUnitRow)
		if err := tx.NewSelect().Model(parent).Where("id = ?", *row.ParentID).Scan(ctx); err != nil {
			return err
		}
		if err := planning.CheckReactivation(parent.Active); err != nil {
			return err
		}
	}
	return nil
}

// move puts row and its subtree under newParentID, rejecting cycles and trees
// deeper than planning.MaxOrgDepth, and rewrites the subtree's paths.
func (s *OrgUnitService) move(ctx context.Context, tx bun.Tx, a *planning.Actor, row *orgUnitRow, newParentID int64) error {
	if row.ParentID == nil {
		return fieldErr(planning.EINVALID, "parent_id", "the root of the org tree cannot be moved")
	}
	parent := new(orgUnitRow)
	if err := tx.NewSelect().Model(parent).Where("id = ?", newParentID).Scan(ctx); err != nil || !a.CanSeeOrgPath(parent.Path) {
		return fieldErr(planning.EINVALID, "parent_id", "no such org unit")
	}
	if len(parent.Path) >= len(row.Path) && parent.Path[:len(row.Path)] == row.Path {
		return fieldErr(planning.EINVALID, "parent_id", "cannot move a unit under itself or one of its descendants")
	}
	if !parent.Active {
		return fieldErr(planning.EINVALID, "parent_id", "the new parent is inactive")
	}
	var paths []string
	if err := tx.NewSelect().Model((*orgUnitRow)(nil)).Column("path").Where("path LIKE ?", row.Path+"%").Scan(ctx, &paths); err != nil {
		return err
	}
	own := (&planning.OrgUnit{Path: row.Path}).Depth()
	deepest := own
	for _, p := range paths {
		deepest = max(deepest, (&planning.OrgUnit{Path: p}).Depth())
	}
	newPath := parent.Path + strconv.FormatInt(row.ID, 10) + "/"
	if (&planning.OrgUnit{Path: newPath}).Depth()+deepest-own > planning.MaxOrgDepth {
		return fieldErr(planning.EINVALID, "parent_id", "the move would make the tree deeper than %d levels", planning.MaxOrgDepth)
	}
	if _, err := tx.NewUpdate().Model((*orgUnitRow)(nil)).
		Set("path = ? || substr(path, ?)", newPath, len(row.Path)+1).
		Where("path LIKE ?", row.Path+"%").Exec(ctx); err != nil {
		return err
	}
	row.ParentID = &parent.ID
	row.Path = newPath
	return nil
}

// DeleteOrgUnit implements planning.OrgUnitService.
func (s *OrgUnitService) DeleteOrgUnit(ctx context.Context, id int64) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		row, err := s.loadOrgUnit(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if err := a.MayManageMasterData("org units"); err != nil {
			return err
		}
		if held, err := s.db.unitHoldsCells(ctx, tx, id); err != nil {
			return err
		} else if held {
			return planning.Errorf(planning.ECONFLICT, "org unit %s holds target cells; deactivate it instead", row.Code)
		}
		for _, t := range orgDataTables {
			n, err := tx.NewSelect().Table(t.table).Where("? = ?", bun.Ident(t.column), id).Count(ctx)
			if err != nil {
				return err
			}
			if err := row.toDomain().CheckDeletion(t.table, n); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{OrgPath: row.Path}, "org_unit.delete", "org_unit", id, row, nil)
		return err
	})
}
