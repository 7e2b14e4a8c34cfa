package allocation

// Explain explains the node with key: its year as a share of its parent's
// split and each month as a cell of its parent's table (the root's year is
// given and its months are a phasing). It reruns that one parent's step
// with tracing, so explaining a node costs about as much as computing its
// siblings did, and explanations nobody asks for cost nothing. It returns
// an EINVALID *Error for an unknown key.
func (r *CascadeResult) Explain(key string) (*NodeExplanation, error) {
	id, ok := r.t.index.find(r.t.keys, key)
	if !ok {
		return nil, errorf(EINVALID, "key", key, "no node has the key %q", key)
	}
	if id == 0 {
		return r.explainRoot()
	}
	p := int(r.t.parent[id])
	family, err := r.explainFamily(p)
	if err != nil {
		return nil, err
	}
	return &family[int(id)-int(r.t.first[p])], nil
}

// Explanations explains every node, in the result's order, rerunning each
// parent's step once. An allocation run can store them with its cells.
func (r *CascadeResult) Explanations() ([]NodeExplanation, error) {
	out := make([]NodeExplanation, 0, r.Len())
	root, err := r.explainRoot()
	if err != nil {
		return nil, err
	}
	out = append(out, *root)
	for p := range r.t.keys {
		if r.t.kids[p] == 0 {
			continue
		}
		family, err := r.explainFamily(p)
		if err != nil {
			return nil, err
		}
		out = append(out, family...)
	}
	// Parents come in order and their children are contiguous, so the
	// families arrive in node order.
	return out, nil
}

// explainRoot explains the root: its year is given, its months phased.
func (r *CascadeResult) explainRoot() (*NodeExplanation, error) {
	t := r.t
	key := t.keys[0]
	ne := &NodeExplanation{Key: key}
	ne.Year = Explanation{Key: key, Amount: r.Year(0), Basis: BasisGiven, Rule: RuleFixed, Floor: r.Year(0)}
	ne.Year.Reason = ne.Year.Amount.String() + ": the cascade's input amount"
	if t.phase == nil {
		return ne, nil
	}
	st := getStepper(t.scale)
	defer putStepper(st)
	months := make([]num, Months)
	tr := &yearTrace{}
	if err := r.phaseRoot(st, months, tr); err != nil {
		return nil, err
	}
	kinds := make([]uint8, Months)
	free := freeIndex(tr.free, Months)
	for j := range months {
		if months[j].cmp(r.get(0, 1+j)) != 0 {
			return nil, internalf("the root's phasing did not repeat itself")
		}
		e := explainYear(tr, kinds, j, free[j], key, months[j], t.scale, t.phase.basis)
		e.Month = j + 1
		ne.Months = append(ne.Months, e)
	}
	return ne, nil
}

// explainFamily explains every child of parent p, in order.
func (r *CascadeResult) explainFamily(p int) ([]NodeExplanation, error) {
	t := r.t
	st := getStepper(t.scale)
	defer putStepper(st)
	first, n := int(t.first[p]), int(t.kids[p])
	g := t.group(p)
	d := t.depth[p]
	years := make([]num, n)
	ytr := &yearTrace{}
	o, err := st.splitYear(r.get(p, 0), &t.levels[d], t.factors[d], &g, years, ytr, relFields)
	if err != nil {
		return nil, t.locate(err, p)
	}
	for k := range years {
		if years[k].cmp(r.get(first+k, 0)) != 0 {
			return nil, internalf("the split of %q did not repeat itself", t.keys[p])
		}
	}
	kinds := g.kinds
	family := make([]NodeExplanation, n)
	free := freeIndex(ytr.free, n)
	for k := range family {
		key := t.keys[first+k]
		family[k] = NodeExplanation{Key: key, Parent: t.keys[p],
			Year: explainYear(ytr, kinds, k, free[k], key, years[k], t.scale, BasisProportional)}
	}
	if t.phase == nil {
		return family, nil
	}
	months, cols, rems := make([]num, Months), make([]num, Months), make([]num, Months)
	for j := range months {
		months[j] = r.get(p, 1+j)
	}
	if err := st.bufferMonths(months, r.get(p, 0), t.factors[d], o.target, cols, rems); err != nil {
		return nil, err
	}
	cells := make([]num, n*Months)
	gtr := &gridTrace{}
	if err := st.grid.round(years, cols, t.pinsOf(p, nil), t.phase.fb, t.phase.fbTotal, cells, gtr); err != nil {
		return nil, t.locate(err, p)
	}
	free = freeIndex(gtr.free, n)
	for k := range family {
		family[k].Months = make([]Explanation, Months)
		for j := 0; j < Months; j++ {
			if cells[k*Months+j].cmp(r.get(first+k, 1+j)) != 0 {
				return nil, internalf("the months of %q did not repeat themselves", t.keys[p])
			}
			family[k].Months[j] = explainCell(gtr, free[k], j, family[k].Key, cells[k*Months+j], t.scale)
		}
	}
	return family, nil
}

// freeIndex maps each of n positions to its index among the free
// positions, or −1 if it is not free.
func freeIndex(free []int32, n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = -1
	}
	for k, i := range free {
		idx[i] = k
	}
	return idx
}
