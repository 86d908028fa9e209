package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
)

var _ messaging.Store = (*Store)(nil)

// insertColumns are the columns a new message is written with; the rest
// of messageColumns, what it is read with, have their defaults or are set
// by later changes (an edit, a deletion).
const (
	insertColumns  = `id, conversation_id, seq, sender_id, sender_device_id, client_message_id, message_type, content, media_id, created_at, withheld, reply_to, quote_sender, quote_type, quote_content, mentions`
	messageColumns = insertColumns + `, edited_at, deleted_at, forwarded, expires_at`
)

// Commit implements messaging.Store: the group commit, the one writer of
// conversation logs and receipt state.
func (s *Store) Commit(ctx context.Context, b messaging.Batch) (messaging.Committed, error) {
	for attempt := 1; ; attempt++ {
		out, err := s.commit(ctx, b)
		// Another node stored one of the keys since this batch looked:
		// run it again, and the key is found.
		if isUniqueViolation(err) && attempt < maxTxAttempts {
			continue
		}
		return out, err
	}
}

func (s *Store) commit(ctx context.Context, b messaging.Batch) (messaging.Committed, error) {
	var out messaging.Committed
	err := s.tx(ctx, func(tx *Tx) error {
		// A transaction PostgreSQL aborted is run again whole: start clean.
		out = messaging.Committed{
			Sends:   make([]messaging.AppendResult, len(b.Sends)),
			Changes: make([]messaging.ChangeResult, len(b.Changes)),
		}
		lb := newLogBatch(tx)
		for i, fn := range b.Changes {
			r, err := lb.change(ctx, fn)
			if err != nil {
				return err
			}
			out.Changes[i] = r
		}
		if len(b.Sends) > 0 {
			res, err := lb.appendAll(ctx, b.Sends)
			if err != nil {
				return err
			}
			out.Sends = res
		}
		if err := lb.flush(ctx); err != nil {
			return err
		}
		var err error
		if out.Updates, err = applyUpdates(ctx, tx, b.Updates); err != nil {
			return err
		}
		ev := &eventBatch{}
		refused, err := applyReceipts(ctx, tx, b.Receipts, ev)
		if err != nil {
			return err
		}
		out.Refused = refused
		if b.Expire != nil {
			if out.Expired, err = expire(ctx, tx, *b.Expire, ev); err != nil {
				return err
			}
		}
		out.Statuses, err = ev.write(ctx, tx)
		return err
	})
	if err != nil {
		return messaging.Committed{}, err
	}
	return out, nil
}

// AppendMessages commits sends alone (tests and tools).
func (s *Store) AppendMessages(ctx context.Context, batch []messaging.Message) ([]messaging.AppendResult, error) {
	c, err := s.Commit(ctx, messaging.Batch{Sends: batch})
	return c.Sends, err
}

// ApplyReceipts commits receipts alone (tests and tools).
func (s *Store) ApplyReceipts(ctx context.Context, batch []messaging.ReceiptRequest) ([]messaging.StatusChange, []error, error) {
	c, err := s.Commit(ctx, messaging.Batch{Receipts: batch})
	return c.Statuses, c.Refused, err
}

// ExpireMessages commits an expiry alone (tests and tools).
func (s *Store) ExpireMessages(ctx context.Context, cutoff, now time.Time, limit int) (int, int64, []messaging.StatusChange, error) {
	c, err := s.Commit(ctx, messaging.Batch{Expire: &messaging.Expiry{Cutoff: cutoff, Now: now, Limit: limit}})
	return c.Expired.Messages, c.Expired.Bytes, c.Statuses, err
}

// Update implements conversations.TxStore by committing fn alone (tests
// and tools; the server submits changes to its committer instead).
func (s *Store) Update(ctx context.Context, fn func(conversations.Tx) error) error {
	c, err := s.Commit(ctx, messaging.Batch{Changes: []func(conversations.Tx) error{fn}})
	if err != nil {
		return err
	}
	return c.Changes[0].Err
}

// logBatch is one commit cycle's sequencing state: the one place where
// messages, the senders' and the server's, get their sequence numbers.
// Nobody else can change its conversations until it commits (SQLite's
// single writer; on PostgreSQL the rows locked by lockConversations or by
// a change), so it reads each conversation's members and last sequence
// number once and writes the new last number once, at the end.
type logBatch struct {
	tx      *Tx
	members map[string][]string
	seqs    map[string]*convSeq
	// own is, per conversation, the batch's latest run of consecutive
	// messages from one device (see flush).
	own map[string]*ownRun
	// system collects the system messages of the change being applied.
	system []messaging.AppendResult
	// blocks are the blocks between the members of the batch's 1:1s.
	blocks map[blockKey]bool
	// joined is each loaded member's joined_seq: a reply may only answer
	// a message after it (replies.go).
	joined map[memberKey]int64
}

// blockKey is a block: user blocks blocked.
type blockKey struct{ user, blocked string }

func newLogBatch(tx *Tx) *logBatch {
	return &logBatch{tx: tx, members: map[string][]string{}, seqs: map[string]*convSeq{}, own: map[string]*ownRun{},
		blocks: map[blockKey]bool{}, joined: map[memberKey]int64{}}
}

type ownRun struct {
	device      string
	first, last int64
}

type convSeq struct {
	last     int64
	dirty    bool
	activity time.Time
	// lastAt is the created_at (Unix ms) of the message at last, 0 if
	// none: see stamp.
	lastAt int64
	// A 1:1's creator, and whether its other member has written in it
	// (see migrations/0006_contacts.sql); answer is set by this batch.
	direct           bool
	createdBy        string
	answered, answer bool
	// adminsOnly is the group's only_admins_send, admins its admins, both
	// read under the lock of load (sends.go): only for sends.
	adminsOnly bool
	admins     []string
	// disappear is the conversation's disappear_seconds (0: off), read
	// with the lock: a send's expires_at is decided by it.
	disappear int64
}

// change applies one change of another domain inside a savepoint: a
// change that fails is undone alone and reported as its result. Changes
// come before the batch's sends, and each leaves the sequencing state
// written, so what it did is what the sends read next.
func (b *logBatch) change(ctx context.Context, fn func(conversations.Tx) error) (messaging.ChangeResult, error) {
	if _, err := b.tx.ExecContext(ctx, "SAVEPOINT change"); err != nil {
		return messaging.ChangeResult{}, fmt.Errorf("savepoint: %w", err)
	}
	b.system = nil
	err := fn(convTx{tx: b.tx, b: b, ctx: ctx})
	if err == nil {
		err = b.flush(ctx)
	}
	if err == nil {
		err = b.recipients(ctx)
	}
	// Whatever happened, what this batch knows of conversations and
	// members is stale now: read it again.
	clear(b.seqs)
	clear(b.members)
	clear(b.own)
	clear(b.blocks)
	clear(b.joined)
	if err != nil {
		if retryable(err) {
			return messaging.ChangeResult{}, err // the whole transaction runs again
		}
		if _, rerr := b.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT change"); rerr != nil {
			return messaging.ChangeResult{}, fmt.Errorf("roll back a change: %w", rerr)
		}
	}
	if _, rerr := b.tx.ExecContext(ctx, "RELEASE SAVEPOINT change"); rerr != nil {
		return messaging.ChangeResult{}, fmt.Errorf("release savepoint: %w", rerr)
	}
	if err != nil {
		return messaging.ChangeResult{Err: err}, nil
	}
	return messaging.ChangeResult{Messages: b.system}, nil
}

// recipients finds whom each system message of a change reaches: the
// members, after the change, whose window holds it (not one added by it,
// nor one it removed).
func (b *logBatch) recipients(ctx context.Context) error {
	for i := range b.system {
		m := &b.system[i].Message
		ids, err := scanStrings(b.tx.QueryContext(ctx,
			`SELECT user_id FROM members WHERE conversation_id = ? AND left_seq IS NULL AND joined_seq < ?`,
			m.ConversationID, m.Seq))
		if err != nil {
			return fmt.Errorf("list members: %w", err)
		}
		b.system[i].Members = ids
	}
	return nil
}

// appendSystem stores a server-written message with the conversation's
// next sequence number.
func (b *logBatch) appendSystem(ctx context.Context, sm conversations.SystemMessage) (int64, error) {
	cs, err := b.seqOf(ctx, sm.ConversationID)
	if err != nil {
		return 0, err
	}
	if cs == nil {
		return 0, store.ErrNotFound
	}
	m := messaging.Message{
		ID: sm.ID, ConversationID: sm.ConversationID, Seq: cs.last + 1, SenderID: sm.SenderID,
		SenderDevice: sm.SenderDevice, ClientMessageID: "system:" + sm.ID, Type: conversations.MessageTypeSystem,
		Content: sm.Content, CreatedAt: cs.stamp(sm.CreatedAt),
	}
	if _, err := b.tx.ExecContext(ctx, `INSERT INTO messages (`+insertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 0, NULL, NULL, NULL, NULL, NULL)`,
		m.ID, m.ConversationID, m.Seq, m.SenderID, m.SenderDevice, m.ClientMessageID, m.Type, m.Content, ms(m.CreatedAt)); err != nil {
		return 0, fmt.Errorf("insert system message: %w", err)
	}
	cs.last, cs.dirty, cs.activity = m.Seq, true, m.CreatedAt
	// The change may read the conversation back before the batch ends.
	if err := b.flushSeq(ctx, m.ConversationID, cs); err != nil {
		return 0, err
	}
	b.system = append(b.system, messaging.AppendResult{Message: m})
	return m.Seq, nil
}

// stamp returns the created_at of the conversation's next message: t, or
// its predecessor's if t is earlier. Times are read before the lock, and
// nodes' clocks differ, so a later number could otherwise carry an
// earlier time; the offline queue is read oldest first, and would then
// deliver a conversation's messages out of order.
func (cs *convSeq) stamp(t time.Time) time.Time {
	if ms(t) < cs.lastAt {
		t = time.UnixMilli(cs.lastAt)
	}
	cs.lastAt = ms(t)
	return t
}

// lastAtColumn reads the created_at of a conversation c's last message.
const lastAtColumn = `COALESCE((SELECT lm.created_at FROM messages lm WHERE lm.conversation_id = c.id AND lm.seq = c.last_seq), 0)`

// seqOf returns the conversation's numbering state, nil if there is no
// such conversation.
func (b *logBatch) seqOf(ctx context.Context, conv string) (*convSeq, error) {
	if cs, ok := b.seqs[conv]; ok {
		return cs, nil
	}
	cs := &convSeq{}
	var typ string
	var answered int
	err := b.tx.QueryRowContext(ctx, `SELECT c.last_seq, c.type, c.created_by, c.answered, c.disappear_seconds, `+lastAtColumn+`
		  FROM conversations c WHERE c.id = ?`, conv).
		Scan(&cs.last, &typ, &cs.createdBy, &answered, &cs.disappear, &cs.lastAt)
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
func (b *logBatch) flush(ctx context.Context) error {
	for conv, r := range b.own {
		if _, err := b.tx.ExecContext(ctx,
			`UPDATE device_cursors SET delivered_seq = ?
			  WHERE device_id = ? AND conversation_id = ? AND delivered_seq >= ? AND delivered_seq < ?`,
			r.last, r.device, conv, r.first-1, r.last); err != nil {
			return fmt.Errorf("advance sender cursor: %w", err)
		}
	}
	clear(b.own)
	for id, cs := range b.seqs {
		if err := b.flushSeq(ctx, id, cs); err != nil {
			return err
		}
	}
	return nil
}

func (b *logBatch) flushSeq(ctx context.Context, id string, cs *convSeq) error {
	if cs == nil || !cs.dirty {
		return nil
	}
	// A batch of withheld messages alone moves no activity (activity is
	// zero then): the recipient's list must not show that anything came.
	if _, err := b.tx.ExecContext(ctx,
		`UPDATE conversations SET last_seq = ?, last_activity_at = greatest(last_activity_at, ?), answered = greatest(answered, ?) WHERE id = ?`,
		cs.last, ms(cs.activity), boolInt(cs.answer), id); err != nil {
		return fmt.Errorf("write sequence number: %w", err)
	}
	cs.dirty = false
	return nil
}

func scanStrings(rows *sql.Rows, err error) ([]string, error) { return store.ScanStrings(rows, err) }
