package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Service answers the queries of the messaging domain (history, offline
// queue, statuses) and, through its Committer, takes sends and receipts.
type Service struct {
	*Committer
	members Members
	// GapFilled, if set, is called each time a Stream reads from the
	// store what a live event skipped (for metrics). Set it before any
	// stream opens; it is called from the streams' goroutines.
	GapFilled func()
	// Presence, if set, tells the delivery trace what a sender may see
	// of a recipient's connection; unset, it shows none.
	Presence OnlineViewer
	// FlushConnections, if set, writes the connects and closes this node
	// has batched, so that a trace read here is exact for them.
	FlushConnections func(context.Context) error
}

// NewService returns the messaging service over c, the node's one
// committer of conversation logs.
func NewService(c *Committer, members Members) *Service {
	return &Service{Committer: c, members: members}
}

// ToFrame renders a stored message as a wire frame.
func ToFrame(m Message) wire.Message {
	return wire.Message{
		Type: wire.TypeMessage, MessageID: m.ID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		SequenceNumber: m.Seq, MessageType: m.Type, Content: m.Content, MediaID: m.MediaID,
		CreatedAt: clock.Millis(m.CreatedAt), ReplyTo: m.ReplyTo, Quote: quoteFrame(m.Quote), Mentions: m.Mentions,
		EditedAt: optMillis(m.EditedAt), Deleted: !m.DeletedAt.IsZero(), Forwarded: m.Forwarded,
		ExpiresAt: optMillis(m.ExpiresAt), Reactions: reactionFrames(m.Reactions),
	}
}

// optMillis is t in Unix ms, 0 (absent on the wire) for the zero time.
func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return clock.Millis(t)
}

func reactionFrames(rs []ReactionCount) []wire.ReactionCount {
	if len(rs) == 0 {
		return nil
	}
	out := make([]wire.ReactionCount, len(rs))
	for i, r := range rs {
		out[i] = wire.ReactionCount{Emoji: r.Emoji, Count: len(r.UserIDs), UserIDs: r.UserIDs}
	}
	return out
}

func quoteFrame(q *Quote) *wire.Quote {
	if q == nil {
		return nil
	}
	return &wire.Quote{SenderID: q.SenderID, MessageType: q.Type, Content: q.Content}
}

// StatusFrame renders a status change as a wire frame.
func StatusFrame(c StatusChange) wire.Status {
	return wire.Status{
		Type: wire.TypeStatus, MessageID: c.MessageID, ConversationID: c.ConversationID,
		UserID: c.RecipientID, Status: c.Status, Timestamp: clock.Millis(c.At),
	}
}

// History returns a page of a conversation's messages for a member.
func (s *Service) History(ctx context.Context, userID, conversationID string, q HistoryQuery) ([]Message, error) {
	m, err := s.members.CheckMember(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	q.MinSeq = m.JoinedSeq
	q.Window = s.window()
	q.Viewer = userID
	msgs, err := s.store.History(ctx, conversationID, q)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return msgs, nil
}

// MessageStatus returns every recipient's state of a message; sender only.
func (s *Service) MessageStatus(ctx context.Context, userID, messageID string) (Message, []RecipientStatus, error) {
	m, err := s.store.MessageByID(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.window().Shows(m)) {
		return Message{}, nil, ErrMessageNotFound
	}
	if err != nil {
		return Message{}, nil, fmt.Errorf("load message: %w", err)
	}
	if m.SenderID != userID {
		// Members learn that it exists but not its receipts; others, and
		// a recipient it is withheld from, learn nothing at all.
		if _, err := s.members.CheckMember(ctx, m.ConversationID, userID); err != nil || m.Withheld {
			return Message{}, nil, ErrMessageNotFound
		}
		return Message{}, nil, ErrNotSender
	}
	st, err := s.store.Statuses(ctx, m)
	if err != nil {
		return Message{}, nil, fmt.Errorf("statuses: %w", err)
	}
	return m, st, nil
}

// Aggregate is a message's state across its recipients: the least
// advanced of them (a group's double tick needs every member), "sent" when
// it has none.
func Aggregate(st []RecipientStatus) string {
	if len(st) == 0 {
		return wire.StatusSent
	}
	rank := map[string]int{wire.StatusSent: 0, wire.StatusDelivered: 1, wire.StatusRead: 2}
	least := wire.StatusRead
	for _, r := range st {
		if rank[r.Status] < rank[least] {
			least = r.Status
		}
	}
	return least
}

// Window is what reads may show now: the retention period's, and no
// disappeared message.
func (s *Service) Window() Window { return s.window() }

// window is what reads may show now.
func (s *Service) window() Window {
	now := s.clock.Now()
	return Window{NotBefore: now.Add(-s.cfg.Retention), Now: now}
}
