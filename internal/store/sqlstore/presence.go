package sqlstore

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

// PresenceSettings implements presence.Store.
func (s *Store) PresenceSettings(ctx context.Context, userID string) (presence.Settings, error) {
	var st presence.Settings
	err := s.r.QueryRowContext(ctx, `SELECT last_seen_visibility, online_visibility FROM users WHERE id = ?`, userID).
		Scan(&st.LastSeen, &st.Online)
	return st, notFound(err)
}

// SetPresenceSettings implements presence.Store.
func (s *Store) SetPresenceSettings(ctx context.Context, userID string, st presence.Settings) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET last_seen_visibility = ?, online_visibility = ? WHERE id = ?`,
		string(st.LastSeen), string(st.Online), userID); err != nil {
		return fmt.Errorf("set presence settings: %w", err)
	}
	return nil
}

// Contacts implements presence.Store. The other member of a 1:1 is
// chosen by its creator always, and by the other one once it has written
// (migrations/0006_contacts.sql).
func (s *Store) Contacts(ctx context.Context, userID string) (presence.ContactSet, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT other.user_id, c.created_by, c.answered FROM members me
		  JOIN conversations c ON c.id = me.conversation_id AND c.type = '1:1'
		  JOIN members other ON other.conversation_id = me.conversation_id AND other.user_id != me.user_id
		 WHERE me.user_id = ?`, userID)
	if err != nil {
		return presence.ContactSet{}, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	var out presence.ContactSet
	for rows.Next() {
		var other, creator string
		var answered int
		if err := rows.Scan(&other, &creator, &answered); err != nil {
			return presence.ContactSet{}, err
		}
		if creator == userID || answered != 0 {
			out.Chosen = append(out.Chosen, other)
		}
		if creator == other || answered != 0 {
			out.ChosenBy = append(out.ChosenBy, other)
		}
	}
	return out, rows.Err()
}

// PresenceSettingsMany implements presence.Store.
func (s *Store) PresenceSettingsMany(ctx context.Context, ids []string) (map[string]presence.Settings, error) {
	out := make(map[string]presence.Settings, len(ids))
	err := s.queryIn(ctx, `SELECT id, last_seen_visibility, online_visibility FROM users WHERE id IN (%s)`, ids,
		func(rows *sql.Rows) error {
			var id string
			var st presence.Settings
			if err := rows.Scan(&id, &st.LastSeen, &st.Online); err != nil {
				return err
			}
			out[id] = st
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("presence settings: %w", err)
	}
	return out, nil
}
