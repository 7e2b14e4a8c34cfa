package planning

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/shopspring/decimal"
)

// Basis is the span of months an attainment compares, as of a month.
type Basis string

// The month alone; the fiscal quarter to date; the fiscal year to date; and
// the full year, which compares the year's actuals to date with the whole
// year's target (how much of the annual target is done).
const (
	BasisMonth Basis = "month"
	BasisQTD   Basis = "qtd"
	BasisYTD   Basis = "ytd"
	BasisYear  Basis = "year"
)

// Bases lists every basis in a stable order.
var Bases = []Basis{BasisMonth, BasisQTD, BasisYTD, BasisYear}

// Valid reports whether b is a known basis.
func (b Basis) Valid() bool { return slices.Contains(Bases, b) }

// Span returns the fiscal periods (1-12, inclusive) whose targets and whose
// actuals a basis compares as of fiscal period p: the month p; the quarter
// from its first month to p; the year from period 1 to p; or, for the full
// year, the twelve months' targets against the actuals of periods 1 to p.
func (b Basis) Span(p int) (targetFrom, targetTo, actualFrom, actualTo int) {
	switch b {
	case BasisQTD:
		q := (p-1)/3*3 + 1
		return q, p, q, p
	case BasisYTD:
		return 1, p, 1, p
	case BasisYear:
		return 1, 12, 1, p
	default:
		return p, p, p, p
	}
}

// AttainmentFilter selects what an attainment report compares: the actuals
// of the org units (rolled up from the leaves) against a version's targets
// (each unit's own cells), by product line and measure, for a basis as of a
// fiscal period.
type AttainmentFilter struct {
	RoundID int64
	// VersionID is the version to compare with; nil means the round's budget
	// of record (ECONFLICT when the round has none yet).
	VersionID *int64
	OrgUnitID *int64
	Subtree   bool
	// Kind, when set, keeps only org units of that kind (e.g. branches).
	Kind           OrgUnitKind
	ProductLineIDs []int64
	MeasureIDs     []int64 // nil means the round's measures
	// Period is the fiscal period (1-12) the report is as of; 0 means the
	// latest month of the fiscal year that holds any actuals (the first
	// month when none does).
	Period int
	Basis  Basis // empty means BasisMonth
	Page   PageRequest
}

// AttainmentRow is one org unit's attainment for one product line (or, with
// ProductLineID 0, the total over the selected product lines) and measure.
//
// Gap is Actual − Target. Pct is Actual ÷ Target × 100 rounded half to even
// at 2 places, nil when the target is zero. RunRate projects the full year
// from the year to date: YTDActual × 12 ÷ months elapsed, rounded at the
// measure's scale half away from zero; RunRatePct compares it with the full
// year's target as Pct does.
type AttainmentRow struct {
	OrgUnitID       int64
	OrgUnitCode     string
	OrgUnitName     string
	OrgUnitKind     OrgUnitKind
	OrgUnitPath     string
	ProductLineID   int64
	ProductLineCode string
	MeasureID       int64
	MeasureCode     string
	Scale           int32
	Target          decimal.Decimal
	Actual          decimal.Decimal
	Gap             decimal.Decimal
	Pct             *decimal.Decimal
	YearTarget      decimal.Decimal
	YTDActual       decimal.Decimal
	RunRate         decimal.Decimal
	RunRatePct      *decimal.Decimal
}

// AttainmentReport is the result of an attainment query: what was compared
// and the rows, ordered by org unit path, measure code and product line code
// (the total over product lines first).
type AttainmentReport struct {
	Round     *Round
	VersionID int64
	// Record says the version is the round's budget of record.
	Record bool
	Period int
	Basis  Basis
	// TargetFrom..TargetTo and ActualFrom..ActualTo are the fiscal periods
	// compared.
	TargetFrom, TargetTo int
	ActualFrom, ActualTo int
	Rows                 []AttainmentRow
	NextCursor           string
}

// RankingFilter selects a ranking: the org units of one kind ranked by their
// attainment of one measure, totalled over the selected product lines.
type RankingFilter struct {
	RoundID        int64
	VersionID      *int64
	MeasureID      int64
	Kind           OrgUnitKind
	ProductLineIDs []int64
	Period         int
	Basis          Basis
}

// RankedUnit is one place of a ranking. Units with the same attainment share
// a rank (1, 2, 2, 4); units without a target (no attainment) come last.
type RankedUnit struct {
	Rank int
	AttainmentRow
}

// Ranking is a ranking and what it compares.
type Ranking struct {
	AttainmentReport
	Items []RankedUnit
}

// AttainmentService compares actuals with targets. Reads apply the actor's
// org scope: a branch manager sees their branch and its teams only, and a
// ranking ranks only the units the actor sees.
type AttainmentService interface {
	// FindAttainment returns a page of attainment rows. ENOTFOUND for an
	// unknown round or an org unit outside the actor's scope; EINVALID for
	// a version of another round; ECONFLICT when no version is given and
	// the round has no budget of record.
	FindAttainment(ctx context.Context, filter AttainmentFilter) (*AttainmentReport, error)
	// FindRankings ranks the units of a kind by attainment, best first.
	FindRankings(ctx context.Context, filter RankingFilter) (*Ranking, error)
}

// AttainmentPct returns actual ÷ target × 100 rounded half to even at two
// decimal places, or nil when target is zero.
func AttainmentPct(actual, target decimal.Decimal) *decimal.Decimal {
	if target.IsZero() {
		return nil
	}
	p := DivRound(actual.Mul(decimal.NewFromInt(100)), target, 2, true)
	return &p
}

// RunRate projects a full year from ytd, the actuals of the fiscal year's
// first months months: ytd × 12 ÷ months, rounded at scale half away from
// zero.
// It is zero for no months.
func RunRate(ytd decimal.Decimal, months int, scale int32) decimal.Decimal {
	if months <= 0 {
		return decimal.Zero
	}
	return DivRound(ytd.Mul(decimal.NewFromInt(12)), decimal.NewFromInt(int64(months)), scale, false)
}

// DivRound returns num ÷ den rounded exactly at places decimal places: half
// to even when halfEven, else half away from zero. den must not be zero.
func DivRound(num, den decimal.Decimal, places int32, halfEven bool) decimal.Decimal {
	x := num.Shift(places)
	e := min(x.Exponent(), den.Exponent())
	n := scaleCoefficient(x, e)
	d := scaleCoefficient(den, e)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() != 0 {
		twice := new(big.Int).Abs(r)
		twice.Lsh(twice, 1)
		c := twice.Cmp(new(big.Int).Abs(d))
		if c > 0 || c == 0 && (!halfEven || q.Bit(0) == 1) {
			if (n.Sign() < 0) != (d.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return decimal.NewFromBigInt(q, -places)
}

// scaleCoefficient returns d as an integer count of 10^e.
func scaleCoefficient(d decimal.Decimal, e int32) *big.Int {
	c := d.Coefficient()
	if k := d.Exponent() - e; k > 0 {
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	}
	return c
}

// RankRows ranks attainment rows, best attainment first: by Pct descending
// (rows without one last), then by actual descending and by org unit code.
// Equal attainments share a rank.
func RankRows(rows []AttainmentRow) []RankedUnit {
	out := make([]RankedUnit, len(rows))
	for i := range rows {
		out[i].AttainmentRow = rows[i]
	}
	slices.SortStableFunc(out, func(a, b RankedUnit) int {
		if c := comparePct(a.Pct, b.Pct); c != 0 {
			return -c
		}
		if c := a.Actual.Cmp(b.Actual); c != 0 {
			return -c
		}
		return cmp.Compare(a.OrgUnitCode, b.OrgUnitCode)
	})
	for i := range out {
		if i > 0 && comparePct(out[i].Pct, out[i-1].Pct) == 0 {
			out[i].Rank = out[i-1].Rank
		} else {
			out[i].Rank = i + 1
		}
	}
	return out
}

// comparePct orders attainments with nil below every number.
func comparePct(a, b *decimal.Decimal) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Cmp(*b)
}

// ParseBasis checks a basis name; empty means BasisMonth.
func ParseBasis(s string) (Basis, error) {
	if s == "" {
		return BasisMonth, nil
	}
	if b := Basis(s); b.Valid() {
		return b, nil
	}
	return "", fmt.Errorf("must be one of month, qtd, ytd, year")
}
