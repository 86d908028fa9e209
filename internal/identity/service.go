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

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/protocol"
	"github.com/parleychat/parley/internal/store"
)

// Limits on account fields.
const (
	MinUsernameLen    = 3
	MaxUsernameLen    = 32
	MinPasswordLen    = 8
	MaxPasswordLen    = 256
	MaxDisplayNameLen = 64
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
	// OnRevoke, if set, is told which sessions ended before their expiry
	// (evicted by a newer login, signed out), and why, so that their open
	// connections close on whatever node holds them.
	OnRevoke func(userID string, deviceIDs []string, reason string)
}

// NewService returns an identity service.
func NewService(s Store, clk clock.Clock, cfg Config) *Service {
	if cfg.MaxConcurrentHashes < 1 {
		cfg.MaxConcurrentHashes = 1
	}
	svc := &Service{store: s, clock: clk, cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrentHashes)}
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
		return User{}, protocol.Invalid(fmt.Sprintf("display_name must be at most %d printable characters", MaxDisplayNameLen))
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
	if username == "" || password == "" || len(username) > MaxUsernameLen || len(password) > MaxPasswordLen {
		return Session{}, ErrBadCredentials
	}
	u, hash, err := s.store.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
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
	d := Device{ID: ulid.Make().String(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), LastUsedAt: now}
	evicted, err := s.store.CreateDevice(ctx, d, hashToken(token), s.cfg.MaxDevices)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	if len(evicted) > 0 && s.OnRevoke != nil {
		s.OnRevoke(u.ID, evicted, "session ended: signed in on too many devices")
	}
	return Session{Token: token, UserID: u.ID, DeviceID: d.ID, ExpiresAt: d.ExpiresAt}, nil
}

// Authenticate resolves a bearer token to its session.
func (s *Service) Authenticate(ctx context.Context, token string) (Device, error) {
	if token == "" || len(token) > 256 {
		return Device{}, ErrBadToken
	}
	d, err := s.store.DeviceByToken(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Device{}, ErrBadToken
	}
	if err != nil {
		return Device{}, fmt.Errorf("find session: %w", err)
	}
	if !s.clock.Now().Before(d.ExpiresAt) {
		return Device{}, ErrBadToken
	}
	return d, nil
}

// Logout ends a session: its token stops working at once and its open
// connections close.
func (s *Service) Logout(ctx context.Context, d Device) error {
	if err := s.store.DeleteDevice(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	if s.OnRevoke != nil {
		s.OnRevoke(d.UserID, []string{d.ID}, "session ended: signed out")
	}
	return nil
}

// ExistingDevices tells which of ids name a session that still exists.
func (s *Service) ExistingDevices(ctx context.Context, ids []string) (map[string]bool, error) {
	m, err := s.store.ExistingDevices(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("find sessions: %w", err)
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

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func validateUsername(u string) error {
	if len(u) < MinUsernameLen || len(u) > MaxUsernameLen || !usernamePattern.MatchString(u) {
		return protocol.Invalid(fmt.Sprintf("username must be %d to %d letters, digits, '_', '.' or '-'", MinUsernameLen, MaxUsernameLen))
	}
	return nil
}

func validatePassword(p string) error {
	if len(p) < MinPasswordLen || len(p) > MaxPasswordLen {
		return protocol.Invalid(fmt.Sprintf("password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen))
	}
	return nil
}
