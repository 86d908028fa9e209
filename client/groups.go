package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Group info and invite links.
type (
	// GroupUpdate names what UpdateGroup changes: nil fields stay.
	GroupUpdate   = wire.RenameRequest
	Invite        = wire.Invite
	InvitePreview = wire.InvitePreview
)

// CreateGroupWithDescription creates a group with a description.
func (c *Client) CreateGroupWithDescription(ctx context.Context, name, description string, participants []string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPost, "/api/v1/conversations", wire.CreateConversationRequest{
		Type: wire.ConversationGroup, Name: name, Description: description, Participants: participants,
	}, &conv)
	return conv, err
}

// UpdateGroup changes a group's name, description and settings in one
// call. The settings are admins'; name and description any member's
// unless the group has only_admins_edit_info.
func (c *Client) UpdateGroup(ctx context.Context, conversationID string, u GroupUpdate) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPatch, "/api/v1/conversations/"+url.PathEscape(conversationID), u, &conv)
	return conv, err
}

// CreateInvite creates an invite link of a group (admins only).
func (c *Client) CreateInvite(ctx context.Context, conversationID string) (Invite, error) {
	var inv Invite
	err := c.do(ctx, http.MethodPost, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/invites", nil, &inv)
	return inv, err
}

// Invites lists a group's valid invite links (admins only).
func (c *Client) Invites(ctx context.Context, conversationID string) ([]Invite, error) {
	var l wire.InviteList
	err := c.do(ctx, http.MethodGet, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/invites", nil, &l)
	return l.Invites, err
}

// RevokeInvite makes a link stop working (admins only).
func (c *Client) RevokeInvite(ctx context.Context, conversationID, code string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/invites/"+url.PathEscape(code), nil, nil)
}

// PreviewInvite shows a link's group: name, description, member count.
func (c *Client) PreviewInvite(ctx context.Context, code string) (InvitePreview, error) {
	var p InvitePreview
	err := c.do(ctx, http.MethodGet, "/api/v1/invites/"+url.PathEscape(code), nil, &p)
	return p, err
}

// JoinByInvite joins a link's group; joining one's own group again
// changes nothing.
func (c *Client) JoinByInvite(ctx context.Context, code string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPost, "/api/v1/invites/"+url.PathEscape(code)+"/join", nil, &conv)
	return conv, err
}

// Pin pins a message of a conversation (any member of a 1:1, an admin of
// a group; at most 3 pins) and returns the conversation with its pins.
func (c *Client) Pin(ctx context.Context, conversationID, messageID string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPut, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/pins/"+url.PathEscape(messageID), nil, &conv)
	return conv, err
}

// Unpin unpins a message; one not pinned is no error.
func (c *Client) Unpin(ctx context.Context, conversationID, messageID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/pins/"+url.PathEscape(messageID), nil, nil)
}

// SetDisappearing sets how long after it is sent each new message of the
// conversation disappears: one of wire.DisappearingOff, Disappearing24h,
// Disappearing7d, Disappearing90d (any member of a 1:1, an admin of a
// group).
func (c *Client) SetDisappearing(ctx context.Context, conversationID string, seconds int) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPut, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/disappearing",
		wire.DisappearingRequest{Seconds: &seconds}, &conv)
	return conv, err
}
