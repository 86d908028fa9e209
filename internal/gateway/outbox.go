package gateway

import (
	"sync"

	"github.com/parleychat/parley/internal/bus"
)

// item is one thing for a connection's writer: a shared event, or a frame
// meant for this connection alone (ack, error, heartbeat_ack).
type item struct {
	ev    *bus.Event
	frame []byte
	// flush, when set, is closed by the writer once everything queued
	// before it is written; the writer then stops.
	flush chan struct{}
}

// outbox is a connection's bounded send queue. A slice grown on demand
// instead of a buffered channel: an idle connection holds no queue memory.
type outbox struct {
	mu     sync.Mutex
	items  []item
	notify chan struct{} // capacity 1: "items is not empty"
	max    int
	closed bool
}

func newOutbox(max int) *outbox {
	return &outbox{notify: make(chan struct{}, 1), max: max}
}

// push queues it. It reports false when the queue is over its bound: the
// client is too slow and must be disconnected. Lossy events are dropped
// (reporting true) once the queue is half full, so typing and presence
// never crowd out messages.
func (o *outbox) push(it item, lossy bool) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return true
	}
	n := len(o.items)
	if lossy && n >= o.max/2 {
		o.mu.Unlock()
		return true
	}
	if n >= o.max {
		o.mu.Unlock()
		return false
	}
	o.items = append(o.items, it)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued and makes spare, the writer's previous
// batch, the new backing array, so steady traffic does not allocate. A
// spare grown large by a burst is dropped so idle connections stay small.
func (o *outbox) take(spare []item) []item {
	clear(spare)
	if cap(spare) > 256 {
		spare = nil
	}
	o.mu.Lock()
	items := o.items
	o.items = spare[:0]
	o.mu.Unlock()
	return items
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.items = nil
	o.mu.Unlock()
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}
