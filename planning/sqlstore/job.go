package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

// JobOptions configures how this process runs allocation jobs.
type JobOptions struct {
	// MaxCells is the most cells one job may write; 0 means
	// planning.MaxAllocationJobCells.
	MaxCells int64
	// Lease is how long a claimed job stays with this server without a
	// sign of life (PostgreSQL); another server runs it again after that.
	// 0 means 30 seconds.
	Lease time.Duration
	// Heartbeat is how often a running job's progress is written and its
	// lease renewed (PostgreSQL); 0 means a second.
	Heartbeat time.Duration
}

// jobRuntime is what this process knows about the jobs it runs: their
// live progress and cancel functions, who it is as a lease holder, and
// how to wake its worker.
type jobRuntime struct {
	opts  JobOptions
	owner string
	live  planning.LiveJobs
	wake  chan struct{}
}

func newJobRuntime() *jobRuntime {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &jobRuntime{owner: hex.EncodeToString(b), wake: make(chan struct{}, 1),
		opts: JobOptions{MaxCells: planning.MaxAllocationJobCells, Lease: 30 * time.Second, Heartbeat: time.Second}}
}

// SetJobOptions configures the allocation jobs of this process; zero
// fields keep their defaults.
func (db *DB) SetJobOptions(o JobOptions) {
	if o.MaxCells > 0 {
		db.jobs.opts.MaxCells = o.MaxCells
	}
	if o.Lease > 0 {
		db.jobs.opts.Lease = o.Lease
	}
	if o.Heartbeat > 0 {
		db.jobs.opts.Heartbeat = o.Heartbeat
	}
	// Several beats fit in a lease, so one missed beat loses nothing.
	db.jobs.opts.Heartbeat = min(db.jobs.opts.Heartbeat, db.jobs.opts.Lease/3)
}

// JobQueued signals when this process queued a job, so its worker need
// not wait for its next poll.
func (db *DB) JobQueued() <-chan struct{} { return db.jobs.wake }

type jobRow struct {
	bun.BaseModel   `bun:"table:allocation_jobs"`
	ID              int64      `bun:"id,pk,autoincrement"`
	RoundID         int64      `bun:"round_id"`
	VersionID       int64      `bun:"version_id"`
	State           string     `bun:"state"`
	Request         string     `bun:"request"`
	MaxCells        int64      `bun:"max_cells"`
	CellsDone       int64      `bun:"cells_done"`
	CellsTotal      int64      `bun:"cells_total"`
	CancelRequested bool       `bun:"cancel_requested"`
	RunID           *int64     `bun:"run_id"`
	Error           *string    `bun:"error"`
	CreatedBy       *int64     `bun:"created_by"`
	CreatedAt       time.Time  `bun:"created_at"`
	StartedAt       *time.Time `bun:"started_at"`
	FinishedAt      *time.Time `bun:"finished_at"`
	LeaseOwner      *string    `bun:"lease_owner"`
	LeaseUntil      *time.Time `bun:"lease_until"`
	Attempts        int        `bun:"attempts"`
}

// jobError is the form a failed job's error is kept in.
type jobError struct {
	Code    string                `json:"code"`
	Message string                `json:"message"`
	Fields  []planning.FieldError `json:"fields,omitempty"`
}

func (r *jobRow) toDomain() (*planning.AllocationJob, error) {
	var req requestJSON
	if err := json.Unmarshal([]byte(r.Request), &req); err != nil {
		return nil, planning.Errorf(planning.EINTERNAL, "allocation job %d is corrupt", r.ID)
	}
	j := &planning.AllocationJob{ID: r.ID, VersionID: r.VersionID, State: planning.JobState(r.State), CellsDone: r.CellsDone,
		CellsTotal: r.CellsTotal, CancelRequested: r.CancelRequested, RunID: r.RunID, Request: req.toDomain(), CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utcPtr(r.StartedAt), FinishedAt: utcPtr(r.FinishedAt)}
	j.Request.MaxCells = r.MaxCells
	if r.Error != nil {
		var e jobError
		if err := json.Unmarshal([]byte(*r.Error), &e); err != nil {
			return nil, planning.Errorf(planning.EINTERNAL, "allocation job %d is corrupt", r.ID)
		}
		j.Error = &planning.Error{Code: e.Code, Message: e.Message, Fields: e.Fields}
	}
	return j, nil
}

// AllocationJobService implements planning.AllocationJobService.
type AllocationJobService struct {
	db      *DB
	targets *TargetService
}

var _ planning.AllocationJobService = (*AllocationJobService)(nil)

// CreateAllocationJob implements planning.AllocationJobService. The checks
// are the synchronous allocation's, in its order, up to its write; the
// version is read, not claimed, so queueing a job does not move its ETag.
func (s *AllocationJobService) CreateAllocationJob(ctx context.Context, req planning.AllocationRequest) (*planning.AllocationJob, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.MayStartJob(); err != nil {
		return nil, err
	}
	invalid := req.Invalid
	if invalid == nil {
		invalid = validateAllocation(&req)
	}
	if req.DryRun {
		// Refused with whatever else is wrong with the request.
		e := planning.FieldErrorf(planning.EINVALID, "dry_run", "an allocation job always saves; preview with POST /versions/{id}/allocations and dry_run true")
		var pe *planning.Error
		if errors.As(invalid, &pe) && pe.Code == planning.EINVALID {
			e.Fields = append(e.Fields, pe.Fields...)
		}
		if invalid == nil || planning.ErrorCode(invalid) == planning.EINVALID {
			invalid = e
		}
	}
	req.MaxCells = s.db.jobs.opts.MaxCells
	var job *planning.AllocationJob
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		v, err := s.db.loadVersion(ctx, tx, req.VersionID)
		if err != nil {
			return err
		}
		if invalid != nil {
			return invalid
		}
		if req.IfMatch != nil && *req.IfMatch != v.Revision {
			return planning.Errorf(planning.EPRECONDITION, "version %d changed since you read it (revision %d, you sent %d); read it again", v.ID, v.Revision, *req.IfMatch)
		}
		_, r, err := s.db.loadRound(ctx, tx, v.RoundID)
		if err != nil {
			return err
		}
		if err := planning.CheckWorkingVersion(v.toDomain(), r); err != nil {
			return err
		}
		// What the run will resolve, resolved now: unknown or inactive
		// units, product lines that are not the caller's, too many cells.
		if _, err := s.targets.resolve(ctx, tx, a, r, &req); err != nil {
			return err
		}
		reqJSON, err := json.Marshal(requestRecord(&req))
		if err != nil {
			return err
		}
		row := &jobRow{RoundID: r.ID, VersionID: v.ID, State: string(planning.JobQueued), Request: string(reqJSON), MaxCells: req.MaxCells,
			CreatedBy: actorIDPtrOf(a), CreatedAt: s.db.Now()}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		if _, err := s.db.writeAuditIn(ctx, tx, auditScope{RoundID: r.ID, VersionID: v.ID}, "allocation_jobs.create", "allocation_job", row.ID, nil,
			map[string]any{"version_id": v.ID, "max_cells": req.MaxCells}); err != nil {
			return err
		}
		job, err = row.toDomain()
		return err
	})
	if err != nil {
		return nil, err
	}
	s.db.afterCommit(ctx, func() {
		select {
		case s.db.jobs.wake <- struct{}{}:
		default:
		}
	})
	return job, nil
}

func actorIDPtrOf(a *planning.Actor) *int64 {
	if uid := a.UserID(); uid != 0 {
		return &uid
	}
	return nil
}

// visible keeps the jobs sc sees, as it sees them: a job is seen by those
// who see the runs of its root.
func (s *AllocationJobService) visible(ctx context.Context, sc *planning.Scope, jobs []*planning.AllocationJob) ([]*planning.AllocationJob, error) {
	if sc.All() {
		return jobs, nil
	}
	roots := make([]int64, len(jobs))
	for i, j := range jobs {
		roots[i] = j.Request.RootID
	}
	paths, err := s.targets.unitPaths(ctx, roots)
	if err != nil {
		return nil, err
	}
	jobs = slices.DeleteFunc(jobs, func(j *planning.AllocationJob) bool { return !sc.Touches(paths[j.Request.RootID]) })
	for _, j := range jobs {
		sc.RedactAllocationJob(j)
	}
	return jobs, nil
}

// FindAllocationJobByID implements planning.AllocationJobService.
func (s *AllocationJobService) FindAllocationJobByID(ctx context.Context, id int64) (*planning.AllocationJob, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, a, id)
}

func (s *AllocationJobService) find(ctx context.Context, a *planning.Actor, id int64) (*planning.AllocationJob, error) {
	row := new(jobRow)
	if err := s.db.scanOne(ctx, s.db.bun.NewSelect().Model(row).Where("id = ?", id), "allocation job", id); err != nil {
		return nil, err
	}
	j, err := row.toDomain()
	if err != nil {
		return nil, err
	}
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, err
	}
	seen, err := s.visible(ctx, sc, []*planning.AllocationJob{j})
	if err != nil {
		return nil, err
	}
	if len(seen) == 0 {
		return nil, notFound("allocation job", id)
	}
	s.db.jobs.live.Overlay(j)
	return j, nil
}

// FindAllocationJobs implements planning.AllocationJobService.
func (s *AllocationJobService) FindAllocationJobs(ctx context.Context, versionID int64, page planning.PageRequest) ([]*planning.AllocationJob, string, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := page.Validate(); err != nil {
		return nil, "", err
	}
	if _, err := s.db.loadVersion(ctx, s.db.bun, versionID); err != nil {
		return nil, "", err
	}
	var rows []jobRow
	q := s.db.bun.NewSelect().Model(&rows).Where("version_id = ?", versionID).OrderExpr("id DESC").Limit(fetchLimit(page))
	if after, err := idCursor(page.Cursor); err != nil {
		return nil, "", err
	} else if after > 0 {
		q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, "", s.db.mapError(err)
	}
	rows, next := cutPage(rows, page, func(r *jobRow) string { return itoa(r.ID) })
	out := make([]*planning.AllocationJob, 0, len(rows))
	for i := range rows {
		j, err := rows[i].toDomain()
		if err != nil {
			return nil, "", err
		}
		s.db.jobs.live.Overlay(j)
		out = append(out, j)
	}
	sc, err := s.db.readScope(ctx, a)
	if err != nil {
		return nil, "", err
	}
	out, err = s.visible(ctx, sc, out)
	return out, next, err
}

// CancelAllocationJob implements planning.AllocationJobService. A job this
// process runs is stopped through its context at once; on SQLite that is
// the only way, for its transaction holds the write lock, and the job's
// final state is written when it has rolled back. On PostgreSQL the
// request is written too, so the server running the job, whichever it
// is, sees it at its next heartbeat.
func (s *AllocationJobService) CancelAllocationJob(ctx context.Context, id int64) (*planning.AllocationJob, error) {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.find(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := a.MayCancelJob(j); err != nil {
		return nil, err
	}
	if live := s.db.jobs.live.Get(id); live != nil && j.State == planning.JobRunning && s.db.dialect == SQLite {
		live.Cancel()
		j.CancelRequested = true
		return j, nil
	}
	err = s.db.inTx(ctx, func(tx bun.Tx) error {
		row := new(jobRow)
		q := tx.NewSelect().Model(row).Where("id = ?", id)
		if s.db.dialect == Postgres {
			q.For("UPDATE")
		}
		if err := s.db.scanOne(ctx, q, "allocation job", id); err != nil {
			return err
		}
		if j, err = row.toDomain(); err != nil {
			return err
		}
		if err := j.RequestCancel(s.db.Now()); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*jobRow)(nil)).Set("state = ?, cancel_requested = ?, finished_at = ?", string(j.State), j.CancelRequested, j.FinishedAt).
			Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		v, err := s.db.loadVersion(ctx, tx, j.VersionID)
		if err != nil {
			return err
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: v.RoundID, VersionID: v.ID}, "allocation_jobs.cancel", "allocation_job", id,
			map[string]any{"state": row.State}, map[string]any{"state": j.State, "cancel_requested": true})
		return err
	})
	if err != nil {
		return nil, err
	}
	if live := s.db.jobs.live.Get(id); live != nil {
		live.Cancel()
	}
	s.db.jobs.live.Overlay(j)
	return j, nil
}

// errJobStopped stops a job whose lease another server took over, or that
// was asked to stop, at its final write.
var errJobStopped = errors.New("allocation job stopped")

// RunNextAllocationJob implements planning.AllocationJobService.
func (s *AllocationJobService) RunNextAllocationJob(ctx context.Context) (bool, error) {
	row, err := s.claim(ctx)
	if err != nil || row == nil {
		return false, err
	}
	// A job that failed for a reason of its own is settled as failed; an
	// internal error is also handed to the worker, for its log.
	if err := s.run(ctx, row); planning.ErrorCode(err) == planning.EINTERNAL && ctx.Err() == nil &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, errJobStopped) {
		return true, fmt.Errorf("allocation job %d: %w", row.ID, err)
	}
	return true, nil
}

// claim takes the oldest waiting job: a queued one, or one running under a
// lease that ran out (its server died). On PostgreSQL FOR UPDATE SKIP
// LOCKED lets servers claim side by side without taking one job twice; on
// SQLite, served by one process, a job this process does not run is a
// job whose server died, whatever its lease says.
func (s *AllocationJobService) claim(ctx context.Context) (*jobRow, error) {
	now := s.db.Now()
	rt := s.db.jobs
	// A look first, without the write lock: on SQLite a claim waits for
	// the write lock, which a running job holds.
	var ids []int64
	look := s.db.bun.NewSelect().Model((*jobRow)(nil)).Column("id").OrderExpr("id").Limit(8)
	if s.db.dialect == Postgres {
		look.Where("state = 'queued' OR (state = 'running' AND lease_until < ?)", now)
	} else {
		look.Where("state = 'queued' OR (state = 'running' AND (lease_owner IS NULL OR lease_owner <> ?))", rt.owner)
	}
	if err := look.Scan(ctx, &ids); err != nil {
		return nil, s.db.mapError(err)
	}
	ids = slices.DeleteFunc(ids, func(id int64) bool { return rt.live.Get(id) != nil })
	if len(ids) == 0 {
		return nil, nil
	}
	var claimed *jobRow
	err := s.db.inTx(ctx, func(tx bun.Tx) error {
		claimed = nil
		row := new(jobRow)
		q := tx.NewSelect().Model(row).OrderExpr("id").Limit(1)
		if s.db.dialect == Postgres {
			q.Where("state = 'queued' OR (state = 'running' AND lease_until < ?)", now).For("UPDATE SKIP LOCKED")
		} else {
			q.Where("(state = 'queued' OR (state = 'running' AND (lease_owner IS NULL OR lease_owner <> ?))) AND id IN (?)", rt.owner, bun.In(ids))
		}
		if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		from := planning.JobState(row.State)
		if !from.CanMove(planning.JobRunning) && from != planning.JobRunning {
			return nil
		}
		until := now.Add(rt.opts.Lease)
		row.State, row.LeaseOwner, row.LeaseUntil, row.Attempts = string(planning.JobRunning), &rt.owner, &until, row.Attempts+1
		if row.StartedAt == nil {
			row.StartedAt = &now
		}
		if _, err := tx.NewUpdate().Model(row).Column("state", "lease_owner", "lease_until", "attempts", "started_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		claimed = row
		return nil
	})
	return claimed, err
}

// run runs a claimed job to a final state: the allocation through the
// synchronous path, in one transaction that also records the job's
// success, so the run and the job's success commit together or not at
// all. The transaction's final write is fenced: it succeeds only while
// this server holds the lease and nobody asked the job to stop.
func (s *AllocationJobService) run(ctx context.Context, row *jobRow) error {
	rt := s.db.jobs
	j, err := row.toDomain()
	if err != nil {
		s.finish(row, planning.JobFailed, 0, 0, err)
		return err
	}
	var a *planning.Actor
	if row.CreatedBy == nil {
		a = planning.SystemActor()
	} else if a, err = s.db.loadActor(ctx, *row.CreatedBy); err == nil {
		err = planning.MayRunJob(j.ID, a)
	}
	if err != nil {
		s.settle(ctx, row, nil, err)
		return err
	}
	runCtx, cancel := context.WithCancel(planning.NewContextWithActor(ctx, a))
	defer cancel()
	live := rt.live.Start(row.ID, cancel)
	defer rt.live.End(row.ID)
	if row.CancelRequested {
		live.Cancel()
	}
	runCtx = planning.WithJobProgress(runCtx, live.Progress)
	stopBeat := s.heartbeat(row, live)
	req := j.Request
	var runID, cells int64
	err = s.db.inConnTx(runCtx, func(conn bun.Conn, tx bun.Tx) error {
		v, r, err := s.db.lockWorkingVersion(runCtx, tx, req.VersionID, nil)
		if err != nil {
			return err
		}
		out, err := s.targets.allocateIn(runCtx, conn, tx, a, v, r, &req)
		if err != nil {
			return err
		}
		if live.CancelRequested() {
			return context.Canceled
		}
		runID, cells = out.Run.ID, out.Run.CellCount
		res, err := tx.NewUpdate().Model((*jobRow)(nil)).
			Set("state = ?, run_id = ?, cells_done = ?, cells_total = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL",
				string(planning.JobSucceeded), runID, cells, cells, s.db.Now()).
			Where("id = ? AND lease_owner = ? AND NOT cancel_requested", row.ID, rt.owner).Exec(runCtx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errJobStopped
		}
		return nil
	})
	stopBeat()
	if err == nil {
		s.db.refreshCellStats(cells)
		return nil
	}
	s.settle(ctx, row, live, err)
	return err
}

// settle records how a job that did not succeed ended: cancelled when
// asked to stop, back in the queue when this server is shutting down or
// the database was briefly unavailable (at most three attempts), failed
// otherwise.
func (s *AllocationJobService) settle(ctx context.Context, row *jobRow, live *planning.LiveJob, err error) {
	var done, total int64
	cancelled := false
	if live != nil {
		done, total, cancelled = live.Progress.Done(), live.Progress.Total(), live.CancelRequested()
	}
	switch {
	case cancelled:
		s.finish(row, planning.JobCancelled, done, total, nil)
	case ctx.Err() != nil || errors.Is(err, errJobStopped):
		// This server is stopping, or lost the job: whoever holds it now
		// (or the next claim) decides its end.
		s.requeue(row)
	case planning.ErrorCode(err) == planning.EUNAVAILABLE && row.Attempts < 3:
		s.requeue(row)
	default:
		s.finish(row, planning.JobFailed, done, total, err)
	}
}

// finish writes a job's final state, if this server still holds it.
func (s *AllocationJobService) finish(row *jobRow, state planning.JobState, done, total int64, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errText *string
	if cause != nil {
		e := jobError{Code: planning.ErrorCode(cause), Message: planning.ErrorMessage(cause)}
		var pe *planning.Error
		if errors.As(cause, &pe) {
			e.Fields = pe.Fields
		}
		b, _ := json.Marshal(e)
		t := string(b)
		errText = &t
	}
	_ = s.db.inTx(ctx, func(tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*jobRow)(nil)).
			Set("state = ?, error = ?, cells_done = CASE WHEN cells_done > ? THEN cells_done ELSE ? END, cells_total = CASE WHEN cells_total > ? THEN cells_total ELSE ? END", string(state), errText, done, done, total, total).
			Set("cancel_requested = cancel_requested OR ?, finished_at = ?, lease_owner = NULL, lease_until = NULL", state == planning.JobCancelled, s.db.Now()).
			Where("id = ? AND state = ? AND lease_owner = ?", row.ID, string(planning.JobRunning), s.db.jobs.owner).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || state != planning.JobCancelled {
			return nil
		}
		v, err := s.db.loadVersion(ctx, tx, row.VersionID)
		if err != nil {
			return err
		}
		_, err = s.db.writeAuditIn(ctx, tx, auditScope{RoundID: v.RoundID, VersionID: v.ID}, "allocation_jobs.cancelled", "allocation_job", row.ID,
			map[string]any{"state": planning.JobRunning}, map[string]any{"state": state, "cells_done": done})
		return err
	})
}

// requeue gives a job back to the queue, if this server still holds it;
// a job someone asked to stop (on another server) is cancelled instead.
func (s *AllocationJobService) requeue(row *jobRow) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.db.inTx(ctx, func(tx bun.Tx) error {
		held := "id = ? AND state = ? AND lease_owner = ?"
		if _, err := tx.NewUpdate().Model((*jobRow)(nil)).Set("state = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL", string(planning.JobCancelled), s.db.Now()).
			Where(held+" AND cancel_requested", row.ID, string(planning.JobRunning), s.db.jobs.owner).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*jobRow)(nil)).Set("state = ?, lease_owner = NULL, lease_until = NULL", string(planning.JobQueued)).
			Where(held, row.ID, string(planning.JobRunning), s.db.jobs.owner).Exec(ctx)
		return err
	})
}

// heartbeat, on PostgreSQL, writes the job's progress and renews its
// lease at intervals from a connection of its own, so any server can
// answer for the job's progress; it stops the job when someone asked it
// to, or when the lease is lost. SQLite has one writer, which the job's
// transaction is: its progress is served from memory (planning.LiveJobs).
// It returns the function that stops it.
func (s *AllocationJobService) heartbeat(row *jobRow, live *planning.LiveJob) func() {
	if s.db.dialect != Postgres {
		return func() {}
	}
	rt := s.db.jobs
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(rt.opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), rt.opts.Heartbeat*5)
			var cancelRequested []bool
			err := s.db.bun.NewRaw(`UPDATE allocation_jobs SET cells_done = GREATEST(cells_done, ?), cells_total = GREATEST(cells_total, ?), lease_until = ?
				WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING cancel_requested`,
				live.Progress.Done(), live.Progress.Total(), s.db.Now().Add(rt.opts.Lease), row.ID, rt.owner).Scan(ctx, &cancelRequested)
			cancel()
			switch {
			case err != nil:
				// A missed beat only delays progress; the lease outlives
				// several.
			case len(cancelRequested) == 0:
				live.Cancel() // the lease is lost: stop, whoever holds it now finishes
			case cancelRequested[0]:
				live.Cancel()
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
	}
}
