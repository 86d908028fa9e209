package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Fake is a clock that moves only when told to. Its timers fire from
// Advance and Set, in the goroutine that moves the time, so that when
// Advance returns every callback that fell due has run: a test needs no
// sleep to see their effects. Safe for concurrent use; the zero value is a
// fake clock set to the zero time.
//
// Lock order: moving, then mu. Callbacks run with moving held and mu not
// held, so they may read the time and arm, stop or reset timers, but must
// not call Advance or Set.
type Fake struct {
	// moving makes each Advance or Set fire its timers before the next
	// one starts, so that concurrent moves add up and callbacks never
	// see time go backwards.
	moving sync.Mutex

	mu      sync.Mutex
	now     time.Time
	timers  timerHeap
	seq     uint64        // arming order: ties fire first armed, first fired
	changed chan struct{} // made by a waiter, closed when a timer is armed
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time. Inside a timer's callback it is the time the
// timer fell due.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc arms a timer that calls fn once the fake time has moved d past
// now. A timer armed for d <= 0 is due at once: the next Advance, even by
// 0, fires it.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{clk: f, fn: fn, index: -1}
	f.mu.Lock()
	f.armLocked(t, d)
	f.mu.Unlock()
	return t
}

// Advance moves the fake time forward by d and fires, in due order, every
// timer that falls due meanwhile, including timers armed by those
// callbacks. A negative d moves it back (for clock-jump tests) and fires
// nothing.
func (f *Fake) Advance(d time.Duration) {
	f.moving.Lock()
	defer f.moving.Unlock()
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.moveTo(target)
}

// Set sets the fake time, firing the timers that fall due as Advance does.
func (f *Fake) Set(t time.Time) {
	f.moving.Lock()
	defer f.moving.Unlock()
	f.moveTo(t)
}

// moveTo steps the time from due timer to due timer up to target, calling
// each callback outside mu. Caller holds moving.
func (f *Fake) moveTo(target time.Time) {
	for {
		f.mu.Lock()
		if len(f.timers) == 0 || f.timers[0].when.After(target) {
			f.now = target
			f.mu.Unlock()
			return
		}
		t := heap.Pop(&f.timers).(*fakeTimer)
		if t.when.After(f.now) {
			f.now = t.when
		}
		fn := t.fn
		f.mu.Unlock()
		fn()
	}
}

// Pending returns how many timers are armed and not yet fired or stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitForTimers blocks until at least n pending timers were last armed
// (by AfterFunc or Reset) for duration d, or ctx ends. A test calls it to
// know that the code under test has armed the timer it is about to make
// fire, instead of guessing how long that takes; the duration tells that
// timer apart from others (a grace timer from the heartbeat timers of
// open connections, say).
func (f *Fake) WaitForTimers(ctx context.Context, d time.Duration, n int) error {
	for {
		f.mu.Lock()
		armed := 0
		for _, t := range f.timers {
			if t.d == d {
				armed++
			}
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed := f.changed
		f.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// armLocked schedules t d after now. Caller holds mu; t is not pending.
func (f *Fake) armLocked(t *fakeTimer, d time.Duration) {
	f.seq++
	t.d, t.when, t.seq = d, f.now.Add(d), f.seq
	heap.Push(&f.timers, t)
	if f.changed != nil { // wake the waiters
		close(f.changed)
		f.changed = nil
	}
}

// fakeTimer is a Timer of a Fake.
type fakeTimer struct {
	clk   *Fake
	fn    func()
	d     time.Duration // as last armed, for WaitForTimers
	when  time.Time
	seq   uint64
	index int // in clk.timers; -1 when not pending
}

// Stop disarms the timer; it reports whether the timer was pending.
func (t *fakeTimer) Stop() bool {
	f := t.clk
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&f.timers, t.index)
	return true
}

// Reset arms the timer d after the fake now, whether or not it fired; it
// reports whether the timer was pending.
func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clk
	f.mu.Lock()
	defer f.mu.Unlock()
	pending := t.index >= 0
	if pending {
		heap.Remove(&f.timers, t.index)
	}
	f.armLocked(t, d)
	return pending
}

// timerHeap orders pending timers by due time, then arming order.
type timerHeap []*fakeTimer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *timerHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
