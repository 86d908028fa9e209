package gateway

import (
	"testing"
	"time"
)

// testClock is a time the test moves by hand.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestClock() *testClock               { return &testClock{t: time.Unix(1_700_000_000, 0)} }
func fill(t *testing.T, a *admission, n int) []*pendingSend {
	t.Helper()
	var ps []*pendingSend
	for i := range n {
		p, wait := a.admit()
		if p == nil {
			t.Fatalf("send %d of %d refused (wait %s)", i+1, n, wait)
		}
		ps = append(ps, p)
	}
	return ps
}

// TestAdmissionCounts: up to the bound sends are admitted, past it
// refused with a wait; a release makes room again, and releasing a send
// twice gives back one place, not two.
func TestAdmissionCounts(t *testing.T) {
	clk := newTestClock()
	a := newAdmission(3, 0, clk.now)
	ps := fill(t, a, 3)
	if p, wait := a.admit(); p != nil || wait <= 0 {
		t.Fatalf("past the bound: admitted %v, wait %s; want a refusal with a wait", p != nil, wait)
	}
	if a.Pending() != 3 {
		t.Fatalf("pending = %d, want 3 (a refusal takes no place)", a.Pending())
	}
	ps[0].release()
	ps[0].release() // the committer calling back twice must not free two places
	if a.Pending() != 2 {
		t.Fatalf("pending = %d after one release, twice; want 2", a.Pending())
	}
	p := fill(t, a, 1)[0]
	if q, _ := a.admit(); q != nil {
		t.Fatal("admitted past the bound after one release")
	}
	for _, p := range append(ps[1:], p) {
		p.release()
	}
	if a.Pending() != 0 {
		t.Fatalf("pending = %d after every release, want 0", a.Pending())
	}
	var none *pendingSend
	none.release() // harmless
}

// TestAdmissionOff: a bound of 0 admits everything, and still counts.
func TestAdmissionOff(t *testing.T) {
	a := newAdmission(0, 0, newTestClock().now)
	ps := fill(t, a, 10_000)
	if a.Pending() != 10_000 {
		t.Fatalf("pending = %d, want 10000", a.Pending())
	}
	for _, p := range ps {
		p.release()
	}
	if a.Pending() != 0 {
		t.Fatalf("pending = %d, want 0", a.Pending())
	}
}

// saturate keeps the bound full while the committer clears one send per
// step for d: the rate it measures is 1/step.
func saturate(a *admission, clk *testClock, ps []*pendingSend, step, d time.Duration) []*pendingSend {
	for end := clk.t.Add(d); clk.t.Before(end); {
		clk.advance(step)
		ps[0].release()
		p, _ := a.admit()
		ps = append(ps[1:], p)
	}
	return ps
}

// TestAdmissionHint: the wait is how far past the bound the node is (the
// refusals the committer has not made room for yet) over the rate it
// clears sends at now, within [10 ms, 5 s].
func TestAdmissionHint(t *testing.T) {
	clk := newTestClock()
	a := newAdmission(10, 0, clk.now)
	ps := fill(t, a, 10)
	// Before any measurement the committer is assumed to clear the bound
	// in 100 ms: 100 sends/s, 10 ms a send.
	for k, want := range []time.Duration{10, 20, 30} {
		if _, wait := a.admit(); wait != want*time.Millisecond {
			t.Fatalf("refusal %d: wait %s, want %d ms", k+1, wait, want)
		}
	}
	// Two sends committed make room for two of the three refused: the
	// next refused one is the second in line.
	ps[0].release()
	ps[1].release()
	ps = append(ps[2:], fill(t, a, 2)...)
	if _, wait := a.admit(); wait != 20*time.Millisecond {
		t.Fatalf("after two commits: wait %s, want 20 ms", wait)
	}

	// The committer turns out to clear 1,000 sends/s: after a few time
	// constants the rate is measured and the hints follow it.
	ps = saturate(a, clk, ps, time.Millisecond, 3*time.Second)
	if a.rate < 900 || a.rate > 1100 {
		t.Fatalf("measured rate %.0f/s, want about 1000/s", a.rate)
	}
	var wait time.Duration
	for range 50 {
		_, wait = a.admit()
	}
	if wait < 45*time.Millisecond || wait > 55*time.Millisecond {
		t.Fatalf("50th refusal in a burst at 1000/s: wait %s, want about 50 ms", wait)
	}

	// A fast committer and a single refusal: no less than 10 ms.
	ps = saturate(a, clk, ps, 10*time.Microsecond, 3*time.Second)
	if _, wait := a.admit(); wait != minRetryAfter {
		t.Fatalf("one refusal at 100,000/s: wait %s, want %s", wait, minRetryAfter)
	}

	// The committer stalls: refusals keep coming, nothing is released;
	// the rate falls towards 0 and the wait reaches its 5 s cap.
	for range 20 {
		clk.advance(time.Second)
		_, wait = a.admit()
	}
	if wait != maxRetryAfter {
		t.Fatalf("stalled committer: wait %s, want %s", wait, maxRetryAfter)
	}
	for _, p := range ps {
		p.release()
	}
}

// TestAdmissionIdleIsNotSlow: time in which the committer had nothing to
// do does not count as the committer being slow.
func TestAdmissionIdleIsNotSlow(t *testing.T) {
	clk := newTestClock()
	a := newAdmission(10, 0, clk.now)
	ps := saturate(a, clk, fill(t, a, 10), time.Millisecond, 3*time.Second)
	for _, p := range ps {
		p.release()
	}
	clk.advance(10 * time.Minute) // quiet: nothing pending
	fill(t, a, 10)
	clk.advance(time.Millisecond)
	if _, wait := a.admit(); wait != minRetryAfter {
		t.Fatalf("first refusal after a quiet spell: wait %s, want %s (the rate measured before it)", wait, minRetryAfter)
	}
	if a.rate < 900 {
		t.Fatalf("rate %.0f/s after a quiet spell, want still about 1000/s", a.rate)
	}
}

func TestRetryAfterClamp(t *testing.T) {
	cases := []struct {
		sends, rate float64
		want        time.Duration
	}{
		{1, 1e6, minRetryAfter},
		{1e9, 1, maxRetryAfter},
		{1, 0, maxRetryAfter},
		{25, 1000, 25 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.sends, tc.rate); got != tc.want {
			t.Errorf("retryAfter(%v, %v) = %s, want %s", tc.sends, tc.rate, got, tc.want)
		}
	}
}

// TestAdmissionWaitBound: with a wait target the bound follows the waits
// of released sends: sends that waited too long shrink it (never under
// minWaitBound), sends that waited less while others were turned away
// grow it back (never over the count).
func TestAdmissionWaitBound(t *testing.T) {
	clk := newTestClock()
	a := newAdmission(1024, 50*time.Millisecond, clk.now)
	// round admits until refused, lets the sends wait, releases them and
	// ends the sample period; it returns how many were admitted.
	round := func(wait time.Duration) int {
		t.Helper()
		var ps []*pendingSend
		for {
			p, _ := a.admit()
			if p == nil {
				break
			}
			ps = append(ps, p)
		}
		clk.advance(wait)
		for _, p := range ps {
			p.release()
		}
		clk.advance(ratePeriod)
		a.mu.Lock()
		a.sampleLocked(clk.now())
		a.mu.Unlock()
		return len(ps)
	}
	if n := round(10 * time.Millisecond); n != 1024 {
		t.Fatalf("first round admitted %d; want the count, 1024", n)
	}
	prev := 1024
	for range 30 {
		n := round(200 * time.Millisecond)
		if n > prev {
			t.Fatalf("slow commits: admitted %d after %d", n, prev)
		}
		prev = n
	}
	if prev != minWaitBound {
		t.Fatalf("after 30 slow rounds the bound is %d; want the floor %d", prev, minWaitBound)
	}
	for range 60 {
		n := round(5 * time.Millisecond)
		if n < prev {
			t.Fatalf("fast commits: admitted %d after %d", n, prev)
		}
		prev = n
	}
	if prev != 1024 {
		t.Fatalf("after 60 fast rounds the bound is %d; want the count, 1024", prev)
	}
}
