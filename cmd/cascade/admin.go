package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// openMigrated opens the database and applies pending migrations, for the
// administration commands.
func openMigrated(ctx context.Context, dsn string) (*sqlstore.DB, planning.Services, error) {
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, planning.Services{}, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, planning.Services{}, err
	}
	return db, sqlstore.NewServices(db), nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("demo", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := demo.Load(ctx, svcs)
	if err != nil {
		return err
	}
	if err := demo.SetPasswords(ctx, svcs); err != nil {
		return err
	}
	if res.Loaded {
		fmt.Fprintln(stdout, "demo data loaded; users and their tokens (console password: demo-<username>):")
	} else {
		fmt.Fprintln(stdout, "demo data already present; users and their tokens (console password: demo-<username>):")
	}
	for _, u := range res.Users {
		fmt.Fprintf(stdout, "  %-20s %-20s %s\n", u.Username, u.Role, u.Token)
	}
	return nil
}

// systemContext is the context of administration commands: they act as the
// system, recorded in the audit trail without a user.
func systemContext(ctx context.Context) context.Context {
	return planning.NewContextWithActor(ctx, planning.SystemActor())
}

func findUser(ctx context.Context, svcs planning.Services, username string) (*planning.User, error) {
	us, _, err := svcs.Users.FindUsers(ctx, planning.UserFilter{Username: username})
	if err != nil {
		return nil, err
	} else if len(us) == 0 {
		return nil, fmt.Errorf("no user %q", username)
	}
	return us[0], nil
}

// stdin is where `user password` reads the password; tests replace it.
var stdin io.Reader = os.Stdin

const userUsage = `usage:
  cascade user create --username U --name N --role R [--scope ORG_CODE] [--email E]
  cascade user list
  cascade user password --username U      (reads the new password from standard input)
  cascade user invite --username U [--reset] [--base-url URL]
  cascade user deactivate --username U
  cascade user activate --username U`

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
	case "list", "password", "invite", "deactivate", "activate":
		return runUserAdmin(ctx, args[0], args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintln(stderr, userUsage)
		return errUsage
	}
	fs, dsn := newFlagSet("user create", stderr)
	username := fs.String("username", "", "login name (required)")
	name := fs.String("name", "", "display name (required)")
	email := fs.String("email", "", "e-mail address")
	role := fs.String("role", "", "role to grant, e.g. admin")
	scope := fs.String("scope", "", "org unit code scoping a branch_manager or team_lead")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = systemContext(ctx)
	u := &planning.User{Username: *username, Name: *name, Email: *email}
	if err := svcs.Users.CreateUser(ctx, u); err != nil {
		return err
	}
	if *role != "" {
		ra := &planning.RoleAssignment{UserID: u.ID, Role: planning.Role(*role)}
		if *scope != "" {
			units, _, err := svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Code: *scope})
			if err != nil {
				return err
			} else if len(units) == 0 {
				return fmt.Errorf("no org unit with code %q", *scope)
			}
			ra.OrgUnitID = &units[0].ID
		}
		if err := svcs.Users.AddRole(ctx, ra); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "created user %s (id %d)\n", u.Username, u.ID)
	return nil
}

const tokenUsage = `usage:
  cascade token create --user USERNAME [--name NAME] [--expires 720h]
  cascade token list [--user USERNAME]
  cascade token revoke --id ID`

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
	case "list", "revoke":
		return runTokenAdmin(ctx, args[0], args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, tokenUsage)
		return errUsage
	}
	fs, dsn := newFlagSet("token create", stderr)
	username := fs.String("user", "", "username the token authenticates (required)")
	name := fs.String("name", "cli token", "a name to tell the token apart")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *username == "" {
		fmt.Fprintln(stderr, "--user is required")
		return errUsage
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = systemContext(ctx)
	u, err := findUser(ctx, svcs, *username)
	if err != nil {
		return err
	}
	t := &planning.Token{UserID: u.ID, Name: *name}
	if *expires > 0 {
		at := time.Now().Add(*expires).UTC()
		t.ExpiresAt = &at
	}
	secret, err := svcs.Tokens.CreateToken(ctx, t)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "token %d for %s; it is shown only this once\n", t.ID, u.Username)
	return nil
}
