package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/store"
)

var _ media.Store = (*Store)(nil)

const mediaColumns = `id, uploader_id, kind, content_type, declared_size, status, reason, size, width, height,
	duration_ms, codec, waveform, thumb_size, variant_size, created_at, completed_at`

// CreateMedia implements media.Store.
func (s *Store) CreateMedia(ctx context.Context, m media.Media) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO media (`+mediaColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.UploaderID, string(m.Kind), m.ContentType, m.DeclaredSize, string(m.Status), m.Reason, m.Size,
		m.Width, m.Height, m.DurationMS, m.Codec, m.Waveform, m.ThumbSize, m.VariantSize, ms(m.CreatedAt), nullTime(m.CompletedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("insert media: %w", err)
	}
	return nil
}

// MediaByID implements media.Store.
func (s *Store) MediaByID(ctx context.Context, id string) (media.Media, error) {
	m, err := scanMedia(s.r.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	if err != nil {
		return media.Media{}, notFound(err)
	}
	return m, nil
}

// UpdateMedia implements media.Store: a compare-and-set on the status.
func (s *Store) UpdateMedia(ctx context.Context, m media.Media, from media.Status) error {
	res, err := s.w.ExecContext(ctx, `UPDATE media SET status = ?, reason = ?, size = ?, width = ?, height = ?,
		duration_ms = ?, codec = ?, waveform = ?, thumb_size = ?, variant_size = ?, completed_at = ?
		WHERE id = ? AND status = ?`,
		string(m.Status), m.Reason, m.Size, m.Width, m.Height, m.DurationMS, m.Codec, m.Waveform,
		m.ThumbSize, m.VariantSize, nullTime(m.CompletedAt), m.ID, string(from))
	if err != nil {
		return fmt.Errorf("update media: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	err = s.w.QueryRowContext(ctx, `SELECT 1 FROM media WHERE id = ?`, m.ID).Scan(&one)
	if err != nil {
		return notFound(err)
	}
	return store.ErrConflict
}

// MediaCarried implements media.Store.
func (s *Store) MediaCarried(ctx context.Context, mediaID string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM messages WHERE media_id = ? LIMIT 1`, mediaID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("media use: %w", err)
	}
	return true, nil
}

// MediaVisible implements media.Store. The membership window is the one
// the message log uses: a member sees the messages after the one that
// added it and, once removed, before the one that removed it; a message
// withheld from it (a block) shows it nothing.
func (s *Store) MediaVisible(ctx context.Context, mediaID, userID string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `
		SELECT 1 FROM messages m
		  JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?
		 WHERE m.media_id = ? AND m.seq > mb.joined_seq
		   AND (mb.left_seq IS NULL OR m.seq < mb.left_seq)
		   AND (m.withheld = 0 OR m.sender_id = mb.user_id)
		 LIMIT 1`, userID, mediaID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("media visibility: %w", err)
	}
	return true, nil
}

// AbandonedMedia implements media.Store.
func (s *Store) AbandonedMedia(ctx context.Context, before time.Time, limit int) ([]media.Media, error) {
	return scanMediaRows(s.r.QueryContext(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE status != 'ready' AND created_at < ? ORDER BY created_at, id LIMIT ?`, ms(before), limit))
}

// MediaCreatedBefore implements media.Store.
func (s *Store) MediaCreatedBefore(ctx context.Context, before time.Time, limit int) ([]media.Media, error) {
	return scanMediaRows(s.r.QueryContext(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE created_at < ? ORDER BY created_at, id LIMIT ?`, ms(before), limit))
}

// MediaUploadedBy implements media.Store.
func (s *Store) MediaUploadedBy(ctx context.Context, userID string, limit int) ([]media.Media, error) {
	return scanMediaRows(s.r.QueryContext(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE uploader_id = ? ORDER BY created_at, id LIMIT ?`, userID, limit))
}

// DeleteMedia implements media.Store.
func (s *Store) DeleteMedia(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `DELETE FROM media WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("delete media: %w", err)
	}
	return nil
}

func scanMedia(r rowScanner) (media.Media, error) {
	var m media.Media
	var kind, status string
	var created int64
	var completed sql.NullInt64
	err := r.Scan(&m.ID, &m.UploaderID, &kind, &m.ContentType, &m.DeclaredSize, &status, &m.Reason, &m.Size,
		&m.Width, &m.Height, &m.DurationMS, &m.Codec, &m.Waveform, &m.ThumbSize, &m.VariantSize, &created, &completed)
	if err != nil {
		return media.Media{}, err
	}
	m.Kind, m.Status, m.CreatedAt = media.Kind(kind), media.Status(status), fromMS(created)
	if completed.Valid {
		m.CompletedAt = fromMS(completed.Int64)
	}
	return m, nil
}

func scanMediaRows(rows *sql.Rows, err error) ([]media.Media, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []media.Media
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func nullTime(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: ms(t), Valid: !t.IsZero()}
}
