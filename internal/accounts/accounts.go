// Package accounts deletes accounts. A deletion touches several domains;
// the one step that decides it is identity's (the account emptied and
// marked deleted, its sessions ended, in one transaction); the rest —
// its memberships ended with system messages, its uploads deleted — is
// cleanup, done at once and finished by the retention job if a crash cut
// it short (FinishDeletions), so a deletion that was answered is always
// completed.
package accounts

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/identity"
)

// Identity deletes the account itself.
type Identity interface {
	DeleteAccount(ctx context.Context, caller identity.Device, password string) error
}

// Memberships ends a deleted account's memberships.
type Memberships interface {
	EndMemberships(ctx context.Context, userID string) error
}

// Uploads deletes a deleted account's media.
type Uploads interface {
	DeleteUploads(ctx context.Context, userID string) (int, error)
}

// Store finds deletions not finished.
type Store interface {
	// UnfinishedDeletions returns up to limit deleted accounts that are
	// still members of a conversation or still have uploads.
	UnfinishedDeletions(ctx context.Context, limit int) ([]string, error)
}

// Service deletes accounts.
type Service struct {
	ids     Identity
	members Memberships
	uploads Uploads
	store   Store
	log     *slog.Logger
}

// NewService returns the service.
func NewService(ids Identity, members Memberships, uploads Uploads, st Store, log *slog.Logger) *Service {
	return &Service{ids: ids, members: members, uploads: uploads, store: st, log: log}
}

// Delete deletes caller's account, given its password. Once the account
// is deleted the answer is success: the cleanup that follows runs to its
// end even if the request goes away, and what it could not do the
// retention job finishes.
func (s *Service) Delete(ctx context.Context, caller identity.Device, password string) error {
	if err := s.ids.DeleteAccount(ctx, caller, password); err != nil {
		return err
	}
	if err := s.finish(context.WithoutCancel(ctx), caller.UserID); err != nil {
		s.log.Warn("account deleted, cleanup left to the retention job", "user", caller.UserID, "err", err)
	}
	return nil
}

// FinishDeletions finishes up to limit deletions a crash or an error cut
// short; it returns how many it finished.
func (s *Service) FinishDeletions(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.UnfinishedDeletions(ctx, limit)
	if err != nil {
		return 0, fmt.Errorf("unfinished deletions: %w", err)
	}
	for i, id := range ids {
		if err := s.finish(ctx, id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

func (s *Service) finish(ctx context.Context, userID string) error {
	if err := s.members.EndMemberships(ctx, userID); err != nil {
		return err
	}
	if _, err := s.uploads.DeleteUploads(ctx, userID); err != nil {
		return fmt.Errorf("delete uploads: %w", err)
	}
	return nil
}
