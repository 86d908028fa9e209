package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

var _ messaging.TraceStore = (*Store)(nil)

// TraceFacts implements messaging.TraceStore: two reads, whatever the
// number of recipients (the members with their receipt times, then their
// devices).
func (s *Store) TraceFacts(ctx context.Context, m messaging.Message, now time.Time) ([]messaging.RecipientFacts, error) {
	// The members whose window holds m: joined before it, and not
	// removed by a system message before it (members.left_seq).
	const window = `conversation_id = ? AND user_id != ? AND joined_seq < ? AND (left_seq IS NULL OR ? < left_seq)`
	// A member's events of one status for one sender cover disjoint
	// ranges in order, so the first ending at or after m is the only one
	// that can cover it: one index seek (receipt_events_recipient) per
	// member and status, not a scan of the conversation's events. A read
	// event with also_delivered dates the delivery too (both happened in
	// one cycle).
	const first = `(SELECT CASE WHEN e.from_seq < ? %s THEN e.at END FROM receipt_events e
		  WHERE e.conversation_id = mb.conversation_id AND e.recipient_id = mb.user_id AND e.status = ?
		    AND e.to_seq >= ? AND e.sender_id = ? AND e.message_id IS NULL
		  ORDER BY e.to_seq LIMIT 1)`
	rows, err := s.r.QueryContext(ctx, `
		SELECT mb.user_id, mb.delivered_seq, mb.read_seq,
		       `+fmt.Sprintf(first, "")+`,
		       `+fmt.Sprintf(first, "")+`,
		       `+fmt.Sprintf(first, "AND e.also_delivered = 1")+`
		  FROM members mb WHERE `+window+`
		 ORDER BY mb.joined_at, mb.user_id`,
		m.Seq, wire.StatusDelivered, m.Seq, m.SenderID,
		m.Seq, wire.StatusRead, m.Seq, m.SenderID,
		m.Seq, wire.StatusRead, m.Seq, m.SenderID,
		m.ConversationID, m.SenderID, m.Seq, m.Seq)
	if err != nil {
		return nil, fmt.Errorf("list recipients: %w", err)
	}
	var out []messaging.RecipientFacts
	index := map[string]int{}
	for rows.Next() {
		var f messaging.RecipientFacts
		var delivered, read, both sql.NullInt64
		if err := rows.Scan(&f.UserID, &f.DeliveredSeq, &f.ReadSeq, &delivered, &read, &both); err != nil {
			rows.Close()
			return nil, err
		}
		f.DeliveredAt, f.ReadAt = timeOf(delivered), timeOf(read)
		if b := timeOf(both); !b.IsZero() && (f.DeliveredAt.IsZero() || b.Before(f.DeliveredAt)) {
			f.DeliveredAt = b
		}
		index[f.UserID] = len(out)
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := s.traceDevices(ctx, m, now, window, out, index); err != nil {
		return nil, err
	}
	return out, nil
}

// traceDevices reads the recipients' live sessions with their last
// connection and their cursor of m's conversation.
func (s *Store) traceDevices(ctx context.Context, m messaging.Message, now time.Time, window string, out []messaging.RecipientFacts, index map[string]int) error {
	rows, err := s.r.QueryContext(ctx, `
		SELECT d.user_id, d.id, d.name, d.created_at, d.connected_at, d.disconnected_at,
		       coalesce(dc.delivered_seq, 0), dc.acked_at
		  FROM devices d
		  LEFT JOIN device_cursors dc ON dc.device_id = d.id AND dc.conversation_id = ?
		 WHERE d.expires_at > ? AND d.user_id IN (SELECT user_id FROM members WHERE `+window+`)
		 ORDER BY d.created_at, d.id`,
		m.ConversationID, ms(now), m.ConversationID, m.SenderID, m.Seq, m.Seq)
	if err != nil {
		return fmt.Errorf("list recipient devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var user string
		var d messaging.DeviceFacts
		var created int64
		var connected, disconnected, acked sql.NullInt64
		if err := rows.Scan(&user, &d.DeviceID, &d.Name, &created, &connected, &disconnected, &d.Cursor, &acked); err != nil {
			return err
		}
		d.CreatedAt = fromMS(created)
		d.ConnectedAt, d.DisconnectedAt, d.AckedAt = timeOf(connected), timeOf(disconnected), timeOf(acked)
		if i, ok := index[user]; ok {
			out[i].Devices = append(out[i].Devices, d)
		}
	}
	return rows.Err()
}

// StampConnections writes a batch of devices' connects and closes in one
// statement (a zero time leaves that column as it is).
func (s *Store) StampConnections(ctx context.Context, stamps []messaging.ConnectionStamp) error {
	if len(stamps) == 0 {
		return nil
	}
	set := newRowSet("v", textCol("d"), intCol("c"), intCol("x"))
	for _, st := range stamps {
		set.add(st.DeviceID, optMS(st.ConnectedAt), optMS(st.DisconnectedAt))
	}
	for _, c := range set.chunks(s.d) {
		table, args := c.table(s.d)
		if _, err := s.w.ExecContext(ctx, `
			UPDATE devices
			   SET connected_at = CASE WHEN v.c > 0 THEN v.c ELSE devices.connected_at END,
			       disconnected_at = CASE WHEN v.x > 0 THEN v.x ELSE devices.disconnected_at END
			  FROM `+table+`
			 WHERE devices.id = v.d`, args...); err != nil {
			return fmt.Errorf("stamp connections: %w", err)
		}
	}
	return nil
}
