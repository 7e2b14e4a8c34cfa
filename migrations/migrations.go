// Package migrations holds Cascade's database migrations, one set per SQL
// dialect, embedded in the binary. A migration is never edited once it has
// landed; changes come as new files.
//
// Files are named <version>_<comment>.up.sql and <version>_<comment>.down.sql;
// a line "--bun:split" separates statements. The store applies each
// migration, with the record that it was applied, in one transaction.
package migrations

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Migration is one schema change: its version (the file name's prefix),
// what it does, and the statements that apply and revert it.
type Migration struct {
	Name    string
	Comment string
	Up      []string
	Down    []string
}

// String returns the migration's file stem, such as
// "20261127000001_master_data".
func (m Migration) String() string { return m.Name + "_" + m.Comment }

// Postgres and SQLite are the migrations of each dialect, oldest first. The
// two sets carry the same names and the same schema, differing only where
// the dialects do.
var (
	Postgres = mustLoad("postgres")
	SQLite   = mustLoad("sqlite")
)

func mustLoad(dir string) []Migration {
	ms, err := load(files, dir)
	if err != nil {
		panic(err)
	}
	return ms
}

// load reads the migrations in dir of fsys.
func load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Migration{}
	for _, e := range entries {
		file := e.Name()
		var up bool
		var stem string
		switch {
		case strings.HasSuffix(file, ".up.sql"):
			up, stem = true, strings.TrimSuffix(file, ".up.sql")
		case strings.HasSuffix(file, ".down.sql"):
			stem = strings.TrimSuffix(file, ".down.sql")
		default:
			continue
		}
		name, comment, ok := strings.Cut(stem, "_")
		if !ok || name == "" {
			return nil, fmt.Errorf("migration file %s: want <version>_<comment>.up.sql", file)
		}
		m := byName[name]
		if m == nil {
			m = &Migration{Name: name, Comment: comment}
			byName[name] = m
		} else if m.Comment != comment {
			return nil, fmt.Errorf("migration %s has two names: %s and %s", name, m.Comment, comment)
		}
		body, err := fs.ReadFile(fsys, dir+"/"+file)
		if err != nil {
			return nil, err
		}
		stmts, err := split(body)
		if err != nil {
			return nil, fmt.Errorf("migration file %s: %w", file, err)
		}
		if up {
			m.Up = stmts
		} else {
			m.Down = stmts
		}
	}
	out := make([]Migration, 0, len(byName))
	for _, m := range byName {
		if m.Up == nil {
			return nil, fmt.Errorf("migration %s has no .up.sql file", m)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// split cuts a migration file into its statements at "--bun:split" lines.
func split(body []byte) ([]string, error) {
	var stmts []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "--bun:"); ok {
			if strings.TrimSpace(rest) != "split" {
				return nil, fmt.Errorf("unknown directive %q", line)
			}
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return stmts, sc.Err()
}
