package sqlstore

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/store"
)

// Group info and invite links (migrations/0014_group_info.sql).

func (t convTx) SetInfo(_ context.Context, conversationID string, info conversations.Info) error {
	if _, err := t.tx.ExecContext(t.ctx,
		`UPDATE conversations SET description = ?, only_admins_send = ?, only_admins_edit_info = ? WHERE id = ?`,
		info.Description, boolInt(info.OnlyAdminsSend), boolInt(info.OnlyAdminsEditInfo), conversationID); err != nil {
		return fmt.Errorf("set group info: %w", err)
	}
	return nil
}

func (t convTx) Invite(_ context.Context, code string) (conversations.Invite, error) {
	return loadInvite(t.ctx, t.tx, code)
}

func (t convTx) CreateInvite(_ context.Context, inv conversations.Invite) error {
	if _, err := t.tx.ExecContext(t.ctx,
		`INSERT INTO invites (code, conversation_id, created_by, created_at) VALUES (?, ?, ?, ?)`,
		inv.Code, inv.ConversationID, inv.CreatedBy, ms(inv.CreatedAt)); err != nil {
		return fmt.Errorf("insert invite: %w", err)
	}
	return nil
}

func (t convTx) RevokeInvite(_ context.Context, conversationID, code string) error {
	res, err := t.tx.ExecContext(t.ctx, `DELETE FROM invites WHERE code = ? AND conversation_id = ?`, code, conversationID)
	if err != nil {
		return fmt.Errorf("revoke invite: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Invite implements conversations.Store.
func (s *Store) Invite(ctx context.Context, code string) (conversations.Invite, error) {
	return loadInvite(ctx, s.r, code)
}

// Invites implements conversations.Store.
func (s *Store) Invites(ctx context.Context, conversationID string) ([]conversations.Invite, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT code, conversation_id, created_by, created_at FROM invites
		  WHERE conversation_id = ? ORDER BY created_at, code`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	var out []conversations.Invite
	for rows.Next() {
		var inv conversations.Invite
		var created int64
		if err := rows.Scan(&inv.Code, &inv.ConversationID, &inv.CreatedBy, &created); err != nil {
			return nil, err
		}
		inv.CreatedAt = fromMS(created)
		out = append(out, inv)
	}
	return out, rows.Err()
}

func loadInvite(ctx context.Context, q querier, code string) (conversations.Invite, error) {
	inv := conversations.Invite{Code: code}
	var created int64
	err := q.QueryRowContext(ctx, `SELECT conversation_id, created_by, created_at FROM invites WHERE code = ?`, code).
		Scan(&inv.ConversationID, &inv.CreatedBy, &created)
	if err != nil {
		return conversations.Invite{}, notFound(err)
	}
	inv.CreatedAt = fromMS(created)
	return inv, nil
}
