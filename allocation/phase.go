package allocation

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Months is the number of months a year is phased into.
const Months = 12

// monthKeys are the keys of Phase's shares: "01" … "12", so that the
// key tie-break favours the earlier month.
var monthKeys = [Months]string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}

// PhaseMethod says how a year is spread over its months.
type PhaseMethod int

// The phasing methods. The zero value is invalid.
const (
	// PhaseEven gives every month the same share.
	PhaseEven PhaseMethod = iota + 1
	// PhaseProfile follows a seasonality profile: twelve weights, zero or
	// more, of which only the ratios matter.
	PhaseProfile
	// PhaseReference follows a reference year, such as last year's twelve
	// months of actuals, used as weights; they must not be negative.
	PhaseReference
)

// Phasing says how the year is spread over the twelve months.
type Phasing struct {
	Method PhaseMethod
	// Weights are the twelve weights (PhaseProfile) or reference amounts
	// (PhaseReference), first month of the fiscal year first.
	Weights []decimal.Decimal
	// ZeroWeight says what happens when the weights add up to zero.
	ZeroWeight ZeroWeight
}

// phaser is a validated Phasing.
type phaser struct {
	weights []num // nil for even
	zero    ZeroWeight
	basis   Basis
	fb      []num // fallback month weights for tables: the weights, or twelve ones
	fbTotal num
}

// checkPhasing validates p; field prefixes its fields. Weights that add up
// to zero are not an error yet: as in any split, they matter only when
// there is something to spread.
func checkPhasing(p *Phasing, field string) (*phaser, *Error) {
	ph := &phaser{zero: p.ZeroWeight}
	if p.ZeroWeight != ZeroWeightFail && p.ZeroWeight != ZeroWeightEven {
		return nil, errorf(EINVALID, field+".zero_weight", "", "unknown zero-weight option %d", int(p.ZeroWeight))
	}
	total := num{}
	switch p.Method {
	case PhaseEven:
		ph.basis = BasisEven
		if len(p.Weights) != 0 {
			return nil, errorf(EINVALID, field+".weights", "", "even phasing takes no weights")
		}
	case PhaseProfile, PhaseReference:
		ph.basis = BasisProfile
		if p.Method == PhaseReference {
			ph.basis = BasisReference
		}
		if len(p.Weights) != Months {
			return nil, errorf(EINVALID, field+".weights", "", "%d weights given; phasing needs one per month, %d", len(p.Weights), Months)
		}
		ph.weights = make([]num, Months)
		var ws weightScratch
		var err *Error
		total, err = ws.toWeights(Months, func(i int) decimal.Decimal { return p.Weights[i] }, ph.weights,
			func(i int) (string, string) { return fmt.Sprintf("%s.weights[%d]", field, i), monthKeys[i] })
		if err != nil {
			return nil, err
		}
	default:
		return nil, errorf(EINVALID, field+".method", "", "unknown phasing method %d; use PhaseEven, PhaseProfile or PhaseReference", int(p.Method))
	}
	if ph.weights != nil && !total.isZero() {
		ph.fb, ph.fbTotal = ph.weights, total
	} else {
		ph.fb, ph.fbTotal = make([]num, Months), small(Months)
		for i := range ph.fb {
			ph.fb[i] = small(1)
		}
	}
	return ph, nil
}

// spec returns the split spec that phases by ph.
func (ph *phaser) spec() Spec {
	if ph.weights == nil {
		return Spec{Method: Even}
	}
	return Spec{Method: Proportional, ZeroWeight: ph.zero}
}

// group returns the twelve months as the children of a split.
func (ph *phaser) group() group {
	return group{weights: ph.weights, kinds: make([]uint8, Months), fixed: make([]num, Months)}
}

// monthFields names a phasing's inputs in errors.
func monthFields(field string) yearFields {
	return yearFields{children: field + ".weights", zeroWeight: field + ".zero_weight", residual: field}
}

// Phase spreads an annual total over the twelve months by p, at scale
// decimal places. The result's keys are "01" … "12"; the months add up to
// total exactly and each is within one minor unit of total × weight / Σweights,
// by the largest-remainder rule with ties to the earlier month.
//
// Phase returns an *Error: EINVALID for an unknown method, a number of
// weights other than twelve, a negative weight or an amount with more
// places than scale; EINFEASIBLE when the weights add up to zero under
// ZeroWeightFail.
func Phase(total decimal.Decimal, scale int32, p Phasing) (*Result, error) {
	if err := checkScale(scale, "scale"); err != nil {
		return nil, err
	}
	ph, err := checkPhasing(&p, "phasing")
	if err != nil {
		return nil, err
	}
	parent, err := toMinor(total, scale, "total", "")
	if err != nil {
		return nil, err
	}
	r := &Result{scale: scale, parent: parent, spec: ph.spec(), fac: one, basis: ph.basis}
	r.keys = monthKeys[:]
	r.perm = make([]int32, Months)
	for i := range r.perm {
		r.perm[i] = int32(i)
	}
	r.g = ph.group()
	r.fields = monthFields("phasing")
	if err := r.run(nil); err != nil {
		return nil, err
	}
	return r, nil
}
