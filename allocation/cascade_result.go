package allocation

import (
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"math/big"
	"strconv"
)

// CascadeResult holds every node's year and months, compactly: one int64
// of minor units per cell (a math/big integer only for the rare cell beyond
// int64), the keys shared with the input. Nodes are numbered 0 … Len()−1
// breadth-first with siblings in key order: the root is 0 and every parent
// comes before its children.
type CascadeResult struct {
	t      *ctree
	stride int
	cells  []int64
	big    []*big.Int // nil unless some cell is beyond int64
}

// NodeAmounts is one row of a cascade's flat result.
type NodeAmounts struct {
	Key    string
	Parent string // "" for the root
	Depth  int
	Year   Amount
	Months []Amount // twelve, or nil when the cascade is not phased
}

// Cell is one stored amount of a cascade: a node's month, or its year
// when the cascade is not phased.
type Cell struct {
	Node   int    // the node's index in the result
	Key    string // the node's key
	Month  int    // 1 … 12, or 0 for the year of an unphased cascade
	Amount Amount
}

// Len returns the number of nodes.
func (r *CascadeResult) Len() int { return len(r.t.keys) }

// Phased reports whether the cascade has months.
func (r *CascadeResult) Phased() bool { return r.t.phase != nil }

// Scale returns the number of decimal places of the amounts.
func (r *CascadeResult) Scale() int32 { return r.t.scale }

// Index returns the index of the node with key, and whether there is one.
func (r *CascadeResult) Index(key string) (int, bool) {
	i, ok := r.t.index.find(r.t.keys, key)
	return int(i), ok
}

// Key returns the key of node i.
func (r *CascadeResult) Key(i int) string { return r.t.keys[i] }

// Parent returns the index of node i's parent, or −1 for the root.
func (r *CascadeResult) Parent(i int) int { return int(r.t.parent[i]) }

// Depth returns node i's depth; the root is 0.
func (r *CascadeResult) Depth(i int) int { return int(r.t.depth[i]) }

// Children returns the indexes of node i's children: first … first+n−1.
func (r *CascadeResult) Children(i int) (first, n int) { return int(r.t.first[i]), int(r.t.kids[i]) }

// Year returns node i's annual amount.
func (r *CascadeResult) Year(i int) Amount { return Amount{v: r.get(i, 0), scale: r.t.scale} }

// Month returns node i's amount in month m, 1 … 12. It panics if the
// cascade is not phased.
func (r *CascadeResult) Month(i, m int) Amount {
	if r.t.phase == nil {
		panic("allocation: Month on a cascade without phasing")
	}
	if m < 1 || m > Months {
		panic("allocation: month " + strconv.Itoa(m) + " out of 1..12")
	}
	return Amount{v: r.get(i, m), scale: r.t.scale}
}

// Node returns node i as a row of the flat result.
func (r *CascadeResult) Node(i int) NodeAmounts {
	na := NodeAmounts{Key: r.t.keys[i], Depth: int(r.t.depth[i]), Year: r.Year(i)}
	if p := r.t.parent[i]; p >= 0 {
		na.Parent = r.t.keys[p]
	}
	if r.t.phase != nil {
		na.Months = make([]Amount, Months)
		for j := range na.Months {
			na.Months[j] = Amount{v: r.get(i, 1+j), scale: r.t.scale}
		}
	}
	return na
}

// Nodes returns the flat result: every node in order with its year and
// months.
func (r *CascadeResult) Nodes() []NodeAmounts {
	out := make([]NodeAmounts, r.Len())
	for i := range out {
		out[i] = r.Node(i)
	}
	return out
}

// Cells iterates over the cells to store, nodes in order and months in
// order: twelve per node when phased, else one (the year, Month 0). It
// allocates nothing per cell; call Amount.Decimal only where a
// decimal.Decimal is needed, or Amount.Minor or AppendText to avoid it.
func (r *CascadeResult) Cells() iter.Seq[Cell] {
	return func(yield func(Cell) bool) {
		for i, key := range r.t.keys {
			if r.t.phase == nil {
				if !yield(Cell{Node: i, Key: key, Amount: r.Year(i)}) {
					return
				}
				continue
			}
			for m := 1; m <= Months; m++ {
				if !yield(Cell{Node: i, Key: key, Month: m, Amount: Amount{v: r.get(i, m), scale: r.t.scale}}) {
					return
				}
			}
		}
	}
}

// Checksum returns a SHA-256, in hex, of the result's canonical text (each
// node's key, year and months). Equal inputs give equal checksums, so an
// allocation run can record it and a replay can be verified against it.
func (r *CascadeResult) Checksum() string {
	h := sha256.New()
	var buf []byte
	for i, key := range r.t.keys {
		buf = append(buf[:0], key...)
		for c := 0; c < r.stride; c++ {
			buf = append(buf, '\t')
			buf = appendMinor(buf, r.get(i, c), r.t.scale)
		}
		buf = append(buf, '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
