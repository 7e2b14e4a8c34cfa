package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// forEachDB runs fn as a sub-test on every database under test, each with a
// fresh database holding the demo data.
func forEachDB(t *testing.T, fn func(t *testing.T, env *env)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			db, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			svcs := sqlstore.NewServices(db)
			if _, err := demo.Load(context.Background(), svcs); err != nil {
				t.Fatalf("load demo: %v", err)
			}
			fn(t, &env{t: t, db: db, svcs: svcs, dsn: dsn})
		})
	}
}

type env struct {
	t    *testing.T
	db   *sqlstore.DB
	svcs planning.Services
	dsn  string // for a second handle on the same database
}

// as returns a context authenticated with the demo user's token.
func (e *env) as(username string) context.Context {
	e.t.Helper()
	a, err := e.svcs.Tokens.Authenticate(context.Background(), demo.TokenFor(username))
	if err != nil {
		e.t.Fatalf("authenticate %s: %v", username, err)
	}
	return planning.NewContextWithActor(context.Background(), a)
}

func (e *env) unit(code string) *planning.OrgUnit {
	e.t.Helper()
	us, _, err := e.svcs.OrgUnits.FindOrgUnits(e.as("admin"), planning.OrgUnitFilter{Code: code})
	if err != nil || len(us) != 1 {
		e.t.Fatalf("unit %s: %v %v", code, us, err)
	}
	return us[0]
}

func (e *env) auditCount() int64 {
	e.t.Helper()
	n, err := storetest.Bun(e.db).NewSelect().Table("audit_events").Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := planning.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestDemoData(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("admin")
		units, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Page: planning.PageRequest{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		// company, 2 national departments, 3 regions, 8 branches with 2 teams each
		if want := 1 + 2 + 3 + 8*3; len(units) != want {
			t.Fatalf("%d org units, want %d", len(units), want)
		}
		if units[0].Code != "CO" || units[0].NameLocal != "实达集团" {
			t.Fatalf("first unit %+v, want the company with its Chinese name", units[0])
		}
		pls, _, err := e.svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{})
		if err != nil || len(pls) < 10 {
			t.Fatalf("%d product lines (%v), want at least 10", len(pls), err)
		}
		ms, _, err := e.svcs.Measures.FindMeasures(ctx, planning.MeasureFilter{})
		if err != nil || len(ms) != 11 {
			t.Fatalf("%d measures (%v), want 11", len(ms), err)
		}
		again, err := demo.Load(context.Background(), e.svcs)
		if err != nil || again.Loaded {
			t.Fatalf("second load: loaded=%v err=%v, want a no-op", again.Loaded, err)
		}
	})
}

func TestOrgUnitScope(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		sh, js := e.unit("B-SH"), e.unit("B-JS")
		ctx := e.as("bm-sh")
		if _, err := e.svcs.OrgUnits.FindOrgUnitByID(ctx, js.ID); planning.ErrorCode(err) != planning.ENOTFOUND {
			t.Fatalf("bm-sh reading B-JS: %v, want not found", err)
		}
		if _, err := e.svcs.OrgUnits.FindOrgUnitByID(ctx, sh.ID); err != nil {
			t.Fatalf("bm-sh reading B-SH: %v", err)
		}
		units, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, u := range units {
			codes = append(codes, u.Code)
		}
		if len(codes) != 3 || codes[0] != "B-SH" {
			t.Fatalf("bm-sh sees %v, want B-SH and its two teams", codes)
		}
		if _, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{SubtreeOf: &js.ID}); planning.ErrorCode(err) != planning.ENOTFOUND {
			t.Fatalf("bm-sh listing the B-JS subtree: %v, want not found", err)
		}
		tl := e.as("tl-sh-ka")
		if _, err := e.svcs.OrgUnits.FindOrgUnitByID(tl, sh.ID); planning.ErrorCode(err) != planning.ENOTFOUND {
			t.Fatalf("team lead reading the branch above: %v, want not found", err)
		}
		wantCode(t, e.svcs.OrgUnits.CreateOrgUnit(ctx, &planning.OrgUnit{Code: "X", Name: "x", Kind: planning.KindDepartment, ParentID: &sh.ID}), planning.EFORBIDDEN)
	})
}

func TestOrgUnitTreeEdits(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("strategy")
		east, north, sh := e.unit("R-EAST"), e.unit("R-NORTH"), e.unit("B-SH")
		shKA := e.unit("B-SH-KA")

		// Moving a unit under its own descendant is a cycle.
		before := e.auditCount()
		_, err := e.svcs.OrgUnits.UpdateOrgUnit(ctx, east.ID, planning.OrgUnitUpdate{ParentID: &shKA.ID})
		wantCode(t, err, planning.EINVALID)
		_, err = e.svcs.OrgUnits.UpdateOrgUnit(ctx, sh.ID, planning.OrgUnitUpdate{ParentID: &sh.ID})
		wantCode(t, err, planning.EINVALID)
		if e.auditCount() != before {
			t.Fatal("a refused move left an audit event")
		}

		// A real move rewrites the subtree's paths.
		moved, err := e.svcs.OrgUnits.UpdateOrgUnit(ctx, sh.ID, planning.OrgUnitUpdate{ParentID: &north.ID, IfMatch: &sh.Revision})
		if err != nil {
			t.Fatal(err)
		}
		if *moved.ParentID != north.ID || moved.Revision != sh.Revision+1 {
			t.Fatalf("moved %+v", moved)
		}
		team := e.unit("B-SH-KA")
		if want := north.Path + itoa(sh.ID) + "/" + itoa(team.ID) + "/"; team.Path != want {
			t.Fatalf("team path %s, want %s", team.Path, want)
		}
		sub, _, err := e.svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{SubtreeOf: &north.ID})
		if err != nil || len(sub) != 1+3*3 {
			t.Fatalf("north subtree has %d units (%v), want 10", len(sub), err)
		}
		// The branch manager still sees the moved branch: scopes follow moves.
		if _, err := e.svcs.OrgUnits.FindOrgUnitByID(e.as("bm-sh"), team.ID); err != nil {
			t.Fatalf("bm-sh lost sight of its team after the move: %v", err)
		}

		// A stale revision is refused and changes nothing.
		name := "Renamed"
		_, err = e.svcs.OrgUnits.UpdateOrgUnit(ctx, sh.ID, planning.OrgUnitUpdate{Name: &name, IfMatch: &sh.Revision})
		wantCode(t, err, planning.EPRECONDITION)
		if e.unit("B-SH").Name == name {
			t.Fatal("a stale update changed the name")
		}

		// Deactivation needs the children deactivated first; deletion needs no data.
		off := false
		_, err = e.svcs.OrgUnits.UpdateOrgUnit(ctx, sh.ID, planning.OrgUnitUpdate{Active: &off})
		wantCode(t, err, planning.ECONFLICT)
		wantCode(t, e.svcs.OrgUnits.DeleteOrgUnit(ctx, sh.ID), planning.ECONFLICT)
		wantCode(t, e.svcs.OrgUnits.DeleteOrgUnit(ctx, shKA.ID), planning.ECONFLICT) // tl-sh-ka is scoped to it
		if _, err := e.svcs.OrgUnits.UpdateOrgUnit(ctx, shKA.ID, planning.OrgUnitUpdate{Active: &off}); err != nil {
			t.Fatal(err)
		}
		ch := e.unit("B-SH-CH")
		if err := e.svcs.OrgUnits.DeleteOrgUnit(ctx, ch.ID); err != nil {
			t.Fatalf("delete an empty team: %v", err)
		}
		_, err = e.svcs.OrgUnits.FindOrgUnitByID(ctx, ch.ID)
		wantCode(t, err, planning.ENOTFOUND)

		// Codes are unique; a second root is refused.
		wantCode(t, e.svcs.OrgUnits.CreateOrgUnit(ctx, &planning.OrgUnit{Code: "B-JS", Name: "dup", Kind: planning.KindBranch, ParentID: &east.ID}), planning.ECONFLICT)
		wantCode(t, e.svcs.OrgUnits.CreateOrgUnit(ctx, &planning.OrgUnit{Code: "ROOT2", Name: "root", Kind: planning.KindCompany}), planning.ECONFLICT)
	})
}

func TestOrgDepthLimit(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("admin")
		parent := e.unit("B-GD-KA") // depth 5
		for depth := parent.Depth() + 1; depth <= planning.MaxOrgDepth; depth++ {
			u := &planning.OrgUnit{Code: "D" + itoa(int64(depth)), Name: "deep", Kind: planning.KindDepartment, ParentID: &parent.ID}
			if err := e.svcs.OrgUnits.CreateOrgUnit(ctx, u); err != nil {
				t.Fatalf("depth %d: %v", depth, err)
			}
			parent = u
		}
		err := e.svcs.OrgUnits.CreateOrgUnit(ctx, &planning.OrgUnit{Code: "TOO-DEEP", Name: "deep", Kind: planning.KindDepartment, ParentID: &parent.ID})
		wantCode(t, err, planning.EINVALID)
		// Moving a deep subtree lower would exceed the limit too.
		gd := e.unit("B-GD")
		fj := e.unit("B-FJ-KA")
		_, err = e.svcs.OrgUnits.UpdateOrgUnit(ctx, gd.ID, planning.OrgUnitUpdate{ParentID: &fj.ID})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestProductLineOwnership(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		pls, _, err := e.svcs.ProductLines.FindProductLines(e.as("auditor"), planning.ProductLineFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byCode := map[string]*planning.ProductLine{}
		for _, p := range pls {
			byCode[p.Code] = p
		}
		pm := e.as("pm-industry")
		name := "POS terminals"
		if _, err := e.svcs.ProductLines.UpdateProductLine(pm, byCode["POS"].ID, planning.ProductLineUpdate{Name: &name}); err != nil {
			t.Fatalf("owner renaming POS: %v", err)
		}
		_, err = e.svcs.ProductLines.UpdateProductLine(pm, byCode["CPC"].ID, planning.ProductLineUpdate{Name: &name})
		wantCode(t, err, planning.EFORBIDDEN)
		var zero int64
		_, err = e.svcs.ProductLines.UpdateProductLine(pm, byCode["POS"].ID, planning.ProductLineUpdate{OwnerID: &zero})
		wantCode(t, err, planning.EFORBIDDEN)
		// The owner must be a product manager.
		users, _, _ := e.svcs.Users.FindUsers(e.as("admin"), planning.UserFilter{Username: "auditor"})
		_, err = e.svcs.ProductLines.UpdateProductLine(e.as("admin"), byCode["POS"].ID, planning.ProductLineUpdate{OwnerID: &users[0].ID})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestMeasuresAndProfiles(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("strategy")
		m := &planning.Measure{Code: "op_profit", Name: "Operating profit", NameLocal: "营业利润", Unit: "CNY", Scale: 2}
		if err := e.svcs.Measures.CreateMeasure(ctx, m); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svcs.Measures.CreateMeasure(ctx, &planning.Measure{Code: "bad", Name: "x", Unit: "yen", Scale: 9}), planning.EINVALID)
		wantCode(t, e.svcs.Measures.CreateMeasure(e.as("bm-sh"), &planning.Measure{Code: "x", Name: "x", Unit: "CNY"}), planning.EFORBIDDEN)

		p := &planning.SeasonalityProfile{Code: "q4", Name: "Q4 heavy"}
		for i := range p.Weights {
			p.Weights[i] = decimal.RequireFromString("1.5")
		}
		p.Weights[11] = decimal.RequireFromString("12.25")
		if err := e.svcs.Seasonality.CreateSeasonalityProfile(e.as("pm-agency"), p); err != nil {
			t.Fatal(err)
		}
		got, err := e.svcs.Seasonality.FindSeasonalityProfileByID(ctx, p.ID)
		if err != nil || !got.Weights[11].Equal(decimal.RequireFromString("12.25")) {
			t.Fatalf("profile read back %+v %v", got, err)
		}
		var zero [12]decimal.Decimal
		_, err = e.svcs.Seasonality.UpdateSeasonalityProfile(ctx, p.ID, planning.SeasonalityProfileUpdate{Weights: &zero})
		wantCode(t, err, planning.EINVALID)
	})
}

func TestUsersAndTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		admin := e.as("admin")
		u := &planning.User{Username: "wang.li", Name: "王丽", Email: "wang.li@start.example"}
		if err := e.svcs.Users.CreateUser(admin, u); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svcs.Users.CreateUser(admin, &planning.User{Username: "wang.li", Name: "dup"}), planning.ECONFLICT)
		wantCode(t, e.svcs.Users.CreateUser(e.as("strategy"), &planning.User{Username: "x", Name: "x"}), planning.EFORBIDDEN)

		zj := e.unit("B-ZJ")
		wantCode(t, e.svcs.Users.AddRole(admin, &planning.RoleAssignment{UserID: u.ID, Role: planning.RoleBranchManager}), planning.EINVALID)
		ra := &planning.RoleAssignment{UserID: u.ID, Role: planning.RoleBranchManager, OrgUnitID: &zj.ID}
		if err := e.svcs.Users.AddRole(admin, ra); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svcs.Users.AddRole(admin, &planning.RoleAssignment{UserID: u.ID, Role: planning.RoleBranchManager, OrgUnitID: &zj.ID}), planning.ECONFLICT)

		tok := &planning.Token{UserID: u.ID, Name: "laptop"}
		secret, err := e.svcs.Tokens.CreateToken(admin, tok)
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.svcs.Tokens.Authenticate(context.Background(), secret)
		if err != nil || a.User.Username != "wang.li" || !a.CanSeeOrgPath(zj.Path) || a.CanSeeOrgPath(e.unit("B-SH").Path) {
			t.Fatalf("authenticated %+v %v, want wang.li scoped to B-ZJ", a, err)
		}
		var stored string
		if err := storetest.Bun(e.db).NewSelect().Table("tokens").Column("hash").Where("id = ?", tok.ID).Scan(context.Background(), &stored); err != nil {
			t.Fatal(err)
		}
		if stored == secret || stored != planning.HashToken(secret) {
			t.Fatal("the token is not stored hashed")
		}
		if _, err := e.svcs.Tokens.RevokeToken(admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svcs.Tokens.Authenticate(context.Background(), secret)
		wantCode(t, err, planning.EUNAUTHORIZED)

		// An inactive user's tokens stop working.
		secret2, err := e.svcs.Tokens.CreateToken(admin, &planning.Token{UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		off := false
		if _, err := e.svcs.Users.UpdateUser(admin, u.ID, planning.UserUpdate{Active: &off}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svcs.Tokens.Authenticate(context.Background(), secret2)
		wantCode(t, err, planning.EUNAUTHORIZED)
		if err := e.svcs.Users.RemoveRole(admin, u.ID, ra.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuditTrail(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := e.as("strategy")
		m := &planning.Measure{Code: "share", Name: "Market share", Unit: "count", Scale: 0}
		if err := e.svcs.Measures.CreateMeasure(ctx, m); err != nil {
			t.Fatal(err)
		}
		evs, _, err := e.svcs.Audit.FindAuditEvents(e.as("auditor"), planning.AuditFilter{Entity: "measure", EntityID: &m.ID})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit events %v %v", evs, err)
		}
		strategy := e.as("strategy")
		if evs[0].Action != "measure.create" || evs[0].ActorID == nil || *evs[0].ActorID != planning.ActorFromContext(strategy).UserID() || evs[0].Before != nil {
			t.Fatalf("audit event %+v", evs[0])
		}
		// A branch manager reads the events of their own units only; the
		// product managers read all but users and tokens.
		mine, _, err := e.svcs.Audit.FindAuditEvents(e.as("bm-sh"), planning.AuditFilter{})
		if err != nil || len(mine) != 3 {
			t.Fatalf("bm-sh reads %d events (%v), want the creation of B-SH and its two teams", len(mine), err)
		}
		for _, ev := range mine {
			if ev.Entity != "org_unit" {
				t.Fatalf("bm-sh reads %+v", ev)
			}
		}
		users := "user"
		pmEvents, _, err := e.svcs.Audit.FindAuditEvents(e.as("pm-agency"), planning.AuditFilter{Entity: users})
		if err != nil || len(pmEvents) != 0 {
			t.Fatalf("a product manager reads %d user events (%v)", len(pmEvents), err)
		}
		// Paging walks every event once, newest first.
		seen := map[int64]bool{}
		page := planning.PageRequest{Limit: 7}
		for {
			evs, next, err := e.svcs.Audit.FindAuditEvents(e.as("admin"), planning.AuditFilter{Page: page})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if seen[ev.ID] {
					t.Fatalf("event %d seen twice", ev.ID)
				}
				seen[ev.ID] = true
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if int64(len(seen)) != e.auditCount() {
			t.Fatalf("paged through %d events of %d", len(seen), e.auditCount())
		}
	})
}

// TestMigrateDownAndUp rolls back one migration at a time, latest first,
// until none is applied, then applies them all again: each down undoes
// exactly the migration LatestMigration names, and up reports every one.
func TestMigrateDownAndUp(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d)
			pending := func() int {
				t.Helper()
				st, err := db.MigrationStatus(ctx)
				if err != nil || len(st) == 0 {
					t.Fatalf("status %v %v", st, err)
				}
				n := 0
				for i, s := range st {
					if strings.Contains(s, "pending") {
						n++
					} else if n > 0 {
						t.Fatalf("migration %d is applied after a pending one: %v", i, st)
					}
				}
				return n
			}
			st, _ := db.MigrationStatus(ctx)
			total := len(st)
			for i := 1; i <= total; i++ {
				want, err := db.LatestMigration(ctx)
				if err != nil || want == "" {
					t.Fatalf("latest before down %d: %q %v", i, want, err)
				}
				got, err := db.MigrateDown(ctx)
				if err != nil {
					t.Fatalf("down %d: %v", i, err)
				}
				if got != want || !strings.HasPrefix(st[total-i], got) {
					t.Fatalf("down %d rolled back %q, want %q (the latest, %s)", i, got, want, st[total-i])
				}
				if n := pending(); n != i {
					t.Fatalf("after %d downs %d migrations are pending", i, n)
				}
			}
			if got, err := db.MigrateDown(ctx); err != nil || got != "" {
				t.Fatalf("down with nothing applied: %q %v", got, err)
			}
			names, err := db.MigrateUp(ctx)
			if err != nil || len(names) != total {
				t.Fatalf("up again applied %v (%v), want all %d", names, err, total)
			}
			if names, err := db.MigrateUp(ctx); err != nil || len(names) != 0 {
				t.Fatalf("up on a current schema applied %v (%v)", names, err)
			}
			if _, err := demo.Load(ctx, sqlstore.NewServices(db)); err != nil {
				t.Fatalf("demo after down/up: %v", err)
			}
		})
	}
}

func itoa(i int64) string { return decimal.NewFromInt(i).String() }
