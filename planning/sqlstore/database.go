package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// CreateDatabase creates the PostgreSQL database name with the connection
// dsn names (whose role needs CREATEDB) and returns the DSN of the new
// database. Tests, the benchmark and the load test use it for throw-away
// databases.
func CreateDatabase(ctx context.Context, dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse DSN: %w", err)
	}
	admin := sql.OpenDB(pgConnector(dsn))
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s (the role needs CREATEDB): %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops a database made by CreateDatabase. WITH (FORCE) ends
// our own sessions on it but not an autovacuum worker's, which PostgreSQL
// starts on a database that has just taken many writes, so it tries again
// for up to ten seconds.
func DropDatabase(ctx context.Context, dsn, name string) error {
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	defer admin.Close()
	var err error
	for range 40 {
		if _, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("drop database %s: %w", name, err)
}
