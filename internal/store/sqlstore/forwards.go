package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// forwardKey is one user's forwards of one message.
type forwardKey struct{ sender, source string }

// forwardState is what a cycle knows of its forwards: the source messages
// each forwarder can see, and when it last forwarded each of them that
// was forwarded many times.
type forwardState struct {
	sources map[forwardKey]messaging.Message
	last    map[forwardKey]time.Time
}

// forwards reads, with two statements whatever the batch's size, the
// messages its forwards copy — only where the forwarder can see them: a
// current member of their conversation whose window holds them, not
// withheld from it, not deleted, not a system message — and, for those
// forwarded many times, the forwarder's latest forward of each within
// messaging.ForwardWindow (the messages_forwards index).
func (b *logBatch) forwards(ctx context.Context, sends []messaging.Message) (*forwardState, error) {
	fs := &forwardState{sources: map[forwardKey]messaging.Message{}, last: map[forwardKey]time.Time{}}
	set := newRowSet("f", textCol("s"), textCol("id"))
	var earliest time.Time
	for _, m := range sends {
		if m.ForwardOf == "" {
			continue
		}
		set.add(m.SenderID, m.ForwardOf)
		if earliest.IsZero() || m.CreatedAt.Before(earliest) {
			earliest = m.CreatedAt
		}
	}
	if set.len() == 0 {
		return fs, nil
	}
	for _, part := range set.chunks(b.tx.d) {
		table, args := part.table(b.tx.d)
		rows, err := b.tx.QueryContext(ctx, `
			SELECT f.s, `+prefixed("m.", messageColumns)+`
			  FROM `+table+`
			  JOIN messages m ON m.id = f.id
			  JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = f.s AND mb.left_seq IS NULL
			 WHERE m.seq > mb.joined_seq AND (m.withheld = 0 OR m.sender_id = f.s)
			   AND m.deleted_at IS NULL AND m.message_type != 'system'`, args...)
		if err != nil {
			return nil, fmt.Errorf("read forwarded messages: %w", err)
		}
		for rows.Next() {
			var sender string
			m, err := scanMessage(prefixedScanner{sender: &sender, row: rows})
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read forwarded messages: %w", err)
			}
			fs.sources[forwardKey{sender, m.ID}] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read forwarded messages: %w", err)
		}
	}
	many := newRowSet("f", textCol("s"), textCol("o"))
	for k, m := range fs.sources {
		if m.Forwarded >= wire.ForwardedManyTimes {
			many.add(k.sender, k.source)
		}
	}
	if many.len() == 0 {
		return fs, nil
	}
	table, args := many.table(b.tx.d)
	rows, err := b.tx.QueryContext(ctx, `
		SELECT f.s, f.o, max(m.created_at)
		  FROM `+table+` JOIN messages m ON m.sender_id = f.s AND m.forward_of = f.o
		 WHERE m.created_at > ?
		 GROUP BY f.s, f.o`, append(args, ms(earliest.Add(-messaging.ForwardWindow)))...)
	if err != nil {
		return nil, fmt.Errorf("read recent forwards: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k forwardKey
		var at int64
		if err := rows.Scan(&k.sender, &k.source, &at); err != nil {
			return nil, fmt.Errorf("read recent forwards: %w", err)
		}
		fs.last[k] = fromMS(at)
	}
	return fs, rows.Err()
}

// check decides m, a forward: its hop count, or why it is refused.
func (fs *forwardState) check(m messaging.Message) (int, error) {
	k := forwardKey{m.SenderID, m.ForwardOf}
	src, ok := fs.sources[k]
	if !ok || (!src.ExpiresAt.IsZero() && !src.ExpiresAt.After(m.CreatedAt)) {
		return 0, messaging.ErrBadForward
	}
	if src.Forwarded >= wire.ForwardedManyTimes {
		if last, ok := fs.last[k]; ok {
			if wait := last.Add(messaging.ForwardWindow).Sub(m.CreatedAt); wait > 0 {
				return 0, messaging.ForwardTooOften(wait)
			}
		}
	}
	return src.Forwarded + 1, nil
}

// sent records m, a forward the batch stores: a later one of the same
// message by the same user, in this cycle, waits for it.
func (fs *forwardState) sent(m messaging.Message) {
	k := forwardKey{m.SenderID, m.ForwardOf}
	if last, ok := fs.last[k]; !ok || m.CreatedAt.After(last) {
		fs.last[k] = m.CreatedAt
	}
}

// prefixedScanner scans a row whose first column is a string (into
// sender) and whose others are a message's.
type prefixedScanner struct {
	sender *string
	row    rowScanner
}

func (p prefixedScanner) Scan(dest ...any) error {
	return p.row.Scan(append([]any{p.sender}, dest...)...)
}
