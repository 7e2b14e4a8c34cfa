// Package demo loads the demo data set: the organisation, product lines and
// measures of the company described in DOMAIN.md at the repository root, with one
// user per role and well-known tokens, so a new user can try every call.
package demo

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// TokenFor returns the well-known demo token of a demo user. These tokens are
// public knowledge: never load the demo data into a production database.
func TokenFor(username string) string { return planning.TokenPrefix + "demo_" + username }

// User is one demo user and their token.
type User struct {
	Username string
	Name     string
	Role     planning.Role
	Scope    string // org unit code, for scoped roles
	Token    string
}

// Result says what Load did and lists the demo users.
type Result struct {
	Loaded bool // false when the data was already there
	Users  []User
}

type unit struct {
	code, name, local string
	kind              planning.OrgUnitKind
	children          []unit
}

func branch(code, name, local string) unit {
	return unit{code: code, name: name + " branch", local: local + "分公司", kind: planning.KindBranch, children: []unit{
		{code: code + "-KA", name: name + " key accounts", local: local + "大客户部", kind: planning.KindKeyAccountTeam},
		{code: code + "-CH", name: name + " channels", local: local + "渠道部", kind: planning.KindChannelTeam},
	}}
}

// orgTree is the sales organisation: the company, the national departments,
// three regions and their branches, each branch with a key-account team and
// a channel team.
var orgTree = unit{code: "CO", name: "Start Group", local: "实达集团", kind: planning.KindCompany, children: []unit{
	{code: "NKA", name: "National key accounts", local: "全国大客户部", kind: planning.KindNationalKeyAccounts},
	{code: "NCH", name: "National channels", local: "全国渠道部", kind: planning.KindNationalChannels},
	{code: "R-EAST", name: "East China region", local: "华东片区", kind: planning.KindRegion, children: []unit{
		branch("B-SH", "Shanghai", "上海"), branch("B-JS", "Jiangsu", "江苏"),
		branch("B-ZJ", "Zhejiang", "浙江"), branch("B-AH", "Anhui", "安徽"),
	}},
	{code: "R-NORTH", name: "North China region", local: "华北片区", kind: planning.KindRegion, children: []unit{
		branch("B-BJ", "Beijing", "北京"), branch("B-TJ", "Tianjin", "天津"),
	}},
	{code: "R-SOUTH", name: "South China region", local: "华南片区", kind: planning.KindRegion, children: []unit{
		branch("B-GD", "Guangdong", "广东"), branch("B-FJ", "Fujian", "福建"),
	}},
}}

type productLine struct {
	code, name, local string
	group             planning.ProductGroup
	owner             string
}

var productLines = []productLine{
	{"TERM", "Terminals", "终端", planning.GroupIndustry, "pm-industry"},
	{"POS", "POS systems", "POS", planning.GroupIndustry, "pm-industry"},
	{"DMP", "Dot-matrix printers", "针打", planning.GroupIndustry, "pm-industry"},
	{"ATM", "ATMs", "ATM", planning.GroupIndustry, "pm-industry"},
	{"SOFT", "Software and solutions", "软件", planning.GroupIndustry, "pm-industry"},
	{"CPC", "Commercial PCs", "商用PC", planning.GroupCommercialHome, "pm-commercial"},
	{"HPC", "Home PCs", "家用PC", planning.GroupCommercialHome, "pm-commercial"},
	{"UPS", "UPS", "UPS", planning.GroupCommercialHome, "pm-commercial"},
	{"MODEM", "Modems", "Modem", planning.GroupCommercialHome, "pm-commercial"},
	{"PERI", "Peripherals and printers", "外设/打印机", planning.GroupCommercialHome, "pm-commercial"},
	{"COMPAQ", "Compaq (agency)", "康柏", planning.GroupAgency, "pm-agency"},
	{"EPSON", "Epson (agency)", "爱普生", planning.GroupAgency, "pm-agency"},
}

var measures = []planning.Measure{
	{Code: "revenue", Name: "Sales revenue", NameLocal: "销售收入", Unit: "CNY", Scale: 2},
	{Code: "gross_margin", Name: "Gross margin", NameLocal: "毛利", Unit: "CNY", Scale: 2},
	{Code: "sales_expense", Name: "Sales expense budget", NameLocal: "销售费用", Unit: "CNY", Scale: 2},
	{Code: "units", Name: "Units sold", NameLocal: "销量", Unit: "count", Scale: 0},
	{Code: "collections", Name: "Receivables collected", NameLocal: "帐款回笼", Unit: "CNY", Scale: 2},
	// The deck's KPIs that are not amounts adding up: new customers count
	// up; the customers served are a level at period end; market share and
	// the penetration of target accounts are rates weighted by revenue; satisfaction is a survey score per unit
	// and period; the quality of customer plans is a behaviour indicator
	// (行为指标), the manager's rating from 1 to 5 in half points.
	{Code: "new_customers", Name: "New customers", NameLocal: "新客户数", Unit: "count", Scale: 0},
	{Code: "customers", Name: "Customers served at period end", NameLocal: "期末客户数", Unit: "count", Scale: 0,
		Aggregation: planning.AggLastValue},
	{Code: "market_share", Name: "Market share", NameLocal: "市场占有率", Unit: "percent", Scale: 2,
		Aggregation: planning.AggWeightedAverage, WeightMeasureCode: "revenue"},
	{Code: "penetration", Name: "Penetration of target accounts", NameLocal: "渗透率", Unit: "percent", Scale: 2,
		Aggregation: planning.AggWeightedAverage, WeightMeasureCode: "revenue"},
	{Code: "customer_satisfaction", Name: "Customer satisfaction", NameLocal: "客户满意度", Unit: "points", Scale: 1,
		Aggregation: planning.AggNone},
	{Code: "plan_quality", Name: "Quality of customer plans", NameLocal: "客户计划质量", Unit: "points", Scale: 1,
		Kind: planning.MeasureRating, Aggregation: planning.AggNone,
		Rating: &planning.RatingScale{Min: decimal.NewFromInt(1), Max: decimal.NewFromInt(5), Step: decimal.RequireFromString("0.5")}},
}

// Users returns the demo users: one per role, a product manager per product
// group, a manager per branch and a team lead.
func Users() []User {
	us := []User{
		{Username: "admin", Name: "System administrator", Role: planning.RoleAdmin},
		{Username: "strategy", Name: "Business planning office (业务计划)", Role: planning.RoleStrategyOffice},
		{Username: "pm-industry", Name: "Industry products manager (行业产品经理)", Role: planning.RoleProductManager},
		{Username: "pm-commercial", Name: "Commercial/home products manager (商用/家用产品经理)", Role: planning.RoleProductManager},
		{Username: "pm-agency", Name: "Agency products manager (代理产品经理)", Role: planning.RoleProductManager},
		{Username: "sales-director", Name: "Sales director (销售总监)", Role: planning.RoleSalesDirector},
		{Username: "marketing-director", Name: "Marketing director (市场营销总监)", Role: planning.RoleMarketingDirector},
		{Username: "president", Name: "President (总裁)", Role: planning.RolePresident},
		{Username: "auditor", Name: "Internal auditor (审计)", Role: planning.RoleAuditor},
	}
	for _, region := range orgTree.children {
		for _, b := range region.children {
			us = append(us, User{Username: "bm-" + lower(b.code[2:]), Name: b.local + "总经理 (" + b.name + " general manager)",
				Role: planning.RoleBranchManager, Scope: b.code})
		}
	}
	us = append(us, User{Username: "tl-sh-ka", Name: "上海大客户部经理 (Shanghai key-account lead)", Role: planning.RoleTeamLead, Scope: "B-SH-KA"})
	for i := range us {
		us[i].Token = TokenFor(us[i].Username)
	}
	return us
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Load fills an empty database with the demo data, acting as the system,
// in one transaction: a process killed during the load leaves the database
// empty, never half loaded. It does nothing when the demo data is already
// there, and refuses a database that holds other data, or (with the fix
// named) the partial demo data an interrupted load of an earlier release
// could leave. Servers starting together load it once.
func Load(ctx context.Context, svcs planning.Services) (*Result, error) {
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	res := &Result{Users: Users()}
	load := func() error {
		return svcs.Atomically(ctx, func(ctx context.Context) error {
			loaded, err := state(ctx, svcs)
			if err != nil || loaded {
				return err
			}
			if err := loadAll(ctx, svcs, res.Users); err != nil {
				return err
			}
			res.Loaded = true
			return nil
		})
	}
	err := load()
	if planning.ErrorCode(err) == planning.ECONFLICT {
		// Another process loaded it at the same moment: look again.
		res.Loaded = false
		err = load()
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// state reports whether the demo data is there, whole. The seasonality
// profiles are loaded last, so a database that has them has everything.
func state(ctx context.Context, svcs planning.Services) (loaded bool, err error) {
	last := profiles()[len(profiles())-1].Code
	ps, _, err := svcs.Seasonality.FindSeasonalityProfiles(ctx, planning.SeasonalityProfileFilter{Code: last})
	if err != nil {
		return false, err
	}
	if len(ps) > 0 {
		return true, nil
	}
	units, _, err := svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 1}})
	if err != nil || len(units) == 0 {
		return false, err
	}
	users, _, err := svcs.Users.FindUsers(ctx, planning.UserFilter{Username: "pm-industry"})
	if err != nil {
		return false, err
	}
	if len(users) > 0 {
		return false, fmt.Errorf("the demo data in this database is incomplete (a load was interrupted); " +
			"start from an empty database: delete the SQLite file (and its -wal and -shm files), or drop and create the PostgreSQL database")
	}
	return false, fmt.Errorf("the database already holds an org tree; load the demo data into an empty database")
}

// loadAll creates the demo data set; Load runs it in one transaction.
func loadAll(ctx context.Context, svcs planning.Services, users []User) error {
	ids := map[string]int64{}
	if err := createUnit(ctx, svcs, orgTree, nil, ids); err != nil {
		return err
	}
	userIDs := map[string]int64{}
	for _, du := range users {
		u := &planning.User{Username: du.Username, Name: du.Name, Email: du.Username + "@start.example"}
		if err := svcs.Users.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("demo user %s: %w", du.Username, err)
		}
		userIDs[du.Username] = u.ID
		ra := &planning.RoleAssignment{UserID: u.ID, Role: du.Role}
		if du.Scope != "" {
			id := ids[du.Scope]
			ra.OrgUnitID = &id
		}
		if err := svcs.Users.AddRole(ctx, ra); err != nil {
			return fmt.Errorf("demo role of %s: %w", du.Username, err)
		}
		if err := svcs.Tokens.CreateTokenWithSecret(ctx, &planning.Token{UserID: u.ID, Name: "demo token"}, du.Token); err != nil {
			return fmt.Errorf("demo token of %s: %w", du.Username, err)
		}
	}
	for _, p := range productLines {
		owner := userIDs[p.owner]
		pl := &planning.ProductLine{Code: p.code, Name: p.name, NameLocal: p.local, Group: p.group, OwnerID: &owner}
		if err := svcs.ProductLines.CreateProductLine(ctx, pl); err != nil {
			return fmt.Errorf("demo product line %s: %w", p.code, err)
		}
	}
	measureIDs := map[string]int64{}
	for _, m := range measures {
		m := m
		if m.WeightMeasureCode != "" {
			id := measureIDs[m.WeightMeasureCode]
			m.WeightMeasureID = &id
		}
		if err := svcs.Measures.CreateMeasure(ctx, &m); err != nil {
			return fmt.Errorf("demo measure %s: %w", m.Code, err)
		}
		measureIDs[m.Code] = m.ID
	}
	// The deck's scorecards per level: every round created from now on
	// receives them, with the KPIs whose measures it plans.
	if err := svcs.Scorecards.SetScorecardTemplates(ctx, planning.DeckScorecards()); err != nil {
		return fmt.Errorf("demo scorecards: %w", err)
	}
	// The profiles come last: their presence marks a whole load (state).
	for _, p := range profiles() {
		if err := svcs.Seasonality.CreateSeasonalityProfile(ctx, p); err != nil {
			return fmt.Errorf("demo seasonality profile %s: %w", p.Code, err)
		}
	}
	return nil
}

func createUnit(ctx context.Context, svcs planning.Services, u unit, parent *int64, ids map[string]int64) error {
	ou := &planning.OrgUnit{Code: u.code, Name: u.name, NameLocal: u.local, Kind: u.kind, ParentID: parent}
	if err := svcs.OrgUnits.CreateOrgUnit(ctx, ou); err != nil {
		return fmt.Errorf("demo org unit %s: %w", u.code, err)
	}
	ids[u.code] = ou.ID
	for _, c := range u.children {
		if err := createUnit(ctx, svcs, c, &ou.ID, ids); err != nil {
			return err
		}
	}
	return nil
}

// profiles are seasonality profiles typical of the business: IT hardware
// sales peak before the Spring Festival budget close and at the year end.
func profiles() []*planning.SeasonalityProfile {
	mk := func(code, name string, ws ...int64) *planning.SeasonalityProfile {
		p := &planning.SeasonalityProfile{Code: code, Name: name}
		for i, w := range ws {
			p.Weights[i] = decimal.NewFromInt(w)
		}
		return p
	}
	return []*planning.SeasonalityProfile{
		mk("even", "Even (均匀)", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
		mk("year-end-peak", "Year-end peak (年底旺季)", 6, 5, 7, 8, 8, 8, 7, 7, 9, 9, 11, 15),
		mk("government", "Government budget cycle (政府采购)", 3, 3, 6, 7, 8, 9, 8, 8, 10, 11, 12, 15),
	}
}

// PasswordFor returns the well-known demo password of a demo user, for
// signing in to the console. Like the tokens, it is public knowledge.
func PasswordFor(username string) string { return "demo-" + username }

// SetPasswords gives every demo user without a password their demo
// password (PasswordFor); a password set since is kept. The server does it
// in --demo mode only; tests that sign in call it themselves.
func SetPasswords(ctx context.Context, svcs planning.Services) error {
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	for _, du := range Users() {
		us, _, err := svcs.Users.FindUsers(ctx, planning.UserFilter{Username: du.Username})
		if err != nil {
			return err
		} else if len(us) == 0 {
			return fmt.Errorf("demo user %s is missing", du.Username)
		}
		if has, err := svcs.Sessions.HasPassword(ctx, us[0].ID); err != nil {
			return err
		} else if has {
			continue
		}
		if err := svcs.Sessions.SetPassword(ctx, us[0].ID, PasswordFor(du.Username)); err != nil {
			return fmt.Errorf("demo password of %s: %w", du.Username, err)
		}
	}
	return nil
}
