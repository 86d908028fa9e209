package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Block is a user the caller blocks.
type Block = wire.Block

// BlockUser blocks a user, privately: its 1:1 messages to the caller are
// acknowledged to it but never delivered, and neither sees the other's
// presence or typing. Blocking again changes nothing; an unknown user is
// not_found, the caller itself invalid.
func (c *Client) BlockUser(ctx context.Context, userID string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/users/me/blocks/"+url.PathEscape(userID), nil, nil)
}

// UnblockUser ends a block; what the user sent meanwhile stays withheld.
func (c *Client) UnblockUser(ctx context.Context, userID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/me/blocks/"+url.PathEscape(userID), nil, nil)
}

// Blocks lists the users the caller blocks, most recent first.
func (c *Client) Blocks(ctx context.Context) ([]Block, error) {
	var l wire.BlockList
	err := c.do(ctx, http.MethodGet, "/api/v1/users/me/blocks", nil, &l)
	return l.Blocks, err
}

// DeleteAccount deletes the caller's account, given its password:
// irreversible. Every session ends; the messages it sent stay in others'
// histories, their sender shown as a deleted account. A wrong password is
// unauthorized and changes nothing.
func (c *Client) DeleteAccount(ctx context.Context, password string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/me", wire.DeleteAccountRequest{Password: password}, nil)
}
