package planning

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// MaxAllocationJobCells is the default limit of cells one allocation job
// may write. A job is not bound to one HTTP request, so it may write five
// times what a synchronous allocation may (MaxAllocationCells); the
// service's configuration may change it (JobOptions.MaxCells).
const MaxAllocationJobCells = 10_000_000

// JobState is where an allocation job stands.
type JobState string

// The states of an allocation job: queued until a worker claims it,
// running while it writes, and then one of the three final states.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Final reports whether a job in state s has finished for good.
func (s JobState) Final() bool { return s == JobSucceeded || s == JobFailed || s == JobCancelled }

// JobTransitions lists the moves of a job's state machine. A running job
// goes back to queued only when the server running it died (its lease
// ran out, or the embedded database's only server restarted): its
// transaction died with it, so running it again loses and repeats nothing.
var JobTransitions = map[JobState][]JobState{
	JobQueued:  {JobRunning, JobCancelled},
	JobRunning: {JobSucceeded, JobFailed, JobCancelled, JobQueued},
}

// CanMove reports whether a job may move from one state to another.
func (s JobState) CanMove(to JobState) bool {
	for _, t := range JobTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// AllocationJob is an allocation run in the background: the same request
// as a synchronous allocation, written by the same path in one
// transaction, with its progress and a way to cancel it.
type AllocationJob struct {
	ID        int64
	VersionID int64
	State     JobState
	// CellsDone counts the cells written so far; it never goes down.
	// CellsTotal is how many the run writes, 0 until the engine has run.
	CellsDone  int64
	CellsTotal int64
	// CancelRequested says someone asked the job to stop; a running job
	// stops at its next batch of cells and rolls back.
	CancelRequested bool
	// RunID is the recorded run once the job succeeded.
	RunID *int64
	// Error says why a failed job failed.
	Error     *Error
	Request   AllocationRequest
	CreatedBy *int64
	CreatedAt time.Time
	StartedAt *time.Time
	// FinishedAt is when the job reached a final state.
	FinishedAt *time.Time

	// RequestRedacted says the reader's scope withheld the request (all
	// of it but the version and the root).
	RequestRedacted bool
}

// RequestCancel applies a cancel request to j: a queued job is cancelled
// at once (now), a running one is asked to stop. It returns ECONFLICT for
// a finished job. Who may cancel is MayCancelJob's rule.
func (j *AllocationJob) RequestCancel(now time.Time) error {
	switch {
	case j.State.Final():
		return Errorf(ECONFLICT, "allocation job %d has already %s", j.ID, j.State)
	case j.State == JobQueued:
		j.State, j.CancelRequested, j.FinishedAt = JobCancelled, true, &now
	default:
		j.CancelRequested = true
	}
	return nil
}

// MayStartJob refuses whoever may not start an allocation job: those who
// may not allocate; the product lines are checked as a synchronous
// allocation checks them.
func (a *Actor) MayStartJob() error {
	if !a.CanWriteTargets() {
		return Errorf(EFORBIDDEN, "only product managers, the strategy office and administrators allocate targets")
	}
	return nil
}

// MayCancelJob refuses whoever may not cancel j: only the user who started
// it, the strategy office and administrators may.
func (a *Actor) MayCancelJob(j *AllocationJob) error {
	if a.HasRole(RoleAdmin, RoleStrategyOffice) {
		return nil
	}
	if j.CreatedBy != nil && *j.CreatedBy == a.UserID() {
		return nil
	}
	return Errorf(EFORBIDDEN, "only the user who started an allocation job, the strategy office and administrators cancel it")
}

// RedactAllocationJob keeps out of j what a reader with a partial scope
// may not see: the request, and the error's detail, which may name units
// outside the scope. The error's code stays.
func (s *Scope) RedactAllocationJob(j *AllocationJob) {
	if s.All() {
		return
	}
	j.Request = AllocationRequest{VersionID: j.Request.VersionID, RootID: j.Request.RootID}
	j.RequestRedacted = true
	if j.Error != nil {
		j.Error = &Error{Code: j.Error.Code, Message: "the allocation job failed"}
	}
}

// AllocationJobService starts, reads and cancels allocation jobs, and runs
// them. Reads show a job to those who see the version's runs of its root
// (ENOTFOUND otherwise).
type AllocationJobService interface {
	// CreateAllocationJob queues req as a job after the checks a
	// synchronous allocation makes before it writes: the version
	// (ENOTFOUND), the caller's role (EFORBIDDEN), the request (EINVALID,
	// ETOOLARGE against the job limit), the version's state (ECONFLICT)
	// and If-Match (EPRECONDITION). req.DryRun is EINVALID.
	CreateAllocationJob(ctx context.Context, req AllocationRequest) (*AllocationJob, error)
	// FindAllocationJobByID returns a job with its live progress.
	FindAllocationJobByID(ctx context.Context, id int64) (*AllocationJob, error)
	// FindAllocationJobs lists a version's jobs, newest first.
	FindAllocationJobs(ctx context.Context, versionID int64, page PageRequest) ([]*AllocationJob, string, error)
	// CancelAllocationJob cancels a queued job or asks a running one to
	// stop; ECONFLICT when it has finished, EFORBIDDEN for whoever
	// MayCancelJob refuses.
	CancelAllocationJob(ctx context.Context, id int64) (*AllocationJob, error)
	// RunNextAllocationJob claims the oldest job that waits (queued, or
	// running on a server whose lease ran out) and runs it to a final
	// state; it reports false when none waits.
	RunNextAllocationJob(ctx context.Context) (bool, error)
}

// JobProgress is the live progress of one running allocation: the cells
// it writes in total and those written so far. RunAllocation reports to
// the JobProgress of its context (WithJobProgress) and stops at the next
// batch of cells once its context is cancelled. Done never goes down: a
// run that starts over (a transient database failure) counts on from the
// highest value reached.
type JobProgress struct {
	total atomic.Int64
	done  atomic.Int64
}

// Total is how many cells the run writes, 0 until known.
func (p *JobProgress) Total() int64 { return p.total.Load() }

// Done is how many cells the run has written so far.
func (p *JobProgress) Done() int64 { return p.done.Load() }

func (p *JobProgress) setTotal(n int64) { p.total.Store(n) }

func (p *JobProgress) reach(n int64) {
	for {
		cur := p.done.Load()
		if n <= cur || p.done.CompareAndSwap(cur, n) {
			return
		}
	}
}

type progressKey struct{}

// WithJobProgress returns a copy of ctx to which RunAllocation reports
// its progress.
func WithJobProgress(ctx context.Context, p *JobProgress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

func jobProgressFrom(ctx context.Context) *JobProgress {
	p, _ := ctx.Value(progressKey{}).(*JobProgress)
	return p
}

// progressBatch is how many cells pass between two progress reports and
// two checks for a cancelled context.
const progressBatch = 4096

// withProgress wraps cells so that they report to p and stop once ctx is
// done.
func withProgress(ctx context.Context, p *JobProgress, total int64, cells CellStream) CellStream {
	p.setTotal(total)
	return func(emit func(unit, line int64, period int, amount []byte) error) error {
		var n int64
		err := cells(func(unit, line int64, period int, amount []byte) error {
			if err := emit(unit, line, period, amount); err != nil {
				return err
			}
			if n++; n%progressBatch == 0 {
				p.reach(n)
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			p.reach(n)
		}
		return err
	}
}

// LiveJobs is the registry of the jobs this process runs: their progress
// and how to stop them. On the embedded database the running job's
// transaction holds the only write lock, so neither progress nor a cancel
// request can reach the database until it ends; the registry answers for
// them meanwhile.
type LiveJobs struct {
	mu   sync.Mutex
	jobs map[int64]*LiveJob
}

// LiveJob is one job running in this process.
type LiveJob struct {
	Progress        *JobProgress
	cancel          context.CancelFunc
	cancelRequested atomic.Bool
}

// Cancel asks the job to stop.
func (l *LiveJob) Cancel() {
	l.cancelRequested.Store(true)
	l.cancel()
}

// CancelRequested reports whether Cancel was called.
func (l *LiveJob) CancelRequested() bool { return l.cancelRequested.Load() }

// Start registers job id as running with its cancel function.
func (r *LiveJobs) Start(id int64, cancel context.CancelFunc) *LiveJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs == nil {
		r.jobs = map[int64]*LiveJob{}
	}
	l := &LiveJob{Progress: new(JobProgress), cancel: cancel}
	r.jobs[id] = l
	return l
}

// End removes job id from the registry.
func (r *LiveJobs) End(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.jobs, id)
}

// Get returns the running job id, or nil when this process does not run it.
func (r *LiveJobs) Get(id int64) *LiveJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[id]
}

// Overlay brings j up to what this process knows of it while it runs.
func (r *LiveJobs) Overlay(j *AllocationJob) {
	l := r.Get(j.ID)
	if l == nil || j.State != JobRunning {
		return
	}
	j.CellsTotal = max(j.CellsTotal, l.Progress.Total())
	j.CellsDone = max(j.CellsDone, l.Progress.Done())
	j.CancelRequested = j.CancelRequested || l.CancelRequested()
}
