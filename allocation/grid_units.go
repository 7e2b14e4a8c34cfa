package allocation

import (
	"math"
	"slices"
)

// This file holds the steps of grid.round that hand out the remainder
// units: the greedy pass, month by month, and the augmenting-path repair.

// fillColumn hands column j's units to its cells. A row that needs a unit
// in every remaining column where its quota has a fraction (g.opp counts
// them) is forced: it takes its unit first, or it would end short and
// need the repair. The other units go to the largest remainders among the
// rows that still lack units, ties to the smaller key. Only those
// candidates are ranked, and not at all when they are no more than the
// units left.
func (g *grid) fillColumn(j, nf int, tr *gridTrace) {
	if g.fast && tr == nil {
		g.fillColumn64(j, nf)
		return
	}
	x0 := j * nf
	if tr != nil {
		for k := 0; k < nf; k++ {
			tr.full[x0+k] = g.hasRem(x0+k) && g.a[k] == 0
		}
	}
	g.order = g.order[:0]
	for k := 0; k < nf; k++ {
		if g.c[j] == 0 || g.a[k] == 0 || !g.hasRem(x0+k) {
			continue
		}
		if g.a[k] >= g.opp[k] {
			g.bump[x0+k] = 1
			g.a[k]--
			g.c[j]--
			if tr != nil {
				tr.forced[x0+k] = true
			}
		}
	}
	for k := 0; k < nf; k++ {
		if g.a[k] > 0 && g.hasRem(x0+k) && g.bump[x0+k] == 0 {
			g.order = append(g.order, int32(k))
		}
	}
	if len(g.order) > g.c[j] {
		if g.fast {
			g.topOfColumn(x0, g.c[j])
		} else {
			slices.SortStableFunc(g.order, func(a, b int32) int { return g.rems[x0+int(b)].cmp(g.rems[x0+int(a)]) })
		}
		g.order = g.order[:g.c[j]]
	}
	for _, k := range g.order {
		g.bump[x0+int(k)] = 1
		g.a[k]--
	}
	g.c[j] -= len(g.order)
	for k := 0; k < nf; k++ {
		if g.hasRem(x0 + k) {
			g.opp[k]--
		}
	}
}

// fillColumn64 is fillColumn for int64 quotas without tracing: the same
// decisions in fewer passes, since it is the cascade's hottest loop.
func (g *grid) fillColumn64(j, nf int) {
	x0 := j * nf
	rem, bump, a, opp := g.r64[x0:x0+nf], g.bump[x0:x0+nf], g.a[:nf], g.opp[:nf]
	c := g.c[j]
	if c > 0 {
		for k, r := range rem {
			if r > 0 && a[k] > 0 && a[k] >= opp[k] {
				bump[k] = 1
				a[k]--
				if c--; c == 0 {
					break
				}
			}
		}
	}
	g.order = g.order[:0]
	if c > 0 {
		for k, r := range rem {
			if r > 0 && a[k] > 0 && bump[k] == 0 {
				g.order = append(g.order, int32(k))
			}
		}
		if len(g.order) > c {
			g.topOfColumn(x0, c)
			g.order = g.order[:c]
		}
		for _, k := range g.order {
			bump[k] = 1
			a[k]--
		}
		c -= len(g.order)
	}
	g.c[j] = c
	for k, r := range rem {
		if r > 0 {
			opp[k]--
		}
	}
}

// topOfColumn narrows g.order, candidate rows of the column starting at
// cell x0, to the want with the largest int64 remainders (ties to the
// smaller row) in its first want places.
func (g *grid) topOfColumn(x0, want int) {
	g.tmp = resize(g.tmp, len(g.order))
	for i, k := range g.order {
		g.tmp[i] = g.r64[x0+int(k)]
	}
	g.cand = append(g.cand[:0], g.order...)
	g.order, g.keys = top64(g.order[:0], g.keys, g.tmp, want)
	for i, p := range g.order {
		g.order[i] = g.cand[p]
	}
}

// traceRanks records each cell's rank within its column, for explanations.
func (g *grid) traceRanks(tr *gridTrace, nf, m int) {
	cells := nf * m
	tr.rank = resize(tr.rank, cells)
	tr.full = resize(tr.full, cells)
	tr.forced = resize(tr.forced, cells)
	tr.ranked = resize(tr.ranked, m)
	tr.units = append(tr.units[:0], g.c...)
	clear(tr.rank)
	clear(tr.full)
	clear(tr.forced)
	col := make([]num, nf)
	for j := 0; j < m; j++ {
		for k := range col {
			col[k] = g.rem(j*nf + k)
		}
		order, _ := rankRemainders(nil, nil, col, new([]int64))
		tr.ranked[j] = len(order)
		for r, k := range order {
			tr.rank[j*nf+int(k)] = int32(r + 1)
		}
	}
}

// deficits computes how many units each free row and column lacks after
// rounding every quota down, and checks the bounds the method relies on.
func (g *grid) deficits(nf, m int) *Error {
	g.a = resize(g.a, nf)
	g.c = resize(g.c, m)
	for k := 0; k < nf; k++ {
		d, ok := int64(0), false
		if g.fast {
			d, ok = sub64(g.rows[k].s, sumStrided(g.f64, k, nf, m))
		}
		if !ok {
			s := num{}
			for j := 0; j < m; j++ {
				s = s.add(g.floor(j*nf + k))
			}
			d, ok = g.rows[k].sub(s).s, g.rows[k].sub(s).isSmall()
		}
		if !ok || d < 0 || d > int64(m) {
			return internalf("row deficit out of range")
		}
		g.a[k] = int(d)
	}
	for j := 0; j < m; j++ {
		d, ok := int64(0), false
		if g.fast {
			d, ok = sub64(g.cols[j].s, sumStrided(g.f64, j*nf, 1, nf))
		}
		if !ok {
			s := num{}
			for k := 0; k < nf; k++ {
				s = s.add(g.floor(j*nf + k))
			}
			d, ok = g.cols[j].sub(s).s, g.cols[j].sub(s).isSmall()
		}
		if !ok || d < 0 || d > int64(nf) {
			return internalf("column deficit out of range")
		}
		g.c[j] = int(d)
	}
	return nil
}

// sumStrided returns Σ xs[start + i×step] for i < n, or math.MinInt64 if
// the sum overflows (sub64 then reports failure and the caller recomputes
// exactly).
func sumStrided(xs []int64, start, step, n int) int64 {
	s := int64(0)
	for i := 0; i < n; i++ {
		v := xs[start+i*step]
		t := s + v
		if (t > s) != (v > 0) {
			return math.MinInt64
		}
		s = t
	}
	return s
}

// sub64 returns a − b and whether it is exact; b = math.MinInt64 marks an
// overflowed sum and fails.
func sub64(a, b int64) (int64, bool) {
	if b == math.MinInt64 {
		return 0, false
	}
	d := a - b
	return d, (d < a) == (b > 0)
}

// augment moves one more unit into column j0 along an alternating path:
// add a unit to a cell of j0 whose row is full, take one out of another
// column of that row, add one to that column in another row, and so on,
// until a row that still lacks a unit takes the last one. Rows and columns
// are searched in order, so the path is deterministic.
func (g *grid) augment(j0, nf, m int) bool {
	g.seenRow = resize(g.seenRow, nf)
	g.seenCol = resize(g.seenCol, m)
	g.fromCol = resize(g.fromCol, nf)
	g.fromRow = resize(g.fromRow, m)
	clear(g.seenRow)
	clear(g.seenCol)
	g.queue = append(g.queue[:0], int32(j0))
	g.seenCol[j0] = true
	for q := 0; q < len(g.queue); q++ {
		j := int(g.queue[q])
		for k := 0; k < nf; k++ {
			x := j*nf + k
			if g.seenRow[k] || g.bump[x] != 0 || !g.hasRem(x) {
				continue
			}
			g.seenRow[k] = true
			g.fromCol[k] = int32(j)
			if g.a[k] > 0 {
				g.a[k]--
				g.c[j0]--
				for {
					jj := int(g.fromCol[k])
					g.bump[jj*nf+k] = 1
					if jj == j0 {
						return true
					}
					k = int(g.fromRow[jj])
					g.bump[jj*nf+k] = 0
				}
			}
			for j2 := 0; j2 < m; j2++ {
				if g.bump[j2*nf+k] != 0 && !g.seenCol[j2] {
					g.seenCol[j2] = true
					g.fromRow[j2] = int32(k)
					g.queue = append(g.queue, int32(j2))
				}
			}
		}
	}
	return false
}

// sumNums returns Σ xs.
func sumNums(xs []num) num {
	s := num{}
	for _, x := range xs {
		s = s.add(x)
	}
	return s
}
