package zzprobe

import (
	"context"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
	"github.com/cascade-planning/cascade/planning/sqlstore/storetest"
)

func TestZZProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d)
			svcs := sqlstore.NewServices(db)
			t0 := time.Now()
			data, err := buildBenchData(ctx, svcs, probeUnits(), 40, 5)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("build %v", time.Since(t0))
			ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
			units, _, _ := svcs.OrgUnits.FindOrgUnits(ctx, planning.OrgUnitFilter{Code: "CO"})
			lines, _, _ := svcs.ProductLines.FindProductLines(ctx, planning.ProductLineFilter{Page: planning.PageRequest{Limit: 1000}})
			req := planning.AllocationRequest{VersionID: data.VersionID, MeasureID: data.Measures[0].ID, RootID: units[0].ID,
				Levels: []planning.LevelSpec{{Method: planning.MethodEven}}, Phasing: planning.Phasing{Method: planning.PhaseEven}}
			for _, l := range lines {
				req.Targets = append(req.Targets, planning.AllocationTarget{ProductLineID: l.ID, Amount: decimal.RequireFromString("123456789.00")})
			}
			t0 = time.Now()
			pf, _ := os.Create("/tmp/probe/alloc_" + string(d) + ".pprof")
			pprof.StartCPUProfile(pf)
			res, err := svcs.Targets.Allocate(ctx, req)
			pprof.StopCPUProfile()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("allocate %d cells %v", res.Run.CellCount, time.Since(t0))
			t0 = time.Now()
			v2, err := svcs.Versions.CopyVersion(ctx, data.VersionID, "copy", "")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("copy %v", time.Since(t0))
			if os.Getenv("PROBE_DIFF") == "" {
				return
			}
			t0 = time.Now()
			diff, err := svcs.Targets.DiffVersions(ctx, planning.DiffFilter{VersionID: v2.ID, AgainstID: data.VersionID, Page: planning.PageRequest{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("diff %d %v", diff.ChangedCells, time.Since(t0))
		})
	}
}

func probeUnits() int {
	n, _ := strconv.Atoi(os.Getenv("PROBE_UNITS"))
	if n == 0 {
		n = 2000
	}
	return n
}
