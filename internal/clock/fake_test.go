package clock

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestFakeFiresDueTimersInOrder(t *testing.T) {
	f := NewFake(epoch)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			got = append(got, name)
			at = append(at, f.Now().Sub(epoch))
		}
	}
	f.AfterFunc(3*time.Second, record("c"))
	f.AfterFunc(time.Second, record("a"))
	f.AfterFunc(2*time.Second, record("b1"))
	f.AfterFunc(2*time.Second, record("b2")) // same due time: arming order
	f.AfterFunc(10*time.Second, record("late"))

	f.Advance(time.Second - 1)
	if len(got) != 0 {
		t.Fatalf("fired before due: %v", got)
	}
	f.Advance(2*time.Second + 1) // to 3 s: a, b1, b2, c
	want := []string{"a", "b1", "b2", "c"}
	if !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	// Each callback sees the time its timer fell due, not the target.
	if wantAt := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(at, wantAt) {
		t.Fatalf("callbacks saw %v, want %v", at, wantAt)
	}
	if n := f.Pending(); n != 1 {
		t.Fatalf("pending = %d, want 1 (late)", n)
	}
	if now := f.Now(); !now.Equal(epoch.Add(3 * time.Second)) {
		t.Fatalf("now = %v after the advance", now)
	}
	f.Set(epoch.Add(time.Minute))
	if !slices.Equal(got, append(want, "late")) {
		t.Fatalf("Set fired %v", got)
	}
}

func TestFakeStopAndReset(t *testing.T) {
	f := NewFake(epoch)
	var fired atomic.Int32
	tm := f.AfterFunc(time.Second, func() { fired.Add(1) })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true")
	}
	f.Advance(time.Hour)
	if fired.Load() != 0 {
		t.Fatal("a stopped timer fired")
	}

	// Reset of a stopped timer arms it d from now and reports false.
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer = true")
	}
	// Reset of a pending timer postpones it and reports true.
	f.Advance(900 * time.Millisecond)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset of a pending timer = false")
	}
	f.Advance(900 * time.Millisecond) // 1.8 s after the first Reset
	if fired.Load() != 0 {
		t.Fatal("fired at its old due time after Reset")
	}
	f.Advance(100 * time.Millisecond)
	if fired.Load() != 1 {
		t.Fatalf("fired %d times, want 1", fired.Load())
	}
	// After it fired: Stop reports false; Reset arms it again (as for
	// time.AfterFunc timers).
	if tm.Stop() {
		t.Fatal("Stop after firing = true")
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset after firing = true")
	}
	f.Advance(time.Second)
	if fired.Load() != 2 {
		t.Fatalf("fired %d times after re-arming, want 2", fired.Load())
	}
	if n := f.Pending(); n != 0 {
		t.Fatalf("pending = %d", n)
	}
}

func TestFakeTimerArmedByCallback(t *testing.T) {
	f := NewFake(epoch)
	var ticks []time.Duration
	// A callback re-arming its own timer, like a ticker: within one
	// Advance every tick that falls due fires, at its own time.
	var tm Timer
	tm = f.AfterFunc(time.Second, func() {
		ticks = append(ticks, f.Now().Sub(epoch))
		tm.Reset(time.Second)
	})
	// A callback arming a new timer that falls due within the same move.
	var chained bool
	f.AfterFunc(1500*time.Millisecond, func() {
		f.AfterFunc(time.Second, func() { chained = true })
	})
	f.Advance(3500 * time.Millisecond)
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(ticks, want) {
		t.Fatalf("ticks at %v, want %v", ticks, want)
	}
	if !chained {
		t.Fatal("a timer armed by a callback, due at 2.5 s, did not fire in an advance to 3.5 s")
	}
	if n := f.Pending(); n != 1 {
		t.Fatalf("pending = %d, want the ticker's next tick", n)
	}
}

func TestFakeBackwardsFiresNothing(t *testing.T) {
	f := NewFake(epoch)
	fired := false
	f.AfterFunc(time.Hour, func() { fired = true })
	f.Advance(-24 * time.Hour)
	f.Advance(24 * time.Hour) // back to where it was armed
	if fired {
		t.Fatal("fired before the clock reached its due time")
	}
	f.Advance(time.Hour)
	if !fired {
		t.Fatal("did not fire at its due time")
	}
}

func TestFakeWaitForTimers(t *testing.T) {
	f := NewFake(epoch)
	f.AfterFunc(time.Minute, func() {}) // another kind of timer
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	if err := f.WaitForTimers(ctx, time.Second, 1); err == nil {
		t.Fatal("WaitForTimers returned with no such timer armed")
	}
	cancel()

	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	armed := make(chan Timer)
	go func() { armed <- f.AfterFunc(time.Second, func() {}) }()
	if err := f.WaitForTimers(ctx, time.Second, 1); err != nil {
		t.Fatal(err)
	}
	tm := <-armed
	// A Reset counts by the duration it arms.
	tm.Reset(2 * time.Second)
	go func() { tm.Reset(time.Second) }()
	if err := f.WaitForTimers(ctx, time.Second, 1); err != nil {
		t.Fatal(err)
	}
	if n := f.Pending(); n != 2 {
		t.Fatalf("pending = %d, want 2", n)
	}
}

// TestFakeConcurrent runs under -race: goroutines arm, stop and reset
// timers while others advance; every timer armed and not stopped fires
// exactly once, and concurrent advances add up.
func TestFakeConcurrent(t *testing.T) {
	f := NewFake(epoch)
	const workers, each = 4, 200
	var fired atomic.Int64
	var kept atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d := time.Duration(1+(i+w)%50) * time.Millisecond
				tm := f.AfterFunc(d, func() {
					fired.Add(1)
					_ = f.Now()
				})
				switch i % 3 {
				case 0:
					if tm.Stop() {
						continue
					}
				case 1:
					if !tm.Reset(d) {
						kept.Add(1) // it had fired already, and will again
					}
				}
				kept.Add(1)
			}
		})
		wg.Go(func() {
			for range each {
				f.Advance(time.Millisecond)
			}
		})
	}
	wg.Wait()
	if got := f.Now().Sub(epoch); got != workers*each*time.Millisecond {
		t.Fatalf("concurrent advances added up to %s", got)
	}
	f.Advance(time.Second) // everything still pending falls due
	if f.Pending() != 0 || fired.Load() != kept.Load() {
		t.Fatalf("fired %d of %d kept timers, %d pending", fired.Load(), kept.Load(), f.Pending())
	}
}

func TestRealAfterFunc(t *testing.T) {
	var c Clock = Real{}
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("real timer never fired")
	}
	stopped := c.AfterFunc(time.Hour, func() { t.Error("stopped timer fired") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending real timer = false")
	}
}
