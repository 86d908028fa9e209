package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/store"
)

var _ identity.Store = (*Store)(nil)

// CreateUser implements identity.Store.
func (s *Store) CreateUser(ctx context.Context, u identity.User, passwordHash string) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO users (id, username, username_key, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, usernameKey(u.Username), u.DisplayName, passwordHash, ms(u.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByID implements identity.Store.
func (s *Store) UserByID(ctx context.Context, id string) (identity.User, error) {
	var u identity.User
	var created int64
	var deleted sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT id, username, display_name, created_at, deleted_at, coalesce(bot_owner_id, '') FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Username, &u.DisplayName, &created, &deleted, &u.BotOwnerID)
	if err != nil {
		return identity.User{}, notFound(err)
	}
	u.CreatedAt, u.Deleted = fromMS(created), deleted.Valid
	return u, nil
}

// UserByUsername implements identity.Store.
func (s *Store) UserByUsername(ctx context.Context, username string) (identity.User, string, error) {
	var u identity.User
	var created int64
	var hash string
	err := s.r.QueryRowContext(ctx, `SELECT id, username, display_name, created_at, password_hash FROM users WHERE username_key = ? AND deleted_at IS NULL`, usernameKey(username)).
		Scan(&u.ID, &u.Username, &u.DisplayName, &created, &hash)
	if err != nil {
		return identity.User{}, "", notFound(err)
	}
	u.CreatedAt = fromMS(created)
	return u, hash, nil
}

// CreateDevice implements identity.Store.
func (s *Store) CreateDevice(ctx context.Context, d identity.Device, tokenHash []byte, maxDevices int) ([]string, error) {
	var evicted []string
	err := s.tx(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, expires_at FROM devices WHERE user_id = ? ORDER BY created_at DESC, id DESC`, d.UserID)
		if err != nil {
			return fmt.Errorf("list devices: %w", err)
		}
		kept := 0
		for rows.Next() {
			var id string
			var exp int64
			if err := rows.Scan(&id, &exp); err != nil {
				rows.Close()
				return err
			}
			// Keep the maxDevices-1 newest live sessions; the
			// new one makes maxDevices.
			if exp > ms(d.CreatedAt) && kept < maxDevices-1 {
				kept++
				continue
			}
			evicted = append(evicted, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range evicted {
			if err := deleteDevice(ctx, tx, id); err != nil {
				return err
			}
		}
		// Like its delivery cursors, a new device's receipt cursor starts
		// where its user stands: it is not told the whole past again.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO devices (id, user_id, token_hash, created_at, expires_at, last_used_at, name, receipt_cursor)
			 VALUES (?, ?, ?, ?, ?, ?, ?, coalesce((SELECT seq FROM receipt_seqs WHERE user_id = ?), 0))`,
			d.ID, d.UserID, tokenHash, ms(d.CreatedAt), ms(d.ExpiresAt), ms(d.LastUsedAt), d.Name, d.UserID); err != nil {
			return fmt.Errorf("insert device: %w", err)
		}
		// A new device starts where its user stands: it receives what no
		// device of the user has acknowledged yet, not the whole history.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO device_cursors (device_id, conversation_id, delivered_seq, update_seq)
			 SELECT CAST(? AS TEXT), mb.conversation_id, greatest(mb.delivered_seq, mb.joined_seq),
			        coalesce((SELECT us.seq FROM update_seqs us WHERE us.conversation_id = mb.conversation_id), 0)
			   FROM members mb WHERE mb.user_id = ?`,
			d.ID, d.UserID); err != nil {
			return fmt.Errorf("insert device cursors: %w", err)
		}
		return nil
	})
	return evicted, err
}

// ExistingDevices implements identity.Store.
func (s *Store) ExistingDevices(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := s.queryIn(ctx, `SELECT id FROM devices WHERE id IN (%s)`, ids, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("existing devices: %w", err)
	}
	return out, nil
}

// DeleteDevice implements identity.Store.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("find device: %w", err)
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return deleteDevice(ctx, tx, id)
	})
}

func deleteDevice(ctx context.Context, tx *Tx, id string) error {
	// A device signed out must not be told of messages any more.
	if _, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE device_id = ?`, id); err != nil {
		return fmt.Errorf("delete device push subscription: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM push_relays WHERE device_id = ?`, id); err != nil {
		return fmt.Errorf("delete device push relay: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_cursors WHERE device_id = ?`, id); err != nil {
		return fmt.Errorf("delete device cursors: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete device: %w", err)
	}
	return nil
}

// DeviceByToken implements identity.Store.
func (s *Store) DeviceByToken(ctx context.Context, tokenHash []byte) (identity.Device, error) {
	var d identity.Device
	var created, expires, used int64
	err := s.r.QueryRowContext(ctx,
		`SELECT id, user_id, created_at, expires_at, last_used_at, name FROM devices WHERE token_hash = ?`, tokenHash).
		Scan(&d.ID, &d.UserID, &created, &expires, &used, &d.Name)
	if err != nil {
		return identity.Device{}, notFound(err)
	}
	d.CreatedAt, d.ExpiresAt, d.LastUsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return d, nil
}

// usernameKey is the form usernames are unique in: case does not count.
func usernameKey(u string) string { return strings.ToLower(u) }

// UserForLookup implements identity.Store.
func (s *Store) UserForLookup(ctx context.Context, username string) (identity.User, identity.Discoverability, error) {
	var u identity.User
	var created int64
	var d identity.Discoverability
	err := s.r.QueryRowContext(ctx, `SELECT id, username, display_name, created_at, discoverable FROM users WHERE username_key = ? AND deleted_at IS NULL`, usernameKey(username)).
		Scan(&u.ID, &u.Username, &u.DisplayName, &created, &d)
	if err != nil {
		return identity.User{}, "", notFound(err)
	}
	u.CreatedAt = fromMS(created)
	return u, d, nil
}

// Discoverability implements identity.Store.
func (s *Store) Discoverability(ctx context.Context, userID string) (identity.Discoverability, error) {
	var d identity.Discoverability
	err := s.r.QueryRowContext(ctx, `SELECT discoverable FROM users WHERE id = ?`, userID).Scan(&d)
	return d, notFound(err)
}

// SetDiscoverability implements identity.Store.
func (s *Store) SetDiscoverability(ctx context.Context, userID string, d identity.Discoverability) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET discoverable = ? WHERE id = ?`, string(d), userID); err != nil {
		return fmt.Errorf("set discoverability: %w", err)
	}
	return nil
}
