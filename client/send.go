package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// SentMessage is the answer to PostMessage. Replayed is set when the
// server had seen the key before (HTTP 200): the answer is the original
// message's, and nothing was stored again.
type SentMessage struct {
	wire.SentMessage
	Replayed bool
}

// PostMessage sends m to a conversation over HTTP and returns once it is
// stored. conversationID and idempotencyKey stand for m's ConversationID
// and ClientMessageID, which it ignores. idempotencyKey is the message's client_message_id: post again
// with the same key after an error that left the outcome unknown, and the
// message is stored at most once. Keys are per sender and shared with the
// WebSocket's client_message_id.
func (c *Client) PostMessage(ctx context.Context, conversationID, idempotencyKey string, m OutgoingMessage) (SentMessage, error) {
	content := m.Content
	body := wire.SendRequest{
		MessageType: m.MessageType, Content: &content, MediaID: m.MediaID,
		ReplyTo: m.ReplyTo, Mentions: m.Mentions, ForwardOf: m.ForwardOf,
	}
	hdr := http.Header{wire.IdempotencyKeyHeader: {idempotencyKey}}
	var out SentMessage
	status, err := c.doWith(ctx, http.MethodPost, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/messages", hdr, body, &out.SentMessage)
	out.Replayed = status == http.StatusOK
	return out, err
}

// SendREST is PostMessage.
func (c *Client) SendREST(ctx context.Context, conversationID, idempotencyKey string, m OutgoingMessage) (SentMessage, error) {
	return c.PostMessage(ctx, conversationID, idempotencyKey, m)
}

// MarkRead marks messages of a conversation read by the caller (the
// read_receipt frame over HTTP); it returns once the receipt is stored.
func (c *Client) MarkRead(ctx context.Context, conversationID string, messageIDs ...string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/read",
		wire.ReceiptRequest{MessageIDs: messageIDs}, nil)
}

// MarkDelivered marks messages received by the caller's device (the
// delivery_ack frame over HTTP); it returns once the receipt is stored.
func (c *Client) MarkDelivered(ctx context.Context, messageIDs ...string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/messages/delivered", wire.ReceiptRequest{MessageIDs: messageIDs}, nil)
}
