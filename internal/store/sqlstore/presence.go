package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/store"
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

// contactsOf is the query of a user's 1:1 peers. The other member of a
// 1:1 is chosen by its creator always, and by the other one once it has
// written (migrations/0006_contacts.sql).
const contactsOf = `
		SELECT other.user_id, c.created_by, c.answered FROM members me
		  JOIN conversations c ON c.id = me.conversation_id AND c.type = '1:1'
		  JOIN members other ON other.conversation_id = me.conversation_id AND other.user_id != me.user_id
		 WHERE me.user_id = ?`

// addContact adds one row of contactsOf to a user's set.
func addContact(out *presence.ContactSet, userID, other, creator string, answered int) {
	if creator == userID || answered != 0 {
		out.Chosen = append(out.Chosen, other)
	}
	if creator == other || answered != 0 {
		out.ChosenBy = append(out.ChosenBy, other)
	}
}

// Contacts implements presence.Store.
func (s *Store) Contacts(ctx context.Context, userID string) (presence.ContactSet, error) {
	rows, err := s.r.QueryContext(ctx, contactsOf, userID)
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
		addContact(&out, userID, other, creator, answered)
	}
	return out, rows.Err()
}

// PresenceView implements presence.Store: the settings and the contacts
// in one round trip, the first row the user's own.
func (s *Store) PresenceView(ctx context.Context, userID string) (presence.Settings, presence.ContactSet, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT 0, last_seen_visibility, online_visibility, 0 FROM users WHERE id = ?
		UNION ALL
		SELECT 1, other.user_id, c.created_by, c.answered FROM members me
		  JOIN conversations c ON c.id = me.conversation_id AND c.type = '1:1'
		  JOIN members other ON other.conversation_id = me.conversation_id AND other.user_id != me.user_id
		 WHERE me.user_id = ?
		ORDER BY 1`, userID, userID)
	if err != nil {
		return presence.Settings{}, presence.ContactSet{}, fmt.Errorf("presence view: %w", err)
	}
	defer rows.Close()
	var (
		st    presence.Settings
		out   presence.ContactSet
		found bool
	)
	for rows.Next() {
		var kind, answered int
		var a, b string
		if err := rows.Scan(&kind, &a, &b, &answered); err != nil {
			return presence.Settings{}, presence.ContactSet{}, err
		}
		if kind == 0 {
			st, found = presence.Settings{LastSeen: presence.Visibility(a), Online: presence.Visibility(b)}, true
			continue
		}
		addContact(&out, userID, a, b, answered)
	}
	if err := rows.Err(); err != nil {
		return presence.Settings{}, presence.ContactSet{}, err
	}
	if !found {
		return presence.Settings{}, presence.ContactSet{}, store.ErrNotFound
	}
	return st, out, nil
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
