package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/push"
)

var _ push.Store = (*Store)(nil)

// PutPushSubscription implements push.Store. The insert selects the
// device, so a session ended meanwhile stores nothing.
func (s *Store) PutPushSubscription(ctx context.Context, sub push.Subscription) error {
	if _, err := s.w.ExecContext(ctx, `
		INSERT INTO push_subscriptions (device_id, user_id, endpoint, p256dh, auth, created_at)
		SELECT id, user_id, ?, ?, ?, CAST(? AS BIGINT) FROM devices WHERE id = ? AND user_id = ?
		ON CONFLICT (device_id) DO UPDATE SET
		       endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth,
		       created_at = excluded.created_at`,
		sub.Endpoint, sub.P256DH, sub.Auth, ms(sub.CreatedAt), sub.DeviceID, sub.UserID); err != nil {
		return fmt.Errorf("put push subscription: %w", err)
	}
	return nil
}

// DeletePushSubscription implements push.Store.
func (s *Store) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	q, args := `DELETE FROM push_subscriptions WHERE device_id = ?`, []any{deviceID}
	if endpoint != "" {
		q, args = q+` AND endpoint = ?`, append(args, endpoint)
	}
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("delete push subscription: %w", err)
	}
	return nil
}

// PutPushRelay implements push.Store, as PutPushSubscription does.
func (s *Store) PutPushRelay(ctx context.Context, r push.Relay) error {
	if _, err := s.w.ExecContext(ctx, `
		INSERT INTO push_relays (device_id, user_id, url, app_id, pushkey, created_at)
		SELECT id, user_id, ?, ?, ?, CAST(? AS BIGINT) FROM devices WHERE id = ? AND user_id = ?
		ON CONFLICT (device_id) DO UPDATE SET
		       url = excluded.url, app_id = excluded.app_id, pushkey = excluded.pushkey,
		       created_at = excluded.created_at`,
		r.URL, r.AppID, r.Pushkey, ms(r.CreatedAt), r.DeviceID, r.UserID); err != nil {
		return fmt.Errorf("put push relay: %w", err)
	}
	return nil
}

// DeletePushRelay implements push.Store.
func (s *Store) DeletePushRelay(ctx context.Context, deviceID, url, pushkey string) error {
	q, args := `DELETE FROM push_relays WHERE device_id = ?`, []any{deviceID}
	if url != "" {
		q, args = q+` AND url = ? AND pushkey = ?`, append(args, url, pushkey)
	}
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("delete push relay: %w", err)
	}
	return nil
}

// pushUnread is a member's unread count in its conversation, as the
// conversation list counts it (ConversationsOf); ? is now.
const pushUnread = `(SELECT count(*) FROM messages m
		  WHERE m.conversation_id = mb.conversation_id AND m.seq > greatest(mb.read_seq, mb.joined_seq)
		    AND m.sender_id != mb.user_id AND m.withheld = 0
		    AND (m.expires_at IS NULL OR m.expires_at > ?)
		    AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = mb.user_id AND h.message_id = m.id))`

// PushTargets implements push.Store: one statement from the members of
// the conversation to their subscriptions and their relays (a UNION ALL
// of two joins, each an indexed lookup per member), so a conversation
// whose members never subscribed costs two index probes per member and
// one round trip. The unread count is the conversation list's.
func (s *Store) PushTargets(ctx context.Context, conversationID, senderID string, seq int64, now time.Time) (string, []push.Target, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT 'w', ps.device_id, ps.user_id, ps.endpoint, ps.p256dh, ps.auth, ps.created_at, `+pushUnread+`
		  FROM members mb
		  JOIN push_subscriptions ps ON ps.user_id = mb.user_id
		 WHERE mb.conversation_id = ? AND mb.user_id != ? AND mb.read_seq < ?
		UNION ALL
		SELECT 'r', pr.device_id, pr.user_id, pr.url, pr.app_id, pr.pushkey, pr.created_at, `+pushUnread+`
		  FROM members mb
		  JOIN push_relays pr ON pr.user_id = mb.user_id
		 WHERE mb.conversation_id = ? AND mb.user_id != ? AND mb.read_seq < ?`,
		ms(now), conversationID, senderID, seq, ms(now), conversationID, senderID, seq)
	if err != nil {
		return "", nil, fmt.Errorf("push targets: %w", err)
	}
	defer rows.Close()
	var out []push.Target
	for rows.Next() {
		var t push.Target
		var kind, device, user, a, b, c string
		var created int64
		if err := rows.Scan(&kind, &device, &user, &a, &b, &c, &created, &t.Unread); err != nil {
			return "", nil, fmt.Errorf("push targets: %w", err)
		}
		if kind == "r" {
			t.Relay = push.Relay{DeviceID: device, UserID: user, URL: a, AppID: b, Pushkey: c, CreatedAt: fromMS(created)}
		} else {
			t.Subscription = push.Subscription{DeviceID: device, UserID: user, Endpoint: a, P256DH: b, Auth: c, CreatedAt: fromMS(created)}
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("push targets: %w", err)
	}
	if len(out) == 0 {
		return "", nil, nil
	}
	var name, username string
	if err := s.r.QueryRowContext(ctx, `SELECT display_name, username FROM users WHERE id = ?`, senderID).Scan(&name, &username); err != nil {
		return "", nil, fmt.Errorf("push sender: %w", notFound(err))
	}
	if name == "" {
		name = username
	}
	return name, out, nil
}
