package gateway

import (
	"encoding/binary"
	"sync"

	"github.com/parleychat/parley/internal/messaging"
)

// pinger learns what a device has read. A status or update frame the
// server wrote may still die with the connection (in a socket buffer, on
// a link that fails), and the device's cursors must not pass it: the
// device would never hear of that receipt. So after a batch that wrote
// any, the writer sends a ping carrying a token and notes the stream's
// Mark; the client answers a ping only after reading every frame before
// it, so its pong makes that Mark told, and the cursors are saved that
// far at close (messaging.Stream.Close). Every WebSocket client answers
// pings (RFC 6455 §5.5.2); one that does not is told everything again on
// its next connect, which is harmless: those frames are idempotent.
//
// One ping is out at a time, so a busy connection sends at most one per
// round trip: frames written while it is out ask for the next one, sent
// when its pong is back.
type pinger struct {
	mu sync.Mutex
	// out is the token of the ping awaiting its pong, 0 when none; mark
	// what it confirms.
	out  uint64
	mark messaging.Mark
	last uint64
	// wanted: frames were written while a ping was out.
	wanted bool
	told   messaging.Mark
}

// tokenSize is a ping's payload: its token.
const tokenSize = 8

// ping returns the payload of a ping to send, confirming mark(), or
// false when a ping is out already (the next is sent when it returns).
// The writer calls it when its stream moved.
func (p *pinger) ping(mark func() messaging.Mark) ([tokenSize]byte, bool) {
	var payload [tokenSize]byte
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out != 0 {
		p.wanted = true
		return payload, false
	}
	p.last++
	p.out, p.mark = p.last, mark()
	binary.BigEndian.PutUint64(payload[:], p.out)
	return payload, true
}

// pong takes a client's pong. It reports whether the writer should be
// woken to send the next ping. A pong that answers no ping of ours (a
// client may send them unasked) changes nothing.
func (p *pinger) pong(payload []byte) (wake bool) {
	if len(payload) != tokenSize {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == 0 || binary.BigEndian.Uint64(payload) != p.out {
		return false
	}
	p.told, p.mark, p.out = p.mark, messaging.Mark{}, 0
	wake, p.wanted = p.wanted, false
	return wake
}

// confirmed is the last Mark a pong confirmed.
func (p *pinger) confirmed() messaging.Mark {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.told
}
