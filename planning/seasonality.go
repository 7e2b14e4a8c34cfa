package planning

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// SeasonalityProfile holds twelve non-negative monthly weights used to phase
// an annual amount across the fiscal year's months, first month first. Only
// the ratios matter: 1,1,…,1 is even phasing.
type SeasonalityProfile struct {
	ID        int64
	Code      string
	Name      string
	Weights   [12]decimal.Decimal
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks the code, name and weights.
func (p *SeasonalityProfile) Validate() error {
	var v Validation
	validateCode(&v, "code", p.Code)
	validateName(&v, "name", p.Name, true)
	validateWeights(&v, p.Weights)
	return v.Err()
}

func validateWeights(v *Validation, w [12]decimal.Decimal) {
	sum := decimal.Zero
	for i, x := range w {
		if x.IsNegative() {
			v.Add(fieldIndex("weights", i), "must not be negative")
		}
		sum = sum.Add(x)
	}
	if !sum.IsPositive() {
		v.Add("weights", "must not all be zero")
	}
}

// SeasonalityProfileFilter selects profiles.
type SeasonalityProfileFilter struct {
	Code string
	Page PageRequest
}

// SeasonalityProfileUpdate is a change to a profile; nil fields stay.
type SeasonalityProfileUpdate struct {
	Name    *string
	Weights *[12]decimal.Decimal
	IfMatch *int64
}

// SeasonalityProfileService manages profiles: everyone reads them, master-data
// managers and product managers write them.
type SeasonalityProfileService interface {
	FindSeasonalityProfileByID(ctx context.Context, id int64) (*SeasonalityProfile, error)
	FindSeasonalityProfiles(ctx context.Context, filter SeasonalityProfileFilter) ([]*SeasonalityProfile, string, error)
	CreateSeasonalityProfile(ctx context.Context, p *SeasonalityProfile) error
	UpdateSeasonalityProfile(ctx context.Context, id int64, upd SeasonalityProfileUpdate) (*SeasonalityProfile, error)
}
