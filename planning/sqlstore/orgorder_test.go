package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// TestOrgUnitsInTreeOrder: the list is the tree read top-down: every unit
// right after its parent's earlier siblings' subtrees, each subtree
// contiguous, siblings in the order they were created (by id, numerically:
// unit 10 after unit 2), the same page by page.
func TestOrgUnitsInTreeOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("admin")
		all, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 12 || all[0].ParentID != nil {
			t.Fatalf("%d units, first %+v", len(all), all[0])
		}
		pos := map[int64]int{}
		for i, u := range all {
			pos[u.ID] = i
		}
		lastChild := map[int64]int64{}
		for i, u := range all {
			if u.ParentID == nil {
				continue
			}
			p, ok := pos[*u.ParentID]
			if !ok || p >= i {
				t.Fatalf("%s comes before its parent", u.Code)
			}
			// The previous unit is the parent, or inside the previous
			// sibling's subtree.
			prev := all[i-1]
			if prev.ID != *u.ParentID && !strings.HasPrefix(prev.Path, all[pos[lastChild[*u.ParentID]]].Path) {
				t.Fatalf("%s does not follow its parent or its previous sibling's subtree (after %s)", u.Code, prev.Code)
			}
			if sib, ok := lastChild[*u.ParentID]; ok && sib > u.ID {
				t.Fatalf("siblings out of order: %d before %d", sib, u.ID)
			}
			lastChild[*u.ParentID] = u.ID
		}
		// Page by page, the same order.
		var paged []*planning.OrgUnit
		cursor := ""
		for {
			page, next, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 3, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(paged) != len(all) {
			t.Fatalf("paged %d units, listed %d", len(paged), len(all))
		}
		for i := range all {
			if paged[i].ID != all[i].ID {
				t.Fatalf("page order differs at %d: %s vs %s", i, paged[i].Code, all[i].Code)
			}
		}
		var codes []string
		for _, u := range all {
			codes = append(codes, u.Code)
		}
		t.Logf("tree order: %s", strings.Join(codes, " "))
	})
}
