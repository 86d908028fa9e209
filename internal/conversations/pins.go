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
	var c Conversation
	var note *SystemMessage
	err := s.tx.Update(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.Conversation(ctx, conversationID); errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		i, ok := memberIndex(c, actor.UserID)
		if !ok {
			return ErrForbidden
		}
		if c.Type == TypeGroup && c.Members[i].Role != RoleAdmin {
			return ErrNotAdmin
		}
		event := EventUnpinned
		if pin {
			event = EventPinned
			if slices.Contains(c.Pinned, messageID) {
				return nil
			}
			m, err := tx.PinTarget(ctx, conversationID, messageID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && (m.Type == MessageTypeSystem ||
				m.Seq <= c.Members[i].JoinedSeq || (m.Withheld && m.SenderID != actor.UserID))) {
				return ErrNoSuchMessage
			}
			if err != nil {
				return err
			}
			if len(c.Pinned) >= MaxPins {
				return ErrTooManyPins
			}
			if err := tx.Pin(ctx, conversationID, messageID, actor.UserID, s.clock.Now()); err != nil {
				return err
			}
		} else if was, err := tx.Unpin(ctx, conversationID, messageID); err != nil || !was {
			return err
		}
		note = s.systemMessage(actor, conversationID, map[string]any{"event": event, "actor_id": actor.UserID, "message_id": messageID})
		if _, err := tx.AppendSystem(ctx, *note); err != nil {
			return err
		}
		c, err = tx.Conversation(ctx, conversationID)
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	s.announce(note)
	return c, nil
}
