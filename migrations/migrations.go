// Package migrations holds Cascade's database migrations, one set per SQL
// dialect, embedded in the binary. A migration is never edited once it has
// landed; changes come as new files.
package migrations

import (
	"embed"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres and SQLite are the migrations of each dialect. The two sets carry
// the same names and the same schema, differing only where the dialects do.
var (
	Postgres = discover("postgres")
	SQLite   = discover("sqlite")
)

func discover(dir string) *migrate.Migrations {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err)
	}
	m := migrate.NewMigrations()
	if err := m.Discover(sub); err != nil {
		panic(err)
	}
	return m
}
