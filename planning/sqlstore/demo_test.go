package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

// TestDemoLoadIsAtomic checks the demo load as one transaction: loaders
// racing on one empty database load it once and all succeed; a load that
// fails halfway leaves nothing behind; and a database holding part of the
// demo data (as an interrupted load of an earlier release could leave) is
// refused with the fix named.
func TestDemoLoadIsAtomic(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d)+"/racing loaders", func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			db0 := openAt(t, dsn)
			var wg sync.WaitGroup
			results := make([]*demo.Result, 3)
			errs := make([]error, 3)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db := openAt(t, dsn)
					results[i], errs[i] = demo.Load(context.Background(), sqlstore.NewServices(db))
				}()
			}
			wg.Wait()
			loaded := 0
			for i, err := range errs {
				if err != nil {
					t.Fatalf("loader %d: %v", i, err)
				}
				if results[i].Loaded {
					loaded++
				}
			}
			if loaded != 1 {
				t.Fatalf("%d loaders loaded the demo data, want 1", loaded)
			}
			if n := countUsers(t, db0); n != len(demo.Users()) {
				t.Fatalf("%d users, want %d", n, len(demo.Users()))
			}
		})
		t.Run(string(d)+"/failure halfway", func(t *testing.T) {
			db := storetest.Open(t, d)
			svcs := sqlstore.NewServices(db)
			// The last write of the load fails, after the org tree, the
			// users, the product lines and the measures are written.
			ctx := planning.NewContextWithActor(context.Background(), planning.SystemActor())
			before := storetest.TakeSnapshot(t, db)
			broken := svcs
			broken.Seasonality = failingProfiles{svcs.Seasonality}
			if _, err := demo.Load(ctx, broken); err == nil {
				t.Fatal("the broken load succeeded")
			}
			if diff := before.Diff(storetest.TakeSnapshot(t, db)); diff != nil {
				t.Fatalf("a failed load left data behind:\n%s", strings.Join(diff, "\n"))
			}
			if res, err := demo.Load(ctx, svcs); err != nil || !res.Loaded {
				t.Fatalf("load after the failure: %v %v", res, err)
			}
		})
		t.Run(string(d)+"/partial data", func(t *testing.T) {
			db := storetest.Open(t, d)
			svcs := sqlstore.NewServices(db)
			ctx := planning.NewContextWithActor(context.Background(), planning.SystemActor())
			co := &planning.OrgUnit{Code: "CO", Name: "Start Group", Kind: planning.KindCompany}
			if err := svcs.OrgUnits.CreateOrgUnit(ctx, co); err != nil {
				t.Fatal(err)
			}
			if err := svcs.Users.CreateUser(ctx, &planning.User{Username: "pm-industry", Name: "x", Email: "pm@start.example"}); err != nil {
				t.Fatal(err)
			}
			_, err := demo.Load(ctx, svcs)
			if err == nil || !strings.Contains(err.Error(), "incomplete") || !strings.Contains(err.Error(), "empty database") {
				t.Fatalf("partial demo data: %v, want a refusal naming the fix", err)
			}
		})
	}
}

// failingProfiles fails creating the last seasonality profile, the last
// thing the demo load writes.
type failingProfiles struct {
	planning.SeasonalityProfileService
}

func (f failingProfiles) CreateSeasonalityProfile(ctx context.Context, p *planning.SeasonalityProfile) error {
	if p.Code == "government" {
		return planning.Errorf(planning.EINTERNAL, "injected failure")
	}
	return f.SeasonalityProfileService.CreateSeasonalityProfile(ctx, p)
}

func openAt(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func countUsers(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	ctx := planning.NewContextWithActor(context.Background(), planning.SystemActor())
	us, _, err := sqlstore.NewServices(db).Users.FindUsers(ctx, planning.UserFilter{Page: planning.PageRequest{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return len(us)
}
