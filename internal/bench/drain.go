package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Drain is the offline-queue scenario: a recipient stays offline while
// Messages messages queue up for it (one sender, Window in flight), then
// connects. It measures from the recipient's dial until the last queued
// message has arrived.
type Drain struct {
	Messages     int  `json:"messages"`
	Window       int  `json:"window"`
	ContentBytes int  `json:"content_bytes"`
	Read         bool `json:"read_receipts"`
	AckEvery     Dur  `json:"ack_every_s"`
	AckBatch     int  `json:"ack_batch"`
	// Timeout bounds the drain.
	Timeout Dur `json:"timeout_s"`
	// Generator is GeneratorLean or GeneratorSDK.
	Generator string `json:"generator"`
}

// DefaultDrain returns the drain scenario's defaults.
func DefaultDrain() *Drain {
	return &Drain{
		Messages: 10_000, Window: 256, ContentBytes: 100, Read: true,
		AckEvery: Dur(5 * time.Millisecond), AckBatch: 256, Timeout: Dur(60 * time.Second),
		Generator: GeneratorLean,
	}
}

// Name implements Scenario.
func (*Drain) Name() string { return "drain" }

func (p *Drain) describe() string {
	return fmt.Sprintf("%d messages queued for an offline recipient (sent with window %d, %d-byte content), then it connects (read receipts %v), %s generator",
		p.Messages, p.Window, p.ContentBytes, p.Read, p.Generator)
}

func (p *Drain) run(ctx context.Context, e *env, r *Report) error {
	if p.Messages < 1 || p.Window < 1 || p.ContentBytes < 0 || p.AckEvery <= 0 || p.Timeout <= 0 {
		return errors.New("drain: messages, window, ack interval and timeout must be positive")
	}
	if err := checkGenerator(p.Generator); err != nil {
		return err
	}
	pairs, err := e.newPairs(ctx, 1)
	if err != nil {
		return err
	}
	pr := pairs[0]
	d, err := e.newDialer(2)
	if err != nil {
		return err
	}
	sc, err := d.dialWire(ctx, pr.from, p.Generator)
	if err != nil {
		return fmt.Errorf("dial sender: %w", err)
	}
	t := newTraffic(ctx, e, 1)
	t.span.open(0) // every message counts
	t.newSender(sc, pr.conv, p.Window, p.ContentBytes)
	e.logf("queueing %d messages for an offline recipient", p.Messages)
	queueStart := time.Now()
	t.send(func(_ int, s *sender) error { return s.closedLoop(t.stop, p.Messages) })
	deadline := time.Now().Add(time.Duration(p.Timeout))
	for t.cnt.acked.Load()+t.cnt.errors.Load() < int64(p.Messages) {
		if err := firstOf(t.err(), ctx.Err()); err != nil {
			t.finish(0)
			return err
		}
		if time.Now().After(deadline) {
			t.finish(0)
			return fmt.Errorf("only %d of %d messages acknowledged after %s", t.cnt.acked.Load(), p.Messages, p.Timeout)
		}
		time.Sleep(time.Millisecond)
	}
	queueTime, queueRefused := time.Since(queueStart), t.cnt.refused.Load()

	e.logf("the recipient connects")
	m := e.begin(ctx, 5*time.Second)
	t0 := e.clock.now()
	rc, err := d.dialWire(ctx, pr.to, p.Generator)
	if err != nil {
		m.end(ctx, r)
		t.finish(0)
		return errors.Join(fmt.Errorf("dial recipient: %w", err), m.finish(r))
	}
	dialed := e.clock.now()
	rcp := t.newRecipient(ctx, rc, p.Read, time.Duration(p.AckEvery), p.AckBatch, t.cnt.acked.Load())
	var werr error
	select {
	case <-rcp.all:
	case <-time.After(time.Until(deadline.Add(time.Duration(p.Timeout)))):
		werr = fmt.Errorf("the recipient got %d of %d queued messages within %s", rcp.got.Load(), rcp.expect, p.Timeout)
	case <-ctx.Done():
		werr = ctx.Err()
	}
	last := rcp.lastAt.Load()
	m.end(ctx, r)
	werr = errors.Join(werr, m.finish(r))
	missing := t.finish(5 * time.Second)
	if err := firstOf(werr, t.err()); err != nil {
		return err
	}
	drain := time.Duration(last - t0)
	r.Figures = Figures{
		{Key: "drain_seconds", Label: "dial → last queued message", Value: drain.Seconds(), Unit: "s"},
		{Key: "drain_msgs_per_s", Label: "drain rate", Value: float64(rcp.expect) / drain.Seconds(), Unit: "msg/s"},
		{Key: "dial_ms", Label: "dial (WebSocket upgrade)", Value: ms(dialed - t0), Unit: "ms"},
		{Key: "queue_msgs_per_s", Label: "queueing rate (acked, no recipient)", Value: float64(p.Messages) / queueTime.Seconds(), Unit: "msg/s"},
		{Key: "queue_refused_per_s", Label: "queueing: sends refused rate_limited", Value: perSecond(queueRefused, queueTime), Unit: "/s"},
	}
	r.perMessage(rcp.got.Load())
	t.checks(r, missing)
	return nil
}
