package gateway

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/wire"
)

// admission bounds this node's sends that were handed to the group
// committer and are not committed yet, all connections together. Past the
// bound a message is refused at once (rate_limited, nothing stored) with a
// hint of when to resend, instead of joining a queue whose wait grows
// without bound: at twice the committer's capacity the 99th percentile
// send waited 55 s before its ack (issue 13). Each connection's own bound
// (MaxInflight) only stops one client from taking the queue; a thousand
// clients each within it still built that queue.
//
// The hint is the time the committer needs to make room for this send: how
// far past the bound the node is (the sends refused since the committer
// last caught up, this one included) divided by how fast the committer is
// clearing sends now, clamped to [minRetryAfter, maxRetryAfter]. The k-th
// send refused in a burst is told to come back about k sends' worth of
// commits later, so the refused clients return spread out, at the pace the
// committer can take them, rather than all at once.
//
// Safe for concurrent use. The hot path (admit, release) is atomics only;
// the mutex is taken by refusals and by one release per sample period.
type admission struct {
	max int64 // 0: no bound (pending sends are still counted, for the gauge)
	// maxWait, when set, bounds the wait too: the bound adapts so that
	// admitted sends wait about maxWait for their commit (see adapt).
	maxWait time.Duration
	now     func() time.Time
	// cap is the adaptive bound (≤ max) admit enforces when maxWait is set.
	cap atomic.Int64

	pending atomic.Int64
	cleared atomic.Int64 // sends released (committed or failed) since start
	// idle is set when pending falls to 0: the committer then waited for
	// work, and the sample under way measured the load, not its speed.
	idle atomic.Bool
	// nextSample is when (Unix ns) a release next folds a rate sample in.
	nextSample atomic.Int64
	// waited and waits sum the waits (admit to release, ns) of the sends
	// released in the sample period under way; refused counts its refusals.
	waited, waits, refused atomic.Int64

	mu sync.Mutex
	// rate is the committer's clearing speed, sends per second, weighted
	// exponentially over the samples (time constant rateTau).
	rate          float64
	sampleAt      time.Time
	sampleCleared int64
	// backlog is how many refused sends the committer has not yet made
	// room for: it grows by one per refusal and shrinks by one per send
	// released since the last refusal.
	backlog        float64
	backlogCleared int64
}

// Bounds of the hint, and how the committer's rate is measured.
const (
	// minRetryAfter keeps a refused client from coming back before the
	// committer has finished even one more commit (a few ms each).
	minRetryAfter = 10 * time.Millisecond
	// maxRetryAfter caps the hint when the committer is stalled or far
	// behind: the client comes back, is refused again cheaply, and is
	// told anew.
	maxRetryAfter = 5 * time.Second
	// A sample covers at least ratePeriod: several group commits (a few
	// ms each), so one batch more or less is not a swing of the rate.
	ratePeriod = 20 * time.Millisecond
	// rateTau is how far back the rate remembers: it follows a committer
	// that slows down (a disk stall, a checkpoint) within about that.
	rateTau = 500 * time.Millisecond
	// assumedClearTime is how long the committer is assumed to take to
	// clear a full bound until it has been measured (config.DefaultAbuse:
	// the default bound is about what it clears in 100 ms).
	assumedClearTime = 100 * time.Millisecond
)

// minWaitBound is the least the adaptive bound goes down to, so that a
// slow start or a measuring hiccup never starves the committer of a batch.
const minWaitBound = 64

// newAdmission returns the bound; max 0 turns it off, maxWait 0 bounds by
// count alone. now is the clock waits and the commit rate are measured on.
func newAdmission(max int, maxWait time.Duration, now func() time.Time) *admission {
	a := &admission{max: int64(max), maxWait: maxWait, now: now}
	if max > 0 {
		a.rate = float64(max) / assumedClearTime.Seconds()
	}
	a.cap.Store(a.max)
	return a
}

// limit is the bound now: max, or the adaptive bound under maxWait.
func (a *admission) limit() int64 {
	if a.maxWait <= 0 {
		return a.max
	}
	return a.cap.Load()
}

// adapt moves the bound after a sample period, as a TCP window follows
// its round-trip time: when the sends released waited longer than maxWait
// on average, the bound shrinks by a fifth (not under minWaitBound); when
// they waited less and the bound turned sends away, it grows by a tenth
// (not over max). A count alone held the wait on one machine and mix, not
// on every one: with receipts flowing, 1024 pending sends took ~360 ms to
// clear on two cores, and on PostgreSQL a bound derived from the commit
// rate starved the committer of batches. The wait is what clients feel,
// so it is what the bound follows.
func (a *admission) adapt() {
	waits, waited, refused := a.waits.Swap(0), a.waited.Swap(0), a.refused.Swap(0)
	if a.maxWait <= 0 || a.max <= 0 || waits == 0 {
		return
	}
	c := a.cap.Load()
	switch mean := time.Duration(waited / waits); {
	case mean > a.maxWait:
		c = max(minWaitBound, c*4/5)
	case refused > 0:
		c = min(a.max, c+max(1, c/10))
	}
	a.cap.Store(min(c, a.max))
}

// pendingSend is one admitted send's place under the bound.
type pendingSend struct {
	a        *admission
	at       time.Time // admitted
	released atomic.Bool
}

// admit takes a place for one send, or refuses it and says how long the
// client should wait before resending.
func (a *admission) admit() (*pendingSend, time.Duration) {
	for {
		n := a.pending.Load()
		if a.max > 0 && n >= a.limit() {
			return nil, a.refuse()
		}
		if a.pending.CompareAndSwap(n, n+1) {
			return &pendingSend{a: a, at: a.now()}, 0
		}
	}
}

// release gives the place back once the send is committed or has failed
// for good. Only the first call counts: whatever the committer does, a
// send is released exactly once.
func (p *pendingSend) release() {
	if p == nil || !p.released.CompareAndSwap(false, true) {
		return
	}
	a := p.a
	if a.pending.Add(-1) == 0 {
		a.idle.Store(true)
	}
	a.cleared.Add(1)
	now := a.now()
	a.waited.Add(int64(now.Sub(p.at)))
	a.waits.Add(1)
	if now.UnixNano() >= a.nextSample.Load() {
		a.mu.Lock()
		a.sampleLocked(now)
		a.mu.Unlock()
	}
}

// Pending is how many admitted sends are not committed yet.
func (a *admission) Pending() int64 { return a.pending.Load() }

// refuse counts one more send past the bound and returns its hint.
func (a *admission) refuse() time.Duration {
	a.refused.Add(1)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// A refusal samples too: while the committer is stalled no release
	// comes to tell that it clears nothing.
	a.sampleLocked(now)
	cleared := a.cleared.Load()
	a.backlog = max(0, a.backlog-float64(cleared-a.backlogCleared)) + 1
	a.backlogCleared = cleared
	// Past what the longest hint covers, more backlog would only keep the
	// hints long after the committer caught up.
	a.backlog = min(a.backlog, max(1, a.rate*maxRetryAfter.Seconds()))
	return retryAfter(a.backlog, a.rate)
}

// retryAfter is how long the committer takes to clear sends at rate per
// second, within [minRetryAfter, maxRetryAfter].
func retryAfter(sends, rate float64) time.Duration {
	if rate <= 0 {
		return maxRetryAfter
	}
	secs := sends / rate
	if secs >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return max(minRetryAfter, time.Duration(math.Ceil(secs*float64(time.Second))))
}

// sampleLocked folds the sends released since the last sample into the
// rate once a sample period has passed. A period in which the committer
// ran out of work is dropped: it measured the load, not the committer.
func (a *admission) sampleLocked(now time.Time) {
	cleared := a.cleared.Load()
	dt := now.Sub(a.sampleAt)
	switch {
	case a.sampleAt.IsZero() || dt < 0:
		a.idle.Store(false)
	case dt < ratePeriod:
		return
	case !a.idle.Swap(false):
		r := float64(cleared-a.sampleCleared) / dt.Seconds()
		w := 1 - math.Exp(-dt.Seconds()/rateTau.Seconds())
		a.rate += w * (r - a.rate)
	}
	a.adapt()
	a.sampleAt, a.sampleCleared = now, cleared
	a.nextSample.Store(now.Add(ratePeriod).UnixNano())
}

// errBusy is the refusal's text; the wait goes in retry_after_ms.
const errBusy = "server busy: resend after retry_after_ms"

// admitSend takes a place for one send under the node's bound on pending
// sends, or refuses it with rate_limited and the wait.
func (g *Gateway) admitSend() (*pendingSend, error) {
	p, wait := g.pending.admit()
	if p != nil {
		return p, nil
	}
	g.limited("pending_sends")
	return nil, wire.RateLimited(errBusy, wait)
}

// AdmitSend is admitSend for the node's other send path (REST): its
// sends wait for the same committer, so they count under the same bound.
// release gives the place back; call it once the send is committed or has
// failed (further calls do nothing).
func (g *Gateway) AdmitSend() (release func(), err error) {
	p, err := g.admitSend()
	if err != nil {
		return nil, err
	}
	return p.release, nil
}

// PendingSends is how many sends of this node were handed to the committer
// and are not committed yet (the gauge parley_sends_pending).
func (g *Gateway) PendingSends() int64 { return g.pending.Pending() }
