package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Me is the caller as the server sees them: the user, their roles and the
// product lines they own.
type Me struct {
	User User `json:"user"`
	// Roles are the roles the caller holds, with their scopes.
	Roles []RoleAssignment `json:"roles"`
	// OwnedProductLineIDs are the product lines whose product manager the
	// caller is.
	OwnedProductLineIDs []int64 `json:"owned_product_line_ids"`
	// TokenID is the token the request authenticated with.
	TokenID int64 `json:"token_id" example:"5"`
}

// getMe godoc
//
//	@Summary		Who am I
//	@ID				getMe
//	@Description	The authenticated caller, their roles and owned product lines. Any signed-in user may call it.
//	@Tags			me
//	@Security		BearerAuth
//	@Produce		json
//	@Success		200	{object}	api.Me
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Router			/me [get]
func (s *Server) getMe(c echo.Context) error {
	a, err := planning.RequireActor(c.Request().Context())
	if err != nil {
		return err
	}
	me := Me{User: fromDomainUser(a.User), Roles: fromDomainRoles(a.Roles),
		OwnedProductLineIDs: append([]int64{}, a.OwnedProductLineIDs...), TokenID: a.TokenID}
	if len(me.User.Roles) == 0 {
		me.User.Roles = me.Roles
	}
	return c.JSON(http.StatusOK, me)
}

// Task is one thing waiting for the caller now, with the names a person
// reads (round, unit, counterproposal title) beside the ids.
type Task struct {
	Kind      string `json:"kind" example:"decide_counterproposal" enums:"review_targets,submit_counterproposal,decide_counterproposal,submit_version,approve_version"`
	RoundID   int64  `json:"round_id" example:"1"`
	RoundName string `json:"round_name" example:"Annual plan 2027"`
	VersionID int64  `json:"version_id" example:"3"`
	// OrgUnitID and its names are set for tasks about one unit.
	OrgUnitID        *int64  `json:"org_unit_id" example:"9"`
	OrgUnitCode      *string `json:"org_unit_code" example:"B-SH"`
	OrgUnitName      *string `json:"org_unit_name" example:"Shanghai branch"`
	OrgUnitNameLocal *string `json:"org_unit_name_local" example:"上海分公司"`
	// CounterproposalID and its title are set for counterproposal tasks.
	CounterproposalID    *int64  `json:"counterproposal_id" example:"4"`
	CounterproposalTitle *string `json:"counterproposal_title" example:"Shanghai: POS too high"`
	// Undecided is how many lines wait for the caller's decision.
	Undecided int `json:"undecided" example:"2"`
	// StepRole is the chain step's role for submit_version and
	// approve_version.
	StepRole *string `json:"step_role" example:"sales_director"`
	// Due is the deadline of the round's current phase, if it has one.
	Due *time.Time `json:"due"`
	// Link is the API resource the task is done at: the counterproposal,
	// the unit's targets, or the version's approval.
	Link string `json:"link" example:"/api/v1/counterproposals/4"`
}

// TaskList is what waits for the caller, soonest deadline first.
type TaskList struct {
	Items []Task `json:"items"`
}

// getMyTasks godoc
//
//	@Summary		My work
//	@ID				getMyTasks
//	@Description	What waits for the caller now across the rounds in progress: targets to review and drafts to submit (branch managers, team leads), counterproposals awaiting their decision (product managers), versions to submit or approve at their step of the chain. Soonest deadline first; only what the caller may see.
//	@Tags			me
//	@Security		BearerAuth
//	@Produce		json
//	@Success		200	{object}	api.TaskList
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Router			/me/tasks [get]
func (s *Server) getMyTasks(c echo.Context) error {
	tasks, err := planning.FindMyTasks(c.Request().Context(), s.svcs)
	if err != nil {
		return err
	}
	out := TaskList{Items: make([]Task, 0, len(tasks))}
	for _, t := range tasks {
		dto := Task{Kind: string(t.Kind), RoundID: t.Round.ID, RoundName: t.Round.Name, VersionID: t.VersionID,
			Undecided: t.Undecided, Due: formatTime(t.Due)}
		if u := t.OrgUnit; u != nil {
			dto.OrgUnitID, dto.OrgUnitCode, dto.OrgUnitName, dto.OrgUnitNameLocal = &u.ID, &u.Code, &u.Name, &u.NameLocal
		}
		if cp := t.Counterproposal; cp != nil {
			dto.CounterproposalID, dto.CounterproposalTitle = &cp.ID, &cp.Title
		}
		if t.Step != nil {
			role := string(t.Step.Role)
			dto.StepRole = &role
		}
		dto.Link = taskLink(t)
		out.Items = append(out.Items, dto)
	}
	return c.JSON(http.StatusOK, out)
}

// taskLink is where a task is done, as an API path.
func taskLink(t planning.Task) string {
	switch {
	case t.Counterproposal != nil:
		return location("/counterproposals/%d", t.Counterproposal.ID)
	case t.Kind == planning.TaskReviewTargets && t.OrgUnit != nil:
		return location("/versions/%d/targets?org_unit=%s&subtree=true", t.VersionID, url.QueryEscape(t.OrgUnit.Code))
	case t.Kind == planning.TaskSubmitVersion || t.Kind == planning.TaskApproveVersion:
		return location("/versions/%d/approval", t.VersionID)
	}
	return location("/versions/%d", t.VersionID)
}
