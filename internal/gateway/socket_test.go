package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
)

// TestSocketAppendFrame: appendFrame writes the header for each length
// encoding (7-bit, 16-bit, 64-bit) at its bounds, after what the buffer
// held, and gobwas/ws reads the frame back.
func TestSocketAppendFrame(t *testing.T) {
	cases := []struct {
		n      int
		op     ws.OpCode
		header []byte
	}{
		{0, ws.OpText, []byte{0x81, 0}},
		{125, ws.OpText, []byte{0x81, 125}},
		{126, ws.OpText, []byte{0x81, 126, 0, 126}},
		{65535, ws.OpBinary, []byte{0x82, 126, 0xFF, 0xFF}},
		{65536, ws.OpText, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{3, ws.OpPong, []byte{0x8A, 3}},
		{2, ws.OpClose, []byte{0x88, 2}},
	}
	prefix := []byte("queued before")
	for _, tc := range cases {
		payload := bytes.Repeat([]byte{'a', 'b', 'c'}, tc.n/3+1)[:tc.n]
		buf := appendFrame(bytes.Clone(prefix), tc.op, payload)
		if !bytes.HasPrefix(buf, prefix) {
			t.Fatalf("n=%d: the buffer's contents were overwritten", tc.n)
		}
		frame := buf[len(prefix):]
		if !bytes.HasPrefix(frame, tc.header) {
			t.Fatalf("n=%d: header % x, want % x", tc.n, frame[:min(len(frame), len(tc.header))], tc.header)
		}
		if len(frame) != len(tc.header)+tc.n {
			t.Fatalf("n=%d: frame of %d bytes, want %d", tc.n, len(frame), len(tc.header)+tc.n)
		}
		r := bytes.NewReader(frame)
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("n=%d: read header: %v", tc.n, err)
		}
		if !h.Fin || h.OpCode != tc.op || h.Masked || h.Rsv != 0 || h.Length != int64(tc.n) {
			t.Fatalf("n=%d: header %+v", tc.n, h)
		}
		if err := ws.CheckHeader(h, ws.StateClientSide); err != nil {
			t.Fatalf("n=%d: a client would refuse the header: %v", tc.n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: payload of %d bytes read back (%v), want %d", tc.n, len(got), err, tc.n)
		}
	}
}

// TestSocketAppendFramesInOneBuffer: frames appended one after the other,
// as the writer batches them, read back one by one.
func TestSocketAppendFramesInOneBuffer(t *testing.T) {
	var buf []byte
	payloads := [][]byte{[]byte(`{"type":"heartbeat_ack"}`), bytes.Repeat([]byte("x"), 300), nil, bytes.Repeat([]byte("y"), 70000)}
	for _, p := range payloads {
		buf = appendFrame(buf, ws.OpText, p)
	}
	r := bytes.NewReader(buf)
	for i, p := range payloads {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got := make([]byte, h.Length)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("frame %d: %d bytes read back (%v), want %d", i, len(got), err, len(p))
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left after the frames", r.Len())
	}
}

// TestSocketCloseFrame: a close frame's body holds the code and a reason
// cut to fit a control frame at a UTF-8 boundary; 1005 (no status) has no
// body at all.
func TestSocketCloseFrame(t *testing.T) {
	const room = ws.MaxControlFramePayloadSize - 2 // 123 bytes of reason
	cases := []struct {
		name   string
		code   ws.StatusCode
		reason string
		want   string // the reason in the body
	}{
		{"short", ws.StatusGoingAway, "server shutting down", "server shutting down"},
		{"empty", 4008, "", ""},
		{"fits exactly", 4001, strings.Repeat("r", room), strings.Repeat("r", room)},
		{"one byte over", 4001, strings.Repeat("r", room+1), strings.Repeat("r", room)},
		// 2-byte runes: byte 123 is the first half of the 62nd é.
		{"two-byte runes", 4001, strings.Repeat("é", 100), strings.Repeat("é", 61)},
		// 3-byte runes: 41 fit exactly.
		{"three-byte runes at the boundary", 4001, strings.Repeat("€", 50), strings.Repeat("€", 41)},
		// Shifted by one: the 41st € would end at byte 124.
		{"three-byte runes shifted", 4001, "a" + strings.Repeat("€", 50), "a" + strings.Repeat("€", 40)},
		// 4-byte runes shifted by two: bytes 122-123 start a rune.
		{"four-byte runes", 4001, "ab" + strings.Repeat("😀", 40), "ab" + strings.Repeat("😀", 30)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := closeFrame(tc.code, tc.reason)
			if len(body) > ws.MaxControlFramePayloadSize {
				t.Fatalf("body of %d bytes, over a control frame's %d", len(body), ws.MaxControlFramePayloadSize)
			}
			code, reason := ws.ParseCloseFrameData(body)
			if code != tc.code || reason != tc.want {
				t.Fatalf("body (%d, %q), want (%d, %q)", code, reason, tc.code, tc.want)
			}
			if !utf8.ValidString(reason) {
				t.Fatalf("reason %q is not UTF-8", reason)
			}
			if err := ws.CheckCloseFrameData(code, reason); err != nil {
				t.Fatalf("a client would refuse the body: %v", err)
			}
			// The frame the writer sends with it is a valid control frame.
			frame := appendFrame(nil, ws.OpClose, body)
			h, err := ws.ReadHeader(bytes.NewReader(frame))
			if err != nil {
				t.Fatal(err)
			}
			if err := ws.CheckHeader(h, ws.StateClientSide); err != nil {
				t.Fatalf("close frame refused: %v", err)
			}
		})
	}
	t.Run("no status", func(t *testing.T) {
		if body := closeFrame(ws.StatusNoStatusRcvd, "ignored"); len(body) != 0 {
			t.Fatalf("1005 body % x, want none", body)
		}
	})
}

// countingObserver counts the writer's socket writes and their frames.
type countingObserver struct {
	mu             sync.Mutex
	writes, frames int
}

func (o *countingObserver) ConnOpened()         {}
func (o *countingObserver) ConnClosed()         {}
func (o *countingObserver) FrameIn(string, int) {}
func (o *countingObserver) SlowConsumer()       {}
func (o *countingObserver) Written(frames, _ int) {
	o.mu.Lock()
	o.writes++
	o.frames += frames
	o.mu.Unlock()
}

// noStreams is a Messenger for connections that are only written frames:
// their streams never touch a store.
type noStreams struct{ Messenger }

func (noStreams) OpenStream(u, d string) *messaging.Stream {
	return new(messaging.Service).OpenStream(u, d)
}

// TestWriterCoalescesWhatQueuedMeanwhile: frames queued while the writer
// is busy go out together in its next write. The socket is a synchronous
// pipe nobody reads yet, so the writer is held in its first write (or
// not started) while the rest queue: whatever the scheduling, 20 frames
// take at most two writes.
func TestWriterCoalescesWhatQueuedMeanwhile(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	obs := &countingObserver{}
	g := &Gateway{
		cfg:       Config{MaxQueue: 100, MaxInflight: 1, RateLimit: 1, RateBurst: 1, WriteTimeout: time.Minute},
		Deps:      Deps{Messages: noStreams{}, Observer: obs, Log: slog.New(slog.DiscardHandler)},
		writeBufs: newBuffers(4096, maxWriteBuffer+4096),
	}
	c := newConn(g, &socket{conn: server}, identity.Device{ID: "d", UserID: "u"}, func() {})
	const n = 20
	var want []byte
	for i := range n {
		f := fmt.Appendf(nil, `{"n":%d}`, i)
		c.send(f)
		want = appendFrame(want, ws.OpText, f)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the client read %q, want the %d frames in order: %q", got, n, want)
	}
	c.out.finish() // the writer has stopped: its counts are in
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.frames != n || obs.writes > 2 {
		t.Fatalf("%d frames in %d writes, want %d frames in at most 2", obs.frames, obs.writes, n)
	}
}
