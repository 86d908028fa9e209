package conversations

import (
	"context"
	"errors"
	"slices"

	"github.com/parleychat/parley/internal/store"
)

// MaxPins bounds a conversation's pinned messages.
const MaxPins = 3

// Pin events (system messages).
const (
	EventPinned   = "pinned"
	EventUnpinned = "unpinned"
)

// Errors of pinning.
var (
	ErrTooManyPins   = errors.New("a conversation keeps at most 3 pinned messages: unpin one first")
	ErrNoSuchMessage = errors.New("no such message in this conversation")
)

// PinTarget is what a pin needs of a message.
type PinTarget struct {
	Seq      int64
	Type     string
	SenderID string
	Withheld bool
}

// Pin pins a message of a conversation: any member of a 1:1, an admin of
// a group. The message must be one the actor can see (after it joined,
// not withheld from it, not a system message). Pinning a pinned message
// changes nothing; a fourth pin is refused.
func (s *Service) Pin(ctx context.Context, actor Actor, conversationID, messageID string) (Conversation, error) {
	return s.pinChange(ctx, actor, conversationID, messageID, true)
}

// Unpin unpins a message; one not pinned changes nothing.
func (s *Service) Unpin(ctx context.Context, actor Actor, conversationID, messageID string) (Conversation, error) {
	return s.pinChange(ctx, actor, conversationID, messageID, false)
}

func (s *Service) pinChange(ctx context.Context, actor Actor, conversationID, messageID string, pin bool) (Conversation, error) {
	var joined int64
	lock := func(tx Tx) (Conversation, error) {
		c, m, err := memberMayChange(ctx, tx, conversationID, actor.UserID)
		joined = m.JoinedSeq
		return c, err
	}
	return s.changeWith(ctx, actor, conversationID, lock, func(tx Tx, c Conversation) (map[string]any, error) {
		if !pin {
			was, err := tx.Unpin(ctx, conversationID, messageID)
			if err != nil || !was {
				return nil, err
			}
			return map[string]any{"event": EventUnpinned, "actor_id": actor.UserID, "message_id": messageID}, nil
		}
		if slices.Contains(c.Pinned, messageID) {
			return nil, nil
		}
		m, err := tx.PinTarget(ctx, conversationID, messageID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (m.Type == MessageTypeSystem ||
			m.Seq <= joined || (m.Withheld && m.SenderID != actor.UserID))) {
			return nil, ErrNoSuchMessage
		}
		if err != nil {
			return nil, err
		}
		if len(c.Pinned) >= MaxPins {
			return nil, ErrTooManyPins
		}
		if err := tx.Pin(ctx, conversationID, messageID, actor.UserID, s.clock.Now()); err != nil {
			return nil, err
		}
		return map[string]any{"event": EventPinned, "actor_id": actor.UserID, "message_id": messageID}, nil
	})
}

// memberMayChange reads a conversation under a change's lock and checks
// that userID may change its settings: any member of a 1:1, an admin of a
// group. It returns the conversation and the member.
func memberMayChange(ctx context.Context, tx Tx, conversationID, userID string) (Conversation, Member, error) {
	c, err := tx.Conversation(ctx, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return Conversation{}, Member{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, Member{}, err
	}
	i, ok := memberIndex(c, userID)
	if !ok {
		return Conversation{}, Member{}, ErrForbidden
	}
	if c.Type == TypeGroup && c.Members[i].Role != RoleAdmin {
		return Conversation{}, Member{}, ErrNotAdmin
	}
	return c, c.Members[i], nil
}
