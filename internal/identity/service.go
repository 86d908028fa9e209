package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/cache"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Limits on account fields.
const (
	MinUsernameLen    = wire.MinUsernameLen
	MaxUsernameLen    = wire.MaxUsernameLen
	MinPasswordLen    = wire.MinPasswordLen
	MaxPasswordLen    = wire.MaxPasswordLen
	MaxDisplayNameLen = wire.MaxDisplayNameLen
	MaxDeviceNameLen  = wire.MaxDeviceNameLen
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Config tunes the service.
type Config struct {
	// SessionTTL is how long a token stays valid after login.
	SessionTTL time.Duration
	// MaxDevices is how many sessions a user may hold at once; a login past
	// it signs out the oldest session.
	MaxDevices int
	// Hash is the argon2id cost for new password hashes.
	Hash HashParams
	// MaxConcurrentHashes bounds hashes computed at once: each holds
	// Hash.MemoryKiB of memory, so a login storm must queue, not swap.
	MaxConcurrentHashes int
	// MaxHashQueue bounds attempts waiting for a hash slot; past it they
	// fail with ErrBusy at once (0: unbounded). A queue without a bound
	// let 64 guessing clients push a real user's login to 3 s.
	MaxHashQueue int
	// SessionCache bounds the sessions Authenticate answers from memory
	// (MaxEntries 0: every call asks the store).
	SessionCache cache.Config
}

// Service registers users and opens sessions.
type Service struct {
	store Store
	clock clock.Clock
	cfg   Config
	sem   chan struct{}
	// waiting counts attempts queued for a slot of sem.
	waiting atomic.Int64
	// dummyHash has the configured cost; Login verifies against it for
	// unknown usernames so response timing does not tell which exist.
	dummyHash func() string
	// sessions are sessions by the SHA-256 of their token (never the
	// token itself), indexed by device id for revocations: a connect
	// authenticates without a query.
	sessions *cache.Cache[tokenHash, Device]
	// Invalidator, if set, tells the other nodes of a cluster which
	// sessions this one ended, so that none of them keeps answering their
	// tokens from its cache. Set before the service is used.
	Invalidator bus.Invalidator
	// OnRevoke, if set, is told which sessions ended before their expiry
	// (evicted by a newer login, signed out), and why, so that their open
	// connections close on whatever node holds them.
	OnRevoke func(userID string, deviceIDs []string, reason string)
	// OnSession, if set, is told of each new session, so that what its
	// first connect reads can be made ready (presence's caches).
	OnSession func(ctx context.Context, userID string)
}

// NewService returns an identity service.
func NewService(s Store, clk clock.Clock, cfg Config) *Service {
	if cfg.MaxConcurrentHashes < 1 {
		cfg.MaxConcurrentHashes = 1
	}
	svc := &Service{store: s, clock: clk, cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrentHashes),
		sessions: cache.NewIndexed[tokenHash](clk, cfg.SessionCache, func(d Device) string { return d.ID })}
	svc.dummyHash = sync.OnceValue(func() string {
		h, _ := hashPassword("parley-dummy-password", cfg.Hash)
		return h
	})
	return svc
}

// Session is what a successful login returns.
type Session struct {
	Token     string
	UserID    string
	DeviceID  string
	ExpiresAt time.Time
}

// Register validates and creates an account.
func (s *Service) Register(ctx context.Context, username, password, displayName string) (User, error) {
	if err := validateUsername(username); err != nil {
		return User{}, err
	}
	if err := validatePassword(password); err != nil {
		return User{}, err
	}
	displayName, ok := names.Clean(displayName, MaxDisplayNameLen)
	if !ok {
		return User{}, ErrBadDisplayName
	}
	if displayName == "" {
		displayName = username
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: ulid.Make().String(), Username: username, DisplayName: displayName, CreatedAt: s.clock.Now()}
	if err := s.store.CreateUser(ctx, u, hash); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return User{}, ErrUsernameTaken
		}
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Login checks a password and opens a new session (a new device).
func (s *Service) Login(ctx context.Context, username, password string) (Session, error) {
	return s.LoginDevice(ctx, username, password, "")
}

// LoginDevice is Login with a name for the new session, checked by the
// caller (DeviceName).
func (s *Service) LoginDevice(ctx context.Context, username, password, deviceName string) (Session, error) {
	if _, ok := names.Clean(deviceName, MaxDeviceNameLen); !ok {
		return Session{}, ErrBadDeviceName
	}
	if username == "" || password == "" || len(username) > MaxUsernameLen || len(password) > MaxPasswordLen {
		return Session{}, ErrBadCredentials
	}
	u, hash, err := s.store.UserByUsername(ctx, username)
	// A bot has no password (hash ""): it signs in with its API key only,
	// and a password attempt on it is answered as for an unknown name.
	if errors.Is(err, store.ErrNotFound) || err == nil && hash == "" {
		// A refusal for want of a hash slot must look the same as for a
		// real account, or a busy server would tell which names exist.
		if _, err := s.verify(ctx, password, s.dummyHash()); err != nil {
			return Session{}, err
		}
		return Session{}, ErrBadCredentials
	}
	if err != nil {
		return Session{}, fmt.Errorf("find user: %w", err)
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrBadCredentials
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Session{}, fmt.Errorf("read token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.clock.Now()
	d := Device{ID: ulid.Make().String(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), LastUsedAt: now, Name: deviceName}
	h := hashToken(token)
	// Taken before the insert: a newer login evicting this session while
	// it is stored makes the fill below a no-op.
	gen := s.sessions.Gen()
	evicted, err := s.store.CreateDevice(ctx, d, h[:], s.cfg.MaxDevices)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	// The first connect after a login is served from memory. Filled
	// before the evictions below drop entries, which would refuse it.
	s.sessions.Put(h, asStored(d), gen)
	if len(evicted) > 0 {
		s.revoke(ctx, u.ID, evicted, "session ended: signed in on too many devices")
	}
	if s.OnSession != nil {
		s.OnSession(ctx, u.ID)
	}
	return Session{Token: token, UserID: u.ID, DeviceID: d.ID, ExpiresAt: d.ExpiresAt}, nil
}

// Authenticate resolves a bearer token to its session.
func (s *Service) Authenticate(ctx context.Context, token string) (Device, error) {
	if token == "" || len(token) > maxTokenLen {
		return Device{}, ErrBadToken
	}
	h := hashToken(token)
	d, ok := s.sessions.Get(h)
	if !ok {
		var err error
		if d, err = s.deviceByToken(ctx, h); err != nil {
			return Device{}, err
		}
	}
	// Checked on every call, cached or not: a session expires exactly
	// when it did before there was a cache.
	if !s.clock.Now().Before(d.ExpiresAt) {
		return Device{}, ErrBadToken
	}
	return s.touch(ctx, h, d), nil
}

// deviceByToken reads a session from the store and caches it. It takes
// the hash by value, apart from Authenticate, so that only a miss moves a
// hash to the heap (it escapes into the store's interface), not a hit.
func (s *Service) deviceByToken(ctx context.Context, h tokenHash) (Device, error) {
	gen := s.sessions.Gen()
	d, err := s.store.DeviceByToken(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return Device{}, ErrBadToken
	}
	if err != nil {
		return Device{}, fmt.Errorf("find session: %w", err)
	}
	s.sessions.Put(h, d, gen)
	return d, nil
}

// Logout ends a session: its token stops working at once and its open
// connections close.
func (s *Service) Logout(ctx context.Context, d Device) error {
	if err := s.store.DeleteDevice(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	s.revoke(ctx, d.UserID, []string{d.ID}, "session ended: signed out")
	return nil
}

// revoke tells everyone who must know that sessions ended before their
// expiry: this node's cache, the other nodes' caches, then (OnRevoke) the
// connections. The invalidation is published first and waited for: a
// node that closes a connection on the revocation has dropped the
// session already, so that a reconnect with the same token is refused.
func (s *Service) revoke(ctx context.Context, userID string, deviceIDs []string, reason string) {
	s.sessions.DropIndexed(deviceIDs...)
	if s.Invalidator != nil {
		s.Invalidator.Invalidate(ctx, bus.Invalidation{Cache: bus.CacheSessions, IDs: deviceIDs})
	}
	if s.OnRevoke != nil {
		s.OnRevoke(userID, deviceIDs, reason)
	}
}

// ForgetSessions drops the cached sessions of deviceIDs: another node
// ended them.
func (s *Service) ForgetSessions(deviceIDs []string) { s.sessions.DropIndexed(deviceIDs...) }

// ForgetAllSessions empties the session cache: invalidations from other
// nodes may have been lost.
func (s *Service) ForgetAllSessions() { s.sessions.Clear() }

// ExistingDevices tells which of ids name a session that still exists.
// Those that do not are dropped from the cache: this is how the periodic
// session check learns of sessions deleted without a revocation (by hand,
// or whose notice was lost).
func (s *Service) ExistingDevices(ctx context.Context, ids []string) (map[string]bool, error) {
	m, err := s.store.ExistingDevices(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("find sessions: %w", err)
	}
	var gone []string
	for _, id := range ids {
		if !m[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		s.sessions.DropIndexed(gone...)
	}
	return m, nil
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.sem }()
	return hashPassword(password, s.cfg.Hash)
}

func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-s.sem }()
	return verifyPassword(password, hash)
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	default:
	}
	if n := s.waiting.Add(1); s.cfg.MaxHashQueue > 0 && n > int64(s.cfg.MaxHashQueue) {
		s.waiting.Add(-1)
		return ErrBusy
	}
	defer s.waiting.Add(-1)
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a password hash: %w", ctx.Err())
	}
}

// HashesWaiting is how many attempts wait for a password hash slot.
func (s *Service) HashesWaiting() int { return int(s.waiting.Load()) }

// tokenHash is what the store and the cache know a token by.
type tokenHash = [sha256.Size]byte

// maxTokenLen bounds what Authenticate accepts as a token (ours are 43
// bytes).
const maxTokenLen = 256

// hashToken copies the token to the stack rather than converting it:
// []byte(token) of more than 32 bytes is an allocation per connect.
func hashToken(token string) tokenHash {
	var buf [maxTokenLen]byte
	return sha256.Sum256(buf[:copy(buf[:], token)])
}

// asStored is d as the store returns it (times in milliseconds), so that
// a session reads the same whether it was cached at login or read back.
func asStored(d Device) Device {
	ms := func(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }
	d.CreatedAt, d.ExpiresAt, d.LastUsedAt = ms(d.CreatedAt), ms(d.ExpiresAt), ms(d.LastUsedAt)
	return d
}

func validateUsername(u string) error {
	if len(u) < MinUsernameLen || len(u) > MaxUsernameLen || !usernamePattern.MatchString(u) {
		return ErrBadUsername
	}
	return nil
}

func validatePassword(p string) error {
	if len(p) < MinPasswordLen || len(p) > MaxPasswordLen {
		return ErrBadPassword
	}
	return nil
}
