package storetest

import (
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// Bun returns a bun handle on db's own connection pool, for tests that
// read or plant rows below the services. The store does not export its
// handle: outside tests, SQL lives in sqlstore. Do not close the handle;
// closing db closes the pool.
func Bun(db *sqlstore.DB) *bun.DB {
	var d schema.Dialect = sqlitedialect.New()
	if db.Dialect() == sqlstore.Postgres {
		d = pgdialect.New()
	}
	return bun.NewDB(db.SQLDB(), d)
}
