package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type versionRow struct {
	bun.BaseModel `bun:"table:versions,alias:v"`
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	RoundID       int64      `bun:"round_id" json:"round_id"`
	Number        int        `bun:"number" json:"number"`
	Label         string     `bun:"label" json:"label"`
	Purpose       string     `bun:"purpose" json:"purpose"`
	Status        string     `bun:"status" json:"status"`
	ParentID      *int64     `bun:"parent_id" json:"parent_id"`
	Revision      int64      `bun:"revision" json:"revision"`
	CellCount     int64      `bun:"cell_count" json:"cell_count"`
	CreatedBy     *int64     `bun:"created_by" json:"created_by"`
	CreatedAt     time.Time  `bun:"created_at" json:"created_at"`
	FrozenBy      *int64     `bun:"frozen_by" json:"frozen_by"`
	FrozenAt      *time.Time `bun:"frozen_at" json:"frozen_at"`
	ApprovalState string     `bun:"approval_state" json:"approval_state"`
	ApprovalStep  int        `bun:"approval_step" json:"approval_step"`
	// CellsID is the layer of target_cells the version writes (its id when
	// nil); BaseID the layer it reads through to (see cells.go).
	CellsID *int64 `bun:"cells_id" json:"cells_id,omitempty"`
	BaseID  *int64 `bun:"base_id" json:"base_id,omitempty"`
}

func (r *versionRow) toDomain() *planning.Version {
	return &planning.Version{ID: r.ID, RoundID: r.RoundID, Number: r.Number, Label: r.Label, Purpose: r.Purpose,
		Status: planning.VersionStatus(r.Status), ParentID: r.ParentID, Revision: r.Revision, CellCount: r.CellCount,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), FrozenBy: r.FrozenBy, FrozenAt: utcPtr(r.FrozenAt),
		ApprovalState: planning.ApprovalState(r.ApprovalState), ApprovalStep: r.ApprovalStep}
}

// VersionService implements planning.VersionService.
type VersionService struct{ db *DB }

var _ planning.VersionService = (*VersionService)(nil)

func actorIDPtr(a *planning.Actor) *int64 {
	if uid := a.UserID(); uid != 0 {
		return &uid
	}
	return nil
}

func (db *DB) loadVersion(ctx context.Context, idb bun.IDB, id int64) (*versionRow, error) {
	memo := db.readMemo(ctx, idb)
	key := memoKey{db, "version", id}
	if v, ok := memoLoad(memo, key); ok {
		row := *v.(*versionRow)
		return &row, nil
	}
	row := new(versionRow)
	if err := db.scanOne(ctx, idb.NewSelect().Model(row).Where("id = ?", id), "version", id); err != nil {
		return nil, err
	}
	if memo != nil {
		kept := *row
		memo.Store(key, &kept)
	}
	return row, nil
}

// memoKey names a row of one database in a planning.ReadMemo.
type memoKey struct {
	db    *DB
	table string
	id    int64
}

// readMemo is the request's memo when a read through idb may use it: a
// read outside any transaction, of a request that changes nothing.
func (db *DB) readMemo(ctx context.Context, idb bun.IDB) *planning.ReadMemo {
	if d, ok := idb.(*bun.DB); !ok || d != db.bun {
		return nil
	}
	return planning.ReadMemoFrom(ctx)
}

// insertVersion creates the next working version of a round.
func (db *DB) insertVersion(ctx context.Context, tx bun.Tx, a *planning.Actor, roundID int64, parentID *int64, label, purpose string) (*versionRow, error) {
	var maxNumber int
	if err := tx.NewSelect().Model((*versionRow)(nil)).ColumnExpr("COALESCE(MAX(number), 0)").
		Where("round_id = ?", roundID).Scan(ctx, &maxNumber); err != nil {
		return nil, err
	}
	row := &versionRow{RoundID: roundID, Number: maxNumber + 1, Label: label, Purpose: purpose,
		Status: string(planning.VersionWorking), ParentID: parentID, Revision: 1, CreatedBy: actorIDPtr(a), CreatedAt: db.Now(),
		ApprovalState: string(planning.ApprovalNone)}
	if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return nil, db.mapError(err)
	}
	_, err := db.writeAuditIn(ctx, tx, auditScope{RoundID: roundID, VersionID: row.ID}, "version.create", "version", row.ID, nil, row)
	return row, err
}

// FindVersionByID implements planning.VersionService.
func (s *VersionService) FindVersionByID(ctx context.Context, id int64) (*planning.Version, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	row, err := s.db.loadVersion(ctx, s.db.bun, id)
	if err != nil {
		return nil, err
	}
	return row.toDomain(), nil
}

// FindVersions implements planning.VersionService.
func (s *VersionService) FindVersions(ctx context.Context, f planning.VersionFilter) ([]*planning.Version, string, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	if _, _, err := s.db.loadRound(ctx, s.db.bun, f.RoundID); err != nil {
		return nil, "", err
	}
	var rows []versionRow
	q := s.db.bun.NewSelect().Model(&rows).Where("round_id = ?", f.RoundID).OrderExpr("number ASC").Limit(fetchLimit(f.Page))
	if f.Status != "" {
		q.Where("status = ?", string(f.Status))
	}
	if after, err := idCursor(f.Page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("number > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *versionRow) string { return itoa(int64(r.Number)) })
	out := make([]*planning.Version, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, next, nil
}

// CopyVersion implements planning.VersionService.
func (s *VersionService) CopyVersion(ctx context.Context, from int64, label, purpose string) (*planning.Version, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayCreateVersions(); err != nil {
		return nil, err
	}
	if err := (&planning.Version{Label: label, Purpose: purpose}).Validate(); err != nil {
		return nil, err
	}
	var out *planning.Version
	var copied int64 // cells written: the source's own layer, when it has a base
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		if s.db.dialect == Postgres {
			// The source may move to a new layer: writers of its cells,
			// who read its layer after taking this row's lock, wait.
			if _, err := tx.ExecContext(ctx, "SELECT id FROM versions WHERE id = ? FOR UPDATE", from); err != nil {
				return err
			}
		}
		src, err := s.db.loadVersion(ctx, tx, from)
		if err != nil {
			return err
		}
		row, r, err := s.db.loadRound(ctx, tx, src.RoundID)
		if err != nil {
			return err
		}
		if err := r.CheckVersionable(); err != nil {
			return err
		}
		v, err := s.db.insertVersion(ctx, tx, a, r.ID, &src.ID, label, purpose)
		if err != nil {
			return err
		}
		if copied, err = s.db.copyCells(ctx, tx, src, v); err != nil {
			return err
		}
		if _, err := tx.NewRaw(`INSERT INTO allocation_buffers (round_id, version_id, org_unit_id, product_line_id, measure_id, buffer)
			SELECT round_id, ?, org_unit_id, product_line_id, measure_id, buffer FROM allocation_buffers WHERE round_id = ? AND version_id = ?`,
			v.ID, src.RoundID, src.ID).Exec(ctx); err != nil {
			return err
		}
		v.CellCount = src.CellCount
		if _, err := tx.NewUpdate().Model(v).Column("cell_count").WherePK().Exec(ctx); err != nil {
			return err
		}
		before := *row
		row.WorkingVersionID = &v.ID
		row.Revision++
		row.UpdatedAt = s.db.Now()
		if _, err := tx.NewUpdate().Model(row).Column("working_version_id", "revision", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		out = v.toDomain()
		return s.db.auditRound(ctx, tx, "round.working_version", row.ID, before, row)
	})
	if err == nil {
		s.db.afterCommit(ctx, func() { s.db.refreshCellStats(copied) })
	}
	return out, err
}

// copyCells gives the new version v the cells of src without copying
// them (see cells.go): v reads through to src's layer when src has no
// base, and src, if it may still change, moves on to a new empty layer
// over the same base; when src has a base, v gets that base and a copy of
// src's own layer.
func (db *DB) copyCells(ctx context.Context, tx bun.Tx, src, v *versionRow) (int64, error) {
	if src.base() != 0 {
		base := src.base()
		v.BaseID = &base
		res, err := tx.NewRaw(`INSERT INTO target_cells (round_id, version_id, `+keyCols+`, amount)
			SELECT round_id, ?, `+keyCols+`, amount FROM target_cells WHERE round_id = ? AND version_id = ?`, v.layer(), src.RoundID, src.layer()).Exec(ctx)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		_, err = tx.NewUpdate().Model(v).Column("base_id").WherePK().Exec(ctx)
		return n, err
	}
	base := src.layer()
	v.BaseID = &base
	if _, err := tx.NewUpdate().Model(v).Column("base_id").WherePK().Exec(ctx); err != nil {
		return 0, err
	}
	if src.Status == string(planning.VersionFrozen) {
		return 0, nil
	}
	// A new layer's id is the negated id of the copy that made it: unique,
	// and never a version's own layer.
	fresh := -v.ID
	src.CellsID, src.BaseID = &fresh, &base
	_, err := tx.NewUpdate().Model(src).Column("cells_id", "base_id").WherePK().Exec(ctx)
	return 0, err
}

// UpdateVersion is the store's one way to change a version's own fields:
// in one transaction (the ambient one, inside Atomically) it takes the
// version's write lock, hands fn the version as the caller read it (the
// revision before this write), and saves what fn changed (label, purpose,
// status and freezing, approval state and step) with the revision one
// higher. An error from fn, or from saving, rolls all of it back, whatever
// fn wrote through the same transaction included; concurrent updates of
// one version queue on its lock, each seeing the one before. It audits
// nothing: the caller knows what the change was.
func (db *DB) UpdateVersion(ctx context.Context, id int64, fn func(*planning.Version) error) error {
	return db.inTx(ctx, func(tx bun.Tx) error {
		_, _, err := db.updateVersion(ctx, tx, id, fn)
		return err
	})
}

// updateVersion is UpdateVersion in tx; it returns the row as read and as
// saved, for the caller's audit event.
func (db *DB) updateVersion(ctx context.Context, tx bun.Tx, id int64, fn func(*planning.Version) error) (before, after *versionRow, err error) {
	row, err := db.lockVersion(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	read := *row
	read.Revision--
	v := read.toDomain()
	if err := fn(v); err != nil {
		return nil, nil, err
	}
	row.Label, row.Purpose, row.Status = v.Label, v.Purpose, string(v.Status)
	row.FrozenAt, row.FrozenBy = v.FrozenAt, v.FrozenBy
	row.ApprovalState, row.ApprovalStep = string(v.ApprovalState), v.ApprovalStep
	if _, err := tx.NewUpdate().Model(row).
		Column("label", "purpose", "status", "frozen_at", "frozen_by", "approval_state", "approval_step").
		WherePK().Exec(ctx); err != nil {
		return nil, nil, db.mapError(err)
	}
	return &read, row, nil
}

// FreezeVersion implements planning.VersionService.
func (s *VersionService) FreezeVersion(ctx context.Context, id int64, ifMatch *int64) (*planning.Version, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayFreezeVersions(); err != nil {
		return nil, err
	}
	var out *planning.Version
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		before, row, err := s.db.updateVersion(ctx, tx, id, func(v *planning.Version) error {
			if err := planning.CheckRevision(ifMatch, v.Revision); err != nil {
				return err
			}
			return v.Freeze(actorIDPtr(a), s.db.Now())
		})
		if err != nil {
			return err
		}
		out = row.toDomain()
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: row.RoundID, VersionID: id}, "version.freeze", "version", id, before, row)
		return err
	})
	return out, err
}

// lockWorkingVersion claims a version for a write of its cells: it must be a
// working version of a round that is under way (planning.CheckWorkingVersion),
// at the revision the caller read (when given).
func (db *DB) lockWorkingVersion(ctx context.Context, tx bun.Tx, id int64, ifMatch *int64) (*versionRow, *planning.Round, error) {
	row, err := db.lockVersion(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	if ifMatch != nil && *ifMatch != row.Revision-1 {
		return nil, nil, planning.Errorf(planning.EPRECONDITION, "version %d changed since you read it (revision %d, you sent %d); read it again", id, row.Revision-1, *ifMatch)
	}
	_, r, err := db.loadRound(ctx, tx, row.RoundID)
	if err != nil {
		return nil, nil, err
	}
	if err := planning.CheckWorkingVersion(row.toDomain(), r); err != nil {
		return nil, nil, err
	}
	return row, r, nil
}

// lockVersion takes a version's write lock and reads it: bumping the
// revision in the same statement takes the row's lock, so concurrent
// writers to one version queue up instead of interleaving, on every server
// sharing the database. Whether the version may change is the caller's
// rule to apply.
func (db *DB) lockVersion(ctx context.Context, tx bun.Tx, id int64) (*versionRow, error) {
	res, err := tx.NewUpdate().Model((*versionRow)(nil)).Set("revision = revision + 1").Where("id = ?", id).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, notFound("version", id)
	}
	return db.loadVersion(ctx, tx, id)
}

// memoLoad is memo.Load, for a memo that may be nil.
func memoLoad(memo *planning.ReadMemo, key memoKey) (any, bool) {
	if memo == nil {
		return nil, false
	}
	return memo.Load(key)
}
