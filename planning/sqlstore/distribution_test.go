package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// The schema's readiness for a PostgreSQL sharded by round (Citus; see
// ARCHITECTURE.md, "Sharding"). Every table falls in one of three kinds:
//
//   - round-scoped tables, distributed by round_id: the rows that grow with
//     a round's work. Each carries round_id, its primary key starts with it
//     (so do its other unique keys), and a foreign key to another
//     round-scoped table carries round_id on both sides, so the two rows
//     are always on one node;
//   - reference tables, copied to every node: the master data the cell
//     reads join with, and the rounds and versions. They refer to nothing
//     but reference tables;
//   - the rest, kept on the coordinator: per-round records too small to
//     distribute, sessions, audit. None refers to a round-scoped table.
var (
	roundScopedTables = []string{"target_cells", "allocation_buffers", "allocation_runs", "allocation_jobs"}
	referenceTables   = []string{"org_units", "product_lines", "measures", "users", "rounds", "versions"}
	// coordinatorTables are the tables with a round_id or version_id
	// column that stay on the coordinator: each new such table must be
	// placed in one of the three lists.
	coordinatorTables = []string{"round_transitions", "counterproposals", "approval_actions", "cell_history", "audit_events",
		"events", "deadline_timers", "scorecards", "score_issues"}
)

// TestSchemaReadyForDistribution reads the migrated schema from the
// database's catalog and fails when a migration breaks distribution by
// round: a round-scoped table whose keys do not lead with round_id, a
// foreign key that would cross rounds or nodes, or a table with a round
// or version column that no list places.
func TestSchemaReadyForDistribution(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db := storetest.Open(t, d)
			s := readSchema(t, storetest.Bun(db).DB, d)
			// The reader must see what is there, or the check passes on
			// nothing.
			if jobs := s.tables["allocation_jobs"]; jobs == nil || len(jobs.fks) < 2 || len(jobs.pk) == 0 || len(s.tables) < 20 {
				t.Fatalf("the catalog read found %d tables and allocation_jobs as %+v", len(s.tables), jobs)
			}
			for _, problem := range distributionProblems(s, d) {
				t.Error(problem)
			}
		})
	}
}

// TestDistributionProblemsFindBreaks feeds the check schemas that break
// each rule, so the check above can fail.
func TestDistributionProblemsFindBreaks(t *testing.T) {
	good := func() schema {
		s := schema{tables: map[string]*tableInfo{}}
		for _, n := range slices.Concat(roundScopedTables, referenceTables, coordinatorTables) {
			s.tables[n] = &tableInfo{columns: map[string]bool{"id": true}, pk: []string{"id"}}
		}
		for _, n := range roundScopedTables {
			s.tables[n] = &tableInfo{columns: map[string]bool{"round_id": true, "id": true, "version_id": true}, pk: []string{"round_id", "id"}}
		}
		s.tables["allocation_jobs"].fks = []foreignKey{{cols: []string{"round_id", "run_id"}, ref: "allocation_runs", refCols: []string{"round_id", "id"}},
			{cols: []string{"version_id"}, ref: "versions", refCols: []string{"id"}}}
		return s
	}
	if p := distributionProblems(good(), sqlstore.Postgres); len(p) != 0 {
		t.Fatalf("a good schema has problems: %v", p)
	}
	for name, breakIt := range map[string]func(s schema){
		"primary key without round_id": func(s schema) { s.tables["target_cells"].pk = []string{"version_id", "id"} },
		"round_id not first":           func(s schema) { s.tables["target_cells"].pk = []string{"id", "round_id"} },
		"no round_id column":           func(s schema) { delete(s.tables["allocation_runs"].columns, "round_id") },
		"unique key without round_id": func(s schema) {
			s.tables["allocation_runs"].uniques = [][]string{{"id"}}
		},
		"cross-round foreign key": func(s schema) {
			s.tables["allocation_jobs"].fks[0] = foreignKey{cols: []string{"run_id"}, ref: "allocation_runs", refCols: []string{"id"}}
		},
		"round_id matched to another column": func(s schema) {
			s.tables["allocation_jobs"].fks[0] = foreignKey{cols: []string{"round_id", "run_id"}, ref: "allocation_runs", refCols: []string{"id", "round_id"}}
		},
		"round-scoped to a coordinator table": func(s schema) {
			s.tables["target_cells"].fks = []foreignKey{{cols: []string{"round_id"}, ref: "scorecards", refCols: []string{"id"}}}
		},
		"coordinator to round-scoped": func(s schema) {
			s.tables["events"].fks = []foreignKey{{cols: []string{"run_id"}, ref: "allocation_runs", refCols: []string{"id"}}}
		},
		"reference to a coordinator table": func(s schema) {
			s.tables["versions"].fks = []foreignKey{{cols: []string{"audit_id"}, ref: "audit_events", refCols: []string{"id"}}}
		},
		"an unplaced table with a version column": func(s schema) {
			s.tables["cell_layers"] = &tableInfo{columns: map[string]bool{"version_id": true}, pk: []string{"version_id"}}
		},
		"a listed table missing": func(s schema) { delete(s.tables, "allocation_buffers") },
	} {
		s := good()
		breakIt(s)
		if p := distributionProblems(s, sqlstore.Postgres); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}

type foreignKey struct {
	cols, refCols []string
	ref           string
}

type tableInfo struct {
	columns map[string]bool // name → NOT NULL
	pk      []string        // in key order
	rowidPK bool            // SQLite: the key is the integer rowid alias
	uniques [][]string      // other unique keys, in key order
	fks     []foreignKey
}

type schema struct{ tables map[string]*tableInfo }

func distributionProblems(s schema, d sqlstore.Dialect) []string {
	var out []string
	kind := map[string]string{}
	for _, l := range []struct {
		kind   string
		tables []string
	}{{"round-scoped", roundScopedTables}, {"reference", referenceTables}, {"coordinator", coordinatorTables}} {
		for _, n := range l.tables {
			kind[n] = l.kind
			if s.tables[n] == nil {
				out = append(out, fmt.Sprintf("%s table %s is not in the schema: update the lists", l.kind, n))
			}
		}
	}
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := s.tables[n]
		if kind[n] == "" && (t.has("round_id") || t.has("version_id")) {
			out = append(out, fmt.Sprintf("table %s has a round or version column but is in no list: is it round-scoped (distributed by round_id), reference or coordinator?", n))
		}
		if kind[n] == "round-scoped" {
			if notNull, ok := t.columns["round_id"]; !ok || !notNull {
				out = append(out, fmt.Sprintf("round-scoped table %s has no NOT NULL round_id column", n))
			}
			switch {
			case len(t.pk) > 0 && t.pk[0] == "round_id":
			case d == sqlstore.SQLite && t.rowidPK && slices.ContainsFunc(t.uniques, func(u []string) bool { return slices.Equal(u, []string{"round_id", t.pk[0]}) }):
				// SQLite's one generated id is the rowid alias; the
				// unique (round_id, id) key stands for PostgreSQL's
				// primary key.
			default:
				out = append(out, fmt.Sprintf("round-scoped table %s: primary key (%s) does not start with round_id", n, strings.Join(t.pk, ", ")))
			}
			for _, u := range t.uniques {
				if !slices.Contains(u, "round_id") {
					out = append(out, fmt.Sprintf("round-scoped table %s: unique key (%s) lacks round_id", n, strings.Join(u, ", ")))
				}
			}
		}
		for _, fk := range t.fks {
			desc := fmt.Sprintf("foreign key %s (%s) → %s (%s)", n, strings.Join(fk.cols, ", "), fk.ref, strings.Join(fk.refCols, ", "))
			switch from, to := kind[n], kind[fk.ref]; {
			case from == "round-scoped" && to == "round-scoped":
				i := slices.Index(fk.cols, "round_id")
				if i < 0 || i >= len(fk.refCols) || fk.refCols[i] != "round_id" {
					out = append(out, desc+": between round-scoped tables it must carry round_id to round_id")
				}
			case from == "round-scoped" && to != "reference":
				out = append(out, desc+": a round-scoped table may refer only to round-scoped tables (by round_id) and reference tables")
			case from == "reference" && to != "reference":
				out = append(out, desc+": a reference table may refer only to reference tables")
			case from != "round-scoped" && to == "round-scoped":
				out = append(out, desc+": only a round-scoped table may refer to a round-scoped table")
			}
		}
	}
	return out
}

func (t *tableInfo) has(col string) bool { _, ok := t.columns[col]; return ok }

// readSchema reads every table's columns, keys and foreign keys from the
// catalog: pg_catalog on PostgreSQL, the table pragmas on SQLite.
func readSchema(t *testing.T, db *sql.DB, d sqlstore.Dialect) schema {
	t.Helper()
	ctx := context.Background()
	s := schema{tables: map[string]*tableInfo{}}
	table := func(n string) *tableInfo {
		if s.tables[n] == nil {
			s.tables[n] = &tableInfo{columns: map[string]bool{}}
		}
		return s.tables[n]
	}
	query := func(q string, scan func(rows *sql.Rows) error, args ...any) {
		t.Helper()
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if d == sqlstore.Postgres {
		query(`SELECT c.relname, a.attname, a.attnotnull FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
			func(rows *sql.Rows) error {
				var n, col string
				var notNull bool
				err := rows.Scan(&n, &col, &notNull)
				table(n).columns[col] = notNull
				return err
			})
		// Keys: each unique index's columns in index order.
		query(`SELECT c.relname, i.indisprimary, string_agg(a.attname, ',' ORDER BY k.ord)
			FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
			WHERE c.relnamespace = current_schema()::regnamespace AND i.indisunique
			GROUP BY c.relname, i.indexrelid, i.indisprimary`,
			func(rows *sql.Rows) error {
				var n, cols string
				var primary bool
				err := rows.Scan(&n, &primary, &cols)
				if primary {
					table(n).pk = strings.Split(cols, ",")
				} else {
					table(n).uniques = append(table(n).uniques, strings.Split(cols, ","))
				}
				return err
			})
		query(`SELECT c.relname, r.relname,
				(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
				   JOIN pg_attribute AS a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
				(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
				   JOIN pg_attribute AS a ON a.attrelid = f.confrelid AND a.attnum = k.attnum)
			FROM pg_constraint AS f JOIN pg_class AS c ON c.oid = f.conrelid JOIN pg_class AS r ON r.oid = f.confrelid
			WHERE f.contype = 'f' AND c.relnamespace = current_schema()::regnamespace`,
			func(rows *sql.Rows) error {
				var n, ref, cols, refCols string
				err := rows.Scan(&n, &ref, &cols, &refCols)
				table(n).fks = append(table(n).fks, foreignKey{cols: strings.Split(cols, ","), ref: ref, refCols: strings.Split(refCols, ",")})
				return err
			})
		return s
	}
	var names []string
	query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`, func(rows *sql.Rows) error {
		var n string
		err := rows.Scan(&n)
		names = append(names, n)
		return err
	})
	for _, n := range names {
		ti := table(n)
		type pkCol struct {
			pos  int
			name string
			typ  string
		}
		var pk []pkCol
		query(`SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, func(rows *sql.Rows) error {
			var col, typ string
			var notNull bool
			var pos int
			err := rows.Scan(&col, &typ, &notNull, &pos)
			ti.columns[col] = notNull || pos > 0
			if pos > 0 {
				pk = append(pk, pkCol{pos, col, typ})
			}
			return err
		}, n)
		slices.SortFunc(pk, func(a, b pkCol) int { return a.pos - b.pos })
		for _, c := range pk {
			ti.pk = append(ti.pk, c.name)
		}
		ti.rowidPK = len(pk) == 1 && strings.EqualFold(pk[0].typ, "integer")
		var uniques []string
		query(`SELECT name FROM pragma_index_list(?) WHERE "unique" AND origin <> 'pk'`, func(rows *sql.Rows) error {
			var idx string
			err := rows.Scan(&idx)
			uniques = append(uniques, idx)
			return err
		}, n)
		for _, idx := range uniques {
			var cols []string
			query(`SELECT COALESCE(name, '') FROM pragma_index_info(?) ORDER BY seqno`, func(rows *sql.Rows) error {
				var col string
				err := rows.Scan(&col)
				cols = append(cols, col)
				return err
			}, idx)
			ti.uniques = append(ti.uniques, cols)
		}
		byID := map[int]*foreignKey{}
		var ids []int
		query(`SELECT id, "table", "from", COALESCE("to", '') FROM pragma_foreign_key_list(?) ORDER BY id, seq`, func(rows *sql.Rows) error {
			var id int
			var ref, from, to string
			err := rows.Scan(&id, &ref, &from, &to)
			if byID[id] == nil {
				byID[id] = &foreignKey{ref: ref}
				ids = append(ids, id)
			}
			byID[id].cols = append(byID[id].cols, from)
			byID[id].refCols = append(byID[id].refCols, to)
			return err
		}, n)
		for _, id := range ids {
			ti.fks = append(ti.fks, *byID[id])
		}
	}
	// A foreign key without its parent's columns names the parent's
	// primary key.
	for _, ti := range s.tables {
		for i, fk := range ti.fks {
			if fk.refCols[0] == "" && s.tables[fk.ref] != nil {
				ti.fks[i].refCols = s.tables[fk.ref].pk
			}
		}
	}
	return s
}
