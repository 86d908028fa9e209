// Package accounts deletes accounts. A deletion touches several domains;
// the one step that decides it is identity's (the account emptied and
// marked deleted, its sessions ended, in one transaction); the rest —
// its memberships ended with system messages, its uploads and avatar
// deleted, its bots deleted the same way — is cleanup, done at once and finished by the retention job if a crash cut
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

// Avatars removes a deleted account's avatar.
type Avatars interface {
	RemoveAvatar(ctx context.Context, userID string) error
}

// Bots deletes bot accounts: one for its owner, or all of a deleted
// owner's.
type Bots interface {
	DeleteBot(ctx context.Context, caller identity.Device, botID string) error
	DeleteBotsOf(ctx context.Context, ownerID string) ([]string, error)
}

// Store finds deletions not finished.
type Store interface {
	// UnfinishedDeletions returns up to limit deleted accounts that are
	// still members of a conversation, or still have uploads, an avatar
	// or live bots.
	UnfinishedDeletions(ctx context.Context, limit int) ([]string, error)
}

// Service deletes accounts.
type Service struct {
	ids     Identity
	members Memberships
	uploads Uploads
	avatars Avatars
	store   Store
	log     *slog.Logger
	// Bots, if set, deletes bots: on their owner's request (DeleteBot)
	// and with their owner's account. Set before the service is used.
	Bots Bots
}

// NewService returns the service.
func NewService(ids Identity, members Memberships, uploads Uploads, avatars Avatars, st Store, log *slog.Logger) *Service {
	return &Service{ids: ids, members: members, uploads: uploads, avatars: avatars, store: st, log: log}
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

// DeleteBot deletes caller's bot botID, through the same steps as an
// account: identity's transaction (which also frees its name), then its
// memberships, uploads and avatar.
func (s *Service) DeleteBot(ctx context.Context, caller identity.Device, botID string) error {
	if err := s.Bots.DeleteBot(ctx, caller, botID); err != nil {
		return err
	}
	if err := s.finish(context.WithoutCancel(ctx), botID); err != nil {
		s.log.Warn("bot deleted, cleanup left to the retention job", "user", botID, "err", err)
	}
	return nil
}

func (s *Service) finish(ctx context.Context, userID string) error {
	if err := s.members.EndMemberships(ctx, userID); err != nil {
		return err
	}
	if s.Bots != nil {
		bots, err := s.Bots.DeleteBotsOf(ctx, userID)
		if err != nil {
			return fmt.Errorf("delete bots: %w", err)
		}
		for _, id := range bots {
			if err := s.finish(ctx, id); err != nil {
				return err
			}
		}
	}
	if _, err := s.uploads.DeleteUploads(ctx, userID); err != nil {
		return fmt.Errorf("delete uploads: %w", err)
	}
	return s.avatars.RemoveAvatar(ctx, userID)
}
