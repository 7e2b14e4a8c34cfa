package planning

import (
	"context"
	"time"
)

// IdempotencyTTL is how long a key is remembered at least: a retry with the
// same key within it returns the first response.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyService makes retried POSTs safe. Keys are scoped to the
// calling user.
type IdempotencyService interface {
	// Do runs fn once per (user, key). fn runs inside one transaction that
	// every service call made with the context it is given joins, and
	// returns a record of its outcome, opaque to the store, and whether
	// the outcome is a success to keep. A kept record is stored under the
	// key in that same transaction, so the effect and the record commit
	// together. A failure is not kept: the effect rolls back and the key
	// is released, so the request may be retried with the same key.
	//
	// A key used before with the same fingerprint (method, path and body)
	// returns the stored record and replayed=true without running fn.
	// Returns EINVALID when the key was used with a different request, and
	// ECONFLICT while a request with the key is still running where the
	// store can tell (a store that runs one write at a time may instead
	// wait for it and replay its response). A request that dies holds the
	// key no longer than it lives: nothing of the key outlives a rolled
	// back or abandoned transaction, so its retry runs at once.
	Do(ctx context.Context, key, fingerprint string, fn func(ctx context.Context) (record []byte, keep bool, err error)) (record []byte, replayed bool, err error)
}
