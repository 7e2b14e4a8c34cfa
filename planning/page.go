package planning

import (
	"bytes"
	"encoding/base64"
	"iter"
	"strconv"
	"unicode/utf8"
)

// Page size limits for every list.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageRequest asks for one page of a list: at most Limit items after the
// position Cursor names. Cursors are opaque to callers.
type PageRequest struct {
	Limit  int
	Cursor string
}

// Size returns the effective page size.
func (p PageRequest) Size() int {
	if p.Limit <= 0 {
		return DefaultPageSize
	}
	return min(p.Limit, MaxPageSize)
}

// Validate checks the limit and that the cursor is one this package made.
func (p PageRequest) Validate() error {
	var v Validation
	if p.Limit < 0 || p.Limit > MaxPageSize {
		v.Add("limit", "must be between 1 and %d", MaxPageSize)
	}
	if _, err := DecodeCursor(p.Cursor); err != nil {
		v.Add("cursor", "is not a cursor returned by this list")
	}
	return v.Err()
}

// AllPages drains a paged list: it calls find with pages of MaxPageSize,
// the first without a cursor and each next one with the cursor the last
// returned, and yields their items in order until a page returns no next
// cursor. An error of find is yielded, with a zero item, and ends the
// sequence; so does a caller that stops ranging.
func AllPages[T any](find func(PageRequest) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		page := PageRequest{Limit: MaxPageSize}
		for {
			items, next, err := find(page)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			page.Cursor = next
		}
	}
}

// CollectPages drains a paged list as AllPages does and returns all its
// items, or the first error.
func CollectPages[T any](find func(PageRequest) ([]T, string, error)) ([]T, error) {
	var out []T
	for it, err := range AllPages(find) {
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// EncodeCursor makes an opaque cursor from the sort key of the last item.
func EncodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeCursor returns the sort key a cursor encodes; "" for no cursor.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	// Every sort key is UTF-8 text without NUL; anything else is forged,
	// and would not survive the trip to the database.
	if err != nil || len(b) == 0 || len(b) > 256 || !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return "", Errorf(EINVALID, "invalid cursor")
	}
	return string(b), nil
}

func fieldIndex(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
