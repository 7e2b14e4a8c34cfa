package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

const migrateUsage = `Usage: cascade migrate up|down|status [--db DSN]

  up      apply every pending migration, in one transaction, and list them
  down    roll back one migration, the latest applied, in one transaction;
          it destroys that migration's tables and data, so it needs --yes
          (without it, it says what it would roll back and changes nothing)
  status  list every migration and whether it is applied

Run cascade migrate up|down|status -h for the flags.
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, migrateUsage)
		return errUsage
	}
	cmd := args[0]
	if cmd != "up" && cmd != "down" && cmd != "status" {
		fmt.Fprintf(stderr, "unknown migrate command %q\n\n%s", cmd, migrateUsage)
		return errUsage
	}
	fs, dsn := newFlagSet("migrate "+cmd, stderr)
	var yes *bool
	if cmd == "down" {
		yes = fs.Bool("yes", false, "really roll back the latest migration, dropping what it created")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	switch cmd {
	case "up":
		names, err := db.MigrateUp(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(stdout, "applied", n)
		}
		if len(names) == 0 {
			fmt.Fprintln(stdout, "nothing to apply: the database is up to date")
		} else {
			fmt.Fprintf(stdout, "applied %d migration(s); the database is up to date\n", len(names))
		}
	case "down":
		if !*yes {
			latest, err := db.LatestMigration(ctx)
			if err != nil {
				return err
			}
			if latest == "" {
				fmt.Fprintln(stdout, "nothing to roll back: no migration is applied")
				return nil
			}
			fmt.Fprintf(stderr, "cascade migrate down would roll back %s, dropping what it created and the data in it;\nrun it again with --yes to do so. Nothing was changed.\n", latest)
			return errUsage
		}
		name, err := db.MigrateDown(ctx)
		if err != nil {
			return err
		}
		if name == "" {
			fmt.Fprintln(stdout, "nothing to roll back: no migration is applied")
		} else {
			fmt.Fprintln(stdout, "rolled back", name)
		}
	case "status":
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			fmt.Fprintln(stdout, s)
		}
	}
	return nil
}
