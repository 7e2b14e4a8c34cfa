package planning

import (
	"context"
	"regexp"
	"time"
)

// MaxScale is the most decimal places a measure may keep.
const MaxScale = 6

// Measure is a planned quantity such as revenue or units: its unit (a
// currency code or "count") and the decimal places amounts are kept at.
// Every measure is additive over time and over the org tree.
type Measure struct {
	ID        int64
	Code      string
	Name      string
	NameLocal string
	Unit      string // ISO 4217 currency code, or "count"
	Scale     int32  // decimal places, e.g. 2 for CNY, 0 for units
	Active    bool
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

var unitPattern = regexp.MustCompile(`^([A-Z]{3}|count)$`)

// Validate checks the fields a caller sets.
func (m *Measure) Validate() error {
	var v Validation
	validateCode(&v, "code", m.Code)
	validateName(&v, "name", m.Name, true)
	validateName(&v, "name_local", m.NameLocal, false)
	if !unitPattern.MatchString(m.Unit) {
		v.Add("unit", "must be a three-letter currency code such as CNY, or \"count\"")
	}
	if m.Scale < 0 || m.Scale > MaxScale {
		v.Add("scale", "must be between 0 and %d", MaxScale)
	}
	return v.Err()
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
type MeasureUpdate struct {
	Name      *string
	NameLocal *string
	Active    *bool
	IfMatch   *int64
}

// MeasureService manages measures. Everybody signed in reads them; master-data
// managers write them (EFORBIDDEN otherwise).
type MeasureService interface {
	FindMeasureByID(ctx context.Context, id int64) (*Measure, error)
	FindMeasures(ctx context.Context, filter MeasureFilter) ([]*Measure, string, error)
	CreateMeasure(ctx context.Context, m *Measure) error
	UpdateMeasure(ctx context.Context, id int64, upd MeasureUpdate) (*Measure, error)
}
