package sqlstore

import (
	"context"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type userRow struct {
	bun.BaseModel `bun:"table:users"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Username      string    `bun:"username" json:"username"`
	Name          string    `bun:"name" json:"name"`
	Email         string    `bun:"email" json:"email"`
	Active        bool      `bun:"active" json:"active"`
	Revision      int64     `bun:"revision" json:"revision"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

func (r *userRow) toDomain() *planning.User {
	return &planning.User{ID: r.ID, Username: r.Username, Name: r.Name, Email: r.Email, Active: r.Active,
		Revision: r.Revision, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type roleRow struct {
	bun.BaseModel `bun:"table:role_assignments,alias:ra"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	UserID        int64     `bun:"user_id" json:"user_id"`
	Role          string    `bun:"role" json:"role"`
	OrgUnitID     *int64    `bun:"org_unit_id" json:"org_unit_id"`
	OrgUnitPath   *string   `bun:"org_unit_path,scanonly" json:"-"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
}

func (r *roleRow) toDomain() planning.RoleAssignment {
	ra := planning.RoleAssignment{ID: r.ID, UserID: r.UserID, Role: planning.Role(r.Role), OrgUnitID: r.OrgUnitID, CreatedAt: r.CreatedAt.UTC()}
	if r.OrgUnitPath != nil {
		ra.OrgUnitPath = *r.OrgUnitPath
	}
	return ra
}

// UserService implements planning.UserService.
type UserService struct{ db *DB }

var _ planning.UserService = (*UserService)(nil)

// findRoles loads the role assignments of the users, with their scope paths.
func (db *DB) findRoles(ctx context.Context, idb bun.IDB, userIDs ...int64) (map[int64][]planning.RoleAssignment, error) {
	out := make(map[int64][]planning.RoleAssignment)
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []roleRow
	err := idb.NewSelect().Model(&rows).
		ColumnExpr("ra.*").ColumnExpr("ou.path AS org_unit_path").
		Join("LEFT JOIN org_units AS ou ON ou.id = ra.org_unit_id").
		Where("ra.user_id IN (?)", bun.In(userIDs)).
		OrderExpr("ra.id ASC").Scan(ctx)
	if err != nil {
		return nil, db.mapError(err)
	}
	for i := range rows {
		out[rows[i].UserID] = append(out[rows[i].UserID], rows[i].toDomain())
	}
	return out, nil
}

// FindUserByID implements planning.UserService. Any user may read themself.
func (s *UserService) FindUserByID(ctx context.Context, id int64) (*planning.User, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayReadUser(id); err != nil {
		return nil, err
	}
	return s.findUser(ctx, s.db.bun, id)
}

func (s *UserService) findUser(ctx context.Context, idb bun.IDB, id int64) (*planning.User, error) {
	row := new(userRow)
	if err := s.db.scanOne(ctx, idb.NewSelect().Model(row).Where("id = ?", id), "user", id); err != nil {
		return nil, err
	}
	roles, err := s.db.findRoles(ctx, idb, id)
	if err != nil {
		return nil, err
	}
	u := row.toDomain()
	u.Roles = roles[id]
	return u, nil
}

// FindUsers implements planning.UserService.
func (s *UserService) FindUsers(ctx context.Context, f planning.UserFilter) ([]*planning.User, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := a.MayReadUsers(); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []userRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("username ASC").Limit(fetchLimit(f.Page))
	if f.Username != "" {
		q.Where("username = ?", f.Username)
	}
	if f.Active != nil {
		q.Where("active = ?", *f.Active)
	}
	if f.Role != "" {
		q.Where("id IN (SELECT user_id FROM role_assignments WHERE role = ?)", string(f.Role))
	}
	if after, _ := planning.DecodeCursor(f.Page.Cursor); after != "" {
		q.Where("username > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *userRow) string { return r.Username })
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	roles, err := s.db.findRoles(ctx, s.db.bun, ids...)
	if err != nil {
		return nil, "", err
	}
	out := make([]*planning.User, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
		out[i].Roles = roles[rows[i].ID]
	}
	return out, next, nil
}

// CreateUser implements planning.UserService.
func (s *UserService) CreateUser(ctx context.Context, u *planning.User) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageUsers(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		now := s.db.Now()
		row := &userRow{Username: u.Username, Name: u.Name, Email: u.Email, Active: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			if planning.ErrorCode(s.db.mapError(err)) == planning.ECONFLICT {
				return fieldErr(planning.ECONFLICT, "username", "%q is taken", u.Username)
			}
			return s.db.mapError(err)
		}
		*u = *row.toDomain()
		return s.db.writeAudit(ctx, tx, "user.create", "user", row.ID, nil, row)
	})
}

// UpdateUser implements planning.UserService.
func (s *UserService) UpdateUser(ctx context.Context, id int64, upd planning.UserUpdate) (*planning.User, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayManageUsers(); err != nil {
		return nil, err
	}
	var out *planning.User
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(userRow)
		if err := s.db.scanOne(ctx, tx.NewSelect().Model(row).Where("id = ?", id), "user", id); err != nil {
			return err
		}
		if err := checkRevision(upd.IfMatch, row.Revision); err != nil {
			return err
		}
		before := *row
		if upd.Name != nil {
			row.Name = *upd.Name
		}
		if upd.Email != nil {
			row.Email = *upd.Email
		}
		if upd.Active != nil {
			if !*upd.Active && id == a.UserID() {
				return fieldErr(planning.EINVALID, "active", "you cannot deactivate yourself")
			}
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
		if err := s.db.writeAudit(ctx, tx, "user.update", "user", id, before, row); err != nil {
			return err
		}
		out, err = s.findUser(ctx, tx, id)
		return err
	})
	return out, err
}

// AddRole implements planning.UserService.
func (s *UserService) AddRole(ctx context.Context, ra *planning.RoleAssignment) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageUsers(); err != nil {
		return err
	}
	if err := ra.Validate(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := s.findUser(ctx, tx, ra.UserID); err != nil {
			return err
		}
		row := &roleRow{UserID: ra.UserID, Role: string(ra.Role), OrgUnitID: ra.OrgUnitID, CreatedAt: s.db.Now()}
		if ra.OrgUnitID != nil {
			unit := new(orgUnitRow)
			if err := tx.NewSelect().Model(unit).Where("id = ?", *ra.OrgUnitID).Scan(ctx); err != nil {
				return fieldErr(planning.EINVALID, "org_unit_id", "no such org unit")
			}
			row.OrgUnitPath = &unit.Path
		}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			if planning.ErrorCode(s.db.mapError(err)) == planning.ECONFLICT {
				return fieldErr(planning.ECONFLICT, "role", "the user already holds this role with this scope")
			}
			return s.db.mapError(err)
		}
		*ra = row.toDomain()
		return s.db.writeAudit(ctx, tx, "user.role_add", "user", ra.UserID, nil, row)
	})
}

// RemoveRole implements planning.UserService.
func (s *UserService) RemoveRole(ctx context.Context, userID, assignmentID int64) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayManageUsers(); err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(roleRow)
		q := tx.NewSelect().Model(row).Where("id = ? AND user_id = ?", assignmentID, userID)
		if err := s.db.scanOne(ctx, q, "role assignment", assignmentID); err != nil {
			return err
		}
		if err := a.CheckRoleRemoval(userID, planning.Role(row.Role)); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		return s.db.writeAudit(ctx, tx, "user.role_remove", "user", userID, row, nil)
	})
}

// itoa formats an id for cursors and messages.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// FindUserNames implements planning.UserService.
func (s *UserService) FindUserNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []userRow
	if err := s.db.bun.NewSelect().Model(&rows).Column("id", "name").Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
