package bench

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Percentiles summarises a latency distribution, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// summarize sorts samples (nanoseconds) in place and returns their
// percentiles. Samples are kept whole rather than bucketed: a run holds at
// most a few million, and exact tails are what this harness is for.
func summarize(samples []int64) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	at := func(q float64) float64 {
		// Nearest rank: the smallest sample with at least q of them at or
		// below it.
		i := int(math.Ceil(q*float64(len(samples)))) - 1
		return ms(samples[max(0, min(i, len(samples)-1))])
	}
	return Percentiles{
		Count: len(samples),
		Mean:  sum / float64(len(samples)) / 1e6,
		P50:   at(0.50),
		P90:   at(0.90),
		P99:   at(0.99),
		P999:  at(0.999),
		Max:   ms(samples[len(samples)-1]),
	}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// clock is the harness's time base. Timestamps travel inside client
// message ids and message content as nanoseconds since start, read from
// the monotonic clock: sender and recipient live in this one process, so
// they share it and no wall-clock step can distort a latency.
type clock struct{ start time.Time }

func newClock() clock { return clock{start: time.Now()} }

func (c clock) now() int64 { return int64(time.Since(c.start)) }

// span is the measurement window: events are counted, and samples kept,
// only between open and close. Before open is the warm-up.
type span struct {
	from atomic.Int64 // harness ns; math.MaxInt64 until opened
	to   atomic.Int64 // harness ns; math.MaxInt64 until closed
}

func newSpan() *span {
	s := &span{}
	s.from.Store(math.MaxInt64)
	s.to.Store(math.MaxInt64)
	return s
}

func (s *span) open(at int64)  { s.from.Store(at) }
func (s *span) close(at int64) { s.to.Store(at) }

// in reports whether harness time t lies in the window.
func (s *span) in(t int64) bool { return t >= s.from.Load() && t < s.to.Load() }

// counters are the events of a run, counted from the start (not only in
// the window: the window's rates come from snapshots at its ends).
type counters struct {
	sent      atomic.Int64 // message frames written
	acked     atomic.Int64 // message_ack received by senders
	delivered atomic.Int64 // message frames received by recipients
	receipts  atomic.Int64 // status frames received by senders
	errors    atomic.Int64 // error frames received
	gaps      atomic.Int64 // a recipient saw a sequence number skip ahead
	repeats   atomic.Int64 // a recipient saw a sequence number again or go back
	ackFrames atomic.Int64 // delivery_ack and read_receipt frames written
	// refused counts the rate_limited refusals of a message (not in
	// errors: the message is resent); resent, the resends written.
	refused atomic.Int64
	resent  atomic.Int64
}

type snapshot struct {
	sent, acked, delivered, receipts, errors, ackFrames, refused int64
}

func (c *counters) snap() snapshot {
	return snapshot{
		sent: c.sent.Load(), acked: c.acked.Load(), delivered: c.delivered.Load(),
		receipts: c.receipts.Load(), errors: c.errors.Load(), ackFrames: c.ackFrames.Load(),
		refused: c.refused.Load(),
	}
}

func (a snapshot) sub(b snapshot) snapshot {
	return snapshot{
		sent: a.sent - b.sent, acked: a.acked - b.acked, delivered: a.delivered - b.delivered,
		receipts: a.receipts - b.receipts, errors: a.errors - b.errors, ackFrames: a.ackFrames - b.ackFrames,
		refused: a.refused - b.refused,
	}
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
