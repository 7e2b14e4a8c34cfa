package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Counterproposal is an org unit's answer to its targets in a version.
type Counterproposal struct {
	ID        int64  `json:"id" example:"7"`
	VersionID int64  `json:"version_id" example:"1"`
	OrgUnitID int64  `json:"org_unit_id" example:"9"`
	OrgUnit   string `json:"org_unit" example:"B-SH"`
	Title     string `json:"title" example:"Shanghai 2027"`
	Status    string `json:"status" example:"submitted" enums:"draft,submitted,closed,withdrawn"`
	AuthorID  int64  `json:"author_id" example:"12"`
	// AuthorName is the display name of the author.
	AuthorName  string     `json:"author_name" example:"上海分公司总经理 (Shanghai branch general manager)"`
	Revision    int64      `json:"revision" example:"2"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	SubmittedAt *time.Time `json:"submitted_at"`
	ClosedAt    *time.Time `json:"closed_at"`
	Lines       []CPLine   `json:"lines"`
	// PossibleActions are the moves the counterproposal can make from
	// here, whoever may take them.
	PossibleActions []PossibleAction `json:"possible_actions"`
}

// PossibleAction is a move a counterproposal or a version's approval can
// make from where it stands: the action, the state it leads to, who takes
// it and what it does.
type PossibleAction struct {
	Action      string `json:"action" example:"submit"`
	To          string `json:"to" example:"submitted"`
	Who         string `json:"who"`
	Description string `json:"description"`
}

// CPLine is one proposed amount with its current target and the decision.
type CPLine struct {
	ID          int64  `json:"id" example:"15"`
	ProductLine string `json:"product_line" example:"POS"`
	Measure     string `json:"measure" example:"revenue"`
	// Period is a month, or "year" for the whole year.
	Period   string `json:"period" example:"year"`
	Proposed string `json:"proposed" example:"80000.00"`
	Reason   string `json:"reason" example:"two new bank branches"`
	// Current is the target now; Delta = Proposed − Current.
	Current         string  `json:"current" example:"60000.00"`
	Delta           string  `json:"delta" example:"20000.00"`
	Decision        string  `json:"decision,omitempty" example:"modify" enums:"accept,modify,reject"`
	DecidedAmount   *string `json:"decided_amount,omitempty" example:"70000.00"`
	DecisionComment string  `json:"decision_comment,omitempty"`
	Apply           string  `json:"apply,omitempty" example:"rebalance" enums:"rebalance,raise_parent"`
	DecidedBy       *int64  `json:"decided_by,omitempty"`
	// DecidedByName is the display name of the decider.
	DecidedByName *string    `json:"decided_by_name,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
}

// CPLineInput is one drafted line.
type CPLineInput struct {
	ProductLine string `json:"product_line" validate:"required" example:"POS"`
	Measure     string `json:"measure" validate:"required" example:"revenue"`
	Period      string `json:"period" validate:"required" example:"year"`
	Proposed    string `json:"proposed" validate:"required" example:"80000.00"`
	Reason      string `json:"reason" example:"two new bank branches"`
}

// CounterproposalCreate is the body of POST /versions/{id}/counterproposals.
type CounterproposalCreate struct {
	OrgUnit string        `json:"org_unit" validate:"required" example:"B-SH"`
	Title   string        `json:"title" example:"Shanghai 2027"`
	Lines   []CPLineInput `json:"lines" validate:"required" minItems:"1"`
}

// CounterproposalPatch replaces a draft's title and/or lines.
type CounterproposalPatch struct {
	Title *string        `json:"title"`
	Lines *[]CPLineInput `json:"lines"`
}

// DecisionRequest is the body of POST /counterproposals/{id}/decision.
type DecisionRequest struct {
	Decisions []LineDecisionInput `json:"decisions" validate:"required"`
}

// LineDecisionInput decides one line.
type LineDecisionInput struct {
	LineID   int64  `json:"line_id" example:"15"`
	Decision string `json:"decision" validate:"required" example:"modify" enums:"accept,modify,reject"`
	// Amount is the decider's own amount: required for modify.
	Amount  *string `json:"amount" example:"70000.00"`
	Comment string  `json:"comment" example:"we meet halfway"`
	// Apply: rebalance (default) keeps the parent and spreads the
	// difference over the siblings; raise_parent lets it flow up.
	Apply string `json:"apply" example:"rebalance" enums:"rebalance,raise_parent"`
}

// CounterproposalPage is one page of counterproposals.
type CounterproposalPage struct {
	Items      []Counterproposal `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// CommentBody is the body of a new comment.
type CommentBody struct {
	Body string `json:"body" validate:"required" example:"Can we talk about Q4?"`
}

// CPComment is one message of a counterproposal's thread.
type CPComment struct {
	ID       int64 `json:"id"`
	AuthorID int64 `json:"author_id"`
	// AuthorName is the display name of the author.
	AuthorName string    `json:"author_name" example:"Industry products manager (行业产品经理)"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"created_at"`
}

// CPCommentList is a counterproposal's thread, oldest first.
type CPCommentList struct {
	Items []CPComment `json:"items"`
}

// CPCount is one row of the counterproposal overview.
type CPCount struct {
	OrgUnit     string `json:"org_unit" example:"B-SH"`
	ProductLine string `json:"product_line,omitempty" example:"POS"`
	// Status "none" marks a branch that has submitted nothing.
	Status    string `json:"status" example:"submitted" enums:"draft,submitted,closed,withdrawn,none"`
	Lines     int64  `json:"lines"`
	Undecided int64  `json:"undecided"`
}

// CPOverview summarises a version's counterproposals.
type CPOverview struct {
	VersionID int64     `json:"version_id"`
	Items     []CPCount `json:"items"`
}

func fromDomainCP(cp *planning.Counterproposal) Counterproposal {
	out := Counterproposal{ID: cp.ID, VersionID: cp.VersionID, OrgUnitID: cp.OrgUnitID, OrgUnit: cp.OrgUnitCode, Title: cp.Title,
		Status: string(cp.Status), AuthorID: cp.AuthorID, AuthorName: cp.AuthorName, Revision: cp.Revision, CreatedAt: cp.CreatedAt, UpdatedAt: cp.UpdatedAt,
		SubmittedAt: cp.SubmittedAt, ClosedAt: cp.ClosedAt, Lines: make([]CPLine, 0, len(cp.Lines)), PossibleActions: []PossibleAction{}}
	for _, m := range planning.CounterproposalMovesFrom(cp.Status) {
		out.PossibleActions = append(out.PossibleActions, PossibleAction{Action: string(m.Action), To: string(m.To), Who: m.Who, Description: m.Description})
	}
	for _, l := range cp.Lines {
		line := CPLine{ID: l.ID, ProductLine: l.ProductLineCode, Measure: l.MeasureCode, Period: l.PeriodLabel,
			Proposed: planning.FormatAmount(l.Proposed, l.Scale), Reason: l.Reason, Current: planning.FormatAmount(l.Current, l.Scale),
			Delta: planning.FormatAmount(l.Delta, l.Scale), Decision: string(l.Decision), DecisionComment: l.DecisionComment,
			Apply: string(l.ApplyMode), DecidedBy: l.DecidedBy, DecidedAt: l.DecidedAt}
		if l.DecidedAmount != nil {
			d := planning.FormatAmount(*l.DecidedAmount, l.Scale)
			line.DecidedAmount = &d
		}
		if l.DecidedBy != nil && l.DecidedByName != "" {
			n := l.DecidedByName
			line.DecidedByName = &n
		}
		out.Lines = append(out.Lines, line)
	}
	return out
}

// lineRefs names the codes of drafted lines.
func lineRefs(in []CPLineInput) planning.Refs {
	var refs planning.Refs
	for _, l := range in {
		refs.LineCodes, refs.MeasureCodes = append(refs.LineCodes, l.ProductLine), append(refs.MeasureCodes, l.Measure)
	}
	return refs
}

// lineInputs resolves drafted lines. res is the resolver of the version
// drafted against (newVersionResolver) that has loaded lineRefs(in): the
// version, its round and the lines' codes are looked up in one call.
func lineInputs(res *resolver, in []CPLineInput) ([]planning.LineInput, error) {
	r := res.round
	out := make([]planning.LineInput, len(in))
	for i, l := range in {
		f := fmt.Sprintf("lines[%d]", i)
		out[i] = planning.LineInput{ProductLineID: res.line(f+".product_line", l.ProductLine), Reason: l.Reason}
		if l.Period != "year" {
			if p, err := r.PeriodOf(l.Period); err != nil {
				res.val.Add(f+".period", "must be a month of the round or \"year\": %s", err)
			} else {
				out[i].Period = p
			}
		}
		if m := res.measure(f+".measure", l.Measure); m != nil {
			out[i].MeasureID = m.ID
			d, err := planning.ParseAmount(l.Proposed, m.Scale)
			if err != nil {
				res.val.Add(f+".proposed", "%s", err)
			}
			out[i].Proposed = d
		}
	}
	return out, res.err()
}

func (s *Server) respondCP(c echo.Context, status int, cp *planning.Counterproposal) error {
	out := fromDomainCP(cp)
	setETag(c, cp.Revision)
	if status == http.StatusCreated {
		return created(c, location("/counterproposals/%d", cp.ID), &cp.Revision, out)
	}
	return c.JSON(status, out)
}

// listCounterproposals godoc
//
//	@Summary		List a version's counterproposals
//	@ID				listCounterproposals
//	@Description	Branch managers and team leads see their units' own; product managers use awaiting_decision=true for their inbox (submitted ones with undecided lines of their product lines).
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id					path		int		true	"Version id"
//	@Param			org_unit			query		string	false	"Only this org unit's (code)"
//	@Param			status				query		string	false	"Only in this state"	Enums(draft,submitted,closed,withdrawn)
//	@Param			awaiting_decision	query		bool	false	"Only those awaiting my decision"
//	@Param			limit				query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor				query		string	false	"next_cursor of the previous page"
//	@Success		200					{object}	api.CounterproposalPage
//	@Failure		400					{object}	api.Problem	"Bad query parameter"
//	@Failure		404					{object}	api.Problem	"No such version or org unit"
//	@Router			/versions/{id}/counterproposals [get]
func (s *Server) listCounterproposals(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	q := newQuery(c, "org_unit", "status", "awaiting_decision")
	f := planning.CounterproposalFilter{VersionID: id, Status: planning.CounterproposalStatus(q.str("status")), Page: q.page()}
	switch f.Status {
	case "", planning.CPDraft, planning.CPSubmitted, planning.CPClosed, planning.CPWithdrawn:
	default:
		q.fail("status", "must be draft, submitted, closed or withdrawn")
	}
	if b := q.boolean("awaiting_decision"); b != nil && *b {
		uid := planning.ActorFromContext(ctx).UserID()
		f.AwaitingDecisionBy = &uid
	}
	// The version and the org unit are looked up in one call.
	code, byUnit := q.get("org_unit")
	var refs planning.Refs
	if byUnit {
		refs.UnitCodes = []string{code}
	}
	if _, err := res.load(refs); err != nil {
		return err
	}
	if byUnit {
		u, found := res.units[code]
		if !found {
			return planning.Errorf(planning.ENOTFOUND, "org unit %s not found", code)
		}
		f.OrgUnitID = &u.ID
	}
	if err := q.err(); err != nil {
		return err
	}
	cps, next, err := s.svcs.Proposals.FindCounterproposals(ctx, f)
	if err != nil {
		return err
	}
	page := CounterproposalPage{Items: make([]Counterproposal, 0, len(cps)), NextCursor: next}
	for _, cp := range cps {
		page.Items = append(page.Items, fromDomainCP(cp))
	}
	return c.JSON(http.StatusOK, page)
}

// createCounterproposal godoc
//
//	@Summary		Draft a counterproposal
//	@ID				createCounterproposal
//	@Description	During the round's counterproposal phase and before its deadline, a branch manager (for the branch and its teams) or a team lead (for the team) drafts lines against the round's working version: product line, measure, a month or "year", the proposed amount and a reason.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int							true	"Version id"
//	@Param			body	body		api.CounterproposalCreate	true	"The draft"
//	@Success		201		{object}	api.Counterproposal
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		403		{object}	api.Problem	"Not a manager of the unit"
//	@Failure		404		{object}	api.Problem	"No such version"
//	@Failure		409		{object}	api.Problem	"Outside the phase, after the deadline, or not the working version"
//	@Failure		422		{object}	api.Problem	"Invalid lines, each named"
//	@Router			/versions/{id}/counterproposals [post]
func (s *Server) createCounterproposal(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req CounterproposalCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newVersionResolver(ctx, s.svcs, id)
	refs := lineRefs(req.Lines)
	refs.UnitCodes = []string{req.OrgUnit}
	if _, err := res.load(refs); err != nil {
		return err
	}
	unit := res.unit("org_unit", req.OrgUnit)
	lines, err := lineInputs(res, req.Lines)
	if err != nil {
		return err
	}
	cp, err := s.svcs.Proposals.CreateCounterproposal(ctx, id, unit, req.Title, lines)
	if err != nil {
		return err
	}
	return s.respondCP(c, http.StatusCreated, cp)
}

// getCounterproposal godoc
//
//	@Summary	Get a counterproposal
//	@ID			getCounterproposal
//	@Tags		counterproposals
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Counterproposal id"
//	@Success	200	{object}	api.Counterproposal
//	@Header		200	{string}	ETag		"The revision"
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	404	{object}	api.Problem	"No such counterproposal, or not yours to see"
//	@Router		/counterproposals/{id} [get]
func (s *Server) getCounterproposal(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	cp, err := s.svcs.Proposals.FindCounterproposalByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.respondCP(c, http.StatusOK, cp)
}

// updateCounterproposal godoc
//
//	@Summary		Change a draft counterproposal
//	@ID				updateCounterproposal
//	@Description	Replaces the title and/or the lines of a draft.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int							true	"Counterproposal id"
//	@Param			If-Match	header		string						true	"ETag as read, or *"
//	@Param			body		body		api.CounterproposalPatch	true	"The changes"
//	@Success		200			{object}	api.Counterproposal
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Not the author"
//	@Failure		404			{object}	api.Problem	"No such counterproposal"
//	@Failure		409			{object}	api.Problem	"Not a draft"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		422			{object}	api.Problem	"Invalid lines"
//	@Failure		428			{object}	api.Problem	"If-Match missing"
//	@Router			/counterproposals/{id} [patch]
func (s *Server) updateCounterproposal(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := requireIfMatch(c)
	if err != nil {
		return err
	}
	var req CounterproposalPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var lines *[]planning.LineInput
	if req.Lines != nil {
		// The counterproposal names the version the lines' codes are
		// looked up for, in the same call.
		res := newResolver(ctx, s.svcs)
		refs := lineRefs(*req.Lines)
		refs.CounterproposalID = id
		if _, err := res.load(refs); err != nil {
			return err
		}
		ls, err := lineInputs(res, *req.Lines)
		if err != nil {
			return err
		}
		lines = &ls
	}
	cp, err := s.svcs.Proposals.UpdateCounterproposal(ctx, id, req.Title, lines, match)
	if err != nil {
		return err
	}
	return s.respondCP(c, http.StatusOK, cp)
}

// submitCounterproposal godoc
//
//	@Summary	Submit a counterproposal to the product managers
//	@ID			submitCounterproposal
//	@Tags		counterproposals
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id			path		int		true	"Counterproposal id"
//	@Param		If-Match	header		string	false	"ETag as read"
//	@Success	200			{object}	api.Counterproposal
//	@Failure	400			{object}	api.Problem	"Bad id"
//	@Failure	403			{object}	api.Problem	"Not the author"
//	@Failure	404			{object}	api.Problem	"No such counterproposal"
//	@Failure	409			{object}	api.Problem	"Not a draft, outside the phase or past the deadline"
//	@Failure	412			{object}	api.Problem	"Stale If-Match"
//	@Router		/counterproposals/{id}/submit [post]
func (s *Server) submitCounterproposal(c echo.Context) error {
	return s.cpAction(c, s.svcs.Proposals.Submit)
}

// withdrawCounterproposal godoc
//
//	@Summary		Withdraw a counterproposal
//	@ID				withdrawCounterproposal
//	@Description	A draft, or a submitted counterproposal none of whose lines is decided.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id			path		int		true	"Counterproposal id"
//	@Param			If-Match	header		string	false	"ETag as read"
//	@Success		200			{object}	api.Counterproposal
//	@Failure		400			{object}	api.Problem	"Bad id"
//	@Failure		403			{object}	api.Problem	"Not the author"
//	@Failure		404			{object}	api.Problem	"No such counterproposal"
//	@Failure		409			{object}	api.Problem	"Decided in part, closed or withdrawn"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Router			/counterproposals/{id}/withdraw [post]
func (s *Server) withdrawCounterproposal(c echo.Context) error {
	return s.cpAction(c, s.svcs.Proposals.Withdraw)
}

func (s *Server) cpAction(c echo.Context, fn func(ctx context.Context, id int64, ifMatch *int64) (*planning.Counterproposal, error)) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	cp, err := fn(c.Request().Context(), id, match)
	if err != nil {
		return err
	}
	return s.respondCP(c, http.StatusOK, cp)
}

// decideCounterproposal godoc
//
//	@Summary		Decide counterproposal lines
//	@ID				decideCounterproposal
//	@Description	The product manager of each line's product line accepts, modifies (with their own amount) or rejects it, with a comment. Accepted and modified lines are applied to the working version at once, in one transaction, keeping every level consistent: rebalance (default) holds the parent's amount and re-splits the difference over the siblings exactly, in proportion to their current amounts; raise_parent lets it flow up to the product line's total. A line of a measure that does not add up (a rate, level or rating) sets the unit's own cells only, with no apply mode. Once every line is decided the counterproposal is closed.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Counterproposal id"
//	@Param			If-Match	header		string				false	"ETag as read"
//	@Param			body		body		api.DecisionRequest	true	"The decisions"
//	@Success		200			{object}	api.Counterproposal
//	@Failure		400			{object}	api.Problem	"Malformed body"
//	@Failure		403			{object}	api.Problem	"Not your product line"
//	@Failure		404			{object}	api.Problem	"No such counterproposal"
//	@Failure		409			{object}	api.Problem	"Not submitted, decided already, or the version cannot change"
//	@Failure		412			{object}	api.Problem	"Stale If-Match"
//	@Failure		422			{object}	api.Problem	"Invalid decisions, each named"
//	@Router			/counterproposals/{id}/decision [post]
func (s *Server) decideCounterproposal(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	ds, err := decisionsOf(c)
	if err != nil {
		return err
	}
	cp, err := s.svcs.Proposals.Decide(c.Request().Context(), id, ds, match)
	if err != nil {
		return err
	}
	return s.respondCP(c, http.StatusOK, cp)
}

// listComments godoc
//
//	@Summary	Read a counterproposal's thread
//	@ID			listComments
//	@Tags		counterproposals
//	@Security	BearerAuth
//	@Produce	json
//	@Param		id	path		int	true	"Counterproposal id"
//	@Success	200	{object}	api.CPCommentList
//	@Failure	400	{object}	api.Problem	"Bad id"
//	@Failure	404	{object}	api.Problem	"No such counterproposal"
//	@Router		/counterproposals/{id}/comments [get]
func (s *Server) listComments(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	cs, err := s.svcs.Proposals.FindComments(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := CPCommentList{Items: make([]CPComment, 0, len(cs))}
	for _, cm := range cs {
		out.Items = append(out.Items, CPComment{ID: cm.ID, AuthorID: cm.AuthorID, AuthorName: cm.AuthorName, Body: cm.Body, CreatedAt: cm.CreatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

// addComment godoc
//
//	@Summary		Comment on a counterproposal
//	@ID				addComment
//	@Description	Anyone who sees the counterproposal, in any state.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int				true	"Counterproposal id"
//	@Param			body	body		api.CommentBody	true	"The comment"
//	@Success		201		{object}	api.CPComment
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		404		{object}	api.Problem	"No such counterproposal"
//	@Failure		422		{object}	api.Problem	"Empty or too long"
//	@Router			/counterproposals/{id}/comments [post]
func (s *Server) addComment(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req CommentBody
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cm, err := s.svcs.Proposals.AddComment(c.Request().Context(), id, req.Body)
	if err != nil {
		return err
	}
	return created(c, location("/counterproposals/%d/comments", id), nil, CPComment{ID: cm.ID, AuthorID: cm.AuthorID, AuthorName: actorName(c), Body: cm.Body, CreatedAt: cm.CreatedAt})
}

// actorName is the display name of the caller.
func actorName(c echo.Context) string {
	if a := planning.ActorFromContext(c.Request().Context()); a != nil && a.User != nil {
		return a.User.Name
	}
	return ""
}

// counterproposalOverview godoc
//
//	@Summary		Counterproposal overview
//	@ID				counterproposalOverview
//	@Description	Lines and undecided lines by org unit, product line and state, and a row in state "none" for every branch that has submitted nothing yet. Scoped.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id	path		int	true	"Version id"
//	@Success		200	{object}	api.CPOverview
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		404	{object}	api.Problem	"No such version"
//	@Router			/versions/{id}/counterproposals/overview [get]
func (s *Server) counterproposalOverview(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := newQuery(c).err(); err != nil {
		return err
	}
	counts, err := s.svcs.Proposals.CountCounterproposals(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := CPOverview{VersionID: id, Items: make([]CPCount, 0, len(counts))}
	for _, x := range counts {
		out.Items = append(out.Items, CPCount{OrgUnit: x.OrgUnitCode, ProductLine: x.ProductLineCode,
			Status: string(x.Status), Lines: x.Lines, Undecided: x.Undecided})
	}
	return c.JSON(http.StatusOK, out)
}

// decisionsOf reads a DecisionRequest body into domain decisions.
func decisionsOf(c echo.Context) ([]planning.LineDecision, error) {
	var req DecisionRequest
	if err := decodeJSON(c, &req); err != nil {
		return nil, err
	}
	var val planning.Validation
	ds := make([]planning.LineDecision, len(req.Decisions))
	for i, d := range req.Decisions {
		ds[i] = planning.LineDecision{LineID: d.LineID, Action: planning.Decision(d.Decision), Comment: d.Comment, Apply: planning.ApplyMode(d.Apply)}
		if d.Amount != nil {
			a, err := planning.ParseAmount(*d.Amount, planning.MaxScale)
			if err != nil {
				val.Add(fmt.Sprintf("decisions[%d].amount", i), "%s", err)
			}
			ds[i].Amount = &a
		}
	}
	return ds, val.Err()
}

// DecisionEffect is how the decisions would change one unit's year total.
type DecisionEffect struct {
	LineID int64 `json:"line_id" example:"15"`
	// Relation is the unit's place next to the counterproposal's unit.
	Relation    string `json:"relation" example:"sibling" enums:"unit,parent,ancestor,sibling,child"`
	OrgUnit     string `json:"org_unit" example:"B-JS"`
	OrgUnitName string `json:"org_unit_name" example:"Jiangsu branch"`
	// OrgUnitNameLocal is the unit's name in the local language.
	OrgUnitNameLocal string `json:"org_unit_name_local" example:"江苏分公司"`
	Before           string `json:"before" example:"1200000.00"`
	After            string `json:"after" example:"1185000.00"`
	Delta            string `json:"delta" example:"-15000.00"`
}

// DecisionPreview is what the decisions would do, changing nothing.
type DecisionPreview struct {
	Items []DecisionEffect `json:"items"`
}

// previewDecision godoc
//
//	@Summary		Preview decisions
//	@ID				previewDecision
//	@Description	What the decisions would do to the years (a sum's total; a rate's or rating's year by its measure's rule, 0 when none) of the counterproposal's unit, its parent and ancestors, its siblings and its children, per line: rebalance moves the siblings and keeps the parent, raise_parent moves the ancestors. Runs the decision and rolls it back: nothing changes. The same checks and errors as POST /counterproposals/{id}/decision.
//	@Tags			counterproposals
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int					true	"Counterproposal id"
//	@Param			body	body		api.DecisionRequest	true	"The decisions"
//	@Success		200		{object}	api.DecisionPreview
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		403		{object}	api.Problem	"Not your product line"
//	@Failure		404		{object}	api.Problem	"No such counterproposal"
//	@Failure		409		{object}	api.Problem	"Not submitted, decided already, or the version cannot change"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid decisions, each named"
//	@Router			/counterproposals/{id}/decision/preview [post]
func (s *Server) previewDecision(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ds, err := decisionsOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	effects, err := s.svcs.Proposals.PreviewDecision(ctx, id, ds)
	if err != nil {
		return err
	}
	out := DecisionPreview{Items: make([]DecisionEffect, 0, len(effects))}
	for _, e := range effects {
		sc := e.Scale
		out.Items = append(out.Items, DecisionEffect{LineID: e.LineID, Relation: e.Relation, OrgUnit: e.OrgUnit.Code, OrgUnitName: e.OrgUnit.Name,
			OrgUnitNameLocal: e.OrgUnit.NameLocal, Before: planning.FormatAmount(e.Before, sc), After: planning.FormatAmount(e.After, sc),
			Delta: planning.FormatAmount(e.After.Sub(e.Before), sc)})
	}
	return c.JSON(http.StatusOK, out)
}
