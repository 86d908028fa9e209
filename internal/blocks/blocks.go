// Package blocks keeps whom each user blocks. A block is private and
// one-sided: the blocked user is told nothing, its 1:1 messages to the
// blocker are acknowledged but withheld (stored for its own devices
// only), it sees none of the blocker's presence or profile and cannot add
// the blocker to a group (docs/PROTOCOL.md, "Blocking"). Those effects
// live where each thing is decided — the commit of sends, presence, the
// profile and group rules; this package records the choice and tells
// those that follow it.
package blocks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
)

// Block is a user the caller blocks.
type Block struct {
	UserID      string
	Username    string
	DisplayName string
	BlockedAt   time.Time
}

// Store keeps the blocks.
type Store interface {
	// SetBlock records that userID blocks (blocked) or no longer blocks
	// blockedID, and says whether that changed anything (blocking again
	// keeps the first time). It returns store.ErrNotFound when blockedID
	// is no user.
	SetBlock(ctx context.Context, userID, blockedID string, blocked bool, at time.Time) (changed bool, err error)
	// BlockList returns the users userID blocks, in no particular order.
	BlockList(ctx context.Context, userID string) ([]Block, error)
}

// Publisher delivers the event that makes presence read the pair's
// relation again (bus.Contact): the app's publisher drops both users'
// cached contact sets, blocks included, on every node first.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Errors of this domain.
var (
	ErrUnknownUser = errors.New("no such user")
	ErrSelf        = errors.New("a user cannot block itself")
)

// Service blocks, unblocks and lists.
type Service struct {
	store Store
	pub   Publisher
	clock clock.Clock
}

// NewService returns the service.
func NewService(s Store, pub Publisher, clk clock.Clock) *Service {
	return &Service{store: s, pub: pub, clock: clk}
}

// Block makes userID block blockedID from the next commit on; blocking
// again changes nothing.
func (s *Service) Block(ctx context.Context, userID, blockedID string) error {
	return s.set(ctx, userID, blockedID, true)
}

// Unblock ends a block. What was withheld meanwhile stays withheld: an
// unblock brings no backlog.
func (s *Service) Unblock(ctx context.Context, userID, blockedID string) error {
	return s.set(ctx, userID, blockedID, false)
}

func (s *Service) set(ctx context.Context, userID, blockedID string, blocked bool) error {
	if blockedID == userID {
		return ErrSelf
	}
	changed, err := s.store.SetBlock(ctx, userID, blockedID, blocked, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownUser
	}
	if err != nil {
		return fmt.Errorf("set block: %w", err)
	}
	// Both users' connections read the relation again: each stops (or
	// starts again) showing the other its presence and typing. The event
	// itself is internal; no frame says that anything was blocked.
	if changed {
		s.pub.Publish(ctx, []string{userID, blockedID}, bus.Contact(userID, blockedID))
	}
	return nil
}

// List returns whom userID blocks, most recent first.
func (s *Service) List(ctx context.Context, userID string) ([]Block, error) {
	list, err := s.store.BlockList(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	slices.SortFunc(list, func(a, b Block) int {
		return cmp.Or(b.BlockedAt.Compare(a.BlockedAt), cmp.Compare(a.UserID, b.UserID))
	})
	return list, nil
}
