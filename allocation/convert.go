package allocation

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Limits on inputs. They are far beyond any plan (an int64 of minor units
// already holds ±92 million billion at scale 2) and exist so that a hostile
// input such as "1e-2000000000" is refused instead of exhausting memory.
const (
	// MaxScale is the most decimal places a measure may keep.
	MaxScale = 18
	// MaxDigits is the most decimal digits an amount may have in minor
	// units, and a weight may have once written with as many places as the
	// most precise of its siblings.
	MaxDigits = 60
	// MaxBufferPlaces is the most decimal places an over-assignment buffer
	// may have (0.125 has 3).
	MaxBufferPlaces = 18
)

// checkScale validates a measure's scale.
func checkScale(scale int32, field string) *Error {
	if scale < 0 || scale > MaxScale {
		return errorf(EINVALID, field, "", "scale %d is outside 0..%d", scale, MaxScale)
	}
	return nil
}

// coefficient returns d's coefficient, without allocating when it has at
// most 18 digits.
func coefficient(d decimal.Decimal) num {
	if d.NumDigits() <= 18 {
		return small(d.CoefficientInt64())
	}
	return fromBig(d.Coefficient())
}

// show formats d for an error message, refusing to expand absurd exponents.
func show(d decimal.Decimal) string {
	if e := d.Exponent(); e < -100 || e > 100 || d.NumDigits() > 100 {
		return fmt.Sprintf("%s×10^%d", coefficient(d).toBig().String(), e)
	}
	return d.String()
}

// toMinor converts d to a whole number of minor units at scale. An amount
// that would need rounding is an EINVALID error: Cascade never rounds an
// input silently. Trailing zeros beyond the scale are harmless ("1.500" at
// scale 2 is 150 minor units).
func toMinor(d decimal.Decimal, scale int32, field, key string) (num, *Error) {
	c := coefficient(d)
	if c.isZero() {
		return num{}, nil
	}
	shift := int64(d.Exponent()) + int64(scale)
	nd := int64(c.digits())
	if shift >= 0 {
		if nd+shift > MaxDigits {
			return num{}, errorf(ETOOLARGE, field, key, "%s has more than %d digits in minor units", show(d), MaxDigits)
		}
		return c.mul(pow10(shift)), nil
	}
	k := -shift
	if k >= nd {
		return num{}, placesError(d, scale, field, key)
	}
	q, r := divFloor(c, pow10(k))
	if !r.isZero() {
		return num{}, placesError(d, scale, field, key)
	}
	if nd-k > MaxDigits {
		return num{}, errorf(ETOOLARGE, field, key, "%s has more than %d digits in minor units", show(d), MaxDigits)
	}
	return q, nil
}

func placesError(d decimal.Decimal, scale int32, field, key string) *Error {
	return errorf(EINVALID, field, key, "%s has more decimal places than the scale (%d); amounts are never rounded silently", show(d), scale)
}

// weightScratch holds the per-weight exponents while a group of weights is
// brought to common places.
type weightScratch struct{ exps []int32 }

// toWeights converts the n weights get(0..n-1) to integers at their common
// places, so that only their ratios matter: 1.5, 2 and 0.25 become 150, 200
// and 25. It writes them to out and returns their total. Negative weights
// are EINVALID; the caller decides what a zero total means. where names the
// field and key of weight i for errors.
func (ws *weightScratch) toWeights(n int, get func(int) decimal.Decimal, out []num, where func(int) (string, string)) (num, *Error) {
	if cap(ws.exps) < n {
		ws.exps = make([]int32, n)
	}
	exps := ws.exps[:n]
	emin, emax, any := int32(0), int32(0), false
	for i := 0; i < n; i++ {
		d := get(i)
		c := coefficient(d)
		if c.sign() < 0 {
			f, k := where(i)
			return num{}, errorf(EINVALID, f, k, "weight %s is negative; weights must be zero or more", show(d))
		}
		out[i] = c
		exps[i] = d.Exponent()
		if c.isZero() {
			continue
		}
		if !any || exps[i] < emin {
			emin = exps[i]
		}
		if !any || exps[i] > emax {
			emax = exps[i]
		}
		any = true
	}
	total := num{}
	for i := 0; i < n; i++ {
		if out[i].isZero() {
			continue
		}
		if emax != emin {
			shift := int64(exps[i]) - int64(emin)
			if int64(out[i].digits())+shift > MaxDigits {
				f, k := where(i)
				return num{}, errorf(ETOOLARGE, f, k, "weight %s needs more than %d digits at the places of its siblings", show(get(i)), MaxDigits)
			}
			if shift > 0 {
				out[i] = out[i].mul(pow10(shift))
			}
		} else if out[i].digits() > MaxDigits {
			f, k := where(i)
			return num{}, errorf(ETOOLARGE, f, k, "weight %s has more than %d digits", show(get(i)), MaxDigits)
		}
		total = total.add(out[i])
	}
	return total, nil
}

// factor is an over-assignment multiplier 1 + b held exactly as f/k with
// k = 10^places.
type factor struct{ f, k num }

// one is the factor of a zero buffer.
var one = factor{f: small(1), k: small(1)}

// toFactor converts a buffer b ≥ 0 to the factor 1 + b.
func toFactor(b decimal.Decimal, field string) (factor, *Error) {
	if b.Sign() < 0 {
		return factor{}, errorf(EINVALID, field, "", "buffer %s is negative; a buffer is zero or more", show(b))
	}
	c := coefficient(b)
	if c.isZero() {
		return one, nil
	}
	e := int64(b.Exponent())
	if e >= 0 {
		if int64(c.digits())+e > MaxDigits {
			return factor{}, errorf(ETOOLARGE, field, "", "buffer %s has more than %d digits", show(b), MaxDigits)
		}
		return factor{f: small(1).add(c.mul(pow10(e))), k: small(1)}, nil
	}
	if -e > MaxBufferPlaces {
		return factor{}, errorf(ETOOLARGE, field, "", "buffer %s has more than %d decimal places", show(b), MaxBufferPlaces)
	}
	if c.digits() > MaxDigits {
		return factor{}, errorf(ETOOLARGE, field, "", "buffer %s has more than %d digits", show(b), MaxDigits)
	}
	k := pow10(-e)
	return factor{f: k.add(c), k: k}, nil
}

// isOne reports whether the factor is exactly 1 (no buffer).
func (x factor) isOne() bool { return x.f.cmp(x.k) == 0 }

// apply returns t × f / k rounded half away from zero: the buffered target
// of a parent of t minor units. Half away from zero is the rounding people
// do by hand, and it is symmetric, so a buffered loss is the mirror image of
// the same buffered profit.
func (x factor) apply(t num) num {
	if x.isOne() {
		return t
	}
	q, r := mulDivFloor(t.abs(), x.f, x.k)
	if r.add(r).cmp(x.k) >= 0 {
		q = q.add(small(1))
	}
	if t.sign() < 0 {
		return q.neg()
	}
	return q
}
