package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
)

// TestOrgUnitLifecycle creates, renames with ETags, moves and deletes org
// units, and checks that refused writes leave everything as it was.
func TestOrgUnitLifecycle(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		admin := apitest.Token("admin")
		bsh := env.OrgUnitID("B-SH")

		// Create with names in Chinese and beyond the BMP; they round-trip.
		name, local := "Pudong 浦东 🚀", "上海浦东新区大客户部"
		r := env.Request("POST", "/api/v1/org-units", admin, map[string]any{
			"code": "B-SH-PD", "name": name, "name_local": local, "kind": "department", "parent_id": bsh}, nil)
		if r.Status != 201 || r.Header.Get("ETag") != `"1"` || !strings.HasPrefix(r.Header.Get("Location"), "/api/v1/org-units/") {
			t.Fatalf("create: %d %v %s", r.Status, r.Header, r.Body)
		}
		var created api.OrgUnit
		r.Decode(t, &created)
		self := fmt.Sprintf("/api/v1/org-units/%d", created.ID)
		if r.Header.Get("Location") != self {
			t.Errorf("Location %q, want %q", r.Header.Get("Location"), self)
		}
		var got api.OrgUnit
		env.GetJSON("admin", self, &got)
		if got.Name != name || got.NameLocal != local || got.Kind != "department" || *got.ParentID != bsh || !got.Active {
			t.Errorf("read back %+v", got)
		}
		if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
			t.Errorf("created_at %v", got.CreatedAt)
		}
		// The branch manager sees the new unit: it is in their subtree.
		if r := env.Request("GET", self, apitest.Token("bm-sh"), nil, nil); r.Status != 200 {
			t.Errorf("bm-sh reads the new unit: %d", r.Status)
		}

		// Rename with the current ETag; then the old ETag is stale.
		r = env.Request("PATCH", self, admin, `{"name":"浦东"}`, map[string]string{"If-Match": `"1"`})
		if r.Status != 200 || r.Header.Get("ETag") != `"2"` {
			t.Fatalf("rename: %d %v %s", r.Status, r.Header, r.Body)
		}
		r = env.Request("PATCH", self, admin, `{"name":"stale"}`, map[string]string{"If-Match": `"1"`})
		if r.Status != 412 {
			t.Errorf("stale rename: %d %s", r.Status, r.Body)
		}
		if r.Header.Get("ETag") != "" {
			t.Errorf("a 412 carries ETag %q", r.Header.Get("ETag"))
		}
		r = env.Request("GET", self, admin, nil, nil)
		if r.Header.Get("ETag") != `"2"` || !strings.Contains(string(r.Body), `"name":"浦东"`) {
			t.Errorf("after stale rename: %v %s", r.Header, r.Body)
		}

		// Moving a unit under its own descendant is refused and changes nothing.
		r = env.Request("PATCH", fmt.Sprintf("/api/v1/org-units/%d", bsh), admin,
			map[string]any{"parent_id": created.ID}, nil)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"field":"parent_id"`) {
			t.Errorf("move under descendant: %d %s", r.Status, r.Body)
		}
		var branch api.OrgUnit
		env.GetJSON("admin", fmt.Sprintf("/api/v1/org-units/%d", bsh), &branch)
		if branch.Revision != 1 || *branch.ParentID != env.OrgUnitID("R-EAST") {
			t.Errorf("B-SH changed by a refused move: %+v", branch)
		}

		// A real move carries the subtree along.
		r = env.Request("PATCH", self, admin, map[string]any{"parent_id": env.OrgUnitID("B-SH-KA")}, nil)
		if r.Status != 200 {
			t.Fatalf("move: %d %s", r.Status, r.Body)
		}
		env.GetJSON("admin", self, &got)
		if *got.ParentID != env.OrgUnitID("B-SH-KA") || got.Depth != 5 {
			t.Errorf("after move: %+v", got)
		}
		// The team lead of B-SH-KA sees it now.
		if r := env.Request("GET", self, apitest.Token("tl-sh-ka"), nil, nil); r.Status != 200 {
			t.Errorf("tl-sh-ka reads the moved unit: %d", r.Status)
		}

		// Units that hold data cannot be deleted, only deactivated.
		for _, code := range []string{"B-SH", "B-SH-KA"} { // children; a role assignment
			r = env.Request("DELETE", fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID(code)), admin, nil, nil)
			if r.Status != 409 {
				t.Errorf("delete %s: %d %s", code, r.Status, r.Body)
			}
		}
		env.GetJSON("admin", fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID("B-SH-KA")), &got)
		if !got.Active {
			t.Errorf("B-SH-KA changed by a refused delete")
		}
		r = env.Request("PATCH", self, admin, `{"active":false}`, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"active":false`) {
			t.Errorf("deactivate: %d %s", r.Status, r.Body)
		}
		if r := env.Request("GET", "/api/v1/org-units?active=false", admin, nil, nil); !strings.Contains(string(r.Body), `"code":"B-SH-PD"`) {
			t.Errorf("inactive filter: %s", r.Body)
		}
		r = env.Request("DELETE", self, admin, nil, nil)
		if r.Status != 204 || len(r.Body) != 0 {
			t.Errorf("delete: %d %s", r.Status, r.Body)
		}
		if r := env.Request("GET", self, admin, nil, nil); r.Status != 404 {
			t.Errorf("deleted unit: %d", r.Status)
		}

		// Every write left an audit event, with the actor.
		var audit api.AuditEventPage
		env.GetJSON("auditor", fmt.Sprintf("/api/v1/audit?entity=org_unit&entity_id=%d&actor=%d", created.ID, env.UserID("admin")), &audit)
		var actions []string
		for _, e := range audit.Items {
			actions = append(actions, e.Action)
		}
		if len(actions) < 4 || actions[len(actions)-1] != "org_unit.create" {
			t.Errorf("audit actions %v", actions)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		env.GetJSON("auditor", "/api/v1/audit?from="+future, &audit)
		if len(audit.Items) != 0 {
			t.Errorf("audit from the future: %d events", len(audit.Items))
		}
	})
}

// TestPagination walks every list page by page and finds each item once.
func TestPagination(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		for _, path := range []string{"/api/v1/org-units", "/api/v1/product-lines", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit", "/api/v1/measures"} {
			var all struct {
				Items      []struct{ ID int64 } `json:"items"`
				NextCursor string               `json:"next_cursor"`
			}
			env.GetJSON("admin", path+"?limit=1000", &all)
			if all.NextCursor != "" || len(all.Items) < 5 {
				t.Fatalf("%s: %d items, cursor %q", path, len(all.Items), all.NextCursor)
			}
			seen := map[int64]bool{}
			cursor, pages := "", 0
			for {
				var page struct {
					Items      []struct{ ID int64 } `json:"items"`
					NextCursor *string              `json:"next_cursor"`
				}
				env.GetJSON("admin", path+"?limit=3&cursor="+cursor, &page)
				pages++
				for _, it := range page.Items {
					if seen[it.ID] {
						t.Errorf("%s: id %d on two pages", path, it.ID)
					}
					seen[it.ID] = true
				}
				if page.NextCursor == nil {
					break
				}
				if *page.NextCursor == "" || pages > 100 {
					t.Fatalf("%s: bad cursor %q after %d pages", path, *page.NextCursor, pages)
				}
				cursor = *page.NextCursor
			}
			if len(seen) != len(all.Items) {
				t.Errorf("%s: pages hold %d items, the list %d", path, len(seen), len(all.Items))
			}
		}
	})
}

// TestUsersRolesTokens runs an administrator's day: a new user with a role
// and a token, the token used and revoked, the user disabled.
func TestUsersRolesTokens(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		admin := apitest.Token("admin")
		r := env.Request("POST", "/api/v1/users", admin, `{"username":"bm-sh2","name":"李娜","email":"li.na@start.example"}`, nil)
		if r.Status != 201 {
			t.Fatalf("create user: %d %s", r.Status, r.Body)
		}
		var u api.User
		r.Decode(t, &u)
		if u.Name != "李娜" || u.Roles == nil || !u.Active {
			t.Errorf("created %+v", u)
		}
		if r := env.Request("POST", "/api/v1/users", admin, `{"username":"bm-sh2","name":"again"}`, nil); r.Status != 409 {
			t.Errorf("duplicate username: %d %s", r.Status, r.Body)
		}
		if r := env.Request("POST", "/api/v1/users", admin, `{"username":"Bad Name","name":"x"}`, nil); r.Status != 422 ||
			!strings.Contains(string(r.Body), `"field":"username"`) {
			t.Errorf("bad username: %d %s", r.Status, r.Body)
		}
		userPath := fmt.Sprintf("/api/v1/users/%d", u.ID)

		// Roles: scoped roles need a scope.
		if r := env.Request("POST", userPath+"/roles", admin, `{"role":"branch_manager"}`, nil); r.Status != 422 ||
			!strings.Contains(string(r.Body), `"field":"org_unit_id"`) {
			t.Errorf("unscoped branch manager: %d %s", r.Status, r.Body)
		}
		if r := env.Request("POST", userPath+"/roles", admin, `{"role":"emperor"}`, nil); r.Status != 422 {
			t.Errorf("unknown role: %d %s", r.Status, r.Body)
		}
		r = env.Request("POST", userPath+"/roles", admin, map[string]any{"role": "branch_manager", "org_unit_id": env.OrgUnitID("B-SH")}, nil)
		if r.Status != 201 {
			t.Fatalf("grant: %d %s", r.Status, r.Body)
		}
		var ra api.RoleAssignment
		r.Decode(t, &ra)

		// A token for the new user: the secret is shown once and works.
		r = env.Request("POST", "/api/v1/tokens", admin, map[string]any{"user_id": u.ID, "name": "laptop",
			"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, nil)
		if r.Status != 201 {
			t.Fatalf("create token: %d %s", r.Status, r.Body)
		}
		var tok api.TokenCreated
		r.Decode(t, &tok)
		if !strings.HasPrefix(tok.Secret, "cas_") || tok.ExpiresAt == nil || tok.UserID != u.ID {
			t.Fatalf("token %+v", tok)
		}
		if r := env.Request("GET", fmt.Sprintf("/api/v1/tokens?user_id=%d", u.ID), admin, nil, nil); strings.Contains(string(r.Body), tok.Secret) {
			t.Errorf("the secret is listed: %s", r.Body)
		}
		var me api.Me
		r = env.Request("GET", "/api/v1/me", tok.Secret, nil, nil)
		r.Decode(t, &me)
		if me.User.Username != "bm-sh2" || len(me.Roles) != 1 || me.Roles[0].Role != "branch_manager" || me.TokenID != tok.ID {
			t.Errorf("me %+v", me)
		}
		if r := env.Request("GET", fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID("B-JS")), tok.Secret, nil, nil); r.Status != 404 {
			t.Errorf("new branch manager reads B-JS: %d", r.Status)
		}
		if r := env.Request("POST", "/api/v1/tokens", admin, `{"user_id":0,"name":"x"}`, nil); r.Status != 422 {
			t.Errorf("token for user 0: %d %s", r.Status, r.Body)
		}

		// Revoking the role takes the scope away at once.
		if r := env.Request("DELETE", fmt.Sprintf("%s/roles/%d", userPath, ra.ID), admin, nil, nil); r.Status != 204 {
			t.Errorf("revoke role: %d %s", r.Status, r.Body)
		}
		if r := env.Request("GET", fmt.Sprintf("/api/v1/org-units/%d", env.OrgUnitID("B-SH")), tok.Secret, nil, nil); r.Status != 404 {
			t.Errorf("after revoking the role, B-SH: %d", r.Status)
		}

		// Revoking the token locks it out.
		if r := env.Request("DELETE", fmt.Sprintf("/api/v1/tokens/%d", tok.ID), admin, nil, nil); r.Status != 204 {
			t.Errorf("revoke token: %d %s", r.Status, r.Body)
		}
		if r := env.Request("GET", "/api/v1/me", tok.Secret, nil, nil); r.Status != 401 {
			t.Errorf("revoked token: %d", r.Status)
		}

		// Disabling a user locks out every token of theirs.
		r = env.Request("PATCH", fmt.Sprintf("/api/v1/users/%d", env.UserID("bm-fj")), admin, `{"active":false}`, map[string]string{"If-Match": `"1"`})
		if r.Status != 200 || r.Header.Get("ETag") != `"2"` {
			t.Fatalf("disable: %d %v %s", r.Status, r.Header, r.Body)
		}
		if r := env.Request("GET", "/api/v1/me", apitest.Token("bm-fj"), nil, nil); r.Status != 401 {
			t.Errorf("disabled user's token: %d", r.Status)
		}
		if r := env.Request("PATCH", userPath, admin, `{"email":"not an address"}`, nil); r.Status != 422 {
			t.Errorf("bad email: %d %s", r.Status, r.Body)
		}
	})
}

// TestChunkedOversizedBody sends a body without Content-Length, so the limit
// is found while reading.
func TestChunkedOversizedBody(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{BodyLimit: 1024}})
	bsh := fmt.Sprintf("%s/api/v1/org-units/%d", env.URL, env.OrgUnitID("B-SH"))
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 4096)), strings.NewReader(`"}`))
	req, _ := http.NewRequest("PATCH", bsh, body)
	req.Header.Set("Authorization", "Bearer "+apitest.Token("admin"))
	req.Header.Set("Content-Type", "application/json")
	res, err := env.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("chunked oversized body: %d %s", res.StatusCode, b)
	}
	// Just under the limit is fine.
	r := env.Request("PATCH", bsh[len(env.URL):], apitest.Token("admin"), `{"name":"`+strings.Repeat("x", 100)+`"}`, nil)
	if r.Status != 200 {
		t.Errorf("small body: %d %s", r.Status, r.Body)
	}
}
