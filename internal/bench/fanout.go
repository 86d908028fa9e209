package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Fanout is the group scenario: Senders senders, each in its own group of
// GroupSize members (itself included), all online; each sender keeps
// Window messages in flight and every other member receives each one.
type Fanout struct {
	Senders      int  `json:"senders"`
	GroupSize    int  `json:"group_size"`
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

// DefaultFanout returns the fanout scenario's defaults.
func DefaultFanout() *Fanout {
	return &Fanout{
		Senders: 10, GroupSize: 20, Window: 16, Duration: Dur(15 * time.Second), Warmup: Dur(3 * time.Second),
		ContentBytes: 100, Read: true, AckEvery: Dur(5 * time.Millisecond), AckBatch: 256,
		Generator: GeneratorLean,
	}
}

// Name implements Scenario.
func (*Fanout) Name() string { return "fanout" }

func (p *Fanout) describe() string {
	return fmt.Sprintf("%d senders into groups of %d (all online), window %d, %s after %s warm-up, %d-byte content (read receipts %v), %s generator",
		p.Senders, p.GroupSize, p.Window, p.Duration, p.Warmup, p.ContentBytes, p.Read, p.Generator)
}

func (p *Fanout) run(ctx context.Context, e *env, r *Report) error {
	if p.Senders < 1 || p.GroupSize < 2 || p.Window < 1 || p.Duration <= 0 || p.Warmup < 0 || p.AckEvery <= 0 {
		return fmt.Errorf("fanout: needs senders >= 1, group size >= 2, window >= 1 and a positive duration")
	}
	if err := checkGenerator(p.Generator); err != nil {
		return err
	}
	g := p.GroupSize
	e.logf("setup: %d groups of %d", p.Senders, g)
	users, err := e.newUsers(ctx, p.Senders*g)
	if err != nil {
		return err
	}
	convs := make([]string, p.Senders)
	var direct atomic.Bool
	err = parallel(ctx, p.Senders, e.opt.SetupConcurrency, func(ctx context.Context, i int) error {
		members := users[i*g : (i+1)*g]
		ids := make([]string, 0, g-1)
		for _, m := range members[1:] {
			ids = append(ids, m.UserID)
		}
		c, err := members[0].api.CreateGroup(ctx, fmt.Sprintf("bench group %d", i), ids)
		if err != nil && g == 2 {
			// A group of two is a 1:1 conversation for fan-out purposes.
			direct.Store(true)
			c, err = members[0].api.CreateDirect(ctx, ids[0])
		}
		if err != nil {
			return fmt.Errorf("create a group of %d: %w (does this server support groups? --group-size 2 falls back to 1:1)", g, err)
		}
		convs[i] = c.ConversationID
		return nil
	})
	if err != nil {
		return err
	}
	if direct.Load() {
		r.Notes = append(r.Notes, "the server refused to create a group: groups of 2 fell back to 1:1 conversations")
	}
	d, err := e.newDialer(len(users))
	if err != nil {
		return err
	}
	conns, err := d.dialWires(ctx, users, e.opt.SetupConcurrency, p.Generator)
	if err != nil {
		return err
	}
	t := newTraffic(ctx, e, g-1)
	for i := range p.Senders {
		for j := 1; j < g; j++ {
			t.newRecipient(ctx, conns[i*g+j], p.Read, time.Duration(p.AckEvery), p.AckBatch, 0)
		}
		t.newSender(conns[i*g], convs[i], p.Window, p.ContentBytes)
	}
	t.send(func(_ int, s *sender) error { return s.closedLoop(t.stop, 0) })
	e.logf("warm-up %s, then measuring %s", p.Warmup, p.Duration)
	n, dur, werr := t.window(ctx, time.Duration(p.Warmup), time.Duration(p.Duration), r)
	missing := t.finish(10 * time.Second)
	if err := firstOf(werr, t.err()); err != nil {
		return err
	}
	ack, del := t.latencies()
	r.Figures = Figures{
		{Key: "acked_msgs_per_s", Label: "acked messages", Value: perSecond(n.acked, dur), Unit: "msg/s"},
		{Key: "deliveries_per_s", Label: "deliveries (message × recipient)", Value: perSecond(n.delivered, dur), Unit: "/s"},
		{Key: "receipts_per_s", Label: "receipts (status frames to senders)", Value: perSecond(n.receipts, dur), Unit: "/s"},
		// Each delivery owes its sender a status per receipt kind: below
		// that, statuses fall behind the messages (a backlog, not a rate).
		{Key: "statuses_per_delivery", Label: "status frames per delivery (keeping up: " + fmt.Sprint(receiptKinds(p.Read)) + ")",
			Value: ratio(n.receipts, n.delivered), Unit: ""},
		refusedFigure(n, dur),
		{Key: "deliver_p50_ms", Label: "send→deliver p50", Value: del.P50, Unit: "ms"},
		{Key: "deliver_p99_ms", Label: "send→deliver p99", Value: del.P99, Unit: "ms"},
	}
	r.Latencies = Distributions{
		{Key: "send_ack", Label: "send→ack", Percentiles: ack},
		{Key: "send_deliver", Label: "send→deliver", Percentiles: del},
	}
	r.perMessage(n.acked)
	t.checks(r, missing)
	return nil
}

// receiptKinds is how many status frames each delivery brings its sender
// when recipients keep up: "delivered", and "read" if they read.
func receiptKinds(read bool) int {
	if read {
		return 2
	}
	return 1
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
