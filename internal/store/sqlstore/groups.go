package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/store"
)

var _ conversations.TxStore = (*Store)(nil)

// convTx is a change's view of the commit cycle's transaction. It runs
// every statement with the cycle's context, not the one its caller passes:
// the transaction is the committer's, and a caller that gives up must not
// cut a statement short in the middle of other work.
type convTx struct {
	tx  *Tx
	b   *logBatch
	ctx context.Context
}

func (t convTx) Conversation(_ context.Context, id string) (conversations.Conversation, error) {
	return loadConversation(t.ctx, t.tx, id, t.tx.d.forUpdate)
}

// querier is what db and Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadConversation reads a conversation and its current members; lock
// (the dialect's FOR UPDATE, or "") holds the conversation's row.
func loadConversation(ctx context.Context, q querier, id, lock string) (conversations.Conversation, error) {
	var c conversations.Conversation
	var created, activity int64
	var adminsSend, adminsEdit int
	err := q.QueryRowContext(ctx,
		`SELECT id, type, name, created_by, created_at, last_seq, last_activity_at,
		        description, only_admins_send, only_admins_edit_info, disappear_seconds FROM conversations WHERE id = ?`+lock, id).
		Scan(&c.ID, &c.Type, &c.Name, &c.CreatedBy, &created, &c.LastSeq, &activity, &c.Description, &adminsSend, &adminsEdit,
			&c.DisappearSeconds)
	if err != nil {
		return conversations.Conversation{}, notFound(err)
	}
	c.CreatedAt, c.LastActivityAt = fromMS(created), fromMS(activity)
	c.OnlyAdminsSend, c.OnlyAdminsEditInfo = adminsSend != 0, adminsEdit != 0
	c.Members, err = scanMembers(q.QueryContext(ctx,
		`SELECT user_id, role, joined_at, joined_seq FROM members
		  WHERE conversation_id = ? AND left_seq IS NULL ORDER BY joined_at, user_id`, id))
	if err != nil {
		return c, err
	}
	c.Pinned, err = scanStrings(q.QueryContext(ctx,
		`SELECT message_id FROM pins WHERE conversation_id = ? ORDER BY pinned_at, message_id`, id))
	if err != nil {
		return c, fmt.Errorf("list pins: %w", err)
	}
	return c, nil
}

// PinTarget implements conversations.Tx.
func (t convTx) PinTarget(_ context.Context, conversationID, messageID string) (conversations.PinTarget, error) {
	var p conversations.PinTarget
	var withheld int
	err := t.tx.QueryRowContext(t.ctx,
		`SELECT seq, message_type, sender_id, withheld FROM messages WHERE id = ? AND conversation_id = ?`,
		messageID, conversationID).Scan(&p.Seq, &p.Type, &p.SenderID, &withheld)
	p.Withheld = withheld != 0
	return p, notFound(err)
}

// Pin implements conversations.Tx.
func (t convTx) Pin(_ context.Context, conversationID, messageID, by string, at time.Time) error {
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO pins (conversation_id, message_id, pinned_by, pinned_at) VALUES (?, ?, ?, ?)`,
		conversationID, messageID, by, ms(at)); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	return nil
}

// Unpin implements conversations.Tx.
func (t convTx) Unpin(_ context.Context, conversationID, messageID string) (bool, error) {
	res, err := t.tx.ExecContext(t.ctx, `DELETE FROM pins WHERE conversation_id = ? AND message_id = ?`, conversationID, messageID)
	if err != nil {
		return false, fmt.Errorf("unpin: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func scanMembers(rows *sql.Rows, err error) ([]conversations.Member, error) {
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	var out []conversations.Member
	for rows.Next() {
		var m conversations.Member
		var joined int64
		if err := rows.Scan(&m.UserID, &m.Role, &joined, &m.JoinedSeq); err != nil {
			return nil, err
		}
		m.JoinedAt = fromMS(joined)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (t convTx) CreateGroup(_ context.Context, c conversations.Conversation) error {
	if _, err := t.tx.ExecContext(t.ctx,
		`INSERT INTO conversations (id, type, name, created_by, created_at, last_seq, last_activity_at, member_count,
		   description, only_admins_send, only_admins_edit_info)
		 VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?)`,
		c.ID, c.Type, c.Name, c.CreatedBy, ms(c.CreatedAt), ms(c.LastActivityAt),
		c.Description, boolInt(c.OnlyAdminsSend), boolInt(c.OnlyAdminsEditInfo)); err != nil {
		return fmt.Errorf("insert group: %w", err)
	}
	return nil
}

func (t convTx) AddMember(_ context.Context, conversationID string, m conversations.Member, max int) error {
	res, err := t.tx.ExecContext(t.ctx,
		`UPDATE conversations SET member_count = member_count + 1 WHERE id = ? AND member_count < ?`, conversationID, max)
	if err != nil {
		return fmt.Errorf("count member: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return conversations.ErrGroupFull
	}
	// A former member comes back as a new one: its window restarts here.
	if _, err := t.tx.ExecContext(t.ctx,
		`INSERT INTO members (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
		 VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (conversation_id, user_id) DO UPDATE SET role = excluded.role, joined_at = excluded.joined_at,
		   joined_seq = excluded.joined_seq, delivered_seq = excluded.delivered_seq, read_seq = excluded.read_seq,
		   left_seq = NULL`,
		conversationID, m.UserID, m.Role, ms(m.JoinedAt), m.JoinedSeq, m.JoinedSeq, m.JoinedSeq); err != nil {
		return fmt.Errorf("insert member: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx,
		`INSERT INTO device_cursors (device_id, conversation_id, delivered_seq, update_seq)
		 SELECT id, CAST(? AS TEXT), CAST(? AS BIGINT),
		        coalesce((SELECT us.seq FROM update_seqs us WHERE us.conversation_id = CAST(? AS TEXT)), 0)
		   FROM devices WHERE user_id = ?
		 ON CONFLICT (device_id, conversation_id) DO UPDATE SET delivered_seq = excluded.delivered_seq, update_seq = excluded.update_seq`,
		conversationID, m.JoinedSeq, conversationID, m.UserID); err != nil {
		return fmt.Errorf("insert device cursors: %w", err)
	}
	// A bot's webhook starts one before: the system message that added
	// it is how it learns it is in the conversation.
	if _, err := t.tx.ExecContext(t.ctx,
		`INSERT INTO webhook_cursors (bot_id, conversation_id, seq, update_seq)
		 SELECT bot_id, CAST(? AS TEXT), CAST(? AS BIGINT),
		        coalesce((SELECT us.seq FROM update_seqs us WHERE us.conversation_id = CAST(? AS TEXT)), 0)
		   FROM webhooks WHERE bot_id = ?
		 ON CONFLICT (bot_id, conversation_id) DO UPDATE SET seq = excluded.seq, update_seq = excluded.update_seq`,
		conversationID, m.JoinedSeq-1, conversationID, m.UserID); err != nil {
		return fmt.Errorf("insert webhook cursors: %w", err)
	}
	return nil
}

func (t convTx) RemoveMember(_ context.Context, conversationID, userID string, leftSeq int64) error {
	res, err := t.tx.ExecContext(t.ctx,
		`UPDATE members SET left_seq = ? WHERE conversation_id = ? AND user_id = ? AND left_seq IS NULL`,
		leftSeq, conversationID, userID)
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if _, err := t.tx.ExecContext(t.ctx,
		`UPDATE conversations SET member_count = member_count - 1 WHERE id = ?`, conversationID); err != nil {
		return fmt.Errorf("count member: %w", err)
	}
	return nil
}

func (t convTx) SetRole(_ context.Context, conversationID, userID, role string) error {
	if _, err := t.tx.ExecContext(t.ctx,
		`UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ? AND left_seq IS NULL`,
		role, conversationID, userID); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	return nil
}

func (t convTx) Rename(_ context.Context, conversationID, name string) error {
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE conversations SET name = ? WHERE id = ?`, name, conversationID); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}

func (t convTx) AppendSystem(_ context.Context, m conversations.SystemMessage) (int64, error) {
	return t.b.appendSystem(t.ctx, m)
}
