package gateway

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/messaging"
)

// ConnectionLog records devices' connects and closes, for the delivery
// trace (messaging.Trace).
type ConnectionLog interface {
	StampConnections(ctx context.Context, stamps []messaging.ConnectionStamp) error
}

// StampEvery is how long a connect or close may wait in memory before it
// is written. A connect costs no statement of its own: a reconnect storm
// of a whole node is one statement, and a connect still costs the one
// round trip TestConnectCostsTwoStoreRoundTrips holds it to. A trace read
// on this node writes what waits first (FlushConnections), so the lag is
// seen only for connections held by other nodes, and a crash loses at
// most this much of it (the trace then reads the device as offline: the
// presence directory says so).
const StampEvery = time.Minute

// stamps batches devices' connects and closes. It also counts this node's
// open connections per device, so that the close of one of two
// connections of a device does not mark the device disconnected.
type stamps struct {
	store ConnectionLog
	clock clock.Clock
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]messaging.ConnectionStamp
	open    map[string]int
	timer   clock.Timer
	done    bool // shut down: the store may be closed

	// flushing orders flushes: a batch taken later is written later.
	flushing sync.Mutex
}

func newStamps(store ConnectionLog, clk clock.Clock, log *slog.Logger) *stamps {
	return &stamps{store: store, clock: clk, log: log,
		pending: map[string]messaging.ConnectionStamp{}, open: map[string]int{}}
}

func (s *stamps) connected(deviceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[deviceID]++
	p := s.pending[deviceID]
	p.DeviceID, p.ConnectedAt = deviceID, s.clock.Now()
	s.pending[deviceID] = p
	s.armLocked()
}

func (s *stamps) closed(deviceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[deviceID]--; s.open[deviceID] > 0 {
		return
	}
	delete(s.open, deviceID)
	p := s.pending[deviceID]
	p.DeviceID, p.DisconnectedAt = deviceID, s.clock.Now()
	s.pending[deviceID] = p
	s.armLocked()
}

func (s *stamps) armLocked() {
	if s.timer == nil && !s.done {
		s.timer = s.clock.AfterFunc(StampEvery, func() {
			if err := s.flush(context.Background(), false); err != nil {
				s.log.Error("connection stamps", "err", err)
			}
		})
	}
}

// flush writes what waits. A batch that fails is dropped: stamps only
// date the trace, and the next connect or close stamps the device again.
func (s *stamps) flush(ctx context.Context, final bool) error {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.done = final
	batch := make([]messaging.ConnectionStamp, 0, len(s.pending))
	for _, p := range s.pending {
		batch = append(batch, p)
	}
	clear(s.pending)
	s.mu.Unlock()
	// In one order, so that two nodes' batches never wait on each other's
	// row locks in opposite orders.
	slices.SortFunc(batch, func(a, b messaging.ConnectionStamp) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return s.store.StampConnections(ctx, batch)
}

// FlushConnections writes the connects and closes this node has batched
// (nothing without a ConnectionLog).
func (g *Gateway) FlushConnections(ctx context.Context) error {
	if g.stamps == nil {
		return nil
	}
	return g.stamps.flush(ctx, false)
}
