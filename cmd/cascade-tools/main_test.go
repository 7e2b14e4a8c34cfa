package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCommands checks the command line of cascade-tools: help for every
// command, exit 0; version prints a revision; unknown commands are usage
// errors.
func TestCommands(t *testing.T) {
	cases := []struct {
		args    []string
		code    int
		wantOut string // in stdout and stderr together
	}{
		{[]string{"-h"}, 0, "Usage"},
		{[]string{"--help"}, 0, "Usage"},
		{[]string{"help"}, 0, "Usage"},
		{[]string{"bench", "-h"}, 0, "Usage: cascade-tools bench"},
		{[]string{"bench", "--help"}, 0, "Usage: cascade-tools bench"},
		{[]string{"loadtest", "-h"}, 0, "usage: cascade-tools loadtest"},
		{[]string{"loadtest", "--help"}, 0, "usage: cascade-tools loadtest"},
		{[]string{"version"}, 0, "cascade-tools "},
		{[]string{}, 2, "Usage"},
		{[]string{"serve"}, 2, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			if text := out.String() + errOut.String(); code != tc.code || !strings.Contains(text, tc.wantOut) {
				t.Fatalf("exit %d (want %d), want %q in %q", code, tc.code, tc.wantOut, text)
			}
		})
	}
}
