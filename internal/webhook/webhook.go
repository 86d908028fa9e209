// Package webhook delivers what is addressed to a bot to the bot's
// webhook URL: each message (system messages, so membership changes,
// included), reaction, edit and deletion of the conversations the bot is
// a member of, as a signed JSON POST, at least once and in conversation
// order.
//
// A webhook is delivered like a device, not through an outbox: it has its
// own cursors per conversation over the conversation logs (messages and
// update events), moved when the endpoint answers 2xx. So the send path
// writes nothing more for a bot than for a person, and what an endpoint
// has not accepted is still in the logs after a restart. One node at a
// time delivers a bot's events (a lease in the store), one request at a
// time, which is what keeps them in order.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/messaging"
)

// ErrBadURL refuses a webhook URL: not https, not absolute, or naming a
// private address the operator did not allow.
var ErrBadURL = errors.New("invalid webhook url")

// ErrNoWebhook: the bot has no webhook.
var ErrNoWebhook = errors.New("webhook not found")

// MaxURLLen bounds a webhook URL.
const MaxURLLen = 2048

// secretPrefix starts every signing secret, so that one pasted where it
// should not be is recognisable.
const secretPrefix = "whsec_"

// Hook is a bot's webhook.
type Hook struct {
	BotID     string
	URL       string
	Secret    string
	CreatedAt time.Time
}

// Delivery is an event that failed at least once, as the owner sees it.
type Delivery struct {
	EventID        string
	ConversationID string
	Type           string
	// Status is StatusRetrying, StatusDelivered or StatusFailed.
	Status         string
	Attempts       int
	FirstAttemptAt time.Time
	LastAttemptAt  time.Time
	// LastStatus is the endpoint's last HTTP status, 0 if it did not
	// answer (LastError says why).
	LastStatus int
	LastError  string
}

// Delivery states.
const (
	StatusRetrying  = "retrying"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// PendingMessage is a message past a webhook's cursor. Deliver is whether
// the bot may be told of it: its own messages, ones withheld from it and
// ones gone are passed without a request.
type PendingMessage struct {
	messaging.Message
	Deliver bool
}

// PendingUpdate is an update event past a webhook's cursor, Deliver as
// PendingMessage's.
type PendingUpdate struct {
	messaging.UpdateEvent
	Deliver bool
}

// Position pages through pending events: after (ConversationID, Seq).
type Position struct {
	ConversationID string
	Seq            int64
}

// Store keeps webhooks, their cursors and their failed deliveries.
type Store interface {
	// PutWebhook stores h as its bot's webhook, replacing the URL and
	// secret of any; a new webhook starts at the head of each of the
	// bot's conversations, a replaced one where it was.
	PutWebhook(ctx context.Context, h Hook) error
	// DeleteWebhook deletes the bot's webhook, cursors and deliveries;
	// ErrNoWebhook if there is none.
	DeleteWebhook(ctx context.Context, botID string) error
	// Webhook returns the bot's webhook; ErrNoWebhook if none.
	Webhook(ctx context.Context, botID string) (Hook, error)
	// WebhookBots lists the bots that have a webhook.
	WebhookBots(ctx context.Context) ([]string, error)
	// DueWebhooks lists the bots with events past their cursors whose
	// lease is free at now or held by node.
	DueWebhooks(ctx context.Context, node string, now time.Time) ([]string, error)
	// LeaseWebhook takes or renews the bot's lease for node until until,
	// if it is free at now or node's; ok false if another node holds it.
	LeaseWebhook(ctx context.Context, botID, node string, now, until time.Time) (h Hook, ok bool, err error)
	// ReleaseWebhook frees the bot's lease if node holds it; botID ""
	// frees every lease node holds.
	ReleaseWebhook(ctx context.Context, botID, node string) error
	// WebhookMessages returns up to limit messages after pos and past the
	// webhook's cursors, in the bot's memberships, by conversation and
	// sequence number.
	WebhookMessages(ctx context.Context, botID string, pos Position, limit int, w messaging.Window) ([]PendingMessage, error)
	// WebhookUpdates returns up to limit update events after pos and past
	// the webhook's cursors, by conversation and event.
	WebhookUpdates(ctx context.Context, botID string, pos Position, limit int, w messaging.Window) ([]PendingUpdate, error)
	// AdvanceWebhook moves the webhook's cursors forward (never back):
	// messages and update events, per conversation.
	AdvanceWebhook(ctx context.Context, botID string, messages, updates map[string]int64) error
	// RecordAttempt records a failed attempt of d.EventID (creating its
	// row as retrying) and returns its attempts and first attempt so far.
	RecordAttempt(ctx context.Context, botID string, d Delivery) (attempts int, first time.Time, err error)
	// SettleDelivery sets the status of the event's row, if it has one.
	SettleDelivery(ctx context.Context, botID, eventID, status string, at time.Time) error
	// Deliveries lists the bot's recorded deliveries, newest attempt
	// first; status "" is every status.
	Deliveries(ctx context.Context, botID, status string, limit int) ([]Delivery, error)
	// PruneDeliveries deletes recorded deliveries last tried before before.
	PruneDeliveries(ctx context.Context, before time.Time) error
}

// NewSecret returns a fresh signing secret: 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the Parley-Signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by secret>".
// The time is inside the MAC so that a captured request cannot be
// replayed later than the receiver's tolerance.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
