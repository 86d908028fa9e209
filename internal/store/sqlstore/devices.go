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
