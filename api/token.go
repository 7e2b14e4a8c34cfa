package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Token describes an API token. The secret itself is never shown again after
// it is created; Hint tells tokens apart.
type Token struct {
	ID         int64      `json:"id" example:"5"`
	UserID     int64      `json:"user_id" example:"12"`
	Name       string     `json:"name" example:"laptop"`
	Hint       string     `json:"hint" example:"cas_mfrg"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// TokenPage is one page of tokens.
type TokenPage struct {
	Items      []Token `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// TokenCreate is the body of POST /tokens.
type TokenCreate struct {
	UserID int64  `json:"user_id" validate:"required" example:"12"`
	Name   string `json:"name" example:"laptop"`
	// ExpiresAt is when the token stops working (RFC 3339); null for never.
	ExpiresAt *time.Time `json:"expires_at" example:"2027-01-31T00:00:00Z"`
}

// TokenCreated is the answer to POST /tokens: the token and, this once, its
// secret.
type TokenCreated struct {
	Token
	// Secret is the bearer token. It is not stored and cannot be shown again.
	Secret string `json:"secret" example:"cas_mfrgg2lsnzsxeylsmvsgk3tfojxxkzdf"`
}

func fromDomainToken(t *planning.Token) Token {
	return Token{ID: t.ID, UserID: t.UserID, Name: t.Name, Hint: t.Hint, ExpiresAt: formatTime(t.ExpiresAt),
		RevokedAt: formatTime(t.RevokedAt), LastUsedAt: formatTime(t.LastUsedAt), CreatedAt: t.CreatedAt.UTC()}
}

func (r TokenCreate) toDomain() (*planning.Token, error) {
	if r.UserID <= 0 {
		return nil, invalid("user_id", "must be a positive user id")
	}
	return &planning.Token{UserID: r.UserID, Name: r.Name, ExpiresAt: r.ExpiresAt}, nil
}

// listTokens godoc
//
//	@Summary		List tokens
//	@ID				listTokens
//	@Description	Needs the admin role. Secrets are never listed.
//	@Tags			tokens
//	@Security		BearerAuth
//	@Produce		json
//	@Param			user_id	query		int		false	"Only tokens of this user"
//	@Param			limit	query		int		false	"Page size (1-1000, default 100)"
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	api.TokenPage
//	@Failure		400		{object}	api.Problem	"Bad query parameter"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin"
//	@Failure		422		{object}	api.Problem	"Invalid filter"
//	@Router			/tokens [get]
func (s *Server) listTokens(c echo.Context) error {
	q := newQuery(c, "user_id")
	f := planning.TokenFilter{UserID: q.id("user_id"), Page: q.page()}
	if err := q.err(); err != nil {
		return err
	}
	ts, next, err := s.svcs.Tokens.FindTokens(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := TokenPage{Items: make([]Token, 0, len(ts)), NextCursor: next}
	for _, t := range ts {
		page.Items = append(page.Items, fromDomainToken(t))
	}
	return c.JSON(http.StatusOK, page)
}

// createToken godoc
//
//	@Summary		Issue a token
//	@ID				createToken
//	@Description	Needs the admin role. The answer carries the secret; it is shown this once and never again.
//	@Tags			tokens
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		api.TokenCreate	true	"Whose token, its name and expiry"
//	@Success		201		{object}	api.TokenCreated
//	@Failure		400		{object}	api.Problem	"Malformed body"
//	@Failure		401		{object}	api.Problem	"Not authenticated"
//	@Failure		403		{object}	api.Problem	"Not an admin"
//	@Failure		413		{object}	api.Problem	"Body too large"
//	@Failure		422		{object}	api.Problem	"Invalid fields, e.g. an unknown user"
//	@Router			/tokens [post]
func (s *Server) createToken(c echo.Context) error {
	var req TokenCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := req.toDomain()
	if err != nil {
		return err
	}
	secret, err := s.svcs.Tokens.CreateToken(c.Request().Context(), t)
	if err != nil {
		return err
	}
	return created(c, location("/tokens?user_id=%d", t.UserID), nil, TokenCreated{Token: fromDomainToken(t), Secret: secret})
}

// revokeToken godoc
//
//	@Summary		Revoke a token
//	@ID				revokeToken
//	@Description	Needs the admin role. The token stops working at once; it stays listed, with revoked_at set.
//	@Tags			tokens
//	@Security		BearerAuth
//	@Param			id	path	int	true	"Token id"
//	@Success		204
//	@Failure		400	{object}	api.Problem	"Bad id"
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Failure		403	{object}	api.Problem	"Not an admin"
//	@Failure		404	{object}	api.Problem	"Unknown token"
//	@Router			/tokens/{id} [delete]
func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.svcs.Tokens.RevokeToken(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
