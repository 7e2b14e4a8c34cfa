package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// People sign in with a password and get a session cookie; API clients keep
// sending bearer tokens. The cookie is HttpOnly (scripts never see the
// secret), SameSite=Strict, and Secure whenever the request came over TLS.
// A write made with the cookie must also carry the X-CSRF-Token header: a
// value derived from the session secret, which the console learns from the
// sign-in answer or GET /sessions/current and which another site can
// neither read nor compute. An Origin header, when a browser sends one,
// must name this server.

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "cascade_session"

// CSRFHeader is the header a write made with the session cookie carries.
const CSRFHeader = "X-CSRF-Token"

// csrfToken derives the CSRF token of a session from its secret.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("cascade-csrf\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// SessionCreate is the body of POST /sessions.
type SessionCreate struct {
	Username string `json:"username" validate:"required" example:"bm-sh"`
	Password string `json:"password" validate:"required" example:"demo-bm-sh"`
}

// SessionInfo describes the caller's console session.
type SessionInfo struct {
	User      User      `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
	// CSRFToken goes in the X-CSRF-Token header of every write made with
	// the session cookie.
	CSRFToken string `json:"csrf_token" example:"3f1c…"`
}

// PasswordLinkCreate is the body of POST /users/{id}/password-links.
type PasswordLinkCreate struct {
	Purpose string `json:"purpose" validate:"required" example:"invite" enums:"invite,reset"`
}

// PasswordLinkCreated is a one-time link for a person to set their password.
// The token is shown this once; hand the URL to the person.
type PasswordLinkCreated struct {
	ID        int64     `json:"id" example:"3"`
	UserID    int64     `json:"user_id" example:"12"`
	Purpose   string    `json:"purpose" example:"invite" enums:"invite,reset"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token" example:"cas_mfrgg2lsnzsxeylsmvsgk3tfojxxkzdf"`
	// URL opens the console's set-password page with the token.
	URL string `json:"url" example:"https://plan.example.com/set-password#token=cas_mfrgg2lsnzsxeylsmvsgk3tfojxxkzdf"`
}

// PasswordSet is the body of POST /passwords: a one-time link's token and
// the new password.
type PasswordSet struct {
	Token    string `json:"token" validate:"required" example:"cas_mfrgg2lsnzsxeylsmvsgk3tfojxxkzdf"`
	Password string `json:"password" validate:"required" example:"correct horse battery staple"`
}

// clientAddress is the address of the connection the request came on. It
// deliberately ignores X-Forwarded-For, which any client can forge.
func clientAddress(c echo.Context) string {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// secureRequest reports whether the client reached the server over TLS,
// directly or through a proxy that says so.
func (s *Server) secureRequest(c echo.Context) bool {
	return c.IsTLS() || strings.EqualFold(c.Request().Header.Get("X-Forwarded-Proto"), "https") ||
		strings.HasPrefix(s.cfg.BaseURL, "https://")
}

func (s *Server) setSessionCookie(c echo.Context, value string, expires time.Time) {
	ck := &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureRequest(c)}
	if value == "" {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires
	}
	c.SetCookie(ck)
}

// authenticateSession authenticates a request by its session cookie and,
// for writes, checks the CSRF header and the Origin.
func (s *Server) authenticateSession(c echo.Context, secret string, next echo.HandlerFunc) error {
	req := c.Request()
	actor, sess, err := s.svcs.Sessions.Authenticate(req.Context(), secret)
	if err != nil {
		return err
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := req.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(secret))) != 1 {
			return planning.Errorf(planning.EFORBIDDEN, "a write made with the session cookie needs the %s header from the sign-in answer", CSRFHeader)
		}
		if origin := req.Header.Get(echo.HeaderOrigin); origin != "" {
			if u, err := url.Parse(origin); err != nil || u.Host != req.Host {
				return planning.Errorf(planning.EFORBIDDEN, "the request's Origin is not this server")
			}
		}
	}
	c.Set("session", sess)
	c.Set("session_secret", secret)
	c.SetRequest(actorRequest(req, actor))
	return next(c)
}

// signIn godoc
//
//	@Summary		Sign in
//	@ID				signIn
//	@Description	Checks a person's username and password and opens a console session: the answer sets the HttpOnly cookie cascade_session and carries the CSRF token that writes made with the cookie send in X-CSRF-Token. Needs no authentication. After 5 failures for one username, or 20 from one address, within 15 minutes, further attempts get 429.
//	@Tags			sessions
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.SessionCreate	true	"Username and password"
//	@Success		201		{object}	api.SessionInfo
//	@Header			201		{string}	Set-Cookie	"cascade_session=…; HttpOnly; SameSite=Strict"
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Wrong username or password"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Missing fields"
//	@Failure		429		{object}	api.Problem	"Too many failed sign-ins"
//	@Router			/sessions [post]
func (s *Server) signIn(c echo.Context) error {
	var req SessionCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var v planning.Validation
	if req.Username == "" {
		v.Add("username", "is required")
	}
	if req.Password == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	in, err := s.svcs.Sessions.SignIn(ctx, planning.SignInRequest{Username: req.Username, Password: req.Password, Address: clientAddress(c)})
	if err != nil {
		if planning.ErrorCode(err) == planning.ETHROTTLED {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(planning.FailureWindow.Seconds())))
		}
		return err
	}
	s.setSessionCookie(c, in.Secret, in.Session.ExpiresAt)
	return created(c, location("/sessions/current"), nil, SessionInfo{User: fromDomainUser(in.Actor.User), ExpiresAt: in.Session.ExpiresAt.UTC(), CSRFToken: csrfToken(in.Secret)})
}

// currentSession returns the request's session, or ENOTFOUND when it
// authenticated with a bearer token.
func currentSession(c echo.Context) (*planning.Session, string, error) {
	sess, _ := c.Get("session").(*planning.Session)
	secret, _ := c.Get("session_secret").(string)
	if sess == nil {
		return nil, "", planning.Errorf(planning.ENOTFOUND, "no session: the request authenticated with a bearer token")
	}
	return sess, secret, nil
}

// getSession godoc
//
//	@Summary		The current session
//	@ID				getCurrentSession
//	@Description	The signed-in person and their session's expiry and CSRF token. 404 for a request made with a bearer token.
//	@Tags			sessions
//	@Security		BearerAuth
//	@Produce		json
//	@Success		200	{object}	api.SessionInfo
//	@Failure		401	{object}	api.Problem	"Not signed in"
//	@Failure		404	{object}	api.Problem	"Authenticated with a token, not a session"
//	@Router			/sessions/current [get]
func (s *Server) getSession(c echo.Context) error {
	sess, secret, err := currentSession(c)
	if err != nil {
		return err
	}
	a, err := planning.RequireActor(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, SessionInfo{User: fromDomainUser(a.User), ExpiresAt: sess.ExpiresAt.UTC(), CSRFToken: csrfToken(secret)})
}

// signOut godoc
//
//	@Summary		Sign out
//	@ID				signOut
//	@Description	Revokes the current session and clears its cookie. Needs the X-CSRF-Token header. 404 for a request made with a bearer token.
//	@Tags			sessions
//	@Security		BearerAuth
//	@Param			X-CSRF-Token	header	string	false	"The session's CSRF token (required with the session cookie)"
//	@Success		204
//	@Failure		401	{object}	api.Problem	"Not signed in"
//	@Failure		403	{object}	api.Problem	"Missing or wrong CSRF token"
//	@Failure		404	{object}	api.Problem	"Authenticated with a token, not a session"
//	@Router			/sessions/current [delete]
func (s *Server) signOut(c echo.Context) error {
	_, secret, err := currentSession(c)
	if err != nil {
		return err
	}
	if err := s.svcs.Sessions.SignOut(c.Request().Context(), secret); err != nil {
		return err
	}
	s.setSessionCookie(c, "", time.Time{})
	return c.NoContent(http.StatusNoContent)
}

// createPasswordLink godoc
//
//	@Summary		Invite a person or reset their password
//	@ID				createPasswordLink
//	@Description	Needs the admin role. Issues a one-time link, valid for 72 hours, with which the user sets a password (POST /passwords); the answer carries its token this once. Setting the password signs the user out everywhere.
//	@Tags			users
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int						true	"User id"
//	@Param			body	body		api.PasswordLinkCreate	true	"invite or reset"
//	@Success		201		{object}	api.PasswordLinkCreated
//	@Failure		400		{object}	api.Problem	"Malformed body or bad id"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin"
//	@Failure		404		{object}	api.Problem	"Unknown user"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid purpose, or an inactive user"
//	@Router			/users/{id}/password-links [post]
func (s *Server) createPasswordLink(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req PasswordLinkCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	link, secret, err := s.svcs.Sessions.CreatePasswordLink(c.Request().Context(), id, planning.PasswordLinkPurpose(req.Purpose))
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(s.cfg.BaseURL, "/")
	if base == "" {
		scheme := "http"
		if s.secureRequest(c) {
			scheme = "https"
		}
		base = scheme + "://" + c.Request().Host
	}
	return created(c, location("/users/%d", id), nil, PasswordLinkCreated{ID: link.ID, UserID: link.UserID, Purpose: string(link.Purpose),
		ExpiresAt: link.ExpiresAt.UTC(), Token: secret, URL: base + "/set-password#token=" + secret})
}

// setPassword godoc
//
//	@Summary		Set a password with a one-time link
//	@ID				setPassword
//	@Description	Needs no authentication: the link's token is the credential. Uses the link up, sets the password (at least 10 characters) and signs the user out of every session.
//	@Tags			sessions
//	@Accept			json
//	@Param			body	body	api.PasswordSet	true	"The link's token and the new password"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Malformed body"
//	@Failure		413	{object}	api.Problem	"Body too large"
//	@Failure		422	{object}	api.Problem	"Unknown, used or expired link, or a too short password"
//	@Router			/passwords [post]
func (s *Server) setPassword(c echo.Context) error {
	var req PasswordSet
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return invalid("token", "is required")
	}
	if err := s.svcs.Sessions.RedeemPasswordLink(c.Request().Context(), req.Token, req.Password); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
