package main

import (
	"context"
	"fmt"

	"github.com/cascade-planning/cascade/planning"
)

// benchUnit is one org unit of the benchmark's tree: its code, kind and the
// index of its parent in the list (−1 for the company).
type benchUnit struct {
	Code   string
	Kind   planning.OrgUnitKind
	Parent int
}

// benchTree lays out an org tree of exactly n units, parents first: the
// company, up to ten regions, branches spread over the regions round-robin,
// and a key-account and a channel team under every branch. The one or two
// units left over when n−1−regions is not a multiple of three become
// national departments under the company. n must be at least 5.
func benchTree(n int) []benchUnit {
	regions := min(max((n-1)/40, 1), 10)
	branches := (n - 1 - regions) / 3
	extra := n - 1 - regions - 3*branches
	out := make([]benchUnit, 0, n)
	out = append(out, benchUnit{Code: "CO", Kind: planning.KindCompany, Parent: -1})
	for r := 1; r <= regions; r++ {
		out = append(out, benchUnit{Code: fmt.Sprintf("R%02d", r), Kind: planning.KindRegion, Parent: 0})
	}
	for i := 1; i <= extra; i++ {
		out = append(out, benchUnit{Code: fmt.Sprintf("NAT%d", i), Kind: planning.KindDepartment, Parent: 0})
	}
	for b := 0; b < branches; b++ {
		code := fmt.Sprintf("B%04d", b+1)
		out = append(out, benchUnit{Code: code, Kind: planning.KindBranch, Parent: 1 + b%regions})
		bi := len(out) - 1
		out = append(out,
			benchUnit{Code: code + "-KA", Kind: planning.KindKeyAccountTeam, Parent: bi},
			benchUnit{Code: code + "-CH", Kind: planning.KindChannelTeam, Parent: bi})
	}
	return out
}

// benchMeasures are the measures of the data set, the first n of the
// planning deck's five; more than five get generic currency measures.
func benchMeasures(n int) []planning.Measure {
	std := []planning.Measure{
		{Code: "revenue", Name: "Sales revenue", Unit: "CNY", Scale: 2},
		{Code: "gross_margin", Name: "Gross margin", Unit: "CNY", Scale: 2},
		{Code: "sales_expense", Name: "Sales expense budget", Unit: "CNY", Scale: 2},
		{Code: "units", Name: "Units sold", Unit: "count", Scale: 0},
		{Code: "collections", Name: "Receivables collected", Unit: "CNY", Scale: 2},
	}
	out := make([]planning.Measure, n)
	for i := range out {
		if i < len(std) {
			out[i] = std[i]
		} else {
			out[i] = planning.Measure{Code: fmt.Sprintf("measure_%d", i+1), Name: fmt.Sprintf("Measure %d", i+1), Unit: "CNY", Scale: 2}
		}
	}
	return out
}

// benchData is what the benchmark built: the codes and ids the HTTP calls
// name, and the tokens of the two users who make them.
type benchData struct {
	Units       []benchUnit
	CompanyCode string
	BranchCode  string // the branch whose grid is read, and its manager's scope
	LineCodes   []string
	Measures    []planning.Measure // with ids
	RoundID     int64
	VersionID   int64  // the round's first working version
	PMToken     string // the product manager who owns every line
	BMToken     string // the manager of BranchCode
}

// buildBenchData fills an empty database through the planning services, as
// the system actor: the org tree, a product manager owning every product
// line, a branch manager, the measures, and a round opened for top-down
// allocation (which creates its first version).
func buildBenchData(ctx context.Context, svcs planning.Services, units, lines, measures int) (*benchData, error) {
	if units < 5 || lines < 1 || measures < 1 {
		return nil, fmt.Errorf("the data set needs at least 5 units, 1 line and 1 measure")
	}
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	d := &benchData{Units: benchTree(units)}
	ids := make([]int64, len(d.Units))
	for i, u := range d.Units {
		ou := &planning.OrgUnit{Code: u.Code, Name: "Unit " + u.Code, Kind: u.Kind}
		if u.Parent >= 0 {
			ou.ParentID = &ids[u.Parent]
		}
		if err := svcs.OrgUnits.CreateOrgUnit(ctx, ou); err != nil {
			return nil, fmt.Errorf("org unit %s: %w", u.Code, err)
		}
		ids[i] = ou.ID
		if u.Kind == planning.KindBranch && d.BranchCode == "" {
			d.BranchCode = u.Code
		}
	}
	d.CompanyCode = d.Units[0].Code
	pm, err := benchUser(ctx, svcs, "bench-pm", planning.RoleProductManager, nil, &d.PMToken)
	if err != nil {
		return nil, err
	}
	branchID := ids[benchUnitIndex(d.Units, d.BranchCode)]
	if _, err := benchUser(ctx, svcs, "bench-bm", planning.RoleBranchManager, &branchID, &d.BMToken); err != nil {
		return nil, err
	}
	groups := planning.ProductGroups
	for i := 1; i <= lines; i++ {
		pl := &planning.ProductLine{Code: fmt.Sprintf("PL%03d", i), Name: fmt.Sprintf("Product line %d", i),
			Group: groups[(i-1)%len(groups)], OwnerID: &pm.ID}
		if err := svcs.ProductLines.CreateProductLine(ctx, pl); err != nil {
			return nil, fmt.Errorf("product line %s: %w", pl.Code, err)
		}
		d.LineCodes = append(d.LineCodes, pl.Code)
	}
	round := &planning.Round{Code: "BENCH", Name: "Benchmark round", FiscalYear: 2027, FirstMonth: 1}
	for _, m := range benchMeasures(measures) {
		if err := svcs.Measures.CreateMeasure(ctx, &m); err != nil {
			return nil, fmt.Errorf("measure %s: %w", m.Code, err)
		}
		d.Measures = append(d.Measures, m)
		round.MeasureIDs = append(round.MeasureIDs, m.ID)
	}
	if err := svcs.Rounds.CreateRound(ctx, round); err != nil {
		return nil, fmt.Errorf("round: %w", err)
	}
	opened, err := svcs.Rounds.TransitionRound(ctx, round.ID, planning.RoundOpen, "benchmark", nil)
	if err != nil {
		return nil, fmt.Errorf("open round: %w", err)
	}
	d.RoundID, d.VersionID = opened.ID, *opened.WorkingVersionID
	return d, nil
}

// benchUser creates a user with one role and a token, and stores the
// token's secret in token.
func benchUser(ctx context.Context, svcs planning.Services, username string, role planning.Role, scope *int64, token *string) (*planning.User, error) {
	u := &planning.User{Username: username, Name: username}
	if err := svcs.Users.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("user %s: %w", username, err)
	}
	if err := svcs.Users.AddRole(ctx, &planning.RoleAssignment{UserID: u.ID, Role: role, OrgUnitID: scope}); err != nil {
		return nil, fmt.Errorf("role of %s: %w", username, err)
	}
	secret, err := svcs.Tokens.CreateToken(ctx, &planning.Token{UserID: u.ID, Name: "benchmark"})
	if err != nil {
		return nil, fmt.Errorf("token of %s: %w", username, err)
	}
	*token = secret
	return u, nil
}

func benchUnitIndex(units []benchUnit, code string) int {
	for i, u := range units {
		if u.Code == code {
			return i
		}
	}
	return -1
}

// allocationCells is how many cells an allocation from the company down to
// the leaves writes: every unit of the tree holds its own twelve months for
// every line.
func (d *benchData) allocationCells() int64 {
	return int64(len(d.Units)) * int64(len(d.LineCodes)) * 12
}

// loadBenchData finds, in a database a benchmark kept (--keep), what the
// grid reads need: round BENCH's first version, its first branch, the
// lines and measures, and a new token of that branch's manager.
func loadBenchData(ctx context.Context, svcs planning.Services) (*benchData, error) {
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	year := 2027
	rounds, _, err := svcs.Rounds.FindRounds(ctx, planning.RoundFilter{FiscalYear: &year, Page: planning.PageRequest{Limit: 100}})
	if err != nil {
		return nil, err
	}
	d := &benchData{BranchCode: "B0001"}
	var round *planning.Round
	for _, r := range rounds {
		if r.Code == "BENCH" {
			round = r
		}
	}
	if round == nil {
		return nil, fmt.Errorf("no round BENCH: not a database the benchmark kept")
	}
	d.RoundID = round.ID
	versions, _, err := svcs.Versions.FindVersions(ctx, planning.VersionFilter{RoundID: round.ID, Page: planning.PageRequest{Limit: 100}})
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if v.Number == 1 {
			d.VersionID = v.ID
		}
	}
	for _, id := range round.MeasureIDs {
		m, err := svcs.Measures.FindMeasureByID(ctx, id)
		if err != nil {
			return nil, err
		}
		d.Measures = append(d.Measures, *m)
	}
	for cursor := ""; ; {
		lines, next, err := svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{Page: planning.PageRequest{Limit: 1000, Cursor: cursor}})
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			d.LineCodes = append(d.LineCodes, l.Code)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	users, _, err := svcs.Users.FindUsers(ctx, planning.UserFilter{Username: "bench-bm"})
	if err != nil || len(users) != 1 {
		return nil, fmt.Errorf("the branch manager bench-bm: %d found (%v)", len(users), err)
	}
	if d.BMToken, err = svcs.Tokens.CreateToken(ctx, &planning.Token{UserID: users[0].ID, Name: "benchmark grid"}); err != nil {
		return nil, err
	}
	return d, nil
}
