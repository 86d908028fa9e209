package gateway

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/wire"
)

// The optional powers of an Observer beyond the counters every one has,
// found by type assertion once, in New: the writer's hot path asks no
// interface anything per frame.

// DeliveryObserver measures live message delivery.
type DeliveryObserver interface {
	// DeliveryLag is the time from a message's commit to the socket
	// write that carried its frame to one recipient device.
	DeliveryLag(d time.Duration)
}

// CloseObserver counts what the connection sends and ends with.
type CloseObserver interface {
	// ErrorFrame is one error frame sent, by its wire code.
	ErrorFrame(code wire.Code)
	// WSClosed is one connection over, by close code: the client's if it
	// sent a close frame first, else the server's, else 1006 (no close
	// frame: the connection broke or went silent).
	WSClosed(code int)
}

// observers are the Observer's optional powers, nil where it has none.
type observers struct {
	lag    DeliveryObserver
	closes CloseObserver
}

func findObservers(o Observer) observers {
	var obs observers
	obs.lag, _ = o.(DeliveryObserver)
	obs.closes, _ = o.(CloseObserver)
	return obs
}

// maxLagStamps is how many live messages' commit times one socket write
// holds for DeliveryLag; fixed, so measuring allocates nothing. A batch
// with more messages has the earlier ones measured when the array fills,
// before their write: early by at most one write.
const maxLagStamps = 16

// lagStamps are the commit times (Unix ns) of the live messages in a
// writer's buffer, measured once the buffer is written against one clock
// reading. Integers, not time.Time: no pointer to store, and so no write
// barrier, per message (half the cost of measuring, profiled).
type lagStamps struct {
	at [maxLagStamps]int64
	n  int
}

// noteCommitted records a message frame just appended to the buffer.
func (w *frameWriter) noteCommitted(ev *bus.Event) {
	if w.c.g.obs.lag == nil || ev.Committed.IsZero() {
		return
	}
	if w.lags.n == maxLagStamps {
		w.observeLags()
	}
	w.lags.at[w.lags.n] = ev.Committed.UnixNano()
	w.lags.n++
}

// observeLags measures the recorded messages against one clock reading.
func (w *frameWriter) observeLags() {
	if w.lags.n == 0 {
		return
	}
	now := w.c.g.Clock.Now().UnixNano()
	for _, at := range w.lags.at[:w.lags.n] {
		w.c.g.obs.lag.DeliveryLag(time.Duration(now - at))
	}
	w.lags.n = 0
}

// errorFrame counts an error frame sent.
func (g *Gateway) errorFrame(code wire.Code) {
	if g.obs.closes != nil {
		g.obs.closes.ErrorFrame(code)
	}
}

// observeClose counts a connection over by its close code (CloseObserver).
func (c *Conn) observeClose() {
	if c.g.obs.closes == nil {
		return
	}
	code, _ := c.closeStatus()
	if code == ws.StatusNormalClosure && !c.peerClosed {
		// Nobody chose a status: the client neither closed nor was
		// closed, its connection broke or went silent.
		code = ws.StatusAbnormalClosure
	}
	c.g.obs.closes.WSClosed(int(code))
}
