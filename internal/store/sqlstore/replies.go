package sqlstore

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// replied reads, in one statement, the messages the batch's replies
// answer, by id.
func (b *logBatch) replied(ctx context.Context, sends []messaging.Message) (map[string]messaging.Message, error) {
	set := newRowSet("r", textCol("id"))
	for _, m := range sends {
		if m.ReplyTo != "" {
			set.add(m.ReplyTo)
		}
	}
	if set.len() == 0 {
		return nil, nil
	}
	out := map[string]messaging.Message{}
	for _, part := range set.chunks(b.tx.d) {
		table, args := part.table(b.tx.d)
		msgs, err := scanMessages(b.tx.QueryContext(ctx, `
			SELECT `+prefixed("m.", messageColumns)+` FROM `+table+` JOIN messages m ON m.id = r.id`, args...))
		if err != nil {
			return nil, fmt.Errorf("read replied messages: %w", err)
		}
		for _, m := range msgs {
			out[m.ID] = m
		}
	}
	return out, nil
}

// quote is what m, a reply, shows of orig, the message it answers, and
// whether orig may be answered by m's sender at all: a message of the
// same conversation, after the sender joined it, that the sender can see
// (not one withheld from it by a block), and not a system message. orig
// is the zero Message when its id named nothing.
func (b *logBatch) quote(m, orig messaging.Message) (*messaging.Quote, bool) {
	if orig.ID == "" || orig.ConversationID != m.ConversationID || orig.Type == conversations.MessageTypeSystem ||
		orig.Seq <= b.joined[memberKey{m.ConversationID, m.SenderID}] ||
		(orig.Withheld && orig.SenderID != m.SenderID) {
		return nil, false
	}
	return &messaging.Quote{SenderID: orig.SenderID, Type: orig.Type, Content: cutUTF8(orig.Content, wire.MaxQuoteBytes)}, true
}

// cutUTF8 returns at most n bytes of s, never splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
