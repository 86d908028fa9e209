package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Close codes in the private range, so clients can tell why they were
// disconnected.
const (
	CloseSlowConsumer ws.StatusCode = 4008
	CloseRevoked      ws.StatusCode = 4001
)

// closeWait bounds how long a connection that sent its close frame waits
// for the client's before dropping the TCP connection: the socket is not
// closed at once, so the close frame is read rather than lost to a reset.
const closeWait = 5 * time.Second

// maxWriteBuffer is the write buffer's size past which it is written out
// mid-batch (the sync of a long offline queue), and the largest kept in
// the pool for the next writer.
const maxWriteBuffer = 64 << 10

// aLongTimeAgo is a deadline already past: setting it ends a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// socket is the server's end of one WebSocket, over a hijacked TCP
// connection. It holds no buffer while idle: the reader takes one per
// message and the writer one per batch. Reading is the reader
// goroutine's alone, writing the writer's.
type socket struct {
	conn net.Conn
	// early holds bytes the client sent after its handshake that net/http
	// had already read; they are read before the connection's.
	early []byte
	// first is where wait reads the start of the next message: a
	// heartbeat, an ack or a short message whole, in one read(2) instead
	// of three (first byte, rest of the header, payload).
	first [64]byte
	hdr   [ws.MaxHeaderSize - 2]byte
}

// upgrade answers a WebSocket handshake and takes the connection from
// net/http: once the handler returns, net/http's goroutine, request and
// buffers are gone. A failed handshake has been answered to the client.
func upgrade(w http.ResponseWriter, r *http.Request) (*socket, error) {
	// Plain HTTP requests are answered without hijacking, as before the
	// move to gobwas/ws: 405 for a method other than GET, 426 for a
	// request that does not ask for a WebSocket.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "WebSocket handshakes use GET", http.StatusMethodNotAllowed)
		return nil, errNoUpgrade
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WebSocket endpoint: upgrade required", http.StatusUpgradeRequired)
		return nil, errNoUpgrade
	}
	conn, rw, _, err := ws.HTTPUpgrader{Timeout: 10 * time.Second}.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, err
	}
	s := &socket{conn: conn}
	if n := rw.Reader.Buffered(); n > 0 {
		s.early = make([]byte, n)
		if _, err := io.ReadFull(rw.Reader, s.early); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return s, nil
}

var errNoUpgrade = errors.New("not a WebSocket handshake")

// headerHasToken reports whether a comma-separated header holds token,
// ignoring case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wait blocks until the client sends something. An idle connection's
// reader is parked here, so its stack is the idle connection's cost: it
// reads straight from the connection, a few frames shallower than
// readMessage, and Go's 2 KB starting stack holds it. What it reads is
// read again by readMessage (early).
func (s *socket) wait() error {
	if len(s.early) > 0 {
		return nil
	}
	n, err := s.conn.Read(s.first[:])
	if n > 0 {
		s.early = s.first[:n]
		return nil
	}
	return err
}

func (s *socket) Read(p []byte) (int, error) {
	if len(s.early) > 0 {
		n := copy(p, s.early)
		s.early = s.early[n:]
		if len(s.early) == 0 {
			s.early = nil
		}
		return n, nil
	}
	return s.conn.Read(p)
}

// Reading ends for one of these: the client closed (errPeerClosed, its
// code recorded), broke the protocol (a protocolError, answered with its
// close code), or the connection failed.
var errPeerClosed = errors.New("client closed the connection")

type protocolError struct {
	code   ws.StatusCode
	reason string
}

func (e *protocolError) Error() string { return fmt.Sprintf("websocket: %s (%d)", e.reason, e.code) }

// message is one data message read from the client.
type message struct {
	text bool
	// tooBig: the message passed the frame limit and was discarded.
	tooBig bool
}

// readMessage reads the next data message into a buffer of bufs (reassembling
// fragments), up to limit bytes; a longer one is read and dropped, up to
// hard bytes, past which the connection fails with 1009. Control frames
// on the way are handled by onControl: a ping's pong, the client's close.
func (s *socket) readMessage(bufs *buffers, limit, hard int, onControl func(op ws.OpCode, payload []byte) error) ([]byte, message, error) {
	var (
		buf   []byte
		m     message
		total int64
		state = ws.StateServerSide
	)
	for {
		h, err := ws.ReadHeaderBuffer(s, s.hdr[:])
		if err != nil {
			return buf, m, err
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return buf, m, &protocolError{ws.StatusProtocolError, err.Error()}
		}
		if h.OpCode.IsControl() {
			var ctl [ws.MaxControlFramePayloadSize]byte
			p := ctl[:h.Length]
			if _, err := io.ReadFull(s, p); err != nil {
				return buf, m, err
			}
			ws.Cipher(p, h.Mask, 0)
			if err := onControl(h.OpCode, p); err != nil {
				return buf, m, err
			}
			continue
		}
		if h.OpCode != ws.OpContinuation {
			m.text = h.OpCode == ws.OpText
		}
		total += h.Length
		if total > int64(hard) {
			return buf, m, &protocolError{ws.StatusMessageTooBig, "message is larger than the hard frame limit"}
		}
		if m.tooBig || total > int64(limit) {
			m.tooBig = true
			if _, err := io.CopyN(io.Discard, s, h.Length); err != nil {
				return buf, m, err
			}
		} else {
			if buf == nil {
				buf = bufs.get()
			}
			start := len(buf)
			buf = grow(buf, int(h.Length))
			if _, err := io.ReadFull(s, buf[start:]); err != nil {
				return buf, m, err
			}
			ws.Cipher(buf[start:], h.Mask, 0)
		}
		if h.Fin {
			if m.tooBig {
				buf = buf[:0]
			}
			return buf, m, nil
		}
		state = state.Set(ws.StateFragmented)
	}
}

// grow extends buf by n bytes.
func grow(buf []byte, n int) []byte {
	if cap(buf)-len(buf) < n {
		nb := make([]byte, len(buf), len(buf)+n+len(buf)/2)
		copy(nb, buf)
		buf = nb
	}
	return buf[:len(buf)+n]
}

// linger ends the TCP connection after the close handshake without a
// reset: closing a socket that holds unread bytes (the rest of a frame
// the server refused) sends RST, which can make the client lose the close
// frame it has not read yet. So the server stops sending, reads and drops
// what the client still sends until it closes (or closeWait passes), and
// only then closes.
func (s *socket) linger() {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(closeWait))
	_, _ = io.Copy(io.Discard, s.conn)
	_ = s.conn.Close()
}

// closePayload parses a close frame's body, as the client's reason for
// closing; a malformed one is a protocol error.
func closePayload(p []byte) (ws.StatusCode, error) {
	if len(p) == 0 {
		return ws.StatusNoStatusRcvd, nil
	}
	code, reason := ws.ParseCloseFrameData(p)
	if len(p) == 1 || !utf8.ValidString(reason) || ws.CheckCloseFrameData(code, reason) != nil {
		return 0, &protocolError{ws.StatusProtocolError, "malformed close frame"}
	}
	return code, nil
}

// appendFrame appends one unmasked, unfragmented server frame.
func appendFrame(buf []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		buf = append(buf, 0x80|byte(op), byte(n))
	case n <= 0xFFFF:
		buf = append(buf, 0x80|byte(op), 126, byte(n>>8), byte(n))
	default:
		buf = append(buf, 0x80|byte(op), 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(buf, payload...)
}

// closeFrame is a close frame's body: a code and a reason cut to fit a
// control frame.
func closeFrame(code ws.StatusCode, reason string) []byte {
	if code == ws.StatusNoStatusRcvd {
		return nil
	}
	max := ws.MaxControlFramePayloadSize - 2
	if len(reason) > max {
		reason = reason[:max]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return ws.NewCloseFrameBody(code, reason)
}

// buffers lends byte buffers to connections for one message read or one
// batch written, so an idle connection holds none.
type buffers struct {
	pool sync.Pool
	max  int // larger buffers are not kept
}

func newBuffers(size, max int) *buffers {
	b := &buffers{max: max}
	b.pool.New = func() any { s := make([]byte, 0, size); return &s }
	return b
}

func (b *buffers) get() []byte { return (*b.pool.Get().(*[]byte))[:0] }

func (b *buffers) put(s []byte) {
	if s == nil || cap(s) > b.max {
		return
	}
	s = s[:0]
	b.pool.Put(&s)
}
