package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// Snapshot is the full contents of every table of a database: for each
// table, one rendered line per row, sorted. Two snapshots are equal exactly
// when every table holds the same rows.
type Snapshot map[string][]string

// TakeSnapshot reads every row of every user table of db (the migrations'
// own bookkeeping included), leaving out only the columns named in ignore as
// "table.column", such as "tokens.last_used_at", which authenticating a
// request touches. Rows are sorted after rendering, which orders them as
// ORDER BY every column would and makes the comparison independent of the
// order the database returns them in.
func TakeSnapshot(t testing.TB, db *sqlstore.DB, ignore ...string) Snapshot {
	t.Helper()
	ctx := context.Background()
	sdb := db.SQLDB()
	tables, err := tableNames(ctx, sdb, db.Dialect())
	if err != nil {
		t.Fatalf("snapshot: list tables: %v", err)
	}
	skip := map[string]bool{}
	for _, c := range ignore {
		skip[c] = true
	}
	out := Snapshot{}
	for _, table := range tables {
		rows, err := tableRows(ctx, sdb, table, skip)
		if err != nil {
			t.Fatalf("snapshot: read %s: %v", table, err)
		}
		out[table] = rows
	}
	return out
}

// Diff describes how b differs from s, table by table: rows only in s
// ("-") and rows only in b ("+"), at most a few per table. It returns nil
// when the snapshots are equal.
func (s Snapshot) Diff(b Snapshot) []string {
	var out []string
	var tables []string
	for t := range s {
		tables = append(tables, t)
	}
	for t := range b {
		if _, ok := s[t]; !ok {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	const most = 5
	for _, t := range tables {
		before, after := s[t], b[t]
		if slices.Equal(before, after) {
			continue
		}
		gone, added := minus(before, after), minus(after, before)
		out = append(out, fmt.Sprintf("table %s: %d rows before, %d after; %d gone, %d new", t, len(before), len(after), len(gone), len(added)))
		for i, r := range gone {
			if i == most {
				out = append(out, "  - …")
				break
			}
			out = append(out, "  - "+r)
		}
		for i, r := range added {
			if i == most {
				out = append(out, "  + …")
				break
			}
			out = append(out, "  + "+r)
		}
	}
	return out
}

// minus returns the lines of a (sorted) not matched one for one in b (sorted).
func minus(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j >= len(b) || a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			j++
		default:
			i++
			j++
		}
	}
	return out
}

func tableNames(ctx context.Context, db *sql.DB, d sqlstore.Dialect) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if d == sqlstore.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, rows.Err()
}

func tableRows(ctx context.Context, db *sql.DB, table string, skip map[string]bool) ([]string, error) {
	quoted := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+quoted)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, c := range cols {
			if skip[table+"."+c] {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString(c)
			b.WriteString("=")
			b.WriteString(render(vals[i]))
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out, rows.Err()
}

// render prints one column value unambiguously.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", x)
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("%v", x)
	}
}
