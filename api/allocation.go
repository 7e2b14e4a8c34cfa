package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// AllocationRequest is the body of POST /versions/{id}/allocations: a
// top-down cascade of one measure of some product lines from an org unit
// down its subtree and across the months.
type AllocationRequest struct {
	Measure string `json:"measure" validate:"required" example:"revenue"`
	// Root is the org unit code the amounts start at, e.g. the company.
	Root    string             `json:"root" validate:"required" example:"CO"`
	Targets []AllocationTarget `json:"targets" validate:"required" minItems:"1"`
	// Levels[0] splits the root among its children, Levels[1] the next
	// level, and so on; the last level's rule repeats further down.
	// Default: one even level.
	Levels []AllocationLevel `json:"levels,omitempty"`
	// Depth is how many levels below the root to fill; 0 means to the
	// leaves.
	Depth   int               `json:"depth,omitempty" example:"0"`
	Phasing AllocationPhasing `json:"phasing,omitempty"`
	Locks   []string          `json:"locks,omitempty" example:"B-SH"`
	DryRun  bool              `json:"dry_run,omitempty" example:"false"`
	// ExplainUnder (an org unit code, with dry_run only) explains the
	// preview: how each child of this unit got its year and months, as
	// GET /allocations/{id}?explain_under= explains a saved run (the same
	// explanation, in run.explanation).
	ExplainUnder string `json:"explain_under,omitempty" example:"R-EAST"`
	// IncludeNodes returns every node's year and months with a real run
	// too (a dry run always returns them).
	IncludeNodes bool `json:"include_nodes,omitempty" example:"false"`
}

// AllocationTarget is one product line's annual amount at the root.
type AllocationTarget struct {
	ProductLine string `json:"product_line" validate:"required" example:"POS"`
	Amount      string `json:"amount" validate:"required" example:"12000000.00"`
}

// AllocationLevel says how one level is split.
type AllocationLevel struct {
	Method string `json:"method" validate:"required" example:"proportional" enums:"even,proportional,manual"`
	// ReferenceVersionID: proportional to each child's year in that version.
	ReferenceVersionID *int64 `json:"reference_version_id,omitempty" example:"1"`
	// Weights: proportional to these weights, per org unit; units not
	// listed weigh zero.
	Weights []UnitValue `json:"weights,omitempty"`
	// Manual: these year amounts per org unit; the rest of the parent is
	// spread evenly over the other children.
	Manual []UnitValue `json:"manual,omitempty"`
	// Buffer lets the children together carry parent × (1 + buffer).
	Buffer string `json:"buffer,omitempty" example:"0.10"`
	// ZeroWeights: when every weight is zero, "even" falls back to an even
	// split, "fail" (the default) refuses.
	ZeroWeights string `json:"zero_weights,omitempty" example:"even" enums:"even,fail"`
}

// UnitValue is a decimal string for one org unit: a weight or an amount.
type UnitValue struct {
	OrgUnit string `json:"org_unit" validate:"required" example:"R-EAST"`
	Value   string `json:"value" validate:"required" example:"4"`
}

// AllocationPhasing says how years are spread across the months.
type AllocationPhasing struct {
	Method string `json:"method,omitempty" example:"profile" enums:"even,profile,reference"`
	// Profile is a seasonality profile code (method profile).
	Profile string `json:"profile,omitempty" example:"year-end-peak"`
	// ReferenceVersionID phases like the root's months in that version.
	ReferenceVersionID *int64 `json:"reference_version_id,omitempty"`
}

// AllocationRun is a recorded allocation.
type AllocationRun struct {
	ID        int64     `json:"id" example:"3"`
	VersionID int64     `json:"version_id" example:"1"`
	DryRun    bool      `json:"dry_run" example:"false"`
	CellCount int64     `json:"cell_count" example:"360"`
	Checksum  string    `json:"checksum" example:"9f2c…"`
	ActorID   *int64    `json:"actor_id"`
	At        time.Time `json:"at"`
	// Replayed says the run was recomputed from its recorded inputs and
	// gave the recorded checksum again.
	Replayed    *bool                `json:"replayed,omitempty"`
	Request     AllocationRunRequest `json:"request"`
	Explanation []NodeExplanation    `json:"explanation,omitempty"`
}

// AllocationRunRequest is the request a run was made with, by id, as the
// reader's scope allows: a branch manager or team lead reading a run that
// started above their subtree gets a null root_id and null target amounts
// (the company's or region's totals), and no locks outside their subtree;
// redacted then says so.
type AllocationRunRequest struct {
	MeasureID int64 `json:"measure_id"`
	// RootID is null when the root is outside the reader's scope.
	RootID  *int64  `json:"root_id" extensions:"x-nullable"`
	Depth   int     `json:"depth"`
	Locks   []int64 `json:"locks"`
	Targets []struct {
		ProductLineID int64 `json:"product_line_id"`
		// Amount is null when the root is outside the reader's scope.
		Amount *string `json:"amount" extensions:"x-nullable"`
	} `json:"targets"`
	Levels  []string `json:"levels" example:"proportional,even"`
	Phasing string   `json:"phasing" example:"profile"`
	// Redacted says the reader's scope withheld part of the request.
	Redacted bool `json:"redacted"`
}

// NodeExplanation says how one node's amounts came about.
type NodeExplanation struct {
	OrgUnitID   int64  `json:"org_unit_id"`
	OrgUnit     string `json:"org_unit" example:"R-EAST"`
	ProductLine string `json:"product_line" example:"POS"`
	Amount      string `json:"amount" example:"4444444.45"`
	Basis       string `json:"basis" example:"proportional"`
	// Quota is the exact share before rounding: a decimal, or a fraction
	// when it does not terminate.
	Quota    string             `json:"quota" example:"40000000/9"`
	Floor    string             `json:"floor" example:"4444444.44"`
	Rule     string             `json:"rule" example:"largest_remainder"`
	Rank     int                `json:"rank" example:"1"`
	Of       int                `json:"of" example:"5"`
	TieByKey bool               `json:"tie_by_key"`
	Reason   string             `json:"reason"`
	Months   []MonthExplanation `json:"months"`
}

// MonthExplanation explains one month of a node.
type MonthExplanation struct {
	Period string `json:"period" example:"2027-04"`
	Amount string `json:"amount"`
	Basis  string `json:"basis" example:"phased"`
	Quota  string `json:"quota"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// AllocatedNode is one org unit's allocated year and months.
type AllocatedNode struct {
	OrgUnit     string   `json:"org_unit" example:"B-SH"`
	ProductLine string   `json:"product_line" example:"POS"`
	Year        string   `json:"year" example:"1000000.00"`
	Months      []string `json:"months"`
	Locked      bool     `json:"locked"`
}

// AllocationResponse answers POST /versions/{id}/allocations.
type AllocationResponse struct {
	Run   AllocationRun   `json:"run"`
	Nodes []AllocatedNode `json:"nodes,omitempty"`
}

// AllocationRunPage is one page of runs.
type AllocationRunPage struct {
	Items      []AllocationRun `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// toDomain resolves the request's codes and parses its amounts.
func (req *AllocationRequest) toDomain(s *Server, res *resolver, versionID int64) (planning.AllocationRequest, error) {
	out := planning.AllocationRequest{VersionID: versionID, Depth: req.Depth, DryRun: req.DryRun, IncludeNodes: req.IncludeNodes}
	units := append([]string{req.Root}, req.Locks...)
	if req.ExplainUnder != "" {
		units = append(units, req.ExplainUnder)
	}
	for _, l := range req.Levels {
		for _, w := range l.Weights {
			units = append(units, w.OrgUnit)
		}
		for _, m := range l.Manual {
			units = append(units, m.OrgUnit)
		}
	}
	var lines []string
	for _, t := range req.Targets {
		lines = append(lines, t.ProductLine)
	}
	// Every code the request names is looked up in one call.
	refs := planning.Refs{UnitCodes: units, LineCodes: lines, MeasureCodes: []string{req.Measure}}
	if req.Phasing.Profile != "" {
		refs.ProfileCodes = []string{req.Phasing.Profile}
	}
	got, err := res.load(refs)
	if err != nil {
		return out, err
	}
	out.RootID = res.unit("root", req.Root)
	scale := int32(planning.MaxScale)
	if m := res.measure("measure", req.Measure); m != nil {
		out.MeasureID, scale = m.ID, m.Scale
	}
	for i, t := range req.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		at := planning.AllocationTarget{ProductLineID: res.line(f+".product_line", t.ProductLine)}
		d, err := planning.ParseAmount(t.Amount, scale)
		if err != nil {
			res.val.Add(f+".amount", "%s", err)
		}
		at.Amount = d
		out.Targets = append(out.Targets, at)
	}
	for i, l := range req.Levels {
		f := fmt.Sprintf("levels[%d]", i)
		spec := planning.LevelSpec{Method: planning.AllocationMethod(l.Method), ReferenceVersionID: l.ReferenceVersionID, ZeroWeights: l.ZeroWeights}
		if l.Buffer != "" {
			b, err := planning.ParseAmount(l.Buffer, 6)
			if err != nil {
				res.val.Add(f+".buffer", "%s", err)
			}
			spec.Buffer = b
		}
		if len(l.Weights) > 0 {
			spec.Weights = res.unitValues(f+".weights", l.Weights, 12)
		}
		if len(l.Manual) > 0 {
			spec.Manual = res.unitValues(f+".manual", l.Manual, scale)
		}
		out.Levels = append(out.Levels, spec)
	}
	for i, code := range req.Locks {
		out.Locks = append(out.Locks, res.unit(fmt.Sprintf("locks[%d]", i), code))
	}
	if req.ExplainUnder != "" {
		under := res.unit("explain_under", req.ExplainUnder)
		out.ExplainUnder = &under
	}
	out.Phasing.Method = planning.PhasingMethod(req.Phasing.Method)
	out.Phasing.ReferenceVersionID = req.Phasing.ReferenceVersionID
	if req.Phasing.Profile != "" {
		if i := slices.IndexFunc(got.Profiles, func(p *planning.SeasonalityProfile) bool { return p.Code == req.Phasing.Profile }); i < 0 {
			res.val.Add("phasing.profile", "no seasonality profile with code %q", req.Phasing.Profile)
		} else {
			out.Phasing.ProfileID = &got.Profiles[i].ID
		}
	}
	return out, res.err()
}

// fromDomainAllocationRequest writes req back with codes, as a client sends
// it: amounts and manual amounts at the measure's scale, weights and
// buffers as exact decimals, per-unit values in the order of their codes.
func (s *Server) fromDomainAllocationRequest(res *resolver, req *planning.AllocationRequest) (AllocationRequest, error) {
	units := append([]int64{req.RootID}, req.Locks...)
	for _, l := range req.Levels {
		for id := range l.Weights {
			units = append(units, id)
		}
		for id := range l.Manual {
			units = append(units, id)
		}
	}
	var lines []int64
	for _, t := range req.Targets {
		lines = append(lines, t.ProductLineID)
	}
	// Every id the request names is looked up in one call.
	refs := planning.Refs{UnitIDs: units, LineIDs: lines, MeasureIDs: []int64{req.MeasureID}}
	if req.Phasing.ProfileID != nil {
		refs.ProfileIDs = []int64{*req.Phasing.ProfileID}
	}
	got, err := res.load(refs)
	if err != nil {
		return AllocationRequest{}, err
	}
	out := AllocationRequest{Root: res.unitCode(req.RootID), Depth: req.Depth, Targets: []AllocationTarget{}, Levels: []AllocationLevel{}, Locks: []string{},
		Phasing: AllocationPhasing{Method: string(req.Phasing.Method), ReferenceVersionID: req.Phasing.ReferenceVersionID}}
	scale := int32(planning.MaxScale)
	if m := res.measureOf(req.MeasureID); m != nil {
		out.Measure, scale = m.Code, m.Scale
	}
	for _, t := range req.Targets {
		out.Targets = append(out.Targets, AllocationTarget{ProductLine: res.lineCode(t.ProductLineID), Amount: planning.FormatAmount(t.Amount, scale)})
	}
	values := func(m map[int64]decimal.Decimal, format func(decimal.Decimal) string) []UnitValue {
		var vs []UnitValue
		for id, d := range m {
			vs = append(vs, UnitValue{OrgUnit: res.unitCode(id), Value: format(d)})
		}
		slices.SortFunc(vs, func(a, b UnitValue) int { return strings.Compare(a.OrgUnit, b.OrgUnit) })
		return vs
	}
	for _, l := range req.Levels {
		x := AllocationLevel{Method: string(l.Method), ReferenceVersionID: l.ReferenceVersionID, ZeroWeights: l.ZeroWeights,
			Weights: values(l.Weights, decimal.Decimal.String), Manual: values(l.Manual, func(d decimal.Decimal) string { return planning.FormatAmount(d, scale) })}
		if !l.Buffer.IsZero() {
			x.Buffer = l.Buffer.String()
		}
		out.Levels = append(out.Levels, x)
	}
	for _, id := range req.Locks {
		out.Locks = append(out.Locks, res.unitCode(id))
	}
	if req.Phasing.ProfileID != nil {
		for _, p := range got.Profiles {
			if p.ID == *req.Phasing.ProfileID {
				out.Phasing.Profile = p.Code
			}
		}
	}
	return out, nil
}

// unitValues parses per-unit decimals, naming each bad entry.
func (r *resolver) unitValues(field string, vs []UnitValue, scale int32) map[int64]decimal.Decimal {
	out := make(map[int64]decimal.Decimal, len(vs))
	for i, v := range vs {
		f := fmt.Sprintf("%s[%d]", field, i)
		id := r.unit(f+".org_unit", v.OrgUnit)
		d, err := planning.ParseAmount(v.Value, scale)
		if err != nil {
			r.val.Add(f+".value", "%s", err)
		}
		if _, dup := out[id]; dup && id != 0 {
			r.val.Add(f+".org_unit", "is listed twice")
		}
		out[id] = d
	}
	return out
}

func (s *Server) fromDomainRun(res *resolver, run *planning.AllocationRun, dry bool) (AllocationRun, error) {
	// Only the measure's scale is needed: the explanations carry their
	// codes, and the request is shown by id. An explanation names its
	// months by the round's calendar: the version is looked up with the
	// measure.
	refs := planning.Refs{MeasureIDs: []int64{run.Request.MeasureID}}
	if run.Explanation != nil {
		refs.VersionID = run.VersionID
	}
	if _, err := res.load(refs); err != nil {
		return AllocationRun{}, err
	}
	r := res.round
	scale := int32(2)
	if m := res.measureOf(run.Request.MeasureID); m != nil {
		scale = m.Scale
	}
	out := AllocationRun{ID: run.ID, VersionID: run.VersionID, DryRun: dry, CellCount: run.CellCount, Checksum: run.Checksum,
		ActorID: run.ActorID, At: run.At}
	if !dry && run.ID != 0 && run.Explanation != nil {
		out.Replayed = &run.Replayed
	}
	rq := &out.Request
	rq.MeasureID, rq.Depth, rq.Locks, rq.Phasing = run.Request.MeasureID, run.Request.Depth, run.Request.Locks, string(run.Request.Phasing.Method)
	rq.Redacted = run.Redacted
	if run.Request.RootID != 0 {
		rq.RootID = &run.Request.RootID
	}
	if rq.Locks == nil {
		rq.Locks = []int64{}
	}
	for _, t := range run.Request.Targets {
		var amount *string
		if rq.RootID != nil {
			a := planning.FormatAmount(t.Amount, scale)
			amount = &a
		}
		rq.Targets = append(rq.Targets, struct {
			ProductLineID int64 `json:"product_line_id"`
			// Amount is null when the root is outside the reader's scope.
			Amount *string `json:"amount" extensions:"x-nullable"`
		}{t.ProductLineID, amount})
	}
	for _, l := range run.Request.Levels {
		rq.Levels = append(rq.Levels, string(l.Method))
	}
	for _, ex := range run.Explanation {
		e := NodeExplanation{OrgUnitID: ex.OrgUnitID, OrgUnit: ex.OrgUnitCode, ProductLine: ex.ProductLineCode,
			Amount: planning.FormatAmount(ex.Amount, scale), Basis: ex.Basis, Quota: ex.Quota, Floor: planning.FormatAmount(ex.Floor, scale),
			Rule: ex.Rule, Rank: ex.Rank, Of: ex.Of, TieByKey: ex.TieByKey, Reason: ex.Reason, Months: []MonthExplanation{}}
		for _, m := range ex.Months {
			e.Months = append(e.Months, MonthExplanation{Period: r.MonthLabel(m.Period), Amount: planning.FormatAmount(m.Amount, scale),
				Basis: m.Basis, Quota: m.Quota, Rule: m.Rule, Reason: m.Reason})
		}
		out.Explanation = append(out.Explanation, e)
	}
	return out, nil
}

// allocationRequest reads the allocation a POST of a version's
// allocations or allocation jobs asks for: the caller's right to write
// targets, If-Match, the body, and its codes translated to ids here, once.
// The service finds the version (404) before it reports what the
// translation found wrong (dreq.Invalid).
func (s *Server) allocationRequest(c echo.Context) (context.Context, *resolver, planning.AllocationRequest, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, nil, planning.AllocationRequest{}, err
	}
	if err := requireTargetWriter(c); err != nil {
		return nil, nil, planning.AllocationRequest{}, err
	}
	match, err := ifMatch(c)
	if err != nil {
		return nil, nil, planning.AllocationRequest{}, err
	}
	var req AllocationRequest
	if err := decodeJSON(c, &req); err != nil {
		return nil, nil, planning.AllocationRequest{}, err
	}
	ctx := c.Request().Context()
	res := newResolver(ctx, s.svcs)
	dreq, err := req.toDomain(s, res, id)
	if planning.ErrorCode(err) == planning.EINVALID {
		dreq.Invalid = err
	} else if err != nil {
		return nil, nil, planning.AllocationRequest{}, err
	}
	dreq.IfMatch = match
	return ctx, res, dreq, nil
}

// allocate godoc
//
//	@Summary		Run a top-down allocation
//	@ID				allocateVersion
//	@Description	Cascades each product line's annual amount from the root org unit down its subtree, level by level (even, proportional to a reference version or to weights, manual), with an optional over-assignment buffer per level and locked units, and phases every node into the twelve months (even, by a seasonality profile, or like a reference version). Children add up exactly to their parent (× (1 + buffer)) at every node and month. A real run replaces the cells of the subtree (but locked units and everything below them) in one transaction and is recorded; dry_run returns the result and saves nothing, and with explain_under explains the preview as GET /allocations/{id} explains a saved run.
//	@Tags			targets
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int						true	"Version id"
//	@Param			If-Match	header		string					false	"ETag of the version as read"
//	@Param			body		body		api.AllocationRequest	true	"The allocation"
//	@Success		200			{object}	api.AllocationResponse	"Dry run: nothing saved"
//	@Success		201			{object}	api.AllocationResponse	"Saved and recorded"
//	@Failure		400			{object}	api.Problem				"Malformed body"
//	@Failure		403			{object}	api.Problem				"Not your product line"
//	@Failure		404			{object}	api.Problem				"No such version"
//	@Failure		409			{object}	api.Problem				"Version frozen or round not under way"
//	@Failure		412			{object}	api.Problem				"Stale If-Match"
//	@Failure		413			{object}	api.Problem				"Too many cells"
//	@Failure		422			{object}	api.Problem				"Invalid allocation, fields named"
//	@Router			/versions/{id}/allocations [post]
func (s *Server) allocate(c echo.Context) error {
	ctx, res, dreq, err := s.allocationRequest(c)
	if err != nil {
		return err
	}
	result, err := s.svcs.Targets.Allocate(ctx, dreq)
	if err != nil {
		return err
	}
	// The run holds ids the request named, whose codes the resolver
	// knows; the nodes carry their codes.
	run, err := s.fromDomainRun(res, result.Run, dreq.DryRun)
	if err != nil {
		return err
	}
	resp := AllocationResponse{Run: run}
	if dreq.DryRun || dreq.IncludeNodes {
		scale := res.measureOf(dreq.MeasureID).Scale
		for _, n := range result.Nodes {
			an := AllocatedNode{OrgUnit: n.OrgUnitCode, ProductLine: n.ProductLineCode,
				Year: planning.FormatAmount(n.Year, scale), Locked: n.Locked, Months: make([]string, 12)}
			for m := range n.Months {
				an.Months[m] = planning.FormatAmount(n.Months[m], scale)
			}
			resp.Nodes = append(resp.Nodes, an)
		}
	}
	if dreq.DryRun {
		return c.JSON(http.StatusOK, resp)
	}
	return created(c, location("/allocations/%d", run.ID), nil, resp)
}

// listAllocations godoc
//
//	@Summary		List a version's allocation runs
//	@ID				listAllocations
//	@Description	Newest first. A branch manager or team lead sees the runs whose subtree holds part of theirs, each as their scope allows: a run started above their subtree has a null root_id and null target amounts, and no locks outside their subtree (request.redacted says so).
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id		path		int		true	"Version id"
//	@Param			limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	api.AllocationRunPage
//	@Failure		404		{object}	api.Problem	"No such version"
//	@Failure		400		{object}	api.Problem	"Bad id or query parameter"
//	@Router			/versions/{id}/allocations [get]
func (s *Server) listAllocations(c echo.Context) error {
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
	runs, next, err := s.svcs.Targets.FindAllocationRuns(ctx, id, page)
	if err != nil {
		return err
	}
	res := newResolver(ctx, s.svcs)
	out := AllocationRunPage{Items: make([]AllocationRun, 0, len(runs)), NextCursor: next}
	for _, run := range runs {
		// A listed run carries no explanation: no month to label.
		x, err := s.fromDomainRun(res, run, false)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, x)
	}
	return c.JSON(http.StatusOK, out)
}

// getAllocation godoc
//
//	@Summary		Get an allocation run with its explanation
//	@ID				getAllocation
//	@Description	Replays the run from its recorded inputs (replayed=true when the checksum matches) and explains, for every product line, how each child of explain_under (default: the run's root) got its year and months: the exact quota, the rounding, and the rule that decided it. A branch manager or team lead gets 404 for a run that holds nothing of their subtree, and otherwise the run as their scope allows (see the list), explained for units of their subtree only.
//	@Tags			targets
//	@Security		BearerAuth
//	@Produce		json
//	@Param			id				path		int		true	"Allocation run id"
//	@Param			explain_under	query		string	false	"Org unit code whose children to explain"
//	@Success		200				{object}	api.AllocationRun
//	@Failure		404				{object}	api.Problem	"No such run"
//	@Failure		422				{object}	api.Problem	"explain_under is not part of the run"
//	@Failure		400				{object}	api.Problem	"Bad id or query parameter"
//	@Router			/allocations/{id} [get]
func (s *Server) getAllocation(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "explain_under")
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	res := newResolver(ctx, s.svcs)
	var under *int64
	if code, ok := q.get("explain_under"); ok {
		if err := res.loadUnits([]string{code}); err != nil {
			return err
		}
		uid := res.unit("explain_under", code)
		if err := res.err(); err != nil {
			return err
		}
		under = &uid
	}
	run, err := s.svcs.Targets.FindAllocationRunByID(ctx, id, under)
	if err != nil {
		return err
	}
	out, err := s.fromDomainRun(res, run, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
