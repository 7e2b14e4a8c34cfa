package sqlstore

import (
	"context"

	"github.com/cascade-planning/cascade/planning"
)

// readScope returns what a reads: everything, or the subtrees of its scoped
// roles with the id of every unit in them, for planning.Scope's redactions.
func (db *DB) readScope(ctx context.Context, a *planning.Actor) (*planning.Scope, error) {
	if a.SeesAllOrgUnits() {
		return planning.FullScope(), nil
	}
	paths := a.ScopePaths()
	var ids []int64
	if len(paths) > 0 {
		q := db.bun.NewSelect().TableExpr("org_units").Column("id")
		if err := scopeWhere(q, a, "path").Scan(ctx, &ids); err != nil {
			return nil, db.mapError(err)
		}
	}
	return planning.SubtreeScope(paths, ids), nil
}
