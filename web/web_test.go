package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"strings"
	"testing"
)

// maxGzipBytes is the console's budget: all of its JavaScript and CSS,
// gzipped, a first visit downloads.
const maxGzipBytes = 250 << 10

// TestBundleBudget reports the size of the embedded console and keeps it
// within the budget; it also checks that index.html names only assets that
// are embedded.
func TestBundleBudget(t *testing.T) {
	assets := Assets()
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	var raw, gz int
	err = fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(index), "/"+path) {
			t.Errorf("%s is embedded but index.html does not load it (stale file?)", path)
		}
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(b)
		w.Close()
		raw += len(b)
		gz += buf.Len()
		t.Logf("%s: %d bytes, %d gzipped", path, len(b), buf.Len())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("console JS+CSS: %d bytes, %d gzipped (budget %d)", raw, gz, maxGzipBytes)
	if gz > maxGzipBytes {
		t.Errorf("the console's JS+CSS is %d bytes gzipped, over the budget of %d", gz, maxGzipBytes)
	}
}

// TestLicenceNotice checks that the console ships the licence of the chart
// library it bundles, linked from index.html.
func TestLicenceNotice(t *testing.T) {
	assets := Assets()
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(index), `<link rel="license" href="/`)
	if !ok {
		t.Fatal(`index.html has no <link rel="license">`)
	}
	path, _, _ := strings.Cut(rest, `"`)
	notice, err := fs.ReadFile(assets, path)
	if err != nil {
		t.Fatalf("the licence notice %s is not embedded: %v", path, err)
	}
	for _, want := range []string{"== uplot 1.6.32 (MIT)", "Copyright (c) 2022 Leon Sorokin", "Permission is hereby granted"} {
		if !strings.Contains(string(notice), want) {
			t.Errorf("the licence notice lacks %q:\n%s", want, notice)
		}
	}
}
