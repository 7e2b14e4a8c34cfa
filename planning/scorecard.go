package planning

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Direction says which way a KPI is better.
type Direction string

// Higher is better for sales and margins; lower is better for costs such as
// sales expense.
const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
)

// CurveKind is the shape of a scoring curve.
type CurveKind string

// A linear curve gives one point per percent of attainment between a floor
// and a cap; a step curve gives the points of the highest threshold reached.
const (
	CurveLinear CurveKind = "linear"
	CurveSteps  CurveKind = "steps"
)

// RoundingMode is how a score is rounded at its declared places.
type RoundingMode string

// Half up (away from zero), half to even (banker's), and down (towards zero,
// i.e. truncation).
const (
	RoundHalfUp   RoundingMode = "half_up"
	RoundHalfEven RoundingMode = "half_even"
	RoundDown     RoundingMode = "down"
)

// MaxKPIs is the most KPIs a scorecard holds.
const MaxKPIs = 20

// MaxSteps is the most thresholds a step curve holds.
const MaxSteps = 20

var hundred = decimal.NewFromInt(100)

// Rounding is a scorecard's declared rounding rule for the total score.
// Attainments are always kept at 2 places rounded half to even (as in the
// attainment report), and points and weighted points are exact; only the
// total is rounded, once, by this rule.
type Rounding struct {
	Places int32 // 0-4
	Mode   RoundingMode
}

// Apply rounds d by the rule.
func (r Rounding) Apply(d decimal.Decimal) decimal.Decimal {
	switch r.Mode {
	case RoundHalfEven:
		return d.RoundBank(r.Places)
	case RoundDown:
		return d.Truncate(r.Places)
	default:
		return d.Round(r.Places)
	}
}

// Step is one threshold of a step curve: from MinPct percent of attainment
// on, the KPI earns Points.
type Step struct {
	MinPct decimal.Decimal
	Points decimal.Decimal
}

// Curve turns an attainment percentage into points.
//
// Linear: points = attainment, except that below FloorPct the KPI earns 0
// points and above CapPct it earns CapPct points. FloorPct ≤ 100 ≤ CapPct, so
// a unit exactly on target earns exactly 100 points.
//
// Steps: the points of the highest threshold whose MinPct the attainment
// reaches, 0 below the first. Thresholds ascend strictly and their points
// never fall, so more attainment never earns fewer points.
type Curve struct {
	Kind     CurveKind
	FloorPct decimal.Decimal
	CapPct   decimal.Decimal
	Steps    []Step
}

// Points returns the points an attainment percentage earns.
func (c *Curve) Points(pct decimal.Decimal) decimal.Decimal {
	if c.Kind == CurveSteps {
		p := decimal.Zero
		for _, s := range c.Steps {
			if pct.Cmp(s.MinPct) >= 0 {
				p = s.Points
			}
		}
		return p
	}
	switch {
	case pct.LessThan(c.FloorPct):
		return decimal.Zero
	case pct.GreaterThan(c.CapPct):
		return c.CapPct
	}
	return pct
}

// KPI is one weighted indicator of a scorecard: a measure, optionally
// restricted to designated key product lines (none means all the round's
// lines), its weight in percent, its direction and its curve.
type KPI struct {
	MeasureID int64
	// MeasureCode is filled in by the store when reading.
	MeasureCode string
	// Aggregation is how the measure's values combine (sum, weighted
	// average by Weight, last value, none), filled in by the store when
	// reading, so a score says how its target and actual were formed.
	Aggregation    Aggregation
	WeightCode     string
	ProductLineIDs []int64
	// ProductLineCodes are filled in by the store when reading.
	ProductLineCodes []string
	Label            string
	Weight           decimal.Decimal
	Direction        Direction
	Curve            Curve
}

// Scorecard is how the org units of one level are assessed in a round: the
// KPIs with weights summing to exactly 100, and the rounding rule of the
// total. It belongs to the round and is edited only while the round is not
// yet approved, so the scorecard a unit is assessed on is the one it was
// given with its targets.
type Scorecard struct {
	ID        int64
	RoundID   int64
	Level     OrgUnitKind
	Name      string
	KPIs      []KPI
	Rounding  Rounding
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks the fields a caller sets: a known level, a name, 1 to
// MaxKPIs KPIs each with a measure, a positive weight of at most 2 decimal
// places, a direction and a well-formed curve; weights summing to exactly
// 100; no measure and key-line set twice; a rounding rule of 0-4 places and
// a known mode.
func (s *Scorecard) Validate() error {
	var v Validation
	if !s.Level.Valid() {
		v.Add("level", "must be one of %v", OrgUnitKinds)
	}
	validateName(&v, "name", s.Name, true)
	if s.Rounding.Places < 0 || s.Rounding.Places > 4 {
		v.Add("rounding.places", "must be between 0 and 4")
	}
	switch s.Rounding.Mode {
	case RoundHalfUp, RoundHalfEven, RoundDown:
	default:
		v.Add("rounding.mode", "must be one of half_up, half_even, down")
	}
	if len(s.KPIs) == 0 || len(s.KPIs) > MaxKPIs {
		v.Add("kpis", "must hold 1 to %d KPIs", MaxKPIs)
	}
	sum := decimal.Zero
	seen := map[string]bool{}
	for i := range s.KPIs {
		k := &s.KPIs[i]
		f := fmt.Sprintf("kpis[%d].", i)
		if k.MeasureID <= 0 {
			v.Add(f+"measure", "is required")
		}
		validateName(&v, f+"label", k.Label, false)
		if !k.Weight.IsPositive() || !k.Weight.Equal(k.Weight.Round(2)) {
			v.Add(f+"weight", "must be a positive percentage with at most 2 decimal places")
		}
		sum = sum.Add(k.Weight)
		if k.Direction != HigherIsBetter && k.Direction != LowerIsBetter {
			v.Add(f+"direction", "must be higher or lower")
		}
		validateCurve(&v, f+"curve.", &k.Curve)
		lines := slices.Clone(k.ProductLineIDs)
		slices.Sort(lines)
		if len(slices.Compact(lines)) != len(k.ProductLineIDs) {
			v.Add(f+"product_lines", "names a product line twice")
		}
		key := fmt.Sprint(k.MeasureID, lines)
		if seen[key] {
			v.Add(f+"measure", "the same measure and product lines are already a KPI of this scorecard")
		}
		seen[key] = true
	}
	if len(s.KPIs) > 0 && !sum.Equal(hundred) {
		v.Add("kpis", "weights must sum to exactly 100, not %s", sum.String())
	}
	return v.Err()
}

func validateCurve(v *Validation, f string, c *Curve) {
	twoPlaces := func(d decimal.Decimal) bool { return d.Equal(d.Round(2)) }
	switch c.Kind {
	case CurveLinear:
		if len(c.Steps) > 0 {
			v.Add(f+"steps", "a linear curve has no steps")
		}
		if c.FloorPct.IsNegative() || c.FloorPct.GreaterThan(hundred) || !twoPlaces(c.FloorPct) {
			v.Add(f+"floor_pct", "must be between 0 and 100 with at most 2 decimal places")
		}
		if c.CapPct.LessThan(hundred) || c.CapPct.GreaterThan(decimal.NewFromInt(1000)) || !twoPlaces(c.CapPct) {
			v.Add(f+"cap_pct", "must be between 100 and 1000 with at most 2 decimal places")
		}
	case CurveSteps:
		if !c.FloorPct.IsZero() || !c.CapPct.IsZero() {
			v.Add(f+"kind", "a step curve has no floor_pct or cap_pct")
		}
		if len(c.Steps) == 0 || len(c.Steps) > MaxSteps {
			v.Add(f+"steps", "must hold 1 to %d thresholds", MaxSteps)
		}
		for i, s := range c.Steps {
			sf := fmt.Sprintf("%ssteps[%d].", f, i)
			if s.MinPct.IsNegative() || s.MinPct.GreaterThan(decimal.NewFromInt(1000)) || !twoPlaces(s.MinPct) {
				v.Add(sf+"min_pct", "must be between 0 and 1000 with at most 2 decimal places")
			}
			if s.Points.IsNegative() || s.Points.GreaterThan(decimal.NewFromInt(1000)) || !twoPlaces(s.Points) {
				v.Add(sf+"points", "must be between 0 and 1000 with at most 2 decimal places")
			}
			if i > 0 && !s.MinPct.GreaterThan(c.Steps[i-1].MinPct) {
				v.Add(sf+"min_pct", "thresholds must ascend strictly")
			}
			if i > 0 && s.Points.LessThan(c.Steps[i-1].Points) {
				v.Add(sf+"points", "points must not fall as attainment rises")
			}
		}
	default:
		v.Add(f+"kind", "must be linear or steps")
	}
}

// KPIInput is what one KPI is scored on: the unit's target and actual over
// the period, as the attainment report computes them.
type KPIInput struct {
	Target decimal.Decimal
	Actual decimal.Decimal
	Scale  int32
}

// KPIScore explains one KPI's part of a score.
//
// AttainmentPct is, for higher is better, actual ÷ target × 100; for lower is
// better, (2 × target − actual) ÷ target × 100, so spending 10% under the
// target attains 110% and 10% over attains 90%. Both are rounded half to even
// at 2 places and are nil when the target is zero (no target: 0 points).
// Points = the curve at the attainment; Weighted = points × weight ÷ 100,
// exact.
type KPIScore struct {
	KPI           *KPI
	Target        decimal.Decimal
	Actual        decimal.Decimal
	Scale         int32
	AttainmentPct *decimal.Decimal
	Points        decimal.Decimal
	Weighted      decimal.Decimal
}

// Score is a unit's score on a scorecard: the exact sum of the weighted
// points and the total rounded by the scorecard's rule.
type Score struct {
	KPIs  []KPIScore
	Exact decimal.Decimal
	Total decimal.Decimal
}

// KPIAttainment returns the attainment percentage of a KPI in direction d,
// rounded half to even at 2 places, or nil for a zero target.
func KPIAttainment(d Direction, actual, target decimal.Decimal) *decimal.Decimal {
	if d == LowerIsBetter {
		return AttainmentPct(target.Add(target).Sub(actual), target)
	}
	return AttainmentPct(actual, target)
}

// ScoreCard scores one unit: in[i] is the input of s.KPIs[i].
func (s *Scorecard) ScoreCard(in []KPIInput) Score {
	out := Score{KPIs: make([]KPIScore, len(s.KPIs))}
	for i := range s.KPIs {
		k := &s.KPIs[i]
		ks := KPIScore{KPI: k, Target: in[i].Target, Actual: in[i].Actual, Scale: in[i].Scale}
		ks.AttainmentPct = KPIAttainment(k.Direction, ks.Actual, ks.Target)
		if ks.AttainmentPct != nil {
			ks.Points = k.Curve.Points(*ks.AttainmentPct)
		}
		ks.Weighted = ks.Points.Mul(k.Weight).Div(hundred)
		out.KPIs[i] = ks
		out.Exact = out.Exact.Add(ks.Weighted)
	}
	out.Total = s.Rounding.Apply(out.Exact)
	return out
}

// OnTargetScore is the score of a unit exactly on target on every KPI: the
// weighted sum of each curve's points at 100%, rounded by the scorecard's
// rule. For linear curves it is exactly 100.
func (s *Scorecard) OnTargetScore() decimal.Decimal {
	sum := decimal.Zero
	for i := range s.KPIs {
		sum = sum.Add(s.KPIs[i].Curve.Points(hundred).Mul(s.KPIs[i].Weight).Div(hundred))
	}
	return s.Rounding.Apply(sum)
}

// UnitScore is one org unit's score.
type UnitScore struct {
	Rank        int
	OrgUnitID   int64
	OrgUnitCode string
	OrgUnitName string
	OrgUnitPath string
	Score
}

// RankScores orders scores best first and ranks them by the declared tie
// rule: by the rounded total, then the exact total, then the points of each
// KPI in the scorecard's order (the first KPI is the most important), all
// descending; units equal on all of these share a rank (1, 2, 2, 4) and are
// listed by org unit code.
func RankScores(units []UnitScore) {
	tie := func(a, b *UnitScore) int {
		if c := b.Total.Cmp(a.Total); c != 0 {
			return c
		}
		if c := b.Exact.Cmp(a.Exact); c != 0 {
			return c
		}
		for i := range min(len(a.KPIs), len(b.KPIs)) {
			if c := b.KPIs[i].Points.Cmp(a.KPIs[i].Points); c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortStableFunc(units, func(a, b UnitScore) int {
		if c := tie(&a, &b); c != 0 {
			return c
		}
		return cmp.Compare(a.OrgUnitCode, b.OrgUnitCode)
	})
	for i := range units {
		if i > 0 && tie(&units[i], &units[i-1]) == 0 {
			units[i].Rank = units[i-1].Rank
		} else {
			units[i].Rank = i + 1
		}
	}
}

// CheckScorecardWrite says whether a may write the scorecards of round r:
// EFORBIDDEN out of role (the strategy office and administrators write
// them), then ECONFLICT once the round is approved or closed (a scorecard
// is signed off with the budget it assesses).
func CheckScorecardWrite(a *Actor, r *Round) error {
	if a == nil || !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators write scorecards")
	}
	if r.Status == RoundApproved || r.Status == RoundClosed {
		return Errorf(ECONFLICT, "round %s is %s: its scorecards were signed off with its budget and no longer change", r.Code, r.Status)
	}
	return nil
}

// CheckScoreIssue says whether a may issue scores: the strategy office and
// administrators do (EFORBIDDEN otherwise).
func CheckScoreIssue(a *Actor) error {
	if a == nil || !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return Errorf(EFORBIDDEN, "only the strategy office and administrators issue scores")
	}
	return nil
}

// ScoreFilter selects the scores of one level's units on its scorecard.
type ScoreFilter struct {
	RoundID   int64
	VersionID *int64
	Level     OrgUnitKind
	// OrgUnitID, when set, keeps only that unit (it must be of the level).
	OrgUnitID *int64
	Period    int
	Basis     Basis
}

// ScoreReport is a level's scores, ranked, with what they compare.
type ScoreReport struct {
	Scorecard *Scorecard
	AttainmentReport
	Units []UnitScore
}

// ScoreIssue is a level's scores as issued at one moment: what each unit
// scored, on the scorecard as it was, for a period and basis. Scores are
// computed from the actuals as they are, so a corrected actual restates
// them; an issue keeps what was issued before.
type ScoreIssue struct {
	ID        int64
	RoundID   int64
	VersionID int64
	Period    int
	Basis     Basis
	Scorecard *Scorecard
	Units     []UnitScore
	IssuedBy  *int64
	IssuedAt  time.Time
}

// ScorecardService keeps the scorecards of rounds and scores units on them.
// Everybody signed in reads scorecards; the strategy office and
// administrators write them (EFORBIDDEN otherwise), while the round is not
// approved or closed (ECONFLICT).
type ScorecardService interface {
	// FindScorecards returns a round's scorecards by level.
	FindScorecards(ctx context.Context, roundID int64) ([]*Scorecard, error)
	// FindScorecard returns a round's scorecard for a level; ENOTFOUND when
	// there is none.
	FindScorecard(ctx context.Context, roundID int64, level OrgUnitKind) (*Scorecard, error)
	// PutScorecard creates or replaces the scorecard of s.Level in
	// s.RoundID. ifMatch, when set, must be the current revision (EPRECONDITION
	// otherwise). EINVALID for a broken rule or a measure or product line
	// not of the round. It reports whether the scorecard was created.
	PutScorecard(ctx context.Context, s *Scorecard, ifMatch *int64) (created bool, err error)
	// DeleteScorecard removes a level's scorecard.
	DeleteScorecard(ctx context.Context, roundID int64, level OrgUnitKind) error
	// FindScores scores the units of a level the actor sees, ranked.
	// Scores are computed from the targets and the actuals as they are now,
	// so a corrected actual restates every score it enters.
	FindScores(ctx context.Context, f ScoreFilter) (*ScoreReport, error)
	// IssueScores records the scores of every unit of a level (f.OrgUnitID
	// must be nil) as they are now. The strategy office and administrators
	// issue them (EFORBIDDEN otherwise).
	IssueScores(ctx context.Context, f ScoreFilter) (*ScoreIssue, error)
	// FindScoreIssues lists a level's issued scores, oldest first, each
	// with the units the actor sees.
	FindScoreIssues(ctx context.Context, roundID int64, level OrgUnitKind) ([]*ScoreIssue, error)
	// ApplyDefaultScorecards gives each level of the round that has no
	// scorecard yet the default template's scorecard (DefaultTemplates:
	// the organisation's, else the deck's), with the KPIs whose measure
	// is one of the round's and whose key product lines exist, reweighted
	// to 100 (ScorecardTemplate.Reweight). It returns the scorecards it
	// created. Same roles and states as PutScorecard.
	ApplyDefaultScorecards(ctx context.Context, roundID int64) ([]*Scorecard, error)
	// FindScorecardTemplates returns the organisation's default
	// scorecards, by level; none until some are set.
	FindScorecardTemplates(ctx context.Context) ([]ScorecardTemplate, error)
	// SetScorecardTemplates replaces the organisation's default
	// scorecards, which every round created from then on receives
	// (ApplyDefaultScorecards at creation). The strategy office and
	// administrators set them (EFORBIDDEN otherwise); EINVALID for a
	// template that is no valid scorecard or a level named twice.
	SetScorecardTemplates(ctx context.Context, templates []ScorecardTemplate) error
}

// Validate checks a template as a scorecard (Scorecard.Validate), its
// measures by code.
func (t *ScorecardTemplate) Validate() error {
	card := Scorecard{Level: t.Level, Name: t.Name, Rounding: t.Rounding}
	ids, lines := map[string]int64{}, map[string]int64{}
	var v Validation
	for i, k := range t.KPIs {
		if k.MeasureCode == "" {
			v.Add(fmt.Sprintf("kpis[%d].measure", i), "is required")
		}
		if ids[k.MeasureCode] == 0 {
			ids[k.MeasureCode] = int64(len(ids) + 1)
		}
		kpi := KPI{MeasureID: ids[k.MeasureCode], Label: k.Label, Weight: k.Weight, Direction: k.Direction, Curve: k.Curve}
		for _, c := range k.ProductLineCodes {
			if lines[c] == 0 {
				lines[c] = int64(len(lines) + 1)
			}
			kpi.ProductLineIDs = append(kpi.ProductLineIDs, lines[c])
		}
		card.KPIs = append(card.KPIs, kpi)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return card.Validate()
}

// KPITemplate is a KPI of a default scorecard, by codes.
type KPITemplate struct {
	MeasureCode      string
	ProductLineCodes []string
	Label            string
	Weight           decimal.Decimal
	Direction        Direction
	Curve            Curve
}

// ScorecardTemplate is a default scorecard for a level, by codes.
type ScorecardTemplate struct {
	Level    OrgUnitKind
	Name     string
	KPIs     []KPITemplate
	Rounding Rounding
}

// DefaultTemplates are the templates a round's default scorecards come
// from when they are asked for: the organisation's (set), or the deck's
// when it has set none. A new round gets only the organisation's.
func DefaultTemplates(set []ScorecardTemplate) []ScorecardTemplate {
	if len(set) == 0 {
		return DeckScorecards()
	}
	return set
}

// DeckScorecards are the deck's KPIs as default scorecards: the branch
// general manager on the branch's sales, its key products, gross margin,
// sales expense, collections, new customers, market share, customer
// satisfaction and the quality of customer plans (a behaviour rating);
// key-account and channel managers on their sales, key products, sales
// expense, collections, new customers, the penetration of their target
// accounts and their customer plans; the region
// on sales, margin, collections, market share and satisfaction. The key
// products are POS systems and ATMs. Weights sum to exactly 100.
func DeckScorecards() []ScorecardTemplate {
	d := decimal.RequireFromString
	lin := func(floor, cap string) Curve { return Curve{Kind: CurveLinear, FloorPct: d(floor), CapPct: d(cap)} }
	collect := Curve{Kind: CurveSteps, Steps: []Step{{d("80"), d("60")}, {d("95"), d("90")}, {d("100"), d("100")}, {d("110"), d("110")}}}
	key := []string{"POS", "ATM"}
	r := Rounding{Places: 2, Mode: RoundHalfUp}
	team := func(level OrgUnitKind, name string) ScorecardTemplate {
		return ScorecardTemplate{Level: level, Name: name, Rounding: r, KPIs: []KPITemplate{
			{"revenue", nil, "Sales of the team's customers 客户销售额", d("40"), HigherIsBetter, lin("60", "120")},
			{"revenue", key, "Sales of key products 重点产品销售额", d("16"), HigherIsBetter, lin("50", "150")},
			{"sales_expense", nil, "Sales expense 销售费用", d("8"), LowerIsBetter, lin("0", "110")},
			{"collections", nil, "Receivables collected 帐款回笼", d("16"), HigherIsBetter, collect},
			{"new_customers", nil, "New customers 新客户数", d("10"), HigherIsBetter, lin("0", "150")},
			{"penetration", nil, "Penetration of target accounts 渗透率", d("5"), HigherIsBetter, lin("80", "120")},
			{"plan_quality", nil, "Quality of customer plans 客户计划质量 (行为指标)", d("5"), HigherIsBetter, lin("0", "120")},
		}}
	}
	return []ScorecardTemplate{
		{Level: KindBranch, Name: "Branch general manager 分公司总经理", Rounding: r, KPIs: []KPITemplate{
			{"revenue", nil, "Branch sales 分公司销售额", d("32"), HigherIsBetter, lin("60", "120")},
			{"revenue", key, "Sales of key products 重点产品销售额", d("12"), HigherIsBetter, lin("50", "150")},
			{"gross_margin", nil, "Gross margin 毛利", d("16"), HigherIsBetter, lin("0", "110")},
			{"sales_expense", nil, "Sales expense 销售费用", d("8"), LowerIsBetter, lin("0", "110")},
			{"collections", nil, "Receivables collected 帐款回笼", d("12"), HigherIsBetter, collect},
			{"new_customers", nil, "New customers 新客户数", d("5"), HigherIsBetter, lin("0", "150")},
			{"market_share", nil, "Market share 市场占有率", d("5"), HigherIsBetter, lin("80", "120")},
			{"customer_satisfaction", nil, "Customer satisfaction 客户满意度", d("5"), HigherIsBetter, lin("80", "110")},
			{"plan_quality", nil, "Quality of customer plans 客户计划质量 (行为指标)", d("5"), HigherIsBetter, lin("0", "120")},
		}},
		team(KindKeyAccountTeam, "Key-account manager 大客户经理"),
		team(KindChannelTeam, "Channel manager 渠道经理"),
		{Level: KindRegion, Name: "Region 片区", Rounding: r, KPIs: []KPITemplate{
			{"revenue", nil, "Region sales 片区销售额", d("40"), HigherIsBetter, lin("60", "120")},
			{"gross_margin", nil, "Gross margin 毛利", d("24"), HigherIsBetter, lin("0", "110")},
			{"collections", nil, "Receivables collected 帐款回笼", d("16"), HigherIsBetter, collect},
			{"market_share", nil, "Market share 市场占有率", d("10"), HigherIsBetter, lin("80", "120")},
			{"customer_satisfaction", nil, "Customer satisfaction 客户满意度", d("10"), HigherIsBetter, lin("80", "110")},
		}},
	}
}

// Reweight keeps the KPIs for which keep is true and scales their weights
// to sum to exactly 100 again: each weight × 100 ÷ the kept weights' sum,
// truncated at 2 places, the first kept KPI taking what truncation left.
// It returns nil when nothing is kept.
func (t ScorecardTemplate) Reweight(keep func(k KPITemplate) bool) []KPITemplate {
	var kept []KPITemplate
	sum := decimal.Zero
	for _, k := range t.KPIs {
		if keep(k) {
			kept = append(kept, k)
			sum = sum.Add(k.Weight)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	total := decimal.Zero
	for i := range kept {
		kept[i].Weight = kept[i].Weight.Mul(hundred).Div(sum).Truncate(2)
		total = total.Add(kept[i].Weight)
	}
	kept[0].Weight = kept[0].Weight.Add(hundred.Sub(total))
	return kept
}
