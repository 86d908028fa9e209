package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/store"
)

// A bot is a user with an owner and no password. Its API key is a session
// of the bot: a device row whose token hash is the key's, which never
// expires in practice (BotKeyTTL). So a key authenticates REST calls and
// the WebSocket exactly as a login's token does, is cached, rate limited
// and revoked through the same paths, and a bot receives what any device
// receives. A bot holds at most one key: minting one (CreateDevice with
// maxDevices 1) ends the previous one in the same transaction, and its
// connections close with 4001 on every node (revoke).

// BotKeyTTL is how long an API key is valid: a century, i.e. until it is
// rotated or revoked. Not "forever": the gateway arms a timer for a
// session's expiry at connect, and a Duration holds about 292 years.
const BotKeyTTL = 100 * 365 * 24 * time.Hour

// botKeyPrefix starts every API key, so that a key pasted where it should
// not be (a log, a repository) is recognisable, by people and scanners.
const botKeyPrefix = "parley_bot_"

// botKeyName is the session name a key's device shows in the bot's
// sessions list.
const botKeyName = "API key"

// Bot is a bot account as its owner sees it.
type Bot struct {
	User
	// KeyCreatedAt is when its current API key was made; zero: it has
	// none (revoked, never minted).
	KeyCreatedAt time.Time
}

// BotStore is what bots need from durable storage beyond Store.
type BotStore interface {
	// CreateBot stores u, a bot of ownerID without a password, unless
	// ownerID already has maxBots live bots (ErrTooManyBots; maxBots 0:
	// no cap), in one transaction. store.ErrConflict if the username is
	// taken; store.ErrNotFound if ownerID is no live account.
	CreateBot(ctx context.Context, u User, maxBots int) error
	// Bots lists ownerID's live bots, oldest first, with their keys'
	// creation times.
	Bots(ctx context.Context, ownerID string) ([]Bot, error)
	// BotOwner returns the owner of the live bot botID; store.ErrNotFound
	// if there is no such live bot.
	BotOwner(ctx context.Context, botID string) (string, error)
	// DeleteBot deletes the bot's account as DeleteAccount does and, in
	// the same transaction, frees its username; it returns the sessions
	// it ended. store.ErrNotFound if there is no such live bot.
	DeleteBot(ctx context.Context, botID string, at time.Time) (ended []string, err error)
}

// BotConfig tunes bots.
type BotConfig struct {
	// MaxPerUser bounds the live bots one user owns (0: no cap).
	MaxPerUser int
}

// Bots creates and manages bot accounts on behalf of their owners.
type Bots struct {
	ids   *Service
	store BotStore
	cfg   BotConfig
}

// NewBots returns the bots service; ids mints and revokes the keys.
func NewBots(ids *Service, st BotStore, cfg BotConfig) *Bots {
	return &Bots{ids: ids, store: st, cfg: cfg}
}

// BotKey is a newly minted API key: shown once, stored only hashed.
type BotKey struct {
	BotID  string
	APIKey string
}

// Create makes a bot owned by caller's user, validated as a registration
// is (username, display name), and its first API key.
func (b *Bots) Create(ctx context.Context, caller Device, username, displayName string) (BotKey, error) {
	if err := validateUsername(username); err != nil {
		return BotKey{}, err
	}
	displayName, ok := names.Clean(displayName, MaxDisplayNameLen)
	if !ok {
		return BotKey{}, ErrBadDisplayName
	}
	if displayName == "" {
		displayName = username
	}
	owner, err := b.ids.User(ctx, caller.UserID)
	if err != nil {
		return BotKey{}, err
	}
	// One level only: a bot owned by a bot would outlive the person
	// accountable for it and multiply past the per-owner cap.
	if owner.BotOwnerID != "" {
		return BotKey{}, ErrBotCannotCreate
	}
	u := User{ID: ulid.Make().String(), Username: username, DisplayName: displayName,
		CreatedAt: b.ids.clock.Now(), BotOwnerID: caller.UserID}
	switch err := b.store.CreateBot(ctx, u, b.cfg.MaxPerUser); {
	case errors.Is(err, store.ErrConflict):
		return BotKey{}, ErrUsernameTaken
	case errors.Is(err, store.ErrNotFound):
		return BotKey{}, ErrBadToken // the owner was deleted meanwhile
	case err != nil:
		return BotKey{}, err
	}
	// A failure here leaves a bot without a key, which its owner sees in
	// the list and mends with a rotation.
	return b.mint(ctx, u.ID)
}

// List returns caller's bots, never their keys (only their hashes are
// stored).
func (b *Bots) List(ctx context.Context, caller Device) ([]Bot, error) {
	bots, err := b.store.Bots(ctx, caller.UserID)
	if err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	return bots, nil
}

// RotateKey gives caller's bot botID a new API key; the old one stops
// working at once and its connections close with 4001 on every node.
func (b *Bots) RotateKey(ctx context.Context, caller Device, botID string) (BotKey, error) {
	if err := b.owned(ctx, caller, botID); err != nil {
		return BotKey{}, err
	}
	return b.mint(ctx, botID)
}

// RevokeKey takes caller's bot botID's key away: it stops working at once
// and its connections close; the bot has no key until one is rotated in.
// Revoking when there is no key is no error.
func (b *Bots) RevokeKey(ctx context.Context, caller Device, botID string) error {
	if err := b.owned(ctx, caller, botID); err != nil {
		return err
	}
	ended, err := b.ids.store.DeleteOtherDevices(ctx, botID, "")
	if err != nil {
		return fmt.Errorf("revoke bot key: %w", err)
	}
	if len(ended) > 0 {
		b.ids.revoke(ctx, botID, ended, "session ended: API key revoked")
	}
	return nil
}

// DeleteBot deletes caller's bot botID: the account is emptied, marked
// deleted and its name freed at once (its owner may want it back for a
// new bot), its key ends. The rest — memberships, uploads, avatar — is
// the caller's to finish, as for any deletion (internal/accounts).
func (b *Bots) DeleteBot(ctx context.Context, caller Device, botID string) error {
	if err := b.owned(ctx, caller, botID); err != nil {
		return err
	}
	return b.deleteBot(ctx, botID)
}

// DeleteBotsOf deletes every live bot of ownerID, whose account was
// deleted: no bot outlives the person accountable for it. It returns the
// ids of the bots it deleted.
func (b *Bots) DeleteBotsOf(ctx context.Context, ownerID string) ([]string, error) {
	bots, err := b.store.Bots(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	var done []string
	for _, bot := range bots {
		if err := b.deleteBot(ctx, bot.ID); err != nil && !errors.Is(err, ErrBotNotFound) {
			return done, err
		}
		done = append(done, bot.ID)
	}
	return done, nil
}

func (b *Bots) deleteBot(ctx context.Context, botID string) error {
	ended, err := b.store.DeleteBot(ctx, botID, b.ids.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrBotNotFound // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("delete bot: %w", err)
	}
	b.ids.revoke(ctx, botID, ended, "session ended: account deleted")
	return nil
}

// Owned checks that botID is a live bot of caller's user, for other
// domains' bot settings (webhooks): ErrBotNotFound otherwise.
func (b *Bots) Owned(ctx context.Context, caller Device, botID string) error {
	return b.owned(ctx, caller, botID)
}

// owned checks that botID is a live bot of caller's user. Another user's
// bot is ErrBotNotFound, as one that does not exist.
func (b *Bots) owned(ctx context.Context, caller Device, botID string) error {
	owner, err := b.store.BotOwner(ctx, botID)
	if errors.Is(err, store.ErrNotFound) || err == nil && owner != caller.UserID {
		return ErrBotNotFound
	}
	if err != nil {
		return fmt.Errorf("find bot: %w", err)
	}
	return nil
}

// mint makes a new API key for botID: a session of the bot that ends
// every earlier one in the same transaction (maxDevices 1).
func (b *Bots) mint(ctx context.Context, botID string) (BotKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return BotKey{}, fmt.Errorf("read key: %w", err)
	}
	key := botKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := b.ids.clock.Now()
	d := Device{ID: ulid.Make().String(), UserID: botID, CreatedAt: now, ExpiresAt: now.Add(BotKeyTTL), LastUsedAt: now, Name: botKeyName}
	h := hashToken(key)
	evicted, err := b.ids.store.CreateDevice(ctx, d, h[:], 1)
	if err != nil {
		return BotKey{}, fmt.Errorf("create bot key: %w", err)
	}
	if len(evicted) > 0 {
		b.ids.revoke(ctx, botID, evicted, "session ended: API key rotated")
	}
	if b.ids.OnSession != nil {
		b.ids.OnSession(ctx, botID)
	}
	return BotKey{BotID: botID, APIKey: key}, nil
}
