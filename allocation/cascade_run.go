package allocation

import "math/big"

// stride is the number of cells a node keeps: the year, then the months.
func stride(phased bool) int {
	if phased {
		return 1 + Months
	}
	return 1
}

// Cascade splits in.Amount down the tree in one call: the root's amount
// among its children by Levels[0], each child's among its own by
// Levels[1], and so on, and, with Phasing, phases every node into twelve
// months. It guarantees, exactly and at once:
//
//   - at every parent, the children's years add up to the parent's year
//     × (1 + buffer), rounded half away from zero;
//   - with Phasing, every node's months add up to its year, and at every
//     parent and month the children add up to the parent's month × (1 +
//     buffer), those buffered months themselves adding up to the buffered
//     year;
//   - locked nodes (and locked months) keep their amounts, and manual
//     nodes theirs;
//   - every other year share is within one minor unit of its quota, and
//     every other month within one minor unit of its cell quota (see
//     PhaseTable).
//
// The result lists the nodes breadth-first with siblings in key order,
// whatever the input order, so the same input gives a byte-identical result.
//
// Cascade returns an *Error: EINVALID for malformed input (see Split and
// Phase; also a missing level, a key used twice in the tree, a lock on an
// unknown node or on the root, locked months that do not add up, ResidualReport
// in a level), EINFEASIBLE when some parent cannot be split exactly (the
// message and Key name it), ETOOLARGE beyond the package's limits.
func Cascade(in CascadeInput) (*CascadeResult, error) {
	t, err := compile(&in)
	if err != nil {
		return nil, err
	}
	r := &CascadeResult{t: t, stride: stride(t.phase != nil)}
	r.cells = make([]int64, len(t.keys)*r.stride)
	if err := r.run(); err != nil {
		return nil, err
	}
	return r, nil
}

// run computes every cell, parents before children.
func (r *CascadeResult) run() *Error {
	t := r.t
	st := getStepper(t.scale)
	defer putStepper(st)
	r.set(0, 0, t.amount)
	var months, colTotals, mrems []num
	if t.phase != nil {
		months, colTotals, mrems = make([]num, Months), make([]num, Months), make([]num, Months)
		if err := r.phaseRoot(st, months, nil); err != nil {
			return err
		}
		for j, v := range months {
			r.set(0, 1+j, v)
		}
	}
	var years, cells []num
	var pins [][]num
	for p := range t.keys {
		n := int(t.kids[p])
		if n == 0 {
			continue
		}
		first := int(t.first[p])
		years = resize(years, n)
		g := t.group(p)
		d := t.depth[p]
		o, err := st.splitYear(r.get(p, 0), &t.levels[d], t.factors[d], &g, years, nil, relFields)
		if err != nil {
			return t.locate(err, p)
		}
		for k, v := range years {
			r.set(first+k, 0, v)
		}
		if t.phase == nil {
			continue
		}
		for j := range months {
			months[j] = r.get(p, 1+j)
		}
		if err := st.bufferMonths(months, r.get(p, 0), t.factors[d], o.target, colTotals, mrems); err != nil {
			return err
		}
		pins = t.pinsOf(p, pins)
		cells = resize(cells, n*Months)
		if err := st.grid.round(years, colTotals, pins, t.phase.fb, t.phase.fbTotal, cells, nil); err != nil {
			return t.locate(err, p)
		}
		for k := 0; k < n; k++ {
			for j := 0; j < Months; j++ {
				r.set(first+k, 1+j, cells[k*Months+j])
			}
		}
	}
	return nil
}

// phaseRoot phases the root's year into months, tracing when tr is not nil.
func (r *CascadeResult) phaseRoot(st *stepper, months []num, tr *yearTrace) *Error {
	ph := r.t.phase
	sp := ph.spec()
	g := ph.group()
	if _, err := st.splitYear(r.t.amount, &sp, one, &g, months, tr, monthFields("phasing")); err != nil {
		return err
	}
	return nil
}

// pinsOf returns the pinned months of parent p's children, or nil if none
// is pinned.
func (t *ctree) pinsOf(p int, buf [][]num) [][]num {
	if t.pin == nil {
		return nil
	}
	first, n := int(t.first[p]), int(t.kids[p])
	buf = resize(buf, n)
	any := false
	for k := 0; k < n; k++ {
		buf[k] = nil
		if x := t.pin[first+k]; x >= 0 {
			buf[k] = t.pins[int(x) : int(x)+Months]
			any = true
		}
	}
	if !any {
		return nil
	}
	return buf
}

// bufferMonths computes what the children's months must add up to: the
// parent's months × (1 + b). Each month's quota P_j × (1 + b) is rounded by
// largest remainder to whole units adding up to the buffered year target,
// which is itself the year × (1 + b) rounded half away from zero, so the
// target is within half a unit of the quotas' sum and every month is within
// one unit of its quota. A negative year is handled as the mirror image of
// its magnitude. Without a buffer the months are the parent's.
func (st *stepper) bufferMonths(months []num, year num, fac factor, target num, out, rems []num) *Error {
	if fac.isOne() {
		copy(out, months)
		return nil
	}
	neg := year.sign() < 0
	for j, p := range months {
		if neg {
			p = p.neg()
		}
		out[j], rems[j] = mulDivFloor(p, fac.f, fac.k)
	}
	if neg {
		target = target.neg()
	}
	if err := st.lr.topUp(target, out, rems, nil); err != nil {
		return err
	}
	if neg {
		for j := range out {
			out[j] = out[j].neg()
		}
	}
	return nil
}

// get returns cell c (0 = year, 1..12 = months) of node i.
func (r *CascadeResult) get(i, c int) num {
	x := i*r.stride + c
	if r.big != nil && r.big[x] != nil {
		return num{b: r.big[x]}
	}
	return num{s: r.cells[x]}
}

// set stores cell c of node i.
func (r *CascadeResult) set(i, c int, v num) {
	x := i*r.stride + c
	if v.b == nil {
		r.cells[x] = v.s
		if r.big != nil {
			r.big[x] = nil
		}
		return
	}
	if r.big == nil {
		r.big = make([]*big.Int, len(r.cells))
	}
	r.cells[x] = 0
	r.big[x] = v.b
}
