package gateway

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// Fan-out in the hub is the last step of every send: one Publish per
// committed message, to each member of its conversation.

func users(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("01JDQ4Z8M1XKZ3V6T9N2B5%04d", i)
	}
	return ids
}

// BenchmarkPublishOffline is a group of 100 with nobody connected here:
// the cost of looking each member up.
func BenchmarkPublishOffline(b *testing.B) {
	h := NewHub()
	ids := users(100)
	ev := &bus.Event{Kind: bus.KindMessage, ConversationID: "c", Seq: 1, Message: &wire.Message{Type: wire.TypeMessage}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(ctx, ids, ev)
	}
}

// BenchmarkPublishOnline publishes to members that each have one
// connection: the event is queued on every connection's outbox (no
// socket is involved: no writer is started, the queue is emptied as a
// writer would).
func BenchmarkPublishOnline(b *testing.B) {
	for _, n := range []int{2, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			// A nil service opens streams without I/O, and no writer runs
			// to use them.
			g := &Gateway{cfg: Config{MaxQueue: 1 << 20, MaxInflight: 1, RateLimit: 1, RateBurst: 1},
				Deps: Deps{Messages: (*messaging.Service)(nil)}}
			h := NewHub()
			ids := users(n)
			conns := make([]*Conn, n)
			for i, id := range ids {
				conns[i] = newConn(g, nil, identity.Device{ID: id + "-d", UserID: id}, func() {})
				conns[i].out.start() // as if a writer ran: none is started
				h.register(conns[i])
			}
			ev := &bus.Event{Kind: bus.KindMessage, ConversationID: "c", Seq: 1, Message: &wire.Message{Type: wire.TypeMessage}}
			ctx := context.Background()
			spare := make([][]item, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				h.Publish(ctx, ids, ev)
				if i++; i%64 == 0 {
					for j, c := range conns {
						spare[j], _, _ = c.out.next(spare[j])
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// discardConn is a socket whose writes vanish.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// lagSink is a DeliveryObserver that keeps nothing.
type lagSink struct{ countingObserver }

func (*lagSink) DeliveryLag(time.Duration) {}

// BenchmarkWriteMessages is the writer's part of a live delivery: a batch
// of 16 message frames appended, their commit times noted for the
// delivery lag, one socket write, the lags observed. It must not
// allocate.
func BenchmarkWriteMessages(b *testing.B) {
	for _, lag := range []bool{false, true} {
		b.Run(fmt.Sprintf("lag=%v", lag), func(b *testing.B) {
			var obs Observer = &countingObserver{}
			if lag {
				obs = &lagSink{}
			}
			g := &Gateway{cfg: Config{MaxQueue: 16, MaxInflight: 1, RateLimit: 1, RateBurst: 1},
				Deps: Deps{Messages: (*messaging.Service)(nil), Clock: clock.Real{}, Observer: obs}}
			g.obs = findObservers(obs)
			c := newConn(g, &socket{conn: discardConn{}}, identity.Device{ID: "d", UserID: "u"}, func() {})
			ev := &bus.Event{Kind: bus.KindMessage, ConversationID: "c", Seq: 1, Committed: time.Now(),
				Message: &wire.Message{Type: wire.TypeMessage}}
			frame := ev.Frames()[0]
			w := &frameWriter{c: c, buf: make([]byte, 0, 4096)}
			b.ReportAllocs()
			for b.Loop() {
				for range 16 {
					_ = w.WriteFrame(frame)
					w.noteCommitted(ev)
				}
				if err := w.flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
