package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/cascade-planning/cascade/migrations"
	"github.com/cascade-planning/cascade/planning"
)

// migrationTable records the applied migrations. It keeps the name and
// layout of bun's migrator, so databases migrated by earlier releases need
// nothing done to them.
const migrationTable = "bun_migrations"

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations between servers starting together ("cascade" in ASCII).
const migrationLockKey int64 = 0x636173636164

// migrationBusyWait is how long Migrate keeps trying while another process
// holds SQLite's write lock (a server in the middle of a large write).
const migrationBusyWait = 2 * time.Minute

func (db *DB) migrations() []migrations.Migration {
	if db.dialect == Postgres {
		return migrations.Postgres
	}
	return migrations.SQLite
}

// Migrate applies every pending migration; see MigrateUp.
func (db *DB) Migrate(ctx context.Context) error {
	_, err := db.MigrateUp(ctx)
	return err
}

// MigrateUp applies every pending migration, all of them and the records
// that they are applied in one transaction, and returns their names in the
// order applied (none when the schema is current). A process killed at any
// instant leaves the schema either as it was or fully migrated, and never a
// lock behind: on PostgreSQL the transaction holds an advisory lock, which
// dies with its session; on SQLite it holds the write lock (the transaction
// begins IMMEDIATE), which dies with the process. Servers starting together
// migrate once: the others wait for the lock and then find nothing to do.
func (db *DB) MigrateUp(ctx context.Context) ([]string, error) {
	var done []string
	err := db.migrationTx(ctx, func(tx bun.Tx) error {
		done = done[:0]
		applied, lastGroup, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		group := lastGroup + 1
		for _, m := range db.migrations() {
			if _, ok := applied[m.Name]; ok {
				continue
			}
			for _, stmt := range m.Up {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m, err)
				}
			}
			rec := &migrate.Migration{Name: m.Name, GroupID: group, MigratedAt: time.Now().UTC()}
			if _, err := tx.NewInsert().Model(rec).ModelTableExpr(migrationTable).Exec(ctx); err != nil {
				return fmt.Errorf("record migration %s: %w", m, err)
			}
			done = append(done, m.String())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return done, nil
}

// LatestMigration names the migration MigrateDown would roll back: the one
// applied last (of the latest group, the last in order). It returns ""
// when no migration is applied.
func (db *DB) LatestMigration(ctx context.Context) (string, error) {
	var name string
	err := db.migrationTx(ctx, func(tx bun.Tx) error {
		applied, lastGroup, err := appliedMigrations(ctx, tx)
		if m, ok := db.latest(applied, lastGroup); ok && err == nil {
			name = m.String()
		}
		return err
	})
	return name, err
}

// latest returns the migration applied last: of the latest group, the last
// in the order migrations run.
func (db *DB) latest(applied map[string]int64, lastGroup int64) (migrations.Migration, bool) {
	ms := db.migrations()
	for i := len(ms) - 1; i >= 0 && lastGroup > 0; i-- {
		if applied[ms[i].Name] == lastGroup {
			return ms[i], true
		}
	}
	return migrations.Migration{}, false
}

// MigrateDown rolls back one migration, the one applied last (see
// LatestMigration): its down statements and the removal of its record in
// one transaction. It returns the migration's name, or "" when none is
// applied.
func (db *DB) MigrateDown(ctx context.Context) (string, error) {
	var name string
	err := db.migrationTx(ctx, func(tx bun.Tx) error {
		name = ""
		applied, lastGroup, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		m, ok := db.latest(applied, lastGroup)
		if !ok {
			return nil
		}
		for _, stmt := range m.Down {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s down: %w", m, err)
			}
		}
		if _, err := tx.NewDelete().TableExpr(migrationTable).Where("name = ?", m.Name).Exec(ctx); err != nil {
			return err
		}
		name = m.String()
		return nil
	})
	return name, err
}

// MigrationStatus lists each migration with whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]string, error) {
	var out []string
	err := db.migrationTx(ctx, func(tx bun.Tx) error {
		applied, _, err := appliedMigrations(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range db.migrations() {
			state := "pending"
			if g, ok := applied[m.Name]; ok {
				state = fmt.Sprintf("applied (group %d)", g)
			}
			out = append(out, fmt.Sprintf("%s  %s", m, state))
		}
		return nil
	})
	return out, err
}

// migrationTx runs fn in one transaction on one connection that holds the
// migration lock for as long as the transaction runs, with the record
// table created first if it is missing. A SQLite database that another
// process is writing to is retried until migrationBusyWait has passed.
func (db *DB) migrationTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	deadline := time.Now().Add(migrationBusyWait)
	for {
		err := db.migrationTxOnce(ctx, fn)
		if err == nil || db.dialect != SQLite || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (db *DB) migrationTxOnce(ctx context.Context, fn func(tx bun.Tx) error) error {
	conn, err := db.bun.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrationLockKey); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.NewCreateTable().Model((*migrate.Migration)(nil)).ModelTableExpr(migrationTable).
		IfNotExists().Exec(ctx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// appliedMigrations returns the group of every applied migration by name,
// and the latest group.
func appliedMigrations(ctx context.Context, tx bun.Tx) (map[string]int64, int64, error) {
	var recs []migrate.Migration
	if err := tx.NewSelect().ColumnExpr("*").Model(&recs).ModelTableExpr(migrationTable).Scan(ctx); err != nil {
		return nil, 0, err
	}
	applied := make(map[string]int64, len(recs))
	var last int64
	for _, r := range recs {
		applied[r.Name] = r.GroupID
		last = max(last, r.GroupID)
	}
	return applied, last, nil
}

// isBusy reports whether err is SQLite's "another connection holds the
// write lock".
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		planning.ErrorCode(err) == planning.EUNAVAILABLE
}
