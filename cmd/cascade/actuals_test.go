package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
	"github.com/cascade-planning/cascade/spreadsheet/xlsxtest"
)

func TestActualsImportCommand(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.DSN(t, d)
			dir := t.TempDir()
			write := func(name, content string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			good := write("june.csv", "org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,120.00\nB-SH-CH,POS,revenue,2027-06,160.00\n")
			bad := write("bad.csv", "org_unit,product_line,measure,month,amount\nB-SH,POS,revenue,2027-06,1.00\nB-SH-KA,POS,revenue,2027-06,1.001\n")
			bombData, err := xlsxtest.CellBomb(200 << 20)
			if err != nil {
				t.Fatal(err)
			}
			bomb := write("bomb.xlsx", string(bombData))
			if code := run(ctx, []string{"demo", "--db", dsn}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
				t.Fatal("demo failed")
			}
			cases := []struct {
				name     string
				args     []string
				wantCode int
				wantOut  []string
				wantErr  string
			}{
				{name: "usage", args: []string{"actuals"}, wantCode: 2},
				{name: "file required", args: []string{"actuals", "import", "--db", dsn}, wantCode: 2},
				{name: "missing file", args: []string{"actuals", "import", "--db", dsn, "--file", filepath.Join(dir, "nope.csv")}, wantCode: 1},
				{"dry run", []string{"actuals", "import", "--db", dsn, "--file", good, "--dry-run"}, 0,
					[]string{"june.csv (csv): 2 data rows, 2 org units, months 2027-06", "dry run, nothing changed", "2 added"}, ""},
				{"import", []string{"actuals", "import", "--db", dsn, "--file", good, "--as", "strategy"}, 0,
					[]string{"imported (import 1)", "2 added, 0 changed, 0 unchanged, 0 removed"}, ""},
				{"again", []string{"actuals", "import", "--db", dsn, "--file", good}, 0, []string{"0 added, 0 changed, 2 unchanged"}, ""},
				{"bad rows", []string{"actuals", "import", "--db", dsn, "--file", bad}, 1,
					[]string{"refused, nothing changed", "2 problem(s):", `row 2, org_unit "B-SH": is not a leaf`, `row 3, amount "1.001": has 3 decimal places`}, ""},
				{"unknown round", []string{"actuals", "import", "--db", dsn, "--file", good, "--round", "FY1999"}, 1, nil, ""},
				{"a user who may not import", []string{"actuals", "import", "--db", dsn, "--file", good, "--as", "bm-sh"}, 1, nil, ""},
				{"a cell of 200 MiB of spaces", []string{"actuals", "import", "--db", dsn, "--file", bomb}, 1, nil, "max_cell_chars"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var out, errOut bytes.Buffer
					code := run(ctx, tc.args, &out, &errOut)
					if code != tc.wantCode {
						t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, tc.wantCode, out.String(), errOut.String())
					}
					if !strings.Contains(errOut.String(), tc.wantErr) {
						t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut.String())
					}
					for _, w := range tc.wantOut {
						if !strings.Contains(out.String(), w) {
							t.Errorf("stdout lacks %q:\n%s", w, out.String())
						}
					}
				})
			}
			// The import is recorded as the strategy office's, and its
			// actuals roll up.
			db, err := sqlstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var actor *int64
			if err := storetest.Bun(db).NewSelect().TableExpr("audit_events").Column("actor_id").Where("action = 'actuals.import'").
				OrderExpr("id").Limit(1).Scan(ctx, &actor); err != nil || actor == nil {
				t.Fatalf("audit actor %v %v", actor, err)
			}
			svcs := sqlstore.NewServices(db)
			sctx := planning.NewContextWithActor(ctx, planning.SystemActor())
			us, _, _ := svcs.OrgUnits.FindOrgUnits(sctx, planning.OrgUnitFilter{Code: "B-SH"})
			rows, _, err := svcs.Actuals.FindActuals(sctx, planning.ActualFilter{OrgUnitID: &us[0].ID})
			if err != nil || len(rows) != 1 || rows[0].Total.StringFixed(2) != "280.00" {
				t.Fatalf("B-SH actuals %+v %v", rows, err)
			}
		})
	}
}
