// Package bus defines the per-user events that travel from the domain
// services to the connections that hold a user's sockets: in-process in the
// embedded mode, between nodes in a cluster.
package bus

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/wire"
)

// Kind tells a connection how to treat an event.
type Kind uint8

// Event kinds.
const (
	// KindMessage carries a stored message; connections deliver a
	// conversation's messages in sequence order and fill gaps from the store.
	KindMessage Kind = iota + 1
	// KindStatus carries a receipt change for the message's sender.
	KindStatus
	// KindPresence and KindTyping are ephemeral: dropped rather than queued
	// when a connection is behind, never stored.
	KindPresence
	KindTyping
	// KindRevoke tells the connections of SenderDevice that its session
	// ended, and why (Reason).
	KindRevoke
	// KindContact tells the connections of both users that the contacts
	// between Chooser and Chosen changed (Chooser created a 1:1 with
	// Chosen, wrote in one, added or removed it), so presence visibility
	// changes live, not at the next connect.
	KindContact
	// KindProfile (added) tells a user's contacts and its own devices that
	// its profile changed (Profile); not lossy, but nothing is queued for
	// it either: a client that was offline fetches profiles on connect.
	KindProfile
	// KindUpdate (added) carries a reaction, edit or deletion of a
	// message, numbered per user by UpdateID: like KindStatus, a
	// connection that sees a number skipped reads it from the store.
	KindUpdate
)

// Event is one thing to tell a user's connections. The domain fills in
// what it tells as wire values (Message, Statuses, Presence, Typing); the
// edge encodes them once, on the first delivery (Frames), and every
// connection the event reaches shares those bytes read-only.
type Event struct {
	Kind           Kind
	ConversationID string
	Seq            int64
	// SenderDevice is the device that sent a message: its own connections
	// do not receive it back. For KindRevoke, the device whose session ended.
	SenderDevice string
	// ReceiptID numbers status events per sender, without gaps: a
	// connection that sees a number skipped reads it from the store.
	ReceiptID int64
	// UpdateID numbers a user's update events (KindUpdate), without gaps.
	UpdateID int64
	// Reason, for KindRevoke, is the close reason the client is told.
	Reason string
	// Chooser and Chosen, for KindContact.
	Chooser, Chosen string

	// Message, for KindMessage.
	Message *wire.Message
	// Committed, for KindMessage, is when the message was stored (its
	// created_at, to the nanosecond, on the committing node's clock):
	// what the delivery lag is measured from. Zero: not measured.
	Committed time.Time
	// Statuses, for KindStatus, are all the changes of one receipt event
	// (an ack covering several messages), carried together so that an
	// event arrives whole or not at all.
	Statuses []wire.Status
	// Presence, for KindPresence.
	Presence *wire.Presence
	// Typing, for KindTyping.
	Typing *wire.Typing
	// Profile, for KindProfile.
	Profile *wire.Profile

	encode sync.Once
	frames [][]byte
}

// Frames returns the event's frames, in order: encoded by the first caller
// and shared by all. An event from another node carries them already
// (WithFrames).
func (e *Event) Frames() [][]byte {
	e.encode.Do(func() {
		switch {
		case e.Message != nil:
			e.frames = [][]byte{wire.Encode(e.Message)}
		case e.Presence != nil:
			e.frames = [][]byte{wire.Encode(e.Presence)}
		case e.Typing != nil:
			e.frames = [][]byte{wire.Encode(e.Typing)}
		case e.Profile != nil:
			e.frames = [][]byte{wire.Encode(e.Profile)}
		default:
			e.frames = make([][]byte, len(e.Statuses))
			for i := range e.Statuses {
				e.frames[i] = wire.Encode(&e.Statuses[i])
			}
		}
	})
	return e.frames
}

// WithFrames makes e carry frames encoded elsewhere (by the node that
// published it) in place of its wire values.
func (e *Event) WithFrames(frames [][]byte) *Event {
	e.encode.Do(func() { e.frames = frames })
	return e
}

// Lossy reports whether the event may be dropped under backpressure.
func (e *Event) Lossy() bool { return e.Kind == KindPresence || e.Kind == KindTyping }

// Contact is the event of chooser choosing chosen as a contact, or
// adding or removing it; publish it to both.
func Contact(chooser, chosen string) *Event {
	return &Event{Kind: KindContact, Chooser: chooser, Chosen: chosen}
}

// Profile is the event of userID's profile changing: the same frame for
// every viewer (see internal/profiles), so it crosses nodes as bytes like
// the others.
func Profile(userID, displayName string) *Event {
	return &Event{Kind: KindProfile, Profile: &wire.Profile{Type: wire.TypeProfile, UserID: userID, DisplayName: displayName}}
}

// Cache names a cache of stored rows that every node keeps, so that the
// node changing a row can tell the others which entries to drop.
type Cache string

// Caches.
const (
	// CacheSessions holds sessions by token; its invalidations name device
	// ids.
	CacheSessions Cache = "sessions"
	// CachePresenceSettings holds users' presence settings; its
	// invalidations name user ids.
	CachePresenceSettings Cache = "presence-settings"
	// CacheContacts holds users' contact sets; its invalidations name
	// user ids.
	CacheContacts Cache = "contacts"
)

// Invalidation tells nodes that the rows behind some entries of a cache
// changed (a session ended, settings were saved).
type Invalidation struct {
	Cache Cache
	IDs   []string
}

// Invalidator carries a node's invalidations to the other nodes of its
// cluster; the node that made the change has dropped its own entries
// already. Delivery is best effort (Redis pub/sub), which is why cache
// entries also age out. In the embedded mode there is none.
type Invalidator interface {
	Invalidate(ctx context.Context, inv Invalidation)
}
