package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/retention"
)

var _ retention.Store = (*Store)(nil)

// DeleteReceiptEvents implements retention.Store: receipt events first,
// then update events, up to limit in all.
func (s *Store) DeleteReceiptEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.deleteBatch(ctx,
		`DELETE FROM receipt_events WHERE (sender_id, seq) IN (SELECT sender_id, seq FROM receipt_events WHERE at < ? ORDER BY at LIMIT ?)`,
		ms(before), limit)
	if err != nil || n >= limit {
		return n, err
	}
	k, err := s.deleteBatch(ctx,
		`DELETE FROM update_events WHERE (conversation_id, seq) IN (SELECT conversation_id, seq FROM update_events WHERE at < ? ORDER BY at LIMIT ?)`,
		ms(before), limit-n)
	return n + k, err
}

// DeleteExpiredDevices implements retention.Store.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM devices WHERE expires_at <= ? LIMIT ?`, ms(now), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := deleteDevice(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

func (s *Store) deleteBatch(ctx context.Context, query string, args ...any) (int, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// OldestPending implements retention.Store: the message right after each
// device's cursor is that device's oldest pending one.
func (s *Store) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `
		SELECT min(m.created_at) FROM device_cursors dc
		  JOIN messages m ON m.conversation_id = dc.conversation_id AND m.seq = dc.delivered_seq + 1`).Scan(&oldest)
	if err != nil {
		return time.Time{}, false, err
	}
	return fromMS(oldest.Int64), oldest.Valid, nil
}

// reclaimPages bounds one incremental vacuum step (4 KiB pages: 16 MiB).
const reclaimPages = 4096

// Reclaim implements retention.Store: deleted rows leave free pages that
// SQLite reuses anyway; this returns up to reclaimPages of them to the
// file system so the file shrinks after a large expiry.
// PostgreSQL's autovacuum does this by itself.
func (s *Store) Reclaim(ctx context.Context) error {
	if s.d != sqliteDialect {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", reclaimPages)); err != nil {
		return err
	}
	// In WAL mode the file shrinks when the vacuum reaches it, at a
	// checkpoint: take one now rather than whenever the log fills.
	_, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	return err
}
