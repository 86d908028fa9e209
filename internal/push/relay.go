package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/outbound"
)

// ErrBadRelay refuses a relay registration: a URL the server will not
// POST to, an app_id or pushkey out of bounds.
var ErrBadRelay = errors.New("invalid push relay")

// Bounds of a relay registration (docs/PROTOCOL.md, "Push").
const (
	MaxRelayURL     = 2048
	MaxRelayAppID   = 256
	MaxRelayPushkey = 4096
)

// SignatureHeader carries a relay notice's signature: t=<unix
// seconds>,es256=<base64url of r||s> over "<t>." + body, by the VAPID key.
const SignatureHeader = "Parley-Signature"

// Relay is a device's push relay: the HTTPS endpoint of its app vendor's
// gateway (a Sygnal-like service in front of FCM or APNs), the app, and
// the device's token there, opaque to this server.
type Relay struct {
	DeviceID  string
	UserID    string
	URL       string
	AppID     string
	Pushkey   string
	CreatedAt time.Time
}

// RelayNotice is the JSON body a relay receives: who wrote where, never
// what (wire.PushRelayNotice is the same shape, for clients).
type RelayNotice struct {
	Notice RelayNoticeBody `json:"notice"`
}

// RelayNoticeBody is the notice itself.
type RelayNoticeBody struct {
	// ID is unique per notice, the same in each retry of it, and is also
	// sent as the Idempotency-Key header.
	ID             string `json:"id"`
	Type           string `json:"type"` // "message"
	AppID          string `json:"app_id"`
	Pushkey        string `json:"pushkey"`
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	SenderName     string `json:"sender_name"`
	Unread         int    `json:"unread"`
	SentAt         string `json:"sent_at"` // RFC 3339, UTC, seconds
}

// validate checks r's fields, and its URL against g, as a bad relay with
// a message a client can show.
func (r Relay) validate(ctx context.Context, g outbound.Guard) error {
	switch {
	case r.URL == "":
		return fault.New(ErrBadRelay, "url is required")
	case len(r.URL) > MaxRelayURL:
		return fault.Newf(ErrBadRelay, "url is longer than %d bytes", MaxRelayURL)
	case r.AppID == "":
		return fault.New(ErrBadRelay, "app_id is required")
	case len(r.AppID) > MaxRelayAppID:
		return fault.Newf(ErrBadRelay, "app_id is longer than %d bytes", MaxRelayAppID)
	case strings.IndexFunc(r.AppID, func(c rune) bool { return c < 0x20 || c > 0x7e }) >= 0:
		return fault.New(ErrBadRelay, "app_id must be printable ASCII")
	case r.Pushkey == "":
		return fault.New(ErrBadRelay, "pushkey is required")
	case len(r.Pushkey) > MaxRelayPushkey:
		return fault.Newf(ErrBadRelay, "pushkey is longer than %d bytes", MaxRelayPushkey)
	case strings.IndexByte(r.Pushkey, 0) >= 0:
		// Opaque, but stored as text: PostgreSQL text holds no NUL.
		return fault.New(ErrBadRelay, "pushkey must not contain NUL")
	}
	return checkRelayURL(ctx, g, r.URL)
}

// checkRelayURL refuses a relay URL the server will not POST to, as a bad
// relay with the guard's reason.
func checkRelayURL(ctx context.Context, g outbound.Guard, u string) error {
	if err := g.Check(ctx, u); err != nil {
		msg, _ := fault.Message(err, outbound.ErrRefused)
		return fault.New(ErrBadRelay, "url "+msg)
	}
	return nil
}

// SignNotice is the Parley-Signature header of a relay notice body sent
// at now: "t=<unix seconds>,es256=<sig>", sig the JWS ES256 form (r||s,
// 32 bytes each, base64url) of an ECDSA P-256 SHA-256 signature over
// "<t>." + body with the VAPID key. A relay verifies it with the key of
// GET /api/v1/push/vapid.
func (v *VAPID) SignNotice(body []byte, now time.Time) (string, error) {
	t := strconv.FormatInt(now.Unix(), 10)
	h := sha256.New()
	h.Write([]byte(t + "."))
	h.Write(body)
	r, s, err := ecdsa.Sign(rand.Reader, v.key, h.Sum(nil))
	if err != nil {
		return "", fmt.Errorf("sign relay notice: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return "t=" + t + ",es256=" + b64.EncodeToString(sig), nil
}
