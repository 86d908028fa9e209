// Package identity owns users, password hashing and sessions. Each session
// is a device: a user may be logged in on several at once, each with its own
// token and its own delivery cursors.
package identity

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// User is a registered account.
type User struct {
	ID          string
	Username    string
	DisplayName string
	CreatedAt   time.Time
	// Deleted marks an account its owner deleted: kept, emptied, as the
	// sender of the messages it left in others' histories.
	Deleted bool
	// BotOwnerID is the user who manages this account if it is a bot
	// (bots.go); "" for a person.
	BotOwnerID string
}

// Device is one logged-in session of a user.
type Device struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is the last authenticated use, to within a minute
	// (Service.Authenticate writes it at most once a minute).
	LastUsedAt time.Time
	// Name is what the user sees the session as: the name the client gave
	// at login, or its User-Agent.
	Name string
}

// Store is what identity needs from durable storage.
type Store interface {
	// CreateUser stores a user; store.ErrConflict if the username is taken
	// (usernames compare case-insensitively).
	CreateUser(ctx context.Context, u User, passwordHash string) error
	UserByID(ctx context.Context, id string) (User, error)
	// UserByUsername returns the user and its password hash.
	UserByUsername(ctx context.Context, username string) (User, string, error)
	// CreateDevice stores a new session. In the same transaction it deletes
	// the user's expired sessions and, if more than maxDevices would remain,
	// the oldest ones; it returns the ids it evicted.
	CreateDevice(ctx context.Context, d Device, tokenHash []byte, maxDevices int) (evicted []string, err error)
	// DeleteDevice ends a session; store.ErrNotFound if there is none.
	DeleteDevice(ctx context.Context, id string) error
	// ExistingDevices tells which of ids name a session that exists.
	ExistingDevices(ctx context.Context, ids []string) (map[string]bool, error)
	// DeviceByToken finds the session whose token hashes to tokenHash.
	DeviceByToken(ctx context.Context, tokenHash []byte) (Device, error)

	// Devices lists a user's sessions, expired ones too, most recently
	// used first.
	Devices(ctx context.Context, userID string) ([]Device, error)
	// TouchDevice records a session's use at at; an earlier time than the
	// stored one changes nothing, and a session that is gone is no error.
	TouchDevice(ctx context.Context, id string, at time.Time) error
	// DeleteOtherDevices ends every session of userID but keep and returns
	// the ids it ended.
	DeleteOtherDevices(ctx context.Context, userID, keep string) (ended []string, err error)
	// PasswordHash returns a user's password hash; store.ErrNotFound if
	// there is no such user.
	PasswordHash(ctx context.Context, userID string) (string, error)
	// SetPassword replaces a user's password hash and, in the same
	// transaction, ends every session of the user but keep; it returns the
	// ids it ended.
	SetPassword(ctx context.Context, userID, passwordHash, keep string) (ended []string, err error)
	// DeleteAccount empties and marks userID deleted at at, with its
	// sessions, settings, contacts and blocks, in one transaction, and
	// returns the sessions it ended. store.ErrNotFound if there is no
	// such live account.
	DeleteAccount(ctx context.Context, userID string, at time.Time) (ended []string, err error)
	// UserForLookup returns the user whose username is username (compared
	// case-insensitively) and its discoverability; store.ErrNotFound if
	// there is none.
	UserForLookup(ctx context.Context, username string) (User, Discoverability, error)
	// Discoverability returns who may find a user by its username;
	// store.ErrNotFound if there is no such user.
	Discoverability(ctx context.Context, userID string) (Discoverability, error)
	// SetDiscoverability saves it.
	SetDiscoverability(ctx context.Context, userID string, d Discoverability) error
}

// Errors of this domain. internal/errmap gives each its wire code.
var (
	ErrUsernameTaken  = errors.New("username is taken")
	ErrBadCredentials = errors.New("wrong username or password")
	ErrBadToken       = errors.New("missing, unknown or expired token")
	ErrUserNotFound   = errors.New("no such user")
	// ErrBusy: too many logins and registrations wait for a password hash.
	ErrBusy = errors.New("too many logins at once: retry shortly")

	ErrBadUsername    = fmt.Errorf("username must be %d to %d letters, digits, '_', '.' or '-'", MinUsernameLen, MaxUsernameLen)
	ErrBadPassword    = fmt.Errorf("password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	ErrBadDisplayName = fmt.Errorf("display_name must be at most %d printable characters", MaxDisplayNameLen)
	ErrBadDeviceName  = fmt.Errorf("device_name must be at most %d printable characters", MaxDeviceNameLen)
	// ErrSessionNotFound: no session of the caller's has that id (another
	// user's is not found either: nobody learns of others' sessions).
	ErrSessionNotFound = errors.New("no such session")

	// ErrBotNotFound: the caller owns no bot with that id (another
	// user's bot is not found either: nobody learns of others' bots).
	ErrBotNotFound = errors.New("no such bot")
	// ErrBotCannotCreate: a bot asked to create a bot.
	ErrBotCannotCreate = errors.New("a bot cannot create bots")
	// ErrBotNoPassword: a bot asked for what needs a password (to change
	// it, to delete its own account): it has none; its owner manages it.
	ErrBotNoPassword = errors.New("a bot has no password: its owner manages it")
	// ErrTooManyBots: the owner has as many bots as MaxBotsPerUser allows.
	ErrTooManyBots = errors.New("too many bots: delete one first")

	ErrDiscoverability = errors.New(`discoverable must be "everyone" or "nobody"`)
	ErrNoUsername      = errors.New("username is required")
)
