package presence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/wire"
)

// Members answers who belongs to a conversation, for typing.
type Members interface {
	MemberIDs(ctx context.Context, conversationID string) ([]string, error)
}

// ErrNotMember refuses typing into a conversation the user is not in.
var ErrNotMember = errors.New("not a member of this conversation")

// Typing limits. One member typing as fast as a socket allows once made an
// unrelated chat's latency go from 2.4 ms to 60 ms: each frame cost a
// store lookup and was relayed to 99 others. Now a repeated state is not
// relayed at all, a new "composing" at most once per TypingMinInterval per
// user and conversation, and members come from memory.
const (
	// TypingMinInterval is the least time between two "composing" relays
	// of one user in one conversation; a faster one is dropped (typing is
	// lossy: the client's next refresh shows it).
	TypingMinInterval = 500 * time.Millisecond
	// MembersCacheTTL is how long a conversation's member list is reused
	// for typing. This node forgets it at once when membership changes
	// here; another node's change reaches it within this long.
	MembersCacheTTL = 2 * time.Second
	// membersCacheMax bounds the member lists held; past it expired ones
	// are swept.
	membersCacheMax = 10_000
)

type typingKey struct{ conversationID, userID string }

// typingState is what the others last heard of a user typing in one
// conversation.
type typingState struct {
	composing bool
	// since is when "composing" was last relayed.
	since time.Time
	// timer turns an unrefreshed composing into paused; while paused it
	// forgets the entry once TypingMinInterval has passed.
	timer clock.Timer
}

type membersEntry struct {
	ids []string
	at  time.Time
}

// Typing relays a member's typing state to the conversation's other
// members. A "composing" state not refreshed within TypingTimeout ends by
// itself: the others get "paused", so an indicator never sticks when a
// client vanishes mid-sentence.
func (t *Tracker) Typing(ctx context.Context, conversationID, userID, state string) error {
	key := typingKey{conversationID, userID}
	now := t.clock.Now()
	t.mu.Lock()
	st := t.typing[key]
	switch {
	case t.closed:
		t.mu.Unlock()
		return nil
	case state == wire.TypingComposing && st != nil && st.composing:
		// A refresh: the others see composing already.
		st.timer.Stop()
		st.timer = t.clock.AfterFunc(t.cfg.TypingTimeout, func() { t.typingExpired(key) })
		t.mu.Unlock()
		return nil
	case state == wire.TypingComposing && st != nil && now.Sub(st.since) < TypingMinInterval:
		t.mu.Unlock()
		return nil // too soon after the last composing: dropped
	case state != wire.TypingComposing && (st == nil || !st.composing):
		t.mu.Unlock()
		return nil // nothing shown to take back
	}
	t.mu.Unlock()

	others, err := t.others(ctx, conversationID, userID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	if st = t.typing[key]; st != nil {
		st.timer.Stop()
	} else {
		st = &typingState{}
		t.typing[key] = st
	}
	st.composing = state == wire.TypingComposing
	if st.composing {
		st.since = now
		st.timer = t.clock.AfterFunc(t.cfg.TypingTimeout, func() { t.typingExpired(key) })
	} else {
		st.timer = t.clock.AfterFunc(max(0, TypingMinInterval-now.Sub(st.since)), func() { t.forgetTyping(key) })
	}
	t.mu.Unlock()
	t.relayTyping(ctx, conversationID, userID, state, others)
	return nil
}

// typingExpired relays "paused" for a composing state nobody refreshed.
func (t *Tracker) typingExpired(key typingKey) {
	t.mu.Lock()
	st := t.typing[key]
	if st == nil || !st.composing || t.closed {
		t.mu.Unlock()
		return
	}
	delete(t.typing, key)
	t.mu.Unlock()
	ctx := context.Background()
	others, err := t.others(ctx, key.conversationID, key.userID)
	if err != nil {
		return // left the conversation meanwhile: nobody to tell
	}
	t.relayTyping(ctx, key.conversationID, key.userID, wire.TypingPaused, others)
}

// forgetTyping drops a paused entry once it no longer limits the rate.
func (t *Tracker) forgetTyping(key typingKey) {
	t.mu.Lock()
	if st := t.typing[key]; st != nil && !st.composing {
		delete(t.typing, key)
	}
	t.mu.Unlock()
}

// StopTyping ends userID's composing state in a conversation silently: it
// sent a message, which tells the others it stopped.
func (t *Tracker) StopTyping(conversationID, userID string) {
	key := typingKey{conversationID, userID}
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.typing[key]; st != nil && st.composing {
		st.timer.Stop()
		delete(t.typing, key)
	}
}

// others returns the conversation's members but userID, from memory when
// known; ErrNotMember if userID is not one of them.
func (t *Tracker) others(ctx context.Context, conversationID, userID string) ([]string, error) {
	now := t.clock.Now()
	t.mu.Lock()
	e, ok := t.members[conversationID]
	t.mu.Unlock()
	if !ok || now.Sub(e.at) >= MembersCacheTTL || now.Before(e.at) {
		if t.memberSrc == nil {
			return nil, ErrNotMember
		}
		ids, err := t.memberSrc.MemberIDs(ctx, conversationID)
		if err != nil {
			return nil, fmt.Errorf("members: %w", err)
		}
		e = membersEntry{ids: ids, at: now}
		t.mu.Lock()
		if len(t.members) >= membersCacheMax {
			for id, old := range t.members {
				if now.Sub(old.at) >= MembersCacheTTL {
					delete(t.members, id)
				}
			}
		}
		t.members[conversationID] = e
		t.mu.Unlock()
	}
	if !slices.Contains(e.ids, userID) {
		return nil, ErrNotMember
	}
	others := make([]string, 0, len(e.ids)-1)
	for _, id := range e.ids {
		if id != userID {
			others = append(others, id)
		}
	}
	return others, nil
}

// ForgetMembers drops the member list of a conversation whose membership
// changed, so typing reaches exactly the new members.
func (t *Tracker) ForgetMembers(conversationID string) {
	t.mu.Lock()
	delete(t.members, conversationID)
	t.mu.Unlock()
}

func (t *Tracker) relayTyping(ctx context.Context, conversationID, userID, state string, others []string) {
	if t.pub == nil || len(others) == 0 {
		return
	}
	// A block either way hides typing as it hides presence; the typer is
	// connected here, so its entry knows its blocks.
	t.mu.Lock()
	if u := t.users[userID]; u != nil && len(u.blocked) > 0 {
		others = slices.DeleteFunc(slices.Clone(others), func(id string) bool { return u.blocked[id] })
	}
	t.mu.Unlock()
	if len(others) == 0 {
		return
	}
	t.pub.Publish(ctx, others, &bus.Event{
		Kind: bus.KindTyping,
		Typing: &wire.Typing{
			Type: wire.TypeTyping, ConversationID: conversationID, UserID: userID, State: state,
		},
	})
}
