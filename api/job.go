package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// AllocationJob is an allocation running in the background: where it
// stands, its progress in cells, and once it succeeded the run it
// recorded (GET /allocations/{run_id}).
type AllocationJob struct {
	ID        int64  `json:"id" example:"7"`
	VersionID int64  `json:"version_id" example:"1"`
	State     string `json:"state" example:"running" enums:"queued,running,succeeded,failed,cancelled"`
	// CellsDone counts the cells written so far; it never goes down.
	CellsDone int64 `json:"cells_done" example:"420000"`
	// CellsTotal is how many cells the run writes, 0 until known.
	CellsTotal int64 `json:"cells_total" example:"1000000"`
	// CancelRequested says someone asked the job to stop; a running job
	// stops at its next batch of cells and leaves the version untouched.
	CancelRequested bool `json:"cancel_requested"`
	// RunID is the recorded run once the job succeeded, null before.
	RunID *int64 `json:"run_id" extensions:"x-nullable" example:"12"`
	// Error says why a failed job failed, as the synchronous call would
	// have answered.
	Error      *Problem   `json:"error,omitempty"`
	CreatedBy  *int64     `json:"created_by" extensions:"x-nullable" example:"3"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at" extensions:"x-nullable"`
	FinishedAt *time.Time `json:"finished_at" extensions:"x-nullable"`
	// Request is the allocation the job runs, with codes as in the body
	// that started it (amounts at the measure's scale, weights and
	// buffers as exact decimals, weights and manual amounts by org unit
	// code), so a client can show it again. Absent for a reader whose
	// scope withholds it (a branch manager or team lead).
	Request *AllocationRequest `json:"request,omitempty"`
}

// AllocationJobPage is one page of a version's allocation jobs.
type AllocationJobPage struct {
	Items      []AllocationJob `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (s *Server) fromDomainJob(res *resolver, j *planning.AllocationJob) (AllocationJob, error) {
	out := AllocationJob{ID: j.ID, VersionID: j.VersionID, State: string(j.State), CellsDone: j.CellsDone, CellsTotal: j.CellsTotal,
		CancelRequested: j.CancelRequested, RunID: j.RunID, CreatedBy: j.CreatedBy, CreatedAt: j.CreatedAt.UTC(),
		StartedAt: formatTime(j.StartedAt), FinishedAt: formatTime(j.FinishedAt)}
	if j.Error != nil {
		p, _ := problemFor(j.Error)
		out.Error = &p
	}
	if !j.RequestRedacted {
		req, err := s.fromDomainAllocationRequest(res, &j.Request)
		if err != nil {
			return AllocationJob{}, err
		}
		out.Request = &req
	}
	return out, nil
}

// createAllocationJob godoc
//
//	@Summary		Start an allocation in the background
//	@ID				createAllocationJob
//	@Description	Takes the same body as POST /versions/{id}/allocations and runs it as a job: the same checks answer at once (404, 403, 422, 409, 412, 413 against the job limit of 10,000,000 cells unless the server says otherwise), then 202 with the job to poll at its Location. The job writes through the same path as the synchronous call, in one transaction: it succeeds whole (run_id names the recorded run) or leaves the version untouched (failed, cancelled). A job accepted survives a restart of the server: it runs again. dry_run is refused: preview with the synchronous call.
//	@Tags			targets
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int						true	"Version id"
//	@Param			If-Match	header		string					false	"ETag of the version as read"
//	@Param			body		body		api.AllocationRequest	true	"The allocation"
//	@Success		202			{object}	api.AllocationJob		"Queued"
//	@Header			202			{string}	Location				"/api/v1/allocation-jobs/{job_id}"
//	@Failure		400			{object}	api.Problem				"Malformed body"
//	@Failure		403			{object}	api.Problem				"Not your product line"
//	@Failure		404			{object}	api.Problem				"No such version"
//	@Failure		409			{object}	api.Problem				"Version frozen or round not under way"
//	@Failure		412			{object}	api.Problem				"Stale If-Match"
//	@Failure		413			{object}	api.Problem				"Too many cells"
//	@Failure		422			{object}	api.Problem				"Invalid allocation, fields named"
//	@Router			/versions/{id}/allocation-jobs [post]
func (s *Server) createAllocationJob(c echo.Context) error {
	ctx, res, dreq, err := s.allocationRequest(c)
	if err != nil {
		return err
	}
	job, err := s.svcs.AllocationJobs.CreateAllocationJob(ctx, dreq)
	if err != nil {
		return err
	}
	out, err := s.fromDomainJob(res, job)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, location("/allocation-jobs/%d", job.ID))
	return c.JSON(http.StatusAccepted, out)
}

// listAllocationJobs godoc
//
//	@Summary		List a version's allocation jobs
//	@ID				listAllocationJobs
//	@Description	Newest first, each with its live progress. A branch manager or team lead sees the jobs whose subtree holds part of theirs, as with the runs.
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id		path		int		true	"Version id"
//	@Param			limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	api.AllocationJobPage
//	@Failure		404		{object}	api.Problem	"No such version"
//	@Failure		400		{object}	api.Problem	"Bad id or query parameter"
//	@Router			/versions/{id}/allocation-jobs [get]
func (s *Server) listAllocationJobs(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c)
	page := q.page()
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	jobs, next, err := s.svcs.AllocationJobs.FindAllocationJobs(ctx, id, page)
	if err != nil {
		return err
	}
	res := newResolver(ctx, s.svcs)
	out := AllocationJobPage{Items: make([]AllocationJob, 0, len(jobs)), NextCursor: next}
	for _, j := range jobs {
		x, err := s.fromDomainJob(res, j)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, x)
	}
	return c.JSON(http.StatusOK, out)
}

// getAllocationJob godoc
//
//	@Summary		Get an allocation job and its progress
//	@ID				getAllocationJob
//	@Description	The job's state, the request it runs (codes as sent) and its progress: cells_done of cells_total (0 until the run has computed them), which only grows. Poll it (every second or so) until the state is succeeded, failed or cancelled. A branch manager or team lead gets 404 for a job that holds nothing of their subtree.
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Allocation job id"
//	@Success		200	{object}	api.AllocationJob
//	@Failure		404	{object}	api.Problem	"No such job"
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Router			/allocation-jobs/{id} [get]
func (s *Server) getAllocationJob(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	job, err := s.svcs.AllocationJobs.FindAllocationJobByID(ctx, id)
	if err != nil {
		return err
	}
	out, err := s.fromDomainJob(newResolver(ctx, s.svcs), job)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// cancelAllocationJob godoc
//
//	@Summary		Cancel an allocation job
//	@ID				cancelAllocationJob
//	@Description	A queued job is cancelled at once; a running one answers with cancel_requested true and stops at its next batch of cells, rolling back everything it wrote (state cancelled once it has). Only the user who started the job, the strategy office and administrators cancel it. 409 when the job has already finished.
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Allocation job id"
//	@Success		200	{object}	api.AllocationJob
//	@Failure		403	{object}	api.Problem	"Not yours to cancel"
//	@Failure		404	{object}	api.Problem	"No such job"
//	@Failure		409	{object}	api.Problem	"Already finished"
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Router			/allocation-jobs/{id}/cancel [post]
func (s *Server) cancelAllocationJob(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	job, err := s.svcs.AllocationJobs.CancelAllocationJob(ctx, id)
	if err != nil {
		return err
	}
	out, err := s.fromDomainJob(newResolver(ctx, s.svcs), job)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
