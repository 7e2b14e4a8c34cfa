package allocation

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Method says how a parent amount is split among its children.
type Method int

// The methods. The zero Method is invalid, so a forgotten field is caught.
const (
	// Even gives every unlocked child the same share.
	Even Method = iota + 1
	// Proportional gives every unlocked child a share in proportion to its
	// Weight: last year's actuals, another version's targets, market
	// potential. Only the ratios of the weights matter.
	Proportional
	// Manual takes the amounts the caller gives (Child.Manual) and checks
	// them against the parent; what they leave, the residual, is handled by
	// Spec.Residual.
	Manual
)

// String returns the method's name as used in explanations and errors.
func (m Method) String() string {
	switch m {
	case Even:
		return "even"
	case Proportional:
		return "proportional"
	case Manual:
		return "manual"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ZeroWeight says what Proportional does when the weights of the children
// it spreads over add up to zero (all zero, such as a branch with no history).
// Whatever the choice, nothing is ever divided by zero. When the amount to
// spread is itself zero the weights do not matter and every share is zero.
type ZeroWeight int

// The zero-weight options. The zero value fails, so falling back to an even
// split is always an explicit choice.
const (
	// ZeroWeightFail returns an EINFEASIBLE error.
	ZeroWeightFail ZeroWeight = iota
	// ZeroWeightEven splits evenly instead, and the explanation says so.
	ZeroWeightEven
)

// Residual says what Manual does with the residual: the (buffered) parent
// minus the manual and locked amounts.
type Residual int

// The residual options. The zero value fails unless the manual amounts add
// up exactly, so shares never silently stop adding up to the parent.
const (
	// ResidualFail returns an EINFEASIBLE error naming the residual unless
	// it is zero; children without a manual amount get zero.
	ResidualFail Residual = iota
	// ResidualReport accepts any residual and reports it in
	// Result.Residual; children without a manual amount get zero, so the
	// shares add up to the parent minus the residual. Split only: a cascade
	// must add up and rejects it.
	ResidualReport
	// ResidualEven spreads the residual evenly over the children without a
	// manual amount or a lock.
	ResidualEven
	// ResidualProportional spreads the residual over the children without a
	// manual amount or a lock, in proportion to their weights (ZeroWeight
	// applies).
	ResidualProportional
)

// String returns the option's name.
func (r Residual) String() string {
	switch r {
	case ResidualFail:
		return "fail"
	case ResidualReport:
		return "report"
	case ResidualEven:
		return "even"
	case ResidualProportional:
		return "proportional"
	}
	return fmt.Sprintf("Residual(%d)", int(r))
}

// Spec says how one parent is split among its children: the method, its
// options and the over-assignment buffer. A cascade takes one Spec per level.
type Spec struct {
	Method     Method
	ZeroWeight ZeroWeight
	Residual   Residual
	// Buffer is the over-assignment b ≥ 0: the children together carry
	// parent × (1 + b), such as 0.10 or 0.125, with at most
	// MaxBufferPlaces decimal places. The buffered target is rounded to the
	// scale half away from zero (see the package documentation). Zero, the
	// zero value, means no buffer.
	Buffer decimal.Decimal
}

// Child is one child of a split.
type Child struct {
	// Key identifies the child (an org unit's or a month's code). Keys are
	// unique among siblings, and ties between equal remainders go to the
	// smaller key, compared byte by byte.
	Key string
	// Weight is the child's weight under Proportional (or
	// ResidualProportional): zero or more, any number of places.
	Weight decimal.Decimal
	// Manual is the amount the caller gives the child under Manual; nil
	// means none. It must be a whole number of minor units.
	Manual *decimal.Decimal
	// Lock, when not nil, holds the child at this amount (its current
	// amount): the rest of the parent is spread over the other children. It
	// must be a whole number of minor units.
	Lock *decimal.Decimal
}

// kinds of children in a split.
const (
	kindFree   uint8 = iota // gets a share by the method
	kindLocked              // keeps its lock
	kindManual              // keeps its manual amount
)

// checkSpec validates s; field prefixes its fields ("spec", "levels[2]").
// inCascade rejects ResidualReport, which would break the sums.
func checkSpec(s *Spec, field string, inCascade bool) (factor, *Error) {
	switch s.Method {
	case Even, Proportional, Manual:
	default:
		return factor{}, errorf(EINVALID, field+".method", "", "unknown method %d; use Even, Proportional or Manual", int(s.Method))
	}
	if s.ZeroWeight != ZeroWeightFail && s.ZeroWeight != ZeroWeightEven {
		return factor{}, errorf(EINVALID, field+".zero_weight", "", "unknown zero-weight option %d", int(s.ZeroWeight))
	}
	switch s.Residual {
	case ResidualFail, ResidualEven, ResidualProportional:
	case ResidualReport:
		if inCascade {
			return factor{}, errorf(EINVALID, field+".residual", "", "a cascade must add up at every node; use ResidualFail, ResidualEven or ResidualProportional")
		}
	default:
		return factor{}, errorf(EINVALID, field+".residual", "", "unknown residual option %d", int(s.Residual))
	}
	return toFactor(s.Buffer, field+".buffer")
}

// usesWeights reports whether a split under s reads the children's weights.
func (s *Spec) usesWeights() bool {
	return s.Method == Proportional || (s.Method == Manual && s.Residual == ResidualProportional)
}
