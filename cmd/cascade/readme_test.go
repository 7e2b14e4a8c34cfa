package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeFlagTable keeps the README's configuration table true: every
// flag `cascade serve -h` lists is a row, with the environment variable its
// usage names and, where the help shows a default, the same default; and
// every row is a flag. A flag renamed, added or removed without the README,
// or a stale row left from a merge, fails here.
func TestReadmeFlagTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CASCADE_DB", t.TempDir()+"/must-not-exist/x.db")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "-h"}, &out, &errOut); code != 0 {
		t.Fatalf("serve -h: exit %d: %s", code, errOut.String())
	}
	help := parseServeHelp(t, out.String()+errOut.String())
	rows := parseReadmeFlagTable(t, string(readme))

	for name, h := range help {
		r, ok := rows[name]
		if !ok {
			t.Errorf("README's configuration table has no row for --%s (env %s)", name, h.env)
			continue
		}
		if r.env != h.env {
			t.Errorf("--%s: README names %s, serve -h names %s", name, r.env, h.env)
		}
		if h.def != "" && normalizeDefault(r.def) != normalizeDefault(h.def) {
			t.Errorf("--%s: README's default is %q, serve -h says %q", name, r.def, h.def)
		}
	}
	for name := range rows {
		if _, ok := help[name]; !ok {
			t.Errorf("README's configuration table lists --%s, which serve does not have", name)
		}
	}
}

type flagDoc struct{ env, def string }

var (
	helpFlagLine = regexp.MustCompile(`^  -([a-z0-9-]+)`)
	helpEnv      = regexp.MustCompile(`\(env (CASCADE_[A-Z0-9_]+)`)
	helpDefault  = regexp.MustCompile(`\(default (.+)\)$`)
	readmeRow    = regexp.MustCompile("^\\| `--([a-z0-9-]+)` \\| `(CASCADE_[A-Z0-9_]+)` \\| ([^|]*) \\|")
)

// parseServeHelp reads the flag package's usage: a line per flag, then its
// indented usage, which names the variable and ends with the default.
func parseServeHelp(t *testing.T, text string) map[string]flagDoc {
	t.Helper()
	flags := map[string]flagDoc{}
	var cur string
	for _, line := range strings.Split(text, "\n") {
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
			flags[cur] = flagDoc{}
			continue
		}
		if cur == "" {
			continue
		}
		d := flags[cur]
		if m := helpEnv.FindStringSubmatch(line); m != nil {
			d.env = m[1]
		}
		if m := helpDefault.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			d.def = m[1]
		}
		flags[cur] = d
	}
	if len(flags) < 10 {
		t.Fatalf("serve -h listed %d flags: %q", len(flags), text)
	}
	for name, d := range flags {
		if d.env == "" {
			t.Errorf("--%s names no environment variable in its usage", name)
		}
	}
	return flags
}

// parseReadmeFlagTable reads the rows of the table under "## Configuration";
// a flag listed twice is an error (a merge that kept both sides).
func parseReadmeFlagTable(t *testing.T, readme string) map[string]flagDoc {
	t.Helper()
	start := strings.Index(readme, "\n## Configuration\n")
	if start < 0 {
		t.Fatal(`README has no "## Configuration" section`)
	}
	section := readme[start+1:]
	if end := strings.Index(section[len("## Configuration"):], "\n## "); end >= 0 {
		section = section[:len("## Configuration")+end]
	}
	rows := map[string]flagDoc{}
	for _, line := range strings.Split(section, "\n") {
		m := readmeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README's configuration table lists --%s twice", m[1])
		}
		rows[m[1]] = flagDoc{env: m[2], def: strings.TrimSpace(m[3])}
	}
	if len(rows) < 10 {
		t.Fatalf("README's configuration table has %d rows", len(rows))
	}
	return rows
}

// normalizeDefault compares defaults as a reader would: without quotes or
// backticks, case-insensitively, durations by their value (1h = 1h0m0s).
func normalizeDefault(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "`\""))
	if d, err := time.ParseDuration(s); err == nil {
		return d.String()
	}
	return s
}

// TestReadmeLinks checks that every relative link of README.md and
// ARCHITECTURE.md names a file of the repository and every #anchor a
// heading of the document it points into.
func TestReadmeLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range []string{"README.md", "ARCHITECTURE.md"} {
		text, err := os.ReadFile("../../" + doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			if file == "" {
				file = doc
			}
			body, err := os.ReadFile("../../" + file)
			if err != nil {
				if _, statErr := os.Stat("../../" + file); statErr != nil {
					t.Errorf("%s links %q: %v", doc, target, statErr)
				}
				continue
			}
			if anchor != "" && !hasHeadingAnchor(string(body), anchor) {
				t.Errorf("%s links %q: %s has no heading with that anchor", doc, target, file)
			}
		}
	}
}

// hasHeadingAnchor reports whether a Markdown heading of doc gets anchor
// as GitHub makes anchors: lower case, punctuation dropped, spaces to hyphens.
func hasHeadingAnchor(doc, anchor string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
				b.WriteRune(r)
			}
		}
		if b.String() == anchor {
			return true
		}
	}
	return false
}
