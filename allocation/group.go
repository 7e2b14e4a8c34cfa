package allocation

import "sync"

// stepper holds everything one call needs to split parents: the scale and
// the scratch buffers of every algorithm. A cascade runs all its nodes
// through one stepper, so the hot path allocates only its results.
type stepper struct {
	scale int32
	lr    lr
	grid  grid
	fw    []num   // weights of the free children
	fo    []num   // shares of the free children
	fpos  []int32 // positions of the free children
}

// steppers recycles steppers, and with them their scratch buffers, across
// calls. Every buffer is overwritten before it is read, so a recycled
// stepper computes exactly what a new one would.
var steppers = sync.Pool{New: func() any { return new(stepper) }}

// getStepper returns a stepper for amounts at scale; putStepper returns it.
func getStepper(scale int32) *stepper {
	st := steppers.Get().(*stepper)
	st.scale, st.grid.scale = scale, scale
	return st
}

func putStepper(st *stepper) { steppers.Put(st) }

// group is one parent's children, in canonical (ascending key) order.
type group struct {
	weights []num // nil unless the spec uses weights
	kinds   []uint8
	fixed   []num // the lock or manual amount of each fixed child
}

// spread says how the free children (neither locked nor manual) got their
// shares.
type spread uint8

const (
	spreadNone         spread = iota // they get zero: Manual without spreading
	spreadZero                       // nothing was left to spread
	spreadEven                       // an even split
	spreadProportional               // a proportional split
	spreadEvenFallback               // an even split because the weights add up to zero
)

// yearOut describes a split of a parent's year among its children.
type yearOut struct {
	target   num // the buffered parent: what the shares add up to
	fixed    num // the locked and manual amounts together
	rest     num // target − fixed, shared by the free children
	residual num // the part of rest left unassigned (ResidualReport)
	how      spread
}

// yearTrace records a split for explanations.
type yearTrace struct {
	lr   lrTrace
	free []int32 // positions of the free children, in canonical order
	out  yearOut
}

// yearFields names the inputs of a split in errors.
type yearFields struct {
	children, zeroWeight, residual, key string
}

// splitYear splits parent among the children of g under sp, buffered by
// fac, writing shares to out in canonical order.
func (st *stepper) splitYear(parent num, sp *Spec, fac factor, g *group, out []num, tr *yearTrace, at yearFields) (yearOut, *Error) {
	n := len(out)
	o := yearOut{target: fac.apply(parent)}
	st.fpos = st.fpos[:0]
	for i := 0; i < n; i++ {
		if g.kinds[i] == kindFree {
			st.fpos = append(st.fpos, int32(i))
			continue
		}
		out[i] = g.fixed[i]
		o.fixed = o.fixed.add(g.fixed[i])
	}
	o.rest = o.target.sub(o.fixed)
	free := st.fpos
	if tr != nil {
		tr.free = append(tr.free[:0], free...)
	}
	fail := func(code, field, format string, args ...any) (yearOut, *Error) {
		return o, errorf(code, field, at.key, format, args...)
	}
	method := sp.Method
	if method == Manual {
		switch sp.Residual {
		case ResidualFail:
			if !o.rest.isZero() {
				return fail(EINFEASIBLE, at.residual,
					"manual and locked amounts add up to %s but the parent (buffered) is %s: residual %s; give the rest manually or spread it with ResidualEven or ResidualProportional",
					st.fmt(o.fixed), st.fmt(o.target), st.fmt(o.rest))
			}
			st.zero(out, free)
			return st.done(o, spreadNone, tr)
		case ResidualReport:
			o.residual = o.rest
			st.zero(out, free)
			return st.done(o, spreadNone, tr)
		case ResidualEven:
			method = Even
		case ResidualProportional:
			method = Proportional
		}
	}
	if len(free) < n && o.rest.sign() != 0 && o.rest.sign() != o.target.sign() {
		if o.target.isZero() {
			return fail(EINFEASIBLE, at.children,
				"locked and manual amounts add up to %s but the parent (buffered) is zero; under a zero parent they must cancel out",
				st.fmt(o.fixed))
		}
		return fail(EINFEASIBLE, at.children,
			"locked and manual amounts add up to %s, which exceeds the parent (buffered) %s: the other children would have to carry %s",
			st.fmt(o.fixed), st.fmt(o.target), st.fmt(o.rest))
	}
	if len(free) == 0 {
		if !o.rest.isZero() {
			return fail(EINFEASIBLE, at.children,
				"every child is locked or manual, and together they carry %s of the parent's (buffered) %s: %s left over",
				st.fmt(o.fixed), st.fmt(o.target), st.fmt(o.rest))
		}
		return st.done(o, spreadZero, tr)
	}
	if o.rest.isZero() {
		st.zero(out, free)
		return st.done(o, spreadZero, tr)
	}
	how := spreadEven
	var w []num
	var total num
	if method == Proportional {
		st.fw = resize(st.fw, len(free))
		for k, i := range free {
			st.fw[k] = g.weights[i]
			total = total.add(g.weights[i])
		}
		w, how = st.fw, spreadProportional
		if total.isZero() {
			if sp.ZeroWeight != ZeroWeightEven {
				return fail(EINFEASIBLE, at.zeroWeight,
					"the weights of the %d children to split %s over add up to zero; set ZeroWeightEven to split evenly instead",
					len(free), st.fmt(o.rest))
			}
			w, how = nil, spreadEvenFallback
		}
	}
	var lt *lrTrace
	if tr != nil {
		lt = &tr.lr
	}
	if len(free) == n {
		st.lr.split(o.rest, w, total, out, lt)
	} else {
		st.fo = resize(st.fo, len(free))
		st.lr.split(o.rest, w, total, st.fo, lt)
		for k, i := range free {
			out[i] = st.fo[k]
		}
	}
	return st.done(o, how, tr)
}

func (st *stepper) zero(out []num, free []int32) {
	for _, i := range free {
		out[i] = num{}
	}
}

func (st *stepper) done(o yearOut, how spread, tr *yearTrace) (yearOut, *Error) {
	o.how = how
	if tr != nil {
		tr.out = o
	}
	return o, nil
}

// fmt formats minor units at the stepper's scale for messages.
func (st *stepper) fmt(v num) string { return string(appendMinor(nil, v, st.scale)) }
