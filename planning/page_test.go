package planning_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestAllPages: every item of every page in order, each page asked for
// with the cursor the last returned; an error ends the sequence; a caller
// that stops ranging asks for no further page.
func TestAllPages(t *testing.T) {
	items := make([]int, 2500)
	for i := range items {
		items[i] = i
	}
	var cursors []string
	find := func(page planning.PageRequest) ([]int, string, error) {
		cursors = append(cursors, page.Cursor)
		if page.Limit != planning.MaxPageSize {
			t.Fatalf("limit %d", page.Limit)
		}
		from := 0
		if page.Cursor != "" {
			from, _ = strconv.Atoi(page.Cursor)
		}
		to := min(from+page.Limit, len(items))
		next := ""
		if to < len(items) {
			next = strconv.Itoa(to)
		}
		return items[from:to], next, nil
	}
	var got []int
	for it, err := range planning.AllPages(find) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, it)
	}
	if !slices.Equal(got, items) || !slices.Equal(cursors, []string{"", "1000", "2000"}) {
		t.Fatalf("got %d items over cursors %q", len(got), cursors)
	}

	cursors = nil
	for it := range planning.AllPages(find) {
		if it == 999 {
			break
		}
	}
	if len(cursors) != 1 {
		t.Errorf("stopping within the first page asked for %d pages", len(cursors))
	}

	boom := errors.New("boom")
	n, errs := 0, 0
	for _, err := range planning.AllPages(func(page planning.PageRequest) ([]int, string, error) {
		if page.Cursor != "" {
			return nil, "", boom
		}
		return []int{1, 2}, "x", nil
	}) {
		if err != nil {
			errs++
			if !errors.Is(err, boom) {
				t.Errorf("error %v", err)
			}
			continue
		}
		n++
	}
	if n != 2 || errs != 1 {
		t.Errorf("%d items and %d errors, want 2 and 1", n, errs)
	}
}
