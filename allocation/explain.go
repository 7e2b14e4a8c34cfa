package allocation

import (
	"fmt"
	"math/big"
	"strings"
)

// Basis says where an amount came from.
type Basis string

// The bases of an explanation.
const (
	BasisGiven        Basis = "given"             // the input amount of a split or cascade
	BasisEven         Basis = "even"              // an even share
	BasisProportional Basis = "proportional"      // a share in proportion to the weights
	BasisEvenFallback Basis = "even_zero_weights" // an even share because the weights add up to zero
	BasisManual       Basis = "manual"            // the caller's manual amount
	BasisLocked       Basis = "locked"            // the child's locked (current) amount
	BasisUnassigned   Basis = "unassigned"        // no manual amount, residual not spread: zero
	BasisProfile      Basis = "profile"           // a month of a seasonality profile
	BasisReference    Basis = "reference"         // a month in proportion to a reference year
	BasisPhased       Basis = "phased"            // a cell: the child's year in the parent's month's proportion
	BasisPinned       Basis = "pinned"            // a locked month, kept as it was
)

// Rule says how an exact quota became a whole number of minor units.
type Rule string

// The rounding rules of an explanation.
const (
	// RuleExact: the quota was already a whole number of minor units.
	RuleExact Rule = "exact"
	// RuleLargestRemainder: the quota was rounded toward zero and then got
	// one remainder unit, because its remainder ranked among the largest.
	RuleLargestRemainder Rule = "largest_remainder"
	// RuleRoundedDown: the quota was rounded toward zero (for a table cell:
	// down, in the direction of the table's total) and got no unit.
	RuleRoundedDown Rule = "rounded_down"
	// RuleForced: a table cell that took a remainder unit ahead of larger
	// remainders because its row needed one in every month left in which
	// its quota has a fraction; it is its quota rounded up.
	RuleForced Rule = "forced"
	// RuleBalanced: a table cell whose unit was moved in or out by the
	// repair that keeps rows and months adding up at once; it is still its
	// quota rounded down or up.
	RuleBalanced Rule = "balanced"
	// RuleFixed: no rounding; the amount was given, locked or manual.
	RuleFixed Rule = "fixed"
)

// Explanation says why one share or cell is what it is.
type Explanation struct {
	// Key is the child's (or month's) key.
	Key string
	// Month is 1..12 for a month cell of a table or cascade, 0 otherwise.
	Month  int
	Amount Amount
	Basis  Basis
	// Quota is the exact quota in major units: a decimal when it
	// terminates ("33.34", "0.0025"), otherwise a reduced fraction
	// ("100/3"). It is empty for fixed amounts.
	Quota string
	// Floor is the quota rounded to the scale in the rounding's starting
	// direction: toward zero for a split; down for a table cell (up when
	// the table's total is negative, since the table is rounded as the
	// mirror image of its magnitude).
	Floor Amount
	// Rounding is Amount − Floor: zero or one minor unit away from Floor.
	Rounding Amount
	Rule     Rule
	// Rank is the rank of the quota's remainder among the positive
	// remainders competing for units (1 = largest), or 0 if it had none.
	Rank int
	// Of is the number of positive remainders ranked, and Units the number
	// of remainder units handed out among them.
	Of, Units int
	// TieByKey says the remainder equalled one on the other side of the
	// cut, and the smaller key (or earlier month) decided.
	TieByKey bool
	// Reason says all of the above in a sentence.
	Reason string
}

// NodeExplanation explains one node of a cascade: its year, as a share of
// its parent's, and each of its months, as a cell of its parent's table.
type NodeExplanation struct {
	Key    string
	Parent string
	Year   Explanation
	Months []Explanation
}

// ratio is an exact quota in minor units: sign × (floor + rem/den).
type ratio struct {
	neg             bool
	floor, rem, den num
}

// rat returns the quota in major units.
func (q ratio) rat(scale int32) *big.Rat {
	n := q.floor.toBig()
	n.Mul(n, q.den.toBig())
	n.Add(n, q.rem.toBig())
	if q.neg {
		n.Neg(n)
	}
	d := q.den.toBig()
	d.Mul(d, pow10(int64(scale)).toBig())
	return new(big.Rat).SetFrac(n, d)
}

// quotaString formats an exact rational: as a decimal when it terminates,
// as a reduced fraction otherwise.
func quotaString(r *big.Rat) string {
	d := new(big.Int).Set(r.Denom())
	twos, fives := 0, 0
	two, five, m := big.NewInt(2), big.NewInt(5), new(big.Int)
	for d.Cmp(big.NewInt(1)) > 0 {
		if m.Mod(d, two).Sign() == 0 {
			d.Quo(d, two)
			twos++
		} else if m.Mod(d, five).Sign() == 0 {
			d.Quo(d, five)
			fives++
		} else {
			return r.RatString()
		}
	}
	return r.FloatString(max(twos, fives))
}

// approx formats a rational to a few places beyond scale, for reasons.
func approx(r *big.Rat, scale int32) string {
	return r.FloatString(int(scale)+4) + "…"
}

// explainShare explains a rounded quota that competed for remainder units.
func explainShare(e *Explanation, q ratio, rank, of, units int, tie bool, scale int32, amount num) {
	r := q.rat(scale)
	e.Quota = quotaString(r)
	f := q.floor
	if q.neg {
		f = f.neg()
	}
	e.Floor = Amount{v: f, scale: scale}
	e.Rounding = Amount{v: amount.sub(f), scale: scale}
	e.Rank, e.Of, e.Units, e.TieByKey = rank, of, units, tie
	var b strings.Builder
	b.WriteString(e.Amount.String())
	b.WriteString(": quota ")
	b.WriteString(e.Quota)
	if strings.Contains(e.Quota, "/") {
		b.WriteString(" = " + approx(r, scale))
	}
	switch {
	case q.rem.isZero():
		e.Rule = RuleExact
		b.WriteString(", a whole number of minor units")
	case !e.Rounding.IsZero():
		e.Rule = RuleLargestRemainder
		fmt.Fprintf(&b, ", rounded toward zero to %s plus one remainder unit: largest remainder, rank %d of %d, %d unit(s) handed out", e.Floor, rank, of, units)
	default:
		e.Rule = RuleRoundedDown
		fmt.Fprintf(&b, ", rounded toward zero: remainder rank %d of %d, only %d unit(s) handed out", rank, of, units)
	}
	if tie {
		b.WriteString("; tie broken by key")
	}
	e.Reason = b.String()
}

// explainYear explains the share of the child at canonical position pos
// in a traced split.
//
// propBasis is the basis of a proportional share (proportional, profile or
// reference); BasisEvenFallback marks a phasing that fell back to even.
//
// k is the child's index among the free children, or −1.
func explainYear(tr *yearTrace, kinds []uint8, pos, k int, key string, share num, scale int32, propBasis Basis) Explanation {
	e := Explanation{Key: key, Amount: Amount{v: share, scale: scale}}
	switch kinds[pos] {
	case kindLocked:
		e.Basis, e.Rule, e.Floor = BasisLocked, RuleFixed, e.Amount
		e.Reason = e.Amount.String() + ": locked at its current amount"
		return e
	case kindManual:
		e.Basis, e.Rule, e.Floor = BasisManual, RuleFixed, e.Amount
		e.Reason = e.Amount.String() + ": manual amount"
		return e
	}
	o := tr.out
	rest := Amount{v: o.rest, scale: scale}
	switch o.how {
	case spreadNone:
		e.Basis, e.Rule, e.Floor = BasisUnassigned, RuleFixed, e.Amount
		if o.residual.isZero() {
			e.Reason = e.Amount.String() + ": no manual amount, and the manual amounts leave nothing over"
		} else {
			e.Reason = fmt.Sprintf("%s: no manual amount; the residual %s is reported, not spread", e.Amount, Amount{v: o.residual, scale: scale})
		}
		return e
	case spreadZero:
		e.Basis, e.Rule, e.Floor, e.Quota = propBasis, RuleExact, e.Amount, "0"
		e.Reason = e.Amount.String() + ": nothing is left to spread after the locked and manual amounts"
		return e
	case spreadEven:
		e.Basis = BasisEven
		if propBasis == BasisEvenFallback {
			e.Basis = BasisEvenFallback
		}
	case spreadProportional:
		e.Basis = propBasis
	case spreadEvenFallback:
		e.Basis = BasisEvenFallback
	}
	lt := &tr.lr
	q := ratio{neg: lt.neg, floor: lt.floors[k], rem: lt.rems[k], den: lt.den}
	explainShare(&e, q, int(lt.rank[k]), lt.ranked, lt.units, lt.tie[k], scale, share)
	if !o.fixed.isZero() || o.target.cmp(o.rest) != 0 {
		e.Reason += fmt.Sprintf("; share of %s left after the locked and manual amounts", rest)
	}
	if e.Basis == BasisEvenFallback {
		e.Reason += "; split evenly because the weights add up to zero"
	}
	return e
}

// explainCell explains cell (free row k, column j) of a traced table; k is
// −1 for a pinned row.
func explainCell(tr *gridTrace, k, j int, key string, cell num, scale int32) Explanation {
	e := Explanation{Key: key, Month: j + 1, Amount: Amount{v: cell, scale: scale}, Basis: BasisPhased}
	if k < 0 {
		e.Basis, e.Rule, e.Floor = BasisPinned, RuleFixed, e.Amount
		e.Reason = e.Amount.String() + ": a locked month, kept as it was"
		return e
	}
	nf := len(tr.free)
	x := j*nf + k
	q := ratio{neg: tr.neg, floor: tr.floors[x], rem: tr.rems[x], den: tr.den}
	explainShare(&e, q, int(tr.rank[x]), tr.ranked[j], tr.units[j], false, scale, cell)
	e.Reason = strings.Replace(e.Reason, "rounded toward zero", "rounded down", 1)
	e.Reason = strings.Replace(e.Reason, "unit(s) handed out", "unit(s) for the month", 1)
	switch {
	case tr.forced[x] && tr.bump[x] != 0:
		e.Rule = RuleForced
		e.Reason += "; it took its unit first because its row needed one in every month left"
	case tr.bump[x] != tr.greedy[x] && tr.bump[x] != 0:
		e.Rule = RuleBalanced
		e.Reason += "; the unit was moved here by the repair that keeps every row and month adding up"
	case tr.bump[x] != tr.greedy[x]:
		e.Rule = RuleBalanced
		e.Reason += "; its unit was moved to another month of the row by the repair that keeps every row and month adding up"
	case tr.full[x]:
		e.Reason += "; its row already had all its units"
	}
	if tr.zeroTotal {
		e.Reason += "; the free children add up to zero, so the quota follows the seasonality plus an even part of the month"
	} else {
		e.Reason += "; the quota is the child's year in the proportion of what the parent's month leaves"
	}
	return e
}
