package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// pageSize is how many pending events one read returns.
const pageSize = 100

// maxReceiptIDs bounds the message ids of one delivery receipt, as a
// client's delivery_ack is bounded.
const maxReceiptIDs = 100

// hookState is what this node knows of a bot's endpoint between runs.
// Guarded by Service.mu; one run per bot at a time.
type hookState struct {
	running, again bool
	// fails counts consecutive failed requests; at BreakerAfter the
	// circuit opens until openUntil, the opens-th time since the last
	// success (the wait doubles each time).
	fails     int
	opens     int
	openUntil time.Time
	// retries are the conversations whose head event failed: nothing
	// more of them is sent before nextAt, so they stay in order.
	retries map[string]retry
	timer   clock.Timer
}

type retry struct {
	eventID string
	nextAt  time.Time
}

// wakeLocked starts a run for bot, or asks the running one to go again
// when it ends. An open circuit is left alone: its timer wakes it.
func (s *Service) wakeLocked(bot string) {
	h := s.hooks[bot]
	if h == nil {
		h = &hookState{retries: map[string]retry{}}
		s.hooks[bot] = h
	}
	if h.running {
		h.again = true
		return
	}
	if s.clock.Now().Before(h.openUntil) {
		return
	}
	h.running = true
	if s.busy == 0 {
		s.idle = make(chan struct{})
	}
	s.busy++
	s.runs.Add(1)
	go s.run(s.ctx, bot, h)
}

// run delivers bot's events, once more each time it was woken meanwhile.
func (s *Service) run(ctx context.Context, bot string, h *hookState) {
	defer s.runs.Done()
	for {
		select {
		case s.sem <- struct{}{}:
			s.deliverAll(ctx, bot, h)
			<-s.sem
		case <-ctx.Done():
		}
		s.mu.Lock()
		if h.again && ctx.Err() == nil {
			h.again = false
			s.mu.Unlock()
			continue
		}
		h.running = false
		// Armed before the run counts as done: Settled's caller may move
		// the clock the moment it returns.
		s.arm(bot, h)
		s.busy--
		if s.busy == 0 {
			close(s.idle)
		}
		s.mu.Unlock()
		return
	}
}

// arm sets h's timer to wake bot at its earliest retry or probe.
func (s *Service) arm(bot string, h *hookState) {
	// While the circuit is open nothing is tried, so the probe is the
	// next thing due whatever retries fall before it.
	var at time.Time
	if h.openUntil.After(s.clock.Now()) {
		at = h.openUntil
	} else {
		for _, r := range h.retries {
			if at.IsZero() || r.nextAt.Before(at) {
				at = r.nextAt
			}
		}
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if at.IsZero() || s.ctx == nil || s.ctx.Err() != nil {
		return
	}
	h.timer = s.clock.AfterFunc(max(at.Sub(s.clock.Now()), 0), func() { s.Wake(bot) })
}

// pass is one run's progress through a bot's pending events.
type pass struct {
	s    *Service
	hook Hook
	h    *hookState
	// messages and updates are the cursors to save; receipts the
	// messages accepted, for their senders.
	messages, updates map[string]int64
	receipts          []string
	// blocked are the conversations that must wait: an event of theirs
	// failed in this run or waits for its retry.
	blocked map[string]bool
}

// deliverAll sends bot's pending messages, then its pending update events,
// while the lease is this node's.
func (s *Service) deliverAll(ctx context.Context, bot string, h *hookState) {
	now := s.clock.Now()
	hook, ok, err := s.store.LeaseWebhook(ctx, bot, s.cfg.Node, now, now.Add(s.cfg.Lease))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook: lease", "bot_id", bot, "err", err)
		}
		return
	}
	if !ok {
		return // another node delivers this bot's events now
	}
	p := &pass{s: s, hook: hook, h: h, messages: map[string]int64{}, updates: map[string]int64{}, blocked: map[string]bool{}}
	stopped := p.sendMessages(ctx) || p.sendUpdates(ctx)
	p.flush(ctx)
	s.mu.Lock()
	idle := len(h.retries) == 0 && !stopped
	s.mu.Unlock()
	// Nothing left to retry here: the node of the next commit may take
	// the bot's deliveries at once.
	if idle && ctx.Err() == nil {
		if err := s.store.ReleaseWebhook(ctx, bot, s.cfg.Node); err != nil {
			s.log.Warn("webhook: release", "bot_id", bot, "err", err)
		}
	}
}

// outcome of one event.
type outcome int

const (
	sent    outcome = iota // accepted, or passed (not for the bot, parked)
	failed                 // its conversation waits
	stopped                // the circuit opened or the node stops: end the run
)

// sendMessages goes through the pending messages; true if the run must
// stop.
func (p *pass) sendMessages(ctx context.Context) bool {
	var pos Position
	for {
		page, err := p.s.store.WebhookMessages(ctx, p.hook.BotID, pos, pageSize, p.s.window())
		if err != nil {
			p.s.warn(ctx, "webhook: read messages", p.hook.BotID, err)
			return true
		}
		for _, m := range page {
			pos = Position{m.ConversationID, m.Seq}
			if p.waits(m.ConversationID) {
				continue
			}
			if m.Deliver {
				ev := event{id: "msg_" + m.ID, typ: wire.TypeMessage, conv: m.ConversationID, at: m.CreatedAt,
					data: wire.Encode(messaging.ToFrame(m.Message))}
				switch p.send(ctx, ev) {
				case failed:
					continue
				case stopped:
					return true
				}
				if m.Type != conversations.MessageTypeSystem {
					p.receipts = append(p.receipts, m.ID)
				}
			}
			p.messages[m.ConversationID] = m.Seq
		}
		if len(page) < pageSize {
			return false
		}
		p.flush(ctx)
	}
}

// sendUpdates goes through the pending update events, after the messages:
// a change is never told before the message it changes.
func (p *pass) sendUpdates(ctx context.Context) bool {
	var pos Position
	for {
		page, err := p.s.store.WebhookUpdates(ctx, p.hook.BotID, pos, pageSize, p.s.window())
		if err != nil {
			p.s.warn(ctx, "webhook: read updates", p.hook.BotID, err)
			return true
		}
		for _, u := range page {
			pos = Position{u.ConversationID, u.EventID}
			if p.waits(u.ConversationID) {
				continue
			}
			if u.Deliver {
				ev := event{id: "upd_" + u.ConversationID + "_" + strconv.FormatInt(u.EventID, 10), typ: updateType(u.Kind),
					conv: u.ConversationID, at: u.At, data: wire.Encode(messaging.UpdateFrame(u.Update))}
				switch p.send(ctx, ev) {
				case failed:
					continue
				case stopped:
					return true
				}
			}
			p.updates[u.ConversationID] = u.EventID
		}
		if len(page) < pageSize {
			return false
		}
		p.flush(ctx)
	}
}

// updateType is the frame type of an update kind.
func updateType(kind string) string {
	switch kind {
	case messaging.UpdateReaction:
		return wire.TypeReaction
	case messaging.UpdateEdit:
		return wire.TypeMessageEdited
	}
	return wire.TypeMessageDeleted
}

// waits says whether conv's events must wait: one failed in this run, or
// its retry is not due.
func (p *pass) waits(conv string) bool {
	if p.blocked[conv] {
		return true
	}
	p.s.mu.Lock()
	r, ok := p.h.retries[conv]
	p.s.mu.Unlock()
	if ok && r.nextAt.After(p.s.clock.Now()) {
		p.blocked[conv] = true
		return true
	}
	return false
}

// flush saves the cursors moved and hands in the receipts, and renews
// the lease: what was accepted is not sent again after a restart (at
// worst the page in flight is).
func (p *pass) flush(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if len(p.messages) > 0 || len(p.updates) > 0 {
		if err := p.s.store.AdvanceWebhook(ctx, p.hook.BotID, p.messages, p.updates); err != nil {
			p.s.log.Warn("webhook: save cursors", "bot_id", p.hook.BotID, "err", err)
			return
		}
		p.messages, p.updates = map[string]int64{}, map[string]int64{}
	}
	for len(p.receipts) > 0 && p.s.rcpts != nil {
		ids := p.receipts[:min(len(p.receipts), maxReceiptIDs)]
		p.receipts = p.receipts[len(ids):]
		r := messaging.ReceiptRequest{UserID: p.hook.BotID, Status: wire.StatusDelivered, MessageIDs: ids, At: p.s.clock.Now()}
		bot := p.hook.BotID
		if err := p.s.rcpts.SubmitReceipt(ctx, r, func(err error) {
			if err != nil {
				p.s.log.Info("webhook: delivery receipt refused", "bot_id", bot, "err", err)
			}
		}); err != nil {
			p.s.log.Warn("webhook: delivery receipt", "bot_id", bot, "err", err)
		}
	}
	now := p.s.clock.Now()
	if _, _, err := p.s.store.LeaseWebhook(ctx, p.hook.BotID, p.s.cfg.Node, now, now.Add(p.s.cfg.Lease)); err != nil {
		p.s.log.Warn("webhook: renew lease", "bot_id", p.hook.BotID, "err", err)
	}
}

// event is one request's content.
type event struct {
	id, typ, conv string
	at            time.Time
	data          []byte
}

// send POSTs ev and decides what its answer means for the run.
func (p *pass) send(ctx context.Context, ev event) outcome {
	s, h := p.s, p.h
	body := wire.Encode(wire.WebhookEvent{ID: ev.id, Type: ev.typ, BotID: p.hook.BotID, ConversationID: ev.conv,
		CreatedAt: clock.Millis(ev.at), Data: ev.data})
	status, err := s.post(ctx, p.hook, ev, body)
	now := s.clock.Now()
	if ctx.Err() != nil {
		return stopped
	}
	if err == nil && status >= 200 && status < 300 {
		s.mu.Lock()
		h.fails, h.opens, h.openUntil = 0, 0, time.Time{}
		r, retried := h.retries[ev.conv]
		delete(h.retries, ev.conv)
		s.mu.Unlock()
		if retried && r.eventID == ev.id {
			s.settle(ctx, p.hook.BotID, ev.id, StatusDelivered, now)
		}
		s.count("delivered")
		return sent
	}
	d := Delivery{EventID: ev.id, ConversationID: ev.conv, Type: ev.typ, Status: StatusRetrying, LastAttemptAt: now, LastStatus: status}
	if err != nil {
		d.LastError = err.Error()
	} else {
		d.LastError = http.StatusText(status)
	}
	s.count("failed")
	attempts, first, rerr := s.store.RecordAttempt(context.WithoutCancel(ctx), p.hook.BotID, d)
	if rerr != nil {
		s.log.Warn("webhook: record attempt", "bot_id", p.hook.BotID, "err", rerr)
		attempts, first = 1, now
	}
	if now.Sub(first) >= s.cfg.RetryFor {
		// Parked: its conversation goes on without it; the owner sees it
		// in the deliveries.
		s.mu.Lock()
		delete(h.retries, ev.conv)
		s.mu.Unlock()
		s.settle(ctx, p.hook.BotID, ev.id, StatusFailed, now)
		s.count("parked")
		s.log.Info("webhook: event parked", "bot_id", p.hook.BotID, "event_id", ev.id, "attempts", attempts)
		return sent
	}
	p.blocked[ev.conv] = true
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := min(s.cfg.Backoff<<min(attempts-1, 30), s.cfg.MaxBackoff)
	h.retries[ev.conv] = retry{eventID: ev.id, nextAt: now.Add(wait)}
	h.fails++
	if h.fails < s.cfg.BreakerAfter {
		return failed
	}
	wait = min(s.cfg.BreakerWait<<min(h.opens, 30), s.cfg.MaxBackoff)
	h.opens++
	h.openUntil = now.Add(wait)
	s.count("circuit_open")
	s.log.Info("webhook: circuit open", "bot_id", p.hook.BotID, "for", wait.String(), "failures", h.fails)
	return stopped
}

func (s *Service) settle(ctx context.Context, bot, eventID, status string, at time.Time) {
	if err := s.store.SettleDelivery(context.WithoutCancel(ctx), bot, eventID, status, at); err != nil {
		s.log.Warn("webhook: record delivery", "bot_id", bot, "err", err)
	}
}

// post sends one event and returns the endpoint's status.
func (s *Service) post(ctx context.Context, h Hook, ev event, body []byte) (int, error) {
	// Checked again before each request: the operator's rules or the
	// name's addresses may have changed since the URL was set.
	if err := s.guard.Check(ctx, h.URL); err != nil {
		return 0, fmt.Errorf("url refused: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhook/1")
	req.Header.Set("Parley-Event-Id", ev.id)
	req.Header.Set("Parley-Event-Type", ev.typ)
	req.Header.Set("Idempotency-Key", ev.id)
	req.Header.Set("Parley-Signature", Sign(h.Secret, s.clock.Now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *Service) window() messaging.Window {
	if s.Window == nil {
		return messaging.Window{}
	}
	return s.Window()
}

func (s *Service) warn(ctx context.Context, msg, bot string, err error) {
	if ctx.Err() == nil {
		s.log.Warn(msg, "bot_id", bot, "err", err)
	}
}
