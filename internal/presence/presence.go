// Package presence tracks who is online, remembers when each user was last
// seen, applies each user's privacy settings, and tells subscribers about
// changes. It also relays typing indicators, which share its nature: live,
// lossy, never stored.
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

// Visibility says who may see a presence detail.
type Visibility string

// Visibilities (the WhatsApp model).
const (
	Everyone Visibility = "everyone"
	Contacts Visibility = "contacts"
	Nobody   Visibility = "nobody"
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Everyone || v == Contacts || v == Nobody }

// Settings are a user's presence privacy settings.
type Settings struct {
	LastSeen Visibility
	Online   Visibility
}

// Store persists last seen and settings, and knows contacts.
type Store interface {
	SetLastSeen(ctx context.Context, userID string, at time.Time) error
	// LastSeen returns store.ErrNotFound for an unknown user and the zero
	// time for a user never seen offline.
	LastSeen(ctx context.Context, userID string) (time.Time, error)
	PresenceSettings(ctx context.Context, userID string) (Settings, error)
	SetPresenceSettings(ctx context.Context, userID string, s Settings) error
	// Contacts are the users userID shares a 1:1 conversation with.
	Contacts(ctx context.Context, userID string) ([]string, error)
}

// Subscriber receives presence events; a connection implements it.
type Subscriber interface {
	UserID() string
	Deliver(ev *bus.Event)
}

// Config tunes the tracker.
type Config struct {
	// Grace delays telling subscribers that a user went offline after a
	// clean close; a reconnect within it tells them nothing at all, so a
	// flapping network shows no offline/online blips. Answers to GET
	// presence are never delayed.
	Grace time.Duration
	// TypingTimeout ends a composing state that was not refreshed.
	TypingTimeout time.Duration
}

// State is a user's presence as one viewer may see it.
type State struct {
	UserID   string
	Online   bool
	LastSeen time.Time // zero when unknown or hidden
}

// Errors of this domain.
var (
	ErrUnknownUser = protocol.NewError(protocol.CodeNotFound, "no such user")
	ErrVisibility  = protocol.Invalid(`visibility must be "everyone", "contacts" or "nobody"`)
)

// online is what the tracker holds for a user with open connections here.
type online struct {
	conns    int
	settings Settings
	contacts map[string]bool
}

// Tracker is the presence of the users connected to this node.
type Tracker struct {
	store Store
	clock clock.Clock
	log   *slog.Logger
	cfg   Config
	pub   Publisher

	mu      sync.Mutex
	users   map[string]*online
	subs    map[string]map[Subscriber]struct{} // watched user -> subscribers
	watch   map[Subscriber][]string
	leaving map[string]*time.Timer // users whose offline frame waits out the grace
	typing  map[typingKey]*time.Timer
	closed  bool
}

// Publisher delivers typing frames to users' connections.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// NewTracker returns an empty tracker.
func NewTracker(s Store, pub Publisher, clk clock.Clock, cfg Config, log *slog.Logger) *Tracker {
	if cfg.TypingTimeout <= 0 {
		cfg.TypingTimeout = 6 * time.Second
	}
	return &Tracker{
		store: s, pub: pub, clock: clk, cfg: cfg, log: log,
		users:   map[string]*online{},
		subs:    map[string]map[Subscriber]struct{}{},
		watch:   map[Subscriber][]string{},
		leaving: map[string]*time.Timer{},
		typing:  map[typingKey]*time.Timer{},
	}
}

// Close stops the pending timers.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, tm := range t.leaving {
		tm.Stop()
	}
	for _, tm := range t.typing {
		tm.Stop()
	}
}

// Connected records a new connection of sub's user, subscribes it to the
// user's contacts and sends it the contacts that are online now.
func (t *Tracker) Connected(ctx context.Context, sub Subscriber) error {
	userID := sub.UserID()
	settings, err := t.store.PresenceSettings(ctx, userID)
	if err != nil {
		return fmt.Errorf("presence settings: %w", err)
	}
	contacts, err := t.store.Contacts(ctx, userID)
	if err != nil {
		return fmt.Errorf("contacts: %w", err)
	}
	t.mu.Lock()
	u := t.users[userID]
	first := u == nil
	if first {
		u = &online{settings: settings, contacts: map[string]bool{}}
		t.users[userID] = u
	}
	for _, c := range contacts {
		u.contacts[c] = true
	}
	u.conns++
	flapped := false
	if tm, ok := t.leaving[userID]; ok && first {
		flapped = tm.Stop()
		delete(t.leaving, userID)
	}
	t.subscribeLocked(sub, contacts)
	var snapshot [][]byte
	for _, c := range contacts {
		if cu := t.users[c]; cu != nil && visible(cu.settings.Online, cu, userID) {
			snapshot = append(snapshot, protocol.Encode(protocol.Presence{Type: protocol.TypePresence, UserID: c, Status: protocol.PresenceOnline}))
		}
	}
	t.mu.Unlock()
	for _, f := range snapshot {
		sub.Deliver(&bus.Event{Kind: bus.KindPresence, Frame: f})
	}
	// A reconnect within the grace: the offline frame was never sent, so
	// no online frame either.
	if first && !flapped {
		t.notify(userID, true, time.Time{})
	}
	return nil
}

// Disconnected records that a connection of userID closed. When it was
// the last, the user is offline at once (for GET presence) and its last
// seen is stored before anyone is told, so it survives a crash right
// after; subscribers hear of it after the grace, unless it comes back.
// timedOut skips the grace: the connection was already silent for the
// whole heartbeat timeout.
func (t *Tracker) Disconnected(ctx context.Context, userID string, timedOut bool) {
	now := t.clock.Now()
	t.mu.Lock()
	u := t.users[userID]
	if u == nil {
		t.mu.Unlock()
		return
	}
	u.conns--
	last := u.conns <= 0
	t.mu.Unlock()
	if !last {
		return
	}
	// Last seen is stored while the user still shows online, so nobody
	// ever sees it offline without its last seen.
	if err := t.store.SetLastSeen(context.WithoutCancel(ctx), userID, now); err != nil {
		t.log.Error("store last seen", "user", userID, "err", err)
	}
	t.mu.Lock()
	if u.conns > 0 { // it reconnected meanwhile
		t.mu.Unlock()
		return
	}
	delete(t.users, userID)
	t.mu.Unlock()
	if timedOut || t.cfg.Grace <= 0 {
		t.notifyGone(userID, u, now)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if old := t.leaving[userID]; old != nil {
		old.Stop()
	}
	t.leaving[userID] = time.AfterFunc(t.cfg.Grace, func() {
		t.mu.Lock()
		_, still := t.leaving[userID]
		delete(t.leaving, userID)
		back := t.users[userID] != nil
		t.mu.Unlock()
		if still && !back {
			t.notifyGone(userID, u, now)
		}
	})
}

// notifyGone sends the offline frame; u is the state the user had online
// (its settings and contacts decide who may see what).
func (t *Tracker) notifyGone(userID string, u *online, at time.Time) {
	t.notifyWith(userID, u, false, at)
}

func (t *Tracker) notify(userID string, on bool, at time.Time) {
	t.mu.Lock()
	u := t.users[userID]
	t.mu.Unlock()
	if u == nil {
		return
	}
	t.notifyWith(userID, u, on, at)
}

// notifyWith tells each subscriber of userID what it may see of the change.
func (t *Tracker) notifyWith(userID string, u *online, on bool, at time.Time) {
	t.mu.Lock()
	type delivery struct {
		sub   Subscriber
		frame []byte
	}
	var out []delivery
	for s := range t.subs[userID] {
		viewer := s.UserID()
		if viewer == userID || !visible(u.settings.Online, u, viewer) {
			continue // hidden: no frame at all
		}
		p := protocol.Presence{Type: protocol.TypePresence, UserID: userID, Status: protocol.PresenceOnline}
		if !on {
			p.Status = protocol.PresenceOffline
			if t.lastSeenVisibleLocked(u, userID, viewer) {
				ls := clock.Millis(at)
				p.LastSeen = &ls
			}
		}
		out = append(out, delivery{s, protocol.Encode(p)})
	}
	t.mu.Unlock()
	for _, d := range out {
		d.sub.Deliver(&bus.Event{Kind: bus.KindPresence, Frame: d.frame})
	}
}

// visible applies a visibility of user u to viewer.
func visible(v Visibility, u *online, viewer string) bool {
	switch v {
	case Everyone:
		return true
	case Contacts:
		return u.contacts[viewer]
	default:
		return false
	}
}

// lastSeenVisibleLocked applies u's last-seen setting and reciprocity: a
// viewer that hides its own last seen from u cannot see u's. The viewer is
// a subscriber, so it is online here and its settings are known.
func (t *Tracker) lastSeenVisibleLocked(u *online, userID, viewer string) bool {
	if !visible(u.settings.LastSeen, u, viewer) {
		return false
	}
	vu := t.users[viewer]
	return vu != nil && visible(vu.settings.LastSeen, vu, userID)
}

// Subscribe makes sub hear about changes of userIDs, and sends it their
// current state as sub may see it.
func (t *Tracker) Subscribe(ctx context.Context, sub Subscriber, userIDs []string) error {
	states := make([]State, 0, len(userIDs))
	for _, id := range userIDs {
		st, err := t.Get(ctx, sub.UserID(), id)
		if err != nil {
			return err
		}
		states = append(states, st)
	}
	t.mu.Lock()
	t.subscribeLocked(sub, userIDs)
	t.mu.Unlock()
	for _, st := range states {
		sub.Deliver(&bus.Event{Kind: bus.KindPresence, Frame: protocol.Encode(st.Frame())})
	}
	return nil
}

func (t *Tracker) subscribeLocked(sub Subscriber, userIDs []string) {
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

// Get returns userID's presence as viewer may see it.
func (t *Tracker) Get(ctx context.Context, viewer, userID string) (State, error) {
	ls, err := t.store.LastSeen(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, ErrUnknownUser
	}
	if err != nil {
		return State{}, fmt.Errorf("last seen: %w", err)
	}
	st := State{UserID: userID, LastSeen: ls}
	t.mu.Lock()
	st.Online = t.users[userID] != nil
	t.mu.Unlock()
	if viewer == userID {
		return st, nil
	}
	target, err := t.view(ctx, userID)
	if err != nil {
		return State{}, err
	}
	if !visible(target.settings.Online, target, viewer) {
		st.Online = false
	}
	me, err := t.view(ctx, viewer)
	if err != nil {
		return State{}, err
	}
	if !visible(target.settings.LastSeen, target, viewer) || !visible(me.settings.LastSeen, me, userID) {
		st.LastSeen = time.Time{}
	}
	return st, nil
}

// view returns a user's settings and contacts, from memory when it is
// online here, else from the store.
func (t *Tracker) view(ctx context.Context, userID string) (*online, error) {
	t.mu.Lock()
	u := t.users[userID]
	t.mu.Unlock()
	if u != nil {
		return u, nil
	}
	settings, err := t.store.PresenceSettings(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("presence settings: %w", err)
	}
	contacts, err := t.store.Contacts(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	u = &online{settings: settings, contacts: make(map[string]bool, len(contacts))}
	for _, c := range contacts {
		u.contacts[c] = true
	}
	return u, nil
}

// Settings returns a user's privacy settings.
func (t *Tracker) Settings(ctx context.Context, userID string) (Settings, error) {
	return t.store.PresenceSettings(ctx, userID)
}

// UpdateSettings changes the given settings (empty fields stay as they
// are) and returns the result.
func (t *Tracker) UpdateSettings(ctx context.Context, userID string, lastSeen, online Visibility) (Settings, error) {
	if (lastSeen != "" && !lastSeen.Valid()) || (online != "" && !online.Valid()) {
		return Settings{}, ErrVisibility
	}
	s, err := t.store.PresenceSettings(ctx, userID)
	if err != nil {
		return Settings{}, fmt.Errorf("presence settings: %w", err)
	}
	if lastSeen != "" {
		s.LastSeen = lastSeen
	}
	if online != "" {
		s.Online = online
	}
	if err := t.store.SetPresenceSettings(ctx, userID, s); err != nil {
		return Settings{}, fmt.Errorf("save presence settings: %w", err)
	}
	t.mu.Lock()
	if u := t.users[userID]; u != nil {
		u.settings = s
	}
	t.mu.Unlock()
	return s, nil
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
