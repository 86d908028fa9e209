package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/webhook"
)

var _ webhook.Store = (*Store)(nil)

// PutWebhook implements webhook.Store. A new webhook's cursors start at
// the head of each conversation the bot is in: it is told what comes, not
// the past. A replaced one keeps its cursors.
func (s *Store) PutWebhook(ctx context.Context, h webhook.Hook) error {
	return s.tx(ctx, func(tx *Tx) error {
		var bot int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND bot_owner_id IS NOT NULL AND bot_owner_id <> '' AND deleted_at IS NULL`, h.BotID).Scan(&bot)
		if err != nil {
			return fmt.Errorf("put webhook: %w", notFound(err))
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO webhooks (bot_id, url, secret, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (bot_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at`,
			h.BotID, h.URL, h.Secret, ms(h.CreatedAt)); err != nil {
			return fmt.Errorf("put webhook: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO webhook_cursors (bot_id, conversation_id, seq, update_seq)
			SELECT CAST(? AS TEXT), mb.conversation_id, c.last_seq,
			       coalesce((SELECT us.seq FROM update_seqs us WHERE us.conversation_id = mb.conversation_id), 0)
			  FROM members mb JOIN conversations c ON c.id = mb.conversation_id
			 WHERE mb.user_id = ? AND mb.left_seq IS NULL
			ON CONFLICT (bot_id, conversation_id) DO NOTHING`, h.BotID, h.BotID); err != nil {
			return fmt.Errorf("put webhook cursors: %w", err)
		}
		return nil
	})
}

// deleteWebhook deletes botID's webhook and all that is its in tx.
func deleteWebhook(ctx context.Context, tx *Tx, botID string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE bot_id = ?`, botID)
	if err != nil {
		return false, fmt.Errorf("delete webhook: %w", err)
	}
	for _, q := range []string{`DELETE FROM webhook_cursors WHERE bot_id = ?`, `DELETE FROM webhook_deliveries WHERE bot_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, botID); err != nil {
			return false, fmt.Errorf("delete webhook: %w", err)
		}
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteWebhook implements webhook.Store.
func (s *Store) DeleteWebhook(ctx context.Context, botID string) error {
	return s.tx(ctx, func(tx *Tx) error {
		ok, err := deleteWebhook(ctx, tx, botID)
		if err == nil && !ok {
			return store.ErrNotFound
		}
		return err
	})
}

// Webhook implements webhook.Store.
func (s *Store) Webhook(ctx context.Context, botID string) (webhook.Hook, error) {
	h := webhook.Hook{BotID: botID}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT url, secret, created_at FROM webhooks WHERE bot_id = ?`, botID).Scan(&h.URL, &h.Secret, &created)
	if err != nil {
		return webhook.Hook{}, notFound(err)
	}
	h.CreatedAt = fromMS(created)
	return h, nil
}

// WebhookBots implements webhook.Store.
func (s *Store) WebhookBots(ctx context.Context) ([]string, error) {
	return scanStrings(s.r.QueryContext(ctx, `SELECT bot_id FROM webhooks`))
}

// DueWebhooks implements webhook.Store: the webhooks with a message or an
// update event past a cursor, each found by an index range scan that
// stops at the first.
func (s *Store) DueWebhooks(ctx context.Context, node string, now time.Time) ([]string, error) {
	return scanStrings(s.r.QueryContext(ctx, `
		SELECT w.bot_id FROM webhooks w
		 WHERE (w.lease_until < ? OR w.lease_node = ?)
		   AND (EXISTS (SELECT 1 FROM webhook_cursors wc
		                  JOIN members mb ON mb.conversation_id = wc.conversation_id AND mb.user_id = wc.bot_id
		                  JOIN messages m ON m.conversation_id = wc.conversation_id AND m.seq > wc.seq
		                       AND (mb.left_seq IS NULL OR m.seq <= mb.left_seq)
		                 WHERE wc.bot_id = w.bot_id)
		        OR EXISTS (SELECT 1 FROM webhook_cursors wc
		                     JOIN update_seqs us ON us.conversation_id = wc.conversation_id AND us.seq > wc.update_seq
		                    WHERE wc.bot_id = w.bot_id))`, ms(now), node))
}

// LeaseWebhook implements webhook.Store.
func (s *Store) LeaseWebhook(ctx context.Context, botID, node string, now, until time.Time) (webhook.Hook, bool, error) {
	h := webhook.Hook{BotID: botID}
	var created int64
	err := s.w.QueryRowContext(ctx, `
		UPDATE webhooks SET lease_node = ?, lease_until = ?
		 WHERE bot_id = ? AND (lease_until < ? OR lease_node = ?)
		RETURNING url, secret, created_at`, node, ms(until), botID, ms(now), node).Scan(&h.URL, &h.Secret, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Hook{}, false, nil // held elsewhere, or deleted
	}
	if err != nil {
		return webhook.Hook{}, false, fmt.Errorf("lease webhook: %w", err)
	}
	h.CreatedAt = fromMS(created)
	return h, true, nil
}

// ReleaseWebhook implements webhook.Store.
func (s *Store) ReleaseWebhook(ctx context.Context, botID, node string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE webhooks SET lease_until = 0 WHERE (bot_id = ? OR CAST(? AS TEXT) = '') AND lease_node = ?`,
		botID, botID, node); err != nil {
		return fmt.Errorf("release webhook: %w", err)
	}
	return nil
}

// WebhookMessages implements webhook.Store: every message of the bot's
// memberships past the cursors, each with whether it is for the bot, so
// that the cursors move past those that are not. Unlike a device's
// window, the bot's includes the system message that removed it: how it
// learns it is out.
func (s *Store) WebhookMessages(ctx context.Context, botID string, pos webhook.Position, limit int, w messaging.Window) ([]webhook.PendingMessage, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+prefixed("m.", messageColumns)+`,
		       m.sender_id != wc.bot_id AND (m.withheld = 0) AND m.created_at >= ?
		       AND (m.expires_at IS NULL OR m.expires_at > ?) AND `+notHidden("wc.bot_id")+`
		  FROM webhook_cursors wc
		  JOIN members mb ON mb.conversation_id = wc.conversation_id AND mb.user_id = wc.bot_id
		  JOIN messages m ON m.conversation_id = wc.conversation_id AND m.seq > wc.seq
		       AND (mb.left_seq IS NULL OR m.seq <= mb.left_seq)
		 WHERE wc.bot_id = ? AND (m.conversation_id, m.seq) > (?, ?)
		 ORDER BY m.conversation_id, m.seq
		 LIMIT ?`, ms(w.NotBefore), ms(w.Now), botID, pos.ConversationID, pos.Seq, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook messages: %w", err)
	}
	defer rows.Close()
	var out []webhook.PendingMessage
	for rows.Next() {
		var p webhook.PendingMessage
		if p.Message, err = scanMessage(withExtra{rows, []any{&p.Deliver}}); err != nil {
			return nil, fmt.Errorf("webhook messages: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// withExtra scans a row's columns past a scanner's into extra.
type withExtra struct {
	rows  *sql.Rows
	extra []any
}

func (x withExtra) Scan(dest ...any) error { return x.rows.Scan(append(dest, x.extra...)...) }

// WebhookUpdates implements webhook.Store, with PendingUpdates' reading
// of each event as the message is now.
func (s *Store) WebhookUpdates(ctx context.Context, botID string, pos webhook.Position, limit int, w messaging.Window) ([]webhook.PendingUpdate, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+updateColumns+`
		  FROM webhook_cursors wc
		  JOIN members mb ON mb.conversation_id = wc.conversation_id AND mb.user_id = wc.bot_id
		  JOIN update_events e ON e.conversation_id = wc.conversation_id AND e.seq > wc.update_seq
		  `+updateJoins+`
		 WHERE wc.bot_id = ? AND (e.conversation_id, e.seq) > (?, ?)
		 ORDER BY e.conversation_id, e.seq
		 LIMIT ?`, ms(w.NotBefore), ms(w.Now), botID, pos.ConversationID, pos.Seq, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook updates: %w", err)
	}
	defer rows.Close()
	var out []webhook.PendingUpdate
	for rows.Next() {
		e, ok, err := scanUpdate(rows)
		if err != nil {
			return nil, fmt.Errorf("webhook updates: %w", err)
		}
		out = append(out, webhook.PendingUpdate{UpdateEvent: e, Deliver: ok})
	}
	return out, rows.Err()
}

// AdvanceWebhook implements webhook.Store: one statement per kind of
// cursor.
func (s *Store) AdvanceWebhook(ctx context.Context, botID string, messages, updates map[string]int64) error {
	for col, cursors := range map[string]map[string]int64{"seq": messages, "update_seq": updates} {
		if len(cursors) == 0 {
			continue
		}
		set := newRowSet("v", textCol("c"), intCol("s"))
		for c, seq := range cursors {
			set.add(c, seq)
		}
		table, args := set.table(s.w.d)
		if _, err := s.w.ExecContext(ctx, `
			UPDATE webhook_cursors SET `+col+` = greatest(webhook_cursors.`+col+`, v.s)
			  FROM `+table+`
			 WHERE webhook_cursors.bot_id = ? AND webhook_cursors.conversation_id = v.c`, append(args, botID)...); err != nil {
			return fmt.Errorf("advance webhook: %w", err)
		}
	}
	return nil
}

// RecordAttempt implements webhook.Store.
func (s *Store) RecordAttempt(ctx context.Context, botID string, d webhook.Delivery) (int, time.Time, error) {
	var attempts, first int64
	err := s.w.QueryRowContext(ctx, `
		INSERT INTO webhook_deliveries (bot_id, event_id, conversation_id, event_type, status, attempts,
		                                first_attempt_at, last_attempt_at, last_status, last_error)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
		ON CONFLICT (bot_id, event_id) DO UPDATE SET
		       attempts = webhook_deliveries.attempts + 1, status = excluded.status,
		       last_attempt_at = excluded.last_attempt_at, last_status = excluded.last_status,
		       last_error = excluded.last_error
		RETURNING attempts, first_attempt_at`,
		botID, d.EventID, d.ConversationID, d.Type, d.Status, ms(d.LastAttemptAt), ms(d.LastAttemptAt), d.LastStatus, truncate(d.LastError, 512)).
		Scan(&attempts, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("record webhook attempt: %w", err)
	}
	return int(attempts), fromMS(first), nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// SettleDelivery implements webhook.Store.
func (s *Store) SettleDelivery(ctx context.Context, botID, eventID, status string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, last_attempt_at = ? WHERE bot_id = ? AND event_id = ?`,
		status, ms(at), botID, eventID); err != nil {
		return fmt.Errorf("settle webhook delivery: %w", err)
	}
	return nil
}

// Deliveries implements webhook.Store.
func (s *Store) Deliveries(ctx context.Context, botID, status string, limit int) ([]webhook.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT event_id, conversation_id, event_type, status, attempts, first_attempt_at, last_attempt_at, last_status, last_error
		  FROM webhook_deliveries
		 WHERE bot_id = ? AND (CAST(? AS TEXT) = '' OR status = ?)
		 ORDER BY last_attempt_at DESC, event_id DESC
		 LIMIT ?`, botID, status, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []webhook.Delivery
	for rows.Next() {
		var d webhook.Delivery
		var first, last int64
		if err := rows.Scan(&d.EventID, &d.ConversationID, &d.Type, &d.Status, &d.Attempts, &first, &last, &d.LastStatus, &d.LastError); err != nil {
			return nil, fmt.Errorf("list webhook deliveries: %w", err)
		}
		d.FirstAttemptAt, d.LastAttemptAt = fromMS(first), fromMS(last)
		out = append(out, d)
	}
	return out, rows.Err()
}

// PruneDeliveries implements webhook.Store.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE last_attempt_at < ?`, ms(before)); err != nil {
		return fmt.Errorf("prune webhook deliveries: %w", err)
	}
	return nil
}
