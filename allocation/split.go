package allocation

import (
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
)

// Result is a split of one parent amount among its children (or of a year
// among its months). Shares are kept in the order of the input children;
// Explain says why each is what it is.
type Result struct {
	scale    int32
	keys     []string // input order
	shares   []num    // input order
	out      yearOut
	basis    Basis // the basis of a proportional share (proportional, profile, reference)
	parent   num
	spec     Spec
	fac      factor
	perm     []int32 // canonical position → input index
	g        group   // canonical order
	canonOut []num   // shares in canonical order
	fields   yearFields
}

// Share is one child's share of a split.
type Share struct {
	Key    string
	Amount Amount
}

// Split splits total among children by spec, at scale decimal places.
//
// The shares add up exactly to the target, total × (1 + spec.Buffer) rounded
// half away from zero, except under Manual with ResidualReport, where they
// add up to the target minus Result.Residual. Locked and manual children keep
// their amounts; every other share is within one minor unit of its exact
// quota (see the package documentation for the rule).
//
// Split returns an *Error: EINVALID for malformed input (no children, an
// empty or duplicate key, a negative weight, an amount with more places than
// scale, an unknown option, a manual amount under another method, a child
// both locked and manual), EINFEASIBLE when the split cannot be done exactly
// (locked or manual amounts exceeding the target, zero total weight under
// ZeroWeightFail, a residual under ResidualFail, every child locked but the
// target not covered), ETOOLARGE beyond the package's limits.
func Split(total decimal.Decimal, scale int32, children []Child, spec Spec) (*Result, error) {
	if err := checkScale(scale, "scale"); err != nil {
		return nil, err
	}
	fac, err := checkSpec(&spec, "spec", false)
	if err != nil {
		return nil, err
	}
	n := len(children)
	if n == 0 {
		return nil, errorf(EINVALID, "children", "", "there are no children to split among")
	}
	parent, err := toMinor(total, scale, "total", "")
	if err != nil {
		return nil, err
	}
	r := &Result{scale: scale, parent: parent, spec: spec, fac: fac, basis: BasisProportional,
		fields: yearFields{children: "children", zeroWeight: "spec.zero_weight", residual: "spec.residual"}}
	r.keys = make([]string, n)
	for i := range children {
		r.keys[i] = children[i].Key
	}
	perm, err := canonical(r.keys, nil, listField("children"))
	if err != nil {
		return nil, err
	}
	r.perm = perm
	r.g = group{kinds: make([]uint8, n)}
	for p, i := range perm {
		c := &children[i]
		if c.Lock == nil && c.Manual == nil {
			continue
		}
		if r.g.fixed == nil {
			r.g.fixed = make([]num, n)
		}
		field := fmt.Sprintf("children[%d]", i)
		if c.Lock != nil && c.Manual != nil {
			return nil, errorf(EINVALID, field, c.Key, "a child is either locked or manual, not both")
		}
		if c.Manual != nil && spec.Method != Manual {
			return nil, errorf(EINVALID, field+".manual", c.Key, "a manual amount needs the Manual method, not %s", spec.Method)
		}
		switch {
		case c.Lock != nil:
			v, err := toMinor(*c.Lock, scale, field+".lock", c.Key)
			if err != nil {
				return nil, err
			}
			r.g.kinds[p], r.g.fixed[p] = kindLocked, v
		case c.Manual != nil:
			v, err := toMinor(*c.Manual, scale, field+".manual", c.Key)
			if err != nil {
				return nil, err
			}
			r.g.kinds[p], r.g.fixed[p] = kindManual, v
		}
	}
	if spec.usesWeights() {
		r.g.weights = make([]num, n)
		var ws weightScratch
		_, err := ws.toWeights(n, func(p int) decimal.Decimal { return children[perm[p]].Weight }, r.g.weights,
			func(p int) (string, string) {
				return fmt.Sprintf("children[%d].weight", perm[p]), children[perm[p]].Key
			})
		if err != nil {
			return nil, err
		}
	}
	if err := r.run(nil); err != nil {
		return nil, err
	}
	return r, nil
}

// run computes the shares, tracing them when tr is not nil.
func (r *Result) run(tr *yearTrace) *Error {
	st := getStepper(r.scale)
	defer putStepper(st)
	n := len(r.keys)
	r.canonOut = resize(r.canonOut, n)
	o, err := st.splitYear(r.parent, &r.spec, r.fac, &r.g, r.canonOut, tr, r.fields)
	if err != nil {
		return err
	}
	r.out = o
	identity := true
	for p, i := range r.perm {
		identity = identity && int(i) == p
	}
	if identity {
		r.shares = r.canonOut
		return nil
	}
	r.shares = make([]num, n)
	for p, i := range r.perm {
		r.shares[i] = r.canonOut[p]
	}
	return nil
}

// canonical returns the permutation that sorts keys ascending (byte-wise),
// after checking that they are non-empty and unique; it reuses perm's
// storage. field(i) names key i for errors; it is called only on error.
func canonical(keys []string, perm []int32, field func(i int) string) ([]int32, *Error) {
	perm = resize(perm, len(keys))
	sorted := true
	for i := range perm {
		perm[i] = int32(i)
		if keys[i] == "" {
			return nil, errorf(EINVALID, field(i), "", "the key is empty")
		}
		if i > 0 && keys[i-1] >= keys[i] {
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(perm, func(a, b int32) int {
			switch {
			case keys[a] < keys[b]:
				return -1
			case keys[a] > keys[b]:
				return 1
			}
			return int(a - b)
		})
		for p := 1; p < len(perm); p++ {
			if keys[perm[p-1]] == keys[perm[p]] {
				return nil, errorf(EINVALID, field(int(perm[p])), keys[perm[p]],
					"the key %q is used twice (also at %s)", keys[perm[p]], field(int(perm[p-1])))
			}
		}
	}
	return perm, nil
}

// listField returns a field namer for the keys of a list.
func listField(list string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s[%d].key", list, i) }
}

// Len returns the number of shares.
func (r *Result) Len() int { return len(r.keys) }

// Key returns the key of share i, in input order.
func (r *Result) Key(i int) string { return r.keys[i] }

// Amount returns share i, in input order.
func (r *Result) Amount(i int) Amount { return Amount{v: r.shares[i], scale: r.scale} }

// Shares returns every share in input order.
func (r *Result) Shares() []Share {
	s := make([]Share, len(r.keys))
	for i := range s {
		s[i] = Share{Key: r.keys[i], Amount: r.Amount(i)}
	}
	return s
}

// Target returns what the shares were split from: the parent amount times
// (1 + buffer), rounded half away from zero.
func (r *Result) Target() Amount { return Amount{v: r.out.target, scale: r.scale} }

// Residual returns the part of the target left unassigned under Manual with
// ResidualReport; it is zero otherwise. The shares add up to
// Target − Residual.
func (r *Result) Residual() Amount { return Amount{v: r.out.residual, scale: r.scale} }

// Explain returns an explanation of every share, in input order. It reruns
// the split with tracing, so it costs about as much as the split itself;
// results that nobody asks about cost nothing to explain.
func (r *Result) Explain() ([]Explanation, error) {
	tr := &yearTrace{}
	again := &Result{scale: r.scale, keys: r.keys, parent: r.parent, spec: r.spec, fac: r.fac, perm: r.perm, g: r.g, fields: r.fields}
	if err := again.run(tr); err != nil {
		return nil, err
	}
	if !equalNums(again.shares, r.shares) {
		return nil, internalf("the split did not repeat itself")
	}
	ex := make([]Explanation, len(r.keys))
	free := freeIndex(tr.free, len(r.keys))
	for p, i := range r.perm {
		ex[i] = explainYear(tr, r.g.kinds, p, free[p], r.keys[i], r.canonOut[p], r.scale, r.basis)
	}
	return ex, nil
}

// equalNums reports whether a and b hold the same values.
func equalNums(a, b []num) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].cmp(b[i]) != 0 {
			return false
		}
	}
	return true
}
