package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// Receipts are cumulative per conversation: a device that has message s
// has everything before it, because a connection delivers a conversation
// in sequence order. So a commit cycle's receipts reduce to cursor moves:
// per device and conversation the highest sequence number acknowledged,
// per member its delivered and read cursors, and per move one receipt
// event for each sender whose messages it covers, naming a range of the
// conversation. Each of these is written with one statement for the whole
// cycle; the per-message status frames are derived from the ranges.

type memberKey struct{ conv, user string }

type deviceKey struct{ device, conv string }

// memberState is a member's receipt cursors while a cycle's receipts are
// applied to them in order, and the changes they made.
type memberState struct {
	joined, left int64
	hasLeft      bool
	delivered    int64
	read         int64
	// pieces are the ranges newly delivered, ascending and disjoint (a
	// read moves the delivered cursor too, without a "delivered" change).
	pieces []seqRange
	// reads is the range newly read: read receipts only ever extend it.
	reads   seqRange
	hasRead bool
	touched bool
}

// seqRange is (lo, hi] of a conversation, as acknowledged at at.
type seqRange struct {
	lo, hi int64
	at     time.Time
}

type msgLoc struct {
	conv string
	seq  int64
}

type convSpan struct {
	conv   string
	lo, hi int64
}

// applyReceipts applies a cycle's receipts as if one after the other,
// validating each whole before it changes anything, and records the
// receipt events they make in ev. It returns, per receipt, nil or why it
// was refused.
func applyReceipts(ctx context.Context, tx *Tx, reqs []messaging.ReceiptRequest, ev *eventBatch) ([]error, error) {
	refused := make([]error, len(reqs))
	if len(reqs) == 0 {
		return refused, nil
	}
	locs, err := locateMessages(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	// Each receipt as spans of conversations; which members they touch.
	spans := make([][]convSpan, len(reqs))
	keys := map[memberKey]bool{}
	for i, r := range reqs {
		spans[i], refused[i] = receiptSpans(r, locs)
		for _, sp := range spans[i] {
			keys[memberKey{sp.conv, r.UserID}] = true
		}
	}
	members, err := lockMembers(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	devices := map[deviceKey]deviceAck{} // highest seq acked, and when
	var touched []memberKey
	for i, r := range reqs {
		if refused[i] != nil {
			continue
		}
		if refused[i] = checkWindows(r, spans[i], members); refused[i] != nil {
			continue
		}
		for _, sp := range spans[i] {
			// A receipt without a device (a bot's webhook) moves only
			// its user's cursors.
			if dk := (deviceKey{r.DeviceID, sp.conv}); r.DeviceID != "" && sp.hi > devices[dk].seq {
				devices[dk] = deviceAck{seq: sp.hi, at: r.At}
			}
			k := memberKey{sp.conv, r.UserID}
			m := members[k]
			from := m.delivered
			if r.Status == wire.StatusRead {
				from = m.read
			}
			if sp.hi <= from {
				continue
			}
			lo := max(from, m.joined)
			if r.Status == wire.StatusRead {
				if !m.hasRead {
					m.reads, m.hasRead = seqRange{lo: lo}, true
				}
				m.reads.hi, m.reads.at = sp.hi, r.At
				m.read = sp.hi
			} else if n := len(m.pieces); n > 0 && m.pieces[n-1].hi == lo {
				m.pieces[n-1].hi, m.pieces[n-1].at = sp.hi, r.At
			} else {
				m.pieces = append(m.pieces, seqRange{lo: lo, hi: sp.hi, at: r.At})
			}
			m.delivered = max(m.delivered, sp.hi)
			if !m.touched {
				m.touched = true
				touched = append(touched, k)
			}
		}
	}
	if err := writeDeviceCursors(ctx, tx, devices); err != nil {
		return nil, err
	}
	if len(touched) == 0 {
		return refused, nil
	}
	if err := writeMemberCursors(ctx, tx, touched, members); err != nil {
		return nil, err
	}
	return refused, recordRanges(ctx, tx, touched, members, ev)
}

// locateMessages finds the conversation and sequence number of every
// message the receipts name.
func locateMessages(ctx context.Context, tx *Tx, reqs []messaging.ReceiptRequest) (map[string]msgLoc, error) {
	ids := newRowSet("i", textCol("id"))
	seen := map[string]bool{}
	for _, r := range reqs {
		for _, id := range r.MessageIDs {
			if !seen[id] {
				seen[id] = true
				ids.add(id)
			}
		}
	}
	set, args := ids.table(tx.d)
	rows, err := tx.QueryContext(ctx,
		`SELECT m.id, m.conversation_id, m.seq FROM `+set+` JOIN messages m ON m.id = i.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	defer rows.Close()
	locs := make(map[string]msgLoc, len(seen))
	for rows.Next() {
		var id string
		var l msgLoc
		if err := rows.Scan(&id, &l.conv, &l.seq); err != nil {
			return nil, err
		}
		locs[id] = l
	}
	return locs, rows.Err()
}

// receiptSpans groups a receipt's messages by conversation, or refuses it.
func receiptSpans(r messaging.ReceiptRequest, locs map[string]msgLoc) ([]convSpan, error) {
	var out []convSpan
	for _, id := range r.MessageIDs {
		if _, ok := locs[id]; !ok {
			return nil, messaging.ErrMessageNotFound
		}
	}
	for _, id := range r.MessageIDs {
		l := locs[id]
		if r.ConversationID != "" && l.conv != r.ConversationID {
			return nil, fault.New(messaging.ErrNotInConversation, "message "+id+" is not in conversation "+r.ConversationID)
		}
		i := slices.IndexFunc(out, func(s convSpan) bool { return s.conv == l.conv })
		if i < 0 {
			out = append(out, convSpan{conv: l.conv, lo: l.seq, hi: l.seq})
			continue
		}
		out[i].lo, out[i].hi = min(out[i].lo, l.seq), max(out[i].hi, l.seq)
	}
	slices.SortFunc(out, func(a, b convSpan) int { return cmp.Compare(a.conv, b.conv) })
	return out, nil
}

// checkWindows refuses a receipt naming a message outside its user's
// membership: someone else's message does not exist for this user.
func checkWindows(r messaging.ReceiptRequest, spans []convSpan, members map[memberKey]*memberState) error {
	for _, sp := range spans {
		m := members[memberKey{sp.conv, r.UserID}]
		if m == nil || sp.lo <= m.joined || (m.hasLeft && sp.hi >= m.left) {
			return messaging.ErrMessageNotFound
		}
	}
	return nil
}

// lockMembers reads the receipt cursors of the members the cycle's
// receipts touch, holding their rows (in key order, so that two nodes
// never wait for each other in a cycle) where several writers exist.
func lockMembers(ctx context.Context, tx *Tx, keys map[memberKey]bool) (map[memberKey]*memberState, error) {
	sorted := slices.SortedFunc(maps.Keys(keys), compareKeys)
	set := newRowSet("k", textCol("c"), textCol("u"))
	for _, k := range sorted {
		set.add(k.conv, k.user)
	}
	table, args := set.table(tx.d)
	lock := tx.d.forUpdateOf("mb")
	rows, err := tx.QueryContext(ctx, `
		SELECT mb.conversation_id, mb.user_id, mb.joined_seq, mb.delivered_seq, mb.read_seq, mb.left_seq
		  FROM `+table+` JOIN members mb ON mb.conversation_id = k.c AND mb.user_id = k.u
		 ORDER BY mb.conversation_id, mb.user_id`+lock, args...)
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	defer rows.Close()
	out := make(map[memberKey]*memberState, len(keys))
	for rows.Next() {
		var k memberKey
		m := &memberState{}
		var left sql.NullInt64
		if err := rows.Scan(&k.conv, &k.user, &m.joined, &m.delivered, &m.read, &left); err != nil {
			return nil, err
		}
		m.left, m.hasLeft = left.Int64, left.Valid
		out[k] = m
	}
	return out, rows.Err()
}

func compareKeys(a, b memberKey) int {
	return cmp.Or(cmp.Compare(a.conv, b.conv), cmp.Compare(a.user, b.user))
}

// deviceAck is the highest sequence number a device acknowledged in a
// conversation within a cycle, and when.
type deviceAck struct {
	seq int64
	at  time.Time
}

// writeDeviceCursors moves each device's cursor of a conversation to the
// highest sequence number it acknowledged (never back), and dates the
// move in the same statement (acked_at, for the delivery trace): no write
// is added per message or per device.
func writeDeviceCursors(ctx context.Context, tx *Tx, devices map[deviceKey]deviceAck) error {
	if len(devices) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(devices), func(a, b deviceKey) int {
		return cmp.Or(cmp.Compare(a.device, b.device), cmp.Compare(a.conv, b.conv))
	})
	set := newRowSet("v", textCol("d"), textCol("c"), intCol("s"), intCol("t"))
	for _, k := range keys {
		a := devices[k]
		set.add(k.device, k.conv, a.seq, ms(a.at))
	}
	table, args := set.table(tx.d)
	// acked_at moves only with the cursor: a repeated ack of what the
	// device already had does not make its messages look acknowledged
	// later than they were.
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO device_cursors (device_id, conversation_id, delivered_seq, acked_at)
		SELECT v.d, v.c, v.s, v.t FROM `+table+` WHERE true
		ON CONFLICT (device_id, conversation_id) DO UPDATE
		   SET acked_at = CASE WHEN excluded.delivered_seq > device_cursors.delivered_seq
		                       THEN excluded.acked_at ELSE device_cursors.acked_at END,
		       delivered_seq = greatest(device_cursors.delivered_seq, excluded.delivered_seq)`, args...); err != nil {
		return fmt.Errorf("advance device cursors: %w", err)
	}
	return nil
}

// writeMemberCursors writes the members' new delivered and read cursors.
func writeMemberCursors(ctx context.Context, tx *Tx, touched []memberKey, members map[memberKey]*memberState) error {
	keys := slices.SortedFunc(slices.Values(touched), compareKeys)
	set := newRowSet("v", textCol("c"), textCol("u"), intCol("d"), intCol("r"))
	for _, k := range keys {
		m := members[k]
		set.add(k.conv, k.user, m.delivered, m.read)
	}
	table, args := set.table(tx.d)
	if _, err := tx.ExecContext(ctx, `
		UPDATE members SET delivered_seq = greatest(members.delivered_seq, v.d), read_seq = greatest(members.read_seq, v.r)
		  FROM `+table+`
		 WHERE members.conversation_id = v.c AND members.user_id = v.u`, args...); err != nil {
		return fmt.Errorf("advance member cursors: %w", err)
	}
	return nil
}

type msgRef struct {
	seq        int64
	id, sender string
}

// recordRanges turns the members' cursor moves into receipt events: per
// move, one event for each sender of messages in its range.
func recordRanges(ctx context.Context, tx *Tx, touched []memberKey, members map[memberKey]*memberState, ev *eventBatch) error {
	// One read of every message the moves cover: per conversation, from
	// the lowest start to the highest end.
	bounds := map[string]seqRange{}
	var convs []string
	for _, k := range touched {
		rs, _ := members[k].ranges()
		for _, r := range rs {
			b, ok := bounds[k.conv]
			if !ok {
				convs = append(convs, k.conv)
				b = r
			}
			bounds[k.conv] = seqRange{lo: min(b.lo, r.lo), hi: max(b.hi, r.hi)}
		}
	}
	set := newRowSet("v", textCol("c"), intCol("lo"), intCol("hi"))
	for _, c := range convs {
		set.add(c, bounds[c].lo, bounds[c].hi)
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `
		SELECT m.conversation_id, m.seq, m.id, m.sender_id
		  FROM `+table+` JOIN messages m ON m.conversation_id = v.c AND m.seq > v.lo AND m.seq <= v.hi
		       AND m.withheld = 0
		 ORDER BY m.conversation_id, m.seq`, args...)
	if err != nil {
		return fmt.Errorf("find acknowledged messages: %w", err)
	}
	msgs := map[string][]msgRef{}
	for rows.Next() {
		var conv string
		var r msgRef
		if err := rows.Scan(&conv, &r.seq, &r.id, &r.sender); err != nil {
			rows.Close()
			return err
		}
		msgs[conv] = append(msgs[conv], r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range touched {
		m := members[k]
		ranges, both := m.ranges()
		for i, r := range ranges {
			status := wire.StatusDelivered
			if i == len(ranges)-1 && m.hasRead {
				status = wire.StatusRead
			}
			ms := msgs[k.conv]
			first, _ := slices.BinarySearchFunc(ms, r.lo+1, func(m msgRef, seq int64) int { return cmp.Compare(m.seq, seq) })
			bySender := map[string]*event{}
			for _, msg := range ms[first:] {
				if msg.seq > r.hi {
					break
				}
				if msg.sender == k.user {
					continue
				}
				e := bySender[msg.sender]
				if e == nil {
					e = ev.add(msg.sender, k.conv, k.user, status, r.lo, r.hi, r.at, "")
					e.alsoDelivered = both
					bySender[msg.sender] = e
				}
				e.messages = append(e.messages, msg.id)
			}
		}
	}
	return nil
}

// ranges are a member's changes in the order they are told: what it newly
// received, then what it newly read (so no message is told "read" before
// "delivered"). When it received and read exactly the same messages, one
// range, both, stands for both changes.
func (m *memberState) ranges() (ranges []seqRange, both bool) {
	if m.hasRead && len(m.pieces) == 1 && m.pieces[0].lo == m.reads.lo && m.pieces[0].hi == m.reads.hi {
		return []seqRange{m.reads}, true
	}
	out := m.pieces
	if m.hasRead {
		out = append(slices.Clip(out), m.reads)
	}
	return out, false
}

// eventBatch collects a cycle's receipt events, numbered and written
// together at its end.
type eventBatch struct {
	events []*event
}

// event is one receipt event: a recipient's status change of sender's
// messages in (from, to] of a conversation, or of one message (an expiry).
type event struct {
	sender, conv, recipient, status string
	from, to                        int64
	at                              time.Time
	messageID                       string
	// alsoDelivered marks a "read" event that also delivered its range.
	alsoDelivered bool
	messages      []string
	seq           int64
}

func (b *eventBatch) add(sender, conv, recipient, status string, from, to int64, at time.Time, messageID string) *event {
	e := &event{sender: sender, conv: conv, recipient: recipient, status: status, from: from, to: to, at: at, messageID: messageID}
	if messageID != "" {
		e.messages = []string{messageID}
	}
	b.events = append(b.events, e)
	return e
}

// write numbers the events per sender, in the order they were made
// (takeNumbers), and stores them: one statement to take the numbers, one
// to insert. It
// returns the per-message changes, ordered by sender and event.
func (b *eventBatch) write(ctx context.Context, tx *Tx) ([]messaging.StatusChange, error) {
	if len(b.events) == 0 {
		return nil, nil
	}
	counts := map[string]int64{}
	for _, e := range b.events {
		counts[e.sender]++
	}
	next, err := takeNumbers(ctx, tx, "receipt_seqs", "user_id", counts)
	if err != nil {
		return nil, fmt.Errorf("number receipt events: %w", err)
	}
	ins := newRowSet("v", textCol("s"), intCol("q"), textCol("c"), textCol("r"), textCol("st"),
		intCol("f"), intCol("t"), intCol("a"), textCol("mid"), intCol("d"))
	for _, e := range b.events {
		e.seq = next[e.sender]
		next[e.sender]++
		ins.add(e.sender, e.seq, e.conv, e.recipient, e.status, e.from, e.to, ms(e.at), e.messageID, int64(boolInt(e.alsoDelivered)))
	}
	for _, ins := range ins.chunks(tx.d) {
		table, args := ins.table(tx.d)
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO receipt_events (sender_id, seq, conversation_id, recipient_id, status, from_seq, to_seq, at, message_id, also_delivered)
			SELECT v.s, v.q, v.c, v.r, v.st, v.f, v.t, v.a, nullif(v.mid, ''), v.d FROM `+table+` WHERE true`, args...); err != nil {
			return nil, fmt.Errorf("insert receipt events: %w", err)
		}
	}
	sorted := slices.Clone(b.events)
	slices.SortStableFunc(sorted, func(a, b *event) int {
		if c := cmp.Compare(a.sender, b.sender); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var out []messaging.StatusChange
	for _, e := range sorted {
		for _, id := range e.messages {
			c := messaging.StatusChange{
				EventID: e.seq, SenderID: e.sender, MessageID: id, ConversationID: e.conv,
				RecipientID: e.recipient, Status: e.status, At: e.at,
			}
			out = appendChange(out, c, e.alsoDelivered)
		}
	}
	return out, nil
}

// expire deletes up to limit messages created before the cutoff. Every
// member in whose window a message fell and who had not received it
// learns nothing more, but its sender learns that: an "expired" event per
// message and recipient.
func expire(ctx context.Context, tx *Tx, x messaging.Expiry, ev *eventBatch) (messaging.Expired, error) {
	var out messaging.Expired
	ids := newRowSet("i", textCol("id"))
	seen := map[string]bool{}
	// Two range scans, each on its own index, rather than one OR that
	// neither index serves: messages past retention (messages_created),
	// then disappearing ones past their expires_at (messages_expires,
	// partial, so it holds only those). Both find nothing, cheaply, on
	// most passes.
	for _, q := range []struct {
		sql string
		at  time.Time
	}{
		{`SELECT id, octet_length(content), '' FROM messages WHERE created_at < ? ORDER BY created_at LIMIT ?`, x.Cutoff},
		// A disappearing message's media goes with it (out.Media), not
		// at the end of the retention period as other media do.
		{`SELECT id, octet_length(content), coalesce(media_id, '') FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?`, x.Now},
	} {
		if ids.len() >= x.Limit {
			break
		}
		rows, err := tx.QueryContext(ctx, q.sql, ms(q.at), x.Limit-ids.len())
		if err != nil {
			return out, fmt.Errorf("select expired: %w", err)
		}
		for rows.Next() {
			var id, media string
			var n int64
			if err := rows.Scan(&id, &n, &media); err != nil {
				rows.Close()
				return out, err
			}
			if !seen[id] {
				seen[id] = true
				ids.add(id)
				out.Bytes += n
			}
			if media != "" {
				out.Media = append(out.Media, media)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, err
		}
	}
	if ids.len() == 0 {
		return out, nil
	}
	set, args := ids.table(tx.d)
	undelivered, err := tx.QueryContext(ctx, `
		SELECT m.sender_id, m.conversation_id, mb.user_id, m.id, m.seq
		  FROM `+set+` JOIN messages m ON m.id = i.id
		  JOIN members mb ON mb.conversation_id = m.conversation_id
		 WHERE m.message_type != 'system' AND m.withheld = 0
		   AND mb.user_id != m.sender_id AND mb.delivered_seq < m.seq
		   AND mb.joined_seq < m.seq AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		 ORDER BY m.sender_id, m.conversation_id, m.seq, mb.user_id`, args...)
	if err != nil {
		return out, fmt.Errorf("find undelivered: %w", err)
	}
	for undelivered.Next() {
		var sender, conv, recipient, id string
		var seq int64
		if err := undelivered.Scan(&sender, &conv, &recipient, &id, &seq); err != nil {
			undelivered.Close()
			return out, err
		}
		ev.add(sender, conv, recipient, wire.StatusExpired, seq-1, seq, x.Now, id)
	}
	undelivered.Close()
	if err := undelivered.Err(); err != nil {
		return out, err
	}
	// A pin, reactions and "delete for me" marks go with their message.
	for _, table := range []string{"pins", "reactions", "hidden_messages"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE message_id IN (SELECT i.id FROM `+set+`)`, args...); err != nil {
			return out, fmt.Errorf("delete expired %s: %w", table, err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (SELECT i.id FROM `+set+`)`, args...)
	if err != nil {
		return out, fmt.Errorf("delete expired: %w", err)
	}
	n, err := res.RowsAffected()
	out.Messages = int(n)
	return out, err
}

// appendChange appends c, preceded by its "delivered" twin when its event
// stands for both changes.
func appendChange(out []messaging.StatusChange, c messaging.StatusChange, alsoDelivered bool) []messaging.StatusChange {
	if alsoDelivered {
		d := c
		d.Status = wire.StatusDelivered
		out = append(out, d)
	}
	return append(out, c)
}
