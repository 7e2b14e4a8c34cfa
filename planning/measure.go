package planning

import (
	"context"
	"regexp"
	"time"

	"github.com/shopspring/decimal"
)

// MaxScale is the most decimal places a measure may keep.
const MaxScale = 6

// Measure is a planned quantity such as revenue or units: its unit (a
// currency code or "count"), the decimal places amounts are kept at, and
// how its values aggregate over periods, product lines and the org tree
// (Aggregation). Amounts (revenue, expense, collections) are additive; rates
// and scores (market share, satisfaction) are not, and a rating is a
// manager's judgement on a declared scale.
type Measure struct {
	ID        int64
	Code      string
	Name      string
	NameLocal string
	Unit      string // ISO 4217 currency code, "count", "percent" or "points"
	Scale     int32  // decimal places, e.g. 2 for CNY, 0 for units
	// Kind is MeasureAmount (also rates and scores) or MeasureRating;
	// empty means MeasureAmount.
	Kind MeasureKind
	// Aggregation is how values combine; empty means AggSum.
	Aggregation Aggregation
	// WeightMeasureID is the additive measure a weighted average is
	// weighted by (AggWeightedAverage only); WeightMeasureCode is filled
	// in by the store when reading.
	WeightMeasureID   *int64
	WeightMeasureCode string
	// Rating is the scale of a MeasureRating; nil otherwise.
	Rating    *RatingScale
	Active    bool
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

var unitPattern = regexp.MustCompile(`^([A-Z]{3}|count|percent|points)$`)

// Validate checks the fields a caller sets.
func (m *Measure) Validate() error {
	var v Validation
	validateCode(&v, "code", m.Code)
	validateName(&v, "name", m.Name, true)
	validateName(&v, "name_local", m.NameLocal, false)
	if !unitPattern.MatchString(m.Unit) {
		v.Add("unit", "must be a three-letter currency code such as CNY, \"count\", \"percent\" or \"points\"")
	}
	if m.Scale < 0 || m.Scale > MaxScale {
		v.Add("scale", "must be between 0 and %d", MaxScale)
	}
	m.validateKind(&v)
	return v.Err()
}

// MeasureKind says what a measure's values are.
type MeasureKind string

// An amount is a number planned and reported freely (money, counts,
// percentages); a rating is a manager's judgement on a declared scale, such
// as the quality of customer plans (行为指标).
const (
	MeasureAmount MeasureKind = "amount"
	MeasureRating MeasureKind = "rating"
)

// Aggregation is how a measure's values combine over periods, product
// lines and the org tree (actuals roll up from the leaves). Each rule is
// exact: sums are exact, and a weighted average is rounded once, at the
// measure's scale, half away from zero.
type Aggregation string

// The rules:
//   - sum: amounts add up over periods, product lines and units (revenue).
//     Only sum measures are cascaded by allocation, and only they must add
//     up from children to parent.
//   - weighted_average: Σ value × weight ÷ Σ weight over the cells that
//     hold a value, the weight being the weight measure's amount of the
//     same unit, product line and month (market share weighted by
//     revenue); no value when the weights sum to zero.
//   - last_value: over periods, each series' value in the latest month of
//     the span that holds one; those add up over product lines and units
//     (a customer count or a balance at period end).
//   - none: not aggregated: a unit's own value in the span's last month
//     (actuals do not roll up from children, and a total over product
//     lines exists only when one line holds the value), e.g. a rating.
const (
	AggSum             Aggregation = "sum"
	AggWeightedAverage Aggregation = "weighted_average"
	AggLastValue       Aggregation = "last_value"
	AggNone            Aggregation = "none"
)

// Aggregations lists the rules in a stable order.
var Aggregations = []Aggregation{AggSum, AggWeightedAverage, AggLastValue, AggNone}

// RatingScale is the declared scale of a rating: values from Min to Max in
// steps of Step (1 to 5 in steps of 0.5 allows 1, 1.5, … 5).
type RatingScale struct {
	Min, Max, Step decimal.Decimal
}

// IsSum reports whether the measure's values add up (the default).
func (m *Measure) IsSum() bool { return m.Aggregation == "" || m.Aggregation == AggSum }

// Agg returns the measure's aggregation, AggSum when unset.
func (m *Measure) Agg() Aggregation {
	if m.Aggregation == "" {
		return AggSum
	}
	return m.Aggregation
}

func (m *Measure) validateKind(v *Validation) {
	switch m.Kind {
	case "", MeasureAmount:
		if m.Rating != nil {
			v.Add("rating", "only a rating measure has a rating scale")
		}
	case MeasureRating:
		if m.Rating == nil {
			v.Add("rating", "is required for a rating measure: min, max and step")
			break
		}
		r := m.Rating
		places := func(f string, d decimal.Decimal) {
			if !d.Equal(d.Truncate(m.Scale)) {
				v.Add(f, "has more decimal places than the measure's scale %d", m.Scale)
			}
		}
		places("rating.min", r.Min)
		places("rating.max", r.Max)
		places("rating.step", r.Step)
		switch {
		case !r.Step.IsPositive():
			v.Add("rating.step", "must be positive")
		case !r.Max.GreaterThan(r.Min):
			v.Add("rating.max", "must be greater than min")
		case !r.Max.Sub(r.Min).Mod(r.Step).IsZero():
			v.Add("rating.step", "must divide max − min into whole steps")
		}
	default:
		v.Add("kind", "must be amount or rating")
	}
	switch m.Aggregation {
	case "", AggSum, AggLastValue, AggNone:
		if m.WeightMeasureID != nil {
			v.Add("weight_measure", "only a weighted_average measure has a weight measure")
		}
	case AggWeightedAverage:
		if m.WeightMeasureID == nil {
			v.Add("weight_measure", "is required for a weighted average: the additive measure it is weighted by, such as revenue")
		} else if m.ID != 0 && *m.WeightMeasureID == m.ID {
			v.Add("weight_measure", "must be another measure")
		}
	default:
		v.Add("aggregation", "must be one of sum, weighted_average, last_value, none")
	}
	if m.Kind == MeasureRating && m.Agg() != AggNone && m.Agg() != AggLastValue {
		v.Add("aggregation", "a rating is not added up or averaged: none or last_value")
	}
}

// CheckValue refuses a value the measure cannot hold: more decimal places
// than its scale, or, for a rating, a value off its scale (below min, above
// max, or between steps).
func (m *Measure) CheckValue(v *Validation, field string, d decimal.Decimal) {
	CheckAmountScale(v, field, d, m.Scale)
	if m.Kind != MeasureRating || m.Rating == nil {
		return
	}
	r := m.Rating
	if d.LessThan(r.Min) || d.GreaterThan(r.Max) || !d.Sub(r.Min).Mod(r.Step).IsZero() {
		v.Add(field, "is not on the rating scale of %s: %s to %s in steps of %s", m.Code, r.Min, r.Max, r.Step)
	}
}

// MeasureFilter selects measures.
type MeasureFilter struct {
	IDs    []int64
	Code   string
	Codes  []string
	Active *bool
	Page   PageRequest
}

// MeasureUpdate is a change to a measure. The scale cannot change once the
// measure exists: amounts already stored are kept at it.
//
// The kind and a rating's scale do not change either (stored ratings were
// checked against the scale); the aggregation and the weight measure may,
// since they only say how stored values are read.
type MeasureUpdate struct {
	Name        *string
	NameLocal   *string
	Active      *bool
	Aggregation *Aggregation
	// WeightMeasureID, when WeightSet, replaces the weight measure (nil
	// removes it).
	WeightSet       bool
	WeightMeasureID *int64
	IfMatch         *int64
}

// MeasureService manages measures. Everybody signed in reads them; master-data
// managers write them (EFORBIDDEN otherwise).
type MeasureService interface {
	FindMeasureByID(ctx context.Context, id int64) (*Measure, error)
	FindMeasures(ctx context.Context, filter MeasureFilter) ([]*Measure, string, error)
	CreateMeasure(ctx context.Context, m *Measure) error
	UpdateMeasure(ctx context.Context, id int64, upd MeasureUpdate) (*Measure, error)
}
