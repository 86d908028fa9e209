package bench

import (
	"context"
	"fmt"
	"time"
)

// Throughput is the closed-loop scenario: Pairs senders each keep Window
// messages in flight to their own recipient over a 1:1 conversation;
// recipients acknowledge (and read) in batches as real clients do.
type Throughput struct {
	Pairs        int  `json:"pairs"`
	Window       int  `json:"window"`
	Duration     Dur  `json:"duration_s"`
	Warmup       Dur  `json:"warmup_s"`
	ContentBytes int  `json:"content_bytes"`
	Read         bool `json:"read_receipts"`
	AckEvery     Dur  `json:"ack_every_s"`
	AckBatch     int  `json:"ack_batch"`
	// Generator is GeneratorLean or GeneratorSDK.
	Generator string `json:"generator"`
}

// DefaultThroughput returns the throughput scenario's defaults.
func DefaultThroughput() *Throughput {
	return &Throughput{
		// 512 messages in flight: one full group commit at the server's
		// default --max-batch. More only queues longer (measured: the
		// rate stays the same, the latency grows).
		Pairs: 32, Window: 16, Duration: Dur(20 * time.Second), Warmup: Dur(3 * time.Second),
		ContentBytes: 100, Read: true, AckEvery: Dur(5 * time.Millisecond), AckBatch: 256,
		Generator: GeneratorLean,
	}
}

// Name implements Scenario.
func (*Throughput) Name() string { return "throughput" }

func (p *Throughput) describe() string {
	return fmt.Sprintf("%d pairs, window %d, %s after %s warm-up, %d-byte content, receipts every %s or %d messages (read receipts %v), %s generator",
		p.Pairs, p.Window, p.Duration, p.Warmup, p.ContentBytes, p.AckEvery, p.AckBatch, p.Read, p.Generator)
}

func (p *Throughput) validate() error {
	if p.Pairs < 1 || p.Window < 1 || p.Duration <= 0 || p.Warmup < 0 || p.ContentBytes < 0 || p.AckEvery <= 0 {
		return fmt.Errorf("throughput: pairs and window must be positive, duration positive, warm-up not negative")
	}
	return checkGenerator(p.Generator)
}

func (p *Throughput) run(ctx context.Context, e *env, r *Report) error {
	if err := p.validate(); err != nil {
		return err
	}
	e.logf("setup: %d pairs", p.Pairs)
	pairs, err := e.newPairs(ctx, p.Pairs)
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
		t.newSender(conns[2*i], pr.conv, p.Window, p.ContentBytes)
	}
	t.send(func(_ int, s *sender) error { return s.closedLoop(t.stop, 0) })
	e.logf("warm-up %s, then measuring %s", p.Warmup, p.Duration)
	n, d, werr := t.window(ctx, time.Duration(p.Warmup), time.Duration(p.Duration), r)
	missing := t.finish(10 * time.Second)
	if err := firstOf(werr, t.err()); err != nil {
		return err
	}
	r.Figures = Figures{
		{Key: "acked_msgs_per_s", Label: "acked messages", Value: perSecond(n.acked, d), Unit: "msg/s"},
		{Key: "delivered_msgs_per_s", Label: "delivered messages", Value: perSecond(n.delivered, d), Unit: "msg/s"},
		{Key: "receipts_per_s", Label: "receipts (status frames to senders)", Value: perSecond(n.receipts, d), Unit: "/s"},
		refusedFigure(n, d),
		{Key: "receipt_frames_per_s", Label: "delivery_ack + read_receipt frames", Value: perSecond(n.ackFrames, d), Unit: "/s"},
	}
	ack, del := t.latencies()
	r.Latencies = Distributions{
		{Key: "send_ack", Label: "send→ack", Percentiles: ack},
		{Key: "send_deliver", Label: "send→deliver", Percentiles: del},
	}
	r.perMessage(n.acked)
	t.checks(r, missing)
	return nil
}

// dialPairs connects each pair's sender and recipient: conns[2i] is pair
// i's sender, conns[2i+1] its recipient.
func dialPairs(ctx context.Context, e *env, pairs []pair, mode string) ([]link, error) {
	users := make([]*user, 0, 2*len(pairs))
	for _, p := range pairs {
		users = append(users, p.from, p.to)
	}
	d, err := e.newDialer(len(users))
	if err != nil {
		return nil, err
	}
	return d.dialWires(ctx, users, e.opt.SetupConcurrency, mode)
}

func firstOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
