package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/protocol"
	"github.com/parleychat/parley/internal/store"
)

// Config tunes the service.
type Config struct {
	// Retention is how long messages are kept and delivered.
	Retention time.Duration
	// MaxBatch bounds how many sends (or receipts) share one transaction.
	MaxBatch int
	// QueueSize bounds sends waiting for the committer; Submit blocks past
	// it, which pushes back on the connections' readers.
	QueueSize int
}

// Observer is told what the service does, for metrics.
type Observer interface {
	Committed(messages, batch int, d time.Duration)
	// SendLatency is the time from Submit to commit of one message.
	SendLatency(d time.Duration)
	// Receipts counts receipt frames committed; StatusChanges the
	// per-message changes they caused ("delivered" or "read").
	Receipts(n int)
	StatusChanges(status string, n int)
}

// Service runs the send and receipt paths.
type Service struct {
	store   Store
	pub     Publisher
	members Members
	clock   clock.Clock
	cfg     Config
	log     *slog.Logger
	obs     Observer

	mu      sync.RWMutex // guards closed against Submit/Close races
	closed  bool
	sends   chan *sendJob
	rcpts   chan *rcptJob
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

// NewService returns a messaging service; Run must be called to start its
// committer.
func NewService(s Store, pub Publisher, members Members, clk clock.Clock, cfg Config, log *slog.Logger, obs Observer) *Service {
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 256
	}
	if cfg.QueueSize < 1 {
		cfg.QueueSize = 4096
	}
	return &Service{
		store: s, pub: pub, members: members, clock: clk, cfg: cfg, log: log, obs: obs,
		sends:   make(chan *sendJob, cfg.QueueSize),
		rcpts:   make(chan *rcptJob, cfg.QueueSize),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Run runs the committer until Close, then finishes every accepted job.
func (s *Service) Run(ctx context.Context) error {
	defer close(s.stopped)
	s.commitLoop(ctx)
	return nil
}

// Close stops accepting work; Run returns once the accepted work is done.
func (s *Service) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
}

// Wait blocks until Run has returned.
func (s *Service) Wait() { <-s.stopped }

// Submit queues a message for the next group commit. done is called once,
// from the committer, after the commit (or its failure); it must not block.
// Messages submitted in order by one caller are sequenced in that order.
func (s *Service) Submit(ctx context.Context, m Message, done func(AppendResult)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrShuttingDown
	}
	select {
	case s.sends <- &sendJob{msg: m, enqueued: time.Now(), done: done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QueueDepth is how many sends wait for the committer.
func (s *Service) QueueDepth() int { return len(s.sends) }

// Send submits a message and waits for its commit.
func (s *Service) Send(ctx context.Context, m Message) (AppendResult, error) {
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
func (s *Service) SubmitReceipt(ctx context.Context, r ReceiptRequest, done func(error)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrShuttingDown
	}
	select {
	case s.rcpts <- &rcptJob{req: r, done: done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receipt submits a receipt and waits for its commit.
func (s *Service) Receipt(ctx context.Context, r ReceiptRequest) error {
	ch := make(chan error, 1)
	if err := s.SubmitReceipt(ctx, r, func(err error) { ch <- err }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop is the group committer: it takes whatever sends and
// receipts are queued (up to MaxBatch of each), commits them in one
// transaction — one fsync — and only then acks and publishes them, in
// order. While one batch commits the next one queues up, so the fsync is
// shared by everything that arrived meanwhile. After stop it drains what
// was accepted, then returns.
func (s *Service) commitLoop(ctx context.Context) {
	max := s.cfg.MaxBatch
	sends := make([]*sendJob, 0, max)
	rcpts := make([]*rcptJob, 0, max)
	for {
		sends, rcpts = sends[:0], rcpts[:0]
		select {
		case j := <-s.sends:
			sends = append(sends, j)
		case j := <-s.rcpts:
			rcpts = append(rcpts, j)
		case <-s.stop:
			select {
			case j := <-s.sends:
				sends = append(sends, j)
			case j := <-s.rcpts:
				rcpts = append(rcpts, j)
			default:
				return
			}
		}
	fill:
		for {
			sc, rc := s.sends, s.rcpts
			if len(sends) >= max {
				sc = nil // full: the rest waits for the next batch
			}
			if len(rcpts) >= max {
				rc = nil
			}
			if sc == nil && rc == nil {
				break
			}
			select {
			case j := <-sc:
				sends = append(sends, j)
			case j := <-rc:
				rcpts = append(rcpts, j)
			default:
				break fill
			}
		}
		s.commit(ctx, sends, rcpts)
	}
}

func (s *Service) commit(ctx context.Context, sends []*sendJob, rcpts []*rcptJob) {
	start := time.Now()
	now := s.clock.Now()
	msgs := make([]Message, len(sends))
	for i, j := range sends {
		m := j.msg
		// Ids and times are assigned here, in commit order, so ids sort
		// like sequence numbers on one node.
		m.ID = ulid.Make().String()
		m.CreatedAt = now
		msgs[i] = m
	}
	reqs := make([]ReceiptRequest, len(rcpts))
	for i, j := range rcpts {
		reqs[i] = j.req
		reqs[i].At = now
	}
	// The commit must not be cut short by a shutdown: once accepted, a
	// job is committed or reported failed, never left in between.
	res, err := s.store.Commit(context.WithoutCancel(ctx), msgs, reqs)
	if err != nil {
		s.log.Error("group commit", "err", err, "sends", len(sends), "receipts", len(rcpts))
		for _, j := range sends {
			j.done(AppendResult{Err: fmt.Errorf("commit: %w", err)})
		}
		for _, j := range rcpts {
			j.done(fmt.Errorf("commit: %w", err))
		}
		return
	}
	stored := 0
	for i, j := range sends {
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
		}
		j.done(r)
	}
	counts := map[string]int{}
	for i, j := range rcpts {
		for _, c := range res.Changes[i] {
			counts[c.Status]++
		}
		s.publishStatuses(ctx, res.Changes[i])
		j.done(res.Refused[i])
	}
	if s.obs == nil {
		return
	}
	end := time.Now()
	if len(sends) > 0 {
		s.obs.Committed(stored, len(sends), end.Sub(start))
		for _, j := range sends {
			s.obs.SendLatency(end.Sub(j.enqueued))
		}
	}
	if len(rcpts) > 0 {
		s.obs.Receipts(len(rcpts))
		for st, n := range counts {
			s.obs.StatusChanges(st, n)
		}
	}
}

// publishStatuses tells senders about changes: one bus event per receipt
// event, carrying all its frames, so that a connection can tell a lost
// event (its number skipped) and read it from the store.
func (s *Service) publishStatuses(ctx context.Context, changes []StatusChange) {
	type key struct {
		sender string
		event  int64
	}
	events := map[key]*bus.Event{}
	var order []key
	for _, c := range changes {
		k := key{c.SenderID, c.EventID}
		ev := events[k]
		if ev == nil {
			ev = &bus.Event{Kind: bus.KindStatus, ConversationID: c.ConversationID, ReceiptID: c.EventID}
			events[k] = ev
			order = append(order, k)
		}
		ev.Frames = append(ev.Frames, protocol.Encode(StatusFrame(c)))
	}
	for _, k := range order {
		s.pub.Publish(ctx, []string{k.sender}, events[k])
	}
}

func (s *Service) publishMessage(ctx context.Context, r AppendResult) {
	m := r.Message
	frame := protocol.Encode(ToFrame(m))
	s.pub.Publish(ctx, r.Members, &bus.Event{
		Kind: bus.KindMessage, ConversationID: m.ConversationID, Seq: m.Seq,
		SenderDevice: m.SenderDevice, Frame: frame,
	})
}

// ToFrame renders a stored message as a wire frame.
func ToFrame(m Message) protocol.Message {
	return protocol.Message{
		Type: protocol.TypeMessage, MessageID: m.ID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		SequenceNumber: m.Seq, MessageType: m.Type, Content: m.Content, MediaID: m.MediaID,
		CreatedAt: clock.Millis(m.CreatedAt),
	}
}

// StatusFrame renders a status change as a wire frame.
func StatusFrame(c StatusChange) protocol.Status {
	return protocol.Status{
		Type: protocol.TypeStatus, MessageID: c.MessageID, ConversationID: c.ConversationID,
		UserID: c.RecipientID, Status: c.Status, Timestamp: clock.Millis(c.At),
	}
}

// History returns a page of a conversation's messages for a member.
func (s *Service) History(ctx context.Context, userID, conversationID string, q HistoryQuery) ([]Message, error) {
	m, err := s.members.CheckMember(ctx, conversationID, userID)
	if err != nil {
		return nil, err
	}
	q.MinSeq = m.JoinedSeq
	q.NotBefore = s.notBefore()
	msgs, err := s.store.History(ctx, conversationID, q)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return msgs, nil
}

// MessageStatus returns every recipient's state of a message; sender only.
func (s *Service) MessageStatus(ctx context.Context, userID, messageID string) (Message, []RecipientStatus, error) {
	m, err := s.store.MessageByID(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.CreatedAt.Before(s.notBefore())) {
		return Message{}, nil, ErrMessageNotFound
	}
	if err != nil {
		return Message{}, nil, fmt.Errorf("load message: %w", err)
	}
	if m.SenderID != userID {
		// Members learn that it exists but not its receipts; others learn
		// nothing at all.
		if _, err := s.members.CheckMember(ctx, m.ConversationID, userID); err != nil {
			return Message{}, nil, ErrMessageNotFound
		}
		return Message{}, nil, ErrNotSender
	}
	st, err := s.store.Statuses(ctx, m)
	if err != nil {
		return Message{}, nil, fmt.Errorf("statuses: %w", err)
	}
	return m, st, nil
}

// Aggregate is a message's state across its recipients: the least
// advanced of them (a group's double tick needs every member), "sent" when
// it has none.
func Aggregate(st []RecipientStatus) string {
	if len(st) == 0 {
		return protocol.StatusSent
	}
	rank := map[string]int{protocol.StatusSent: 0, protocol.StatusDelivered: 1, protocol.StatusRead: 2}
	least := protocol.StatusRead
	for _, r := range st {
		if rank[r.Status] < rank[least] {
			least = r.Status
		}
	}
	return least
}

// Pending returns a page of the device's offline queue.
func (s *Service) Pending(ctx context.Context, deviceID string, cur PendingCursor, limit int) ([]Message, error) {
	return s.store.Pending(ctx, deviceID, cur, limit, s.notBefore())
}

// Range returns the messages a user's connection missed between two
// sequence numbers of a conversation.
func (s *Service) Range(ctx context.Context, userID, conversationID string, afterSeq, beforeSeq int64) ([]Message, error) {
	return s.store.Range(ctx, userID, conversationID, afterSeq, beforeSeq, s.notBefore())
}

// DeviceCursor returns the device's acknowledged position in a conversation.
func (s *Service) DeviceCursor(ctx context.Context, deviceID, conversationID string) (int64, error) {
	return s.store.DeviceCursor(ctx, deviceID, conversationID)
}

// StatusesSince returns receipt changes the device has not been told yet.
func (s *Service) StatusesSince(ctx context.Context, userID string, afterEventID int64, limit int) ([]StatusChange, error) {
	return s.store.StatusesSince(ctx, userID, afterEventID, limit)
}

// ReceiptCursor returns the last receipt event the device was told about.
func (s *Service) ReceiptCursor(ctx context.Context, deviceID string) (int64, error) {
	return s.store.ReceiptCursor(ctx, deviceID)
}

// SetReceiptCursor records the last receipt event the device was told about.
func (s *Service) SetReceiptCursor(ctx context.Context, deviceID string, eventID int64) error {
	return s.store.SetReceiptCursor(ctx, deviceID, eventID)
}

func (s *Service) notBefore() time.Time { return s.clock.Now().Add(-s.cfg.Retention) }
