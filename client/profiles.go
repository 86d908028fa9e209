package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Avatar is a user's or a group's picture, 640 and 96 pixels square, at
// short-lived URLs.
type Avatar = wire.Avatar

// ProfileUpdate changes the caller's profile; nil fields stay as they are.
type ProfileUpdate = wire.ProfileUpdate

// UpdateProfile changes the caller's profile and answers it whole. A bad
// field (an about over 140 characters, a control character) is invalid
// and changes nothing.
func (c *Client) UpdateProfile(ctx context.Context, u ProfileUpdate) (User, error) {
	var out User
	err := c.do(ctx, http.MethodPatch, "/api/v1/users/me/profile", u, &out)
	return out, err
}

// SetAvatar makes mediaID, a ready image the caller uploaded, its avatar
// (a square centre crop).
func (c *Client) SetAvatar(ctx context.Context, mediaID string) (User, error) {
	return c.UpdateProfile(ctx, ProfileUpdate{AvatarMediaID: &mediaID})
}

// RemoveAvatar removes the caller's avatar.
func (c *Client) RemoveAvatar(ctx context.Context) (User, error) {
	none := ""
	return c.UpdateProfile(ctx, ProfileUpdate{AvatarMediaID: &none})
}

// SetGroupAvatar makes mediaID, a ready image the caller uploaded, the
// avatar of a group it is a member of, and answers the group.
func (c *Client) SetGroupAvatar(ctx context.Context, conversationID, mediaID string) (Conversation, error) {
	var out Conversation
	err := c.do(ctx, http.MethodPut, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/avatar",
		wire.AvatarRequest{MediaID: mediaID}, &out)
	return out, err
}

// RemoveGroupAvatar removes a group's avatar.
func (c *Client) RemoveGroupAvatar(ctx context.Context, conversationID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/avatar", nil, nil)
}
