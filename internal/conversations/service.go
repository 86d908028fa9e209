package conversations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
)

// Service creates conversations, runs group membership and answers
// membership questions.
type Service struct {
	store     Store
	tx        TxStore
	pub       Publisher
	clock     clock.Clock
	retention time.Duration
	maxGroup  int

	// OnMembersChanged, if set, hears of each committed change to a
	// group (membership, roles, name), so caches of members forget it.
	OnMembersChanged func(conversationID string)
}

// Config tunes the service.
type Config struct {
	// Retention hides older messages from list views.
	Retention time.Duration
	// MaxGroupSize bounds a group's members, its creator counted.
	MaxGroupSize int
}

// NewService returns a conversations service. pub delivers the system
// messages of membership changes.
func NewService(s Store, tx TxStore, pub Publisher, clk clock.Clock, cfg Config) *Service {
	if cfg.MaxGroupSize < 1 {
		cfg.MaxGroupSize = DefaultMaxGroupSize
	}
	return &Service{store: s, tx: tx, pub: pub, clock: clk, retention: cfg.Retention, maxGroup: cfg.MaxGroupSize}
}

// CreateDirect returns the 1:1 conversation between caller and other,
// creating it if needed; created tells which.
func (s *Service) CreateDirect(ctx context.Context, caller, other string) (Conversation, bool, error) {
	if other == "" {
		return Conversation{}, false, ErrNoOtherUser
	}
	if other == caller {
		return Conversation{}, false, ErrSelfChat
	}
	missing, err := s.store.MissingUsers(ctx, []string{other})
	if err != nil {
		return Conversation{}, false, fmt.Errorf("check users: %w", err)
	}
	if len(missing) > 0 {
		return Conversation{}, false, unknownUsers(missing)
	}
	now := s.clock.Now()
	a, b := caller, other
	if b < a {
		a, b = b, a
	}
	c := Conversation{
		ID: ulid.Make().String(), Type: TypeDirect, CreatedBy: caller, CreatedAt: now, LastActivityAt: now,
		Members: []Member{
			{UserID: a, Role: RoleMember, JoinedAt: now},
			{UserID: b, Role: RoleMember, JoinedAt: now},
		},
	}
	conv, created, err := s.store.CreateDirect(ctx, c, a+":"+b)
	if err != nil {
		return Conversation{}, false, fmt.Errorf("create conversation: %w", err)
	}
	if created && s.pub != nil {
		s.pub.Publish(ctx, []string{caller, other}, bus.Contact(caller, other))
	}
	return conv, created, nil
}

// Get returns a conversation the caller is a member of.
func (s *Service) Get(ctx context.Context, caller, id string) (Conversation, error) {
	c, err := s.store.Conversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("load conversation: %w", err)
	}
	for _, m := range c.Members {
		if m.UserID == caller {
			return c, nil
		}
	}
	return Conversation{}, ErrForbidden
}

// List returns the caller's conversations, newest activity first.
func (s *Service) List(ctx context.Context, caller string) ([]Summary, error) {
	now := s.clock.Now()
	list, err := s.store.ConversationsOf(ctx, caller, now.Add(-s.retention), now)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return list, nil
}

// CheckMember returns the caller's membership, ErrForbidden if it has none
// and ErrNotFound if the conversation does not exist.
func (s *Service) CheckMember(ctx context.Context, conversationID, userID string) (Member, error) {
	m, err := s.store.Member(ctx, conversationID, userID)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Member{}, fmt.Errorf("check membership: %w", err)
	}
	if _, err := s.store.Conversation(ctx, conversationID); errors.Is(err, store.ErrNotFound) {
		return Member{}, ErrNotFound
	} else if err != nil {
		return Member{}, fmt.Errorf("load conversation: %w", err)
	}
	return Member{}, ErrForbidden
}

// MemberIDs returns the user ids of a conversation's current members.
func (s *Service) MemberIDs(ctx context.Context, conversationID string) ([]string, error) {
	c, err := s.store.Conversation(ctx, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load conversation: %w", err)
	}
	return memberIDs(c), nil
}
