package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/conversations"
)

var _ conversations.Store = (*Store)(nil)

// CreateDirect implements conversations.Store.
func (s *Store) CreateDirect(ctx context.Context, c conversations.Conversation, pairKey string) (conversations.Conversation, bool, error) {
	created := false
	err := s.tx(ctx, func(tx *Tx) error {
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT id FROM conversations WHERE pair_key = ?`, pairKey).Scan(&existing)
		if err == nil {
			c.ID = existing
			return nil
		}
		if err != sql.ErrNoRows {
			return fmt.Errorf("find pair: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO conversations (id, type, name, pair_key, created_by, created_at, last_seq, last_activity_at, member_count)
			 VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0)`,
			c.ID, c.Type, c.Name, pairKey, c.CreatedBy, ms(c.CreatedAt), ms(c.LastActivityAt)); err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		for _, m := range c.Members {
			if err := (convTx{tx: tx, ctx: ctx}).AddMember(ctx, c.ID, m, len(c.Members)); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if isUniqueViolation(err) {
		// The same pair was created concurrently (by another node): the
		// other one won, and it is the pair's conversation.
		return s.CreateDirect(ctx, c, pairKey)
	}
	if err != nil {
		return conversations.Conversation{}, false, err
	}
	if !created {
		c, err = s.Conversation(ctx, c.ID)
		return c, false, err
	}
	return c, true, nil
}

// Conversation implements conversations.Store.
func (s *Store) Conversation(ctx context.Context, id string) (conversations.Conversation, error) {
	return loadConversation(ctx, s.r, id, "")
}

// Member implements conversations.Store.
func (s *Store) Member(ctx context.Context, conversationID, userID string) (conversations.Member, error) {
	m := conversations.Member{UserID: userID}
	var joined int64
	err := s.r.QueryRowContext(ctx,
		`SELECT role, joined_at, joined_seq FROM members WHERE conversation_id = ? AND user_id = ? AND left_seq IS NULL`, conversationID, userID).
		Scan(&m.Role, &joined, &m.JoinedSeq)
	if err != nil {
		return conversations.Member{}, notFound(err)
	}
	m.JoinedAt = fromMS(joined)
	return m, nil
}

// ConversationsOf implements conversations.Store.
func (s *Store) ConversationsOf(ctx context.Context, userID string, notBefore, now time.Time) ([]conversations.Summary, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT c.id, c.type, c.name, c.created_by, c.created_at, c.last_seq, c.last_activity_at,
		       c.description, c.only_admins_send, c.only_admins_edit_info, c.disappear_seconds,
		       (SELECT count(*) FROM messages m
		         WHERE m.conversation_id = c.id AND m.seq > greatest(me.read_seq, me.joined_seq)
		           AND m.sender_id != me.user_id AND m.created_at >= ? AND m.withheld = 0
		           AND (m.expires_at IS NULL OR m.expires_at > ?)
		           AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = me.user_id AND h.message_id = m.id)),
		       (SELECT count(*) FROM messages m
		         WHERE m.conversation_id = c.id AND m.seq > greatest(me.read_seq, me.joined_seq)
		           AND m.sender_id != me.user_id AND m.created_at >= ? AND m.withheld = 0
		           AND (m.expires_at IS NULL OR m.expires_at > ?)
		           AND m.mentions LIKE '%' || me.user_id || '%'
		           AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = me.user_id AND h.message_id = m.id)),
		       lm.id, lm.sender_id, lm.seq, lm.message_type, lm.content, lm.created_at, lm.deleted_at IS NOT NULL, lm.edited_at
		  FROM members me
		  JOIN conversations c ON c.id = me.conversation_id
		  LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = (
		         SELECT v.seq FROM messages v
		          WHERE v.conversation_id = c.id AND (v.withheld = 0 OR v.sender_id = me.user_id)
		            AND (v.expires_at IS NULL OR v.expires_at > ?)
		            AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = me.user_id AND h.message_id = v.id)
		          ORDER BY v.seq DESC LIMIT 1)
		       AND lm.seq > me.joined_seq AND lm.created_at >= ?
		 WHERE me.user_id = ? AND me.left_seq IS NULL
		   AND NOT (c.type = '1:1' AND c.created_by != me.user_id
		            AND EXISTS (SELECT 1 FROM blocks bl WHERE bl.user_id = me.user_id AND bl.blocked_id = c.created_by)
		            AND NOT EXISTS (SELECT 1 FROM messages v
		                             WHERE v.conversation_id = c.id AND v.withheld = 0 AND v.created_at >= ?))
		 ORDER BY c.last_activity_at DESC, c.id DESC`, ms(notBefore), ms(now), ms(notBefore), ms(now), ms(now), ms(notBefore), userID, ms(notBefore))
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	var out []conversations.Summary
	var ids []string
	for rows.Next() {
		var sm conversations.Summary
		var created, activity int64
		var lmID, lmSender, lmType, lmContent sql.NullString
		var lmSeq, lmCreated, lmEdited sql.NullInt64
		var lmDeleted sql.NullBool
		var adminsSend, adminsEdit int
		if err := rows.Scan(&sm.ID, &sm.Type, &sm.Name, &sm.CreatedBy, &created, &sm.LastSeq, &activity,
			&sm.Description, &adminsSend, &adminsEdit, &sm.DisappearSeconds, &sm.Unread, &sm.UnreadMentions,
			&lmID, &lmSender, &lmSeq, &lmType, &lmContent, &lmCreated, &lmDeleted, &lmEdited); err != nil {
			rows.Close()
			return nil, err
		}
		sm.CreatedAt, sm.LastActivityAt = fromMS(created), fromMS(activity)
		sm.OnlyAdminsSend, sm.OnlyAdminsEditInfo = adminsSend != 0, adminsEdit != 0
		if lmID.Valid {
			sm.LastMessage = &conversations.LastMessage{
				ID: lmID.String, SenderID: lmSender.String, Seq: lmSeq.Int64, MessageType: lmType.String,
				Content: lmContent.String, CreatedAt: fromMS(lmCreated.Int64), Deleted: lmDeleted.Bool, EditedAt: timeOf(lmEdited),
			}
		}
		out = append(out, sm)
		ids = append(ids, sm.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	members, err := s.membersOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	pinned := map[string][]string{}
	err = s.queryIn(ctx, `SELECT conversation_id, message_id FROM pins WHERE conversation_id IN (%s)
		ORDER BY pinned_at, message_id`, ids, func(rows *sql.Rows) error {
		var conv, id string
		if err := rows.Scan(&conv, &id); err != nil {
			return err
		}
		pinned[conv] = append(pinned[conv], id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	for i := range out {
		out[i].Members, out[i].Pinned = members[out[i].ID], pinned[out[i].ID]
	}
	return out, nil
}

func (s *Store) membersOf(ctx context.Context, ids []string) (map[string][]conversations.Member, error) {
	out := make(map[string][]conversations.Member, len(ids))
	err := s.queryIn(ctx, `SELECT conversation_id, user_id, role, joined_at, joined_seq FROM members
		WHERE conversation_id IN (%s) AND left_seq IS NULL ORDER BY joined_at, user_id`, ids, func(rows *sql.Rows) error {
		var conv string
		var m conversations.Member
		var joined int64
		if err := rows.Scan(&conv, &m.UserID, &m.Role, &joined, &m.JoinedSeq); err != nil {
			return err
		}
		m.JoinedAt = fromMS(joined)
		out[conv] = append(out[conv], m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return out, nil
}

// queryIn runs query, whose %s takes an IN list, over ids in chunks (so
// no statement passes the engines' parameter limits), calling row for
// each row.
func (s *Store) queryIn(ctx context.Context, query string, ids []string, row func(*sql.Rows) error) error {
	return s.queryInAfter(ctx, query, nil, ids, row)
}

// queryInAfter is queryIn for a query whose other parameters, first come
// before its IN list.
func (s *Store) queryInAfter(ctx context.Context, query string, first []any, ids []string, row func(*sql.Rows) error) error {
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := append(make([]any, 0, len(first)+len(part)), first...)
		for _, id := range part {
			args = append(args, id)
		}
		rows, err := s.r.QueryContext(ctx, fmt.Sprintf(query, placeholders(len(part))), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// MissingUsers implements conversations.Store.
func (s *Store) MissingUsers(ctx context.Context, ids []string) ([]string, error) {
	found := make(map[string]bool, len(ids))
	err := s.queryIn(ctx, `SELECT id FROM users WHERE id IN (%s) AND deleted_at IS NULL`, ids, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		found[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Memberships implements conversations.Store.
func (s *Store) Memberships(ctx context.Context, userID string) ([]string, error) {
	return scanStrings(s.r.QueryContext(ctx,
		`SELECT conversation_id FROM members WHERE user_id = ? AND left_seq IS NULL ORDER BY conversation_id`, userID))
}
