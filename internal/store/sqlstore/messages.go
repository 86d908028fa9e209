package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

func memberIDs(ctx context.Context, tx *Tx, conversationID string) ([]string, error) {
	ids, err := scanStrings(tx.QueryContext(ctx, `SELECT user_id FROM members WHERE conversation_id = ? AND left_seq IS NULL`, conversationID))
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return ids, nil
}

// membersAt lists the users whose membership window holds seq: whom the
// message numbered seq is for, one removed since included (it still gets
// what was sent before its removal), one added since not.
func membersAt(ctx context.Context, tx *Tx, conversationID string, seq int64) ([]string, error) {
	ids, err := scanStrings(tx.QueryContext(ctx,
		`SELECT user_id FROM members WHERE conversation_id = ? AND joined_seq < ? AND (left_seq IS NULL OR left_seq > ?)`,
		conversationID, seq, seq))
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return ids, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanMessage(row rowScanner) (messaging.Message, error) {
	var m messaging.Message
	var media sql.NullString
	var created, withheld int64
	var replyTo, quoteSender, quoteType, quoteContent, mentions sql.NullString
	var edited, deleted, expires sql.NullInt64
	err := row.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.SenderID, &m.SenderDevice, &m.ClientMessageID,
		&m.Type, &m.Content, &media, &created, &withheld, &replyTo, &quoteSender, &quoteType, &quoteContent, &mentions,
		&edited, &deleted, &m.Forwarded, &expires)
	m.EditedAt, m.DeletedAt, m.ExpiresAt = timeOf(edited), timeOf(deleted), timeOf(expires)
	m.Mentions = strings.Fields(mentions.String)
	m.MediaID = media.String
	m.CreatedAt = fromMS(created)
	m.Withheld = withheld != 0
	m.ReplyTo = replyTo.String
	if quoteSender.Valid {
		m.Quote = &messaging.Quote{SenderID: quoteSender.String, Type: quoteType.String, Content: quoteContent.String}
	}
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

// timeOf is a nullable millisecond column as a time, zero for NULL
// (nullTime's inverse).
func timeOf(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
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
	base := `SELECT ` + messageColumns + ` FROM messages m
		WHERE conversation_id = ? AND created_at >= ? AND (expires_at IS NULL OR expires_at > ?)
		  AND (withheld = 0 OR sender_id = ?) AND ` + notHidden("?") + ` `
	var msgs []messaging.Message
	var err error
	switch q.Page {
	case messaging.After:
		msgs, err = scanMessages(s.r.QueryContext(ctx, base+`AND seq > ? ORDER BY seq LIMIT ?`,
			conversationID, ms(q.NotBefore), ms(q.Now), q.Viewer, q.Viewer, max(q.Seq, q.MinSeq), q.Limit))
	case messaging.Before:
		msgs, err = scanMessages(s.r.QueryContext(ctx, base+`AND seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?`,
			conversationID, ms(q.NotBefore), ms(q.Now), q.Viewer, q.Viewer, q.Seq, q.MinSeq, q.Limit))
		slices.Reverse(msgs)
	default:
		msgs, err = scanMessages(s.r.QueryContext(ctx, base+`AND seq > ? ORDER BY seq DESC LIMIT ?`,
			conversationID, ms(q.NotBefore), ms(q.Now), q.Viewer, q.Viewer, q.MinSeq, q.Limit))
		slices.Reverse(msgs)
	}
	if err != nil {
		return nil, err
	}
	return msgs, reactionsOf(ctx, s.r, q.Viewer, msgs)
}

// notHidden is the condition that the user (an expression) has not hidden
// message m ("delete for me").
func notHidden(user string) string {
	return `NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ` + user + ` AND h.message_id = m.id)`
}

// Pending implements messaging.Store.
func (s *Store) Pending(ctx context.Context, deviceID string, cur messaging.PendingCursor, limit int, w messaging.Window) ([]messaging.Message, error) {
	return scanMessages(s.r.QueryContext(ctx, `
		SELECT `+prefixed("m.", messageColumns)+`
		  FROM device_cursors dc
		  JOIN devices d ON d.id = dc.device_id
		  JOIN members mb ON mb.conversation_id = dc.conversation_id AND mb.user_id = d.user_id
		  JOIN messages m ON m.conversation_id = dc.conversation_id AND m.seq > dc.delivered_seq
		       AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		 WHERE dc.device_id = ? AND m.sender_device_id != ? AND m.created_at >= ?
		   AND (m.expires_at IS NULL OR m.expires_at > ?)
		   AND (m.withheld = 0 OR m.sender_id = d.user_id) AND `+notHidden("d.user_id")+`
		   AND (m.created_at, m.conversation_id, m.seq) > (?, ?, ?)
		 ORDER BY m.created_at, m.conversation_id, m.seq
		 LIMIT ?`,
		deviceID, deviceID, ms(w.NotBefore), ms(w.Now), ms(cur.CreatedAt), cur.ConversationID, cur.Seq, limit))
}

// Range implements messaging.Store.
func (s *Store) Range(ctx context.Context, userID, conversationID string, afterSeq, beforeSeq int64, w messaging.Window) ([]messaging.Message, error) {
	return scanMessages(s.r.QueryContext(ctx, `
		SELECT `+prefixed("m.", messageColumns)+`
		  FROM messages m
		  JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?
		 WHERE m.conversation_id = ? AND m.seq > ? AND m.seq < ? AND m.created_at >= ?
		   AND (m.expires_at IS NULL OR m.expires_at > ?)
		   AND (m.withheld = 0 OR m.sender_id = mb.user_id) AND `+notHidden("mb.user_id")+`
		   AND m.seq > mb.joined_seq AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		 ORDER BY m.seq`,
		userID, conversationID, afterSeq, beforeSeq, ms(w.NotBefore), ms(w.Now)))
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

// StreamStart implements messaging.Store. The EXISTS is Pending's query
// without its order and cursor: it stops at the first queued message.
func (s *Store) StreamStart(ctx context.Context, userID, deviceID string, w messaging.Window) (messaging.StreamStart, error) {
	var st messaging.StreamStart
	err := s.r.QueryRowContext(ctx, `
		SELECT d.receipt_cursor,
		       coalesce((SELECT rs.seq FROM receipt_seqs rs WHERE rs.user_id = d.user_id), 0),
		       EXISTS (SELECT 1 FROM device_cursors dc
		                 JOIN update_seqs us ON us.conversation_id = dc.conversation_id AND us.seq > dc.update_seq
		                WHERE dc.device_id = d.id),
		       EXISTS (SELECT 1
		                 FROM device_cursors dc
		                 JOIN members mb ON mb.conversation_id = dc.conversation_id AND mb.user_id = d.user_id
		                 JOIN messages m ON m.conversation_id = dc.conversation_id AND m.seq > dc.delivered_seq
		                      AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		                WHERE dc.device_id = d.id AND m.sender_device_id != d.id AND m.created_at >= ?
		                  AND (m.expires_at IS NULL OR m.expires_at > ?)
		                  AND (m.withheld = 0 OR m.sender_id = d.user_id))
		  FROM devices d
		 WHERE d.id = ? AND d.user_id = ?`,
		ms(w.NotBefore), ms(w.Now), deviceID, userID).Scan(&st.ReceiptCursor, &st.ReceiptHead, &st.UpdatesPending, &st.Pending)
	if err != nil {
		return messaging.StreamStart{}, fmt.Errorf("stream start: %w", notFound(err))
	}
	return st, nil
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

// StatusesSince implements messaging.Store. Range events name their
// messages through the messages table; expiry events name the (deleted)
// message themselves.
func (s *Store) StatusesSince(ctx context.Context, userID string, afterEventID int64, limit int) ([]messaging.StatusChange, error) {
	rows, err := s.r.QueryContext(ctx, `
		WITH page AS (SELECT * FROM receipt_events WHERE sender_id = ? AND seq > ? ORDER BY seq LIMIT ?)
		SELECT e.seq, e.conversation_id, e.recipient_id, e.status, e.at, m.id, m.seq, e.also_delivered
		  FROM page e
		  JOIN messages m ON m.conversation_id = e.conversation_id AND m.seq > e.from_seq AND m.seq <= e.to_seq
		       AND m.sender_id = e.sender_id AND m.withheld = 0
		 WHERE e.message_id IS NULL
		UNION ALL
		SELECT e.seq, e.conversation_id, e.recipient_id, e.status, e.at, e.message_id, e.to_seq, e.also_delivered
		  FROM page e WHERE e.message_id IS NOT NULL
		 ORDER BY 1, 7`, userID, afterEventID, limit)
	if err != nil {
		return nil, fmt.Errorf("list receipt events: %w", err)
	}
	defer rows.Close()
	var out []messaging.StatusChange
	for rows.Next() {
		c := messaging.StatusChange{SenderID: userID}
		var at, seq, both int64
		if err := rows.Scan(&c.EventID, &c.ConversationID, &c.RecipientID, &c.Status, &at, &c.MessageID, &seq, &both); err != nil {
			return nil, err
		}
		c.At = fromMS(at)
		out = appendChange(out, c, both != 0)
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
		st := messaging.RecipientStatus{UserID: c.user, Status: wire.StatusSent, UpdatedAt: m.CreatedAt}
		switch {
		case m.Withheld:
			// Never delivered, whatever the recipient's cursors pass.
		case m.Seq <= c.read:
			st.Status = wire.StatusRead
		case m.Seq <= c.delivered:
			st.Status = wire.StatusDelivered
		}
		if st.Status != wire.StatusSent {
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
