package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type roundRow struct {
	bun.BaseModel      `bun:"table:rounds,alias:r"`
	ID                 int64     `bun:"id,pk,autoincrement" json:"id"`
	Code               string    `bun:"code" json:"code"`
	Name               string    `bun:"name" json:"name"`
	FiscalYear         int       `bun:"fiscal_year" json:"fiscal_year"`
	FirstMonth         int       `bun:"first_month" json:"first_month"`
	MeasureIDs         string    `bun:"measure_ids" json:"measure_ids"`
	Calendar           string    `bun:"calendar" json:"calendar"`
	ApprovalChain      string    `bun:"approval_chain" json:"approval_chain"`
	SeparationOfDuties string    `bun:"separation_of_duties" json:"separation_of_duties"`
	Status             string    `bun:"status" json:"status"`
	WorkingVersionID   *int64    `bun:"working_version_id" json:"working_version_id"`
	RecordVersionID    *int64    `bun:"record_version_id" json:"record_version_id"`
	Revision           int64     `bun:"revision" json:"revision"`
	CreatedBy          *int64    `bun:"created_by" json:"created_by"`
	CreatedAt          time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt          time.Time `bun:"updated_at" json:"updated_at"`
}

type deadlineJSON struct {
	Phase string    `json:"phase"`
	Due   time.Time `json:"due"`
}

type stepJSON struct {
	Role   string `json:"role"`
	Action string `json:"action"`
}

func (r *roundRow) toDomain() (*planning.Round, error) {
	out := &planning.Round{ID: r.ID, Code: r.Code, Name: r.Name, FiscalYear: r.FiscalYear, FirstMonth: r.FirstMonth,
		SeparationOfDuties: planning.DutySeparation(r.SeparationOfDuties).OrDefault(),
		Status:             planning.RoundStatus(r.Status), WorkingVersionID: r.WorkingVersionID, RecordVersionID: r.RecordVersionID,
		Revision: r.Revision, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	var cal []deadlineJSON
	var chain []stepJSON
	if json.Unmarshal([]byte(r.MeasureIDs), &out.MeasureIDs) != nil || json.Unmarshal([]byte(r.Calendar), &cal) != nil ||
		json.Unmarshal([]byte(r.ApprovalChain), &chain) != nil {
		return nil, planning.Errorf(planning.EINTERNAL, "round %d is corrupt", r.ID)
	}
	for _, d := range cal {
		out.Calendar = append(out.Calendar, planning.Deadline{Phase: planning.RoundStatus(d.Phase), Due: d.Due.UTC()})
	}
	for _, s := range chain {
		out.ApprovalChain = append(out.ApprovalChain, planning.ApprovalStep{Role: planning.Role(s.Role), Action: s.Action})
	}
	return out, nil
}

// setFromDomain stores the list-valued fields of r as JSON.
func (r *roundRow) setFromDomain(d *planning.Round) {
	ids := d.MeasureIDs
	if ids == nil {
		ids = []int64{}
	}
	b, _ := json.Marshal(ids)
	r.MeasureIDs = string(b)
	cal := make([]deadlineJSON, len(d.Calendar))
	for i, x := range d.Calendar {
		cal[i] = deadlineJSON{Phase: string(x.Phase), Due: x.Due.UTC()}
	}
	b, _ = json.Marshal(cal)
	r.Calendar = string(b)
	chain := make([]stepJSON, len(d.ApprovalChain))
	for i, x := range d.ApprovalChain {
		chain[i] = stepJSON{Role: string(x.Role), Action: x.Action}
	}
	r.SeparationOfDuties = string(d.SeparationOfDuties.OrDefault())
	b, _ = json.Marshal(chain)
	r.ApprovalChain = string(b)
	r.Code, r.Name, r.FiscalYear, r.FirstMonth = d.Code, d.Name, d.FiscalYear, d.FirstMonth
}

type transitionRow struct {
	bun.BaseModel `bun:"table:round_transitions"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	RoundID       int64     `bun:"round_id" json:"round_id"`
	From          string    `bun:"from_status" json:"from"`
	To            string    `bun:"to_status" json:"to"`
	ActorID       *int64    `bun:"actor_id" json:"actor_id"`
	Comment       string    `bun:"comment" json:"comment"`
	At            time.Time `bun:"at" json:"at"`
}

// RoundService implements planning.RoundService.
type RoundService struct{ db *DB }

var _ planning.RoundService = (*RoundService)(nil)

func (db *DB) loadRound(ctx context.Context, idb bun.IDB, id int64) (*roundRow, *planning.Round, error) {
	memo := db.readMemo(ctx, idb)
	key := memoKey{db, "round", id}
	row := new(roundRow)
	if v, ok := memoLoad(memo, key); ok {
		*row = *v.(*roundRow)
	} else {
		if err := db.scanOne(ctx, idb.NewSelect().Model(row).Where("id = ?", id), "round", id); err != nil {
			return nil, nil, err
		}
		if memo != nil {
			kept := *row
			memo.Store(key, &kept)
		}
	}
	r, err := row.toDomain()
	return row, r, err
}

// FindRoundByID implements planning.RoundService.
func (s *RoundService) FindRoundByID(ctx context.Context, id int64) (*planning.Round, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	_, r, err := s.db.loadRound(ctx, s.db.bun, id)
	if err != nil {
		return nil, err
	}
	return r, s.db.nameMeasures(ctx, s.db.bun, r)
}

// nameMeasures fills the Measures of rs from their MeasureIDs, in one
// query; an id that names no measure is left out.
func (db *DB) nameMeasures(ctx context.Context, idb bun.IDB, rs ...*planning.Round) error {
	var ids []int64
	for _, r := range rs {
		ids = append(ids, r.MeasureIDs...)
	}
	byID := map[int64]planning.MeasureRef{}
	if len(ids) > 0 {
		var rows []measureRow
		if err := idb.NewSelect().Model(&rows).Column("id", "code", "scale").Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
			return db.mapError(err)
		}
		for _, m := range rows {
			byID[m.ID] = planning.MeasureRef{ID: m.ID, Code: m.Code, Scale: m.Scale}
		}
	}
	for _, r := range rs {
		r.Measures = make([]planning.MeasureRef, 0, len(r.MeasureIDs))
		for _, id := range r.MeasureIDs {
			if m, ok := byID[id]; ok {
				r.Measures = append(r.Measures, m)
			}
		}
	}
	return nil
}

// FindRounds implements planning.RoundService.
func (s *RoundService) FindRounds(ctx context.Context, f planning.RoundFilter) ([]*planning.Round, string, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, "", err
	}
	if err := f.Page.Validate(); err != nil {
		return nil, "", err
	}
	var rows []roundRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("id ASC").Limit(fetchLimit(f.Page))
	if f.FiscalYear != nil {
		q.Where("fiscal_year = ?", *f.FiscalYear)
	}
	if f.Status != "" {
		q.Where("status = ?", string(f.Status))
	}
	if after, err := idCursor(f.Page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("id > ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, f.Page, func(r *roundRow) string { return itoa(r.ID) })
	out := make([]*planning.Round, len(rows))
	for i := range rows {
		r, err := rows[i].toDomain()
		if err != nil {
			return nil, "", err
		}
		out[i] = r
	}
	return out, next, s.db.nameMeasures(ctx, s.db.bun, out...)
}

// checkMeasures verifies that every id names an active measure.
func (db *DB) checkMeasures(ctx context.Context, idb bun.IDB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	n, err := idb.NewSelect().Model((*measureRow)(nil)).Where("id IN (?) AND active", bun.In(ids)).Count(ctx)
	if err != nil {
		return err
	} else if int(n) != len(ids) {
		return fieldErr(planning.EINVALID, "measures", "every measure must exist and be active")
	}
	return nil
}

// CreateRound implements planning.RoundService.
func (s *RoundService) CreateRound(ctx context.Context, r *planning.Round) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := planning.PrepareRound(a, r); err != nil {
		return err
	}
	// The round and the scorecards it receives from the organisation's
	// templates are one write.
	return s.db.Atomically(ctx, func(ctx context.Context) error {
		if err := s.createRound(ctx, a, r); err != nil {
			return err
		}
		// A new round gets the organisation's templates only, not the deck's.
		_, err := (&ScorecardService{db: s.db}).applyTemplates(ctx, r.ID, func(set []planning.ScorecardTemplate) []planning.ScorecardTemplate { return set })
		return err
	})
}

func (s *RoundService) createRound(ctx context.Context, a *planning.Actor, r *planning.Round) error {
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		if err := s.db.checkMeasures(ctx, tx, r.MeasureIDs); err != nil {
			return err
		}
		now := s.db.Now()
		row := &roundRow{Status: string(planning.RoundDraft), Revision: 1, CreatedAt: now, UpdatedAt: now}
		if uid := a.UserID(); uid != 0 {
			row.CreatedBy = &uid
		}
		row.setFromDomain(r)
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			if planning.ErrorCode(s.db.mapError(err)) == planning.ECONFLICT {
				return fieldErr(planning.ECONFLICT, "code", "a round with code %q exists", r.Code)
			}
			return s.db.mapError(err)
		}
		out, err := row.toDomain()
		if err != nil {
			return err
		}
		*r = *out
		if err := s.db.scheduleDeadlines(ctx, tx, r); err != nil {
			return err
		}
		if err := s.db.auditRound(ctx, tx, "round.create", row.ID, nil, row); err != nil {
			return err
		}
		return s.db.nameMeasures(ctx, tx, r)
	})
}

// UpdateRound implements planning.RoundService. The rules are
// planning.Round.Update's.
func (s *RoundService) UpdateRound(ctx context.Context, id int64, upd planning.RoundUpdate) (*planning.Round, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Round
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		if err := s.db.updateRound(ctx, tx, id, func(r *planning.Round) (string, map[string]any, error) {
			if err := r.Update(a, upd); err != nil {
				return "", nil, err
			}
			if upd.MeasureIDs != nil {
				if err := s.db.checkMeasures(ctx, tx, r.MeasureIDs); err != nil {
					return "", nil, err
				}
			}
			out = r
			return "round.update", nil, nil
		}); err != nil {
			return err
		}
		return s.db.nameMeasures(ctx, tx, out)
	})
	return out, err
}

// TransitionRound implements planning.RoundService. The rules are
// planning.Round.Move's; this does what entering the phase entails and
// records the move.
func (s *RoundService) TransitionRound(ctx context.Context, id int64, to planning.RoundStatus, comment string, ifMatch *int64) (*planning.Round, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *planning.Round
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		var from planning.RoundStatus
		if err := s.db.updateRound(ctx, tx, id, func(r *planning.Round) (string, map[string]any, error) {
			from = r.Status
			if _, err := r.Move(a, to, comment, ifMatch); err != nil {
				return "", nil, err
			}
			if to == planning.RoundOpen && r.WorkingVersionID == nil {
				v, err := s.db.insertVersion(ctx, tx, a, r.ID, nil, "top-down", "top-down allocation")
				if err != nil {
					return "", nil, err
				}
				r.WorkingVersionID = &v.ID
			}
			out = r
			return "round.transition", map[string]any{"comment": comment}, nil
		}); err != nil {
			return err
		}
		tr := &transitionRow{RoundID: id, From: string(from), To: string(to), ActorID: actorIDPtr(a), Comment: comment, At: out.UpdatedAt}
		if _, err := tx.NewInsert().Model(tr).Exec(ctx); err != nil {
			return err
		}
		return s.db.nameMeasures(ctx, tx, out)
	})
	return out, err
}

// updateRound loads round id in tx, lets fn change it by the round's rules
// (fn names the audited action and any fields audited with the round), and
// saves it with a new revision.
func (db *DB) updateRound(ctx context.Context, tx bun.Tx, id int64, fn func(r *planning.Round) (string, map[string]any, error)) error {
	if err := lockRow(ctx, tx, "rounds", id); err != nil {
		return err
	}
	row, r, err := db.loadRound(ctx, tx, id)
	if err != nil {
		return err
	}
	before := *row
	action, extra, err := fn(r)
	if err != nil {
		return err
	}
	row.setFromDomain(r)
	row.Status, row.WorkingVersionID, row.RecordVersionID = string(r.Status), r.WorkingVersionID, r.RecordVersionID
	row.Revision++
	row.UpdatedAt = db.Now()
	if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
		return err
	}
	saved, err := row.toDomain()
	if err != nil {
		return err
	}
	*r = *saved
	if err := db.scheduleDeadlines(ctx, tx, r); err != nil {
		return err
	}
	var after any = row
	if extra != nil {
		extra["round"] = row
		after = extra
	}
	return db.auditRound(ctx, tx, action, id, before, after)
}

// auditRound audits a write to a round, placed in that round.
func (db *DB) auditRound(ctx context.Context, tx bun.IDB, action string, id int64, before, after any) error {
	_, err := db.writeAuditIn(ctx, tx, auditScope{RoundID: id}, action, "round", id, before, after)
	return err
}

// FindRoundTransitions implements planning.RoundService.
func (s *RoundService) FindRoundTransitions(ctx context.Context, roundID int64) ([]*planning.RoundTransition, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	if _, _, err := s.db.loadRound(ctx, s.db.bun, roundID); err != nil {
		return nil, err
	}
	var rows []transitionRow
	if err := s.db.bun.NewSelect().Model(&rows).Where("round_id = ?", roundID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, s.db.mapError(err)
	}
	out := make([]*planning.RoundTransition, len(rows))
	for i, t := range rows {
		out[i] = &planning.RoundTransition{ID: t.ID, RoundID: t.RoundID, From: planning.RoundStatus(t.From),
			To: planning.RoundStatus(t.To), ActorID: t.ActorID, Comment: t.Comment, At: t.At.UTC()}
	}
	return out, nil
}
