// Command cascade runs Cascade, the annual business-planning service, and its
// administration tasks. Configuration comes from flags and CASCADE_*
// environment variables, parsed here and nowhere else.
//
//	cascade serve [--demo]          run the HTTP API
//	cascade migrate up|down|status  manage the database schema
//	cascade demo                    load the demo data set
//	cascade user create …           create a user with a role
//	cascade token create --user U   issue an API token
//	cascade actuals import --file F import actuals from CSV or XLSX
//	cascade loadtest --db DSN       load-test several servers on one database
//	cascade bench [--db DSN]        measure speed against the raw database
//	cascade openapi [--base-url U]  print the OpenAPI 3 document
//	cascade version                 print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Version is the build's version, set with -ldflags "-X main.Version=…".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Cascade — annual business planning.

Usage:
  cascade serve [flags]              run the HTTP API (see cascade serve -h)
  cascade migrate up|down|status     apply, roll back (one group) or list migrations
  cascade demo                       load the demo data set into an empty database
  cascade user create --username U --name N --role R [--scope ORG_CODE]
  cascade token create --user U [--name N] [--expires 720h]
  cascade actuals import --file F.csv|F.xlsx [--round CODE] [--dry-run] [--as USERNAME]
                                     import actuals; prints every problem, changes nothing if any
  cascade loadtest --db DSN [--fresh] [--duration 60s] [--rate 50] [--users 50] [--short]
                                     run servers on loopback ports against one database under
                                     simulated users; check nothing is lost (see cascade loadtest -h)
  cascade bench [flags]              build a large data set and measure the service
                                     against the database's own tools (see cascade bench -h)
  cascade openapi [--base-url URL]   print the OpenAPI 3 document that /openapi.json serves
  cascade version                    print the version

Every command takes --db (env CASCADE_DB): a SQLite file path (default
cascade.db) or a postgres:// URL.
`

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "user":
		err = runUser(ctx, args[1:], stdout, stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "actuals":
		err = runActuals(ctx, args[1:], stdout, stderr)
	case "loadtest":
		err = runLoadtest(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "openapi":
		err = runOpenAPI(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "cascade", Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cascade: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "cascade:", err)
		return 1
	}
}

// errUsage marks an error already explained to the user by the flag package.
var errUsage = errors.New("usage")

// envOr returns the environment variable k, or def when it is unset.
func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

// newFlagSet returns a flag set that reports errors on stderr and has the
// --db flag every command shares.
func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("cascade "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", envOr("CASCADE_DB", "cascade.db"), "database: a SQLite file path or a postgres:// URL (env CASCADE_DB)")
	return fs, db
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}
