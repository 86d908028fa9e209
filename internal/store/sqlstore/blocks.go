package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/blocks"
	"github.com/parleychat/parley/internal/store"
)

var _ blocks.Store = (*Store)(nil)

// SetBlock implements blocks.Store. A block is a row; the insert selects
// the blocked user from users, so an unknown one inserts nothing, and a
// block again inserts nothing either: only then a second statement tells
// the two apart.
func (s *Store) SetBlock(ctx context.Context, userID, blockedID string, blocked bool, at time.Time) (bool, error) {
	var res sql.Result
	var err error
	if blocked {
		res, err = s.w.ExecContext(ctx, `
			INSERT INTO blocks (user_id, blocked_id, created_at)
			SELECT ?, id, CAST(? AS BIGINT) FROM users WHERE id = ? AND deleted_at IS NULL
			ON CONFLICT (user_id, blocked_id) DO NOTHING`, userID, ms(at), blockedID)
	} else {
		res, err = s.w.ExecContext(ctx, `DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?`, userID, blockedID)
	}
	if err != nil {
		return false, fmt.Errorf("set block: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("set block: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	var one int
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL`, blockedID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, store.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("set block: %w", err)
	}
	return false, nil
}

// BlockList implements blocks.Store.
func (s *Store) BlockList(ctx context.Context, userID string) ([]blocks.Block, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT u.id, u.username, u.display_name, b.created_at
		  FROM blocks b JOIN users u ON u.id = b.blocked_id
		 WHERE b.user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	defer rows.Close()
	var out []blocks.Block
	for rows.Next() {
		var b blocks.Block
		var at int64
		if err := rows.Scan(&b.UserID, &b.Username, &b.DisplayName, &at); err != nil {
			return nil, err
		}
		b.BlockedAt = fromMS(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

// BlockersOf implements conversations.Store: those of ids who block userID.
func (s *Store) BlockersOf(ctx context.Context, userID string, ids []string) ([]string, error) {
	var out []string
	err := s.queryInAfter(ctx, `SELECT user_id FROM blocks WHERE blocked_id = ? AND user_id IN (%s)`, []any{userID}, ids, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find blockers: %w", err)
	}
	return out, nil
}
