package planning

import (
	"context"
	"sync"
)

// ReadMemo keeps what a store read during one request that changes
// nothing, so the request does not read one row twice: a grid read looks
// its version and round up at the edge (Resolve) and the operation reads
// them again. A request that writes carries none, since what it reads
// after a write must be what it wrote; a store keeps in it only rows read
// outside a transaction.
type ReadMemo struct{ m sync.Map }

type readMemoKey struct{}

// WithReadMemo returns ctx carrying a new, empty ReadMemo.
func WithReadMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, readMemoKey{}, &ReadMemo{})
}

// ReadMemoFrom returns the memo of ctx, or nil.
func ReadMemoFrom(ctx context.Context) *ReadMemo {
	m, _ := ctx.Value(readMemoKey{}).(*ReadMemo)
	return m
}

// Load returns the value kept under key.
func (m *ReadMemo) Load(key any) (any, bool) { return m.m.Load(key) }

// Store keeps v under key.
func (m *ReadMemo) Store(key, v any) { m.m.Store(key, v) }
