package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/internal/store"
)

var _ profiles.Store = (*Store)(nil)

// Profile implements profiles.Store.
func (s *Store) Profile(ctx context.Context, userID string) (profiles.Profile, error) {
	var p profiles.Profile
	err := s.r.QueryRowContext(ctx, `
		SELECT id, username, display_name, about, avatar_id, avatar_visibility, about_visibility, deleted_at IS NOT NULL, coalesce(bot_owner_id, '')
		  FROM users WHERE id = ?`, userID).
		Scan(&p.UserID, &p.Username, &p.DisplayName, &p.About, &p.AvatarID, &p.Settings.Avatar, &p.Settings.About, &p.Deleted, &p.BotOwnerID)
	if err != nil {
		return profiles.Profile{}, notFound(err)
	}
	return p, nil
}

// set is a SET list built from the fields a change names: the column
// names are constants here, only the values are parameters.
type setList struct {
	cols []string
	args []any
}

func (u *setList) add(col string, v *string) {
	if v != nil {
		u.cols = append(u.cols, col+" = ?")
		u.args = append(u.args, *v)
	}
}

// UpdateProfile implements profiles.Store: the row is locked (the
// PostgreSQL FOR UPDATE; SQLite has one writer) from reading the avatar
// it replaces to writing the new one, so two concurrent changes each
// learn the avatar they replaced and none is left undeleted.
func (s *Store) UpdateProfile(ctx context.Context, userID string, displayName, about, avatarID *string) (string, error) {
	var old string
	err := s.tx(ctx, func(tx *Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT avatar_id FROM users WHERE id = ?`+tx.d.forUpdate, userID).Scan(&old); err != nil {
			return notFound(err)
		}
		var u setList
		u.add("display_name", displayName)
		u.add("about", about)
		u.add("avatar_id", avatarID)
		if len(u.cols) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET `+strings.Join(u.cols, ", ")+` WHERE id = ?`, append(u.args, userID)...)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("update profile: %w", err)
	}
	return old, err
}

// SetProfileSettings implements profiles.Store.
func (s *Store) SetProfileSettings(ctx context.Context, userID string, avatar, about profiles.Visibility) error {
	var u setList
	if avatar != "" {
		u.add("avatar_visibility", (*string)(&avatar))
	}
	if about != "" {
		u.add("about_visibility", (*string)(&about))
	}
	if len(u.cols) == 0 {
		return nil
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET `+strings.Join(u.cols, ", ")+` WHERE id = ?`, append(u.args, userID)...)
	if err != nil {
		return fmt.Errorf("set profile settings: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetGroupAvatar implements profiles.Store, locking the conversation's
// row as UpdateProfile locks the user's.
func (s *Store) SetGroupAvatar(ctx context.Context, conversationID, avatarID string) (string, error) {
	var old string
	err := s.tx(ctx, func(tx *Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT avatar_id FROM conversations WHERE id = ?`+tx.d.forUpdate, conversationID).Scan(&old); err != nil {
			return notFound(err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE conversations SET avatar_id = ? WHERE id = ?`, avatarID, conversationID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("set group avatar: %w", err)
	}
	return old, err
}

// GroupAvatars implements profiles.Store.
func (s *Store) GroupAvatars(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := s.queryIn(ctx, `SELECT id, avatar_id FROM conversations WHERE avatar_id <> '' AND id IN (%s)`, ids,
		func(rows *sql.Rows) error {
			var id, a string
			if err := rows.Scan(&id, &a); err != nil {
				return err
			}
			out[id] = a
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("group avatars: %w", err)
	}
	return out, nil
}

// ProfileBlocks implements profiles.Store from the blocks table
// (migrations/0012_blocks.sql), both ways.
func (s *Store) ProfileBlocks(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT blocked_id FROM blocks WHERE user_id = ?
		UNION
		SELECT user_id FROM blocks WHERE blocked_id = ?`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("profile blocks: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
