package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Approval is a version's way up the round's approval chain.
type Approval struct {
	VersionID int64  `json:"version_id" example:"2"`
	State     string `json:"state" example:"in_approval" enums:"none,in_approval,approved"`
	// NextRole is the role whose turn it is; null once approved.
	NextRole *string              `json:"next_role" example:"sales_director"`
	Steps    []ApprovalStepState  `json:"steps"`
	History  []ApprovalActionView `json:"history"`
	// PossibleActions are the acts possible from the approval's state,
	// whoever may take them.
	PossibleActions []PossibleAction `json:"possible_actions"`
}

// ApprovalStepState is one step of the chain as it stands.
type ApprovalStepState struct {
	Step    int    `json:"step" example:"1"`
	Role    string `json:"role" example:"sales_director"`
	Action  string `json:"action" example:"review" enums:"submit,review,approve"`
	State   string `json:"state" example:"current" enums:"done,current,pending"`
	ActorID *int64 `json:"actor_id"`
	// ActorName is the display name of who acted; null while pending.
	ActorName *string    `json:"actor_name" example:"Sales director (销售总监)"`
	At        *time.Time `json:"at"`
	Comment   string     `json:"comment,omitempty"`
	// TookSeconds is how long the step took (so far, for the current one).
	TookSeconds int64 `json:"took_seconds" example:"86400"`
}

// ApprovalActionView is one recorded action.
type ApprovalActionView struct {
	ID      int64  `json:"id"`
	Step    int    `json:"step"`
	Action  string `json:"action" example:"reject" enums:"submit,approve,reject,reopen"`
	ActorID int64  `json:"actor_id"`
	// ActorName is the display name of who acted.
	ActorName string    `json:"actor_name" example:"Sales director (销售总监)"`
	Comment   string    `json:"comment" example:"Q4 is too heavy"`
	At        time.Time `json:"at"`
}

// ApprovalActionRequest is the body of POST /versions/{id}/approval/actions.
type ApprovalActionRequest struct {
	Action  string `json:"action" validate:"required" example:"approve" enums:"submit,approve,reject,reopen"`
	Comment string `json:"comment" example:"Looks right"`
}

func fromDomainApproval(a *planning.Approval) Approval {
	out := Approval{VersionID: a.VersionID, State: string(a.State), Steps: []ApprovalStepState{}, History: []ApprovalActionView{},
		PossibleActions: []PossibleAction{}}
	for _, m := range planning.ApprovalMovesFrom(a.State) {
		out.PossibleActions = append(out.PossibleActions, PossibleAction{Action: m.Action, To: string(m.To), Who: m.Who, Description: m.Description})
	}
	if a.NextRole != nil {
		r := string(*a.NextRole)
		out.NextRole = &r
	}
	for _, st := range a.Steps {
		out.Steps = append(out.Steps, ApprovalStepState{Step: st.Step, Role: string(st.Role), Action: st.Action, State: st.State,
			ActorID: st.ActorID, At: st.At, Comment: st.Comment, TookSeconds: int64(st.Took / time.Second)})
	}
	for _, h := range a.History {
		out.History = append(out.History, ApprovalActionView{ID: h.ID, Step: h.Step, Action: h.Action, ActorID: h.ActorID, ActorName: h.ActorName, Comment: h.Comment, At: h.At})
	}
	return out
}

// getApproval godoc
//
//	@Summary		A version's approval
//	@ID				getApproval
//	@Description	The round's chain with each step's state, who acted and when, how long each step took, who is next, and every action taken (rejections included).
//	@Tags			approval
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Version id"
//	@Success		200	{object}	api.Approval
//	@Header			200	{string}	ETag		"The version's revision"
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		404	{object}	api.Problem	"No such version"
//	@Router			/versions/{id}/approval [get]
func (s *Server) getApproval(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	a, err := s.svcs.Approvals.FindApproval(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return ok(c, a.Revision, fromDomainApproval(a))
}

// actOnApproval godoc
//
//	@Summary		Act on a version's approval
//	@ID				actOnApproval
//	@Description	submit: the chain's first role (product managers, for the whole plan) sends the round's working version up the chain, in the review phase or as a re-forecast of an approved round. approve / reject: only the current step's role, never the submitter; a rejection needs the reason and sends the version back to working. reopen: the submitter, the strategy office or an admin take it back. The final approval freezes the version, makes it the budget of record and moves the round to approved. Out of turn: 409; wrong role: 403.
//	@Tags			approval
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int							true	"Version id"
//	@Param			If-Match	header		string						false	"The version's ETag as read"
//	@Param			body		body		api.ApprovalActionRequest	true	"The action"
//	@Success		200			{object}	api.Approval
//	@Header			200			{string}	ETag		"The version's new revision"
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Not your step, or you submitted it"
//	@Failure		404			{object}	api.Problem	"No such version"
//	@Failure		409			{object}	api.Problem	"Out of turn"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		422			{object}	api.Problem	"Unknown action or missing reason"
//	@Router			/versions/{id}/approval/actions [post]
func (s *Server) actOnApproval(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req ApprovalActionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.svcs.Approvals.Act(c.Request().Context(), id, req.Action, req.Comment, match)
	if err != nil {
		return err
	}
	setETag(c, a.Revision)
	return c.JSON(http.StatusOK, fromDomainApproval(a))
}
