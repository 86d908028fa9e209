// Package presence tracks who is online, remembers when each user was last
// seen, and tells subscribers about changes.
package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/protocol"
	"github.com/parleychat/parley/internal/store"
)

// Store persists last seen, so it survives restarts.
type Store interface {
	SetLastSeen(ctx context.Context, userID string, at time.Time) error
	// LastSeen returns store.ErrNotFound for an unknown user and the zero
	// time for a user never seen offline.
	LastSeen(ctx context.Context, userID string) (time.Time, error)
}

// Subscriber receives presence events; a connection implements it.
type Subscriber interface {
	Deliver(ev *bus.Event)
}

// State is a user's presence as answered to others.
type State struct {
	UserID   string
	Online   bool
	LastSeen time.Time // zero when unknown
}

// Tracker is the in-memory presence of the users connected to this node.
type Tracker struct {
	store Store
	clock clock.Clock
	log   *slog.Logger

	mu     sync.Mutex
	online map[string]int // user -> open connections
	subs   map[string]map[Subscriber]struct{}
	watch  map[Subscriber][]string
}

// ErrUnknownUser is returned for presence of a user that does not exist.
var ErrUnknownUser = protocol.NewError(protocol.CodeNotFound, "no such user")

// NewTracker returns an empty tracker.
func NewTracker(s Store, clk clock.Clock, log *slog.Logger) *Tracker {
	return &Tracker{
		store: s, clock: clk, log: log,
		online: map[string]int{},
		subs:   map[string]map[Subscriber]struct{}{},
		watch:  map[Subscriber][]string{},
	}
}

// Connected records a new connection of userID.
func (t *Tracker) Connected(ctx context.Context, userID string) {
	t.mu.Lock()
	t.online[userID]++
	first := t.online[userID] == 1
	t.mu.Unlock()
	if first {
		t.notify(userID, protocol.Presence{Type: protocol.TypePresence, UserID: userID, Status: protocol.PresenceOnline})
	}
}

// Disconnected records that a connection of userID closed. When it was
// the last, the user goes offline and its last seen is stored before
// anyone is told, so it survives a crash right after.
func (t *Tracker) Disconnected(ctx context.Context, userID string) {
	t.mu.Lock()
	t.online[userID]--
	last := t.online[userID] <= 0
	if last {
		delete(t.online, userID)
	}
	t.mu.Unlock()
	if !last {
		return
	}
	now := t.clock.Now()
	if err := t.store.SetLastSeen(context.WithoutCancel(ctx), userID, now); err != nil {
		t.log.Error("store last seen", "user", userID, "err", err)
	}
	ls := clock.Millis(now)
	t.notify(userID, protocol.Presence{Type: protocol.TypePresence, UserID: userID, Status: protocol.PresenceOffline, LastSeen: &ls})
}

func (t *Tracker) notify(userID string, p protocol.Presence) {
	t.mu.Lock()
	subs := make([]Subscriber, 0, len(t.subs[userID]))
	for s := range t.subs[userID] {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	ev := &bus.Event{Kind: bus.KindPresence, Frame: protocol.Encode(p)}
	for _, s := range subs {
		s.Deliver(ev)
	}
}

// Subscribe makes sub hear about changes of userIDs (replacing nothing:
// subscriptions add up until Unsubscribe).
func (t *Tracker) Subscribe(sub Subscriber, userIDs []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range userIDs {
		m := t.subs[id]
		if m == nil {
			m = map[Subscriber]struct{}{}
			t.subs[id] = m
		}
		if _, ok := m[sub]; !ok {
			m[sub] = struct{}{}
			t.watch[sub] = append(t.watch[sub], id)
		}
	}
}

// Unsubscribe drops every subscription of sub.
func (t *Tracker) Unsubscribe(sub Subscriber) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range t.watch[sub] {
		delete(t.subs[id], sub)
		if len(t.subs[id]) == 0 {
			delete(t.subs, id)
		}
	}
	delete(t.watch, sub)
}

// Get returns a user's presence.
func (t *Tracker) Get(ctx context.Context, userID string) (State, error) {
	ls, err := t.store.LastSeen(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, ErrUnknownUser
	}
	if err != nil {
		return State{}, fmt.Errorf("last seen: %w", err)
	}
	t.mu.Lock()
	online := t.online[userID] > 0
	t.mu.Unlock()
	return State{UserID: userID, Online: online, LastSeen: ls}, nil
}

// Frame renders a state as a presence frame.
func (s State) Frame() protocol.Presence {
	p := protocol.Presence{Type: protocol.TypePresence, UserID: s.UserID, Status: protocol.PresenceOffline}
	if s.Online {
		p.Status = protocol.PresenceOnline
	}
	if !s.LastSeen.IsZero() {
		ls := clock.Millis(s.LastSeen)
		p.LastSeen = &ls
	}
	return p
}
