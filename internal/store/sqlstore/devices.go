package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/store"
)

// Devices implements identity.Store.
func (s *Store) Devices(ctx context.Context, userID string) ([]identity.Device, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, user_id, created_at, expires_at, last_used_at, name FROM devices WHERE user_id = ?
		 ORDER BY last_used_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []identity.Device
	for rows.Next() {
		var d identity.Device
		var created, expires, used int64
		if err := rows.Scan(&d.ID, &d.UserID, &created, &expires, &used, &d.Name); err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		d.CreatedAt, d.ExpiresAt, d.LastUsedAt = fromMS(created), fromMS(expires), fromMS(used)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// TouchDevice implements identity.Store.
func (s *Store) TouchDevice(ctx context.Context, id string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE devices SET last_used_at = ? WHERE id = ? AND last_used_at < ?`,
		ms(at), id, ms(at)); err != nil {
		return fmt.Errorf("touch device: %w", err)
	}
	return nil
}

// DeleteOtherDevices implements identity.Store.
func (s *Store) DeleteOtherDevices(ctx context.Context, userID, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *Tx) error {
		var err error
		ended, err = deleteOtherDevices(ctx, tx, userID, keep)
		return err
	})
	return ended, err
}

// PasswordHash implements identity.Store.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	var hash string
	if err := s.r.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
		return "", notFound(err)
	}
	return hash, nil
}

// SetPassword implements identity.Store.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash, keep string) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return store.ErrNotFound
		}
		ended, err = deleteOtherDevices(ctx, tx, userID, keep)
		return err
	})
	return ended, err
}

func deleteOtherDevices(ctx context.Context, tx *Tx, userID, keep string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM devices WHERE user_id = ? AND id <> ?`, userID, keep)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := deleteDevice(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// DeleteAccount implements identity.Store. What the account chose and
// what others chose about it go with it (contacts, blocks); what it wrote
// in conversations stays, and its memberships end through the committer
// (conversations.Service.EndMemberships), which writes their system
// messages.
func (s *Store) DeleteAccount(ctx context.Context, userID string, at time.Time) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *Tx) error {
		var err error
		ended, err = deleteAccount(ctx, tx, userID, at)
		return err
	})
	return ended, err
}

// deleteAccount is DeleteAccount in tx (bots are deleted with it too).
func deleteAccount(ctx context.Context, tx *Tx, userID string, at time.Time) ([]string, error) {
	res, err := tx.ExecContext(ctx, `
		UPDATE users SET deleted_at = ?, password_hash = '', display_name = '', about = '', last_seen = NULL,
		       last_seen_visibility = 'nobody', online_visibility = 'nobody', discoverable = 'nobody'
		 WHERE id = ? AND deleted_at IS NULL`, ms(at), userID)
	if err != nil {
		return nil, fmt.Errorf("delete account: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return nil, store.ErrNotFound
	}
	ended, err := deleteOtherDevices(ctx, tx, userID, "")
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		`DELETE FROM contacts WHERE user_id = ? OR contact_id = ?`,
		`DELETE FROM blocks WHERE user_id = ? OR blocked_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, userID, userID); err != nil {
			return nil, fmt.Errorf("delete account: %w", err)
		}
	}
	if _, err := deleteWebhook(ctx, tx, userID); err != nil {
		return nil, err
	}
	return ended, nil
}

// FreeUsernames implements retention.Store: the usernames of accounts
// deleted before before become free, up to limit of them.
func (s *Store) FreeUsernames(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := s.w.ExecContext(ctx, `
		UPDATE users SET username = '', username_key = 'deleted:' || id
		 WHERE id IN (SELECT id FROM users
		               WHERE deleted_at < ? AND username_key NOT LIKE 'deleted:%'
		               LIMIT ?)`, ms(before), limit)
	if err != nil {
		return 0, fmt.Errorf("free usernames: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// UnfinishedDeletions implements accounts.Store.
func (s *Store) UnfinishedDeletions(ctx context.Context, limit int) ([]string, error) {
	return scanStrings(s.r.QueryContext(ctx, `
		SELECT u.id FROM users u
		 WHERE u.deleted_at IS NOT NULL
		   AND (EXISTS (SELECT 1 FROM members mb WHERE mb.user_id = u.id AND mb.left_seq IS NULL)
		        OR EXISTS (SELECT 1 FROM media m WHERE m.uploader_id = u.id)
		        OR u.avatar_id <> ''
		        OR EXISTS (SELECT 1 FROM users b WHERE b.bot_owner_id = u.id AND b.deleted_at IS NULL))
		 ORDER BY u.deleted_at LIMIT ?`, limit))
}
