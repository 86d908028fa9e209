package api

import (
	"context"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// Sender is the committer as the REST send path uses it: the same queue,
// the same group commit and the same publish as a WebSocket send.
type Sender interface {
	Submit(ctx context.Context, m messaging.Message, done func(messaging.AppendResult)) error
	Receipt(ctx context.Context, r messaging.ReceiptRequest) error
}

// MediaAccess says whether a user may attach a media item to a message.
type MediaAccess interface {
	CanUse(ctx context.Context, userID, mediaID string) error
}

// SendDeps are what the REST send and receipt routes need. Everything that
// bounds a WebSocket send bounds these too: they are another door to the
// same committer, not a way around its limits.
type SendDeps struct {
	Sender Sender
	// Media, if set, checks attachments as the gateway does.
	Media MediaAccess
	// Limits are the frame limits the bodies are validated against.
	Limits wire.Limits
	// PerUser are the node's per-user send buckets, the gateway's own
	// instance (nil: off).
	PerUser *limits.Rates
	// Receipts are the per-user buckets of receipts over REST (nil: off).
	Receipts *limits.Rates
	// Admit takes a place under the node's bound on sends awaiting their
	// commit (gateway.AdmitSend); nil: no bound.
	Admit func() (release func(), err error)
	// StopTyping, if set, ends the sender's typing state, as a send over
	// the WebSocket does.
	StopTyping func(conversationID, userID string)
	Clock      clock.Clock
}

// RegisterSend adds the REST send and receipt routes to mux.
func (a *API) RegisterSend(mux *http.ServeMux, d SendDeps) {
	h := sendHandlers{API: a, SendDeps: d}
	mux.Handle("POST /api/v1/conversations/{id}/messages", a.auth(h.send))
	mux.Handle("POST /api/v1/conversations/{id}/read", a.auth(h.receipt(wire.TypeReadReceipt)))
	mux.Handle("POST /api/v1/messages/delivered", a.auth(h.receipt(wire.TypeDeliveryAck)))
}

type sendHandlers struct {
	*API
	SendDeps
}

// checkKey applies the client_message_id rules to the Idempotency-Key
// header, naming the header so the client knows which field is wrong.
func checkKey(key string) error {
	switch {
	case key == "":
		return wire.Invalid("the " + wire.IdempotencyKeyHeader + " header is required")
	case len(key) > wire.MaxIDLength:
		return wire.Invalid(fmt.Sprintf("the %s header is longer than %d bytes", wire.IdempotencyKeyHeader, wire.MaxIDLength))
	case !utf8.ValidString(key):
		return wire.Invalid("the " + wire.IdempotencyKeyHeader + " header is not valid UTF-8")
	}
	return nil
}

// send is POST /api/v1/conversations/{id}/messages: the WebSocket's
// message frame over HTTP. It answers after the commit, 201 for a new
// message and 200 for a key the sender used before (on either path): the
// original message, whatever this body says.
func (h sendHandlers) send(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := session(ctx)
	key := r.Header.Get(wire.IdempotencyKeyHeader)
	if err := checkKey(key); err != nil {
		h.fail(w, r, err)
		return
	}
	var req wire.SendRequest
	if err := decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	// The frame's own validation, so both paths refuse the same sends
	// with the same codes (too_large is 413 here).
	f := wire.Inbound{
		Type: wire.TypeMessage, ClientMessageID: key, ConversationID: r.PathValue("id"),
		MessageType: req.MessageType, Content: req.Content, MediaID: req.MediaID,
		ReplyTo: req.ReplyTo, Mentions: req.Mentions, ForwardOf: req.ForwardOf,
	}
	if err := f.Validate(h.Limits); err != nil {
		h.fail(w, r, err)
		return
	}
	if ok, retry := h.PerUser.Take(d.UserID, h.Clock.Now()); !ok {
		h.limited("user_sends")
		h.fail(w, r, wire.RateLimited("too many messages from this user: resend it later", retry))
		return
	}
	release := func() {}
	if h.Admit != nil {
		rel, err := h.Admit()
		if err != nil {
			h.fail(w, r, err)
			return
		}
		release = rel
	}
	m := messaging.Message{
		ConversationID: f.ConversationID, SenderID: d.UserID, SenderDevice: d.ID,
		ClientMessageID: key, Type: f.MessageType, Content: *f.Content, MediaID: f.MediaID,
		ReplyTo: f.ReplyTo, Mentions: f.Mentions, ForwardOf: f.ForwardOf,
	}
	if m.MediaID != "" && h.Media != nil {
		// As on the WebSocket: an id alone must not be a key to someone
		// else's media.
		if err := h.Media.CanUse(ctx, d.UserID, m.MediaID); err != nil {
			release()
			h.fail(w, r, err)
			return
		}
	}
	// Submit rather than Committer.Send: the node's pending count must
	// drop when the commit is done, not when this request gives up on
	// it (a client that hangs up leaves its send queued, and committed).
	done := make(chan messaging.AppendResult, 1)
	if err := h.Sender.Submit(ctx, m, func(res messaging.AppendResult) {
		release()
		done <- res
	}); err != nil {
		release()
		h.fail(w, r, err)
		return
	}
	if h.StopTyping != nil {
		h.StopTyping(m.ConversationID, d.UserID)
	}
	var res messaging.AppendResult
	select {
	case res = <-done:
	case <-ctx.Done():
		h.fail(w, r, ctx.Err()) // the client went away; the send may still commit
		return
	}
	if res.Err != nil {
		h.fail(w, r, res.Err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, wire.SentMessage{
		ClientMessageID: key, MessageID: res.Message.ID, ConversationID: res.Message.ConversationID,
		SequenceNumber: res.Message.Seq, Status: wire.StatusSent, Timestamp: clock.Millis(res.Message.CreatedAt),
	})
}

// receipt answers POST /api/v1/conversations/{id}/read (typ
// read_receipt) and POST /api/v1/messages/delivered (typ delivery_ack):
// the frames over HTTP, validated as they are, 204 once committed.
func (h sendHandlers) receipt(typ string) http.HandlerFunc {
	status := wire.StatusDelivered
	if typ == wire.TypeReadReceipt {
		status = wire.StatusRead
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req wire.ReceiptRequest
		if err := decode(w, r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		f := wire.Inbound{Type: typ, ConversationID: r.PathValue("id"), MessageIDs: req.MessageIDs}
		if err := f.Validate(h.Limits); err != nil {
			h.fail(w, r, err)
			return
		}
		d := session(r.Context())
		if ok, retry := h.Receipts.Take(d.UserID, h.Clock.Now()); !ok {
			h.limited("user_receipts")
			h.fail(w, r, wire.RateLimited("too many receipts from this user: send them later", retry))
			return
		}
		h.noContent(w, r, h.Sender.Receipt(r.Context(), messaging.ReceiptRequest{
			UserID: d.UserID, DeviceID: d.ID, Status: status,
			ConversationID: f.ConversationID, MessageIDs: f.MessageIDs,
		}))
	}
}
