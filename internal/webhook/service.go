package webhook

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/outbound"
	"github.com/parleychat/parley/internal/store"
)

// Receipts takes the delivery receipts of the messages an endpoint
// accepted: to their senders, a bot's webhook answering 2xx is the bot's
// device receiving them.
type Receipts interface {
	SubmitReceipt(ctx context.Context, r messaging.ReceiptRequest, done func(error)) error
}

// Observer counts deliveries: result is "delivered", "failed" (one
// attempt), "parked" or "refused" (the URL), and circuit opens.
type Observer interface {
	Webhook(result string)
}

// Config tunes delivery; a zero field takes its default.
type Config struct {
	// Node names this node in the leases: unique per node.
	Node string
	// Workers bound the bots delivered to at once, each one request at a
	// time.
	Workers int
	// Timeout bounds one request.
	Timeout time.Duration
	// RetryFor is how long an event is retried before it is parked as
	// failed and its conversation goes on.
	RetryFor time.Duration
	// Backoff is the wait before an event's second attempt, doubled
	// before each next up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// BreakerAfter consecutive failures of a bot's endpoint open its
	// circuit: no request at all for BreakerWait (doubled at each
	// opening up to MaxBackoff), then one to probe it.
	BreakerAfter int
	BreakerWait  time.Duration
	// Sweep is how often the node looks for bots with events it was not
	// woken for (sent on another node, or before a restart).
	Sweep time.Duration
	// Lease is how long a node holds a bot's deliveries without renewing.
	Lease time.Duration
	// Retention is how long recorded deliveries are kept.
	Retention time.Duration
	// AllowInsecureHosts may be http and private (host or host:port).
	AllowInsecureHosts []string
	// Resolver resolves URLs' hosts; nil is net.DefaultResolver.
	Resolver outbound.Resolver
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.BreakerAfter <= 0 {
		c.BreakerAfter = 5
	}
	def(&c.Timeout, 10*time.Second)
	def(&c.RetryFor, 24*time.Hour)
	def(&c.Backoff, time.Second)
	def(&c.MaxBackoff, time.Hour)
	def(&c.BreakerWait, 30*time.Second)
	def(&c.Sweep, 5*time.Second)
	def(&c.Lease, time.Minute)
	def(&c.Retention, 30*24*time.Hour)
	return c
}

// Service manages bots' webhooks and delivers their events.
type Service struct {
	store  Store
	rcpts  Receipts
	clock  clock.Clock
	cfg    Config
	log    *slog.Logger
	obs    Observer
	guard  outbound.Guard
	client *http.Client
	// Window is what messages reads may still show (retention and
	// disappearing messages); nil hides nothing.
	Window func() messaging.Window

	sem chan struct{} // a slot per worker

	// bots are the users with a webhook, the ones Wake acts on: read on
	// every publish, so a map replaced whole rather than locked.
	bots atomic.Pointer[map[string]bool]
	// botsGen counts Set and Remove calls (under mu): a sweep whose
	// listing raced one does not replace the set with what it read.
	botsGen uint64

	mu     sync.Mutex
	ctx    context.Context // Run's; nil before it
	hooks  map[string]*hookState
	runs   sync.WaitGroup
	pruned time.Time
	busy   int           // runs going or asked for
	idle   chan struct{} // closed while busy is 0
}

// New returns the service; Run delivers.
func New(st Store, rcpts Receipts, clk clock.Clock, cfg Config, log *slog.Logger, obs Observer) *Service {
	cfg = cfg.withDefaults()
	s := &Service{
		store: st, rcpts: rcpts, clock: clk, cfg: cfg, log: log, obs: obs,
		guard: outbound.Guard{Resolver: cfg.Resolver, Insecure: cfg.AllowInsecureHosts},
		sem:   make(chan struct{}, cfg.Workers),
		hooks: map[string]*hookState{},
		idle:  make(chan struct{}),
	}
	close(s.idle)
	s.client = s.guard.Client(cfg.Timeout, 2)
	return s
}

// Set gives botID a webhook at url with a new secret, returned once.
// Setting it again replaces the URL and the secret; the bot's events go
// on from where they were.
func (s *Service) Set(ctx context.Context, botID, url string) (Hook, error) {
	if len(url) > MaxURLLen {
		return Hook{}, fault.Newf(ErrBadURL, "url is longer than %d bytes", MaxURLLen)
	}
	if err := s.guard.Check(ctx, url); err != nil {
		msg, _ := fault.Message(err, outbound.ErrRefused)
		return Hook{}, fault.New(ErrBadURL, "url "+msg)
	}
	h := Hook{BotID: botID, URL: url, Secret: NewSecret(), CreatedAt: s.clock.Now()}
	if err := s.store.PutWebhook(ctx, h); err != nil {
		return Hook{}, err
	}
	s.mu.Lock()
	s.setBot(botID, true)
	// A new URL deserves a fresh start: the old one's failures and
	// circuit say nothing about it.
	if h := s.hooks[botID]; h != nil {
		h.fails, h.opens, h.openUntil = 0, 0, time.Time{}
	}
	s.mu.Unlock()
	s.Wake(botID)
	return h, nil
}

// Get returns botID's webhook without its secret.
func (s *Service) Get(ctx context.Context, botID string) (Hook, error) {
	h, err := s.store.Webhook(ctx, botID)
	if errors.Is(err, store.ErrNotFound) {
		return Hook{}, ErrNoWebhook
	}
	h.Secret = ""
	return h, err
}

// Remove deletes botID's webhook: nothing more is delivered to it.
func (s *Service) Remove(ctx context.Context, botID string) error {
	if err := s.store.DeleteWebhook(ctx, botID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoWebhook
		}
		return err
	}
	s.mu.Lock()
	s.setBot(botID, false)
	s.mu.Unlock()
	return nil
}

// Deliveries lists botID's events that failed at least once, newest
// first; status "" is all.
func (s *Service) Deliveries(ctx context.Context, botID, status string, limit int) ([]Delivery, error) {
	return s.store.Deliveries(ctx, botID, status, limit)
}

// Wake says botID may have events to deliver: a commit published to it.
// Users without a webhook cost a map lookup.
func (s *Service) Wake(botID string) {
	if bots := s.bots.Load(); bots == nil || !(*bots)[botID] {
		return
	}
	s.mu.Lock()
	if s.ctx != nil {
		s.wakeLocked(botID)
	}
	s.mu.Unlock()
}

// WakeAny wakes the users among ids that have a webhook (a published
// event's recipients).
func (s *Service) WakeAny(ids []string) {
	bots := s.bots.Load()
	if bots == nil || len(*bots) == 0 {
		return
	}
	for _, id := range ids {
		if (*bots)[id] {
			s.Wake(id)
		}
	}
}

// Run delivers until ctx ends: woken runs, and a sweep every Sweep for
// what this node was not woken for. The sweep ticks on the wall clock, not
// the injected one: it is a safety net whose every tick costs queries, and
// a test that moves its clock by days would otherwise run it thousands of
// times. Deliveries' own timing (backoff, circuit) is on the injected clock.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.sweep(ctx)
	tick := time.NewTicker(s.cfg.Sweep)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			s.sweep(ctx)
		case <-ctx.Done():
			done = true
		}
	}
	s.mu.Lock()
	for _, h := range s.hooks {
		if h.timer != nil {
			h.timer.Stop()
		}
	}
	s.mu.Unlock()
	s.runs.Wait()
	// A node that stops hands its bots over at once: another node, or
	// this one restarted under another name, need not wait for the leases
	// to lapse. (A node that dies leaves them for Lease.)
	if err := s.store.ReleaseWebhook(context.WithoutCancel(ctx), "", s.cfg.Node); err != nil {
		s.log.Warn("webhook: release leases", "err", err)
	}
	return nil
}

// sweep refreshes the set of bots with webhooks, wakes those with events
// waiting, and prunes old delivery records hourly.
func (s *Service) sweep(ctx context.Context) {
	s.mu.Lock()
	gen := s.botsGen
	s.mu.Unlock()
	bots, err := s.store.WebhookBots(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook: list bots", "err", err)
		}
		return
	}
	due, err := s.store.DueWebhooks(ctx, s.cfg.Node, s.clock.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook: due bots", "err", err)
		}
		return
	}
	set := make(map[string]bool, len(bots))
	for _, b := range bots {
		set[b] = true
	}
	s.mu.Lock()
	// The listing is the truth for other nodes' changes, unless this node
	// changed the set meanwhile: then the next sweep's listing is.
	if s.botsGen == gen {
		s.bots.Store(&set)
	}
	for _, b := range due {
		s.wakeLocked(b)
	}
	prune := s.clock.Now().Sub(s.pruned) >= time.Hour
	if prune {
		s.pruned = s.clock.Now()
	}
	s.mu.Unlock()
	if prune {
		if err := s.store.PruneDeliveries(ctx, s.clock.Now().Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
			s.log.Warn("webhook: prune deliveries", "err", err)
		}
	}
}

// setBot adds botID to the bots or removes it. Caller holds mu (the
// writers' lock; readers load the map).
func (s *Service) setBot(botID string, on bool) {
	s.botsGen++
	next := map[string]bool{}
	if cur := s.bots.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	if on {
		next[botID] = true
	} else {
		delete(next, botID)
	}
	s.bots.Store(&next)
}

// Settled waits until no delivery run is going or asked for (tests: a
// retry waiting for its backoff is not a run).
func (s *Service) Settled(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) count(result string) {
	if s.obs != nil {
		s.obs.Webhook(result)
	}
}
