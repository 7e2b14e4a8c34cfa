package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/demo"
)

// signIn signs a demo user in and returns the session cookie's value and the
// CSRF token, failing the test unless it works.
func signIn(t *testing.T, env *apitest.Env, username, password string) (cookie, csrf string) {
	t.Helper()
	r := env.Request("POST", "/api/v1/sessions", "", map[string]any{"username": username, "password": password}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("sign in as %s: %d: %s", username, r.Status, r.Body)
	}
	var info api.SessionInfo
	r.Decode(t, &info)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c.Value
		}
	}
	if cookie == "" || info.CSRFToken == "" || info.User.Username != username {
		t.Fatalf("sign in as %s: no cookie or CSRF token: %v %s", username, r.Header, r.Body)
	}
	return cookie, info.CSRFToken
}

func withCookie(cookie string, extra ...string) map[string]string {
	h := map[string]string{"Cookie": api.SessionCookie + "=" + cookie}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// TestSessions covers people signing in: the cookie's attributes, CSRF and
// Origin checks on writes, sign-out and revocation, throttling, one-time
// password links, deactivation, and bearer tokens working as before.
func TestSessions(t *testing.T) {
	apitest.ForEachDB(t, func(t *testing.T, env *apitest.Env) {
		if err := demo.SetPasswords(context.Background(), env.Services); err != nil {
			t.Fatal(err)
		}

		t.Run("cookie attributes", func(t *testing.T) {
			r := env.Request("POST", "/api/v1/sessions", "", map[string]any{"username": "bm-sh", "password": demo.PasswordFor("bm-sh")}, nil)
			sc := r.Header.Get("Set-Cookie")
			if r.Status != 201 || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || strings.Contains(sc, "Secure") {
				t.Errorf("plain HTTP sign-in: %d, Set-Cookie %q", r.Status, sc)
			}
			r = env.Request("POST", "/api/v1/sessions", "", map[string]any{"username": "bm-sh", "password": demo.PasswordFor("bm-sh")},
				map[string]string{"X-Forwarded-Proto": "https"})
			if sc := r.Header.Get("Set-Cookie"); r.Status != 201 || !strings.Contains(sc, "Secure") {
				t.Errorf("sign-in behind TLS: %d, Set-Cookie %q", r.Status, sc)
			}
		})

		cookie, csrf := signIn(t, env, "admin", demo.PasswordFor("admin"))
		patch := fmt.Sprintf("/api/v1/users/%d", env.UserID("auditor"))
		apitest.Run(t, env, []apitest.Scenario{
			{Name: "wrong password", Method: "POST", URL: "/api/v1/sessions", Body: map[string]any{"username": "bm-js", "password": "not-the-password"},
				ExpectedStatus: 401, ExpectedContent: []string{"wrong username or password"}, NotExpectedContent: []string{"bm-js"}},
			{Name: "unknown user, same answer", Method: "POST", URL: "/api/v1/sessions", Body: map[string]any{"username": "nobody", "password": "not-the-password"},
				ExpectedStatus: 401, ExpectedContent: []string{"wrong username or password"}},
			{Name: "missing password", Method: "POST", URL: "/api/v1/sessions", Body: map[string]any{"username": "bm-js"},
				ExpectedStatus: 422, ExpectedContent: []string{`"field":"password"`}},
			{Name: "unknown field", Method: "POST", URL: "/api/v1/sessions", Body: map[string]any{"username": "bm-js", "password": "x", "remember": true},
				ExpectedStatus: 400},
			{Name: "read with the cookie", Method: "GET", URL: "/api/v1/me", Headers: withCookie(cookie),
				ExpectedStatus: 200, ExpectedContent: []string{`"username":"admin"`}},
			{Name: "current session", Method: "GET", URL: "/api/v1/sessions/current", Headers: withCookie(cookie),
				ExpectedStatus: 200, ExpectedContent: []string{csrf}},
			{Name: "write with the cookie and no CSRF token", Method: "PATCH", URL: patch, Headers: withCookie(cookie, "If-Match", "*"),
				Body: map[string]any{"name": "Changed"}, ExpectedStatus: 403, ExpectedContent: []string{"X-CSRF-Token"},
				After: func(t *testing.T, env *apitest.Env, _ *apitest.Response) {
					var u api.User
					env.GetJSON("admin", patch, &u)
					if u.Name == "Changed" {
						t.Error("a write without the CSRF token changed the user")
					}
				}},
			{Name: "write with a wrong CSRF token", Method: "PATCH", URL: patch, Headers: withCookie(cookie, "If-Match", "*", api.CSRFHeader, strings.Repeat("0", 64)),
				Body: map[string]any{"name": "Changed"}, ExpectedStatus: 403},
			{Name: "write from another origin", Method: "PATCH", URL: patch, Headers: withCookie(cookie, "If-Match", "*", api.CSRFHeader, csrf, "Origin", "https://evil.example"),
				Body: map[string]any{"name": "Changed"}, ExpectedStatus: 403, ExpectedContent: []string{"Origin"}},
			{Name: "write with the CSRF token", Method: "PATCH", URL: patch, Headers: withCookie(cookie, "If-Match", "*", api.CSRFHeader, csrf),
				Body: map[string]any{"name": "Internal auditor"}, ExpectedStatus: 200},
			{Name: "bearer tokens work unchanged", Method: "GET", URL: "/api/v1/me", As: "bm-sh", ExpectedStatus: 200},
			{Name: "a token has no session", Method: "GET", URL: "/api/v1/sessions/current", As: "bm-sh", ExpectedStatus: 404},
			{Name: "a made-up cookie", Method: "GET", URL: "/api/v1/me", Headers: withCookie("cs_madeup"), ExpectedStatus: 401},
			{Name: "sign out needs the CSRF token", Method: "DELETE", URL: "/api/v1/sessions/current", Headers: withCookie(cookie), ExpectedStatus: 403},
			{Name: "sign out", Method: "DELETE", URL: "/api/v1/sessions/current", Headers: withCookie(cookie, api.CSRFHeader, csrf), ExpectedStatus: 204},
			{Name: "the cookie is dead after sign-out", Method: "GET", URL: "/api/v1/me", Headers: withCookie(cookie), ExpectedStatus: 401},
		})

		t.Run("sessions expire", func(t *testing.T) {
			cookie, _ := signIn(t, env, "bm-zj", demo.PasswordFor("bm-zj"))
			real := env.DB.Now
			defer func() { env.DB.Now = real }()
			env.DB.Now = func() time.Time { return real().Add(planning.SessionTTL - time.Minute) }
			if r := env.Request("GET", "/api/v1/me", "", nil, withCookie(cookie)); r.Status != 200 {
				t.Errorf("a session a minute before its expiry: %d", r.Status)
			}
			env.DB.Now = func() time.Time { return real().Add(planning.SessionTTL + time.Minute) }
			if r := env.Request("GET", "/api/v1/me", "", nil, withCookie(cookie)); r.Status != 401 {
				t.Errorf("an expired session: %d, want 401", r.Status)
			}
		})

		t.Run("throttling per username", func(t *testing.T) {
			for i := 0; i < 5; i++ {
				r := env.Request("POST", "/api/v1/sessions", "", map[string]any{"username": "president", "password": "guess-number-" + fmt.Sprint(i)}, nil)
				if r.Status != 401 {
					t.Fatalf("attempt %d: %d", i, r.Status)
				}
			}
			r := env.Request("POST", "/api/v1/sessions", "", map[string]any{"username": "president", "password": demo.PasswordFor("president")}, nil)
			if r.Status != 429 || r.Header.Get("Retry-After") == "" {
				t.Errorf("sixth attempt, right password: %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
			}
			// Another user from the same address is not locked out yet.
			signIn(t, env, "auditor", demo.PasswordFor("auditor"))
		})

		t.Run("demo passwords keep a password set since", func(t *testing.T) {
			var link api.PasswordLinkCreated
			r := env.Request("POST", fmt.Sprintf("/api/v1/users/%d/password-links", env.UserID("marketing-director")), apitest.Token("admin"), map[string]any{"purpose": "reset"}, nil)
			r.Decode(t, &link)
			if s, _, b := env.Do("POST", "/api/v1/passwords", "", map[string]any{"token": link.Token, "password": "my very own password"}); s != 204 {
				t.Fatalf("reset: %d %s", s, b)
			}
			if err := demo.SetPasswords(context.Background(), env.Services); err != nil {
				t.Fatal(err)
			}
			signIn(t, env, "marketing-director", "my very own password")
		})

		t.Run("invite link, one time", func(t *testing.T) {
			var u api.User
			if s, _, b := env.Do("POST", "/api/v1/users", apitest.Token("admin"), map[string]any{"username": "new-person", "name": "New Person"}); s != 201 {
				t.Fatalf("create user: %d %s", s, b)
			} else {
				(&apitest.Response{Body: b}).Decode(t, &u)
			}
			path := fmt.Sprintf("/api/v1/users/%d/password-links", u.ID)
			if s, _, _ := env.Do("POST", path, apitest.Token("pm-industry"), map[string]any{"purpose": "invite"}); s != 403 {
				t.Errorf("a product manager issued a link: %d", s)
			}
			var link api.PasswordLinkCreated
			r := env.Request("POST", path, apitest.Token("admin"), map[string]any{"purpose": "invite"}, nil)
			if r.Status != 201 {
				t.Fatalf("create link: %d %s", r.Status, r.Body)
			}
			r.Decode(t, &link)
			if !strings.Contains(link.URL, "/set-password#token="+link.Token) {
				t.Errorf("link URL %q", link.URL)
			}
			apitest.Run(t, env, []apitest.Scenario{
				{Name: "too short", Method: "POST", URL: "/api/v1/passwords", Body: map[string]any{"token": link.Token, "password": "short"},
					ExpectedStatus: 422, ExpectedContent: []string{`"field":"password"`}},
				{Name: "bad token", Method: "POST", URL: "/api/v1/passwords", Body: map[string]any{"token": "cas_nope", "password": "a long enough password"},
					ExpectedStatus: 422, ExpectedContent: []string{`"field":"token"`}},
				{Name: "redeem", Method: "POST", URL: "/api/v1/passwords", Body: map[string]any{"token": link.Token, "password": "a long enough password"}, ExpectedStatus: 204},
				{Name: "redeem twice", Method: "POST", URL: "/api/v1/passwords", Body: map[string]any{"token": link.Token, "password": "another long password"},
					ExpectedStatus: 422, ExpectedContent: []string{`"field":"token"`}},
			})
			cookie, _ := signIn(t, env, "new-person", "a long enough password")

			// A reset signs the person out everywhere.
			r = env.Request("POST", path, apitest.Token("admin"), map[string]any{"purpose": "reset"}, nil)
			r.Decode(t, &link)
			if s, _, b := env.Do("POST", "/api/v1/passwords", "", map[string]any{"token": link.Token, "password": "the third password"}); s != 204 {
				t.Fatalf("reset: %d %s", s, b)
			}
			if r := env.Request("GET", "/api/v1/me", "", nil, withCookie(cookie)); r.Status != 401 {
				t.Errorf("session after a password reset: %d, want 401", r.Status)
			}
			if s, _, _ := env.Do("POST", "/api/v1/sessions", "", map[string]any{"username": "new-person", "password": "a long enough password"}); s != 401 {
				t.Errorf("old password after reset: %d", s)
			}

			// Deactivating the user ends their sessions too.
			cookie, _ = signIn(t, env, "new-person", "the third password")
			if s, _, b := env.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), apitest.Token("admin"), map[string]any{"active": false}); s != 200 {
				t.Fatalf("deactivate: %d %s", s, b)
			}
			if r := env.Request("GET", "/api/v1/me", "", nil, withCookie(cookie)); r.Status != 401 {
				t.Errorf("session of a deactivated user: %d, want 401", r.Status)
			}
			if s, _, _ := env.Do("POST", "/api/v1/sessions", "", map[string]any{"username": "new-person", "password": "the third password"}); s != 401 {
				t.Errorf("sign-in of a deactivated user: %d", s)
			}
		})
	})
}
