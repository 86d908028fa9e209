package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// target is a message a cycle's updates name, as they find it and leave
// it.
type target struct {
	id, conv, sender, typ, media string
	seq                          int64
	// lastSeq is its conversation's last sequence number now: a member
	// removed at or before it does not hear of the change.
	lastSeq                  int64
	created, expires         time.Time
	deleted, withheld, group bool
}

// actor is the membership of a user who reacts, edits or deletes.
type actor struct {
	joined, left int64
	hasLeft      bool
	admin        bool
}

type reactKey struct{ msg, user string }

// applyUpdates applies a cycle's reactions, edits and deletions in order,
// each checked against the state the ones before it left, and records an
// update event for every user each change reaches. A user's reactions to
// one message in one cycle come down to the last: one write, one event.
func applyUpdates(ctx context.Context, tx *Tx, reqs []messaging.UpdateRequest) ([]messaging.UpdateResult, error) {
	out := make([]messaging.UpdateResult, len(reqs))
	if len(reqs) == 0 {
		return out, nil
	}
	targets, err := lockTargets(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	actors, err := loadActors(ctx, tx, reqs, targets)
	if err != nil {
		return nil, err
	}
	hidden, err := loadHidden(ctx, tx, targets)
	if err != nil {
		return nil, err
	}
	reactions, err := loadReactions(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	before := maps.Clone(reactions)
	last := map[reactKey]int{} // a user's last reaction to a message: its request
	deleted := map[string]bool{}
	for i, r := range reqs {
		t := targets[r.MessageID]
		if out[i].Err = checkUpdate(r, t, actors, hidden); out[i].Err != nil {
			continue
		}
		u := messaging.Update{Kind: r.Kind, ConversationID: t.conv, MessageID: t.id, ActorID: r.UserID,
			SenderID: t.sender, At: r.At}
		switch r.Kind {
		case messaging.UpdateReaction:
			k := reactKey{t.id, r.UserID}
			reactions[k] = r.Emoji
			last[k] = i
			u.Emoji = r.Emoji
			out[i].Update = u
			continue // written, and told, once the cycle's last is known
		case messaging.UpdateEdit:
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET content = ?, edited_at = ? WHERE id = ?`,
				r.Content, ms(r.At), t.id); err != nil {
				return nil, fmt.Errorf("edit message: %w", err)
			}
			u.Content = r.Content
		case messaging.UpdateDelete:
			if err := tombstone(ctx, tx, t.id, r.At); err != nil {
				return nil, err
			}
			t.deleted, deleted[t.id] = true, true
			out[i].Media = t.media
		case messaging.UpdateHide:
			k := reactKey{t.id, r.UserID}
			if hidden[k] {
				out[i].Update, out[i].Unchanged = u, true // hidden already
				continue
			}
			hidden[k] = true
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO hidden_messages (user_id, message_id, conversation_id, at) VALUES (?, ?, ?, ?)`,
				r.UserID, t.id, t.conv, ms(r.At)); err != nil {
				return nil, fmt.Errorf("hide message: %w", err)
			}
		}
		out[i].Update = u
	}
	if err := writeReactions(ctx, tx, reqs, reactions, before, last, deleted, out); err != nil {
		return nil, err
	}
	return out, fanOut(ctx, tx, targets, hidden, out)
}

// checkUpdate refuses an update its user may not make: nil if it may.
func checkUpdate(r messaging.UpdateRequest, t *target, actors map[memberKey]*actor, hidden map[reactKey]bool) error {
	if t == nil {
		return messaging.ErrMessageNotFound
	}
	a := actors[memberKey{t.conv, r.UserID}]
	// What the user cannot see does not exist for it: outside its
	// window, withheld from it (a block), hidden by it, or disappeared.
	if a == nil || t.seq <= a.joined || (a.hasLeft && t.seq >= a.left) ||
		(t.withheld && t.sender != r.UserID) || hidden[reactKey{t.id, r.UserID}] ||
		(!t.expires.IsZero() && !t.expires.After(r.At)) {
		return messaging.ErrMessageNotFound
	}
	if r.Kind == messaging.UpdateHide {
		return nil // anything it sees, its own way
	}
	if a.hasLeft {
		return messaging.ErrForbidden // a former member changes nothing
	}
	if t.typ == conversations.MessageTypeSystem {
		return messaging.ErrSystemMessage
	}
	if t.deleted {
		return messaging.ErrTombstone
	}
	age := r.At.Sub(t.created)
	switch r.Kind {
	case messaging.UpdateEdit:
		switch {
		case t.sender != r.UserID:
			return messaging.ErrNotYours
		case t.typ != "text":
			return messaging.ErrNotEditable
		case age > wire.EditWindow:
			return messaging.ErrEditWindow
		}
	case messaging.UpdateDelete:
		// A group's admins moderate: any member's message, at any age.
		if t.group && a.admin {
			return nil
		}
		switch {
		case t.sender != r.UserID:
			return messaging.ErrNotYours
		case age > wire.DeleteWindow:
			return messaging.ErrDeleteWindow
		}
	}
	return nil
}

// tombstone erases a message's content for everyone: the row stays, so
// its sequence number and receipts do, and a quote of it in a reply goes
// too (a copy of the content).
func tombstone(ctx context.Context, tx *Tx, id string, at time.Time) error {
	for _, q := range []struct{ what, sql string }{
		{"erase message", `UPDATE messages SET content = '', media_id = NULL, mentions = NULL, reply_to = NULL,
			quote_sender = NULL, quote_type = NULL, quote_content = NULL, edited_at = NULL, deleted_at = ? WHERE id = ?`},
		{"erase quotes", `UPDATE messages SET quote_type = 'deleted', quote_content = '' WHERE reply_to = ? AND quote_sender IS NOT NULL`},
		{"delete reactions", `DELETE FROM reactions WHERE message_id = ?`},
		{"delete pins", `DELETE FROM pins WHERE message_id = ?`},
	} {
		args := []any{id}
		if q.what == "erase message" {
			args = []any{ms(at), id}
		}
		if _, err := tx.ExecContext(ctx, q.sql, args...); err != nil {
			return fmt.Errorf("%s: %w", q.what, err)
		}
	}
	return nil
}

// writeReactions writes each user's last reaction of the cycle to each
// message where it differs from what was stored. A request overtaken by
// the same user's later one loses its result (no event: the later one's
// tells it); a last one that changed nothing is marked Unchanged.
func writeReactions(ctx context.Context, tx *Tx, reqs []messaging.UpdateRequest, now, before map[reactKey]string,
	last map[reactKey]int, deleted map[string]bool, out []messaging.UpdateResult) error {
	for i, r := range reqs {
		if r.Kind != messaging.UpdateReaction || out[i].Err != nil {
			continue
		}
		k := reactKey{r.MessageID, r.UserID}
		switch {
		case last[k] != i || deleted[k.msg]:
			// Overtaken in this cycle: the later request's event tells it.
			out[i].Update = messaging.Update{}
			continue
		case now[k] == before[k]:
			out[i].Unchanged = true // the acting device alone hears it holds
			continue
		}
		var err error
		if now[k] == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM reactions WHERE message_id = ? AND user_id = ?`, k.msg, k.user)
		} else {
			_, err = tx.ExecContext(ctx, `
				INSERT INTO reactions (message_id, user_id, conversation_id, emoji, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (message_id, user_id) DO UPDATE SET emoji = excluded.emoji, at = excluded.at`,
				k.msg, k.user, out[i].Update.ConversationID, now[k], ms(r.At))
		}
		if err != nil {
			return fmt.Errorf("write reaction: %w", err)
		}
	}
	return nil
}

// lockTargets reads the messages the updates name, holding their rows
// (in id order) where several writers exist: two nodes' edit and delete
// of one message then apply one after the other, each seeing the other.
func lockTargets(ctx context.Context, tx *Tx, reqs []messaging.UpdateRequest) (map[string]*target, error) {
	ids := slices.Sorted(maps.Keys(setOf(reqs, func(r messaging.UpdateRequest) string { return r.MessageID })))
	set := newRowSet("i", textCol("id"))
	for _, id := range ids {
		set.add(id)
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `
		SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.message_type, coalesce(m.media_id, ''), m.created_at,
		       m.deleted_at IS NOT NULL, m.withheld, c.type, c.last_seq, m.expires_at
		  FROM `+table+` JOIN messages m ON m.id = i.id JOIN conversations c ON c.id = m.conversation_id
		 ORDER BY m.id`+tx.d.forUpdateOf("m"), args...)
	if err != nil {
		return nil, fmt.Errorf("find updated messages: %w", err)
	}
	defer rows.Close()
	out := map[string]*target{}
	for rows.Next() {
		t := &target{}
		var created, withheld int64
		var expires sql.NullInt64
		var typ string
		if err := rows.Scan(&t.id, &t.conv, &t.seq, &t.sender, &t.typ, &t.media, &created, &t.deleted, &withheld, &typ, &t.lastSeq, &expires); err != nil {
			return nil, err
		}
		t.expires = timeOf(expires)
		t.created, t.withheld, t.group = fromMS(created), withheld != 0, typ == conversations.TypeGroup
		out[t.id] = t
	}
	return out, rows.Err()
}

func loadActors(ctx context.Context, tx *Tx, reqs []messaging.UpdateRequest, targets map[string]*target) (map[memberKey]*actor, error) {
	keys := map[memberKey]bool{}
	for _, r := range reqs {
		if t := targets[r.MessageID]; t != nil {
			keys[memberKey{t.conv, r.UserID}] = true
		}
	}
	out := map[memberKey]*actor{}
	if len(keys) == 0 {
		return out, nil
	}
	set := newRowSet("k", textCol("c"), textCol("u"))
	for k := range keys {
		set.add(k.conv, k.user)
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `
		SELECT mb.conversation_id, mb.user_id, mb.joined_seq, mb.left_seq, mb.role
		  FROM `+table+` JOIN members mb ON mb.conversation_id = k.c AND mb.user_id = k.u`, args...)
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k memberKey
		a := &actor{}
		var left sql.NullInt64
		var role string
		if err := rows.Scan(&k.conv, &k.user, &a.joined, &left, &role); err != nil {
			return nil, err
		}
		a.left, a.hasLeft, a.admin = left.Int64, left.Valid, role == conversations.RoleAdmin
		out[k] = a
	}
	return out, rows.Err()
}

// loadHidden reads who hid each target ("delete for me").
func loadHidden(ctx context.Context, tx *Tx, targets map[string]*target) (map[reactKey]bool, error) {
	out := map[reactKey]bool{}
	if len(targets) == 0 {
		return out, nil
	}
	set := newRowSet("i", textCol("id"))
	for id := range targets {
		set.add(id)
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `SELECT h.message_id, h.user_id FROM `+table+` JOIN hidden_messages h ON h.message_id = i.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find hidden messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k reactKey
		if err := rows.Scan(&k.msg, &k.user); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// loadReactions reads the reacting users' current reactions.
func loadReactions(ctx context.Context, tx *Tx, reqs []messaging.UpdateRequest) (map[reactKey]string, error) {
	out := map[reactKey]string{}
	set := newRowSet("k", textCol("m"), textCol("u"))
	for _, r := range reqs {
		if r.Kind == messaging.UpdateReaction {
			set.add(r.MessageID, r.UserID)
		}
	}
	if set.len() == 0 {
		return out, nil
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `SELECT r.message_id, r.user_id, r.emoji FROM `+table+` JOIN reactions r ON r.message_id = k.m AND r.user_id = k.u`, args...)
	if err != nil {
		return nil, fmt.Errorf("find reactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k reactKey
		var emoji string
		if err := rows.Scan(&k.msg, &k.user, &emoji); err != nil {
			return nil, err
		}
		out[k] = emoji
	}
	return out, rows.Err()
}

// fanOut numbers and stores an event of its conversation for each change
// — one row whatever the number of members — and finds whom it reaches
// live: every current member who can see the message (a "delete for me"
// its user alone).
func fanOut(ctx context.Context, tx *Tx, targets map[string]*target, hidden map[reactKey]bool, out []messaging.UpdateResult) error {
	counts := map[string]int64{}
	for _, r := range out {
		if r.Update.Kind != "" && !r.Unchanged {
			counts[r.Update.ConversationID]++
		}
	}
	if len(counts) == 0 {
		return nil
	}
	type member struct {
		user   string
		joined int64
	}
	members := map[string][]member{}
	set := newRowSet("c", textCol("id"))
	for c := range counts {
		set.add(c)
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `
		SELECT mb.conversation_id, mb.user_id, mb.joined_seq FROM `+table+`
		  JOIN members mb ON mb.conversation_id = c.id AND mb.left_seq IS NULL
		 ORDER BY mb.conversation_id, mb.user_id`, args...)
	if err != nil {
		return fmt.Errorf("find members to tell: %w", err)
	}
	for rows.Next() {
		var conv string
		var m member
		if err := rows.Scan(&conv, &m.user, &m.joined); err != nil {
			rows.Close()
			return err
		}
		members[conv] = append(members[conv], m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	blocked, err := reactionBlocks(ctx, tx, out)
	if err != nil {
		return err
	}
	next, err := takeNumbers(ctx, tx, "update_seqs", "conversation_id", counts)
	if err != nil {
		return fmt.Errorf("number update events: %w", err)
	}
	ins := newRowSet("v", textCol("c"), intCol("q"), textCol("m"), intCol("ms"), intCol("af"), textCol("k"), textCol("a"), intCol("at"))
	for i := range out {
		u := out[i].Update
		if u.Kind == "" || out[i].Unchanged {
			continue
		}
		t := targets[u.MessageID]
		out[i].EventID = next[u.ConversationID]
		next[u.ConversationID]++
		ins.add(u.ConversationID, out[i].EventID, u.MessageID, t.seq, t.lastSeq, u.Kind, u.ActorID, ms(u.At))
		if u.Kind == messaging.UpdateHide {
			out[i].Recipients = []string{u.ActorID}
			continue
		}
		for _, m := range members[u.ConversationID] {
			if t.seq > m.joined && (!t.withheld || m.user == t.sender) && !hidden[reactKey{t.id, m.user}] &&
				!(u.Kind == messaging.UpdateReaction && blocked[blockKey{m.user, u.ActorID}]) {
				out[i].Recipients = append(out[i].Recipients, m.user)
			}
		}
	}
	for _, ins := range ins.chunks(tx.d) {
		table, args := ins.table(tx.d)
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO update_events (conversation_id, seq, message_id, message_seq, after_seq, kind, actor_id, at)
			SELECT v.c, v.q, v.m, v.ms, v.af, v.k, v.a, v.at FROM `+table+` WHERE true`, args...); err != nil {
			return fmt.Errorf("insert update events: %w", err)
		}
	}
	return nil
}

// reactionBlocks reads the blocks against the users who react: a user
// is not shown the reactions of a user it blocks.
func reactionBlocks(ctx context.Context, tx *Tx, out []messaging.UpdateResult) (map[blockKey]bool, error) {
	set := newRowSet("a", textCol("id"))
	seen := map[string]bool{}
	for _, r := range out {
		if r.Update.Kind == messaging.UpdateReaction && !seen[r.Update.ActorID] {
			seen[r.Update.ActorID] = true
			set.add(r.Update.ActorID)
		}
	}
	blocked := map[blockKey]bool{}
	if set.len() == 0 {
		return blocked, nil
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `SELECT b.user_id, b.blocked_id FROM `+table+` JOIN blocks b ON b.blocked_id = a.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find blocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k blockKey
		if err := rows.Scan(&k.user, &k.blocked); err != nil {
			return nil, err
		}
		blocked[k] = true
	}
	return blocked, rows.Err()
}

// takeNumbers takes counts[key] consecutive event numbers for each key
// from a counter table (key column, seq), under the counter rows' locks
// taken in key order: events then commit in number order on every node,
// and two cycles never wait for each other in a cycle. It returns each
// key's first number.
func takeNumbers(ctx context.Context, tx *Tx, counters, key string, counts map[string]int64) (map[string]int64, error) {
	set := newRowSet("v", textCol("k"), intCol("n"))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		set.add(k, counts[k])
	}
	table, args := set.table(tx.d)
	rows, err := tx.QueryContext(ctx, `
		INSERT INTO `+counters+` (`+key+`, seq) SELECT v.k, v.n FROM `+table+` WHERE true ORDER BY v.k
		ON CONFLICT (`+key+`) DO UPDATE SET seq = `+counters+`.seq + excluded.seq
		RETURNING `+key+`, seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	next := make(map[string]int64, len(counts))
	for rows.Next() {
		var k string
		var last int64
		if err := rows.Scan(&k, &last); err != nil {
			return nil, err
		}
		next[k] = last - counts[k] + 1
	}
	return next, rows.Err()
}

func setOf[T any](xs []T, key func(T) string) map[string]bool {
	out := make(map[string]bool, len(xs))
	for _, x := range xs {
		out[key(x)] = true
	}
	return out
}

// updateColumns read an update event with what a member needs to tell
// whether it may see it (e: update_events, mb: its members row, m: the
// message if it is still there, r: the actor's reaction).
const updateColumns = `e.conversation_id, e.seq, e.message_id, e.message_seq, e.after_seq, e.kind, e.actor_id, e.at,
	mb.user_id, mb.joined_seq, mb.left_seq, m.id IS NOT NULL, coalesce(m.sender_id, ''), coalesce(m.content, ''),
	m.edited_at, m.deleted_at IS NOT NULL, coalesce(m.withheld, 0), r.emoji,
	EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = mb.user_id AND h.message_id = e.message_id),
	e.kind = 'reaction' AND EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = mb.user_id AND b.blocked_id = e.actor_id)`

// updateJoins take the window's NotBefore and Now: a message outside it
// is gone.
const updateJoins = `LEFT JOIN messages m ON m.id = e.message_id AND m.created_at >= ? AND (m.expires_at IS NULL OR m.expires_at > ?)
	LEFT JOIN reactions r ON r.message_id = e.message_id AND r.user_id = e.actor_id`

// scanUpdate reads one row of updateColumns; ok is whether its member may
// be told of it, as the message is now.
func scanUpdate(rows *sql.Rows) (e messaging.UpdateEvent, ok bool, err error) {
	var at, msgSeq, afterSeq, joined, withheld int64
	var left, edited sql.NullInt64
	var user string
	var exists, deleted, hidden, blocked bool
	var emoji sql.NullString
	if err := rows.Scan(&e.ConversationID, &e.EventID, &e.MessageID, &msgSeq, &afterSeq, &e.Kind, &e.ActorID, &at,
		&user, &joined, &left, &exists, &e.SenderID, &e.Content, &edited, &deleted, &withheld, &emoji, &hidden, &blocked); err != nil {
		return e, false, err
	}
	e.At, e.Emoji = fromMS(at), emoji.String
	switch {
	case !exists, msgSeq <= joined, left.Valid && afterSeq >= left.Int64:
		return e, false, nil // gone, or outside the member's window
	case withheld != 0 && e.SenderID != user:
		return e, false, nil
	case e.Kind == messaging.UpdateHide:
		return e, e.ActorID == user, nil
	case hidden, blocked:
		return e, false, nil
	case deleted && (e.Kind == messaging.UpdateEdit || e.Kind == messaging.UpdateReaction):
		return e, false, nil // the deletion's own event tells it
	}
	if e.Kind == messaging.UpdateEdit {
		e.At = timeOf(edited) // the latest edit's content and time
	} else {
		e.Content = ""
	}
	return e, true, nil
}

// PendingUpdates implements messaging.Store.
func (s *Store) PendingUpdates(ctx context.Context, userID, deviceID string, cur messaging.UpdateCursor, limit int, w messaging.Window) (messaging.UpdatePage, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+updateColumns+`
		  FROM device_cursors dc
		  JOIN members mb ON mb.conversation_id = dc.conversation_id AND mb.user_id = ?
		  JOIN update_events e ON e.conversation_id = dc.conversation_id AND e.seq > dc.update_seq
		  `+updateJoins+`
		 WHERE dc.device_id = ? AND (e.conversation_id, e.seq) > (?, ?)
		 ORDER BY e.conversation_id, e.seq
		 LIMIT ?`, userID, ms(w.NotBefore), ms(w.Now), deviceID, cur.ConversationID, cur.EventID, limit)
	if err != nil {
		return messaging.UpdatePage{}, fmt.Errorf("list pending updates: %w", err)
	}
	defer rows.Close()
	p := messaging.UpdatePage{Passed: map[string]int64{}}
	n := 0
	for rows.Next() {
		e, ok, err := scanUpdate(rows)
		if err != nil {
			return messaging.UpdatePage{}, err
		}
		n++
		p.Passed[e.ConversationID] = e.EventID
		p.Next = messaging.UpdateCursor{ConversationID: e.ConversationID, EventID: e.EventID}
		if ok {
			p.Events = append(p.Events, e)
		}
	}
	p.More = n == limit
	return p, rows.Err()
}

// UpdatesRange implements messaging.Store.
func (s *Store) UpdatesRange(ctx context.Context, userID, conversationID string, afterID, beforeID int64, w messaging.Window) ([]messaging.UpdateEvent, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+updateColumns+`
		  FROM update_events e
		  JOIN members mb ON mb.conversation_id = e.conversation_id AND mb.user_id = ?
		  `+updateJoins+`
		 WHERE e.conversation_id = ? AND e.seq > ? AND e.seq < ?
		 ORDER BY e.seq`, userID, ms(w.NotBefore), ms(w.Now), conversationID, afterID, beforeID)
	if err != nil {
		return nil, fmt.Errorf("list update events: %w", err)
	}
	defer rows.Close()
	var out []messaging.UpdateEvent
	for rows.Next() {
		e, ok, err := scanUpdate(rows)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}

// UpdateCursor implements messaging.Store.
func (s *Store) UpdateCursor(ctx context.Context, deviceID, conversationID string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx,
		`SELECT update_seq FROM device_cursors WHERE device_id = ? AND conversation_id = ?`, deviceID, conversationID).Scan(&id)
	return id, notFound(err)
}

// SetUpdateCursors implements messaging.Store.
func (s *Store) SetUpdateCursors(ctx context.Context, deviceID string, cursors map[string]int64) error {
	set := newRowSet("v", textCol("c"), intCol("s"))
	for c, id := range cursors {
		set.add(c, id)
	}
	table, args := set.table(s.w.d)
	if _, err := s.w.ExecContext(ctx, `
		UPDATE device_cursors SET update_seq = greatest(device_cursors.update_seq, v.s)
		  FROM `+table+`
		 WHERE device_cursors.device_id = ? AND device_cursors.conversation_id = v.c`, append(args, deviceID)...); err != nil {
		return fmt.Errorf("set update cursors: %w", err)
	}
	return nil
}

// reactionsOf reads the reactions to msgs that viewer may see (not those
// of users it blocks) and sets each message's Reactions: one entry per
// emoji, the most used first (ties: the first used first).
func reactionsOf(ctx context.Context, q querier, viewer string, msgs []messaging.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]any, len(msgs))
	idx := make(map[string]int, len(msgs))
	for i, m := range msgs {
		ids[i], idx[m.ID] = m.ID, i
	}
	rows, err := q.QueryContext(ctx, `
		SELECT r.message_id, r.emoji, r.user_id FROM reactions r
		 WHERE r.message_id IN (`+placeholders(len(ids))+`)
		   AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = ? AND b.blocked_id = r.user_id)
		 ORDER BY r.at, r.user_id`, append(ids, viewer)...)
	if err != nil {
		return fmt.Errorf("read reactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, emoji, user string
		if err := rows.Scan(&id, &emoji, &user); err != nil {
			return err
		}
		m := &msgs[idx[id]]
		j := slices.IndexFunc(m.Reactions, func(r messaging.ReactionCount) bool { return r.Emoji == emoji })
		if j < 0 {
			m.Reactions = append(m.Reactions, messaging.ReactionCount{Emoji: emoji})
			j = len(m.Reactions) - 1
		}
		m.Reactions[j].UserIDs = append(m.Reactions[j].UserIDs, user)
	}
	for i := range msgs {
		slices.SortStableFunc(msgs[i].Reactions, func(a, b messaging.ReactionCount) int { return len(b.UserIDs) - len(a.UserIDs) })
	}
	return rows.Err()
}
