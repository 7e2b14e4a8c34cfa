package allocation

// grid is the scratch space of the two-dimensional controlled rounding that
// phases children into months. See round. Its cell arrays are column-major
// (cell (k, j) of the free rows is at j×nf + k) so that a month's cells are
// contiguous.
type grid struct {
	scale  int32   // for messages
	free   []int32 // rows that are not pinned
	cols   []num   // column targets left for the free rows
	rows   []num   // free row targets (sign-normalised)
	fast   bool    // every quota fits in int64: f64 and r64 hold them
	f64    []int64 // free rows × columns, column-major
	r64    []int64
	floors []num // the same, when some quota does not fit in int64
	rems   []num
	bump   []uint8
	a      []int // row deficits: units each free row still needs
	c      []int // column deficits
	den    num   // the denominator of floors and rems
	order  []int32
	keys   []uint64
	tmp    []int64
	cand   []int32
	opp    []int
	// breadth-first search of the repair
	queue   []int32
	seenRow []bool
	seenCol []bool
	fromCol []int32
	fromRow []int32
}

// gridTrace records a rounding for explanations.
type gridTrace struct {
	neg       bool
	zeroTotal bool // the free rows add up to zero: quotas use the fallback weights
	den       num  // the common denominator of the remainders
	free      []int32
	floors    []num // free rows × columns, column-major, of the sign-normalised problem
	rems      []num
	bump      []uint8
	greedy    []uint8
	rank      []int32 // rank of the cell's remainder within its column
	full      []bool  // the cell's row needed no more units when its column's turn came
	forced    []bool  // the cell took a unit because its row needed one in every month left
	ranked    []int   // per column: positive remainders
	units     []int   // per column: units handed out
}

// round fills out (rows × columns, row-major) with whole units such that
// row i adds up to rows[i] and column j to cols[j] exactly, each cell of a
// free row within one unit of its exact quota, and pinned rows (pins[i] not
// nil) copied untouched. The sum of rows must equal the sum of cols.
//
// The quotas. The pinned rows take their cells out of the column targets,
// leaving C'_j for the free rows, whose targets R_i add up to B' = ΣC'_j.
// When B' ≠ 0 the quota of a free cell is q_ij = R_i × C'_j / B': the row's
// share of what the month has left, in the month's proportion. When B' = 0
// (locked rows that cancel the parent exactly) that is undefined, and the
// quota is q_ij = R_i × f_j / F + C'_j / n' instead, with f the fallback
// month weights (the seasonality), F their total and n' the free rows. In
// both cases the quotas' rows add up to R_i and their columns to C'_j
// exactly, and those are whole numbers. A table whose free rows add up to a
// negative B' is rounded as the mirror image of its magnitude.
//
// The rounding. Every cell starts at ⌊q_ij⌋. Each row then lacks
// a_i = R_i − Σ_j⌊q_ij⌋ units and each column c_j = C'_j − Σ_i⌊q_ij⌋, and a
// cell may take at most one unit and only if its quota has a fractional
// part. The fractional parts themselves are a fractional solution of that
// transportation problem (0 ≤ frac < 1, rows add to a_i, columns to c_j), so
// by the integrality theorem of network flows a 0/1 solution exists. round
// finds one by iterative largest remainder with a deterministic repair.
// Month by month in order, the month's c_j units go first to the rows that
// are forced (a row still lacking as many units as it has months left with
// a fractional quota must take one in each), then to the largest remainders
// (ties to the smaller key) among the rows that still lack units. Should a
// month still lack units after that, augmenting paths (breadth-first, rows
// and months in order) move units along alternating cells until a row that
// still lacks a unit takes one. Augmenting from a lacking column always
// succeeds while the fractional solution exists (a cut argument: every
// column reachable from it would otherwise be full), so the rounding is
// exact, deterministic, and every free cell is its quota rounded down or up.
// The forcing rule makes the repair rare: in the package's benchmark (4,440
// tables of 10 to 19 rows) it moves 26 units in all, against about 1,500
// without it.
func (g *grid) round(rows, cols []num, pins [][]num, fallback []num, fbTotal num, out []num, tr *gridTrace) *Error {
	n, m := len(rows), len(cols)
	g.cols = resize(g.cols, m)
	copy(g.cols, cols)
	g.free = g.free[:0]
	for i := 0; i < n; i++ {
		if pins != nil && pins[i] != nil {
			for j := 0; j < m; j++ {
				out[i*m+j] = pins[i][j]
				g.cols[j] = g.cols[j].sub(pins[i][j])
			}
			continue
		}
		g.free = append(g.free, int32(i))
	}
	nf := len(g.free)
	total, colTotal := num{}, num{}
	for _, i := range g.free {
		total = total.add(rows[i])
	}
	for j := 0; j < m; j++ {
		colTotal = colTotal.add(g.cols[j])
	}
	if total.cmp(colTotal) != 0 {
		return errorf(EINFEASIBLE, "", "", "the rows add up to %s but the columns to %s",
			appendMinor(nil, total, g.scale), appendMinor(nil, colTotal, g.scale))
	}
	if tr != nil {
		*tr = gridTrace{}
	}
	if nf == 0 {
		for j := 0; j < m; j++ {
			if !g.cols[j].isZero() {
				return errorf(EINFEASIBLE, "", "", "every child's months are locked, but in month %d they miss the total by %s",
					j+1, appendMinor(nil, g.cols[j], g.scale))
			}
		}
		return nil
	}
	neg := total.sign() < 0
	g.rows = resize(g.rows, nf)
	for k, i := range g.free {
		g.rows[k] = rows[i]
		if neg {
			g.rows[k] = g.rows[k].neg()
		}
	}
	if neg {
		for j := range g.cols {
			g.cols[j] = g.cols[j].neg()
		}
	}
	cells := nf * m
	g.bump = resize(g.bump, cells)
	clear(g.bump)
	den := total.abs()
	g.quotas(den, nf, m, fallback, fbTotal)
	if !g.fast {
		den = g.den
	}
	if err := g.deficits(nf, m); err != nil {
		return err
	}
	if tr != nil {
		tr.rank = resize(tr.rank, cells)
		tr.full = resize(tr.full, cells)
		tr.ranked = resize(tr.ranked, m)
		tr.units = append(tr.units[:0], g.c...)
		clear(tr.rank)
		clear(tr.full)
	}
	if tr != nil {
		g.traceRanks(tr, nf, m)
	}
	g.opp = resize(g.opp, nf)
	clear(g.opp)
	for x := 0; x < nf*m; x++ {
		if g.hasRem(x) {
			g.opp[x%nf]++
		}
	}
	for j := 0; j < m; j++ {
		g.fillColumn(j, nf, tr)
	}
	if tr != nil {
		tr.greedy = append(tr.greedy[:0], g.bump...)
	}
	for j := 0; j < m; j++ {
		for g.c[j] > 0 {
			if !g.augment(j, nf, m) {
				return internalf("no augmenting path for column %d", j+1)
			}
		}
	}
	for k, i := range g.free {
		row := out[int(i)*m : int(i+1)*m]
		for j := range row {
			v := g.floor(j*nf + k)
			if g.bump[j*nf+k] != 0 {
				v = v.add(small(1))
			}
			if neg {
				v = v.neg()
			}
			row[j] = v
		}
	}
	if tr != nil {
		tr.neg, tr.zeroTotal, tr.den = neg, total.isZero(), den
		tr.free = append(tr.free[:0], g.free...)
		tr.floors = resize(tr.floors, cells)
		tr.rems = resize(tr.rems, cells)
		for x := range tr.floors {
			tr.floors[x], tr.rems[x] = g.floor(x), g.rem(x)
		}
		tr.bump = append(tr.bump[:0], g.bump...)
	}
	return nil
}

// quotas computes the floors and remainders of every free cell, in int64
// when every quota fits (the common case) and exactly in any case.
func (g *grid) quotas(den num, nf, m int, fallback []num, fbTotal num) {
	cells := nf * m
	g.fast = !forceBig && !den.isZero() && den.isSmall()
	for _, r := range g.rows {
		g.fast = g.fast && r.isSmall()
	}
	for _, c := range g.cols {
		g.fast = g.fast && c.isSmall()
	}
	if g.fast {
		g.f64 = resize(g.f64, cells)
		g.r64 = resize(g.r64, cells)
		d := den.s
	fast:
		for j := 0; j < m; j++ {
			c, fl, rm := g.cols[j].s, g.f64[j*nf:(j+1)*nf], g.r64[j*nf:(j+1)*nf]
			for k, r := range g.rows {
				q, rr, ok := mulDivFloor64(r.s, c, d)
				if !ok {
					g.fast = false
					break fast
				}
				fl[k], rm[k] = q, rr
			}
		}
		if g.fast {
			return
		}
	}
	g.floors = resize(g.floors, cells)
	g.rems = resize(g.rems, cells)
	if !den.isZero() {
		g.den = den
		for j := 0; j < m; j++ {
			c, fl, rm := g.cols[j], g.floors[j*nf:(j+1)*nf], g.rems[j*nf:(j+1)*nf]
			for k, r := range g.rows {
				fl[k], rm[k] = mulDivFloor(r, c, den)
			}
		}
		return
	}
	nfn := small(int64(nf))
	g.den = fbTotal.mul(nfn)
	for j := 0; j < m; j++ {
		cf := g.cols[j].mul(fbTotal)
		for k, r := range g.rows {
			x := r.mul(nfn).mul(fallback[j]).add(cf)
			g.floors[j*nf+k], g.rems[j*nf+k] = divFloor(x, g.den)
		}
	}
}

// floor returns the floor of free cell x.
func (g *grid) floor(x int) num {
	if g.fast {
		return num{s: g.f64[x]}
	}
	return g.floors[x]
}

// rem returns the remainder of free cell x.
func (g *grid) rem(x int) num {
	if g.fast {
		return num{s: g.r64[x]}
	}
	return g.rems[x]
}

// hasRem reports whether free cell x has a fractional quota.
func (g *grid) hasRem(x int) bool {
	if g.fast {
		return g.r64[x] > 0
	}
	return g.rems[x].sign() > 0
}
