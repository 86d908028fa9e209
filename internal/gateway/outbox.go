package gateway

import (
	"sync"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/bus"
)

// item is one thing for a connection's writer: a shared event, a frame
// meant for this connection alone (ack, error, heartbeat_ack), a
// control frame (op set: a pong), or a call to ping (ping set: pinger).
type item struct {
	ev    *bus.Event
	frame []byte
	op    ws.OpCode
	ping  bool
}

// closeMode is how a connection's writing ends.
type closeMode uint8

const (
	closeNone closeMode = iota
	// closeAfterQueued writes what is queued, then the close frame: a
	// graceful shutdown's end, after every ack.
	closeAfterQueued
	// closeNow drops what is queued and writes the close frame: a kill.
	closeNow
)

// pushResult says what a push asks of its caller.
type pushResult uint8

const (
	pushed pushResult = iota
	// pushStartWriter: no writer runs; the caller starts one.
	pushStartWriter
	// pushOverflow: the queue is over its bound; the client is too slow.
	pushOverflow
)

// outbox is a connection's bounded send queue, and the life of its writer.
// No goroutine serves an empty queue: the push that finds none running
// has its caller start one, which exits when it has emptied the queue.
// An idle connection so holds no writer stack and no queue memory.
type outbox struct {
	mu      sync.Mutex
	items   []item
	max     int
	running bool // a writer goroutine serves the queue
	closing closeMode
	// sent: the close frame is written, or writing failed; nothing more
	// will be written.
	sent bool
	// finished: the connection is over; no writer will start again.
	finished bool
	writers  sync.WaitGroup
}

func newOutbox(max int) *outbox {
	return &outbox{max: max}
}

// start marks a writer running, for the connection's first one (the sync
// on connect).
func (o *outbox) start() {
	o.mu.Lock()
	o.running = true
	o.writers.Add(1)
	o.mu.Unlock()
}

// startLocked reports whether the caller must start a writer.
func (o *outbox) startLocked() bool {
	if o.running || o.finished || o.sent {
		return false
	}
	o.running = true
	o.writers.Add(1)
	return true
}

// push queues it. Lossy events are dropped once the queue is half full,
// so typing and presence never crowd out messages; anything pushed once
// the connection is closing is dropped (a client reconnecting finds its
// messages in the store).
func (o *outbox) push(it item, lossy bool) pushResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != closeNone || o.finished {
		return pushed
	}
	n := len(o.items)
	if lossy && n >= o.max/2 {
		return pushed
	}
	if n >= o.max {
		return pushOverflow
	}
	o.items = append(o.items, it)
	if o.startLocked() {
		return pushStartWriter
	}
	return pushed
}

// requestClose asks the writer to write the close frame; it reports
// whether the caller must start a writer to do so.
func (o *outbox) requestClose(mode closeMode) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sent {
		return false
	}
	o.closing = max(o.closing, mode)
	if o.closing == closeNow {
		clear(o.items)
		o.items = nil
	}
	return o.startLocked()
}

// next hands the writer everything queued, making spare (its previous
// batch) the new backing array so steady traffic does not allocate; a
// spare grown large by a burst is dropped so idle connections stay small.
// close tells the writer to write the close frame after the batch. With
// nothing to write, the writer is marked stopped and must return.
func (o *outbox) next(spare []item) (batch []item, close bool, ok bool) {
	clear(spare)
	if cap(spare) > 256 {
		spare = nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sent {
		o.running = false
		return nil, false, false
	}
	batch = o.items
	o.items = spare[:0]
	if len(batch) == 0 {
		o.items = nil
		if o.closing == closeNone {
			o.running = false
			return nil, false, false
		}
	}
	return batch, o.closing != closeNone, true
}

// done records that writing is over (close frame written, or a write
// failed) and stops the writer.
func (o *outbox) done() {
	o.mu.Lock()
	o.sent, o.running = true, false
	o.items = nil
	o.mu.Unlock()
}

// finish ends the connection's writing for good and waits for a writer
// under way.
func (o *outbox) finish() {
	o.mu.Lock()
	o.finished = true
	o.items = nil
	o.mu.Unlock()
	o.writers.Wait()
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}
