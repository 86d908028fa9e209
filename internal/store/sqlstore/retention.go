package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/protocol"
	"github.com/parleychat/parley/internal/retention"
)

var _ retention.Store = (*Store)(nil)

// ExpireMessages implements retention.Store.
func (s *Store) ExpireMessages(ctx context.Context, cutoff, now time.Time, limit int) (int, int64, []messaging.StatusChange, error) {
	var (
		deleted int
		bytes   int64
		changes []messaging.StatusChange
	)
	err := s.tx(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx,
			`SELECT id, octet_length(content) FROM messages WHERE created_at < ? ORDER BY created_at LIMIT ?`,
			ms(cutoff), limit)
		if err != nil {
			return fmt.Errorf("select expired: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			bytes += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		in := placeholders(len(ids))
		// Every member in whose window the message fell and who had not
		// received it learns nothing more, but its sender learns that.
		ev, err := tx.QueryContext(ctx, `
			SELECT m.sender_id, m.conversation_id, mb.user_id, m.id, m.seq
			  FROM messages m
			  JOIN members mb ON mb.conversation_id = m.conversation_id
			 WHERE m.id IN (`+in+`) AND m.message_type != 'system'
			   AND mb.user_id != m.sender_id AND mb.delivered_seq < m.seq
			   AND mb.joined_seq < m.seq AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
			 ORDER BY m.sender_id, m.conversation_id, m.seq`, ids...)
		if err != nil {
			return fmt.Errorf("find undelivered: %w", err)
		}
		var seqs []int64
		for ev.Next() {
			c := messaging.StatusChange{Status: protocol.StatusExpired, At: now}
			var seq int64
			if err := ev.Scan(&c.SenderID, &c.ConversationID, &c.RecipientID, &c.MessageID, &seq); err != nil {
				ev.Close()
				return err
			}
			changes = append(changes, c)
			seqs = append(seqs, seq)
		}
		ev.Close()
		if err := ev.Err(); err != nil {
			return err
		}
		// Changes come sorted by sender: take each sender's event numbers
		// in one update, then write the events.
		for start := 0; start < len(changes); {
			end := start + 1
			for end < len(changes) && changes[end].SenderID == changes[start].SenderID {
				end++
			}
			var last int64
			if err := tx.QueryRowContext(ctx,
				`UPDATE users SET receipt_seq = receipt_seq + ? WHERE id = ? RETURNING receipt_seq`,
				end-start, changes[start].SenderID).Scan(&last); err != nil {
				return fmt.Errorf("number receipt events: %w", err)
			}
			for i := start; i < end; i++ {
				c := &changes[i]
				c.EventID = last - int64(end-1-i)
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO receipt_events (sender_id, seq, conversation_id, recipient_id, status, from_seq, to_seq, at, message_id)
					 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					c.SenderID, c.EventID, c.ConversationID, c.RecipientID, protocol.StatusExpired,
					seqs[i]-1, seqs[i], ms(now), c.MessageID); err != nil {
					return fmt.Errorf("insert receipt event: %w", err)
				}
			}
			start = end
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (`+in+`)`, ids...)
		if err != nil {
			return fmt.Errorf("delete expired: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted = int(n)
		return nil
	})
	if err != nil {
		return 0, 0, nil, err
	}
	return deleted, bytes, changes, nil
}

// DeleteReceiptEvents implements retention.Store.
func (s *Store) DeleteReceiptEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx,
		`DELETE FROM receipt_events WHERE (sender_id, seq) IN (SELECT sender_id, seq FROM receipt_events WHERE at < ? ORDER BY at LIMIT ?)`,
		ms(before), limit)
}

// DeleteExpiredDevices implements retention.Store.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM devices WHERE expires_at <= ? LIMIT ?`, ms(now), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := deleteDevice(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

func (s *Store) deleteBatch(ctx context.Context, query string, args ...any) (int, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// OldestPending implements retention.Store: the message right after each
// device's cursor is that device's oldest pending one.
func (s *Store) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `
		SELECT min(m.created_at) FROM device_cursors dc
		  JOIN messages m ON m.conversation_id = dc.conversation_id AND m.seq = dc.delivered_seq + 1`).Scan(&oldest)
	if err != nil {
		return time.Time{}, false, err
	}
	return fromMS(oldest.Int64), oldest.Valid, nil
}

// reclaimPages bounds one incremental vacuum step (4 KiB pages: 16 MiB).
const reclaimPages = 4096

// Reclaim implements retention.Store: deleted rows leave free pages that
// SQLite reuses anyway; this returns up to reclaimPages of them to the
// file system so the file shrinks after a large expiry.
// PostgreSQL's autovacuum does this by itself.
func (s *Store) Reclaim(ctx context.Context) error {
	if s.d != sqliteDialect {
		return nil
	}
	_, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", reclaimPages))
	return err
}
