package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Bot accounts (docs/PROTOCOL.md, "Bots"). A bot signs in with its API
// key where a person uses a session token:
//
//	bot := client.New(serverURL).WithToken(apiKey)
type (
	// BotKey is a bot's API key, shown once: at creation and rotation.
	BotKey = wire.BotKey
	// Bot is one of the caller's bots, without its key.
	Bot = wire.Bot
)

// CreateBot creates a bot account owned by the caller, with its username
// and display name checked as a registration's, and returns its first
// API key. A taken name is a conflict error; a bot may not create bots
// (forbidden), nor may an owner past the server's per-user cap.
func (c *Client) CreateBot(ctx context.Context, username, displayName string) (BotKey, error) {
	var k BotKey
	err := c.do(ctx, http.MethodPost, "/api/v1/bots", wire.CreateBotRequest{Username: username, DisplayName: displayName}, &k)
	return k, err
}

// Bots lists the caller's bots, oldest first.
func (c *Client) Bots(ctx context.Context) ([]Bot, error) {
	var l wire.BotList
	err := c.do(ctx, http.MethodGet, "/api/v1/bots", nil, &l)
	return l.Bots, err
}

// RotateBotKey gives the caller's bot a new API key: the old one stops
// working at once and its connections close with 4001. Another user's bot
// is a not_found error.
func (c *Client) RotateBotKey(ctx context.Context, botID string) (BotKey, error) {
	var k BotKey
	err := c.do(ctx, http.MethodPost, "/api/v1/bots/"+url.PathEscape(botID)+"/key", nil, &k)
	return k, err
}

// RevokeBotKey takes the bot's API key away, as a rotation does, leaving
// it none until the next RotateBotKey.
func (c *Client) RevokeBotKey(ctx context.Context, botID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/bots/"+url.PathEscape(botID)+"/key", nil, nil)
}

// DeleteBot deletes the caller's bot as an account is deleted; its
// username is free at once.
func (c *Client) DeleteBot(ctx context.Context, botID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/bots/"+url.PathEscape(botID), nil, nil)
}
