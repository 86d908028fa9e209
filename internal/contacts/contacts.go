// Package contacts keeps the contacts users choose by hand: added on top
// of those the default rule gives them (the other member of a 1:1 they
// created or wrote in), or removed from them. Presence reads the
// resulting set for "contacts" visibility (docs/PROTOCOL.md §1).
package contacts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
)

// Contact is one of a user's contacts.
type Contact struct {
	UserID      string
	Username    string
	DisplayName string
	// AddedAt is when the user added it by hand; zero for a contact by
	// the default rule only.
	AddedAt time.Time
}

// Store keeps the explicit choices.
type Store interface {
	// SetContact records that userID added (added) or removed contactID,
	// and says whether that changed anything (the same choice again keeps
	// its time and changes nothing). It returns store.ErrNotFound when
	// contactID is no user.
	SetContact(ctx context.Context, userID, contactID string, added bool, at time.Time) (changed bool, err error)
	// ContactList returns userID's contacts, in no particular order.
	ContactList(ctx context.Context, userID string) ([]Contact, error)
}

// Publisher delivers the contact event (bus.Contact). The app's publisher
// drops both users' cached contacts on every node before it goes out.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Errors of this domain.
var (
	ErrUnknownUser = errors.New("no such user")
	ErrSelf        = errors.New("a user is not its own contact")
)

// Service adds, removes and lists contacts.
type Service struct {
	store Store
	pub   Publisher
	clock clock.Clock
}

// NewService returns the service.
func NewService(s Store, pub Publisher, clk clock.Clock) *Service {
	return &Service{store: s, pub: pub, clock: clk}
}

// Add makes contactID a contact of userID, at once on open connections
// too; adding one again changes nothing.
func (s *Service) Add(ctx context.Context, userID, contactID string) error {
	return s.set(ctx, userID, contactID, true)
}

// Remove makes contactID no contact of userID, a contact by the default
// rule included, until it is added again; removing one again changes
// nothing.
func (s *Service) Remove(ctx context.Context, userID, contactID string) error {
	return s.set(ctx, userID, contactID, false)
}

func (s *Service) set(ctx context.Context, userID, contactID string, added bool) error {
	if contactID == userID {
		return ErrSelf
	}
	changed, err := s.store.SetContact(ctx, userID, contactID, added, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	if err != nil {
		return fmt.Errorf("set contact: %w", err)
	}
	// The same event as a contact chosen by writing: each connection of
	// the two reads again who chose whom and what it may see now. The
	// same choice again tells no one anything.
	if changed {
		s.pub.Publish(ctx, []string{userID, contactID}, bus.Contact(userID, contactID))
	}
	return nil
}

// List returns userID's contacts by display name (case-insensitively,
// then by username).
func (s *Service) List(ctx context.Context, userID string) ([]Contact, error) {
	list, err := s.store.ContactList(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	slices.SortFunc(list, func(a, b Contact) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)),
			cmp.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username)),
			cmp.Compare(a.UserID, b.UserID))
	})
	return list, nil
}
