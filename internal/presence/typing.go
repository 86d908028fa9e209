package presence

import (
	"context"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/protocol"
)

type typingKey struct{ conversationID, userID string }

// Typing relays a member's typing state to the conversation's other
// members that are online. A "composing" state not refreshed within
// TypingTimeout ends by itself: the others get "paused", so an indicator
// never sticks when a client vanishes mid-sentence.
func (t *Tracker) Typing(ctx context.Context, conversationID, userID, state string, others []string) {
	t.relayTyping(ctx, conversationID, userID, state, others)
	key := typingKey{conversationID, userID}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm := t.typing[key]; tm != nil {
		tm.Stop()
		delete(t.typing, key)
	}
	if state != protocol.TypingComposing || t.closed {
		return
	}
	t.typing[key] = t.clock.AfterFunc(t.cfg.TypingTimeout, func() {
		t.mu.Lock()
		_, still := t.typing[key]
		delete(t.typing, key)
		t.mu.Unlock()
		if still {
			t.relayTyping(context.Background(), conversationID, userID, protocol.TypingPaused, others)
		}
	})
}

// StopTyping ends userID's composing state in a conversation silently: it
// sent a message, which tells the others it stopped.
func (t *Tracker) StopTyping(conversationID, userID string) {
	key := typingKey{conversationID, userID}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm := t.typing[key]; tm != nil {
		tm.Stop()
		delete(t.typing, key)
	}
}

func (t *Tracker) relayTyping(ctx context.Context, conversationID, userID, state string, others []string) {
	if t.pub == nil || len(others) == 0 {
		return
	}
	t.pub.Publish(ctx, others, &bus.Event{
		Kind: bus.KindTyping,
		Frame: protocol.Encode(protocol.Typing{
			Type: protocol.TypeTyping, ConversationID: conversationID, UserID: userID, State: state,
		}),
	})
}
