package main

import "testing"

// TestOneOperationPerHandler keeps the api's handlers thin: each calls at
// most one service method of the domain (or one planning function handed
// the services), besides the one lookup that translates a request's codes
// to ids and an answer's ids to codes (Resolve). A handler that
// orchestrates two operations has a rule that belongs in planning.
func TestOneOperationPerHandler(t *testing.T) {
	rows, err := count("../../api")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 90 {
		t.Fatalf("found %d handlers: is the parser still finding them?", len(rows))
	}
	ops := 0
	for _, r := range rows {
		ops += r.ops
		if r.ops > 1 || r.looks > 1 {
			t.Errorf("%s makes %d operations and %d lookups: at most one of each", r.name, r.ops, r.looks)
		}
	}
	if ops < len(rows)*3/4 {
		t.Errorf("only %d operations in %d handlers: is the counter still finding the service calls?", ops, len(rows))
	}
}
