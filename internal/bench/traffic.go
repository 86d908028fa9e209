package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/client"
)

// sender writes message frames on one connection, either closed-loop (at
// most a window of messages awaiting their ack) or open-loop (each message
// on its schedule), and reads what comes back: acks, and the status frames
// of its recipients' receipts.
//
// A message's timestamp (harness ns: when it was sent, or when it was due)
// travels in its client_message_id, which the ack echoes, and at the head
// of its content, which the server does not interpret.
type sender struct {
	conn    *client.Conn
	conv    []byte // the conversation id as a JSON string
	clock   clock
	span    *span
	cnt     *counters
	window  chan struct{} // a slot per message awaiting its ack; nil: open loop
	content int
	errs    *firstError

	ackLat []int64 // send→ack samples in the window; reader goroutine only
}

// frame appends a message frame for message i stamped ts. It is written
// by hand rather than through SendMessage: one goroutine and one waiter per
// in-flight message would make the generator, not the server, the limit.
func (s *sender) frame(b []byte, ts int64, i int) []byte {
	b = append(b, `{"type":"message","client_message_id":"`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","conversation_id":`...)
	b = append(b, s.conv...)
	b = append(b, `,"message_type":"text","content":"`...)
	n := len(b)
	b = strconv.AppendInt(b, ts, 10)
	if pad := s.content - (len(b) - n); pad > 0 {
		b = append(b, ' ')
		for range pad - 1 {
			b = append(b, 'x')
		}
	}
	return append(b, `"}`...)
}

// stamp reads the timestamp at the head of a client_message_id or content.
func stamp(s string) (int64, bool) {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(s[:end], 10, 64)
	return v, err == nil
}

// closedLoop sends until stop (or limit messages, if limit > 0), keeping
// the window full.
func (s *sender) closedLoop(ctx context.Context, stop <-chan struct{}, limit int) error {
	var buf []byte
	for i := 0; limit <= 0 || i < limit; i++ {
		select {
		case s.window <- struct{}{}:
		case <-stop:
			return nil
		}
		buf = s.frame(buf[:0], s.clock.now(), i)
		if err := s.conn.SendRaw(ctx, buf); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.cnt.sent.Add(1)
	}
	return nil
}

// openLoop sends message i at first+i*every (harness ns) until stop,
// whether or not earlier ones were acknowledged. A message sent late keeps
// its scheduled time as its timestamp, so a stall of the server (or of
// the generator) shows in the latencies instead of silently lowering the
// rate: no coordinated omission.
func (s *sender) openLoop(ctx context.Context, stop <-chan struct{}, first, every int64) error {
	var buf []byte
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for i := 0; ; i++ {
		due := first + int64(i)*every
		if d := time.Duration(due - s.clock.now()); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-stop:
				return nil
			}
		} else {
			select {
			case <-stop:
				return nil
			default:
			}
		}
		buf = s.frame(buf[:0], due, i)
		if err := s.conn.SendRaw(ctx, buf); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.cnt.sent.Add(1)
	}
}

// read consumes the connection's frames until it closes.
func (s *sender) read() {
	for f := range s.conn.Frames() {
		switch f.Type {
		case "message_ack":
			now := s.clock.now()
			s.release()
			s.cnt.acked.Add(1)
			if ts, ok := stamp(f.ClientMessageID); ok && s.span.in(ts) {
				s.ackLat = append(s.ackLat, now-ts)
			}
		case "status":
			s.cnt.receipts.Add(1)
		case "error":
			s.cnt.errors.Add(1)
			s.errs.set(fmt.Errorf("error frame to a sender: %s: %s", f.Code, f.Message))
			if f.ClientMessageID != "" {
				s.release()
			}
		}
	}
}

func (s *sender) release() {
	if s.window == nil {
		return
	}
	select {
	case <-s.window:
	default:
	}
}

// recipient reads messages on one connection and, as a client does,
// acknowledges them in batches: a delivery_ack (and, with read on, a
// read_receipt, as when the chat is open) every ackEvery or every
// ackBatch messages, whichever comes first.
type recipient struct {
	conn     *client.Conn
	clock    clock
	span     *span
	cnt      *counters
	read     bool
	ackEvery time.Duration
	ackBatch int
	errs     *firstError
	// expect, if positive, closes all once that many messages arrived.
	expect int64
	all    chan struct{}

	got      atomic.Int64
	lastAt   atomic.Int64 // harness ns of the latest message
	lat      []int64      // send→deliver samples in the window; reader only
	lastSeq  map[string]int64
	mu       sync.Mutex
	pending  map[string][]string // conversation → ids to acknowledge
	npending int
	kick     chan struct{}
}

func (r *recipient) init() {
	r.lastSeq = map[string]int64{}
	r.pending = map[string][]string{}
	r.kick = make(chan struct{}, 1)
	r.all = make(chan struct{})
	if r.ackBatch <= 0 || r.ackBatch > maxIDs {
		r.ackBatch = maxIDs
	}
}

// maxIDs is the most message ids the server takes in one receipt frame.
const maxIDs = 1000

// receive consumes the connection's frames until it closes.
func (r *recipient) receive() {
	for f := range r.conn.Frames() {
		switch f.Type {
		case "message":
			now := r.clock.now()
			// The server's own messages (group membership changes) are
			// in the sequence and acknowledged, but are not the load.
			bench := f.MessageType != "system"
			if bench {
				r.cnt.delivered.Add(1)
				if ts, ok := stamp(f.Content); ok && r.span.in(ts) {
					r.lat = append(r.lat, now-ts)
				}
			}
			// Order: each conversation's messages arrive as 1, 2, 3, ...
			last := r.lastSeq[f.ConversationID]
			switch {
			case f.SequenceNumber <= last:
				r.cnt.repeats.Add(1)
			case f.SequenceNumber > last+1:
				r.cnt.gaps.Add(1)
			}
			r.lastSeq[f.ConversationID] = max(last, f.SequenceNumber)
			r.mu.Lock()
			r.pending[f.ConversationID] = append(r.pending[f.ConversationID], f.MessageID)
			r.npending++
			full := r.npending >= r.ackBatch
			r.mu.Unlock()
			if full {
				select {
				case r.kick <- struct{}{}:
				default:
				}
			}
			if !bench {
				continue
			}
			r.lastAt.Store(now)
			if n := r.got.Add(1); n == r.expect {
				close(r.all)
			}
		case "error":
			r.cnt.errors.Add(1)
			r.errs.set(fmt.Errorf("error frame to a recipient: %s: %s", f.Code, f.Message))
		}
	}
}

// acker sends the receipts until stop, then a last batch.
func (r *recipient) acker(ctx context.Context, stop <-chan struct{}) error {
	t := time.NewTicker(r.ackEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.kick:
		case <-stop:
			return r.flush(ctx)
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
	}
}

func (r *recipient) flush(ctx context.Context) error {
	r.mu.Lock()
	if r.npending == 0 {
		r.mu.Unlock()
		return nil
	}
	batch := r.pending
	r.pending, r.npending = map[string][]string{}, 0
	r.mu.Unlock()
	for conv, ids := range batch {
		for len(ids) > 0 {
			n := min(len(ids), maxIDs)
			if err := r.conn.Ack(ctx, ids[:n]...); err != nil {
				return fmt.Errorf("delivery_ack: %w", err)
			}
			r.cnt.ackFrames.Add(1)
			if r.read {
				if err := r.conn.Read(ctx, conv, ids[:n]...); err != nil {
					return fmt.Errorf("read_receipt: %w", err)
				}
				r.cnt.ackFrames.Add(1)
			}
			ids = ids[n:]
		}
	}
	return nil
}

// firstError keeps the first of many errors, for the report's notes.
type firstError struct{ p atomic.Pointer[error] }

func (f *firstError) set(err error) { f.p.CompareAndSwap(nil, &err) }

func (f *firstError) get() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}

// traffic is a run of senders and recipients: the common lifecycle of the
// throughput, latency, fanout and drain scenarios.
type traffic struct {
	e          *env
	cnt        counters
	span       *span
	errs       firstError
	senders    []*sender
	recipients []*recipient
	conns      []*client.Conn
	// fanout is how many recipients each message has.
	fanout int
	grace  time.Duration // how long finish waited for stragglers

	stop    chan struct{} // closed: senders stop
	ackStop chan struct{} // closed: ackers flush and stop
	// abort ends a sender blocked in a write (a server that stopped
	// reading) once finish's grace is over.
	abort   context.CancelFunc
	sendCtx context.Context
	readers sync.WaitGroup
	ackers  sync.WaitGroup
	sends   sync.WaitGroup
	mu      sync.Mutex
	failure error
}

func newTraffic(ctx context.Context, e *env, fanout int) *traffic {
	t := &traffic{e: e, span: newSpan(), fanout: fanout, stop: make(chan struct{}), ackStop: make(chan struct{})}
	t.sendCtx, t.abort = context.WithCancel(ctx)
	return t
}

func (t *traffic) fail(err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	if t.failure == nil {
		t.failure = err
	}
	t.mu.Unlock()
}

func (t *traffic) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failure
}

func (t *traffic) newSender(conn *client.Conn, conv string, window, content int) *sender {
	id, _ := json.Marshal(conv) // a string always marshals
	s := &sender{conn: conn, conv: id, clock: t.e.clock, span: t.span, cnt: &t.cnt, content: content, errs: &t.errs}
	if window > 0 {
		s.window = make(chan struct{}, window)
	}
	t.senders = append(t.senders, s)
	t.conns = append(t.conns, conn)
	t.readers.Go(s.read)
	return s
}

// newRecipient starts reading conn; once expect messages (if positive)
// have arrived, the recipient's all channel closes.
func (t *traffic) newRecipient(ctx context.Context, conn *client.Conn, read bool, ackEvery time.Duration, ackBatch int, expect int64) *recipient {
	r := &recipient{
		conn: conn, clock: t.e.clock, span: t.span, cnt: &t.cnt, read: read, ackEvery: ackEvery, ackBatch: ackBatch,
		errs: &t.errs, expect: expect,
	}
	r.init()
	t.recipients = append(t.recipients, r)
	t.conns = append(t.conns, conn)
	t.readers.Go(r.receive)
	t.ackers.Go(func() { t.fail(r.acker(ctx, t.ackStop)) })
	return r
}

// send runs fn for each sender in its own goroutine until stop; ctx is
// for the sender's writes.
func (t *traffic) send(fn func(ctx context.Context, i int, s *sender) error) {
	for i, s := range t.senders {
		t.sends.Go(func() {
			err := fn(t.sendCtx, i, s)
			if t.sendCtx.Err() == nil {
				t.fail(err)
			}
		})
	}
}

// window runs warm-up then the measured phase, and fills the report's
// usage; it returns the counts of the measured phase and its length.
func (t *traffic) window(ctx context.Context, warmup, length time.Duration, r *Report) (snapshot, time.Duration, error) {
	if err := t.sleep(ctx, warmup); err != nil {
		return snapshot{}, 0, err
	}
	m := t.e.begin(ctx, length)
	t.span.open(t.e.clock.now())
	before := t.cnt.snap()
	err := t.sleep(ctx, length)
	after := t.cnt.snap()
	t.span.close(t.e.clock.now())
	d := m.end(ctx, r)
	return after.sub(before), d, errors.Join(err, m.finish(r))
}

// sleep waits d, returning early if the run fails or ctx ends.
func (t *traffic) sleep(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if err := t.err(); err != nil {
			return err
		}
		if t.e.child != nil {
			if err := t.e.child.exited(); err != nil {
				return err
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, 100*time.Millisecond)):
		}
	}
}

// finish stops the senders, waits (at most grace) until every message
// sent is acknowledged and every acknowledged one has reached its
// recipients, sends the last receipts and closes every connection. It
// returns how many deliveries of acknowledged messages are missing.
func (t *traffic) finish(grace time.Duration) int64 {
	t.grace = grace
	close(t.stop)
	sent := make(chan struct{})
	go func() { t.sends.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(max(grace, time.Second)):
		t.abort() // closes the connections of the senders still blocked
		<-sent
	}
	defer t.abort()
	want := func() int64 { return t.cnt.acked.Load() * int64(t.fanout) }
	settled := func() bool {
		return t.cnt.acked.Load()+t.cnt.errors.Load() >= t.cnt.sent.Load() && t.cnt.delivered.Load() >= want()
	}
	deadline := time.Now().Add(grace)
	for !settled() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	missing := want() - t.cnt.delivered.Load()
	close(t.ackStop)
	t.ackers.Wait()
	closeAll(t.conns)
	t.readers.Wait()
	return max(missing, 0)
}

// latencies merges the samples of every sender and recipient.
func (t *traffic) latencies() (ack, deliver Percentiles) {
	var a, d []int64
	for _, s := range t.senders {
		a = append(a, s.ackLat...)
	}
	for _, r := range t.recipients {
		d = append(d, r.lat...)
	}
	return summarize(a), summarize(d)
}

// checks adds the run's consistency counts to the report.
func (t *traffic) checks(r *Report, missing int64) {
	r.Checks = append(r.Checks,
		Figure{Key: "sent", Value: float64(t.cnt.sent.Load())},
		Figure{Key: "acked", Value: float64(t.cnt.acked.Load())},
		Figure{Key: "delivered", Value: float64(t.cnt.delivered.Load())},
		Figure{Key: "receipts", Value: float64(t.cnt.receipts.Load())},
		Figure{Key: "unacked_at_end", Value: float64(max(0, t.cnt.sent.Load()-t.cnt.acked.Load()-t.cnt.errors.Load()))},
		Figure{Key: "undelivered_at_end", Value: float64(missing)},
		Figure{Key: "sequence_gaps", Value: float64(t.cnt.gaps.Load())},
		Figure{Key: "sequence_repeats", Value: float64(t.cnt.repeats.Load())},
		Figure{Key: "error_frames", Value: float64(t.cnt.errors.Load())},
	)
	if err := t.errs.get(); err != nil {
		r.Notes = append(r.Notes, "first error: "+err.Error())
	}
	if missing > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d deliveries of acknowledged messages had not reached their (online) recipients %s after the senders stopped",
			missing, t.grace))
	}
}
