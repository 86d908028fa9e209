package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/parleychat/parley/client"
)

// Generator modes: how the measured traffic reaches the server. Setup
// (registration, login, conversations, groups) always goes through the SDK.
const (
	// GeneratorLean is the harness's own WebSocket client (lean.go): frames
	// written from templates, only the measured fields read from the
	// bytes. The SDK's decoding cost 45–66 µs of CPU per message, taken
	// from the two cores the server is measured on.
	GeneratorLean = "lean"
	// GeneratorSDK is the public SDK's client.Conn, every frame decoded
	// by encoding/json as an app's would be.
	GeneratorSDK = "sdk"
)

// Every scenario chooses its generator; connections and storm dial and
// heartbeat through it.
func (p *Throughput) generator() string  { return p.Generator }
func (p *Connections) generator() string { return p.Generator }
func (p *Storm) generator() string       { return p.Generator }
func (p *Latency) generator() string     { return p.Generator }
func (p *Fanout) generator() string      { return p.Generator }
func (p *Drain) generator() string       { return p.Generator }

func checkGenerator(mode string) error {
	if mode != GeneratorLean && mode != GeneratorSDK {
		return fmt.Errorf("generator %q: want %s or %s", mode, GeneratorLean, GeneratorSDK)
	}
	return nil
}

// link is one connection of the measured traffic, as senders and
// recipients use it, in either generator mode.
type link interface {
	// next decodes the next frame into f, whose byte slices stay valid
	// until the next call; false once the connection has ended. Only one
	// goroutine reads.
	next(f *inFrame) bool
	// write sends one encoded frame. Writes may be concurrent.
	write(frame []byte) error
	// receipt writes a delivery_ack, or with read a read_receipt for the
	// conversation conv, of ids: the body of a JSON array of strings.
	// Only one goroutine writes receipts.
	receipt(read bool, conv, ids []byte) error
	// close ends the connection with the close handshake.
	close()
	// abort drops the connection: a write blocked on a server that
	// stopped reading fails.
	abort()
}

var (
	_ link = (*sdkWire)(nil)
	_ link = (*leanWire)(nil)
)

// frameKind is a server frame's type, as far as the traffic cares.
type frameKind uint8

const (
	kindOther frameKind = iota
	kindMessage
	kindAck    // message_ack
	kindStatus // a recipient's receipt, to the sender
	kindError
	kindInvalid      // not a JSON object: counted as an error
	kindHeartbeatAck // heartbeat_ack
)

func kindOf(typ []byte) frameKind {
	switch string(typ) {
	case "message":
		return kindMessage
	case "message_ack":
		return kindAck
	case "status":
		return kindStatus
	case "error":
		return kindError
	case "heartbeat_ack":
		return kindHeartbeatAck
	}
	return kindOther
}

// inFrame is what the traffic reads of a server frame. Strings are as
// they stand between the quotes of the JSON, escapes kept: ids go back to
// the server in receipts exactly as they came.
type inFrame struct {
	kind            frameKind
	clientMessageID []byte
	messageID       []byte
	conversationID  []byte
	sequence        int64
	system          bool // a message of type "system": the server's own
	content         []byte
	code            []byte // of an error
	text            []byte // an error's message
	// retryAfterMS is the wait a rate_limited refusal asks for; -1 if the
	// frame has none.
	retryAfterMS int64
}

// describe renders an error frame, for the report's first-error note.
func (f *inFrame) describe() string {
	if f.kind == kindInvalid {
		return "a frame that is not a JSON object"
	}
	return fmt.Sprintf("%s: %s", unescape(f.code), unescape(f.text))
}

// unescape decodes the inside of a JSON string.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}

// appendEscaped appends s as the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// sdkWire is a client.Conn: every frame decoded whole by the SDK.
type sdkWire struct {
	c *client.Conn
}

func (w *sdkWire) next(f *inFrame) bool {
	fr, ok := <-w.c.Frames()
	if !ok {
		return false
	}
	*f = inFrame{
		kind:            kindOf([]byte(fr.Type)),
		clientMessageID: appendEscaped(f.clientMessageID[:0], fr.ClientMessageID),
		messageID:       appendEscaped(f.messageID[:0], fr.MessageID),
		conversationID:  appendEscaped(f.conversationID[:0], fr.ConversationID),
		sequence:        fr.SequenceNumber,
		system:          fr.MessageType == "system",
		content:         appendEscaped(f.content[:0], fr.Content),
		code:            appendEscaped(f.code[:0], string(fr.Code)),
		text:            appendEscaped(f.text[:0], fr.Message),
		retryAfterMS:    -1,
	}
	if f.kind == kindError {
		// The SDK's Frame has no retry hint: read it from the raw frame.
		var raw inFrame
		if parseFrame(fr.Raw, &raw) {
			f.retryAfterMS = raw.retryAfterMS
		}
	}
	return true
}

func (w *sdkWire) write(frame []byte) error {
	// Not cancelled by a context: abort, bound to the run's, ends it.
	return w.c.SendRaw(context.Background(), frame)
}

func (w *sdkWire) receipt(read bool, conv, ids []byte) error {
	list := splitIDs(ids)
	if read {
		return w.c.Read(context.Background(), unescape(conv), list...)
	}
	return w.c.Ack(context.Background(), list...)
}

// splitIDs turns the body of a JSON array of strings back into strings.
func splitIDs(body []byte) []string {
	var ids []string
	for len(body) > 0 {
		tok, rest, ok := scanString(body, 0)
		if !ok {
			break
		}
		ids = append(ids, unescape(tok))
		body = bytes.TrimLeft(body[rest:], ",")
	}
	return ids
}

func (w *sdkWire) close() {
	// Frames still arriving are discarded: a reader blocked on a full
	// Frames channel would stall the handshake.
	go func() {
		for range w.c.Frames() {
		}
	}()
	_ = w.c.Close()
}

func (w *sdkWire) abort() { w.c.Abort() }

// dialWire connects u in the given generator mode.
func (d *dialer) dialWire(ctx context.Context, u *user, mode string) (link, error) {
	if mode == GeneratorSDK {
		c, err := d.dial(ctx, u, client.DialOptions{Buffer: 8192})
		if err != nil {
			return nil, err
		}
		return &sdkWire{c: c}, nil
	}
	return d.dialLean(ctx, u)
}

// dialWires connects every user, limit at a time.
func (d *dialer) dialWires(ctx context.Context, users []*user, limit int, mode string) ([]link, error) {
	ws := make([]link, len(users))
	err := parallel(ctx, len(users), limit, func(ctx context.Context, i int) error {
		w, err := d.dialWire(ctx, users[i], mode)
		if err != nil {
			return fmt.Errorf("dial %s: %w", users[i].Username, err)
		}
		ws[i] = w
		return nil
	})
	if err != nil {
		closeWires(ws)
		return nil, err
	}
	return ws, nil
}

// closeWires closes connections with the close handshake, many at a
// time; nil entries are skipped.
func closeWires(ws []link) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, w := range ws {
		if w == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w.close()
		})
	}
	wg.Wait()
}
