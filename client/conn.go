package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/wire"
)

// Frame is any server frame: the fields of every type in one struct, plus
// the raw JSON.
type Frame = wire.ServerFrame

// Quote is what a reply shows of the message it answers.
type Quote = wire.Quote

// Ack is a message_ack: the message is durably stored.
type Ack struct {
	ClientMessageID string
	MessageID       string
	ConversationID  string
	SequenceNumber  int64
	Timestamp       int64
}

// OutgoingMessage is a message to send.
type OutgoingMessage struct {
	ClientMessageID string `json:"client_message_id"`
	ConversationID  string `json:"conversation_id"`
	MessageType     string `json:"message_type"`
	Content         string `json:"content"`
	MediaID         string `json:"media_id,omitempty"`
	// ReplyTo, if set, names the message of the conversation this one
	// answers; delivered with a quote of it.
	ReplyTo string `json:"reply_to,omitempty"`
	// Mentions name members of the conversation.
	Mentions []string `json:"mentions,omitempty"`
	// ForwardOf, if set, names the message, of any conversation the
	// sender can see, that this one forwards.
	ForwardOf string `json:"forward_of,omitempty"`
}

// DialOptions tune a connection.
type DialOptions struct {
	// Heartbeat, if positive, sends a heartbeat at this interval.
	Heartbeat time.Duration
	// Buffer is the capacity of the Frames channel (default 1024).
	Buffer int
	// HTTPClient dials the connection (default http.DefaultClient).
	HTTPClient *http.Client
	// SendRetries bounds how many times SendMessage resends a message the
	// server refused with rate_limited and a retry_after_ms hint, each
	// time after the hint (0: DefaultSendRetries; negative: never, the
	// refusal is returned at once).
	SendRetries int
}

// DefaultSendRetries is how many times SendMessage resends a message
// refused with a retry_after_ms hint before it returns the refusal. The
// server caps a hint at 5 s, so this is up to about 50 s of being told to
// wait, unless the caller's context ends first.
const DefaultSendRetries = 10

// Conn is a WebSocket connection to the server. Frames that answer a
// pending SendMessage go to it; every other frame goes to Frames.
type Conn struct {
	ws     *websocket.Conn
	frames chan Frame
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	retries int // SendMessage's resends after a hint (DialOptions.SendRetries)

	mu      sync.Mutex
	waiters map[string]chan Frame
	err     error
}

// Dial opens a WebSocket connection with the client's token.
func (c *Client) Dial(ctx context.Context, opt DialOptions) (*Conn, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("parley: base URL: %w", err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path += "/ws"
	u.RawQuery = url.Values{"token": {c.Token}}.Encode()
	hc := opt.HTTPClient
	if hc == nil {
		hc = c.HTTP
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return nil, &Error{Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode), Message: "websocket upgrade refused", RetryAfter: retryAfter(resp)}
		}
		return nil, fmt.Errorf("parley: dial: %w", err)
	}
	ws.SetReadLimit(16 << 20)
	if opt.Buffer <= 0 {
		opt.Buffer = 1024
	}
	if opt.SendRetries == 0 {
		opt.SendRetries = DefaultSendRetries
	}
	cctx, cancel := context.WithCancel(context.Background())
	conn := &Conn{
		ws: ws, frames: make(chan Frame, opt.Buffer), ctx: cctx, cancel: cancel,
		done: make(chan struct{}), waiters: map[string]chan Frame{}, retries: max(0, opt.SendRetries),
	}
	go conn.readLoop()
	if opt.Heartbeat > 0 {
		go conn.heartbeatLoop(opt.Heartbeat)
	}
	return conn, nil
}

func codeForStatus(s int) string {
	switch s {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusTooManyRequests:
		return "rate_limited"
	default:
		return "internal"
	}
}

// Frames delivers every frame not claimed by a SendMessage call. It is
// closed when the connection ends.
func (c *Conn) Frames() <-chan Frame { return c.frames }

// Done is closed when the connection has ended; Err then tells why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// CloseStatus returns the close code the server ended the connection
// with, or -1.
func (c *Conn) CloseStatus() int { return int(websocket.CloseStatus(c.Err())) }

// Close closes the connection normally.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
	return err
}

// Abort drops the connection without a close handshake, as a crashing
// client or a lost network would.
func (c *Conn) Abort() {
	_ = c.ws.CloseNow()
	c.cancel()
	<-c.done
}

func (c *Conn) readLoop() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, data, err := c.ws.Read(c.ctx)
		if err != nil {
			c.mu.Lock()
			c.err = err
			for k, w := range c.waiters {
				close(w)
				delete(c.waiters, k)
			}
			c.mu.Unlock()
			return
		}
		f, err := wire.DecodeServer(data)
		if err != nil {
			continue
		}
		if (f.Type == "message_ack" || f.Type == "error") && f.ClientMessageID != "" {
			c.mu.Lock()
			w, ok := c.waiters[f.ClientMessageID]
			if ok {
				delete(c.waiters, f.ClientMessageID)
			}
			c.mu.Unlock()
			if ok {
				w <- f
				continue
			}
		}
		select {
		case c.frames <- f:
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Conn) heartbeatLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := c.Heartbeat(c.ctx); err != nil {
				return
			}
		case <-c.done:
			return
		}
	}
}

// Send writes any frame, marshalled as JSON.
func (c *Conn) Send(ctx context.Context, frame any) error {
	b, err := json.Marshal(frame)
	if err != nil {
		return fmt.Errorf("parley: encode frame: %w", err)
	}
	return c.SendRaw(ctx, b)
}

// writeTimeout bounds one frame write: a server that stopped reading
// fails it, and the connection, after this long.
const writeTimeout = 10 * time.Second

// SendRaw writes bytes as one text frame, as they are. ctx is checked
// before the write; a write under way finishes (or fails after
// writeTimeout) whatever becomes of ctx.
func (c *Conn) SendRaw(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// coder/websocket closes the connection when a write's context ends
	// while the write is under way, even in the instant after its bytes
	// went out: a caller cancelling as soon as it has its answer (the
	// usual case) killed the connection now and then
	// (TestSendMessageWaitEndsWithContext under load).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageText, data)
}

// SendMessage sends a message and waits for its message_ack (or the error
// frame that refuses it, returned as *Error). A rate_limited refusal that
// says when to resend (retry_after_ms) is not returned: the same frame,
// with the same client_message_id, is sent again after that wait, up to
// DialOptions.SendRetries times or until ctx ends (nothing was stored, so
// the caller sees one send and one ack). Other refusals, and a
// rate_limited without a hint, are returned as they come.
func (c *Conn) SendMessage(ctx context.Context, m OutgoingMessage) (Ack, error) {
	if m.MessageType == "" {
		m.MessageType = "text"
	}
	frame := wire.Encode(wire.NewMessage(m.ClientMessageID, m.ConversationID, m.MessageType, m.Content, m.MediaID).Reply(m.ReplyTo).Mention(m.Mentions...).Forward(m.ForwardOf))
	for attempt := 0; ; attempt++ {
		f, err := c.sendAndWait(ctx, m.ClientMessageID, frame)
		if err != nil {
			return Ack{}, err
		}
		if f.Type != "error" {
			return Ack{ClientMessageID: f.ClientMessageID, MessageID: f.MessageID, ConversationID: f.ConversationID,
				SequenceNumber: f.SequenceNumber, Timestamp: f.Timestamp}, nil
		}
		wait := time.Duration(f.RetryAfterMS) * time.Millisecond
		refusal := &Error{Code: string(f.Code), Message: f.Message, RetryAfter: wait}
		if f.Code != "rate_limited" || wait <= 0 || attempt >= c.retries {
			return Ack{}, refusal
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Ack{}, ctx.Err()
		case <-c.done:
			t.Stop()
			return Ack{}, fmt.Errorf("parley: connection closed waiting to resend: %w", refusal)
		}
	}
}

// sendAndWait writes a message frame and waits for the frame that answers
// its client_message_id: a message_ack or an error.
func (c *Conn) sendAndWait(ctx context.Context, clientMessageID string, frame []byte) (Frame, error) {
	w := make(chan Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return Frame{}, fmt.Errorf("parley: connection closed: %w", err)
	}
	c.waiters[clientMessageID] = w
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.waiters, clientMessageID)
		c.mu.Unlock()
	}
	if err := c.SendRaw(ctx, frame); err != nil {
		forget()
		return Frame{}, err
	}
	select {
	case f, ok := <-w:
		if !ok {
			return Frame{}, errors.New("parley: connection closed before the ack")
		}
		return f, nil
	case <-ctx.Done():
		forget()
		return Frame{}, ctx.Err()
	}
}

// Ack tells the server the device has received these messages.
func (c *Conn) Ack(ctx context.Context, messageIDs ...string) error {
	return c.Send(ctx, wire.NewDeliveryAck(messageIDs))
}

// Read tells the server the user has read these messages.
func (c *Conn) Read(ctx context.Context, conversationID string, messageIDs ...string) error {
	return c.Send(ctx, wire.NewReadReceipt(conversationID, messageIDs))
}

// React sets the user's reaction to a message ("" removes it). The
// outcome is a frame: the reaction frame every member's devices get, this
// one included, or an error frame naming the message.
func (c *Conn) React(ctx context.Context, messageID, emoji string) error {
	return c.Send(ctx, wire.NewReaction(messageID, emoji))
}

// Edit replaces the content of the user's own text message; the outcome
// is a message_edited frame or an error frame, as React's.
func (c *Conn) Edit(ctx context.Context, messageID, content string) error {
	return c.Send(ctx, wire.NewEdit(messageID, content))
}

// Delete deletes a message for wire.DeleteForEveryone or wire.DeleteForMe;
// the outcome is a message_deleted frame or an error frame, as React's.
func (c *Conn) Delete(ctx context.Context, messageID, forWhom string) error {
	return c.Send(ctx, wire.NewDelete(messageID, forWhom))
}

// Heartbeat sends a heartbeat; the server answers heartbeat_ack.
func (c *Conn) Heartbeat(ctx context.Context) error {
	return c.Send(ctx, wire.NewHeartbeat(time.Now().UnixMilli()))
}

// Typing sends a typing state ("composing" or "paused").
func (c *Conn) Typing(ctx context.Context, conversationID, state string) error {
	return c.Send(ctx, wire.NewTyping(conversationID, state))
}

// SubscribePresence asks for presence frames about these users.
func (c *Conn) SubscribePresence(ctx context.Context, userIDs ...string) error {
	return c.Send(ctx, wire.NewPresenceSubscribe(userIDs))
}

// Next returns the next frame from Frames whose type is one of types
// (any type if none), skipping others; it fails when ctx ends or the
// connection closes.
func (c *Conn) Next(ctx context.Context, types ...string) (Frame, error) {
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return Frame{}, fmt.Errorf("parley: connection closed: %w", c.Err())
			}
			if len(types) == 0 {
				return f, nil
			}
			for _, t := range types {
				if f.Type == t {
					return f, nil
				}
			}
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}
