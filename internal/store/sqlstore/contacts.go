package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/internal/store"
)

var _ contacts.Store = (*Store)(nil)

// SetContact implements contacts.Store. One statement when it changes
// something: the insert selects the contact from users, so an unknown one
// inserts nothing, and the same state again updates nothing; only then a
// second one tells the two apart. The casts give PostgreSQL the
// parameters' types.
func (s *Store) SetContact(ctx context.Context, userID, contactID string, added bool, at time.Time) (bool, error) {
	state := contactRemoved
	if added {
		state = contactAdded
	}
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO contacts (user_id, contact_id, state, changed_at)
		SELECT ?, id, CAST(? AS INTEGER), CAST(? AS BIGINT) FROM users WHERE id = ? AND deleted_at IS NULL
		ON CONFLICT (user_id, contact_id) DO UPDATE SET
		  changed_at = excluded.changed_at, state = excluded.state
		WHERE contacts.state <> excluded.state`, userID, state, ms(at), contactID)
	if err != nil {
		return false, fmt.Errorf("set contact: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("set contact: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	var one int
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL`, contactID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, store.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("set contact: %w", err)
	}
	return false, nil
}

// ContactList implements contacts.Store: the effective set (Contacts),
// then the users' names and the times of explicit adds.
func (s *Store) ContactList(ctx context.Context, userID string) ([]contacts.Contact, error) {
	set, err := s.Contacts(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(set.Chosen) == 0 {
		return nil, nil
	}
	added := map[string]time.Time{}
	rows, err := s.r.QueryContext(ctx, `SELECT contact_id, changed_at FROM contacts WHERE user_id = ? AND state = ?`, userID, contactAdded)
	if err != nil {
		return nil, fmt.Errorf("contacts added: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		added[id] = fromMS(at)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]contacts.Contact, 0, len(set.Chosen))
	err = s.queryIn(ctx, `SELECT id, username, display_name FROM users WHERE id IN (%s)`, set.Chosen,
		func(rows *sql.Rows) error {
			var c contacts.Contact
			if err := rows.Scan(&c.UserID, &c.Username, &c.DisplayName); err != nil {
				return err
			}
			c.AddedAt = added[c.UserID]
			out = append(out, c)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("contact names: %w", err)
	}
	return out, nil
}
