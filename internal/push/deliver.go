package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/outbound"
)

// Topic is the collapse key of a conversation's notices (RFC 8030 §5.4):
// a push service keeps only the newest notice with one topic for a device
// it cannot reach. A topic is at most 32 base64url characters and is seen
// by the push service, so it is a hash of the conversation id, not the id.
func Topic(conversationID string) string {
	h := sha256.Sum256([]byte("parley push topic\x00" + conversationID))
	return b64.EncodeToString(h[:24]) // 32 characters
}

// deliver sends one push and decides what its answer means: sent; the
// subscription or relay is gone (404, 410: deleted); worth another try
// later (429, 5xx, no answer); or refused for good (any other 4xx: a bad
// VAPID key or payload, which another try would not fix). Web Push and
// relays answer alike.
func (s *Service) deliver(ctx context.Context, d *delivery) {
	d.attempt++
	kind := d.kind()
	var status int
	var err error
	if d.relay != nil {
		status, err = s.postRelay(ctx, d)
	} else {
		status, err = s.post(ctx, d)
	}
	switch {
	case err == nil && status >= 200 && status < 300:
		s.count(kind, "sent", "")
	case err == nil && (status == http.StatusNotFound || status == http.StatusGone):
		// The browser unsubscribed, the subscription expired, or the
		// relay no longer knows the pushkey: it will never work again.
		// Deleted only if it is still the one pushed to: a device that
		// registered again meanwhile keeps its new one.
		dctx := context.WithoutCancel(ctx)
		var derr error
		if d.relay != nil {
			derr = s.store.DeletePushRelay(dctx, d.relay.DeviceID, d.relay.URL, d.relay.Pushkey)
		} else {
			derr = s.store.DeletePushSubscription(dctx, d.sub.DeviceID, d.sub.Endpoint)
		}
		if derr != nil {
			s.log.Warn("push: delete gone "+kind, "device_id", d.deviceID(), "err", derr)
		}
		s.count(kind, "dropped", "gone")
	case errors.Is(err, ErrBadSubscription) || errors.Is(err, ErrBadRelay) || outbound.Refused(err):
		s.log.Warn("push: endpoint refused", "kind", kind, "device_id", d.deviceID(), "err", err)
		s.count(kind, "dropped", "endpoint_refused")
	case ctx.Err() != nil:
		s.count(kind, "dropped", "shutdown")
	case err != nil || status == http.StatusTooManyRequests || status >= 500:
		if d.attempt >= s.cfg.Attempts {
			s.log.Info("push: giving up", "kind", kind, "device_id", d.deviceID(), "status", status, "err", err, "attempts", d.attempt)
			s.count(kind, "failed", "exhausted")
			return
		}
		s.retry(d)
	default:
		s.log.Warn("push: refused by the push service", "kind", kind, "device_id", d.deviceID(), "status", status)
		s.count(kind, "failed", "status_"+strconv.Itoa(status))
	}
}

// retry queues d again after its backoff, on the service's clock. The
// worker does not wait meanwhile: other devices' pushes go on.
func (s *Service) retry(d *delivery) {
	wait := s.cfg.Backoff << (d.attempt - 1)
	if !s.begin() {
		return
	}
	s.clock.AfterFunc(wait, func() {
		s.enqueue(d)
		s.done()
	})
}

// post sends d once and returns the push service's status.
func (s *Service) post(ctx context.Context, d *delivery) (int, error) {
	// Checked again before each push: the rules or the name's addresses
	// may have changed since the device subscribed.
	if err := checkEndpoint(ctx, s.guard, d.sub.Endpoint); err != nil {
		return 0, err
	}
	now := s.clock.Now()
	authz, err := s.vapid.Authorization(d.sub.Endpoint, now)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.sub.Endpoint, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("TTL", strconv.Itoa(int(s.cfg.TTL/time.Second)))
	req.Header.Set("Topic", d.topic)
	req.Header.Set("Urgency", "high")
	return s.do(req)
}

// postRelay sends a relay notice once, signed now (a retry is signed
// anew, so its t stays fresh; its id stays the same), and returns the
// relay's status.
func (s *Service) postRelay(ctx context.Context, d *delivery) (int, error) {
	if err := checkRelayURL(ctx, s.guard, d.relay.URL); err != nil {
		return 0, err
	}
	sig, err := s.vapid.SignNotice(d.body, s.clock.Now())
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.relay.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.id)
	req.Header.Set(SignatureHeader, sig)
	return s.do(req)
}

func (s *Service) do(req *http.Request) (int, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drained (a little) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
