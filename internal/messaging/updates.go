package messaging

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/wire"
)

// Reactions, edits and deletions change messages that devices may already
// hold. Each is applied to the stored message in place (so history, the
// offline queue and gap fill read the message as it is now) and recorded
// once, whatever the number of members, as an update event of its
// conversation, numbered per conversation without gaps as messages are:
// a device keeps a cursor per conversation beside its queue's, catches
// up on connect after its queue and statuses, and tells a lost live event
// by the gap. An event names what changed; its frame is read from the
// message as it is when the device is told.

// Update kinds.
const (
	UpdateReaction = "reaction"
	UpdateEdit     = "edit"
	// UpdateDelete deletes for everyone; UpdateHide for the actor alone
	// ("delete for me").
	UpdateDelete = "delete"
	UpdateHide   = "hide"
)

// UpdateRequest is one reaction, edit or delete frame.
type UpdateRequest struct {
	Kind             string
	UserID, DeviceID string
	MessageID        string
	// Emoji, for a reaction: "" removes the user's reaction.
	Emoji string
	// Content, for an edit.
	Content string
	// At is set by the committer.
	At time.Time
}

// Update is a committed change of a message, as devices are told of it.
type Update struct {
	Kind           string
	ConversationID string
	MessageID      string
	// ActorID reacted, edited or deleted; SenderID sent the message.
	ActorID  string
	SenderID string
	Emoji    string
	Content  string
	At       time.Time
}

// UpdateEvent is an update as its conversation's numbered event.
type UpdateEvent struct {
	// EventID numbers the conversation's update events.
	EventID int64
	Update
}

// UpdateCursor is a position in a device's pending updates, ordered by
// conversation and then event.
type UpdateCursor struct {
	ConversationID string
	EventID        int64
}

// UpdatePage is a page of a device's pending updates.
type UpdatePage struct {
	// Events are those its user may see, ordered by conversation and event.
	Events []UpdateEvent
	// Passed is, per conversation, the last event read, seen or not.
	Passed map[string]int64
	// More reports a full page: the next one starts after Next.
	More bool
	Next UpdateCursor
}

// UpdateResult is the outcome of one UpdateRequest: why it was refused,
// or what it changed and whom that reaches. A request that changed
// nothing (a reaction set again, one overtaken by the same user's later
// reaction in the same cycle) reaches nobody.
type UpdateResult struct {
	Err    error
	Update Update
	// EventID is the update's number in its conversation; Recipients the
	// users who can see the message, told live.
	EventID    int64
	Recipients []string
	// Unchanged marks a request that left things as they were (the same
	// reaction again, a message hidden already): no event was made, and
	// Update is the state it confirms, for the acting device alone.
	Unchanged bool
	// Media is the media item a deletion for everyone took off its
	// message: erased once the commit is durable, unless another message
	// (a forward) still carries it.
	Media string
}

// Errors of updates. internal/errmap gives each its wire code.
var (
	ErrNotYours      = errors.New("only the sender may edit a message or delete it for everyone")
	ErrEditWindow    = errors.New("a message can be edited only within 15 minutes of sending it")
	ErrDeleteWindow  = errors.New("a message can be deleted for everyone only within 48 hours of sending it")
	ErrNotEditable   = errors.New("only text messages can be edited")
	ErrTombstone     = errors.New("the message was deleted")
	ErrSystemMessage = errors.New("system messages cannot be reacted to, edited or deleted for everyone")
)

// SubmitUpdate queues a reaction, edit or deletion for the next commit;
// done is called after its commit (and after its event was published)
// with its result: Err is nil or why it was refused.
func (s *Committer) SubmitUpdate(ctx context.Context, u UpdateRequest, done func(UpdateResult)) error {
	return enqueue(ctx, s, s.updates, &updateJob{req: u, done: done})
}

// ApplyUpdate submits an update and waits for its commit.
func (s *Committer) ApplyUpdate(ctx context.Context, u UpdateRequest) error {
	return waitDone(ctx, func(done func(error)) error {
		return s.SubmitUpdate(ctx, u, func(r UpdateResult) { done(r.Err) })
	})
}

type updateJob struct {
	req  UpdateRequest
	done func(UpdateResult)
}

// publishUpdates tells the recipients of each update, in event order.
func (s *Committer) publishUpdates(ctx context.Context, res []UpdateResult) {
	for _, r := range res {
		if r.Err != nil || r.Unchanged || len(r.Recipients) == 0 {
			continue
		}
		ev := (&bus.Event{Kind: bus.KindUpdate, ConversationID: r.Update.ConversationID, UpdateID: r.EventID}).
			WithFrames([][]byte{wire.Encode(UpdateFrame(r.Update))})
		s.pub.Publish(ctx, r.Recipients, ev)
	}
}

// UpdateFrame renders an update as its wire frame.
func UpdateFrame(u Update) any {
	at := clock.Millis(u.At)
	switch u.Kind {
	case UpdateReaction:
		return wire.Reaction{Type: wire.TypeReaction, ConversationID: u.ConversationID, MessageID: u.MessageID,
			UserID: u.ActorID, Emoji: u.Emoji, Timestamp: at}
	case UpdateEdit:
		return wire.MessageEdited{Type: wire.TypeMessageEdited, ConversationID: u.ConversationID, MessageID: u.MessageID,
			SenderID: u.SenderID, Content: u.Content, EditedAt: at}
	}
	forWhom := wire.DeleteForEveryone
	if u.Kind == UpdateHide {
		forWhom = wire.DeleteForMe
	}
	return wire.MessageDeleted{Type: wire.TypeMessageDeleted, ConversationID: u.ConversationID, MessageID: u.MessageID,
		For: forWhom, DeletedBy: u.ActorID, Timestamp: at}
}

// MediaEraser erases a media item that no message carries any more: a
// message deleted for everyone takes its media with it.
type MediaEraser interface {
	EraseUnused(ctx context.Context, mediaID string) error
}
