package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cascade-planning/cascade/planning"
)

// runUserAdmin runs the user commands besides create: list, password,
// invite, deactivate and activate.
func runUserAdmin(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("user "+cmd, stderr)
	username := fs.String("username", "", "login name")
	reset := fs.Bool("reset", false, "invite: issue a password reset link instead of an invitation")
	baseURL := fs.String("base-url", "http://localhost:8080", "invite: where people reach the console (env CASCADE_BASE_URL)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cmd != "list" && *username == "" {
		fmt.Fprintln(stderr, "--username is required")
		return errUsage
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = systemContext(ctx)
	if cmd == "list" {
		return listUsers(ctx, svcs, stdout)
	}
	u, err := findUser(ctx, svcs, *username)
	if err != nil {
		return err
	}
	switch cmd {
	case "password":
		// The password comes on standard input, never as an argument that
		// the process list and shell history would show.
		fmt.Fprintf(stderr, "new password for %s (one line): ", u.Username)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		if err := svcs.Sessions.SetPassword(ctx, u.ID, strings.TrimRight(line, "\r\n")); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s set; their sessions are signed out\n", u.Username)
	case "invite":
		purpose := planning.PasswordInvite
		if *reset {
			purpose = planning.PasswordReset
		}
		link, secret, err := svcs.Sessions.CreatePasswordLink(ctx, u.ID, purpose)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s/set-password#token=%s\n", strings.TrimSuffix(*baseURL, "/"), secret)
		fmt.Fprintf(stderr, "one-time %s link for %s, valid until %s\n", purpose, u.Username, link.ExpiresAt.Format("2006-01-02 15:04 MST"))
	case "deactivate", "activate":
		active := cmd == "activate"
		if _, err := svcs.Users.UpdateUser(ctx, u.ID, planning.UserUpdate{Active: &active}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s\n", u.Username, map[bool]string{true: "active", false: "inactive: their tokens and sessions stop working"}[active])
	}
	return nil
}

func listUsers(ctx context.Context, svcs planning.Services, stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSERNAME\tNAME\tACTIVE\tROLES")
	for u, err := range planning.AllPages(func(page planning.PageRequest) ([]*planning.User, string, error) {
		return svcs.Users.FindUsers(ctx, planning.UserFilter{Page: page})
	}) {
		if err != nil {
			return err
		}
		var roles []string
		for _, ra := range u.Roles {
			roles = append(roles, string(ra.Role))
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%t\t%s\n", u.ID, u.Username, u.Name, u.Active, strings.Join(roles, ","))
	}
	return w.Flush()
}

// runTokenAdmin runs token list and token revoke.
func runTokenAdmin(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("token "+cmd, stderr)
	username := fs.String("user", "", "list: only this user's tokens")
	id := fs.Int64("id", 0, "revoke: the token's id (see token list)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cmd == "revoke" && *id <= 0 {
		fmt.Fprintln(stderr, "--id is required")
		return errUsage
	}
	db, svcs, err := openMigrated(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = systemContext(ctx)
	if cmd == "revoke" {
		t, err := svcs.Tokens.RevokeToken(ctx, *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d (%s) revoked\n", t.ID, t.Hint)
		return nil
	}
	f := planning.TokenFilter{}
	if *username != "" {
		u, err := findUser(ctx, svcs, *username)
		if err != nil {
			return err
		}
		f.UserID = &u.ID
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER_ID\tNAME\tHINT\tEXPIRES\tREVOKED\tLAST_USED")
	for t, err := range planning.AllPages(func(page planning.PageRequest) ([]*planning.Token, string, error) {
		f.Page = page
		return svcs.Tokens.FindTokens(ctx, f)
	}) {
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.UserID, t.Name, t.Hint, timeOr(t.ExpiresAt, "never"), timeOr(t.RevokedAt, "-"), timeOr(t.LastUsedAt, "-"))
	}
	return w.Flush()
}

func timeOr[T interface{ Format(string) string }](t *T, none string) string {
	if t == nil {
		return none
	}
	return (*t).Format("2006-01-02 15:04")
}
