// Package clock lets retention, presence, typing, heartbeats and token
// expiry read time and arm timers through an interface, so tests move time
// instead of sleeping (Fake), and a fault test steps a running server's
// clock forward (Offset, --debug-clock).
package clock

import "time"

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (Real) or from the goroutine
	// that moves the time (Fake) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call of AfterFunc. Stop and Reset mean what they mean
// for a *time.Timer made by time.AfterFunc: Stop reports whether it
// prevented the call; Reset arms the timer again d from now (even after it
// fired) and reports whether it was still pending.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

var _ Clock = Real{}

// Millis returns t as integer milliseconds since the Unix epoch, the wire
// format of every time in Parley.
func Millis(t time.Time) int64 { return t.UnixMilli() }
