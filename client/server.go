package client

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/wire"
)

// ServerInfo is what a server can process and the limits it enforces
// (GET /api/v1/server).
type (
	ServerInfo   = wire.ServerInfo
	MediaSupport = wire.MediaSupport
	Limits       = wire.ServerLimits
)

// Server returns what the server can process and its limits.
func (c *Client) Server(ctx context.Context) (ServerInfo, error) {
	var s ServerInfo
	err := c.do(ctx, http.MethodGet, "/api/v1/server", nil, &s)
	return s, err
}
