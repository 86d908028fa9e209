package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/store"
)

var _ identity.BotStore = (*Store)(nil)

// CreateBot implements identity.BotStore. The owner's row is locked (the
// PostgreSQL FOR UPDATE; SQLite has one writer) from the count to the
// insert, so that two concurrent creations cannot both pass the cap.
func (s *Store) CreateBot(ctx context.Context, u identity.User, maxBots int) error {
	return s.tx(ctx, func(tx *Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = ? AND deleted_at IS NULL`+tx.d.forUpdate, u.BotOwnerID).Scan(&owner)
		if err != nil {
			return notFound(err)
		}
		if maxBots > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE bot_owner_id = ? AND deleted_at IS NULL`, u.BotOwnerID).Scan(&n); err != nil {
				return fmt.Errorf("count bots: %w", err)
			}
			if n >= maxBots {
				return identity.ErrTooManyBots
			}
		}
		// No password: password_hash '' matches no password (a login
		// answers it as an unknown name).
		_, err = tx.ExecContext(ctx,
			`INSERT INTO users (id, username, username_key, display_name, password_hash, created_at, bot_owner_id) VALUES (?, ?, ?, ?, '', ?, ?)`,
			u.ID, u.Username, usernameKey(u.Username), u.DisplayName, ms(u.CreatedAt), u.BotOwnerID)
		if isUniqueViolation(err) {
			return store.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("insert bot: %w", err)
		}
		return nil
	})
}

// Bots implements identity.BotStore.
func (s *Store) Bots(ctx context.Context, ownerID string) ([]identity.Bot, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT u.id, u.username, u.display_name, u.created_at, (SELECT max(d.created_at) FROM devices d WHERE d.user_id = u.id)
		  FROM users u
		 WHERE u.bot_owner_id = ? AND u.deleted_at IS NULL
		 ORDER BY u.created_at, u.id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	defer rows.Close()
	var out []identity.Bot
	for rows.Next() {
		b := identity.Bot{User: identity.User{BotOwnerID: ownerID}}
		var created int64
		var key sql.NullInt64
		if err := rows.Scan(&b.ID, &b.Username, &b.DisplayName, &created, &key); err != nil {
			return nil, fmt.Errorf("list bots: %w", err)
		}
		b.CreatedAt = fromMS(created)
		if key.Valid {
			b.KeyCreatedAt = fromMS(key.Int64)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	return out, nil
}

// BotOwner implements identity.BotStore.
func (s *Store) BotOwner(ctx context.Context, botID string) (string, error) {
	var owner string
	err := s.r.QueryRowContext(ctx, `SELECT bot_owner_id FROM users WHERE id = ? AND bot_owner_id IS NOT NULL AND deleted_at IS NULL`, botID).Scan(&owner)
	return owner, notFound(err)
}

// DeleteBot implements identity.BotStore.
func (s *Store) DeleteBot(ctx context.Context, botID string, at time.Time) ([]string, error) {
	var ended []string
	err := s.tx(ctx, func(tx *Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT bot_owner_id FROM users WHERE id = ? AND bot_owner_id IS NOT NULL AND deleted_at IS NULL`+tx.d.forUpdate, botID).Scan(&owner)
		if err != nil {
			return notFound(err)
		}
		if ended, err = deleteAccount(ctx, tx, botID, at); err != nil {
			return err
		}
		// Unlike a person's, a bot's name is free at once: its owner is
		// accountable for it and may want the name for the bot's
		// successor. (FreeUsernames does the same for people later.)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET username = '', username_key = 'deleted:' || id WHERE id = ?`, botID); err != nil {
			return fmt.Errorf("free bot name: %w", err)
		}
		return nil
	})
	return ended, err
}
