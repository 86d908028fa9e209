package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
)

// appendAll sequences and stores a cycle's sends with a fixed number of
// statements, whatever their number: one to read (and, where several
// writers exist, lock) their conversations, one for the members, one to
// find keys seen before, one insert, and the updates of flush — plus, when
// the cycle has them, one for the messages its replies answer and two for
// the messages its forwards copy (forwards.go). Each send
// is decided as if they were appended one after the other: a key seen
// before — stored earlier or earlier in this batch — is answered with the
// original and takes no number, so numbers stay gap-free.
func (b *logBatch) appendAll(ctx context.Context, sends []messaging.Message) ([]messaging.AppendResult, error) {
	if err := b.load(ctx, sends); err != nil {
		return nil, err
	}
	seen, err := b.seenKeys(ctx, sends)
	if err != nil {
		return nil, err
	}
	replied, err := b.replied(ctx, sends)
	if err != nil {
		return nil, err
	}
	fw, err := b.forwards(ctx, sends)
	if err != nil {
		return nil, err
	}
	out := make([]messaging.AppendResult, len(sends))
	type key struct{ sender, cmid string }
	fresh := map[key]int{} // key → index of the send that stores it
	ins := newRowSet("v", textCol("id"), textCol("c"), intCol("q"), textCol("s"), textCol("d"), textCol("k"),
		textCol("ty"), textCol("co"), textCol("me"), intCol("at"), intCol("w"),
		textCol("rt"), textCol("qs"), textCol("qt"), textCol("qc"), textCol("mn"),
		intCol("fw"), textCol("fo"), intCol("ex"))
	for i, m := range sends {
		k := key{m.SenderID, m.ClientMessageID}
		if orig, ok := seen[k]; ok {
			// A resend of a message stored before (even before a removal,
			// or in a conversation since deleted) is answered with the
			// original, published again to the members it was for: not
			// to one added since, who must not see it (parley chaos found
			// a re-added member getting it).
			members := []string{orig.SenderID}
			if !orig.Withheld {
				if members, err = membersAt(ctx, b.tx, orig.ConversationID, orig.Seq); err != nil {
					return nil, err
				}
			}
			out[i] = messaging.AppendResult{Message: orig, Duplicate: true, Members: members}
			continue
		}
		if j, ok := fresh[k]; ok {
			out[i] = out[j]
			out[i].Duplicate, out[i].NewContact = true, ""
			continue
		}
		cs := b.seqs[m.ConversationID]
		members := b.members[m.ConversationID]
		switch {
		case cs == nil:
			out[i] = messaging.AppendResult{Err: messaging.ErrConversationNotFound}
			continue
		case !slices.Contains(members, m.SenderID):
			out[i] = messaging.AppendResult{Err: messaging.ErrForbidden}
			continue
		case cs.adminsOnly && !slices.Contains(cs.admins, m.SenderID):
			out[i] = messaging.AppendResult{Err: messaging.ErrAdminsOnly}
			continue
		}
		if m.ReplyTo != "" {
			q, ok := b.quote(m, replied[m.ReplyTo])
			if !ok {
				out[i] = messaging.AppendResult{Err: messaging.ErrBadReply}
				continue
			}
			m.Quote = q
		}
		if len(m.Mentions) > 0 {
			m.Mentions = slices.Compact(slices.Sorted(slices.Values(m.Mentions)))
			if slices.ContainsFunc(m.Mentions, func(id string) bool { return !slices.Contains(members, id) }) {
				out[i] = messaging.AppendResult{Err: messaging.ErrBadMention}
				continue
			}
		}
		if m.ForwardOf != "" {
			hops, ferr := fw.check(m)
			if ferr != nil {
				out[i] = messaging.AppendResult{Err: ferr}
				continue
			}
			m.Forwarded = hops
		}
		m.Seq = cs.last + 1
		m.CreatedAt = cs.stamp(m.CreatedAt)
		cs.last, cs.dirty = m.Seq, true
		// Decided here, under the conversation's lock: a message racing a
		// change of the setting gets the one in force at its number.
		if cs.disappear > 0 {
			m.ExpiresAt = m.CreatedAt.Add(time.Duration(cs.disappear) * time.Second)
		}
		r := messaging.AppendResult{Message: m, Members: members}
		switch {
		case cs.direct && b.blocks[blockKey{otherMember(members, m.SenderID), m.SenderID}]:
			// The recipient blocks the sender: stored for the sender's
			// devices alone, as if it were waiting for a recipient who
			// never comes. It moves no activity and makes no contact.
			r.Message.Withheld, r.Members = true, []string{m.SenderID}
		case cs.direct && !cs.answered && m.SenderID != cs.createdBy:
			cs.answered, cs.answer = true, true
			r.NewContact = cs.createdBy
			cs.activity = m.CreatedAt
		default:
			cs.activity = m.CreatedAt
		}
		if r := b.own[m.ConversationID]; r != nil && r.device == m.SenderDevice && r.last == m.Seq-1 {
			r.last = m.Seq
		} else {
			b.own[m.ConversationID] = &ownRun{device: m.SenderDevice, first: m.Seq, last: m.Seq}
		}
		out[i] = r
		fresh[k] = i
		if m.ForwardOf != "" {
			fw.sent(m)
		}
		var q messaging.Quote
		if m.Quote != nil {
			q = *m.Quote
		}
		ins.add(m.ID, m.ConversationID, m.Seq, m.SenderID, m.SenderDevice, m.ClientMessageID, m.Type, m.Content,
			m.MediaID, ms(m.CreatedAt), int64(boolInt(r.Message.Withheld)), m.ReplyTo, q.SenderID, q.Type, q.Content,
			strings.Join(m.Mentions, " "), int64(m.Forwarded), m.ForwardOf, optMS(m.ExpiresAt))
	}
	if ins.len() == 0 {
		return out, nil
	}
	// No ON CONFLICT: a key can only be taken meanwhile by another node
	// (seenKeys read it absent), and then the whole transaction fails
	// with a unique violation and runs again, finding it.
	for _, ins := range ins.chunks(b.tx.d) {
		table, args := ins.table(b.tx.d)
		if _, err := b.tx.ExecContext(ctx, `
			INSERT INTO messages (`+insertColumns+`, forwarded, forward_of, expires_at)
			SELECT v.id, v.c, v.q, v.s, v.d, v.k, v.ty, v.co, nullif(v.me, ''), v.at, v.w,
			       nullif(v.rt, ''), nullif(v.qs, ''), nullif(v.qt, ''), v.qc, nullif(v.mn, ''),
			       v.fw, nullif(v.fo, ''), nullif(v.ex, 0) FROM `+table+` WHERE true`, args...); err != nil {
			return nil, fmt.Errorf("insert messages: %w", err)
		}
	}
	return out, nil
}

// load reads the numbering state and members of the sends'
// conversations not read yet, holding their rows in id order where
// several writers exist: a membership change then commits wholly before
// or wholly after the batch, and two batches never wait for each other in
// a cycle.
func (b *logBatch) load(ctx context.Context, sends []messaging.Message) error {
	var ids []string
	for _, m := range sends {
		if _, ok := b.seqs[m.ConversationID]; !ok && !slices.Contains(ids, m.ConversationID) {
			ids = append(ids, m.ConversationID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	set := newRowSet("v", textCol("id"))
	for _, id := range ids {
		set.add(id)
		b.seqs[id] = nil // until found
		b.members[id] = nil
	}
	table, args := set.table(b.tx.d)
	rows, err := b.tx.QueryContext(ctx, `
		SELECT c.id, c.last_seq, c.type, c.created_by, c.answered, c.only_admins_send, c.disappear_seconds
		  FROM `+table+` JOIN conversations c ON c.id = v.id ORDER BY c.id`+b.tx.d.forUpdateOf("c"), args...)
	if err != nil {
		return fmt.Errorf("read sequence numbers: %w", err)
	}
	for rows.Next() {
		var id, typ string
		var answered, adminsOnly int
		cs := &convSeq{}
		if err := rows.Scan(&id, &cs.last, &typ, &cs.createdBy, &answered, &adminsOnly, &cs.disappear); err != nil {
			rows.Close()
			return err
		}
		cs.direct, cs.answered, cs.adminsOnly = typ == conversations.TypeDirect, answered != 0, adminsOnly != 0
		b.seqs[id] = cs
	}
	rows.Close()
	// Checked before anything else runs in the transaction: a lock wait
	// PostgreSQL broke as a deadlock ends the rows early, and the next
	// statement would fail as "transaction is aborted", which is not
	// retried (parley chaos lost a whole commit cycle so).
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sequence numbers: %w", err)
	}
	// The last messages' times, in a statement of their own: on
	// PostgreSQL a statement that waited for the locks above sees the
	// locked rows as they are now but other tables as they were when it
	// began, before the message another node just committed (parley
	// chaos found seq 204 stamped before seq 203 so).
	lrows, err := b.tx.QueryContext(ctx, `
		SELECT c.id, lm.created_at FROM `+table+` JOIN conversations c ON c.id = v.id
		  JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq`, args...)
	if err != nil {
		return fmt.Errorf("read last messages: %w", err)
	}
	for lrows.Next() {
		var id string
		var at int64
		if err := lrows.Scan(&id, &at); err != nil {
			lrows.Close()
			return err
		}
		if cs := b.seqs[id]; cs != nil {
			cs.lastAt = at
		}
	}
	lrows.Close()
	if err := lrows.Err(); err != nil {
		return fmt.Errorf("read last messages: %w", err)
	}
	rows, err = b.tx.QueryContext(ctx, `
		SELECT mb.conversation_id, mb.user_id, mb.role, mb.joined_seq
		  FROM `+table+` JOIN members mb ON mb.conversation_id = v.id
		 WHERE mb.left_seq IS NULL`, args...)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	for rows.Next() {
		var conv, user, role string
		var joined int64
		if err := rows.Scan(&conv, &user, &role, &joined); err != nil {
			rows.Close()
			return err
		}
		b.members[conv] = append(b.members[conv], user)
		b.joined[memberKey{conv, user}] = joined
		// Roles change under the conversation's lock too (groups.go), so
		// a demotion and a send are decided in one order.
		if cs := b.seqs[conv]; cs != nil && role == conversations.RoleAdmin {
			cs.admins = append(cs.admins, user)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return b.loadBlocks(ctx, ids)
}

// loadBlocks reads the blocks between the two members of each 1:1 among
// ids, in the batch's transaction: a send committed after a block sees it.
func (b *logBatch) loadBlocks(ctx context.Context, ids []string) error {
	set := newRowSet("v", textCol("id"))
	for _, id := range ids {
		if cs := b.seqs[id]; cs != nil && cs.direct {
			set.add(id)
		}
	}
	if set.len() == 0 {
		return nil
	}
	table, args := set.table(b.tx.d)
	rows, err := b.tx.QueryContext(ctx, `
		SELECT bl.user_id, bl.blocked_id
		  FROM `+table+` JOIN members mb ON mb.conversation_id = v.id AND mb.left_seq IS NULL
		  JOIN blocks bl ON bl.user_id = mb.user_id
		  JOIN members other ON other.conversation_id = v.id AND other.user_id = bl.blocked_id
		       AND other.left_seq IS NULL`, args...)
	if err != nil {
		return fmt.Errorf("read blocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k blockKey
		if err := rows.Scan(&k.user, &k.blocked); err != nil {
			return err
		}
		b.blocks[k] = true
	}
	return rows.Err()
}

// otherMember is the member of a 1:1 who is not userID.
func otherMember(members []string, userID string) string {
	for _, id := range members {
		if id != userID {
			return id
		}
	}
	return ""
}

// seenKeys returns the messages stored before under the sends' keys.
func (b *logBatch) seenKeys(ctx context.Context, sends []messaging.Message) (map[struct{ sender, cmid string }]messaging.Message, error) {
	set := newRowSet("k", textCol("s"), textCol("c"))
	for _, m := range sends {
		set.add(m.SenderID, m.ClientMessageID)
	}
	table, args := set.table(b.tx.d)
	rows, err := b.tx.QueryContext(ctx, `
		SELECT `+prefixed("m.", messageColumns)+`
		  FROM `+table+` JOIN messages m ON m.sender_id = k.s AND m.client_message_id = k.c`, args...)
	msgs, err := scanMessages(rows, err)
	if err != nil {
		return nil, fmt.Errorf("idempotency check: %w", err)
	}
	out := make(map[struct{ sender, cmid string }]messaging.Message, len(msgs))
	for _, m := range msgs {
		out[struct{ sender, cmid string }{m.SenderID, m.ClientMessageID}] = m
	}
	return out, nil
}
