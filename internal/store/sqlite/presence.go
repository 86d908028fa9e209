package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/presence"
)

var _ presence.Store = (*Store)(nil)

// SetLastSeen implements presence.Store.
func (s *Store) SetLastSeen(ctx context.Context, userID string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET last_seen = ? WHERE id = ?`, ms(at), userID); err != nil {
		return fmt.Errorf("set last seen: %w", err)
	}
	return nil
}

// LastSeen implements presence.Store.
func (s *Store) LastSeen(ctx context.Context, userID string) (time.Time, error) {
	var ls sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT last_seen FROM users WHERE id = ?`, userID).Scan(&ls); err != nil {
		return time.Time{}, notFound(err)
	}
	if !ls.Valid {
		return time.Time{}, nil
	}
	return fromMS(ls.Int64), nil
}
