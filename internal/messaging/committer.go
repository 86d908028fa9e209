package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/wire"
)

// Config tunes the committer.
type Config struct {
	// Retention is how long messages are kept and delivered.
	Retention time.Duration
	// MaxBatch bounds how many sends (or receipts) share one commit
	// cycle; receipts are bounded by the message ids they name too.
	MaxBatch int
	// QueueSize bounds sends waiting for the committer; Submit blocks past
	// it, which pushes back on the connections' readers.
	QueueSize int
}

// Work bounds of one commit cycle besides MaxBatch: a cycle stays short
// whatever arrives, so a send never waits behind a long one.
const (
	// receiptIDsPerSend is how many message ids of receipts cost about
	// as much as one send: a cycle takes receipts naming up to MaxBatch ×
	// this many ids.
	receiptIDsPerSend = 8
	// maxChangesPerCycle bounds membership changes per cycle (each reads
	// and writes a group's members).
	maxChangesPerCycle = 8
	// MaxExpiryPerCycle bounds the messages one cycle deletes: Expire
	// deletes more in as many cycles as it takes.
	MaxExpiryPerCycle = 256
)

// Observer is told what the committer does, for metrics.
type Observer interface {
	// Committed is one commit cycle: the messages it stored, its sends
	// (0 for a cycle of receipts or changes alone) and its duration.
	Committed(messages, batch int, d time.Duration)
	// SendLatency is the time from Submit to commit of one message.
	SendLatency(d time.Duration)
	// Receipts counts receipt frames committed; StatusChanges the
	// per-message changes they caused ("delivered" or "read").
	Receipts(n int)
	StatusChanges(status string, n int)
}

// Notifier is told of each message a send stored, after its commit and
// its publishing, from the committer's publishing goroutine: it must not
// block or do I/O, only hand the message on (push queues it, and drops it
// when its queue is full). Duplicates are not told again.
type Notifier interface {
	Stored(m Message, members []string)
}

// Committer is a node's one writer of conversation logs and receipt
// state: sends, receipts, other domains' changes that write system
// messages, and expiries are all operations it commits in cycles, one
// transaction and one fsync per cycle, and only then acknowledges and
// publishes, encoding each event once.
type Committer struct {
	store Store
	pub   Publisher
	clock clock.Clock
	cfg   Config
	log   *slog.Logger
	obs   Observer
	// Media, if set before Run, erases the media of messages deleted for
	// everyone.
	Media MediaEraser
	// Notifier, if set before Run, is told of each message a send
	// stored (web push, for devices not connected).
	Notifier Notifier

	mu      sync.RWMutex // guards closed against Submit/Close races
	closed  bool
	sends   chan *sendJob
	rcpts   chan *rcptJob
	updates chan *updateJob
	ops     chan *opJob
	stop    chan struct{}
	stopped chan struct{}
}

type sendJob struct {
	msg      Message
	enqueued time.Time
	done     func(AppendResult)
}

type rcptJob struct {
	req  ReceiptRequest
	done func(error)
}

// opJob is a change of another domain or an expiry.
type opJob struct {
	change func(conversations.Tx) error
	expire *Expiry
	done   chan opResult
}

type opResult struct {
	change  ChangeResult
	expired Expired
	changes int
	err     error
}

// NewCommitter returns a committer; Run must be called to start it.
func NewCommitter(s Store, pub Publisher, clk clock.Clock, cfg Config, log *slog.Logger, obs Observer) *Committer {
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 256
	}
	if cfg.QueueSize < 1 {
		cfg.QueueSize = 4096
	}
	return &Committer{
		store: s, pub: pub, clock: clk, cfg: cfg, log: log, obs: obs,
		sends:   make(chan *sendJob, cfg.QueueSize),
		rcpts:   make(chan *rcptJob, cfg.QueueSize),
		updates: make(chan *updateJob, cfg.QueueSize),
		ops:     make(chan *opJob, 64),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Run runs the committer until Close, then finishes every accepted job.
func (s *Committer) Run(ctx context.Context) error {
	defer close(s.stopped)
	s.commitLoop(ctx)
	return nil
}

// Close stops accepting work; Run returns once the accepted work is done.
func (s *Committer) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
}

// Wait blocks until Run has returned.
func (s *Committer) Wait() { <-s.stopped }

// Submit queues a message for the next group commit. done is called once,
// from the committer, after the commit (or its failure); it must not block.
// Messages submitted in order by one caller are sequenced in that order.
func (s *Committer) Submit(ctx context.Context, m Message, done func(AppendResult)) error {
	return enqueue(ctx, s, s.sends, &sendJob{msg: m, enqueued: time.Now(), done: done})
}

// enqueue hands a job to the committer unless it is closed or ctx ends
// first. The read lock keeps Close from closing stop between the check
// and the send, so nothing is accepted that the drain would miss.
func enqueue[J any](ctx context.Context, s *Committer, ch chan<- J, j J) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrShuttingDown
	}
	select {
	case ch <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QueueDepth is how many sends wait for the committer.
func (s *Committer) QueueDepth() int { return len(s.sends) }

// ReceiptQueueDepth is how many delivery and read receipts wait for the
// committer: a queue of their own, beside the sends'.
func (s *Committer) ReceiptQueueDepth() int { return len(s.rcpts) }

// Send submits a message and waits for its commit.
func (s *Committer) Send(ctx context.Context, m Message) (AppendResult, error) {
	ch := make(chan AppendResult, 1)
	if err := s.Submit(ctx, m, func(r AppendResult) { ch <- r }); err != nil {
		return AppendResult{}, err
	}
	select {
	case r := <-ch:
		return r, r.Err
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
}

// SubmitReceipt queues a delivery_ack or read_receipt; done is called after
// its commit with nil or the reason it was refused.
func (s *Committer) SubmitReceipt(ctx context.Context, r ReceiptRequest, done func(error)) error {
	return enqueue(ctx, s, s.rcpts, &rcptJob{req: r, done: done})
}

// Receipt submits a receipt and waits for its commit.
func (s *Committer) Receipt(ctx context.Context, r ReceiptRequest) error {
	return waitDone(ctx, func(done func(error)) error { return s.SubmitReceipt(ctx, r, done) })
}

// waitDone submits a job whose outcome is an error and waits for it (or
// for ctx).
func waitDone(ctx context.Context, submit func(done func(error)) error) error {
	ch := make(chan error, 1)
	if err := submit(func(err error) { ch <- err }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update implements conversations.TxStore: the change runs in the next
// commit cycle, wholly or not at all, and the system messages it appends
// are sequenced and published with the cycle's sends. Once submitted, the
// change is committed or refused even if ctx ends meanwhile.
func (s *Committer) Update(ctx context.Context, fn func(conversations.Tx) error) error {
	r, err := s.submitOp(ctx, &opJob{change: fn})
	if err != nil {
		return err
	}
	return r.change.Err
}

// Expire deletes up to limit messages created before cutoff, in cycles of
// at most MaxExpiryPerCycle, and tells their senders which recipients
// never got them. It returns what it deleted and how many "expired"
// statuses it sent.
func (s *Committer) Expire(ctx context.Context, cutoff, now time.Time, limit int) (deleted int, bytes int64, statuses int, err error) {
	for deleted < limit {
		n := min(limit-deleted, MaxExpiryPerCycle)
		r, err := s.submitOp(ctx, &opJob{expire: &Expiry{Cutoff: cutoff, Now: now, Limit: n}})
		if err != nil {
			return deleted, bytes, statuses, err
		}
		deleted, bytes, statuses = deleted+r.expired.Messages, bytes+r.expired.Bytes, statuses+r.changes
		// Here, on the caller's goroutine (the retention job's), not the
		// publisher's: a disappeared message's media is gone when the
		// pass returns.
		for _, id := range r.expired.Media {
			if s.Media == nil {
				break
			}
			if err := s.Media.EraseUnused(context.WithoutCancel(ctx), id); err != nil {
				s.log.Warn("erase a disappeared message's media", "media_id", id, "err", err)
			}
		}
		if r.expired.Messages < n {
			break
		}
	}
	return deleted, bytes, statuses, nil
}

func (s *Committer) submitOp(ctx context.Context, j *opJob) (opResult, error) {
	j.done = make(chan opResult, 1)
	if err := enqueue(ctx, s, s.ops, j); err != nil {
		return opResult{}, err
	}
	// Accepted: wait for the outcome whatever ctx does, so a caller never
	// reports failure for a change that then commits.
	r := <-j.done
	return r, r.err
}

// cycle is the work of one commit.
type cycle struct {
	sends []*sendJob
	rcpts []*rcptJob
	upds  []*updateJob
	ids   int // message ids the receipts name
	ops   []*opJob
	// expire is the index in ops of the cycle's one expiry, or -1.
	expire int
}

func (c *cycle) reset() {
	c.sends, c.rcpts, c.upds, c.ops, c.ids, c.expire = c.sends[:0], c.rcpts[:0], c.upds[:0], c.ops[:0], 0, -1
}

func (c *cycle) addSend(j *sendJob) { c.sends = append(c.sends, j) }

func (c *cycle) addUpdate(j *updateJob) { c.upds = append(c.upds, j) }

func (c *cycle) addReceipt(j *rcptJob) {
	c.rcpts, c.ids = append(c.rcpts, j), c.ids+len(j.req.MessageIDs)
}

// first waits for a cycle's first job. After Close it takes what was
// accepted without waiting, and reports false once nothing is left.
func (s *Committer) first(c *cycle) bool {
	select {
	case j := <-s.sends:
		c.addSend(j)
	case j := <-s.rcpts:
		c.addReceipt(j)
	case j := <-s.updates:
		c.addUpdate(j)
	case j := <-s.ops:
		c.takeOp(j)
	case <-s.stop:
		// Jobs first: a closed stop would win the select above at random.
		select {
		case j := <-s.sends:
			c.addSend(j)
		case j := <-s.rcpts:
			c.addReceipt(j)
		case j := <-s.updates:
			c.addUpdate(j)
		case j := <-s.ops:
			c.takeOp(j)
		default:
			return false
		}
	}
	return true
}

func (c *cycle) empty() bool {
	return len(c.sends) == 0 && len(c.rcpts) == 0 && len(c.upds) == 0 && len(c.ops) == 0
}

// takeOp adds j unless the cycle has no room for its kind; it reports
// whether it did.
func (c *cycle) takeOp(j *opJob) bool {
	if j.expire != nil {
		if c.expire >= 0 {
			return false
		}
		c.expire = len(c.ops)
	} else if len(c.ops)-boolInt(c.expire >= 0) >= maxChangesPerCycle {
		return false
	}
	c.ops = append(c.ops, j)
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// commitLoop is the group committer: it takes whatever work is queued, up
// to a cycle's bounds, commits it in one transaction — one fsync — and
// only then acks and publishes it, in order. While one cycle commits the
// next one queues up, so the fsync is shared by everything that arrived
// meanwhile. After stop it drains what was accepted, then returns.
func (s *Committer) commitLoop(ctx context.Context) {
	// Acks, callbacks and publishing run on their own goroutine, in commit
	// order, while the next cycle commits: the committer is what bounds
	// the rate, so it does nothing a cycle's transaction does not need.
	published := make(chan *committedCycle, 2)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for cc := range published {
			s.publish(ctx, cc)
		}
	}()
	defer func() {
		close(published)
		<-pubDone
	}()
	max := s.cfg.MaxBatch
	var c cycle
	var held *opJob // an op that did not fit the last cycle
	for {
		c.reset()
		if held != nil {
			c.takeOp(held)
			held = nil
		} else if !s.first(&c) {
			return
		}
	fill:
		for held == nil {
			sc, rc, uc := s.sends, s.rcpts, s.updates
			if len(c.sends) >= max {
				sc = nil // full: the rest waits for the next cycle
			}
			if len(c.rcpts) >= max || c.ids >= max*receiptIDsPerSend {
				rc = nil
			}
			if len(c.upds) >= max {
				uc = nil
			}
			select {
			case j := <-sc:
				c.addSend(j)
			case j := <-rc:
				c.addReceipt(j)
			case j := <-uc:
				c.addUpdate(j)
			case j := <-s.ops:
				if !c.takeOp(j) {
					held = j
				}
			default:
				break fill
			}
			if sc == nil && rc == nil && uc == nil && held == nil && len(s.ops) == 0 {
				break
			}
		}
		if !c.empty() {
			published <- s.commit(ctx, &c)
		}
	}
}

// committedCycle is a cycle's jobs and what its commit did, on its way to
// the publisher.
type committedCycle struct {
	sends     []*sendJob
	rcpts     []*rcptJob
	upds      []*updateJob
	ops       []*opJob
	changeIdx []int // op → its index in res.Changes, -1 for the expiry
	res       Committed
	err       error
	took      time.Duration
}

// commit commits a cycle; the publisher then tells everyone.
func (s *Committer) commit(ctx context.Context, c *cycle) *committedCycle {
	start := time.Now()
	now := s.clock.Now()
	b := Batch{Sends: make([]Message, len(c.sends)), Receipts: make([]ReceiptRequest, len(c.rcpts))}
	for i, j := range c.sends {
		m := j.msg
		// Ids and times are assigned here, in commit order, so ids sort
		// like sequence numbers on one node.
		m.ID = ulid.Make().String()
		m.CreatedAt = now
		b.Sends[i] = m
	}
	for i, j := range c.rcpts {
		b.Receipts[i] = j.req
		b.Receipts[i].At = now
	}
	if len(c.upds) > 0 {
		b.Updates = make([]UpdateRequest, len(c.upds))
		for i, j := range c.upds {
			b.Updates[i] = j.req
			b.Updates[i].At = now
		}
	}
	changeIdx := make([]int, len(c.ops)) // op → its index in b.Changes, -1 for the expiry
	for i, j := range c.ops {
		changeIdx[i] = -1
		if j.change != nil {
			changeIdx[i] = len(b.Changes)
			b.Changes = append(b.Changes, j.change)
		} else {
			b.Expire = j.expire
		}
	}
	// The commit must not be cut short by a shutdown: once accepted, a
	// job is committed or reported failed, never left in between.
	res, err := s.store.Commit(context.WithoutCancel(ctx), b)
	if err != nil {
		s.log.Error("group commit", "err", err, "sends", len(c.sends), "receipts", len(c.rcpts), "ops", len(c.ops))
		err = fmt.Errorf("commit: %w", err)
	}
	// The cycle's slices are reused by the next one: the publisher gets
	// its own.
	return &committedCycle{
		sends: slices.Clone(c.sends), rcpts: slices.Clone(c.rcpts), upds: slices.Clone(c.upds), ops: slices.Clone(c.ops),
		changeIdx: changeIdx, res: res, err: err, took: time.Since(start),
	}
}

// publish acks, calls back and publishes one committed cycle.
func (s *Committer) publish(ctx context.Context, cc *committedCycle) {
	if cc.err != nil {
		for _, j := range cc.sends {
			j.done(AppendResult{Err: cc.err})
		}
		for _, j := range cc.rcpts {
			j.done(cc.err)
		}
		for _, j := range cc.upds {
			j.done(UpdateResult{Err: cc.err})
		}
		for _, j := range cc.ops {
			j.done <- opResult{err: cc.err}
		}
		return
	}
	res := cc.res
	// Published in log order: the changes' system messages came first.
	for _, r := range res.Changes {
		for _, m := range r.Messages {
			s.publishMessage(ctx, m)
		}
	}
	stored := 0
	for i, j := range cc.sends {
		r := res.Sends[i]
		if r.Err == nil {
			if !r.Duplicate {
				stored++
			}
			// A duplicate is published again: its sender resends because
			// it had no ack, and the node that stored it may have died
			// before publishing it. Connections drop what they already have.
			s.publishMessage(ctx, r)
			if r.NewContact != "" {
				s.pub.Publish(ctx, []string{r.Message.SenderID, r.NewContact}, bus.Contact(r.Message.SenderID, r.NewContact))
			}
			if !r.Duplicate && s.Notifier != nil {
				s.Notifier.Stored(r.Message, r.Members)
			}
		}
		j.done(r)
	}
	s.publishStatuses(ctx, res.Statuses)
	for i, j := range cc.rcpts {
		j.done(res.Refused[i])
	}
	s.publishUpdates(ctx, res.Updates)
	for i, j := range cc.upds {
		j.done(res.Updates[i])
		if m := res.Updates[i].Media; m != "" {
			s.eraseMedia(ctx, []string{m})
		}
	}
	expired := 0
	for _, st := range res.Statuses {
		if st.Status == wire.StatusExpired {
			expired++
		}
	}
	for i, j := range cc.ops {
		if cc.changeIdx[i] >= 0 {
			j.done <- opResult{change: res.Changes[cc.changeIdx[i]]}
		} else {
			j.done <- opResult{expired: res.Expired, changes: expired}
		}
	}
	if s.obs == nil {
		return
	}
	end := time.Now()
	// Every cycle counts in the commit-time histogram: a cycle of
	// receipts alone delays the sends queued behind it as much.
	s.obs.Committed(stored, len(cc.sends), cc.took)
	for _, j := range cc.sends {
		s.obs.SendLatency(end.Sub(j.enqueued))
	}
	if len(cc.rcpts) > 0 {
		s.obs.Receipts(len(cc.rcpts))
	}
	counts := map[string]int{}
	for _, st := range res.Statuses {
		counts[st.Status]++
	}
	for st, n := range counts {
		s.obs.StatusChanges(st, n)
	}
}

// eraseMedia erases, off the publishing path (deleting objects may take a
// while), the media of messages a commit deleted for everyone. Best
// effort: the media's own expiry deletes what is left.
func (s *Committer) eraseMedia(ctx context.Context, ids []string) {
	if len(ids) == 0 || s.Media == nil {
		return
	}
	go func() {
		for _, id := range ids {
			if err := s.Media.EraseUnused(context.WithoutCancel(ctx), id); err != nil {
				s.log.Warn("erase a deleted message's media", "media_id", id, "err", err)
			}
		}
	}()
}

// publishStatuses tells senders about changes: one bus event per receipt
// event, carrying all its frames, so that a connection can tell a lost
// event (its number skipped) and read it from the store. Changes come
// grouped by sender and event.
func (s *Committer) publishStatuses(ctx context.Context, changes []StatusChange) {
	for i := 0; i < len(changes); {
		c := changes[i]
		ev := &bus.Event{Kind: bus.KindStatus, ConversationID: c.ConversationID, ReceiptID: c.EventID}
		for ; i < len(changes) && changes[i].SenderID == c.SenderID && changes[i].EventID == c.EventID; i++ {
			ev.Statuses = append(ev.Statuses, StatusFrame(changes[i]))
		}
		s.pub.Publish(ctx, []string{c.SenderID}, ev)
	}
}

func (s *Committer) publishMessage(ctx context.Context, r AppendResult) {
	m := r.Message
	frame := ToFrame(m)
	s.pub.Publish(ctx, r.Members, &bus.Event{
		Kind: bus.KindMessage, ConversationID: m.ConversationID, Seq: m.Seq,
		SenderDevice: m.SenderDevice, Message: &frame, Committed: m.CreatedAt,
	})
}
