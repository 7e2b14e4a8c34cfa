package allocation

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Node is a node of the tree a cascade runs down: an org unit with its
// children.
type Node struct {
	// Key identifies the node (the org unit's code); keys are unique in the
	// whole tree, since locks and results name nodes by key.
	Key string
	// Weight is the node's weight among its siblings when its parent's
	// level splits proportionally (last year's actuals of this org unit,
	// say). It is read only at such levels; zero or more.
	Weight decimal.Decimal
	// Manual is the node's manual year amount when its parent's level is
	// Manual; nil means none.
	Manual *decimal.Decimal
	// Children are the node's children, in any order: the cascade orders
	// them by key, so the input order never changes a result.
	Children []Node
}

// Lock holds a node at its current amount: the cascade keeps it, spreads
// the rest of its parent over the siblings, and cascades the lock itself
// down to the node's own children.
type Lock struct {
	Key    string
	Amount decimal.Decimal
	// Months, when not nil, are the node's twelve current months, kept as
	// they are; they must add up to Amount. Without them only the year is
	// held and its months are phased like any sibling's.
	Months []decimal.Decimal
}

// CascadeInput is everything a cascade needs.
type CascadeInput struct {
	// Root is the top of the tree, such as the company.
	Root Node
	// Amount is the root's annual amount.
	Amount decimal.Decimal
	// Scale is the measure's number of decimal places: 2 for currency, 0
	// for units.
	Scale int32
	// Levels[d] splits every node at depth d (the root is depth 0) among
	// its children, with its own method and buffer. There must be a level
	// for every depth that has children; extra levels are ignored.
	Levels []Spec
	// Locks hold nodes at their current amounts, by key. The root cannot
	// be locked: its amount is the input.
	Locks []Lock
	// Phasing, when not nil, phases the root's year into twelve months
	// and every node's months from its parent's (see PhaseTable), so that
	// at every node and month the children add up to the parent. Nil
	// cascades years only.
	Phasing *Phasing
}

// ctree is a compiled tree: nodes flattened breadth-first, siblings
// contiguous and in key order, so node i's children are
// first[i] … first[i]+kids[i]−1 and every parent comes before its children.
type ctree struct {
	keys    []string
	parent  []int32
	depth   []int32
	first   []int32
	kids    []int32
	orig    []int32 // index among the input siblings, for error paths
	kinds   []uint8
	fixed   []num
	weights []num
	pin     []int32 // offset of the node's twelve pinned months in pins, or −1
	pins    []num
	index   keyIndex
	levels  []Spec
	factors []factor
	phase   *phaser
	amount  num
	scale   int32
}

// path returns the input path of node i, such as "root.children[2].children[0]".
func (t *ctree) path(i int32) string {
	var idx []int32
	for ; i > 0; i = t.parent[i] {
		idx = append(idx, t.orig[i])
	}
	var b strings.Builder
	b.WriteString("root")
	for k := len(idx) - 1; k >= 0; k-- {
		b.WriteString(".children[")
		b.WriteString(strconv.Itoa(int(idx[k])))
		b.WriteString("]")
	}
	return b.String()
}

// compile validates in and flattens it.
func compile(in *CascadeInput) (*ctree, *Error) {
	if err := checkScale(in.Scale, "scale"); err != nil {
		return nil, err
	}
	t := &ctree{scale: in.Scale}
	amount, err := toMinor(in.Amount, in.Scale, "amount", in.Root.Key)
	if err != nil {
		return nil, err
	}
	t.amount = amount
	t.factors = make([]factor, len(in.Levels))
	for d := range in.Levels {
		if t.factors[d], err = checkSpec(&in.Levels[d], fmt.Sprintf("levels[%d]", d), true); err != nil {
			return nil, err
		}
	}
	t.levels = in.Levels
	if in.Phasing != nil {
		if t.phase, err = checkPhasing(in.Phasing, "phasing"); err != nil {
			return nil, err
		}
	}
	nodes, err := t.flatten(&in.Root)
	if err != nil {
		return nil, err
	}
	if err := t.lock(in.Locks); err != nil {
		return nil, err
	}
	return t, t.convert(nodes)
}

// flatten lays the tree out breadth-first with siblings in key order and
// checks the keys and the levels.
func (t *ctree) flatten(root *Node) ([]*Node, *Error) {
	if root.Key == "" {
		return nil, errorf(EINVALID, "root.key", "", "the key is empty")
	}
	size := countNodes(root)
	nodes := make([]*Node, 1, size)
	nodes[0] = root
	t.keys = make([]string, 1, size)
	t.keys[0] = root.Key
	t.parent = make([]int32, 1, size)
	t.parent[0] = -1
	t.depth = make([]int32, 1, size)
	t.orig = make([]int32, 1, size)
	t.first = make([]int32, 0, size)
	t.kids = make([]int32, 0, size)
	t.index = newKeyIndex(size)
	t.index.insert(t.keys, 0)
	var keys []string
	var perm []int32
	for p := 0; p < len(nodes); p++ {
		kids := nodes[p].Children
		t.first = append(t.first, int32(len(nodes)))
		t.kids = append(t.kids, int32(len(kids)))
		if len(kids) == 0 {
			continue
		}
		if d := int(t.depth[p]); d >= len(t.levels) {
			return nil, errorf(EINVALID, "levels", t.keys[p],
				"%s has children at depth %d but only %d level(s) are given", t.path(int32(p)), d+1, len(t.levels))
		}
		keys = keys[:0]
		for i := range kids {
			keys = append(keys, kids[i].Key)
		}
		var err *Error
		if perm, err = canonical(keys, perm, func(i int) string { return fmt.Sprintf("%s.children[%d].key", t.path(int32(p)), i) }); err != nil {
			return nil, err
		}
		for _, i := range perm {
			c := &kids[i]
			id := int32(len(nodes))
			t.keys = append(t.keys, c.Key)
			if prev, ok := t.index.insert(t.keys, id); !ok {
				return nil, errorf(EINVALID, fmt.Sprintf("%s.children[%d].key", t.path(int32(p)), i), c.Key,
					"the key %q is used twice (also at %s)", c.Key, t.path(prev))
			}
			nodes = append(nodes, c)
			t.parent = append(t.parent, int32(p))
			t.depth = append(t.depth, t.depth[p]+1)
			t.orig = append(t.orig, i)
		}
	}
	t.kinds = make([]uint8, len(nodes))
	return nodes, nil
}

// countNodes counts the nodes of the tree without recursion, so that a
// degenerate, very deep tree cannot exhaust the stack.
func countNodes(root *Node) int {
	n := 0
	stack := []*Node{root}
	for len(stack) > 0 {
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n++
		for i := range nd.Children {
			stack = append(stack, &nd.Children[i])
		}
	}
	return n
}

// lock applies the locks.
func (t *ctree) lock(locks []Lock) *Error {
	for i := range locks {
		l := &locks[i]
		field := fmt.Sprintf("locks[%d]", i)
		id, ok := t.index.find(t.keys, l.Key)
		switch {
		case !ok:
			return errorf(EINVALID, field+".key", l.Key, "no node has the key %q", l.Key)
		case id == 0:
			return errorf(EINVALID, field+".key", l.Key, "the root cannot be locked: its amount is the cascade's input")
		case t.kinds[id] == kindLocked:
			return errorf(EINVALID, field+".key", l.Key, "the node %q is locked twice", l.Key)
		}
		v, err := toMinor(l.Amount, t.scale, field+".amount", l.Key)
		if err != nil {
			return err
		}
		t.fix(id, kindLocked, v)
		if l.Months == nil {
			continue
		}
		if t.phase == nil {
			return errorf(EINVALID, field+".months", l.Key, "locked months need a phased cascade")
		}
		if len(l.Months) != Months {
			return errorf(EINVALID, field+".months", l.Key, "%d locked months given; a year has %d", len(l.Months), Months)
		}
		if t.pin == nil {
			t.pin = make([]int32, len(t.keys))
			for k := range t.pin {
				t.pin[k] = -1
			}
		}
		t.pin[id] = int32(len(t.pins))
		sum := num{}
		for j, d := range l.Months {
			m, err := toMinor(d, t.scale, fmt.Sprintf("%s.months[%d]", field, j), l.Key)
			if err != nil {
				return err
			}
			t.pins = append(t.pins, m)
			sum = sum.add(m)
		}
		if sum.cmp(v) != 0 {
			return errorf(EINVALID, field+".months", l.Key, "the locked months add up to %s, not to the locked amount %s",
				Amount{v: sum, scale: t.scale}, Amount{v: v, scale: t.scale})
		}
	}
	return nil
}

// fix holds node id at amount v; fixed is allocated only when a cascade
// has locks or manual amounts.
func (t *ctree) fix(id int32, kind uint8, v num) {
	if t.fixed == nil {
		t.fixed = make([]num, len(t.keys))
	}
	t.kinds[id], t.fixed[id] = kind, v
}

// convert reads the manual amounts and the weights each level needs.
func (t *ctree) convert(nodes []*Node) *Error {
	var ws weightScratch
	for p := range nodes {
		first, n := int(t.first[p]), int(t.kids[p])
		if n == 0 {
			continue
		}
		sp := &t.levels[t.depth[p]]
		for id := first; id < first+n; id++ {
			nd := nodes[id]
			if nd.Manual == nil {
				continue
			}
			field := t.path(int32(id)) + ".manual"
			if sp.Method != Manual {
				return errorf(EINVALID, field, nd.Key, "a manual amount needs the Manual method, and level %d is %s", t.depth[p], sp.Method)
			}
			if t.kinds[id] == kindLocked {
				return errorf(EINVALID, field, nd.Key, "a node is either locked or manual, not both")
			}
			v, err := toMinor(*nd.Manual, t.scale, field, nd.Key)
			if err != nil {
				return err
			}
			t.fix(int32(id), kindManual, v)
		}
		if !sp.usesWeights() {
			continue
		}
		if t.weights == nil {
			t.weights = make([]num, len(nodes))
		}
		_, err := ws.toWeights(n, func(k int) decimal.Decimal { return nodes[first+k].Weight }, t.weights[first:first+n],
			func(k int) (string, string) { return t.path(int32(first+k)) + ".weight", nodes[first+k].Key })
		if err != nil {
			return err
		}
	}
	return nil
}

// group returns the children of parent p as a split group.
func (t *ctree) group(p int) group {
	first, n := int(t.first[p]), int(t.kids[p])
	g := group{kinds: t.kinds[first : first+n]}
	if t.fixed != nil {
		g.fixed = t.fixed[first : first+n]
	}
	if t.weights != nil && t.levels[t.depth[p]].usesWeights() {
		g.weights = t.weights[first : first+n]
	}
	return g
}

// relFields are placeholders that locate turns into the paths of a parent;
// building the paths only on error keeps the hot path free of formatting.
var relFields = yearFields{children: "children", zeroWeight: "zero_weight", residual: "residual"}

// locate rewrites the placeholder field of an error from parent p's split
// into the input's path and names the parent.
func (t *ctree) locate(err *Error, p int) *Error {
	if err.Code == EINTERNAL {
		return err
	}
	lv := fmt.Sprintf("levels[%d]", t.depth[p])
	switch err.Field {
	case "zero_weight":
		err.Field = lv + ".zero_weight"
	case "residual":
		err.Field = lv + ".residual"
	default:
		err.Field = t.path(int32(p)) + ".children"
	}
	err.Key = t.keys[p]
	err.Message = fmt.Sprintf("splitting %q: %s", t.keys[p], err.Message)
	return err
}
