// Package messaging is the heart of Parley: the send path (idempotency,
// per-conversation sequence numbers, group commit, "sent" only after the
// commit), receipts, history, the per-device offline queue, and the
// Stream that delivers a connected device's messages and statuses in order.
package messaging

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/conversations"
)

// Message is a stored message.
type Message struct {
	ID              string
	ConversationID  string
	Seq             int64
	SenderID        string
	SenderDevice    string
	ClientMessageID string
	Type            string
	Content         string
	MediaID         string
	CreatedAt       time.Time
	// Withheld marks a 1:1 message whose recipient blocks its sender: it
	// exists for the sender alone (docs/PROTOCOL.md, "Blocking").
	Withheld bool
	// ReplyTo names the message this one answers; Quote is what of it the
	// reply shows, taken when the reply was committed.
	ReplyTo string
	Quote   *Quote
	// Mentions are the members the message names, each once.
	Mentions []string
	// EditedAt is when the sender last edited it; DeletedAt when it was
	// deleted for everyone (a tombstone: content and media are gone).
	EditedAt  time.Time
	DeletedAt time.Time
	// Forwarded counts the hops of a forwarded message (0: not one).
	Forwarded int
	// ForwardOf names the message a forward copies, on a send.
	ForwardOf string
	// ExpiresAt is when a disappearing message goes; zero if it does not.
	ExpiresAt time.Time
	// Reactions are counted for history only.
	Reactions []ReactionCount
}

// ReactionCount is how many members reacted to a message with one emoji,
// and who.
type ReactionCount struct {
	Emoji   string
	UserIDs []string
}

// Quote is a reply's view of the message it answers.
type Quote struct {
	SenderID string
	Type     string
	Content  string // at most wire.MaxQuoteBytes, cut on a UTF-8 boundary
}

// AppendResult is the outcome of appending one message.
type AppendResult struct {
	Message Message
	// Duplicate is true when (sender, client_message_id) was seen before:
	// Message is then the original and nothing was stored.
	Duplicate bool
	// Members are the conversation's current members: the users the
	// message fans out to (the sender included, for its other devices).
	Members []string
	// NewContact is set on the first message of a 1:1's member who did
	// not create it: by writing, the sender chose NewContact (the
	// creator) as a contact.
	NewContact string
	Err        error
}

// ReceiptRequest is one delivery_ack or read_receipt frame.
type ReceiptRequest struct {
	UserID   string
	DeviceID string
	// Status is wire.StatusDelivered or wire.StatusRead.
	Status string
	// ConversationID, when set (read receipts), must hold every message.
	ConversationID string
	MessageIDs     []string
	At             time.Time
}

// StatusChange is a recipient's receipt state change of one message, as
// its sender is told about it.
type StatusChange struct {
	// EventID orders changes for one sender; devices keep a cursor on it.
	EventID        int64
	SenderID       string
	MessageID      string
	ConversationID string
	RecipientID    string
	Status         string
	At             time.Time
}

// Batch is the work of one commit cycle: everything that changes a
// conversation log or receipt state goes through it, so that sequence
// numbers and receipt-event numbers are assigned in one place.
type Batch struct {
	Sends    []Message
	Receipts []ReceiptRequest
	// Changes are other domains' changes of conversations (membership
	// changes and the system messages that record them), each applied
	// wholly or not at all, before the sends.
	Changes []func(conversations.Tx) error
	// Updates are reactions, edits and deletions, applied in order after
	// the sends.
	Updates []UpdateRequest
	// Expire, if set, deletes a bounded batch of expired messages.
	Expire *Expiry
}

// Expiry asks a commit to delete up to Limit messages created before
// Cutoff, telling their senders which recipients never got them.
type Expiry struct {
	Cutoff, Now time.Time
	Limit       int
}

// Expired is what an expiry deleted.
type Expired struct {
	Messages int
	Bytes    int64
	// Media are the media items of the disappearing messages it deleted:
	// erased after the commit unless another message carries them.
	Media []string
}

// ChangeResult is the outcome of one of a batch's Changes: its error, or
// the system messages it appended, each with the members it fans out to.
type ChangeResult struct {
	Err      error
	Messages []AppendResult
}

// Committed is what a group commit did: a result per send, per change and
// per receipt (nil or the reason it was refused), what expired, and every
// receipt-state change the batch made, ordered by sender and event.
type Committed struct {
	Sends    []AppendResult
	Changes  []ChangeResult
	Refused  []error
	Expired  Expired
	Statuses []StatusChange
	// Updates are the result of each of the batch's Updates.
	Updates []UpdateResult
}

// RecipientStatus is one recipient's state of one message.
type RecipientStatus struct {
	UserID    string
	Status    string
	UpdatedAt time.Time
}

// PendingCursor is a position in a device's offline queue, which is ordered
// by (CreatedAt, ConversationID, Seq): oldest first.
type PendingCursor struct {
	CreatedAt      time.Time
	ConversationID string
	Seq            int64
}

// StreamStart is a device's delivery state at connect.
type StreamStart struct {
	// ReceiptCursor is the last receipt event the device was told about.
	ReceiptCursor int64
	// ReceiptHead is the last receipt event of its user's messages: the
	// device missed statuses when it is past ReceiptCursor.
	ReceiptHead int64
	// Pending reports whether the device's offline queue holds anything.
	Pending bool
	// UpdatesPending reports whether any of its conversations has update
	// events past the device's cursor.
	UpdatesPending bool
}

// Window is which messages a read may still show at Now: none created
// before NotBefore (--retention), none whose ExpiresAt has come (a
// disappearing message), even before the retention job deleted them.
// The zero Window hides nothing.
type Window struct {
	NotBefore, Now time.Time
}

// Shows says whether m is in the window.
func (w Window) Shows(m Message) bool {
	return !m.CreatedAt.Before(w.NotBefore) && (m.ExpiresAt.IsZero() || m.ExpiresAt.After(w.Now))
}

// Page selects which end of a conversation a history query reads.
type Page int

// Pages of history.
const (
	// Newest returns the newest Limit messages.
	Newest Page = iota
	// After returns the first Limit messages with seq > Seq.
	After
	// Before returns the last Limit messages with seq < Seq.
	Before
)

// HistoryQuery selects a page of a conversation's messages. Results are
// ascending by sequence number whichever the page.
type HistoryQuery struct {
	Page  Page
	Seq   int64
	Limit int
	// MinSeq hides messages at or below it (from before the caller joined).
	MinSeq int64
	// Window hides expired messages.
	Window
	// Viewer is the user reading: messages withheld from it are left out.
	Viewer string
}

// Store is what messaging needs from durable storage.
type Store interface {
	// Commit is the group commit: one transaction applies a batch. First
	// its changes, each in order, wholly or not at all (a change's error
	// is its result, not the batch's). Then its sends, in order: an
	// already-seen (SenderID, ClientMessageID) returns the original as a
	// duplicate; a sender that is not a member fails with ErrForbidden
	// (ErrConversationNotFound if there is no such conversation);
	// otherwise the message gets the conversation's next sequence number
	// (ID and CreatedAt are set by the caller). Then its receipts, as if
	// one after the other but written together: a device's receipts for
	// a conversation collapse to one cursor move, and each receipt-state
	// change is recorded as a range of the conversation per event, not
	// per message; a receipt naming a message its user cannot see is
	// refused whole (ErrMessageNotFound) and changes nothing. Last the
	// expiry, if any.
	Commit(ctx context.Context, b Batch) (Committed, error)
	MessageByID(ctx context.Context, id string) (Message, error)
	History(ctx context.Context, conversationID string, q HistoryQuery) ([]Message, error)
	// Pending returns up to limit messages after cur that device has not
	// acknowledged, excluding those it sent itself, oldest first.
	Pending(ctx context.Context, deviceID string, cur PendingCursor, limit int, w Window) ([]Message, error)
	// Range returns the messages of a conversation with afterSeq < seq <
	// beforeSeq that fall in userID's current membership.
	Range(ctx context.Context, userID, conversationID string, afterSeq, beforeSeq int64, w Window) ([]Message, error)
	// DeviceCursor is the highest seq of the conversation the device
	// acknowledged (or that precedes its membership).
	DeviceCursor(ctx context.Context, deviceID, conversationID string) (int64, error)
	// StatusesSince returns the changes of up to limit receipt events for
	// userID's messages after event id (every change of an event, so a
	// caller can page by event id).
	StatusesSince(ctx context.Context, userID string, afterEventID int64, limit int) ([]StatusChange, error)
	ReceiptCursor(ctx context.Context, deviceID string) (int64, error)
	// StreamStart is where deviceID (of userID) stands when it connects,
	// read in one round trip so that a connect with nothing to catch up
	// costs one query. Pending is whether Pending would return anything
	// with the same window. ErrNotFound if the device does not exist.
	StreamStart(ctx context.Context, userID, deviceID string, w Window) (StreamStart, error)
	SetReceiptCursor(ctx context.Context, deviceID string, eventID int64) error
	// PendingUpdates returns, ordered by conversation and event, up to
	// limit update events after cur of the conversations of deviceID (of
	// userID) that are past the device's cursors, each with the frame's
	// fields read as the message is now. It also returns, per
	// conversation, the last event it read (Passed): events userID may not see (a
	// change made after it left, of a message withheld from or hidden by
	// it, another user's "delete for me") or that tell nothing any more (a
	// message gone or outside w, an edit since deleted) are read but left out, and the
	// cursor moves past them.
	PendingUpdates(ctx context.Context, userID, deviceID string, cur UpdateCursor, limit int, w Window) (UpdatePage, error)
	// UpdatesRange returns the update events of a conversation with
	// afterID < id < beforeID that userID may see, as PendingUpdates does.
	UpdatesRange(ctx context.Context, userID, conversationID string, afterID, beforeID int64, w Window) ([]UpdateEvent, error)
	// UpdateCursor is the last update event of the conversation the device
	// was told of.
	UpdateCursor(ctx context.Context, deviceID, conversationID string) (int64, error)
	// SetUpdateCursors moves the device's update cursors forward (never
	// back), one per conversation.
	SetUpdateCursors(ctx context.Context, deviceID string, cursors map[string]int64) error
	// Statuses returns the state of m for every other member.
	Statuses(ctx context.Context, m Message) ([]RecipientStatus, error)
}

// Publisher carries events to users' connections, wherever they are.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Members answers membership questions (the conversations service).
type Members interface {
	CheckMember(ctx context.Context, conversationID, userID string) (conversations.Member, error)
}

// Errors of this domain. internal/errmap gives each its wire code.
var (
	ErrForbidden            = errors.New("not a member of this conversation")
	ErrConversationNotFound = errors.New("no such conversation")
	ErrMessageNotFound      = errors.New("no such message")
	ErrNotSender            = errors.New("only the sender sees a message's receipts")
	ErrShuttingDown         = errors.New("server is shutting down")
	// ErrNotInConversation: a read receipt names a message of another
	// conversation than its own.
	ErrNotInConversation = errors.New("message is not in this conversation")
	// ErrAdminsOnly: a member who is not an admin sends to a group whose
	// only_admins_send is on. Decided in the commit, beside membership.
	ErrAdminsOnly = errors.New("only admins may send messages to this group")
	// ErrBadReply: reply_to names no message of the conversation that
	// the sender can see (another conversation's, one from before it
	// joined, one withheld from it, a system message, an unknown id).
	ErrBadReply = errors.New("reply_to must name a message of this conversation that you can see")
	// ErrBadMention: mentions names someone who is not a member.
	ErrBadMention = errors.New("mentions must name members of this conversation")
)
