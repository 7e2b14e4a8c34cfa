package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// Me is the caller as the server sees them: the user, their roles and the
// product lines they own.
type Me struct {
	User User `json:"user"`
	// Roles are the roles the caller holds, with their scopes.
	Roles []RoleAssignment `json:"roles"`
	// OwnedProductLineIDs are the product lines whose product manager the
	// caller is.
	OwnedProductLineIDs []int64 `json:"owned_product_line_ids"`
	// TokenID is the token the request authenticated with.
	TokenID int64 `json:"token_id" example:"5"`
}

// getMe godoc
//
//	@Summary		Who am I
//	@ID				getMe
//	@Description	The authenticated caller, their roles and owned product lines. Any signed-in user may call it.
//	@Tags			me
//	@Security		BearerAuth
//	@Produce		json
//	@Success		200	{object}	api.Me
//	@Failure		401	{object}	api.Problem	"Not authenticated"
//	@Router			/me [get]
func (s *Server) getMe(c echo.Context) error {
	a, err := planning.RequireActor(c.Request().Context())
	if err != nil {
		return err
	}
	me := Me{User: fromDomainUser(a.User), Roles: fromDomainRoles(a.Roles),
		OwnedProductLineIDs: append([]int64{}, a.OwnedProductLineIDs...), TokenID: a.TokenID}
	if len(me.User.Roles) == 0 {
		me.User.Roles = me.Roles
	}
	return c.JSON(http.StatusOK, me)
}
