package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/store"
)

// TouchEvery is how often at most a session's last use is written: the
// granularity of Device.LastUsedAt. A write per authenticated request
// would double the statements of a connect; one a minute per device (per
// node: each node's cache holds its own copy) is what a devices list
// needs.
const TouchEvery = time.Minute

// DeviceName checks the name a client gives its session at login: at most
// MaxDeviceNameLen printable characters. An empty name is the userAgent,
// made printable and cut to MaxDeviceNameLen characters.
func DeviceName(name, userAgent string) (string, error) {
	name, ok := names.Clean(name, MaxDeviceNameLen)
	if !ok {
		return "", ErrBadDeviceName
	}
	if name != "" {
		return name, nil
	}
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(userAgent) {
		if n == MaxDeviceNameLen {
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String()), nil
}

// touch records that d was used now, at most once per TouchEvery, and
// returns d as recorded. Best effort: a failed write leaves the old time,
// which is no reason to refuse the caller.
func (s *Service) touch(ctx context.Context, h tokenHash, d Device) Device {
	now := s.clock.Now()
	if now.Sub(d.LastUsedAt) < TouchEvery {
		return d
	}
	gen := s.sessions.Gen()
	if err := s.store.TouchDevice(ctx, d.ID, now); err != nil {
		return d
	}
	d.LastUsedAt = now
	d = asStored(d)
	s.sessions.Put(h, d, gen)
	return d
}

// Sessions lists the live sessions of caller's user, most recently used
// first.
func (s *Service) Sessions(ctx context.Context, caller Device) ([]Device, error) {
	all, err := s.store.Devices(ctx, caller.UserID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.clock.Now()
	live := all[:0]
	for _, d := range all {
		if now.Before(d.ExpiresAt) {
			live = append(live, d)
		}
	}
	return live, nil
}

// EndSession signs out the session id of caller's user, as Logout does:
// its token stops working and its connections close. ErrSessionNotFound
// if the user has no such session, whoever else may have it.
func (s *Service) EndSession(ctx context.Context, caller Device, id string) error {
	all, err := s.store.Devices(ctx, caller.UserID)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	for _, d := range all {
		if d.ID != id {
			continue
		}
		if err := s.store.DeleteDevice(ctx, id); errors.Is(err, store.ErrNotFound) {
			return ErrSessionNotFound
		} else if err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		s.revoke(ctx, caller.UserID, []string{id}, "session ended: signed out from another device")
		return nil
	}
	return ErrSessionNotFound
}

// EndOtherSessions signs out every session of caller's user but caller.
func (s *Service) EndOtherSessions(ctx context.Context, caller Device) error {
	ended, err := s.store.DeleteOtherDevices(ctx, caller.UserID, caller.ID)
	if err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	if len(ended) > 0 {
		s.revoke(ctx, caller.UserID, ended, "session ended: signed out from another device")
	}
	return nil
}

// ChangePassword replaces the password of caller's user, given the
// current one, and signs out every other session; caller stays signed
// in. A wrong current password is ErrBadCredentials, and changes nothing.
func (s *Service) ChangePassword(ctx context.Context, caller Device, current, next string) error {
	if err := validatePassword(next); err != nil {
		return err
	}
	if current == "" || len(current) > MaxPasswordLen {
		return ErrBadCredentials
	}
	hash, err := s.store.PasswordHash(ctx, caller.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadToken // the account is gone, and its sessions with it
	}
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	if hash == "" {
		return ErrBotNoPassword // a live account without one is a bot
	}
	ok, err := s.verify(ctx, current, hash)
	if err != nil {
		return err
	}
	if !ok {
		return fault.New(ErrBadCredentials, "wrong current password")
	}
	newHash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	ended, err := s.store.SetPassword(ctx, caller.UserID, newHash, caller.ID)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if len(ended) > 0 {
		s.revoke(ctx, caller.UserID, ended, "session ended: password changed")
	}
	return nil
}

// DeleteAccount deletes caller's account, given its password: the account
// is emptied and marked deleted, its sessions end (every connection
// closes with 4001, on every node), its settings, contacts and blocks go.
// Irreversible. A wrong password is ErrBadCredentials and changes
// nothing. The rest — memberships, media — is the caller's to finish
// (internal/accounts).
func (s *Service) DeleteAccount(ctx context.Context, caller Device, password string) error {
	if password == "" || len(password) > MaxPasswordLen {
		return ErrBadCredentials
	}
	hash, err := s.store.PasswordHash(ctx, caller.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadToken
	}
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	if hash == "" {
		return ErrBadToken // deleted meanwhile, by another of its sessions
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return err
	}
	if !ok {
		return fault.New(ErrBadCredentials, "wrong password")
	}
	ended, err := s.store.DeleteAccount(ctx, caller.UserID, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadToken // deleted meanwhile, by another of its sessions
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	s.revoke(ctx, caller.UserID, ended, "session ended: account deleted")
	return nil
}
