package gateway

import (
	"encoding/binary"
	"sync"
	"time"

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
// One ping is out at a time, and pings are pingGap apart at least: a busy
// connection sends a few a second, not one per batch. What a connection
// ending meanwhile had not confirmed is told again on its next connect.
type pinger struct {
	mu sync.Mutex
	// out is the token of the ping awaiting its pong, 0 when none; mark
	// what it confirms.
	out  uint64
	mark messaging.Mark
	last uint64
	// sent is when the last ping went out.
	sent time.Time
	// wanted: frames were written while a ping was out, or too soon after
	// the last: the next is due.
	wanted bool
	// due: a timer will call the writer for the next ping.
	due  bool
	told messaging.Mark
}

// pingGap is the least time between two pings of a connection.
const pingGap = 250 * time.Millisecond

// tokenSize is a ping's payload: its token.
const tokenSize = 8

// ping returns the payload of a ping to send now, confirming mark(). It
// returns ok false when a ping is out (the next is asked for when its
// pong is back), or when the last went out less than pingGap ago: then
// wait, when positive, is when to ask again, for a caller that must arm
// a timer (none is armed yet).
func (p *pinger) ping(now time.Time, mark func() messaging.Mark) (payload [tokenSize]byte, ok bool, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out != 0 {
		p.wanted = true
		return payload, false, 0
	}
	if since := now.Sub(p.sent); p.last != 0 && since < pingGap {
		p.wanted = true
		if p.due {
			return payload, false, 0
		}
		p.due = true
		return payload, false, pingGap - since
	}
	p.last++
	p.out, p.mark, p.sent, p.wanted = p.last, mark(), now, false
	binary.BigEndian.PutUint64(payload[:], p.out)
	return payload, true, 0
}

// fire is the timer's call: it reports whether the writer should be
// woken for the ping that is due.
func (p *pinger) fire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.due = false
	return p.wanted && p.out == 0
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
	return p.wanted && !p.due
}

// confirmed is the last Mark a pong confirmed.
func (p *pinger) confirmed() messaging.Mark {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.told
}
