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
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/cache"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
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
	// PresenceSettingsMany returns the settings of those of ids that exist.
	PresenceSettingsMany(ctx context.Context, ids []string) (map[string]Settings, error)
	SetPresenceSettings(ctx context.Context, userID string, s Settings) error
	Contacts(ctx context.Context, userID string) (ContactSet, error)
	// PresenceView is PresenceSettings and Contacts in one round trip.
	PresenceView(ctx context.Context, userID string) (Settings, ContactSet, error)
}

// ContactSet is the users a user chose (the other member of a 1:1 it
// created or wrote in, plus those it added, minus those it removed), and
// the users who chose it. "contacts" visibility shows a user to those it
// chose, never to someone merely because they wrote to it.
type ContactSet struct {
	Chosen   []string
	ChosenBy []string
	// Blocked are the users with a block between them and this user,
	// whichever blocks whom: neither sees the other's presence or typing.
	Blocked []string
}

// Change is a user's presence change, as nodes tell each other. It carries
// the user's settings so that every node can filter it for its own
// subscribers without asking anyone.
type Change struct {
	UserID   string
	Online   bool
	LastSeen time.Time
	Settings Settings
}

// Directory is the online state shared by the nodes. In the embedded mode
// it is this process (Local); in a cluster it is Redis.
type Directory interface {
	// Connected and Disconnected count userID's connections on this node
	// (the tracker calls them for a user's first and last there), and
	// that connection's device; they report whether the user became
	// online / went offline anywhere.
	Connected(ctx context.Context, userID, deviceID string) (becameOnline bool, err error)
	Disconnected(ctx context.Context, userID, deviceID string) (wentOffline bool, err error)
	// DeviceConnected and DeviceDisconnected count the device of any
	// other connection of a user online on this node: a cluster's
	// directory knows devices too, since push asks whether a device is
	// connected, not only its user.
	DeviceConnected(ctx context.Context, userID, deviceID string) error
	DeviceDisconnected(ctx context.Context, userID, deviceID string) error
	// Online tells which of ids have a connection anywhere.
	Online(ctx context.Context, ids []string) (map[string]bool, error)
	// Announce hands a change to the trackers of every node that watches
	// its user, this one included.
	Announce(ctx context.Context, c Change) error
	// Watch and Unwatch, reference-counted, say which users' changes this
	// node wants.
	Watch(ctx context.Context, userID string)
	Unwatch(ctx context.Context, userID string)
	// Handle sets where changes arrive, and where a user left without a
	// word arrives (its node died): gone must store its last seen and
	// announce it offline.
	Handle(onChange func(Change), gone func(userID string, at time.Time))
}

// Subscriber receives presence events; a connection implements it.
type Subscriber interface {
	UserID() string
	DeviceID() string
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
	// SettingsCache bounds the users' settings, and apart their
	// contacts, held in memory for connects and snapshots (MaxEntries 0:
	// every read asks the store).
	SettingsCache cache.Config
}

// State is a user's presence as one viewer may see it.
type State struct {
	UserID   string
	Online   bool
	LastSeen time.Time // zero when unknown or hidden
}

// Errors of this domain.
var (
	ErrUnknownUser = errors.New("no such user")
	ErrVisibility  = errors.New(`visibility must be "everyone", "contacts" or "nobody"`)
)

// local is what the tracker holds for a user with connections here: its
// settings and contacts decide what its subscriptions may see.
type local struct {
	conns    int
	settings Settings
	contacts map[string]bool // users it chose
	chosenBy map[string]bool // users who chose it
	blocked  map[string]bool // a block either way: sees nothing, shows nothing
}

func newLocal(settings Settings, c ContactSet) *local {
	u := &local{settings: settings, contacts: make(map[string]bool, len(c.Chosen)), chosenBy: make(map[string]bool, len(c.ChosenBy)),
		blocked: make(map[string]bool, len(c.Blocked))}
	u.add(c)
	return u
}

func (u *local) add(c ContactSet) {
	for _, id := range c.Chosen {
		u.contacts[id] = true
	}
	for _, id := range c.ChosenBy {
		u.chosenBy[id] = true
	}
	for _, id := range c.Blocked {
		u.blocked[id] = true
	}
}

// peers are the users whose presence a user follows: those it chose and
// those who chose it (what each may see is filtered per change), less
// those with a block between them.
func (c ContactSet) peers() []string {
	out := make([]string, 0, len(c.Chosen)+len(c.ChosenBy))
	for _, id := range c.Chosen {
		if !slices.Contains(c.Blocked, id) {
			out = append(out, id)
		}
	}
	for _, id := range c.ChosenBy {
		if !slices.Contains(c.Chosen, id) && !slices.Contains(c.Blocked, id) {
			out = append(out, id)
		}
	}
	return out
}

// Tracker is the presence of the users connected to this node, and the
// filter through which every change reaches this node's subscribers.
type Tracker struct {
	store Store
	dir   Directory
	clock clock.Clock
	log   *slog.Logger
	cfg   Config
	pub   Publisher

	mu      sync.Mutex
	users   map[string]*local
	subs    map[string]map[Subscriber]struct{} // watched user -> subscribers
	watch   map[Subscriber][]string
	leaving map[string]clock.Timer // users whose offline frame waits out the grace
	typing  map[typingKey]*typingState
	members map[string]membersEntry // conversation -> members, for typing
	closed  bool

	memberSrc Members

	// settings are users' presence settings, read on every connect (the
	// user's own, and its online contacts' for the snapshot).
	settings *cache.Cache[string, Settings]
	// contacts are users' contact sets, read on every connect. A cached
	// set is shared: nothing may change its slices.
	contacts *cache.Cache[string, ContactSet]
	// Invalidator, if set, tells the other nodes of a cluster whose
	// settings or contacts changed here. Set before the tracker is used.
	Invalidator bus.Invalidator
}

// Publisher delivers typing frames to users' connections.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// NewTracker returns an empty tracker over dir (nil: this node only);
// members answers typing's membership questions.
func NewTracker(s Store, dir Directory, pub Publisher, members Members, clk clock.Clock, cfg Config, log *slog.Logger) *Tracker {
	if cfg.TypingTimeout <= 0 {
		cfg.TypingTimeout = 6 * time.Second
	}
	if dir == nil {
		dir = NewLocal()
	}
	t := &Tracker{
		store: s, dir: dir, pub: pub, clock: clk, cfg: cfg, log: log,
		users:   map[string]*local{},
		subs:    map[string]map[Subscriber]struct{}{},
		watch:   map[Subscriber][]string{},
		leaving: map[string]clock.Timer{},
		typing:  map[typingKey]*typingState{},
		members: map[string]membersEntry{},

		memberSrc: members,
		settings:  cache.New[string, Settings](clk, cfg.SettingsCache),
		contacts:  cache.New[string, ContactSet](clk, cfg.SettingsCache),
	}
	dir.Handle(t.receive, t.gone)
	return t
}

// Close stops the pending timers.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, tm := range t.leaving {
		if tm != nil {
			tm.Stop()
		}
	}
	for _, st := range t.typing {
		st.timer.Stop()
	}
}

// Connected records a new connection of sub's user, subscribes it to the
// user's contacts and sends it the contacts that are online now.
func (t *Tracker) Connected(ctx context.Context, sub Subscriber) error {
	userID := sub.UserID()
	settings, contacts, err := t.connectView(ctx, userID)
	if err != nil {
		return err
	}
	peers := contacts.peers()
	t.mu.Lock()
	u := t.users[userID]
	first := u == nil
	if first {
		u = newLocal(settings, contacts)
		t.users[userID] = u
	} else {
		u.add(contacts)
	}
	u.conns++
	flapped := false
	if tm, ok := t.leaving[userID]; ok && first {
		flapped = tm == nil || tm.Stop()
		delete(t.leaving, userID)
	}
	added := t.subscribeLocked(sub, peers)
	t.mu.Unlock()
	for _, id := range added {
		t.dir.Watch(ctx, id)
	}
	// A snapshot that fails (the directory unreachable) must not keep the
	// connection from being counted: a directory that comes back registers
	// again the connections it counted, and only those.
	snapErr := t.sendSnapshot(ctx, sub, peers, contacts.ChosenBy)
	if !first {
		// Counted for its device alone: the user was online here already.
		if err := t.dir.DeviceConnected(ctx, userID, sub.DeviceID()); err != nil {
			return errors.Join(snapErr, fmt.Errorf("presence directory: %w", err))
		}
		return snapErr
	}
	became, err := t.dir.Connected(ctx, userID, sub.DeviceID())
	if err != nil {
		return errors.Join(snapErr, fmt.Errorf("presence directory: %w", err))
	}
	// A reconnect within the grace: the offline frame was never sent, so
	// no online frame either.
	if became && !flapped {
		return errors.Join(snapErr, t.dir.Announce(ctx, Change{UserID: userID, Online: true, Settings: settings}))
	}
	return snapErr
}

// sendSnapshot tells a new connection which of its peers are online, as
// each shows it: those with "contacts" visibility only if they chose it.
func (t *Tracker) sendSnapshot(ctx context.Context, sub Subscriber, contacts, chosenBy []string) error {
	if len(contacts) == 0 {
		return nil
	}
	on, err := t.dir.Online(ctx, contacts)
	if err != nil {
		return fmt.Errorf("presence directory: %w", err)
	}
	var ids []string
	for _, c := range contacts {
		if on[c] {
			ids = append(ids, c)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	settings, err := t.presenceSettingsMany(ctx, ids)
	if err != nil {
		return err
	}
	for _, c := range ids {
		if visibleTo(settings[c].Online, slices.Contains(chosenBy, c)) {
			sub.Deliver(&bus.Event{Kind: bus.KindPresence, Presence: &wire.Presence{
				Type: wire.TypePresence, UserID: c, Status: wire.PresenceOnline}})
		}
	}
	return nil
}

// Disconnected records that a connection of userID closed. When it was
// the user's last anywhere, its last seen is stored before the user shows
// offline, so nobody ever sees it offline without its last seen, and it
// survives a crash right after; subscribers hear of it after the grace,
// unless it comes back. timedOut skips the grace: the connection was
// already silent for the whole heartbeat timeout.
func (t *Tracker) Disconnected(ctx context.Context, userID, deviceID string, timedOut bool) {
	ctx = context.WithoutCancel(ctx)
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
		// The user stays online here; only its device's count changes.
		if err := t.dir.DeviceDisconnected(ctx, userID, deviceID); err != nil {
			t.log.Error("presence directory", "user", userID, "err", err)
		}
		return
	}
	if err := t.store.SetLastSeen(ctx, userID, now); err != nil {
		t.log.Error("store last seen", "user", userID, "err", err)
	}
	graced := !timedOut && t.cfg.Grace > 0
	t.mu.Lock()
	if u.conns > 0 { // it reconnected meanwhile
		t.mu.Unlock()
		return
	}
	delete(t.users, userID)
	if graced && !t.closed {
		// From here a connect is a reconnect within the grace, even before
		// the grace's timer is armed below: an entry without a timer says
		// so. Without it, a connect landing between the directory's
		// answer and the timer announced "online" to subscribers who
		// never heard "offline".
		if old := t.leaving[userID]; old != nil {
			old.Stop()
		}
		t.leaving[userID] = nil
	}
	t.mu.Unlock()
	went, err := t.dir.Disconnected(ctx, userID, deviceID)
	if err != nil {
		t.log.Error("presence directory", "user", userID, "err", err)
	}
	change := Change{UserID: userID, LastSeen: now, Settings: u.settings}
	if !graced {
		if went {
			t.announce(change)
		}
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tm, ok := t.leaving[userID]; t.closed || !ok || tm != nil {
		return // closing, or back meanwhile: nothing was shown, nothing to say
	}
	if !went {
		delete(t.leaving, userID) // still connected on another node
		return
	}
	t.leaving[userID] = t.clock.AfterFunc(t.cfg.Grace, func() {
		t.mu.Lock()
		_, still := t.leaving[userID]
		delete(t.leaving, userID)
		t.mu.Unlock()
		if !still {
			return
		}
		// Back meanwhile, maybe through another node: say nothing.
		if on, err := t.dir.Online(context.Background(), []string{userID}); err == nil && on[userID] {
			return
		}
		t.announce(change)
	})
}

func (t *Tracker) announce(c Change) {
	if err := t.dir.Announce(context.Background(), c); err != nil {
		t.log.Warn("announce presence", "user", c.UserID, "err", err)
	}
}

// gone handles a user whose node died with its connections: the directory
// found it has none left anywhere.
func (t *Tracker) gone(userID string, at time.Time) {
	ctx := context.Background()
	if err := t.store.SetLastSeen(ctx, userID, at); err != nil {
		t.log.Error("store last seen", "user", userID, "err", err)
	}
	settings, err := t.presenceSettings(ctx, userID)
	if err != nil {
		t.log.Error("presence settings", "user", userID, "err", err)
		return
	}
	t.announce(Change{UserID: userID, LastSeen: at, Settings: settings})
}

// receive tells this node's subscribers of userID what each may see of a
// change.
func (t *Tracker) receive(c Change) {
	t.mu.Lock()
	type delivery struct {
		sub   Subscriber
		frame wire.Presence
	}
	var out []delivery
	for s := range t.subs[c.UserID] {
		viewer := s.UserID()
		vu := t.users[viewer]
		if viewer == c.UserID || vu == nil || vu.blocked[c.UserID] {
			continue
		}
		contact := vu.chosenBy[c.UserID] // the changed user chose the viewer
		if !visibleTo(c.Settings.Online, contact) {
			continue // hidden: no frame at all
		}
		p := wire.Presence{Type: wire.TypePresence, UserID: c.UserID, Status: wire.PresenceOnline}
		if !c.Online {
			p.Status = wire.PresenceOffline
			// Reciprocity: a viewer hiding its own last seen from this
			// user cannot see this user's.
			if visibleTo(c.Settings.LastSeen, contact) && visibleTo(vu.settings.LastSeen, vu.contacts[c.UserID]) {
				ls := clock.Millis(c.LastSeen)
				p.LastSeen = &ls
			}
		}
		out = append(out, delivery{s, p})
	}
	t.mu.Unlock()
	for _, d := range out {
		d.sub.Deliver(&bus.Event{Kind: bus.KindPresence, Presence: &d.frame})
	}
}

// visibleTo applies a visibility to a viewer that is (or is not) a contact.
func visibleTo(v Visibility, contact bool) bool {
	return v == Everyone || (v == Contacts && contact)
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
	added := t.subscribeLocked(sub, userIDs)
	t.mu.Unlock()
	for _, id := range added {
		t.dir.Watch(ctx, id)
	}
	for _, st := range states {
		f := st.Frame()
		sub.Deliver(&bus.Event{Kind: bus.KindPresence, Presence: &f})
	}
	return nil
}

// subscribeLocked records subscriptions and returns the new ones.
func (t *Tracker) subscribeLocked(sub Subscriber, userIDs []string) []string {
	var added []string
	for _, id := range userIDs {
		m := t.subs[id]
		if m == nil {
			m = map[Subscriber]struct{}{}
			t.subs[id] = m
		}
		if _, ok := m[sub]; !ok {
			m[sub] = struct{}{}
			t.watch[sub] = append(t.watch[sub], id)
			added = append(added, id)
		}
	}
	return added
}

// ContactChanged applies, for a connection of one of the two users, that
// the contacts between a and b changed (a 1:1 created, a first reply, an
// explicit add or removal: stored, and the cached contacts dropped). It
// reads again who chose whom: each shows itself to the other where its
// visibility is "contacts" only while it chooses the other, which
// receive checks on every change, so a viewer removed gets no frame
// about that user from then on. The connection follows the other's
// presence and is sent it as it may see it now (for a viewer removed:
// offline, without last seen, when hidden), without reconnecting. Both
// users' entries change at once, whichever connection comes first, so
// that the state sent next is the same for both.
func (t *Tracker) ContactChanged(ctx context.Context, sub Subscriber, a, b string) error {
	me := sub.UserID()
	if me != a && me != b {
		return nil
	}
	peer := b
	if me == b {
		peer = a
	}
	// From the store, and not put in the cache: each connection of the
	// two reads it once per change (changes are rare), and the cache
	// stays as the change's invalidation left it, for the next connect
	// to fill with its one round trip (internal/app/connectcost_test.go).
	c, err := t.store.Contacts(ctx, me)
	if err != nil {
		return fmt.Errorf("contacts: %w", err)
	}
	chose, chosenBy := slices.Contains(c.Chosen, peer), slices.Contains(c.ChosenBy, peer)
	blocked := slices.Contains(c.Blocked, peer)
	t.mu.Lock()
	if u := t.users[me]; u != nil {
		u.contacts[peer], u.chosenBy[peer], u.blocked[peer] = chose, chosenBy, blocked
	}
	if u := t.users[peer]; u != nil {
		u.contacts[me], u.chosenBy[me], u.blocked[me] = chosenBy, chose, blocked
	}
	t.mu.Unlock()
	return t.Subscribe(ctx, sub, []string{peer})
}

// Unsubscribe drops every subscription of sub.
func (t *Tracker) Unsubscribe(sub Subscriber) {
	t.mu.Lock()
	ids := t.watch[sub]
	for _, id := range ids {
		delete(t.subs[id], sub)
		if len(t.subs[id]) == 0 {
			delete(t.subs, id)
		}
	}
	delete(t.watch, sub)
	t.mu.Unlock()
	for _, id := range ids {
		t.dir.Unwatch(context.Background(), id)
	}
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
	on, err := t.dir.Online(ctx, []string{userID})
	if err != nil {
		return State{}, fmt.Errorf("presence directory: %w", err)
	}
	st := State{UserID: userID, Online: on[userID], LastSeen: ls}
	if viewer == userID {
		return st, nil
	}
	target, err := t.view(ctx, userID)
	if err != nil {
		return State{}, err
	}
	me, err := t.view(ctx, viewer)
	if err != nil {
		return State{}, err
	}
	// A connected user's entry is shared and changed under t.mu (a contact
	// changing, settings saved): read it under the lock too.
	t.mu.Lock()
	contact := target.contacts[viewer]
	blocked := target.blocked[viewer] || me.blocked[userID]
	online := visibleTo(target.settings.Online, contact) && !blocked
	lastSeen := visibleTo(target.settings.LastSeen, contact) && visibleTo(me.settings.LastSeen, me.contacts[userID]) && !blocked
	t.mu.Unlock()
	if !online {
		st.Online = false
	}
	if !lastSeen {
		st.LastSeen = time.Time{}
	}
	return st, nil
}

// OnlineView reports whether viewer may see userID's online status (as
// Get applies it: settings, contacts, blocks both ways) and whether
// userID is online; the delivery trace shows a device's connection only
// when the first holds.
func (t *Tracker) OnlineView(ctx context.Context, viewer, userID string) (visible, online bool, err error) {
	if viewer != userID {
		target, err := t.view(ctx, userID)
		if err != nil {
			return false, false, err
		}
		me, err := t.view(ctx, viewer)
		if err != nil {
			return false, false, err
		}
		t.mu.Lock()
		visible = visibleTo(target.settings.Online, target.contacts[viewer]) && !target.blocked[viewer] && !me.blocked[userID]
		t.mu.Unlock()
		if !visible {
			return false, false, nil
		}
	}
	on, err := t.dir.Online(ctx, []string{userID})
	if err != nil {
		return false, false, fmt.Errorf("presence directory: %w", err)
	}
	return true, on[userID], nil
}

// view returns a user's settings and contacts, from memory when it is
// connected here, else from the store.
func (t *Tracker) view(ctx context.Context, userID string) (*local, error) {
	t.mu.Lock()
	u := t.users[userID]
	t.mu.Unlock()
	if u != nil {
		return u, nil
	}
	settings, err := t.presenceSettings(ctx, userID)
	if err != nil {
		return nil, err
	}
	contacts, err := t.store.Contacts(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return newLocal(settings, contacts), nil
}

// Settings returns a user's privacy settings.
func (t *Tracker) Settings(ctx context.Context, userID string) (Settings, error) {
	return t.presenceSettings(ctx, userID)
}

// connectView reads what a connect needs: the user's settings, from the
// cache when it can, and its contacts, in one store round trip either way.
func (t *Tracker) connectView(ctx context.Context, userID string) (Settings, ContactSet, error) {
	s, haveSettings := t.settings.Get(userID)
	c, haveContacts := t.contacts.Get(userID)
	switch {
	case haveSettings && haveContacts:
		return s, c, nil
	case haveSettings:
		gen := t.contacts.Gen()
		c, err := t.store.Contacts(ctx, userID)
		if err != nil {
			return Settings{}, ContactSet{}, fmt.Errorf("contacts: %w", err)
		}
		t.contacts.Put(userID, c, gen)
		return s, c, nil
	}
	sgen, cgen := t.settings.Gen(), t.contacts.Gen()
	s, c, err := t.store.PresenceView(ctx, userID)
	if err != nil {
		return Settings{}, ContactSet{}, fmt.Errorf("presence settings and contacts: %w", err)
	}
	t.settings.Put(userID, s, sgen)
	t.contacts.Put(userID, c, cgen)
	return s, c, nil
}

// Warm reads a user's settings and contacts into the caches, if they are
// not there: called at login, so the first connect after it asks the
// store only where the device stands. A failure only leaves the connect
// to read them.
func (t *Tracker) Warm(ctx context.Context, userID string) {
	if _, _, err := t.connectView(ctx, userID); err != nil {
		t.log.Warn("presence settings and contacts at login", "user", userID, "err", err)
	}
}

// ContactsChanged drops the cached contacts of users whose contacts
// changed (a 1:1 created, a first reply, an add or a removal), here and, through the
// Invalidator, on every node. Call it before the change's event is
// published: a node hears of the invalidation first.
func (t *Tracker) ContactsChanged(ctx context.Context, userIDs ...string) {
	t.contacts.Drop(userIDs...)
	if t.Invalidator != nil {
		t.Invalidator.Invalidate(ctx, bus.Invalidation{Cache: bus.CacheContacts, IDs: userIDs})
	}
}

// ForgetContacts drops cached contacts that another node changed.
func (t *Tracker) ForgetContacts(userIDs []string) { t.contacts.Drop(userIDs...) }

// presenceSettings reads a user's settings, from the cache when it can.
func (t *Tracker) presenceSettings(ctx context.Context, userID string) (Settings, error) {
	if s, ok := t.settings.Get(userID); ok {
		return s, nil
	}
	gen := t.settings.Gen()
	s, err := t.store.PresenceSettings(ctx, userID)
	if err != nil {
		return Settings{}, fmt.Errorf("presence settings: %w", err)
	}
	t.settings.Put(userID, s, gen)
	return s, nil
}

// presenceSettingsMany reads the settings of those of ids that exist: the
// cached ones from memory, the rest in one query.
func (t *Tracker) presenceSettingsMany(ctx context.Context, ids []string) (map[string]Settings, error) {
	out := make(map[string]Settings, len(ids))
	var missed []string
	for _, id := range ids {
		if s, ok := t.settings.Get(id); ok {
			out[id] = s
		} else {
			missed = append(missed, id)
		}
	}
	if len(missed) == 0 {
		return out, nil
	}
	gen := t.settings.Gen()
	read, err := t.store.PresenceSettingsMany(ctx, missed)
	if err != nil {
		return nil, fmt.Errorf("presence settings: %w", err)
	}
	for id, s := range read {
		t.settings.Put(id, s, gen)
		out[id] = s
	}
	return out, nil
}

// ForgetSettings drops the cached settings of userIDs: another node saved
// them.
func (t *Tracker) ForgetSettings(userIDs []string) { t.settings.Drop(userIDs...) }

// ForgetAllSettings empties the settings and contacts caches:
// invalidations from other nodes may have been lost.
func (t *Tracker) ForgetAllSettings() {
	t.settings.Clear()
	t.contacts.Clear()
}

// UpdateSettings changes the given settings (empty fields stay as they
// are) and returns the result.
func (t *Tracker) UpdateSettings(ctx context.Context, userID string, lastSeen, online Visibility) (Settings, error) {
	if (lastSeen != "" && !lastSeen.Valid()) || (online != "" && !online.Valid()) {
		return Settings{}, ErrVisibility
	}
	// From the store, not the cache: a change saved on another node whose
	// invalidation has not arrived must not be written back over.
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
	t.settings.Drop(userID)
	if t.Invalidator != nil {
		t.Invalidator.Invalidate(ctx, bus.Invalidation{Cache: bus.CachePresenceSettings, IDs: []string{userID}})
	}
	t.mu.Lock()
	if u := t.users[userID]; u != nil {
		u.settings = s
	}
	t.mu.Unlock()
	return s, nil
}

// Frame renders a state as a presence frame.
func (s State) Frame() wire.Presence {
	p := wire.Presence{Type: wire.TypePresence, UserID: s.UserID, Status: wire.PresenceOffline}
	if s.Online {
		p.Status = wire.PresenceOnline
	}
	if !s.LastSeen.IsZero() {
		ls := clock.Millis(s.LastSeen)
		p.LastSeen = &ls
	}
	return p
}
