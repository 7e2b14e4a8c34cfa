package allocation

import "hash/maphash"

// keyIndex finds a node by key. It is an open-addressing hash table of
// node ids, a quarter of the size of a map[string]int32 and faster to
// build, which matters because every cascade builds one over its whole
// tree to check that keys are unique. Lookups compare the keys themselves,
// so the random hash seed affects only speed, never a result.
type keyIndex struct {
	slots []int32 // node id + 1; 0 is empty
	mask  uint64
	seed  maphash.Seed
}

// newKeyIndex returns an index with room for n keys.
func newKeyIndex(n int) keyIndex {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return keyIndex{slots: make([]int32, size), mask: uint64(size - 1), seed: maphash.MakeSeed()}
}

// find returns the id of the node with key, and whether there is one.
func (x *keyIndex) find(keys []string, key string) (int32, bool) {
	for h := maphash.String(x.seed, key) & x.mask; ; h = (h + 1) & x.mask {
		s := x.slots[h]
		if s == 0 {
			return 0, false
		}
		if keys[s-1] == key {
			return s - 1, true
		}
	}
}

// insert adds node id under keys[id]. If the key is already there it
// returns the other node's id and false.
func (x *keyIndex) insert(keys []string, id int32) (int32, bool) {
	key := keys[id]
	for h := maphash.String(x.seed, key) & x.mask; ; h = (h + 1) & x.mask {
		s := x.slots[h]
		if s == 0 {
			x.slots[h] = id + 1
			return id, true
		}
		if keys[s-1] == key {
			return s - 1, false
		}
	}
}
