package gateway

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/messaging"
)

// stampLog keeps what stamps writes, batch by batch.
type stampLog struct {
	mu      sync.Mutex
	batches [][]messaging.ConnectionStamp
}

func (l *stampLog) StampConnections(_ context.Context, s []messaging.ConnectionStamp) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, s)
	return nil
}

func (l *stampLog) take() [][]messaging.ConnectionStamp {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.batches
	l.batches = nil
	return b
}

// TestStamps: connects and closes wait in memory and go out as one batch
// when StampEvery passes or a flush asks; a device with two connections
// here is disconnected only when the second closes; after the final
// flush nothing is written.
func TestStamps(t *testing.T) {
	t0 := time.UnixMilli(1_790_000_000_000)
	clk := clock.NewFake(t0)
	log := &stampLog{}
	s := newStamps(log, clk, slog.New(slog.DiscardHandler))
	ctx := context.Background()

	s.connected("a")
	s.connected("b")
	clk.Advance(time.Second)
	s.connected("a") // a second connection of a
	s.closed("a")    // one of a's two: a stays connected
	if got := log.take(); len(got) != 0 {
		t.Fatalf("written before StampEvery: %v", got)
	}
	clk.Advance(StampEvery)
	got := log.take()
	want := []messaging.ConnectionStamp{{DeviceID: "a", ConnectedAt: t0.Add(time.Second)}, {DeviceID: "b", ConnectedAt: t0}}
	if len(got) != 1 || len(got[0]) != 2 || got[0][0] != want[0] || got[0][1] != want[1] {
		t.Fatalf("after StampEvery: %+v, want one batch %+v", got, want)
	}

	s.closed("a")
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Second + StampEvery)
	if got := log.take(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != (messaging.ConnectionStamp{DeviceID: "a", DisconnectedAt: end}) {
		t.Fatalf("flush after a's last close: %+v", got)
	}

	s.closed("b")
	if err := s.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	s.connected("c")
	clk.Advance(2 * StampEvery)
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 1 || got[0][0].DeviceID != "b" {
		t.Fatalf("final flush, then nothing: %+v", got)
	}
}
