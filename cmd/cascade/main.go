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
//	cascade openapi [--base-url U]  print the OpenAPI 3 document
//	cascade version                 print the version and VCS revision
//
// The benchmark and the load test are a separate command, cascade-tools,
// so the service binary links none of their dependencies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	// The IANA zone database is built in, so CASCADE_TIME_ZONE names the
	// same zones on every machine.
	_ "time/tzdata"
)

// Version is the build's version, set with -ldflags "-X main.Version=…";
// when it is not, the module version the Go toolchain recorded.
var Version = "dev"

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok && Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Cascade — annual business planning.

Usage:
  cascade serve [flags]              run the HTTP API (see cascade serve -h)
  cascade migrate up|down|status     apply pending migrations, roll back the latest one
                                     (down needs --yes), or list them
  cascade demo                       load the demo data set into an empty database
  cascade user create --username U --name N --role R [--scope ORG_CODE]
  cascade token create --user U [--name N] [--expires 720h]
  cascade actuals import --file F.csv|F.xlsx [--round CODE] [--dry-run] [--as USERNAME]
                                     import actuals; prints every problem, changes nothing if any
  cascade openapi [--base-url URL]   print the OpenAPI 3 document that /openapi.json serves
  cascade version                    print the version, module and VCS revision

Every command answers -h with its usage, and takes --db (env CASCADE_DB): a
SQLite file path (default cascade.db) or a postgres:// URL. A flag whose
usage names a variable (env CASCADE_…) takes its value from it when the flag
is not given. The benchmark and the load test are cascade-tools (go run
./cmd/cascade-tools -h).
`

// groups are the commands with subcommands. Each answers -h (or help in
// place of a subcommand) with the usage it prints when called without one.
var groups = map[string]func(context.Context, []string, io.Writer, io.Writer) error{
	"migrate": runMigrate,
	"user":    runUser,
	"token":   runToken,
	"actuals": runActuals,
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if group, ok := groups[args[0]]; ok && len(args) > 1 && isHelp(args[1]) {
		if err := group(ctx, nil, stdout, stdout); err != nil && !errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "cascade:", err)
			return 1
		}
		return 0
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
	case "openapi":
		err = runOpenAPI(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		err = runVersion(args[1:], stdout, stderr)
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

// newFlagSet returns a flag set that reports errors on stderr and has the
// --db flag every command shares.
func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("cascade "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "cascade.db", "database: a SQLite file path or a postgres:// URL (env CASCADE_DB)")
	return fs, db
}

// envInUsage finds the environment variable a flag's usage names.
var envInUsage = regexp.MustCompile(`\(env (CASCADE_[A-Z0-9_]+)`)

// parse sets each flag whose usage names a variable, "(env CASCADE_X)",
// from that variable when it is set and not empty, with the flag's own
// parser (strconv.ParseBool for booleans, the allowed values for an enum),
// and then parses args, which win. A bad value in the environment is
// refused like a bad flag, naming the variable.
func parse(fs *flag.FlagSet, args []string) error {
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		m := envInUsage.FindStringSubmatch(f.Usage)
		if m == nil || bad != nil {
			return
		}
		if v, ok := os.LookupEnv(m[1]); ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = fmt.Errorf("%s=%q: invalid value for -%s: %v", m[1], v, f.Name, err)
			}
		}
	})
	if bad != nil {
		fmt.Fprintln(fs.Output(), bad)
		return errUsage
	}
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

// enumFlag is a flag.Value that accepts one of a fixed set of values.
type enumFlag struct {
	value   *string
	allowed []string
}

// enumVar defines a flag that refuses any value but the allowed ones.
func enumVar(fs *flag.FlagSet, p *string, name, def, usage string, allowed ...string) {
	*p = def
	fs.Var(&enumFlag{value: p, allowed: allowed}, name, usage)
}

func (e *enumFlag) String() string {
	if e.value == nil {
		return ""
	}
	return *e.value
}

func (e *enumFlag) Set(s string) error {
	for _, a := range e.allowed {
		if s == a {
			*e.value = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(e.allowed, ", "))
}

// runVersion prints the version, and what the Go toolchain recorded of the
// build: the module and its version, the VCS revision and time, whether
// the tree had uncommitted changes, and the Go version.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cascade version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "cascade", Version)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "revision unknown (no build information)")
		return nil
	}
	fmt.Fprintf(stdout, "module %s %s\n", bi.Main.Path, bi.Main.Version)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		rev = "unknown (built without VCS information)"
	} else {
		if t := settings["vcs.time"]; t != "" {
			rev += " " + t
		}
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
	}
	fmt.Fprintln(stdout, "revision", rev)
	fmt.Fprintln(stdout, "go", bi.GoVersion)
	return nil
}
