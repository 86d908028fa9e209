package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	conn   link
	clock  clock
	span   *span
	cnt    *counters
	window chan struct{} // a slot per message awaiting its ack; nil: open loop
	errs   *firstError
	// tmpl is the message frame, built once: each message patches its
	// timestamp and counter into a copy, in place (see stampDigits).
	tmpl            []byte
	cmidAt, stampAt int
	refusals        refusals

	ackLat []int64 // send→ack samples in the window; reader goroutine only
}

// Widths of the numbers patched into a message frame. Fixed widths let a
// frame be written by overwriting digits instead of encoding it again;
// 16 digits of nanoseconds last 115 days of run.
const (
	stampDigits   = 16
	counterDigits = 10
	// cmidLen is the client_message_id: stamp, '-', counter.
	cmidLen = stampDigits + 1 + counterDigits
)

// template builds a sender's message frame with zeroed numbers. It is
// written by hand rather than through SendMessage: one goroutine and one
// waiter per in-flight message would make the generator, not the server,
// the limit.
func (s *sender) template(conv []byte, content int) {
	b := []byte(`{"type":"message","client_message_id":"`)
	s.cmidAt = len(b)
	b = append(b, strings.Repeat("0", stampDigits)+"-"+strings.Repeat("0", counterDigits)...)
	b = append(b, `","conversation_id":`...)
	b = append(b, conv...)
	b = append(b, `,"message_type":"text","content":"`...)
	s.stampAt = len(b)
	b = append(b, strings.Repeat("0", stampDigits)...)
	if pad := content - stampDigits; pad > 0 {
		b = append(b, ' ')
		b = append(b, strings.Repeat("x", pad-1)...)
	}
	s.tmpl = append(b, `"}`...)
}

// patch stamps message i, sent (or due) at ts, into a copy of the template.
func (s *sender) patch(b []byte, ts int64, i int) {
	putDigits(b[s.cmidAt:s.cmidAt+stampDigits], ts)
	putDigits(b[s.cmidAt+stampDigits+1:s.cmidAt+cmidLen], int64(i))
	putDigits(b[s.stampAt:s.stampAt+stampDigits], ts)
}

// putDigits writes v in decimal over b, zero-padded to its length.
func putDigits(b []byte, v int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// stamp reads the timestamp at the head of a client_message_id or content.
func stamp(b []byte) (int64, bool) {
	end := 0
	for end < len(b) && end < stampDigits && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	return atoi(b[:end])
}

// closedLoop sends until stop (or limit messages, if limit > 0), keeping
// the window full.
func (s *sender) closedLoop(stop <-chan struct{}, limit int) error {
	buf := bytes.Clone(s.tmpl)
	for i := 0; limit <= 0 || i < limit; i++ {
		select {
		case s.window <- struct{}{}:
		case <-stop:
			return nil
		}
		s.patch(buf, s.clock.now(), i)
		if err := s.conn.write(buf); err != nil {
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
func (s *sender) openLoop(stop <-chan struct{}, first, every int64) error {
	buf := bytes.Clone(s.tmpl)
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
		s.patch(buf, due, i)
		if err := s.conn.write(buf); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.cnt.sent.Add(1)
	}
}

// read consumes the connection's frames until it closes.
func (s *sender) read() {
	var f inFrame
	for s.conn.next(&f) {
		switch f.kind {
		case kindAck:
			now := s.clock.now()
			s.release()
			s.cnt.acked.Add(1)
			if ts, ok := s.sentAt(f.clientMessageID); ok && s.span.in(ts) {
				s.ackLat = append(s.ackLat, now-ts)
			}
		case kindStatus:
			s.cnt.receipts.Add(1)
		case kindError, kindInvalid:
			if string(f.code) == rateLimited && s.refused(f.clientMessageID, f.retryAfterMS) {
				s.cnt.refused.Add(1)
				continue
			}
			s.cnt.errors.Add(1)
			s.errs.set(fmt.Errorf("error frame to a sender: %s", f.describe()))
			if len(f.clientMessageID) > 0 {
				s.release()
			}
		}
	}
}

// rateLimited is the error code of a refusal to resend later.
const rateLimited = "rate_limited"

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
	conn     link
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
	lastAt   atomic.Int64             // harness ns of the latest message
	lat      []int64                  // send→deliver samples in the window; reader only
	convs    map[string]*conversation // reader only
	mu       sync.Mutex
	dirty    []*conversation // those with pending ids; under mu
	spare    []*conversation // dirty's other buffer; acker only
	npending int             // under mu
	kick     chan struct{}
}

// conversation is one conversation as a recipient sees it.
type conversation struct {
	id      []byte // as in the frames' JSON
	lastSeq int64  // reader only
	// pending are the ids received and not yet acknowledged (under the
	// recipient's mu); sending, those of the receipt being written (acker
	// only). The two swap, so neither is allocated again.
	pending, sending idList
}

// idList is message ids as the body of a JSON array ("a","b"), ready to
// be written into a receipt, with where each id ends.
type idList struct {
	body []byte
	ends []int
}

func (l *idList) add(id []byte) {
	if len(l.ends) > 0 {
		l.body = append(l.body, ',')
	}
	l.body = append(l.body, '"')
	l.body = append(l.body, id...)
	l.body = append(l.body, '"')
	l.ends = append(l.ends, len(l.body))
}

// span returns ids from to to-1, as an array body.
func (l *idList) span(from, to int) []byte {
	start := 0
	if from > 0 {
		start = l.ends[from-1] + 1
	}
	return l.body[start:l.ends[to-1]]
}

func (l *idList) reset() { l.body, l.ends = l.body[:0], l.ends[:0] }

func (r *recipient) init() {
	r.convs = map[string]*conversation{}
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
	var f inFrame
	for r.conn.next(&f) {
		switch f.kind {
		case kindMessage:
			now := r.clock.now()
			// The server's own messages (group membership changes) are
			// in the sequence and acknowledged, but are not the load.
			bench := !f.system
			if bench {
				r.cnt.delivered.Add(1)
				if ts, ok := stamp(f.content); ok && r.span.in(ts) {
					r.lat = append(r.lat, now-ts)
				}
			}
			c := r.convs[string(f.conversationID)]
			if c == nil {
				c = &conversation{id: bytes.Clone(f.conversationID)}
				r.convs[string(c.id)] = c
			}
			// Order: each conversation's messages arrive as 1, 2, 3, ...
			switch {
			case f.sequence <= c.lastSeq:
				r.cnt.repeats.Add(1)
			case f.sequence > c.lastSeq+1:
				r.cnt.gaps.Add(1)
			}
			c.lastSeq = max(c.lastSeq, f.sequence)
			r.mu.Lock()
			if len(c.pending.ends) == 0 {
				r.dirty = append(r.dirty, c)
			}
			c.pending.add(f.messageID)
			r.npending++
			// The acker hears of the first message pending, to arm its
			// timer, and of a full batch.
			kick := r.npending == 1 || r.npending >= r.ackBatch
			r.mu.Unlock()
			if kick {
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
		case kindError, kindInvalid:
			r.cnt.errors.Add(1)
			r.errs.set(fmt.Errorf("error frame to a recipient: %s", f.describe()))
		}
	}
}

// acker sends the receipts until stop, then a last batch. It flushes on
// the ticks of an ackEvery ticker, and at once when a batch is full; but
// a tick with nothing pending is skipped rather than woken for (in the
// latency scenario, 500 recipients at 2,000 msg/s, that took the
// generator from 0.35 to 0.29 cores).
func (r *recipient) acker(stop <-chan struct{}) error {
	epoch := time.Now()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	armed := false
	for {
		select {
		case <-t.C:
			armed = false
		case <-r.kick:
			n := r.pendingCount()
			if n < r.ackBatch {
				if !armed && n > 0 {
					// The next tick of a ticker started at epoch.
					t.Reset(r.ackEvery - time.Since(epoch)%r.ackEvery)
					armed = true
				}
				continue
			}
		case <-stop:
			return r.flush()
		}
		if err := r.flush(); err != nil {
			return err
		}
	}
}

func (r *recipient) pendingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.npending
}

func (r *recipient) flush() error {
	r.mu.Lock()
	if r.npending == 0 {
		r.mu.Unlock()
		return nil
	}
	batch := r.dirty
	r.dirty, r.npending = r.spare[:0], 0
	for _, c := range batch {
		c.pending, c.sending = c.sending, c.pending
	}
	r.mu.Unlock()
	var err error
	for _, c := range batch {
		if err == nil {
			err = r.acknowledge(c)
		}
		c.sending.reset()
	}
	clear(batch)
	r.spare = batch[:0]
	return err
}

// acknowledge writes the receipts of c's ids, at most maxIDs a frame.
func (r *recipient) acknowledge(c *conversation) error {
	l := &c.sending
	for from := 0; from < len(l.ends); {
		to := min(from+maxIDs, len(l.ends))
		ids := l.span(from, to)
		if err := r.conn.receipt(false, nil, ids); err != nil {
			return fmt.Errorf("delivery_ack: %w", err)
		}
		r.cnt.ackFrames.Add(1)
		if r.read {
			if err := r.conn.receipt(true, c.id, ids); err != nil {
				return fmt.Errorf("read_receipt: %w", err)
			}
			r.cnt.ackFrames.Add(1)
		}
		from = to
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
	conns      []link
	// unbind detaches the connections from the contexts that abort them.
	unbind []func() bool
	// fanout is how many recipients each message has.
	fanout int
	grace  time.Duration // how long finish waited for stragglers

	stop    chan struct{} // closed: senders stop
	ackStop chan struct{} // closed: ackers flush and stop
	// resendStop is closed once every message is acked (or finish's
	// grace is over): refused messages are resent until then.
	resendStop chan struct{}
	// abort drops the senders' connections, ending a write blocked on a
	// server that stopped reading, once finish's grace is over.
	abort   context.CancelFunc
	sendCtx context.Context
	readers sync.WaitGroup
	ackers  sync.WaitGroup
	sends   sync.WaitGroup
	resends sync.WaitGroup
	mu      sync.Mutex
	failure error
}

func newTraffic(ctx context.Context, e *env, fanout int) *traffic {
	t := &traffic{
		e: e, span: newSpan(), fanout: fanout,
		stop: make(chan struct{}), ackStop: make(chan struct{}), resendStop: make(chan struct{}),
	}
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

// bind drops conn once ctx ends. Writes take no context of their own:
// on a cancellable one, every write would arm and disarm a timer.
func (t *traffic) bind(ctx context.Context, conn link) {
	t.conns = append(t.conns, conn)
	t.unbind = append(t.unbind, context.AfterFunc(ctx, conn.abort))
}

func (t *traffic) newSender(conn link, conv string, window, content int) *sender {
	id, _ := json.Marshal(conv) // a string always marshals
	s := &sender{conn: conn, clock: t.e.clock, span: t.span, cnt: &t.cnt, errs: &t.errs}
	s.template(id, content)
	s.refusals.init()
	if window > 0 {
		s.window = make(chan struct{}, window)
	}
	t.senders = append(t.senders, s)
	t.bind(t.sendCtx, conn)
	t.readers.Go(s.read)
	return s
}

// newRecipient starts reading conn; once expect messages (if positive)
// have arrived, the recipient's all channel closes.
func (t *traffic) newRecipient(ctx context.Context, conn link, read bool, ackEvery time.Duration, ackBatch int, expect int64) *recipient {
	r := &recipient{
		conn: conn, clock: t.e.clock, span: t.span, cnt: &t.cnt, read: read, ackEvery: ackEvery, ackBatch: ackBatch,
		errs: &t.errs, expect: expect,
	}
	r.init()
	t.recipients = append(t.recipients, r)
	t.bind(ctx, conn)
	t.readers.Go(r.receive)
	t.ackers.Go(func() { t.fail(r.acker(t.ackStop)) })
	return r
}

// send runs fn for each sender in its own goroutine until stop, and
// beside it the sender's resends of refused messages.
func (t *traffic) send(fn func(i int, s *sender) error) {
	for i, s := range t.senders {
		t.sends.Go(func() {
			err := fn(i, s)
			if t.sendCtx.Err() == nil {
				t.fail(err)
			}
		})
		t.resends.Go(func() {
			err := s.resendLoop(t.resendStop)
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
	close(t.resendStop)
	t.resends.Wait()
	close(t.ackStop)
	t.ackers.Wait()
	closeWires(t.conns)
	t.readers.Wait()
	for _, stop := range t.unbind {
		stop()
	}
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

// refusedFigure is the rate of rate_limited refusals in the window.
func refusedFigure(n snapshot, d time.Duration) Figure {
	return Figure{Key: "refused_per_s", Label: "sends refused rate_limited (resent)", Value: perSecond(n.refused, d), Unit: "/s"}
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
		Figure{Key: "refused_rate_limited", Value: float64(t.cnt.refused.Load())},
	)
	if err := t.errs.get(); err != nil {
		r.Notes = append(r.Notes, "first error: "+err.Error())
	}
	if missing > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d deliveries of acknowledged messages had not reached their (online) recipients %s after the senders stopped",
			missing, t.grace))
	}
}
