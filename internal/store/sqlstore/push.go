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

// PushTargets implements push.Store: one statement from the members of
// the conversation to their subscriptions, so a conversation whose
// members never subscribed costs one indexed lookup per member. The
// unread count is the conversation list's (ConversationsOf).
func (s *Store) PushTargets(ctx context.Context, conversationID, senderID string, seq int64, now time.Time) (string, []push.Target, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT ps.device_id, ps.user_id, ps.endpoint, ps.p256dh, ps.auth, ps.created_at,
		       (SELECT count(*) FROM messages m
		         WHERE m.conversation_id = mb.conversation_id AND m.seq > greatest(mb.read_seq, mb.joined_seq)
		           AND m.sender_id != mb.user_id AND m.withheld = 0
		           AND (m.expires_at IS NULL OR m.expires_at > ?))
		  FROM members mb
		  JOIN push_subscriptions ps ON ps.user_id = mb.user_id
		 WHERE mb.conversation_id = ? AND mb.user_id != ? AND mb.read_seq < ?`,
		ms(now), conversationID, senderID, seq)
	if err != nil {
		return "", nil, fmt.Errorf("push targets: %w", err)
	}
	defer rows.Close()
	var out []push.Target
	for rows.Next() {
		var t push.Target
		var created int64
		if err := rows.Scan(&t.DeviceID, &t.UserID, &t.Endpoint, &t.P256DH, &t.Auth, &created, &t.Unread); err != nil {
			return "", nil, fmt.Errorf("push targets: %w", err)
		}
		t.CreatedAt = fromMS(created)
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
