package clock

import (
	"math"
	"sync/atomic"
	"time"
)

// Offset is the wall clock plus an offset that only grows: a server clock
// that a fault test moves forward, as an NTP step would, so that the
// retention job expires messages within a short run (--debug-clock).
// Safe for concurrent use.
//
// Its timers are the wall clock's: a step fires none of them early, since
// a timer measures a duration, as Go's do after a step of the system
// clock. What a step changes is every reading of Now, and with them every
// age the server computes from created_at, expires_at and session times.
type Offset struct {
	offset atomic.Int64 // nanoseconds, >= 0
}

var _ Clock = (*Offset)(nil)

// NewOffset returns a clock d ahead of the wall clock. d must not be
// negative: the clock never runs behind.
func NewOffset(d time.Duration) *Offset {
	if d < 0 {
		panic("clock: NewOffset with a negative offset")
	}
	o := &Offset{}
	o.offset.Store(int64(d))
	return o
}

// Now returns the wall clock's time plus the offset.
func (o *Offset) Now() time.Time { return time.Now().Add(o.Offset()) }

// AfterFunc is time.AfterFunc: Advance does not fire its timers.
func (o *Offset) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Advance moves the clock d forward and returns the new offset. d must be
// positive, as for time.NewTicker; the callers check input first. An
// offset past the largest Duration stays at the largest.
func (o *Offset) Advance(d time.Duration) time.Duration {
	if d <= 0 {
		panic("clock: Advance by a non-positive duration")
	}
	for {
		old := o.offset.Load()
		next := old + int64(d)
		if next < old { // overflow
			next = math.MaxInt64
		}
		if o.offset.CompareAndSwap(old, next) {
			return time.Duration(next)
		}
	}
}

// Offset returns how far the clock is ahead of the wall clock.
func (o *Offset) Offset() time.Duration { return time.Duration(o.offset.Load()) }
