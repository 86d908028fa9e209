package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/wire"
)

// Webhooks (docs/PROTOCOL.md, "Webhooks"): a bot's owner gives it a URL
// the server POSTs the bot's events to, signed with a secret shown once.
type (
	// Webhook is a bot's webhook; Secret is set only in SetWebhook's answer.
	Webhook = wire.Webhook
	// WebhookEvent is the body of each request to a webhook.
	WebhookEvent = wire.WebhookEvent
	// WebhookDelivery is an event that failed at least once.
	WebhookDelivery = wire.WebhookDelivery
)

// SetWebhook points the caller's bot's webhook at rawURL (https, public)
// and returns it with its new signing secret, shown this once. Setting it
// again replaces the URL and the secret.
func (c *Client) SetWebhook(ctx context.Context, botID, rawURL string) (Webhook, error) {
	var w Webhook
	err := c.do(ctx, http.MethodPut, "/api/v1/bots/"+url.PathEscape(botID)+"/webhook", wire.SetWebhookRequest{URL: rawURL}, &w)
	return w, err
}

// Webhook returns the caller's bot's webhook, without its secret.
func (c *Client) Webhook(ctx context.Context, botID string) (Webhook, error) {
	var w Webhook
	err := c.do(ctx, http.MethodGet, "/api/v1/bots/"+url.PathEscape(botID)+"/webhook", nil, &w)
	return w, err
}

// DeleteWebhook removes the caller's bot's webhook.
func (c *Client) DeleteWebhook(ctx context.Context, botID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/bots/"+url.PathEscape(botID)+"/webhook", nil, nil)
}

// WebhookDeliveries lists the bot's events that failed at least once,
// newest attempt first; status "" is every status, else retrying,
// delivered or failed.
func (c *Client) WebhookDeliveries(ctx context.Context, botID, status string) ([]WebhookDelivery, error) {
	path := "/api/v1/bots/" + url.PathEscape(botID) + "/deliveries"
	if status != "" {
		path += "?status=" + url.QueryEscape(status)
	}
	var l wire.WebhookDeliveries
	err := c.do(ctx, http.MethodGet, path, nil, &l)
	return l.Deliveries, err
}

// ErrBadSignature: a webhook request not signed with the secret, or
// signed too long ago.
var ErrBadSignature = errors.New("parley: bad webhook signature")

// VerifyWebhook checks a webhook request's Parley-Signature header
// against its raw body: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">". A signature older or newer than tolerance at now is
// refused, so that a captured request cannot be replayed later. Verify
// the raw bytes, before decoding them.
func VerifyWebhook(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
