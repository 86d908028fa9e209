package bench

import (
	"context"
	"fmt"
	"time"
)

// Latency is the open-loop scenario: Users online users in Users/2 pairs;
// messages leave at a fixed total Rate, message i due at start + i/Rate,
// spread round-robin over the senders. Latencies count from the due time,
// so a stall anywhere delays every message due meanwhile, as users would
// see it.
type Latency struct {
	Users        int     `json:"users"`
	Rate         float64 `json:"rate_msgs_per_s"`
	Duration     Dur     `json:"duration_s"`
	Warmup       Dur     `json:"warmup_s"`
	ContentBytes int     `json:"content_bytes"`
	Read         bool    `json:"read_receipts"`
	AckEvery     Dur     `json:"ack_every_s"`
	AckBatch     int     `json:"ack_batch"`
	// Generator is GeneratorLean or GeneratorSDK.
	Generator string `json:"generator"`
}

// DefaultLatency returns the latency scenario's defaults.
func DefaultLatency() *Latency {
	return &Latency{
		Users: 1000, Rate: 10_000, Duration: Dur(20 * time.Second), Warmup: Dur(3 * time.Second),
		ContentBytes: 100, Read: true, AckEvery: Dur(5 * time.Millisecond), AckBatch: 256,
		Generator: GeneratorLean,
	}
}

// Name implements Scenario.
func (*Latency) Name() string { return "latency" }

func (p *Latency) describe() string {
	return fmt.Sprintf("%d online users (%d pairs), %.0f msg/s open loop, %s after %s warm-up, %d-byte content, receipts every %s or %d messages (read receipts %v), %s generator",
		p.Users, p.Users/2, p.Rate, p.Duration, p.Warmup, p.ContentBytes, p.AckEvery, p.AckBatch, p.Read, p.Generator)
}

func (p *Latency) run(ctx context.Context, e *env, r *Report) error {
	if p.Users < 2 || p.Rate <= 0 || p.Duration <= 0 || p.Warmup < 0 || p.ContentBytes < 0 || p.AckEvery <= 0 {
		return fmt.Errorf("latency: needs at least 2 users, a positive rate and duration")
	}
	if err := checkGenerator(p.Generator); err != nil {
		return err
	}
	npairs := p.Users / 2
	e.logf("setup: %d users in %d pairs", 2*npairs, npairs)
	pairs, err := e.newPairs(ctx, npairs)
	if err != nil {
		return err
	}
	conns, err := dialPairs(ctx, e, pairs, p.Generator)
	if err != nil {
		return err
	}
	t := newTraffic(ctx, e, 1)
	for i, pr := range pairs {
		t.newRecipient(ctx, conns[2*i+1], p.Read, time.Duration(p.AckEvery), p.AckBatch, 0)
		t.newSender(conns[2*i], pr.conv, 0, p.ContentBytes)
	}
	// Message g (over all senders) is due at start + g/Rate; sender k
	// sends g = k, k+n, k+2n, ...
	interval := float64(time.Second) / p.Rate
	start := e.clock.now() + int64(50*time.Millisecond)
	t.send(func(k int, s *sender) error {
		return s.openLoop(t.stop, start+int64(float64(k)*interval), int64(float64(npairs)*interval))
	})
	e.logf("warm-up %s, then measuring %s", p.Warmup, p.Duration)
	n, d, werr := t.window(ctx, time.Duration(p.Warmup), time.Duration(p.Duration), r)
	missing := t.finish(30 * time.Second)
	if err := firstOf(werr, t.err()); err != nil {
		return err
	}
	ack, del := t.latencies()
	r.Figures = Figures{
		{Key: "offered_msgs_per_s", Label: "offered rate", Value: p.Rate, Unit: "msg/s"},
		{Key: "sent_msgs_per_s", Label: "sent messages", Value: perSecond(n.sent, d), Unit: "msg/s"},
		{Key: "acked_msgs_per_s", Label: "acked messages", Value: perSecond(n.acked, d), Unit: "msg/s"},
		{Key: "delivered_msgs_per_s", Label: "delivered messages", Value: perSecond(n.delivered, d), Unit: "msg/s"},
		{Key: "receipts_per_s", Label: "receipts (status frames to senders)", Value: perSecond(n.receipts, d), Unit: "/s"},
		refusedFigure(n, d),
		{Key: "deliver_p50_ms", Label: "send→deliver p50", Value: del.P50, Unit: "ms"},
		{Key: "deliver_p99_ms", Label: "send→deliver p99", Value: del.P99, Unit: "ms"},
		{Key: "deliver_p999_ms", Label: "send→deliver p99.9", Value: del.P999, Unit: "ms"},
	}
	r.Latencies = Distributions{
		{Key: "send_ack", Label: "send→ack", Percentiles: ack},
		{Key: "send_deliver", Label: "send→deliver", Percentiles: del},
	}
	r.perMessage(n.acked)
	t.checks(r, missing)
	if missing > 0 {
		r.Notes = append(r.Notes, "the percentiles leave out the messages still undelivered: the real tail is worse")
	}
	return nil
}
