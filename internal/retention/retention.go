// Package retention enforces --retention: messages (with their idempotency
// keys and receipts) and media older than it are deleted, and a sender
// whose message expired before a recipient got it is told so. Disappearing
// messages go the same way at their expires_at, swept every
// --expire-interval between the full passes. Read paths already hide
// expired data; this job reclaims the space.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/clock"
)

// Store is what the cleanup needs from durable storage. Every method works
// in bounded batches, each its own short transaction, and is idempotent,
// so a pass interrupted anywhere (or run on two nodes) simply goes on.
type Store interface {
	// DeleteReceiptEvents deletes up to limit receipt and update events
	// older than before.
	DeleteReceiptEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// DeleteExpiredDevices deletes up to limit sessions expired at now.
	DeleteExpiredDevices(ctx context.Context, now time.Time, limit int) (int, error)
	// OldestPending is the creation time of the oldest message some device
	// has not acknowledged (ok=false when nothing is pending).
	OldestPending(ctx context.Context) (t time.Time, ok bool, err error)
	// Reclaim returns freed pages to the file system, a bounded amount.
	Reclaim(ctx context.Context) error
	// FreeUsernames frees the usernames of up to limit accounts deleted
	// before before.
	FreeUsernames(ctx context.Context, before time.Time, limit int) (int, error)
}

// Deletions finishes account deletions a crash cut short
// (accounts.Service).
type Deletions interface {
	FinishDeletions(ctx context.Context, limit int) (int, error)
}

// Media expires media objects (bytes, thumbnails and metadata).
type Media interface {
	// ExpireBefore deletes up to limit media created before t.
	ExpireBefore(ctx context.Context, t time.Time, limit int) (n int, bytes int64, err error)
	// Sweep deletes uploads never completed, as of now.
	Sweep(ctx context.Context, now time.Time) (n int, err error)
}

// Log deletes expired messages: the committer of conversation logs
// (messaging.Committer), which records, in the same transaction, an
// "expired" receipt event at now for every recipient that had not
// received one of them, and tells their senders.
type Log interface {
	Expire(ctx context.Context, cutoff, now time.Time, limit int) (deleted int, bytes int64, statuses int, err error)
}

// Observer records each pass, for metrics.
type Observer interface {
	CleanupPass(s Summary)
}

// ExpiryObserver is an Observer that also records the light passes
// (ExpireOnce); found by type assertion.
type ExpiryObserver interface {
	ExpiryPass(s Summary)
}

// SuccessObserver is an Observer that is also told when a full pass
// succeeded, and when (the injected clock's time at its end); found by
// type assertion. A cleanup failing pass after pass piles up expired
// data silently: this is what an alert watches.
type SuccessObserver interface {
	CleanupSucceeded(at time.Time)
}

// Config tunes the job.
type Config struct {
	Retention time.Duration
	// Interval between passes of the running server.
	Interval time.Duration
	// ExpireInterval is the time between the light passes in between,
	// which only delete expired messages (ExpireOnce): a disappearing
	// message (expires_at) leaves the store at most this late. Each is
	// two index range scans that find nothing most of the time, so it can
	// run far more often than a full pass. 0: with the full passes only.
	ExpireInterval time.Duration
	// Batch bounds the rows one transaction deletes, so the send path
	// never waits long for the write lock.
	Batch int
}

// Summary is what one pass did.
type Summary struct {
	ExpiredMessages  int
	ExpiredBytes     int64
	ExpiredStatuses  int
	ReceiptEvents    int
	Devices          int
	Media            int
	MediaBytes       int64
	AbandonedUploads int
	// FinishedDeletions are deleted accounts whose cleanup this pass
	// finished; FreedUsernames those whose username it freed.
	FinishedDeletions int
	FreedUsernames    int
	OldestPending     time.Duration // 0 when nothing is pending
	Duration          time.Duration
}

// Service runs cleanup passes.
type Service struct {
	store Store
	log   Log
	media Media
	clock clock.Clock
	cfg   Config
	slog  *slog.Logger
	obs   Observer

	// Deletions, if set, has each pass finish account deletions left
	// unfinished. Set it before Run.
	Deletions Deletions
}

// New returns the cleanup service; media and obs may be nil.
func New(s Store, l Log, media Media, clk clock.Clock, cfg Config, log *slog.Logger, obs Observer) *Service {
	if cfg.Batch < 1 {
		cfg.Batch = 1000
	}
	return &Service{store: s, log: l, media: media, clock: clk, cfg: cfg, slog: log, obs: obs}
}

// Run runs a pass at each interval until ctx ends. A failed pass is logged
// and retried at the next tick: nothing it did is lost, nothing is left
// half-done (each batch is a transaction).
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	var expire <-chan time.Time
	if s.cfg.ExpireInterval > 0 && s.cfg.ExpireInterval < s.cfg.Interval {
		et := time.NewTicker(s.cfg.ExpireInterval)
		defer et.Stop()
		expire = et.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
				s.slog.Error("retention cleanup", "err", err)
			}
		case <-expire:
			if _, err := s.ExpireOnce(ctx); err != nil && ctx.Err() == nil {
				s.slog.Error("message expiry", "err", err)
			}
		}
	}
}

// ExpireOnce runs a light pass: it deletes the messages that expired —
// disappearing ones past their expires_at, others past the retention —
// and nothing else, and logs only when it deleted something.
func (s *Service) ExpireOnce(ctx context.Context) (Summary, error) {
	start := time.Now()
	now := s.clock.Now()
	var sum Summary
	err := s.expireMessages(ctx, now, now.Add(-s.cfg.Retention), &sum)
	sum.Duration = time.Since(start)
	// Counted, but not as a pass: the pass metrics (duration, oldest
	// pending) describe full passes.
	if o, ok := s.obs.(ExpiryObserver); ok {
		o.ExpiryPass(sum)
	}
	if sum.ExpiredMessages > 0 || err != nil {
		s.slog.Info("message expiry", "expired_messages", sum.ExpiredMessages, "expired_bytes", sum.ExpiredBytes,
			"expired_statuses", sum.ExpiredStatuses, "duration", sum.Duration, "ok", err == nil)
	}
	return sum, err
}

// expireMessages deletes expired messages in batches, each a commit of
// its own, until a batch finds fewer than it may take.
func (s *Service) expireMessages(ctx context.Context, now, cutoff time.Time, sum *Summary) error {
	for {
		n, bytes, statuses, err := s.log.Expire(ctx, cutoff, now, s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("expire messages: %w", err)
		}
		sum.ExpiredMessages += n
		sum.ExpiredBytes += bytes
		sum.ExpiredStatuses += statuses
		if n < s.cfg.Batch {
			return nil
		}
		if err := s.store.Reclaim(ctx); err != nil {
			return fmt.Errorf("reclaim: %w", err)
		}
	}
}

// RunOnce runs one full pass: it deletes everything that has expired, in
// batches, and logs one summary line.
func (s *Service) RunOnce(ctx context.Context) (Summary, error) {
	start := time.Now()
	now := s.clock.Now()
	// A clock that jumped backwards only makes the cutoff earlier: nothing
	// expires before its time.
	cutoff := now.Add(-s.cfg.Retention)
	var sum Summary
	err := s.pass(ctx, now, cutoff, &sum)
	sum.Duration = time.Since(start)
	if oldest, ok, perr := s.store.OldestPending(ctx); perr == nil && ok {
		sum.OldestPending = max(0, now.Sub(oldest))
	} else if perr != nil {
		err = errors.Join(err, fmt.Errorf("oldest pending: %w", perr))
	}
	if s.obs != nil {
		s.obs.CleanupPass(sum)
	}
	if o, ok := s.obs.(SuccessObserver); ok && err == nil {
		o.CleanupSucceeded(s.clock.Now())
	}
	s.slog.Info("retention cleanup",
		"expired_messages", sum.ExpiredMessages, "expired_bytes", sum.ExpiredBytes,
		"expired_statuses", sum.ExpiredStatuses, "receipt_events", sum.ReceiptEvents,
		"devices", sum.Devices, "media", sum.Media, "media_bytes", sum.MediaBytes,
		"abandoned_uploads", sum.AbandonedUploads, "finished_deletions", sum.FinishedDeletions,
		"freed_usernames", sum.FreedUsernames, "oldest_pending", sum.OldestPending.Round(time.Second).String(),
		"duration", sum.Duration.Round(time.Millisecond).String(), "ok", err == nil)
	return sum, err
}

func (s *Service) pass(ctx context.Context, now, cutoff time.Time, sum *Summary) error {
	if err := s.expireMessages(ctx, now, cutoff, sum); err != nil {
		return err
	}
	for {
		n, err := s.store.DeleteReceiptEvents(ctx, cutoff, s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("delete receipt events: %w", err)
		}
		sum.ReceiptEvents += n
		if n < s.cfg.Batch {
			break
		}
	}
	for {
		n, err := s.store.DeleteExpiredDevices(ctx, now, s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		sum.Devices += n
		if n < s.cfg.Batch {
			break
		}
	}
	if s.media != nil {
		for {
			n, bytes, err := s.media.ExpireBefore(ctx, cutoff, s.cfg.Batch)
			if err != nil {
				return fmt.Errorf("expire media: %w", err)
			}
			sum.Media += n
			sum.MediaBytes += bytes
			if n < s.cfg.Batch {
				break
			}
		}
		n, err := s.media.Sweep(ctx, now)
		if err != nil {
			return fmt.Errorf("sweep uploads: %w", err)
		}
		sum.AbandonedUploads = n
	}
	if s.Deletions != nil {
		n, err := s.Deletions.FinishDeletions(ctx, s.cfg.Batch)
		sum.FinishedDeletions = n
		if err != nil {
			return fmt.Errorf("finish account deletions: %w", err)
		}
	}
	// A deleted account's username stays taken for the retention period,
	// so that nobody takes it over while its messages are still shown.
	for {
		n, err := s.store.FreeUsernames(ctx, cutoff, s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("free usernames: %w", err)
		}
		sum.FreedUsernames += n
		if n < s.cfg.Batch {
			break
		}
	}
	return s.store.Reclaim(ctx)
}
