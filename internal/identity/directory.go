package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/store"
)

// Discoverability says who may find a user by its username. Its exact id
// finds it whatever this says: an id is not guessable, a name is.
type Discoverability string

// Discoverability values; Everyone is every account's default.
const (
	DiscoverableEveryone Discoverability = "everyone"
	DiscoverableNobody   Discoverability = "nobody"
)

// Valid reports whether d is one of the values.
func (d Discoverability) Valid() bool { return d == DiscoverableEveryone || d == DiscoverableNobody }

// FindUser returns the user called username (case-insensitively) if
// viewer may find it by that name: it lets everyone find it, or it is
// the viewer itself. A name no one has and a name whose owner hides are
// the same ErrUserNotFound, so that a lookup reveals no hidden account.
//
// It reads the store on every call, not a cache: a lookup is rare (and
// rate-limited at the edge), and a user who just hid must not be found on
// another node through a stale entry.
func (s *Service) FindUser(ctx context.Context, viewer, username string) (User, error) {
	if username == "" {
		return User{}, ErrNoUsername
	}
	if validateUsername(username) != nil {
		return User{}, ErrUserNotFound // no account can have it
	}
	u, d, err := s.store.UserForLookup(ctx, username)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d != DiscoverableEveryone && u.ID != viewer) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("find user by name: %w", err)
	}
	return u, nil
}

// Discoverability returns who may find userID by its username.
func (s *Service) Discoverability(ctx context.Context, userID string) (Discoverability, error) {
	d, err := s.store.Discoverability(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUserNotFound
	}
	if err != nil {
		return "", fmt.Errorf("discoverability: %w", err)
	}
	return d, nil
}

// SetDiscoverability saves who may find userID by its username.
func (s *Service) SetDiscoverability(ctx context.Context, userID string, d Discoverability) (Discoverability, error) {
	if !d.Valid() {
		return "", ErrDiscoverability
	}
	if err := s.store.SetDiscoverability(ctx, userID, d); err != nil {
		return "", fmt.Errorf("save discoverability: %w", err)
	}
	return d, nil
}
