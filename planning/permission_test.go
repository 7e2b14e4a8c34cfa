package planning_test

import (
	"testing"

	"github.com/cascade-planning/cascade/planning"
)

// The rules the store asks about users, the audit trail, allocations,
// letters, versions and the org tree: who may (EFORBIDDEN otherwise) and
// in which state (ECONFLICT otherwise), without a database.

func TestStorePermissions(t *testing.T) {
	admin, auditor := actor(1, planning.RoleAdmin), actor(2, planning.RoleAuditor)
	strategy, pm := actor(3, planning.RoleStrategyOffice), actor(4, planning.RoleProductManager)
	bm, president := actor(10, planning.RoleBranchManager), actor(6, planning.RolePresident)
	nobody := actor(7)
	cases := []struct {
		what string
		err  error
		code string
	}{
		{"admin allocates", admin.MayAllocate(), ""},
		{"product manager allocates", pm.MayAllocate(), ""},
		{"branch manager allocates", bm.MayAllocate(), planning.EFORBIDDEN},
		{"auditor reads users", auditor.MayReadUsers(), ""},
		{"strategy reads users", strategy.MayReadUsers(), planning.EFORBIDDEN},
		{"anybody reads themself", nobody.MayReadUser(7), ""},
		{"nobody reads another", nobody.MayReadUser(1), planning.EFORBIDDEN},
		{"admin manages users", admin.MayManageUsers(), ""},
		{"auditor manages users", auditor.MayManageUsers(), planning.EFORBIDDEN},
		{"strategy issues letters", strategy.MayIssueLetters(), ""},
		{"president issues letters", president.MayIssueLetters(), planning.EFORBIDDEN},
		{"admin removes own admin role", admin.CheckRoleRemoval(1, planning.RoleAdmin), planning.ECONFLICT},
		{"admin removes another's admin role", admin.CheckRoleRemoval(2, planning.RoleAdmin), ""},
		{"admin removes an own other role", admin.CheckRoleRemoval(1, planning.RoleAuditor), ""},
		{"a second root", planning.CheckNewRoot(true), planning.ECONFLICT},
		{"the first root", planning.CheckNewRoot(false), ""},
		{"deactivate with active children", planning.CheckDeactivation(2), planning.ECONFLICT},
		{"deactivate a leaf", planning.CheckDeactivation(0), ""},
		{"reactivate under an inactive parent", planning.CheckReactivation(false), planning.ECONFLICT},
		{"delete a unit holding data", (&planning.OrgUnit{Code: "X"}).CheckDeletion("target_cells", 3), planning.ECONFLICT},
		{"version of a draft round", (&planning.Round{Status: planning.RoundDraft}).CheckVersionable(), planning.ECONFLICT},
		{"version of an open round", (&planning.Round{Status: planning.RoundOpen}).CheckVersionable(), ""},
		{"letters from the record", (&planning.Round{RecordVersionID: ptr(int64(5))}).CheckLetterVersion(5), ""},
		{"letters from another version", (&planning.Round{RecordVersionID: ptr(int64(5))}).CheckLetterVersion(6), planning.ECONFLICT},
		{"letters before a record", (&planning.Round{}).CheckLetterVersion(5), planning.ECONFLICT},
		{"attainment before a record", func() error { _, err := (&planning.Round{}).RecordVersion(); return err }(), planning.ECONFLICT},
	}
	for _, c := range cases {
		wantCode(t, c.what, c.err, c.code)
	}

	// The audit trail: all of it, all but users and tokens, the caller's
	// subtrees, or nothing.
	for _, c := range []struct {
		who   string
		a     *planning.Actor
		want  planning.AuditReach
		code  string
		paths int
	}{
		{"auditor", auditor, planning.AuditReach{All: true}, "", 0},
		{"strategy", strategy, planning.AuditReach{ExceptUsers: true}, "", 0},
		{"branch manager", bm, planning.AuditReach{}, "", 1},
		{"nobody", nobody, planning.AuditReach{}, planning.EFORBIDDEN, 0},
	} {
		reach, err := c.a.MayReadAudit()
		wantCode(t, "audit reach of "+c.who, err, c.code)
		if reach.All != c.want.All || reach.ExceptUsers != c.want.ExceptUsers || len(reach.Paths) != c.paths {
			t.Errorf("audit reach of %s: %+v, want %+v with %d paths", c.who, reach, c.want, c.paths)
		}
	}
}

func TestVersionFreeze(t *testing.T) {
	by := int64(3)
	v := &planning.Version{ID: 1, Status: planning.VersionWorking}
	if err := v.Freeze(&by, now); err != nil {
		t.Fatal(err)
	}
	if v.Status != planning.VersionFrozen || v.FrozenBy == nil || *v.FrozenBy != by || v.FrozenAt == nil || !v.FrozenAt.Equal(now) {
		t.Fatalf("after Freeze: %+v", v)
	}
	wantCode(t, "freezing twice", v.Freeze(&by, now), planning.ECONFLICT)
}

func ptr[T any](v T) *T { return &v }

// ActOnApproval makes the move the chain's rules decide on the version
// itself: the next step, and at the final approval the sign-off, frozen.
func TestVersionActOnApproval(t *testing.T) {
	subjects := approvalSubjects()
	s := subjects["in approval at step 3"]
	v := *s.Version
	v.ApprovalStep = s.Current
	move, err := v.ActOnApproval(actor(103, planning.RoleMarketingDirector), planning.ActApprove, "", s, now)
	if err != nil {
		t.Fatal(err)
	}
	if move.SignOff || v.ApprovalState != planning.ApprovalInProgress || v.ApprovalStep != 3 || v.Status != planning.VersionWorking {
		t.Fatalf("after approving step 3: %+v, move %+v", v, move)
	}
	s = subjects["in approval at step 4"]
	v = *s.Version
	v.ApprovalStep = s.Current
	pres := actor(104, planning.RolePresident)
	if move, err = v.ActOnApproval(pres, planning.ActApprove, "", s, now); err != nil {
		t.Fatal(err)
	}
	if !move.SignOff || v.ApprovalState != planning.ApprovalApproved || v.Status != planning.VersionFrozen || v.FrozenBy == nil || *v.FrozenBy != 104 {
		t.Fatalf("after the final approval: %+v, move %+v", v, move)
	}
	// A refusal leaves the version as it was.
	v = *s.Version
	v.ApprovalStep = s.Current
	was := v
	_, err = v.ActOnApproval(actor(103, planning.RoleMarketingDirector), planning.ActApprove, "", s, now)
	wantCode(t, "approving another's step", err, planning.EFORBIDDEN)
	if v.ApprovalState != was.ApprovalState || v.ApprovalStep != was.ApprovalStep || v.Status != was.Status {
		t.Fatalf("a refused act changed the version: %+v, was %+v", v, was)
	}
}
