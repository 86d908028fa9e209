package app_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/apptest"
)

// These tests drive /ws with a raw WebSocket client that can put any
// frame on the wire: fragments, control frames between them, unmasked or
// binary frames, frames past the limits, bytes pipelined behind the
// handshake.

// readWait bounds one read from the server: generous, never what a test
// waits for.
const readWait = 10 * time.Second

// Small frame limits keep the too-large tests cheap.
const (
	wsContentLimit = 1 << 10
	wsFrameLimit   = 4 << 10
	wsHardLimit    = 16 << 10
)

// wsServer starts a server with small frame limits and returns it with a
// registered user's token.
func wsServer(t *testing.T) (*apptest.Server, string) {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.Limits.MaxContentBytes = wsContentLimit
	cfg.Limits.MaxFrameBytes = wsFrameLimit
	cfg.Limits.HardFrameBytes = wsHardLimit
	srv := apptest.Start(t, cfg, nil)
	u := srv.NewUser(testCtx(t), "raw")
	return srv, u.Session.Token
}

func wsURL(srv *apptest.Server, token string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?token=" + url.QueryEscape(token)
}

// rawWS is the client end of a WebSocket that writes frames as given.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader
}

// dialWS opens a WebSocket with d (its handshake headers, if any).
func dialWS(t *testing.T, d ws.Dialer, u string) *rawWS {
	t.Helper()
	conn, br, _, err := d.Dial(testCtx(t), u)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &rawWS{t: t, conn: conn, r: conn}
	if br != nil { // the server wrote right after its handshake
		c.r = io.MultiReader(br, conn)
	}
	return c
}

// encode compiles frames, each masked unless unmasked is set, into one
// buffer.
func encode(t *testing.T, unmasked bool, frames ...ws.Frame) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, f := range frames {
		if !unmasked {
			f = ws.MaskFrame(f) // a copy: the caller's payload stays clear
		}
		if err := ws.WriteFrame(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// send writes masked frames in one socket write.
func (c *rawWS) send(frames ...ws.Frame) {
	c.t.Helper()
	c.write(encode(c.t, false, frames...))
}

func (c *rawWS) write(p []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(readWait))
	if _, err := c.conn.Write(p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame reads the next frame from the server; its error is the read's.
func (c *rawWS) frame() (ws.Frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(readWait))
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		c.t.Fatalf("server frame is masked: %+v", h)
	}
	if h.Length > 1<<20 {
		c.t.Fatalf("server frame of %d bytes", h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: p}, nil
}

func (c *rawWS) mustFrame() ws.Frame {
	c.t.Helper()
	f, err := c.frame()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// serverFrame is what the tests look at in a server's JSON frame.
type serverFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// next reads until a JSON frame of type typ and returns it; any other
// text frame on the way (presence, say) is skipped, a control or binary
// frame fails the test.
func (c *rawWS) next(typ string) serverFrame {
	c.t.Helper()
	for {
		f := c.mustFrame()
		if f.Header.OpCode != ws.OpText || !f.Header.Fin {
			c.t.Fatalf("waiting for %s: got %s", typ, describe(f))
		}
		var sf serverFrame
		if err := json.Unmarshal(f.Payload, &sf); err != nil {
			c.t.Fatalf("server text frame %q: %v", f.Payload, err)
		}
		if sf.Type == typ {
			return sf
		}
	}
}

// closed reads until the server's close frame and returns its code and
// reason, then the read after it, which must end the connection.
func (c *rawWS) closed() (ws.StatusCode, string, error) {
	c.t.Helper()
	for {
		f := c.mustFrame()
		switch f.Header.OpCode {
		case ws.OpText:
			continue
		case ws.OpClose:
			var code ws.StatusCode
			var reason string
			if len(f.Payload) > 0 {
				code, reason = ws.ParseCloseFrameData(f.Payload)
			} else {
				code = ws.StatusNoStatusRcvd
			}
			_, err := c.frame()
			if err == nil {
				c.t.Fatal("a frame after the server's close frame")
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("the server did not close the TCP connection within %v of its close frame", readWait)
			}
			return code, reason, err
		default:
			c.t.Fatalf("waiting for the close frame: got %s", describe(f))
		}
	}
}

func describe(f ws.Frame) string {
	return fmt.Sprintf("op %#x fin %v payload %q", f.Header.OpCode, f.Header.Fin, f.Payload)
}

func textFrame(s string) ws.Frame { return ws.NewTextFrame([]byte(s)) }

const heartbeat = `{"type":"heartbeat","timestamp":1}`

// fragments splits s into n frames: the first a text frame, the rest
// continuations, the last with FIN.
func fragments(s string, n int) []ws.Frame {
	var fs []ws.Frame
	size := (len(s) + n - 1) / n
	for i := range n {
		lo, hi := min(i*size, len(s)), min((i+1)*size, len(s))
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		fs = append(fs, ws.NewFrame(op, i == n-1, []byte(s[lo:hi])))
	}
	return fs
}

// TestWSFragmentedMessage: a heartbeat split over a text frame and two
// continuations is reassembled and answered, whether the fragments come
// in one socket write or one by one.
func TestWSFragmentedMessage(t *testing.T) {
	srv, token := wsServer(t)
	for _, oneWrite := range []bool{true, false} {
		t.Run(fmt.Sprintf("oneWrite=%v", oneWrite), func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			fs := fragments(heartbeat, 3)
			if fs[0].Header.Fin || fs[1].Header.Fin || !fs[2].Header.Fin || fs[1].Header.OpCode != ws.OpContinuation {
				t.Fatalf("bad fragments: %+v", fs)
			}
			if oneWrite {
				c.send(fs...)
			} else {
				for _, f := range fs {
					c.send(f)
				}
			}
			c.next("heartbeat_ack")
		})
	}
}

// TestWSPingBetweenFragments: a ping between the fragments of a message is
// answered at once with a pong carrying its payload, and the message is
// still reassembled and answered.
func TestWSPingBetweenFragments(t *testing.T) {
	srv, token := wsServer(t)
	c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
	fs := fragments(heartbeat, 3)
	ping := ws.NewPingFrame([]byte("ping-42 \x00\xff"))
	c.send(fs[0], ping, fs[1], fs[2])
	var pong, ack bool
	for !pong || !ack {
		f := c.mustFrame()
		switch {
		case f.Header.OpCode == ws.OpPong && !pong:
			if !bytes.Equal(f.Payload, []byte("ping-42 \x00\xff")) || !f.Header.Fin {
				t.Fatalf("pong: %s", describe(f))
			}
			pong = true
		case f.Header.OpCode == ws.OpText && strings.Contains(string(f.Payload), `"heartbeat_ack"`) && !ack:
			ack = true
		case f.Header.OpCode == ws.OpText:
		default:
			t.Fatalf("unexpected %s (pong %v, ack %v)", describe(f), pong, ack)
		}
	}
	// An empty ping gets an empty pong.
	c.send(ws.NewPingFrame(nil))
	if f := c.mustFrame(); f.Header.OpCode != ws.OpPong || len(f.Payload) != 0 {
		t.Fatalf("empty ping answered with %s", describe(f))
	}
}

// TestWSFrameOverLimit: a message past MaxFrameBytes but under
// HardFrameBytes is read, dropped and answered with too_large; the
// connection stays usable.
func TestWSFrameOverLimit(t *testing.T) {
	srv, token := wsServer(t)
	big := `{"type":"heartbeat","pad":"` + strings.Repeat("x", wsFrameLimit) + `"}`
	cases := []struct {
		name   string
		frames []ws.Frame
	}{
		{"one frame", []ws.Frame{textFrame(big)}},
		// Each fragment is under the limit; their sum is not.
		{"fragments", fragments(big, 4)},
		{"binary", []ws.Frame{ws.NewBinaryFrame([]byte(big))}},
		{"just past the limit", []ws.Frame{textFrame(strings.Repeat(" ", wsFrameLimit+1))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.send(tc.frames...)
			if e := c.next("error"); e.Code != "too_large" {
				t.Fatalf("error frame %+v, want too_large", e)
			}
			c.send(textFrame(heartbeat))
			c.next("heartbeat_ack")
		})
	}
	// At the limit exactly, a frame is handled.
	t.Run("at the limit", func(t *testing.T) {
		c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
		pad := wsFrameLimit - len(heartbeat)
		c.send(textFrame(strings.Repeat(" ", pad) + heartbeat))
		c.next("heartbeat_ack")
	})
}

// TestWSFrameOverHardLimit: a message past HardFrameBytes fails the
// connection with 1009 as soon as a header declares it, then the server
// closes the TCP connection. Only the headers are sent: the server does not
// read past them, and unread bytes would turn its close into a reset.
func TestWSFrameOverHardLimit(t *testing.T) {
	srv, token := wsServer(t)
	header := func(op ws.OpCode, fin bool, n int64) []byte {
		var b bytes.Buffer
		if err := ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: n}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	cases := []struct {
		name string
		wire func() []byte
	}{
		{"one frame", func() []byte { return header(ws.OpText, true, wsHardLimit+1) }},
		{"huge frame", func() []byte { return header(ws.OpText, true, 1<<40) }},
		{"fragments", func() []byte {
			// A first fragment under the frame limit, then one whose
			// declared length takes the message past the hard limit.
			first := encode(t, false, ws.NewFrame(ws.OpText, false, []byte(`{"type":`)))
			return append(first, header(ws.OpContinuation, true, wsHardLimit)...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.write(tc.wire())
			code, _, err := c.closed()
			if code != ws.StatusMessageTooBig {
				t.Fatalf("close code %d, want 1009", code)
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want EOF", err)
			}
		})
	}
}

// TestWSUnmaskedFrame: a client frame without a mask fails the connection
// with 1002, and the server then closes the TCP connection.
func TestWSUnmaskedFrame(t *testing.T) {
	srv, token := wsServer(t)
	cases := []struct {
		name  string
		frame ws.Frame
	}{
		{"text", textFrame(heartbeat)},
		{"empty text", textFrame("")},
		{"ping", ws.NewPingFrame([]byte("x"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			// A heartbeat first shows the connection worked until then.
			c.send(textFrame(heartbeat))
			c.next("heartbeat_ack")
			c.write(encode(t, true, tc.frame))
			code, _, err := c.closed()
			if code != ws.StatusProtocolError {
				t.Fatalf("close code %d, want 1002", code)
			}
			// The server did not read the unmasked frame's payload, so its
			// close may reach this end as a reset rather than a FIN (see
			// TestWSProtocolErrorCloseIsNotAReset).
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after the close frame: %v, want the connection closed", err)
			}
		})
	}
}

// TestWSProtocolErrorCloseIsNotAReset: a client that broke the protocol
// while still sending (a frame past the hard limit with its payload, an
// unmasked frame with its payload) reads the server's close frame and
// then a clean end of stream. The server must not close its socket with
// the client's bytes unread: the kernel answers that with a reset, which
// on the way may destroy the close frame (over a real network, or on
// stacks that drop received data on a reset), and the client sees
// "connection reset" instead of 1009/1002. The gateway's own closeWait
// comment promises that the close frame is "read rather than lost to a
// reset"; on a protocol error run() closes the connection right after
// writing the close frame.
//
// KNOWN FAILING at the time of writing: the read after the close frame
// returns ECONNRESET, not EOF.
func TestWSProtocolErrorCloseIsNotAReset(t *testing.T) {
	srv, token := wsServer(t)
	cases := []struct {
		name string
		wire func() []byte
		code ws.StatusCode
	}{
		// The whole frame fits in the loopback's socket buffers, so the
		// write completes whatever the server does.
		{"over the hard limit", func() []byte {
			return encode(t, false, textFrame(strings.Repeat("x", wsHardLimit+1)))
		}, ws.StatusMessageTooBig},
		{"unmasked", func() []byte { return encode(t, true, textFrame(heartbeat)) }, ws.StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.write(tc.wire())
			code, _, err := c.closed()
			if code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want EOF (the server reset the connection with the client's bytes unread)", err)
			}
		})
	}
}

// TestWSBinaryMessage: a binary data message is answered with an invalid
// error frame and the connection stays open.
func TestWSBinaryMessage(t *testing.T) {
	srv, token := wsServer(t)
	cases := []struct {
		name   string
		frames []ws.Frame
	}{
		{"one frame", []ws.Frame{ws.NewBinaryFrame([]byte(heartbeat))}},
		{"empty", []ws.Frame{ws.NewBinaryFrame(nil)}},
		{"fragments", []ws.Frame{
			ws.NewFrame(ws.OpBinary, false, []byte(heartbeat[:5])),
			ws.NewFrame(ws.OpContinuation, true, []byte(heartbeat[5:])),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.send(tc.frames...)
			e := c.next("error")
			if e.Code != "invalid" || !strings.Contains(e.Message, "text") {
				t.Fatalf("error frame %+v, want invalid about text frames", e)
			}
			c.send(textFrame(heartbeat))
			c.next("heartbeat_ack")
		})
	}
}

// TestWSClientClose: the server answers a client's close frame with its
// own, echoing the code, then closes the TCP connection.
func TestWSClientClose(t *testing.T) {
	srv, token := wsServer(t)
	cases := []struct {
		name string
		body []byte
		want ws.StatusCode
	}{
		{"normal with reason", ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye now"), ws.StatusNormalClosure},
		{"private code", ws.NewCloseFrameBody(4000, "app says bye"), 4000},
		{"going away", ws.NewCloseFrameBody(ws.StatusGoingAway, ""), ws.StatusGoingAway},
		// No code: the echo has no body either.
		{"empty", nil, ws.StatusNoStatusRcvd},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.send(textFrame(heartbeat))
			c.next("heartbeat_ack")
			c.send(ws.NewCloseFrame(tc.body))
			code, _, err := c.closed()
			if code != tc.want {
				t.Fatalf("close code %d, want %d", code, tc.want)
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after the close frame: %v, want EOF", err)
			}
		})
	}
	// A malformed close (a one-byte body, a reserved code) is a protocol
	// error.
	for _, body := range [][]byte{{0x03}, ws.NewCloseFrameBody(1005, ""), ws.NewCloseFrameBody(999, "")} {
		t.Run(fmt.Sprintf("malformed %x", body), func(t *testing.T) {
			c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
			c.send(ws.NewCloseFrame(body))
			if code, _, _ := c.closed(); code != ws.StatusProtocolError {
				t.Fatalf("close code %d, want 1002", code)
			}
		})
	}
}

// TestWSPlainHTTP: /ws answers requests that are not WebSocket handshakes
// over plain HTTP: 426 for a GET without upgrade headers, 405 for another
// method, 401 for a missing or bad token; the token is also taken from
// Authorization: Bearer.
func TestWSPlainHTTP(t *testing.T) {
	srv, token := wsServer(t)
	upgrade := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))},
	}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}
	cases := []struct {
		name   string
		method string
		query  string
		header http.Header
		want   int
	}{
		{"GET without upgrade", http.MethodGet, "?token=" + token, nil, http.StatusUpgradeRequired},
		{"GET upgrade without Connection", http.MethodGet, "?token=" + token, http.Header{"Upgrade": {"websocket"}}, http.StatusUpgradeRequired},
		{"POST", http.MethodPost, "?token=" + token, nil, http.StatusMethodNotAllowed},
		{"POST with upgrade", http.MethodPost, "?token=" + token, upgrade, http.StatusMethodNotAllowed},
		{"no token", http.MethodGet, "", upgrade, http.StatusUnauthorized},
		{"bad token", http.MethodGet, "?token=nope", upgrade, http.StatusUnauthorized},
		{"bad bearer", http.MethodGet, "", with(upgrade, "Authorization", "Bearer nope"), http.StatusUnauthorized},
		{"no token, no upgrade", http.MethodGet, "", nil, http.StatusUnauthorized},
		{"bearer", http.MethodGet, "", with(upgrade, "Authorization", "Bearer "+token), http.StatusSwitchingProtocols},
		{"query token", http.MethodGet, "?token=" + token, upgrade, http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testCtx(t), tc.method, srv.URL+"/ws"+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.want)
			}
			switch tc.want {
			case http.StatusUpgradeRequired:
				if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
					t.Fatalf("Upgrade header %q, want websocket", got)
				}
			case http.StatusMethodNotAllowed:
				if got := resp.Header.Get("Allow"); !strings.Contains(got, http.MethodGet) {
					t.Fatalf("Allow header %q, want GET", got)
				}
			}
		})
	}
	// A client that passes its token as a header, as a native app would,
	// gets a working WebSocket.
	t.Run("bearer socket", func(t *testing.T) {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + token}})}
		c := dialWS(t, d, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
		c.send(textFrame(heartbeat))
		c.next("heartbeat_ack")
	})
}

// TestWSPipelinedAfterHandshake: frames the client writes right behind
// its handshake request, in the same TCP write, are read and answered,
// though net/http has read them into its buffer before the upgrade.
func TestWSPipelinedAfterHandshake(t *testing.T) {
	srv, token := wsServer(t)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	key := base64.StdEncoding.EncodeToString([]byte("pipelined-key-16"))
	req := "GET /ws?token=" + url.QueryEscape(token) + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
	// Two heartbeats, the second in fragments, and a ping: all of it must
	// be served from the bytes read ahead.
	early := encode(t, false, append([]ws.Frame{textFrame(heartbeat), ws.NewPingFrame([]byte("early"))}, fragments(heartbeat, 3)...)...)
	_ = conn.SetDeadline(time.Now().Add(readWait))
	if _, err := conn.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answered %s", resp.Status)
	}
	c := &rawWS{t: t, conn: conn, r: br}
	acks, pong := 0, false
	for acks < 2 || !pong {
		f := c.mustFrame()
		switch {
		case f.Header.OpCode == ws.OpPong && string(f.Payload) == "early":
			pong = true
		case f.Header.OpCode == ws.OpText && strings.Contains(string(f.Payload), `"heartbeat_ack"`):
			acks++
		case f.Header.OpCode == ws.OpText:
		default:
			t.Fatalf("unexpected %s (acks %d, pong %v)", describe(f), acks, pong)
		}
	}
	// And the connection goes on after them.
	c.send(textFrame(heartbeat))
	c.next("heartbeat_ack")
}

var (
	framesSentTotal   = regexp.MustCompile(`(?m)^parley_frames_sent_total (\S+)$`)
	socketWritesTotal = regexp.MustCompile(`(?m)^parley_socket_writes_total (\S+)$`)
)

// writeCounts reads the frames-sent and socket-writes counters.
func writeCounts(t *testing.T, srv *apptest.Server) (frames, writes int) {
	t.Helper()
	body := metricsBody(t, srv)
	get := func(re *regexp.Regexp) int {
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in /metrics", re)
		}
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	return get(framesSentTotal), get(socketWritesTotal)
}

// TestWSWriteCounters: the server counts its socket writes and the frames
// they carry (parley_socket_writes_total, parley_frames_sent_total). The
// client writes 20 heartbeats in one TCP write; their acks are counted as
// frames, in at most one write each. How many writes they take depends on
// scheduling (typically a few); that frames queued together go out in one
// write is TestWriterCoalescesWhatQueuedMeanwhile's, made deterministic
// there.
func TestWSWriteCounters(t *testing.T) {
	srv, token := wsServer(t)
	c := dialWS(t, ws.Dialer{}, wsURL(srv, token))
	// fence makes the counters settle. The writer counts a write after
	// making it, so an ack read does not prove its write counted; but a
	// fence's heartbeat is sent once every earlier ack is read, so its ack
	// goes out in a later write, made after the earlier ones were counted.
	fence := func() {
		c.send(textFrame(heartbeat))
		c.next("heartbeat_ack")
	}
	fence()
	fence()
	frames0, writes0 := writeCounts(t, srv)
	const n = 20
	burst := make([]ws.Frame, n)
	for i := range burst {
		burst[i] = textFrame(heartbeat)
	}
	c.send(burst...)
	for range n {
		c.next("heartbeat_ack")
	}
	fence()
	frames1, writes1 := writeCounts(t, srv)
	// The counters may include the fences' writes (at most one before and
	// one after the burst's), and nothing else writes to this server.
	frames, writes := frames1-frames0, writes1-writes0
	t.Logf("%d frames in %d socket writes", frames, writes)
	if frames < n {
		t.Fatalf("frames sent rose by %d, want at least %d", frames, n)
	}
	if writes < 1 || writes > frames {
		t.Fatalf("%d frames counted in %d socket writes, want between 1 and %d writes", frames, writes, frames)
	}
}
