package limits

import (
	"sync"
	"time"
)

// Failures imposes a backoff on a key (an account) after repeated
// failures: once it has failed limit times, it must wait base before its
// next try, and each further failure doubles the wait, up to window. A
// success forgets the key's failures, and so does a quiet window: window
// without a failure after the last one and after its wait. (Counting the
// quiet from the end of the wait means a guesser who tries once per wait
// stays at the longest wait instead of earning limit fresh tries.)
//
// It is a backoff, never a lock: whoever holds the right password waits
// at most window for the next try, however long the guessing goes on. A
// nil *Failures never refuses (the limit is off). Safe for concurrent use.
type Failures struct {
	limit  int
	base   time.Duration
	window time.Duration

	mu sync.Mutex
	t  *table[failState]
}

type failState struct {
	count int
	last  time.Time // the latest failure
	until time.Time // no tries before this
}

// NewFailures returns a failure backoff; limit <= 0 turns it off (nil).
// maxKeys bounds the keys remembered at once.
func NewFailures(limit int, base, window time.Duration, maxKeys int) *Failures {
	if limit <= 0 {
		return nil
	}
	f := &Failures{limit: limit, base: base, window: window}
	f.t = newTable(maxKeys, f.forgotten)
	return f
}

// forgotten says whether s has been quiet for a window: then it is what a
// fresh key would be.
func (f *Failures) forgotten(s *failState, now time.Time) bool {
	quiet := s.last
	if s.until.After(quiet) {
		quiet = s.until
	}
	return now.Sub(quiet) >= f.window
}

// Check says whether key may try at now, and if not, how long until it
// may. It records nothing.
func (f *Failures) Check(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if f == nil {
		return true, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.t.peek(key)
	if s == nil || !now.Before(s.until) {
		return true, 0
	}
	return false, s.until.Sub(now)
}

// Fail records a failure of key at now and returns the wait it imposes
// from now on (0 while key is under its limit).
func (f *Failures) Fail(key string, now time.Time) time.Duration {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.t.get(key, now, func() failState { return failState{} })
	if f.forgotten(s, now) {
		s.count = 0
	}
	s.count++
	s.last = now
	if s.count < f.limit {
		return 0
	}
	wait := f.base
	for i := f.limit; i < s.count && wait < f.window; i++ {
		wait *= 2
	}
	wait = min(wait, f.window)
	s.until = now.Add(wait)
	return wait
}

// Succeed forgets key's failures.
func (f *Failures) Succeed(key string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t.forget(key)
}
