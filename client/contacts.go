package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Contact is one of the caller's contacts; AddedAt is set for one added
// by hand.
type Contact = wire.Contact

// AddContact adds a user to the caller's contacts: it sees the caller's
// presence where its visibility is "contacts", at once. Adding one again
// changes nothing; an unknown user is not_found, the caller itself invalid.
func (c *Client) AddContact(ctx context.Context, userID string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/users/me/contacts/"+url.PathEscape(userID), nil, nil)
}

// RemoveContact removes a user from the caller's contacts, one by the
// default rule (a 1:1) included, until it is added again.
func (c *Client) RemoveContact(ctx context.Context, userID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/me/contacts/"+url.PathEscape(userID), nil, nil)
}

// Contacts lists the caller's contacts, by display name.
func (c *Client) Contacts(ctx context.Context) ([]Contact, error) {
	var l wire.ContactList
	err := c.do(ctx, http.MethodGet, "/api/v1/users/me/contacts", nil, &l)
	return l.Contacts, err
}
