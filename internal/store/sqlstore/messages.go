package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/protocol"
)

var _ messaging.Store = (*Store)(nil)

const messageColumns = `id, conversation_id, seq, sender_id, sender_device_id, client_message_id, message_type, content, media_id, created_at`

// Commit implements messaging.Store: the group commit.
func (s *Store) Commit(ctx context.Context, sends []messaging.Message, receipts []messaging.ReceiptRequest) (messaging.Committed, error) {
	out := messaging.Committed{
		Sends:   make([]messaging.AppendResult, len(sends)),
		Changes: make([][]messaging.StatusChange, len(receipts)),
		Refused: make([]error, len(receipts)),
	}
	err := s.tx(ctx, func(tx *Tx) error {
		if len(sends) > 0 {
			if err := lockConversations(ctx, tx, sends); err != nil {
				return err
			}
			b := &appendBatch{tx: tx, members: map[string][]string{}, seqs: map[string]*convSeq{}, own: map[string]*ownRun{}}
			for i, m := range sends {
				r, err := b.append(ctx, m)
				if err != nil {
					return err
				}
				out.Sends[i] = r
			}
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
		for i, req := range receipts {
			c, refused, err := applyReceipt(ctx, tx, req)
			if err != nil {
				return err
			}
			out.Changes[i], out.Refused[i] = c, refused
		}
		return nil
	})
	if err != nil {
		return messaging.Committed{}, err
	}
	return out, nil
}

// AppendMessages commits sends alone (tests and tools).
func (s *Store) AppendMessages(ctx context.Context, batch []messaging.Message) ([]messaging.AppendResult, error) {
	c, err := s.Commit(ctx, batch, nil)
	return c.Sends, err
}

// ApplyReceipts commits receipts alone (tests and tools).
func (s *Store) ApplyReceipts(ctx context.Context, batch []messaging.ReceiptRequest) ([][]messaging.StatusChange, []error, error) {
	c, err := s.Commit(ctx, nil, batch)
	return c.Changes, c.Refused, err
}

// appendBatch is one group commit's state. Nobody else can change its
// conversations until it commits (SQLite's single writer; on PostgreSQL
// the rows locked by lockConversations), so it reads each conversation's
// members and last sequence number once and writes the new last number
// once, at the end.
type appendBatch struct {
	tx      *Tx
	members map[string][]string
	seqs    map[string]*convSeq
	// own is, per conversation, the batch's latest run of consecutive
	// messages from one device (see flush).
	own map[string]*ownRun
}

type ownRun struct {
	device      string
	first, last int64
}

type convSeq struct {
	last     int64
	dirty    bool
	activity time.Time
	// A 1:1's creator, and whether its other member has written in it
	// (see migrations/0006_contacts.sql); answer is set by this batch.
	direct           bool
	createdBy        string
	answered, answer bool
}

func (b *appendBatch) append(ctx context.Context, m messaging.Message) (messaging.AppendResult, error) {
	members, err := b.membersOf(ctx, m.ConversationID)
	if err != nil {
		return messaging.AppendResult{}, err
	}
	cs, err := b.seqOf(ctx, m.ConversationID)
	if err != nil {
		return messaging.AppendResult{}, err
	}
	if cs == nil || !slices.Contains(members, m.SenderID) {
		// A resend of a message stored before (say, before a removal)
		// is still answered with the original.
		if r, ok, err := b.duplicate(ctx, m); err != nil || ok {
			return r, err
		}
		if cs == nil {
			return messaging.AppendResult{Err: messaging.ErrConversationNotFound}, nil
		}
		return messaging.AppendResult{Err: messaging.ErrForbidden}, nil
	}
	// The idempotency check and the insert are one statement: a key seen
	// before inserts nothing, and the number is not taken.
	m.Seq = cs.last + 1
	res, err := b.tx.ExecContext(ctx,
		`INSERT INTO messages (`+messageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (sender_id, client_message_id) DO NOTHING`,
		m.ID, m.ConversationID, m.Seq, m.SenderID, m.SenderDevice, m.ClientMessageID, m.Type, m.Content,
		nullString(m.MediaID), ms(m.CreatedAt))
	if err != nil {
		return messaging.AppendResult{}, fmt.Errorf("insert message: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return messaging.AppendResult{}, err
	} else if n == 0 {
		r, _, err := b.duplicate(ctx, m)
		return r, err
	}
	cs.last, cs.dirty, cs.activity = m.Seq, true, m.CreatedAt
	r := messaging.AppendResult{Message: m, Members: members}
	if cs.direct && !cs.answered && m.SenderID != cs.createdBy {
		cs.answered, cs.answer = true, true
		r.NewContact = cs.createdBy
	}
	if r := b.own[m.ConversationID]; r != nil && r.device == m.SenderDevice && r.last == m.Seq-1 {
		r.last = m.Seq
	} else {
		b.own[m.ConversationID] = &ownRun{device: m.SenderDevice, first: m.Seq, last: m.Seq}
	}
	return r, nil
}

// duplicate finds the message stored before under m's key, with the
// members of its conversation (it is published again).
func (b *appendBatch) duplicate(ctx context.Context, m messaging.Message) (messaging.AppendResult, bool, error) {
	orig, err := scanMessage(b.tx.QueryRowContext(ctx,
		`SELECT `+messageColumns+` FROM messages WHERE sender_id = ? AND client_message_id = ?`, m.SenderID, m.ClientMessageID))
	if errors.Is(err, sql.ErrNoRows) {
		return messaging.AppendResult{}, false, nil
	}
	if err != nil {
		return messaging.AppendResult{}, false, fmt.Errorf("idempotency check: %w", err)
	}
	members, err := b.membersOf(ctx, orig.ConversationID)
	if err != nil {
		return messaging.AppendResult{}, false, err
	}
	return messaging.AppendResult{Message: orig, Duplicate: true, Members: members}, true, nil
}

func (b *appendBatch) membersOf(ctx context.Context, conv string) ([]string, error) {
	if ids, ok := b.members[conv]; ok {
		return ids, nil
	}
	ids, err := memberIDs(ctx, b.tx, conv)
	if err != nil {
		return nil, err
	}
	b.members[conv] = ids
	return ids, nil
}

// seqOf returns the conversation's numbering state, nil if there is no
// such conversation.
func (b *appendBatch) seqOf(ctx context.Context, conv string) (*convSeq, error) {
	if cs, ok := b.seqs[conv]; ok {
		return cs, nil
	}
	cs := &convSeq{}
	var typ string
	var answered int
	err := b.tx.QueryRowContext(ctx, `SELECT last_seq, type, created_by, answered FROM conversations WHERE id = ?`, conv).
		Scan(&cs.last, &typ, &cs.createdBy, &answered)
	cs.direct, cs.answered = typ == conversations.TypeDirect, answered != 0
	if errors.Is(err, sql.ErrNoRows) {
		cs = nil
	} else if err != nil {
		return nil, fmt.Errorf("read sequence number: %w", err)
	}
	b.seqs[conv] = cs
	return cs, nil
}

// flush writes each conversation's new last sequence number, and moves a
// sending device's cursor past its own messages when it had everything
// before them: its offline queue then does not drag its own sends, and its
// connections need not look them up.
func (b *appendBatch) flush(ctx context.Context) error {
	for conv, r := range b.own {
		if _, err := b.tx.ExecContext(ctx,
			`UPDATE device_cursors SET delivered_seq = ?
			  WHERE device_id = ? AND conversation_id = ? AND delivered_seq >= ? AND delivered_seq < ?`,
			r.last, r.device, conv, r.first-1, r.last); err != nil {
			return fmt.Errorf("advance sender cursor: %w", err)
		}
	}
	for id, cs := range b.seqs {
		if cs == nil || !cs.dirty {
			continue
		}
		if _, err := b.tx.ExecContext(ctx,
			`UPDATE conversations SET last_seq = ?, last_activity_at = ?, answered = greatest(answered, ?) WHERE id = ?`,
			cs.last, ms(cs.activity), boolInt(cs.answer), id); err != nil {
			return fmt.Errorf("write sequence number: %w", err)
		}
	}
	return nil
}

// lockConversations holds the rows of the batch's conversations, in id
// order, where several writers exist: a membership change then commits
// wholly before or wholly after the batch, never between its member read
// and its sequence numbers, and two batches never wait for each other in a
// cycle.
func lockConversations(ctx context.Context, tx *Tx, batch []messaging.Message) error {
	if tx.d.forUpdate == "" {
		return nil
	}
	seen := map[string]bool{}
	var ids []any
	for _, m := range batch {
		if !seen[m.ConversationID] {
			seen[m.ConversationID] = true
			ids = append(ids, m.ConversationID)
		}
	}
	slices.SortFunc(ids, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	rows, err := tx.QueryContext(ctx,
		`SELECT id FROM conversations WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`+tx.d.forUpdate, ids...)
	if err != nil {
		return fmt.Errorf("lock conversations: %w", err)
	}
	return rows.Close()
}

func memberIDs(ctx context.Context, tx *Tx, conversationID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT user_id FROM members WHERE conversation_id = ? AND left_seq IS NULL`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

type rowScanner interface{ Scan(dest ...any) error }

func scanMessage(row rowScanner) (messaging.Message, error) {
	var m messaging.Message
	var media sql.NullString
	var created int64
	err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.SenderID, &m.SenderDevice, &m.ClientMessageID,
		&m.Type, &m.Content, &media, &created)
	m.MediaID = media.String
	m.CreatedAt = fromMS(created)
	return m, err
}

func scanMessages(rows *sql.Rows, err error) ([]messaging.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []messaging.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// MessageByID implements messaging.Store.
func (s *Store) MessageByID(ctx context.Context, id string) (messaging.Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ?`, id))
	if err != nil {
		return messaging.Message{}, notFound(err)
	}
	return m, nil
}

// History implements messaging.Store.
func (s *Store) History(ctx context.Context, conversationID string, q messaging.HistoryQuery) ([]messaging.Message, error) {
	base := `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = ? AND created_at >= ? `
	var msgs []messaging.Message
	var err error
	switch q.Page {
	case messaging.After:
		return scanMessages(s.r.QueryContext(ctx, base+`AND seq > ? ORDER BY seq LIMIT ?`,
			conversationID, ms(q.NotBefore), max(q.Seq, q.MinSeq), q.Limit))
	case messaging.Before:
		msgs, err = scanMessages(s.r.QueryContext(ctx, base+`AND seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?`,
			conversationID, ms(q.NotBefore), q.Seq, q.MinSeq, q.Limit))
	default:
		msgs, err = scanMessages(s.r.QueryContext(ctx, base+`AND seq > ? ORDER BY seq DESC LIMIT ?`,
			conversationID, ms(q.NotBefore), q.MinSeq, q.Limit))
	}
	slices.Reverse(msgs)
	return msgs, err
}

// Pending implements messaging.Store.
func (s *Store) Pending(ctx context.Context, deviceID string, cur messaging.PendingCursor, limit int, notBefore time.Time) ([]messaging.Message, error) {
	return scanMessages(s.r.QueryContext(ctx, `
		SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.sender_device_id, m.client_message_id,
		       m.message_type, m.content, m.media_id, m.created_at
		  FROM device_cursors dc
		  JOIN devices d ON d.id = dc.device_id
		  JOIN members mb ON mb.conversation_id = dc.conversation_id AND mb.user_id = d.user_id
		  JOIN messages m ON m.conversation_id = dc.conversation_id AND m.seq > dc.delivered_seq
		       AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		 WHERE dc.device_id = ? AND m.sender_device_id != ? AND m.created_at >= ?
		   AND (m.created_at, m.conversation_id, m.seq) > (?, ?, ?)
		 ORDER BY m.created_at, m.conversation_id, m.seq
		 LIMIT ?`,
		deviceID, deviceID, ms(notBefore), ms(cur.CreatedAt), cur.ConversationID, cur.Seq, limit))
}

// Range implements messaging.Store.
func (s *Store) Range(ctx context.Context, userID, conversationID string, afterSeq, beforeSeq int64, notBefore time.Time) ([]messaging.Message, error) {
	return scanMessages(s.r.QueryContext(ctx, `
		SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.sender_device_id, m.client_message_id,
		       m.message_type, m.content, m.media_id, m.created_at
		  FROM messages m
		  JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?
		 WHERE m.conversation_id = ? AND m.seq > ? AND m.seq < ? AND m.created_at >= ?
		   AND m.seq > mb.joined_seq AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		 ORDER BY m.seq`,
		userID, conversationID, afterSeq, beforeSeq, ms(notBefore)))
}

// DeviceCursor implements messaging.Store.
func (s *Store) DeviceCursor(ctx context.Context, deviceID, conversationID string) (int64, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx,
		`SELECT delivered_seq FROM device_cursors WHERE device_id = ? AND conversation_id = ?`, deviceID, conversationID).Scan(&seq)
	return seq, notFound(err)
}

// ReceiptCursor implements messaging.Store.
func (s *Store) ReceiptCursor(ctx context.Context, deviceID string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT receipt_cursor FROM devices WHERE id = ?`, deviceID).Scan(&id)
	return id, notFound(err)
}

// SetReceiptCursor implements messaging.Store.
func (s *Store) SetReceiptCursor(ctx context.Context, deviceID string, eventID int64) error {
	_, err := s.w.ExecContext(ctx,
		`UPDATE devices SET receipt_cursor = greatest(receipt_cursor, ?) WHERE id = ?`, eventID, deviceID)
	if err != nil {
		return fmt.Errorf("set receipt cursor: %w", err)
	}
	return nil
}

type memberCursors struct{ joined, delivered, read int64 }

// applyReceipt validates every id of one request before writing anything,
// so a refused request changes nothing. Receipts are cumulative per
// conversation: a device that has message s has everything before it,
// because a connection delivers a conversation in sequence order.
func applyReceipt(ctx context.Context, tx *Tx, req messaging.ReceiptRequest) ([]messaging.StatusChange, error, error) {
	type span struct{ lo, hi int64 }
	spans := map[string]span{}
	var order []string
	ids := slices.Compact(slices.Sorted(slices.Values(req.MessageIDs)))
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT id, conversation_id, seq FROM messages WHERE id IN (`+placeholders(len(ids))+`) ORDER BY conversation_id, seq`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("find messages: %w", err)
	}
	found := 0
	var refused error
	for rows.Next() {
		var id, conv string
		var seq int64
		if err := rows.Scan(&id, &conv, &seq); err != nil {
			rows.Close()
			return nil, nil, err
		}
		found++
		if req.ConversationID != "" && conv != req.ConversationID {
			refused = protocol.Unprocessable(protocol.CodeInvalid, "message "+id+" is not in conversation "+req.ConversationID)
		}
		sp, seen := spans[conv]
		if !seen {
			order = append(order, conv)
			sp = span{seq, seq}
		}
		spans[conv] = span{min(sp.lo, seq), max(sp.hi, seq)}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if found < len(ids) {
		return nil, messaging.ErrMessageNotFound, nil
	}
	if refused != nil {
		return nil, refused, nil
	}
	upTo := map[string]int64{}
	cursors := map[string]memberCursors{}
	for _, conv := range order {
		var c memberCursors
		var left sql.NullInt64
		err := tx.QueryRowContext(ctx,
			`SELECT joined_seq, delivered_seq, read_seq, left_seq FROM members WHERE conversation_id = ? AND user_id = ?`,
			conv, req.UserID).Scan(&c.joined, &c.delivered, &c.read, &left)
		if errors.Is(err, sql.ErrNoRows) {
			// Someone else's message: it does not exist for this user.
			return nil, messaging.ErrMessageNotFound, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("find member: %w", err)
		}
		// Only messages of the user's membership window can be acked.
		sp := spans[conv]
		if sp.lo <= c.joined || (left.Valid && sp.hi >= left.Int64) {
			return nil, messaging.ErrMessageNotFound, nil
		}
		cursors[conv], upTo[conv] = c, sp.hi
	}
	var out []messaging.StatusChange
	for _, conv := range order {
		seq, c := upTo[conv], cursors[conv]
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO device_cursors (device_id, conversation_id, delivered_seq) VALUES (?, ?, ?)
			 ON CONFLICT (device_id, conversation_id) DO UPDATE SET delivered_seq = greatest(device_cursors.delivered_seq, excluded.delivered_seq)`,
			req.DeviceID, conv, seq); err != nil {
			return nil, nil, fmt.Errorf("advance device cursor: %w", err)
		}
		from := c.delivered
		if req.Status == "read" {
			from = c.read
		}
		if seq <= from {
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE members SET delivered_seq = greatest(delivered_seq, ?), read_seq = CASE WHEN ? THEN greatest(read_seq, ?) ELSE read_seq END
			  WHERE conversation_id = ? AND user_id = ?`,
			seq, req.Status == "read", seq, conv, req.UserID); err != nil {
			return nil, nil, fmt.Errorf("advance member cursor: %w", err)
		}
		ch, err := recordChanges(ctx, tx, req, conv, max(from, c.joined), seq)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ch...)
	}
	return out, nil, nil
}

// recordChanges writes one receipt event per sender whose messages lie in
// (from, to] and returns the per-message changes to tell them about.
func recordChanges(ctx context.Context, tx *Tx, req messaging.ReceiptRequest, conv string, from, to int64) ([]messaging.StatusChange, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT id, sender_id FROM messages WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id != ? ORDER BY seq`,
		conv, from, to, req.UserID)
	if err != nil {
		return nil, fmt.Errorf("find acknowledged messages: %w", err)
	}
	var out []messaging.StatusChange
	for rows.Next() {
		c := messaging.StatusChange{ConversationID: conv, RecipientID: req.UserID, Status: req.Status, At: req.At}
		if err := rows.Scan(&c.MessageID, &c.SenderID); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	events := map[string]int64{}
	for i := range out {
		sender := out[i].SenderID
		id, ok := events[sender]
		if !ok {
			var err error
			if id, err = insertReceiptEvent(ctx, tx, sender, conv, req.UserID, req.Status, from, to, req.At, ""); err != nil {
				return nil, err
			}
			events[sender] = id
		}
		out[i].EventID = id
	}
	return out, nil
}

// insertReceiptEvent numbers and stores one receipt event for sender.
func insertReceiptEvent(ctx context.Context, tx *Tx, sender, conv, recipient, status string, from, to int64, at time.Time, messageID string) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx,
		`UPDATE users SET receipt_seq = receipt_seq + 1 WHERE id = ? RETURNING receipt_seq`, sender).Scan(&seq); err != nil {
		return 0, fmt.Errorf("number receipt event: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO receipt_events (sender_id, seq, conversation_id, recipient_id, status, from_seq, to_seq, at, message_id)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sender, seq, conv, recipient, status, from, to, ms(at), nullString(messageID)); err != nil {
		return 0, fmt.Errorf("insert receipt event: %w", err)
	}
	return seq, nil
}

// StatusesSince implements messaging.Store. Range events name their
// messages through the messages table; expiry events name the (deleted)
// message themselves.
func (s *Store) StatusesSince(ctx context.Context, userID string, afterEventID int64, limit int) ([]messaging.StatusChange, error) {
	rows, err := s.r.QueryContext(ctx, `
		WITH page AS (SELECT * FROM receipt_events WHERE sender_id = ? AND seq > ? ORDER BY seq LIMIT ?)
		SELECT e.seq, e.conversation_id, e.recipient_id, e.status, e.at, m.id, m.seq
		  FROM page e
		  JOIN messages m ON m.conversation_id = e.conversation_id AND m.seq > e.from_seq AND m.seq <= e.to_seq
		       AND m.sender_id = e.sender_id
		 WHERE e.message_id IS NULL
		UNION ALL
		SELECT e.seq, e.conversation_id, e.recipient_id, e.status, e.at, e.message_id, e.to_seq
		  FROM page e WHERE e.message_id IS NOT NULL
		 ORDER BY 1, 7`, userID, afterEventID, limit)
	if err != nil {
		return nil, fmt.Errorf("list receipt events: %w", err)
	}
	defer rows.Close()
	var out []messaging.StatusChange
	for rows.Next() {
		c := messaging.StatusChange{SenderID: userID}
		var at, seq int64
		if err := rows.Scan(&c.EventID, &c.ConversationID, &c.RecipientID, &c.Status, &at, &c.MessageID, &seq); err != nil {
			return nil, err
		}
		c.At = fromMS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Statuses implements messaging.Store.
func (s *Store) Statuses(ctx context.Context, m messaging.Message) ([]messaging.RecipientStatus, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT user_id, delivered_seq, read_seq FROM members
		 WHERE conversation_id = ? AND user_id != ? AND joined_seq < ? AND left_seq IS NULL
		 ORDER BY joined_at, user_id`, m.ConversationID, m.SenderID, m.Seq)
	if err != nil {
		return nil, fmt.Errorf("list recipients: %w", err)
	}
	type cur struct {
		user            string
		delivered, read int64
	}
	var curs []cur
	for rows.Next() {
		var c cur
		if err := rows.Scan(&c.user, &c.delivered, &c.read); err != nil {
			rows.Close()
			return nil, err
		}
		curs = append(curs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]messaging.RecipientStatus, 0, len(curs))
	for _, c := range curs {
		st := messaging.RecipientStatus{UserID: c.user, Status: protocol.StatusSent, UpdatedAt: m.CreatedAt}
		switch {
		case m.Seq <= c.read:
			st.Status = protocol.StatusRead
		case m.Seq <= c.delivered:
			st.Status = protocol.StatusDelivered
		}
		if st.Status != protocol.StatusSent {
			var at int64
			err := s.r.QueryRowContext(ctx, `
				SELECT at FROM receipt_events
				 WHERE conversation_id = ? AND recipient_id = ? AND status = ? AND to_seq >= ? AND from_seq < ?
				 ORDER BY to_seq LIMIT 1`, m.ConversationID, c.user, st.Status, m.Seq, m.Seq).Scan(&at)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("find receipt time: %w", err)
			}
			if err == nil {
				st.UpdatedAt = fromMS(at)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
