package allocation

import (
	"math/bits"
	"slices"
)

// lr is the scratch space of the one-dimensional largest-remainder method
// (Hamilton's method). One lr serves a whole call, so the nodes of a
// cascade reuse its buffers instead of allocating per node.
type lr struct {
	rems  []num
	order []int32
	keys  []uint64
	tmp   []int64
}

// lrTrace records how a largest-remainder split came about, so that a
// result can explain each share. Floors and remainders are those of the
// magnitude problem (see split); neg says the target was negative.
type lrTrace struct {
	neg    bool
	den    num     // the common denominator of the remainders
	floors []num   // per candidate: ⌊|target| × w / W⌋
	rems   []num   // per candidate: the remainder over den
	rank   []int32 // per candidate: 1-based rank among positive remainders, 0 if none
	tie    []bool  // per candidate: its rank was decided by the key tie-break
	ranked int     // candidates with a positive remainder
	units  int     // remainder units handed out
}

func (t *lrTrace) reset(n int) {
	t.floors = resize(t.floors, n)
	t.rems = resize(t.rems, n)
	t.rank = resize(t.rank, n)
	t.tie = resize(t.tie, n)
	clear(t.rank)
	clear(t.tie)
	t.ranked, t.units = 0, 0
}

// resize returns s with length n, reusing its storage when it can.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// split writes to out[i] the share of target for candidate i, in proportion
// to w[i] with total > 0, or evenly when w is nil. Candidates are in
// canonical order (ascending key): on equal remainders the earlier one gets
// the unit.
//
// The rule is symmetric: a negative target is split as the mirror image of
// its magnitude, so split(−T) = −split(T). For the magnitude t ≥ 0 each
// candidate gets ⌊t×w/W⌋, and the t − Σ⌊…⌋ units left over (fewer than the
// number of candidates) go one each to the largest remainders. Every share is
// therefore its quota rounded toward zero or away from it, within one minor
// unit, and the shares add up to the target exactly.
func (s *lr) split(target num, w []num, total num, out []num, tr *lrTrace) {
	n := len(out)
	neg := target.sign() < 0
	t := target.abs()
	if tr != nil {
		tr.reset(n)
		tr.neg = neg
	}
	if w == nil {
		s.even(t, out, tr)
	} else {
		s.proportional(t, w, total, out, tr)
	}
	if neg {
		for i := range out {
			out[i] = out[i].neg()
		}
	}
}

// even splits t ≥ 0 into len(out) equal shares: every remainder is the
// same, so the first t mod n candidates get the extra unit.
func (s *lr) even(t num, out []num, tr *lrTrace) {
	n := len(out)
	q, r := divFloor(t, small(int64(n)))
	units := r.int()
	for i := range out {
		out[i] = q
		if i < units {
			out[i] = q.add(small(1))
		}
	}
	if tr != nil {
		tr.den = small(int64(n))
		for i := range out {
			tr.floors[i], tr.rems[i] = q, r
			if units > 0 {
				tr.rank[i] = int32(i + 1)
				tr.tie[i] = true
			}
		}
		if units > 0 {
			tr.ranked = n
		}
		tr.units = units
	}
}

// proportional splits t ≥ 0 in proportion to w.
func (s *lr) proportional(t num, w []num, total num, out []num, tr *lrTrace) {
	n := len(out)
	s.rems = resize(s.rems, n)
	sum := num{}
	for i := range out {
		out[i], s.rems[i] = mulDivFloor(t, w[i], total)
		sum = sum.add(out[i])
	}
	units := t.sub(sum).int()
	if tr != nil {
		tr.den = total
		copy(tr.floors, out)
		copy(tr.rems, s.rems)
		tr.units = units
	}
	if units == 0 && tr == nil {
		return
	}
	if tr == nil {
		s.order, s.keys = topRemainders(s.order[:0], s.keys, s.rems, &s.tmp, units)
	} else {
		s.order, s.keys = rankRemainders(s.order[:0], s.keys, s.rems, &s.tmp)
	}
	for _, i := range s.order[:units] {
		out[i] = out[i].add(small(1))
	}
	if tr != nil {
		traceRanks(tr, s.order, s.rems, units)
	}
}

// rankRemainders appends to order the positions of the positive remainders,
// largest first, ties to the earlier position. keys and tmp are scratch.
func rankRemainders(order []int32, keys []uint64, rems []num, tmp *[]int64) ([]int32, []uint64) {
	allSmall := true
	for _, r := range rems {
		allSmall = allSmall && r.isSmall()
	}
	if allSmall {
		*tmp = resize(*tmp, len(rems))
		for i, r := range rems {
			(*tmp)[i] = r.s
		}
		return rank64(order, keys, *tmp)
	}
	for i, r := range rems {
		if r.sign() > 0 {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := rems[b].cmp(rems[a]); c != 0 {
			return c
		}
		return int(a - b)
	})
	return order, keys
}

// rank64 is rankRemainders for int64 remainders. When the largest
// remainder and the positions fit in 64 bits together, each candidate is
// packed into one uint64, (^remainder) << bits | position, so that a plain
// ascending sort of integers yields the order without a comparison
// callback; this is the cascade's hottest loop.
func rank64(order []int32, keys []uint64, rems []int64) ([]int32, []uint64) {
	var maxRem int64
	for i, r := range rems {
		if r > 0 {
			order = append(order, int32(i))
			maxRem = max(maxRem, r)
		}
	}
	if len(order) < 2 {
		return order, keys
	}
	posBits := uint(bits.Len32(uint32(len(rems))))
	if uint(bits.Len64(uint64(maxRem)))+posBits > 64 {
		slices.SortFunc(order, func(a, b int32) int {
			switch {
			case rems[a] > rems[b]:
				return -1
			case rems[a] < rems[b]:
				return 1
			}
			return int(a - b)
		})
		return order, keys
	}
	mask := uint64(1)<<(64-posBits) - 1
	keys = keys[:0]
	for _, i := range order {
		keys = append(keys, (^uint64(rems[i])&mask)<<posBits|uint64(i))
	}
	slices.Sort(keys)
	for k, key := range keys {
		order[k] = int32(key & (1<<posBits - 1))
	}
	return order, keys
}

// topRemainders appends to order the positions of the want largest
// positive remainders (all of them if there are no more), in no particular
// order: enough to hand out units, and linear rather than a sort.
func topRemainders(order []int32, keys []uint64, rems []num, tmp *[]int64, want int) ([]int32, []uint64) {
	for _, r := range rems {
		if !r.isSmall() {
			order, keys = rankRemainders(order, keys, rems, tmp)
			return order[:min(want, len(order))], keys
		}
	}
	*tmp = resize(*tmp, len(rems))
	for i, r := range rems {
		(*tmp)[i] = r.s
	}
	return top64(order, keys, *tmp, want)
}

// top64 is topRemainders for int64 remainders.
func top64(order []int32, keys []uint64, rems []int64, want int) ([]int32, []uint64) {
	var maxRem int64
	for i, r := range rems {
		if r > 0 {
			order = append(order, int32(i))
			maxRem = max(maxRem, r)
		}
	}
	if len(order) <= want {
		return order, keys
	}
	posBits := uint(bits.Len32(uint32(len(rems))))
	if uint(bits.Len64(uint64(maxRem)))+posBits > 64 {
		order, keys = rank64(order[:0], keys, rems)
		return order[:want], keys
	}
	mask := uint64(1)<<(64-posBits) - 1
	keys = keys[:0]
	for _, i := range order {
		keys = append(keys, (^uint64(rems[i])&mask)<<posBits|uint64(i))
	}
	selectSmallest(keys, want)
	order = order[:want]
	for k, key := range keys[:want] {
		order[k] = int32(key & (1<<posBits - 1))
	}
	return order, keys
}

// selectSmallest reorders distinct keys so that keys[:c] hold the c
// smallest, in no particular order (quickselect with a median-of-three
// pivot, finished by a sort of a short range). Which keys end up in
// keys[:c] depends only on the keys, never on the pivots.
func selectSmallest(keys []uint64, c int) {
	lo, hi := 0, len(keys)
	for hi-lo > 16 {
		m := lo + (hi-lo)/2
		if keys[m] < keys[lo] {
			keys[m], keys[lo] = keys[lo], keys[m]
		}
		if keys[hi-1] < keys[lo] {
			keys[hi-1], keys[lo] = keys[lo], keys[hi-1]
		}
		if keys[hi-1] < keys[m] {
			keys[hi-1], keys[m] = keys[m], keys[hi-1]
		}
		keys[m], keys[hi-1] = keys[hi-1], keys[m]
		p := keys[hi-1]
		i := lo
		for j := lo; j < hi-1; j++ {
			if keys[j] < p {
				keys[i], keys[j] = keys[j], keys[i]
				i++
			}
		}
		keys[i], keys[hi-1] = keys[hi-1], keys[i]
		switch {
		case c < i:
			hi = i
		case c > i+1:
			lo = i + 1
		default:
			return
		}
	}
	slices.Sort(keys[lo:hi])
}

// traceRanks records ranks and tie-breaks: a candidate's rank was decided by
// the key when its remainder equals that of a candidate on the other side
// of the cut between those that got a unit and those that did not.
func traceRanks(tr *lrTrace, order []int32, rems []num, units int) {
	tr.ranked = len(order)
	for k, i := range order {
		tr.rank[i] = int32(k + 1)
	}
	if units > 0 && units < len(order) {
		cut := rems[order[units-1]]
		if cut.cmp(rems[order[units]]) == 0 {
			for _, i := range order {
				if rems[i].cmp(cut) == 0 {
					tr.tie[i] = true
				}
			}
		}
	}
}

// topUp rounds quotas whose floors are in out and remainders in rems to
// whole units adding up to target: the target − Σfloors units go one each to
// the largest remainders, ties to the earlier position. It is how buffered
// months are rounded, where the target is itself rounded and so is only
// within half a unit of the quotas' sum; that bound keeps the units between
// zero and the number of positive remainders, which topUp checks.
func (s *lr) topUp(target num, out, rems []num, tr *lrTrace) *Error {
	sum := num{}
	for _, f := range out {
		sum = sum.add(f)
	}
	units := target.sub(sum)
	s.order, s.keys = rankRemainders(s.order[:0], s.keys, rems, &s.tmp)
	if units.sign() < 0 || units.cmp(small(int64(len(s.order)))) > 0 {
		return internalf("%s units to hand out over %d positive remainders", units.toBig(), len(s.order))
	}
	u := units.int()
	for _, i := range s.order[:u] {
		out[i] = out[i].add(small(1))
	}
	if tr != nil {
		tr.units = u
		traceRanks(tr, s.order, rems, u)
	}
	return nil
}
