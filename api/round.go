package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Round is a planning round: one annual cycle for a fiscal year.
type Round struct {
	ID         int64  `json:"id" example:"1"`
	Code       string `json:"code" example:"FY2027"`
	Name       string `json:"name" example:"Annual plan 2027"`
	FiscalYear int    `json:"fiscal_year" example:"2027"`
	// FirstMonth is the calendar month the fiscal year starts in.
	FirstMonth int `json:"first_month" example:"1"`
	// Months are the round's twelve months, first month first.
	Months        []string       `json:"months" example:"2027-01,2027-02"`
	Measures      []MeasureRef   `json:"measures"`
	Calendar      []Deadline     `json:"calendar"`
	ApprovalChain []ApprovalStep `json:"approval_chain"`
	// SeparationOfDuties is how strictly the chain keeps people apart:
	// "version" (the floor: nobody acts on two steps of one version's
	// chain, submit included) or "round" (nobody acts on two steps across
	// the round's versions).
	SeparationOfDuties string `json:"separation_of_duties" example:"version" enums:"version,round"`
	Status             string `json:"status" example:"open" enums:"draft,open,counterproposals,review,approved,closed"`
	// PossibleTransitions are the moves the round can make from here,
	// each saying whether the caller may take it now.
	PossibleTransitions []TransitionRule `json:"possible_transitions"`
	// Moves lists every phase a move leads to, but the round's own, in the
	// order of the phases: the moves from here (as in
	// possible_transitions) and the others, refused with reason "phase".
	// allowed and reason are what POST /rounds/{id}/transitions would
	// answer the caller now.
	Moves            []TransitionRule `json:"moves"`
	WorkingVersionID *int64           `json:"working_version_id" example:"1"`
	RecordVersionID  *int64           `json:"record_version_id"`
	Revision         int64            `json:"revision" example:"2"`
	CreatedBy        *int64           `json:"created_by" example:"2"`
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
}

// MeasureRef names a measure with its scale.
type MeasureRef struct {
	ID    int64  `json:"id" example:"1"`
	Code  string `json:"code" example:"revenue"`
	Scale int32  `json:"scale" example:"2"`
}

// Deadline is the due time of one phase.
type Deadline struct {
	Phase string    `json:"phase" example:"counterproposals"`
	Due   time.Time `json:"due"`
}

// ApprovalStep is one step of the approval chain.
type ApprovalStep struct {
	Role   string `json:"role" example:"president"`
	Action string `json:"action" example:"approve" enums:"submit,review,approve"`
}

// TransitionRule is a move a round can make and who may make it, and
// whether the caller may make it now. A move to a phase no rule leads to
// from here has no roles and no description.
type TransitionRule struct {
	To          string   `json:"to" example:"counterproposals"`
	Roles       []string `json:"roles" example:"strategy_office,admin"`
	Description string   `json:"description"`
	// Allowed says POST /rounds/{id}/transitions would take the move for
	// the caller now.
	Allowed bool `json:"allowed" example:"true"`
	// Reason says why not, when not allowed.
	Reason *TransitionReason `json:"reason,omitempty"`
}

// TransitionReason says why a move is not possible for the caller now.
type TransitionReason struct {
	// Code is the kind of rule that refuses: "role" (not the caller's
	// role: the POST answers 403), "phase" (no move from the round's
	// phase: 409) or "precondition" (the round is not ready, such as an
	// approval only the approval chain gives: 409).
	Code string `json:"code" example:"role" enums:"role,phase,precondition"`
	// Message is the POST's problem detail.
	Message string `json:"message" example:"moving a round from open to counterproposals needs the role [strategy_office admin]"`
}

// RoundPage is one page of rounds.
type RoundPage struct {
	Items      []Round `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// RoundCreate is the body of POST /rounds.
type RoundCreate struct {
	Code       string `json:"code" validate:"required" example:"FY2027"`
	Name       string `json:"name" validate:"required" example:"Annual plan 2027"`
	FiscalYear int    `json:"fiscal_year" validate:"required" example:"2027"`
	FirstMonth int    `json:"first_month" validate:"required" example:"1"`
	// Measures are measure codes.
	Measures []string   `json:"measures" example:"revenue,gross_margin"`
	Calendar []Deadline `json:"calendar"`
	// ApprovalChain defaults to product manager submits → sales director
	// reviews → marketing director reviews → president approves.
	ApprovalChain []ApprovalStep `json:"approval_chain"`
	// SeparationOfDuties defaults to "version", the floor; "round" is
	// stricter.
	SeparationOfDuties string `json:"separation_of_duties" example:"version" enums:"version,round"`
}

// RoundPatch is the body of PATCH /rounds/{id}; absent fields stay.
// Measures and the chain change only while the round is a draft; the
// separation of duties changes freely while it is a draft and afterwards
// only toward stricter (409 otherwise).
type RoundPatch struct {
	Name               *string         `json:"name"`
	Measures           *[]string       `json:"measures"`
	Calendar           *[]Deadline     `json:"calendar"`
	ApprovalChain      *[]ApprovalStep `json:"approval_chain"`
	SeparationOfDuties *string         `json:"separation_of_duties" enums:"version,round"`
}

// TransitionRequest is the body of POST /rounds/{id}/transitions.
type TransitionRequest struct {
	To      string `json:"to" validate:"required" example:"open" enums:"draft,open,counterproposals,review,approved,closed"`
	Comment string `json:"comment" example:"Targets are out"`
}

// RoundTransition is one recorded move of a round.
type RoundTransition struct {
	ID      int64     `json:"id"`
	From    string    `json:"from" example:"draft"`
	To      string    `json:"to" example:"open"`
	ActorID *int64    `json:"actor_id"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// RoundTransitionList lists a round's moves, oldest first.
type RoundTransitionList struct {
	Items []RoundTransition `json:"items"`
}

func fromDomainRound(ctx context.Context, r *planning.Round) Round {
	out := Round{ID: r.ID, Code: r.Code, Name: r.Name, FiscalYear: r.FiscalYear, FirstMonth: r.FirstMonth,
		Months: r.Months(), Status: string(r.Status), SeparationOfDuties: string(r.SeparationOfDuties.OrDefault()), WorkingVersionID: r.WorkingVersionID, RecordVersionID: r.RecordVersionID,
		Revision: r.Revision, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Measures: []MeasureRef{}, Calendar: []Deadline{}, ApprovalChain: []ApprovalStep{}, PossibleTransitions: []TransitionRule{}, Moves: []TransitionRule{}}
	for _, m := range r.Measures {
		out.Measures = append(out.Measures, MeasureRef{ID: m.ID, Code: m.Code, Scale: m.Scale})
	}
	for _, d := range r.Calendar {
		out.Calendar = append(out.Calendar, Deadline{Phase: string(d.Phase), Due: d.Due})
	}
	for _, st := range r.ApprovalChain {
		out.ApprovalChain = append(out.ApprovalChain, ApprovalStep{Role: string(st.Role), Action: st.Action})
	}
	// The moves are the round's rule for the caller (planning.Round.Moves).
	moves := map[string]TransitionRule{}
	for _, m := range r.Moves(planning.ActorFromContext(ctx)) {
		x := TransitionRule{To: string(m.To), Roles: []string{}, Allowed: m.Allowed()}
		if m.Rule != nil {
			x.Description = m.Rule.Description
			for _, role := range m.Rule.Roles {
				x.Roles = append(x.Roles, string(role))
			}
		}
		if m.Refusal != nil {
			x.Reason = &TransitionReason{Code: string(m.Blocked), Message: m.Refusal.Message}
		}
		moves[x.To] = x
		out.Moves = append(out.Moves, x)
	}
	for _, t := range planning.TransitionsFrom(r.Status) {
		out.PossibleTransitions = append(out.PossibleTransitions, moves[string(t.To)])
	}
	return out
}

func toDomainCalendar(ds []Deadline) []planning.Deadline {
	out := make([]planning.Deadline, len(ds))
	for i, d := range ds {
		out[i] = planning.Deadline{Phase: planning.RoundStatus(d.Phase), Due: d.Due}
	}
	return out
}

func toDomainChain(steps []ApprovalStep) []planning.ApprovalStep {
	out := make([]planning.ApprovalStep, len(steps))
	for i, st := range steps {
		out[i] = planning.ApprovalStep{Role: planning.Role(st.Role), Action: st.Action}
	}
	return out
}

// measureIDs resolves measure codes, reporting unknown ones as field errors.
func (r *resolver) measureIDs(field string, codes []string) ([]int64, error) {
	if err := r.loadMeasures(codes); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(codes))
	for i, c := range codes {
		if m := r.measure(fmt.Sprintf("%s[%d]", field, i), c); m != nil {
			ids = append(ids, m.ID)
		}
	}
	return ids, r.err()
}

// listRounds godoc
//
//	@Summary	List planning rounds
//	@ID			listRounds
//	@Tags		rounds
//	@Security	BearerAuth
//	@Produce	json
//	@Param		fiscal_year	query		int		false	"Only rounds of this fiscal year"
//	@Param		status		query		string	false	"Only rounds in this phase"	Enums(draft,open,counterproposals,review,approved,closed)
//	@Param		limit		query		int		false	"Page size (1-1000, default 100)"
//	@Param		cursor		query		string	false	"next_cursor of the previous page"
//	@Success	200			{object}	api.RoundPage
//	@Failure	400			{object}	api.Problem	"Bad query parameter"
//	@Failure	401			{object}	api.Problem	"Not authenticated"
//	@Router		/rounds [get]
func (s *Server) listRounds(c echo.Context) error {
	q := newQuery(c, "fiscal_year", "status")
	f := planning.RoundFilter{Status: planning.RoundStatus(q.str("status")), Page: q.page()}
	if y := q.id("fiscal_year"); y != nil {
		year := int(*y)
		f.FiscalYear = &year
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "must be one of %v", planning.RoundStatuses)
	}
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	rounds, next, err := s.svcs.Rounds.FindRounds(ctx, f)
	if err != nil {
		return err
	}
	page := RoundPage{Items: make([]Round, 0, len(rounds)), NextCursor: next}
	for _, r := range rounds {
		page.Items = append(page.Items, fromDomainRound(ctx, r))
	}
	return c.JSON(http.StatusOK, page)
}

// createRound godoc
//
//	@Summary		Create a planning round
//	@ID				createRound
//	@Description	Creates a draft round. Needs the strategy_office or admin role.
//	@Tags			rounds
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.RoundCreate	true	"The round"
//	@Success		201		{object}	api.Round
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not the strategy office"
//	@Failure		409		{object}	api.Problem	"Duplicate code"
//	@Failure		422		{object}	api.Problem	"Invalid fields"
//	@Router			/rounds [post]
func (s *Server) createRound(c echo.Context) error {
	var req RoundCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newResolver(ctx, s.svcs)
	ids, err := res.measureIDs("measures", req.Measures)
	if err != nil {
		return err
	}
	r := &planning.Round{Code: req.Code, Name: req.Name, FiscalYear: req.FiscalYear, FirstMonth: req.FirstMonth,
		MeasureIDs: ids, Calendar: toDomainCalendar(req.Calendar), ApprovalChain: toDomainChain(req.ApprovalChain),
		SeparationOfDuties: planning.DutySeparation(req.SeparationOfDuties)}
	if err := s.svcs.Rounds.CreateRound(ctx, r); err != nil {
		return err
	}
	out := fromDomainRound(ctx, r)
	return created(c, location("/rounds/%d", r.ID), &r.Revision, out)
}

// getRound godoc
//
//	@Summary	Get a planning round
//	@ID			getRound
//	@Tags		rounds
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Round id"
//	@Success	200	{object}	api.Round
//	@Header		200	{string}	ETag		"The revision, as a strong entity tag"
//	@Failure	401	{object}	api.Problem	"Not authenticated"
//	@Failure	404	{object}	api.Problem	"No such round"
//	@Failure	400	{object}	api.Problem	"Bad id or query parameter"
//	@Router		/rounds/{id} [get]
func (s *Server) getRound(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := s.svcs.Rounds.FindRoundByID(ctx, id)
	if err != nil {
		return err
	}
	out := fromDomainRound(ctx, r)
	return ok(c, r.Revision, out)
}

// updateRound godoc
//
//	@Summary		Change a planning round
//	@ID				updateRound
//	@Description	Name and calendar until the round closes; measures and approval chain while it is a draft. Send If-Match to refuse a lost update.
//	@Tags			rounds
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int				true	"Round id"
//	@Param			If-Match	header		string			false	"ETag of the round as read"
//	@Param			body		body		api.RoundPatch	true	"The changes"
//	@Success		200			{object}	api.Round
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Not the strategy office"
//	@Failure		404			{object}	api.Problem	"No such round"
//	@Failure		409			{object}	api.Problem	"Wrong phase for this change"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		422			{object}	api.Problem	"Invalid fields"
//	@Router			/rounds/{id} [patch]
func (s *Server) updateRound(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req RoundPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newResolver(ctx, s.svcs)
	upd := planning.RoundUpdate{Name: req.Name, IfMatch: match}
	if req.Measures != nil {
		ids, err := res.measureIDs("measures", *req.Measures)
		if err != nil {
			return err
		}
		upd.MeasureIDs = &ids
	}
	if req.Calendar != nil {
		cal := toDomainCalendar(*req.Calendar)
		upd.Calendar = &cal
	}
	if req.ApprovalChain != nil {
		chain := toDomainChain(*req.ApprovalChain)
		upd.ApprovalChain = &chain
	}
	if req.SeparationOfDuties != nil {
		sep := planning.DutySeparation(*req.SeparationOfDuties)
		upd.SeparationOfDuties = &sep
	}
	r, err := s.svcs.Rounds.UpdateRound(ctx, id, upd)
	if err != nil {
		return err
	}
	out := fromDomainRound(ctx, r)
	return ok(c, r.Revision, out)
}

// transitionRound godoc
//
//	@Summary		Move a round to another phase
//	@ID				transitionRound
//	@Description	draft → open (creates the first working version) → counterproposals → review → approved (the president's sign-off; freezes the working version as the budget of record) → closed, with steps back from counterproposals and review. An illegal move is 409 and lists the possible ones; the wrong role is 403.
//	@Tags			rounds
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int						true	"Round id"
//	@Param			If-Match	header		string					false	"ETag of the round as read"
//	@Param			body		body		api.TransitionRequest	true	"The target phase"
//	@Success		200			{object}	api.Round
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Role may not take this move"
//	@Failure		404			{object}	api.Problem	"No such round"
//	@Failure		409			{object}	api.Problem	"Illegal move or unmet precondition"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		422			{object}	api.Problem	"Unknown phase"
//	@Router			/rounds/{id}/transitions [post]
func (s *Server) transitionRound(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req TransitionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := s.svcs.Rounds.TransitionRound(ctx, id, planning.RoundStatus(req.To), req.Comment, match)
	if err != nil {
		return err
	}
	out := fromDomainRound(ctx, r)
	return ok(c, r.Revision, out)
}

// listRoundTransitions godoc
//
//	@Summary	List a round's phase moves
//	@ID			listRoundTransitions
//	@Tags		rounds
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Round id"
//	@Success	200	{object}	api.RoundTransitionList
//	@Failure	404	{object}	api.Problem	"No such round"
//	@Failure	400	{object}	api.Problem	"Bad id or query parameter"
//	@Router		/rounds/{id}/transitions [get]
func (s *Server) listRoundTransitions(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	trs, err := s.svcs.Rounds.FindRoundTransitions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := RoundTransitionList{Items: make([]RoundTransition, 0, len(trs))}
	for _, t := range trs {
		out.Items = append(out.Items, RoundTransition{ID: t.ID, From: string(t.From), To: string(t.To), ActorID: t.ActorID, Comment: t.Comment, At: t.At})
	}
	return c.JSON(http.StatusOK, out)
}
