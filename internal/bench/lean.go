package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// leanWire is the lean generator's connection: the endpoint and token of
// client.Conn (client/conn.go), the WebSocket framing of RFC 6455 done
// here, and frames read into one reused buffer with only the measured
// fields picked out of the bytes (leanparse.go): no encoding/json and no
// allocation per frame.
//
// Why not coder/websocket, which the SDK uses: in the throughput scenario
// at ~13,000 msg/s on an idle machine this generator took 29.5 µs of CPU
// per message through it (its mutex, selects and buffered writer around
// every frame) and 24 µs with the framing here, where a frame costs
// little beyond its system calls (two thirds of what is left).
type leanWire struct {
	rwc io.ReadWriteCloser // the upgraded connection
	br  *bufio.Reader
	in  []byte // the message being read; reader only
	ctl []byte // a control frame's payload; reader only
	out []byte // the receipt being built; receipt writer only

	wmu  sync.Mutex
	wbuf []byte // frames being written, under wmu
	// closeSent: this side has written its close frame; nothing after it.
	closeSent bool // under wmu

	reading atomic.Bool   // a reader has started: close waits for it
	done    chan struct{} // closed when the reader has seen the end
	ended   sync.Once
}

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxMessage bounds a message from the server, as the SDK's read limit.
const maxMessage = 16 << 20

// acceptGUID is appended to the key to compute Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialLean opens u's connection to /ws, as client.Client.Dial does (the
// token in the query), over the dialer's source addresses in turn. The
// handshake is written and read here, not through net/http's client,
// whose transport costs two goroutines and a request's allocations per
// connection: in a reconnect storm the generator, on the same two cores,
// took more CPU per connect than the server it measured.
func (d *dialer) dialLean(ctx context.Context, u *user) (*leanWire, error) {
	target, err := url.Parse(u.api.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	target.Path += "/ws"
	target.RawQuery = url.Values{"token": {u.api.Token}}.Encode()
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	nd := d.nets[d.next.Add(1)%uint64(len(d.nets))]
	conn, err := nd.DialContext(ctx, "tcp", target.Host)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := "GET " + target.RequestURI() + " HTTP/1.1\r\nHost: " + target.Host +
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	br := bufio.NewReaderSize(conn, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("websocket upgrade refused: %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, errors.New("dial: not a WebSocket upgrade")
	}
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("dial: %w", ctx.Err())
	}
	_ = conn.SetDeadline(time.Time{})
	return &leanWire{rwc: conn, br: br, in: make([]byte, 0, 4096), done: make(chan struct{})}, nil
}

func (w *leanWire) next(f *inFrame) bool {
	w.reading.Store(true)
	if err := w.readMessage(); err != nil {
		w.end()
		return false
	}
	if !parseFrame(w.in, f) {
		*f = inFrame{kind: kindInvalid, retryAfterMS: -1}
	}
	return true
}

// end closes the connection once the reader is done with it.
func (w *leanWire) end() {
	w.ended.Do(func() {
		_ = w.rwc.Close()
		close(w.done)
	})
}

// readMessage reads the next data message into w.in, answering pings and
// the server's close on the way.
func (w *leanWire) readMessage() error {
	w.in = w.in[:0]
	started := false
	for {
		fin, op, n, err := w.readHeader()
		if err != nil {
			return err
		}
		if op >= opClose {
			if err := w.control(op, n); err != nil {
				return err
			}
			continue
		}
		if started != (op == opContinuation) || uint64(len(w.in))+n > maxMessage {
			return errors.New("websocket: bad data frame")
		}
		started = true
		at := len(w.in)
		w.in = grow(w.in, int(n))
		if _, err := io.ReadFull(w.br, w.in[at:]); err != nil {
			return err
		}
		if fin {
			return nil
		}
	}
}

// readHeader reads a frame header. Server frames are not masked.
func (w *leanWire) readHeader() (fin bool, op byte, n uint64, err error) {
	var h [8]byte
	if _, err = io.ReadFull(w.br, h[:2]); err != nil {
		return
	}
	fin, op, n = h[0]&0x80 != 0, h[0]&0x0F, uint64(h[1]&0x7F)
	if h[1]&0x80 != 0 {
		return false, 0, 0, errors.New("websocket: masked frame from the server")
	}
	switch n {
	case 126:
		if _, err = io.ReadFull(w.br, h[:2]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err = io.ReadFull(w.br, h[:8]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	return
}

// control handles a ping, pong or close frame of n bytes.
func (w *leanWire) control(op byte, n uint64) error {
	if n > 125 {
		return errors.New("websocket: control frame too long")
	}
	w.ctl = grow(w.ctl[:0], int(n))
	if _, err := io.ReadFull(w.br, w.ctl); err != nil {
		return err
	}
	switch op {
	case opPing:
		return w.writeFrame(opPong, w.ctl)
	case opClose:
		// Echo the status, as RFC 6455 §5.5.1 asks, then the connection
		// is over.
		status := w.ctl
		if len(status) > 2 {
			status = status[:2]
		}
		_ = w.writeFrame(opClose, status)
		return io.EOF
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		b = append(b[:cap(b)], make([]byte, n)...)[:len(b)]
	}
	return b[:len(b)+n]
}

func (w *leanWire) write(frame []byte) error { return w.writeFrame(opText, frame) }

// writeFrame writes one final frame, masked as a client's must be. After
// the close frame nothing more is written.
func (w *leanWire) writeFrame(op byte, payload []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closeSent {
		return net.ErrClosed
	}
	w.closeSent = op == opClose
	w.wbuf = appendFrame(w.wbuf[:0], op, payload, mrand.Uint32())
	_, err := w.rwc.Write(w.wbuf)
	return err
}

// appendFrame appends a final, masked frame.
func appendFrame(b []byte, op byte, payload []byte, key uint32) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = binary.LittleEndian.AppendUint32(b, key)
	at := len(b)
	b = append(b, payload...)
	mask(b[at:], key)
	return b
}

// mask XORs p with the key's bytes in turn (RFC 6455 §5.3), eight at a
// time; the key is in little-endian order, as appendFrame writes it.
func mask(p []byte, key uint32) {
	k := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(key >> (8 * (i % 4)))
	}
}

func (w *leanWire) receipt(read bool, conv, ids []byte) error {
	b := w.out[:0]
	if read {
		b = append(b, `{"type":"read_receipt","conversation_id":"`...)
		b = append(b, conv...)
		b = append(b, `","message_ids":[`...)
	} else {
		b = append(b, `{"type":"delivery_ack","message_ids":[`...)
	}
	b = append(b, ids...)
	b = append(b, "]}"...)
	w.out = b
	return w.write(b)
}

// close writes the close frame (normal closure) and waits, at most 5 s,
// for the reader to see the server's answer; frames arriving meanwhile
// are read, and counted, as before.
func (w *leanWire) close() {
	err := w.writeFrame(opClose, []byte{0x03, 0xE8}) // 1000
	if err == nil && w.reading.Load() {
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
		}
	}
	w.end()
}

func (w *leanWire) abort() { _ = w.rwc.Close() }
