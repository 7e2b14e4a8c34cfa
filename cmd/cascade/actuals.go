package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// maxActualsFile is the largest file `cascade actuals import` reads; the
// rows are limited to planning.MaxImportRows as over HTTP.
const maxActualsFile = 64 << 20

func runActuals(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(stderr, "usage: cascade actuals import --file F.csv|F.xlsx [--round CODE] [--dry-run] [--as USERNAME] [--db DSN]")
		return errUsage
	}
	fs, dsn := newFlagSet("actuals import", stderr)
	file := fs.String("file", "", "the CSV or XLSX file of actuals (required): columns org_unit, product_line, measure, month, amount")
	roundCode := fs.String("round", "", "round code: months must lie in its fiscal year, measures be its measures")
	dryRun := fs.Bool("dry-run", false, "check and report every problem; change nothing")
	as := fs.String("as", "", "record the import as this user's (a strategy office member or admin); default: the system")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintln(stderr, "--file is required")
		return errUsage
	}
	data, err := readLimited(*file, maxActualsFile)
	if err != nil {
		return err
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = systemContext(ctx)
	if *as != "" {
		if ctx, err = userContext(ctx, svcs, *as); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(data)
	imp := planning.ActualImport{DryRun: *dryRun, FileName: filepath.Base(*file), Checksum: hex.EncodeToString(sum[:])}
	if *roundCode != "" {
		r, err := findRoundByCode(ctx, svcs, *roundCode)
		if err != nil {
			return err
		}
		imp.RoundID = &r.ID
	}
	if imp.Format, err = spreadsheet.DetectFormat(*file, data); err != nil {
		return err
	}
	read, err := spreadsheet.ReadActuals(data, imp.Format)
	if errors.Is(err, spreadsheet.ErrTooManyRows) {
		return fmt.Errorf("%s has more than %d data rows: import it in parts", *file, planning.MaxImportRows)
	} else if err != nil {
		return err
	}
	imp.Rows, imp.ReadProblems = read.Rows, read.Problems
	rep, err := svcs.Actuals.ImportActuals(ctx, imp)
	if rep == nil {
		return err
	}
	printImportReport(stdout, imp, rep)
	if rep.ProblemCount > 0 {
		return fmt.Errorf("%d problem(s): nothing was imported", rep.ProblemCount)
	}
	return err
}

// printImportReport prints what an import did, and every problem.
func printImportReport(w io.Writer, imp planning.ActualImport, rep *planning.ActualImportReport) {
	fmt.Fprintf(w, "%s (%s): %d data rows, %d org units, months %s\n", imp.FileName, imp.Format, rep.Rows, rep.OrgUnits, strings.Join(rep.Months, ", "))
	switch {
	case rep.Written:
		fmt.Fprintf(w, "imported (import %d): ", rep.ImportID)
	case rep.DryRun && rep.ProblemCount == 0:
		fmt.Fprint(w, "dry run, nothing changed; the import would make: ")
	default:
		fmt.Fprint(w, "refused, nothing changed; without the problems the import would make: ")
	}
	fmt.Fprintf(w, "%d added, %d changed, %d unchanged, %d removed\n", rep.Added, rep.Changed, rep.Unchanged, rep.Removed)
	if rep.ProblemCount > 0 {
		fmt.Fprintf(w, "%d problem(s):\n", rep.ProblemCount)
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		if left := rep.ProblemCount - len(rep.Problems); left > 0 {
			fmt.Fprintf(w, "  … and %d more\n", left)
		}
	}
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB: import it in parts", path, limit>>20)
	}
	return data, nil
}

func findRoundByCode(ctx context.Context, svcs planning.Services, code string) (*planning.Round, error) {
	for r, err := range planning.AllPages(func(page planning.PageRequest) ([]*planning.Round, string, error) {
		return svcs.Rounds.FindRounds(ctx, planning.RoundFilter{Page: page})
	}) {
		if err != nil {
			return nil, err
		}
		if r.Code == code {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no round with code %q", code)
}

// userContext acts as the named user with their roles, so the audit trail
// records them.
func userContext(ctx context.Context, svcs planning.Services, username string) (context.Context, error) {
	u, err := findUser(ctx, svcs, username)
	if err != nil {
		return nil, err
	}
	if u, err = svcs.Users.FindUserByID(ctx, u.ID); err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, fmt.Errorf("user %s is inactive", username)
	}
	return planning.NewContextWithActor(ctx, &planning.Actor{User: u, Roles: u.Roles}), nil
}
