// Package push tells devices that have no open connection that a message
// for them was committed: by Web Push (RFC 8030, with RFC 8291 payload
// encryption and RFC 8292 VAPID), so that a closed browser tab or an
// installed web app can tell its user, and by push relays, the HTTPS
// gateways of native apps' vendors (in front of FCM or APNs), which get a
// JSON notice signed with the same VAPID key. A notice never carries content:
// it names the conversation and the sender and counts the unread, and the
// client fetches the rest over its own authenticated connection.
package push

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/outbound"
)

var _ messaging.Notifier = (*Service)(nil)

// Store keeps subscriptions and relays and answers who to notify.
type Store interface {
	// PutPushSubscription stores s as its device's one subscription,
	// replacing any; a device that no longer exists stores nothing.
	PutPushSubscription(ctx context.Context, s Subscription) error
	// DeletePushSubscription deletes deviceID's subscription, if any;
	// with endpoint set, only if it is still that one (a device that
	// subscribed again meanwhile keeps its new one).
	DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error
	// PutPushRelay stores r as its device's one relay, replacing any; a
	// device that no longer exists stores nothing.
	PutPushRelay(ctx context.Context, r Relay) error
	// DeletePushRelay deletes deviceID's relay, if any; with url set,
	// only if it is still that url and pushkey.
	DeletePushRelay(ctx context.Context, deviceID, url, pushkey string) error
	// PushTargets returns the subscriptions and the relays of
	// conversationID's members other than senderID whose read cursor is
	// before seq, each with its user's unread count there at now, and
	// the sender's display name: one read for both kinds.
	PushTargets(ctx context.Context, conversationID, senderID string, seq int64, now time.Time) (senderName string, targets []Target, err error)
}

// Target is a subscription or a relay to notify and the badge it shows:
// a relay when Relay.URL is set, else the Web Push Subscription.
type Target struct {
	Subscription
	Relay  Relay
	Unread int
}

// device is the device a target reaches.
func (t Target) device() (userID, deviceID string) {
	if t.Relay.URL != "" {
		return t.Relay.UserID, t.Relay.DeviceID
	}
	return t.UserID, t.DeviceID
}

// Kinds of push, the kind label of Observer.Push.
const (
	KindWebPush = "webpush"
	KindRelay   = "relay"
	// KindNotice counts what happens to a committed message before it
	// is planned into pushes of either kind (a full queue, a store error).
	KindNotice = "notice"
)

// Presence says whether a device has an open connection on any node.
type Presence interface {
	DeviceOnline(ctx context.Context, userID, deviceID string) (bool, error)
}

// Observer counts pushes: kind is KindWebPush, KindRelay or KindNotice;
// result is "sent", "failed" or "dropped".
type Observer interface {
	Push(kind, result, reason string)
}

// Payload is the JSON a notice carries, encrypted for its device. It says
// who wrote where, never what.
type Payload struct {
	Type           string `json:"type"` // "message"
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	SenderName     string `json:"sender_name"`
	Unread         int    `json:"unread"`
}

// Config tunes the service; a zero field takes its default.
type Config struct {
	// Collapse: at most one notice per device and conversation this
	// often; the badge of the next one counts what was skipped.
	Collapse time.Duration
	// Workers send pushes concurrently; Queue bounds the notices and the
	// pushes waiting for them (each), past which new ones are dropped.
	Workers int
	Queue   int
	// Attempts bounds the tries of one push (5xx, 429, timeouts); Backoff
	// is the wait before the second, doubled before each next.
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one request to a push service or relay.
	Timeout time.Duration
	// TTL is how long the push service keeps a notice for a device that
	// is not reachable (the TTL header).
	TTL time.Duration
	// AllowInsecureHosts may be http and resolve to private or loopback
	// addresses (host or host:port): tests, self-hosted push services and
	// relays.
	AllowInsecureHosts []string
	// Resolver resolves endpoints' hosts; nil is net.DefaultResolver.
	Resolver outbound.Resolver
	// Collapser decides Collapse across nodes; nil keeps the windows in
	// this node's memory, on the service's clock (a single node).
	Collapser Collapser
}

// Collapser says whether a device may be told of a conversation now: yes
// at most once per window. In a cluster the nodes share one, since two
// senders of one conversation may commit on two nodes.
type Collapser interface {
	Allow(ctx context.Context, deviceID, conversationID string, window time.Duration) (bool, error)
}

func (c Config) withDefaults() Config {
	if c.Collapse <= 0 {
		c.Collapse = 5 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 24 * time.Hour
	}
	return c
}

// Service stores subscriptions and sends notices.
type Service struct {
	store  Store
	pres   Presence
	vapid  *VAPID
	clock  clock.Clock
	cfg    Config
	log    *slog.Logger
	obs    Observer
	guard  outbound.Guard
	client *http.Client

	// notices are committed messages waiting to be planned; deliveries
	// pushes waiting for a worker. Both bounded: a slow push service
	// drops notices, it never slows the committer that hands them in.
	notices    chan notice
	deliveries chan *delivery

	// last is when each (device, conversation) was last notified, for
	// Collapse; only the planner goroutine touches it.
	last map[collapseKey]time.Time

	// pending counts notices and deliveries not finished yet (Settled).
	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed while pending is 0
	closed  bool
}

type notice struct {
	conversationID string
	senderID       string
	seq            int64
	sentAt         time.Time
	// members is the commit's member list as it is: nobody changes it
	// after the commit, and copying it would cost the publishing
	// goroutine an allocation per message.
	members []string
}

type collapseKey struct{ device, conversation string }

// delivery is one push: to sub (Web Push, body encrypted for it) or, with
// relay set, to a relay (body the JSON notice, signed at each attempt).
type delivery struct {
	sub     Subscription
	relay   *Relay
	body    []byte
	topic   string
	id      string // the relay notice's id, its Idempotency-Key
	attempt int
}

func (d *delivery) kind() string {
	if d.relay != nil {
		return KindRelay
	}
	return KindWebPush
}

func (d *delivery) deviceID() string {
	if d.relay != nil {
		return d.relay.DeviceID
	}
	return d.sub.DeviceID
}

// New returns a service; Run must be called to send. vapid nil is ErrDisabled.
func New(s Store, pres Presence, vapid *VAPID, clk clock.Clock, cfg Config, log *slog.Logger, obs Observer) *Service {
	cfg = cfg.withDefaults()
	svc := &Service{
		store: s, pres: pres, vapid: vapid, clock: clk, cfg: cfg, log: log, obs: obs,
		guard:      outbound.Guard{Resolver: cfg.Resolver, Insecure: cfg.AllowInsecureHosts},
		notices:    make(chan notice, cfg.Queue),
		deliveries: make(chan *delivery, cfg.Queue),
		last:       map[collapseKey]time.Time{},
		idle:       make(chan struct{}),
	}
	close(svc.idle)
	svc.client = svc.guard.Client(cfg.Timeout, cfg.Workers)
	return svc
}

// PublicKey is the VAPID key browsers subscribe with.
func (s *Service) PublicKey() (string, error) {
	if s.vapid == nil {
		return "", ErrDisabled
	}
	return s.vapid.PublicKey(), nil
}

// Subscribe validates sub and stores it as its device's subscription.
func (s *Service) Subscribe(ctx context.Context, sub Subscription) error {
	if s.vapid == nil {
		return ErrDisabled
	}
	if _, _, err := sub.keys(); err != nil {
		return err
	}
	if len(sub.Endpoint) > 2048 {
		return fault.New(ErrBadSubscription, "endpoint is longer than 2048 bytes")
	}
	if err := checkEndpoint(ctx, s.guard, sub.Endpoint); err != nil {
		return err
	}
	sub.CreatedAt = s.clock.Now()
	return s.store.PutPushSubscription(ctx, sub)
}

// Unsubscribe deletes deviceID's subscription; none is no error.
func (s *Service) Unsubscribe(ctx context.Context, deviceID string) error {
	if s.vapid == nil {
		return ErrDisabled
	}
	return s.store.DeletePushSubscription(ctx, deviceID, "")
}

// RegisterRelay validates r and stores it as its device's relay.
func (s *Service) RegisterRelay(ctx context.Context, r Relay) error {
	if s.vapid == nil {
		return ErrDisabled
	}
	if err := r.validate(ctx, s.guard); err != nil {
		return err
	}
	r.CreatedAt = s.clock.Now()
	return s.store.PutPushRelay(ctx, r)
}

// UnregisterRelay deletes deviceID's relay; none is no error.
func (s *Service) UnregisterRelay(ctx context.Context, deviceID string) error {
	if s.vapid == nil {
		return ErrDisabled
	}
	return s.store.DeletePushRelay(ctx, deviceID, "", "")
}

// Stored implements messaging.Notifier. It runs on the committer's
// publishing goroutine, so it only queues: a full queue drops the notice
// (counted) rather than wait.
func (s *Service) Stored(m messaging.Message, members []string) {
	if s.vapid == nil || m.Withheld || m.Type == conversations.MessageTypeSystem {
		return
	}
	if len(members) < 2 {
		return // the sender alone (a withheld or lone-member message)
	}
	n := notice{conversationID: m.ConversationID, senderID: m.SenderID, seq: m.Seq, sentAt: m.CreatedAt, members: members}
	if !s.begin() {
		return
	}
	select {
	case s.notices <- n:
	default:
		s.done()
		s.count(KindNotice, "dropped", "queue_full")
	}
}

// Run plans and sends until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.vapid == nil {
		return nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.plan(ctx) })
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Wait()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Settled waits until every notice handed in so far has been planned and
// each of its pushes sent, failed or dropped (tests; a retry waits for
// its backoff on the service's clock).
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

func (s *Service) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	return true
}

func (s *Service) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.pending == 0 {
		close(s.idle)
	}
}

func (s *Service) count(kind, result, reason string) {
	if s.obs != nil {
		s.obs.Push(kind, result, reason)
	}
}

// plan turns each notice into pushes: one per subscription or relay of
// each recipient device that has no connection, a read cursor before the
// message and no notice for the conversation within Collapse.
func (s *Service) plan(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.notices:
			s.planOne(ctx, n)
			s.done()
		}
	}
}

func (s *Service) planOne(ctx context.Context, n notice) {
	now := s.clock.Now()
	name, targets, err := s.store.PushTargets(ctx, n.conversationID, n.senderID, n.seq, now)
	if err != nil {
		s.log.Warn("push: read targets", "conversation_id", n.conversationID, "err", err)
		s.count(KindNotice, "failed", "store")
		return
	}
	if len(targets) == 0 {
		return
	}
	s.forget(now)
	members := make(map[string]bool, len(n.members))
	for _, u := range n.members {
		members[u] = true
	}
	sentAt := n.sentAt
	if sentAt.IsZero() {
		sentAt = now
	}
	// A device with both a subscription and a relay is decided once: its
	// presence asked once, its collapse window taken once, and then both
	// are told.
	decided := make(map[string]bool, len(targets))
	for _, t := range targets {
		userID, deviceID := t.device()
		// Only the members the commit fanned out to: not one who left
		// or joined since.
		if !members[userID] {
			continue
		}
		kind := KindWebPush
		if t.Relay.URL != "" {
			kind = KindRelay
		}
		ok, seen := decided[deviceID]
		if !seen {
			ok = s.decide(ctx, kind, userID, deviceID, n.conversationID, now)
			decided[deviceID] = ok
		}
		if !ok {
			continue
		}
		if kind == KindRelay {
			s.planRelay(t, n, name, sentAt)
			continue
		}
		body, err := json.Marshal(Payload{Type: "message", ConversationID: n.conversationID, SenderID: n.senderID, SenderName: name, Unread: t.Unread})
		if err != nil {
			s.count(kind, "failed", "encode")
			continue
		}
		p256dh, auth, err := t.keys()
		if err != nil {
			s.count(kind, "failed", "bad_keys")
			continue
		}
		if body, err = Encrypt(body, p256dh, auth); err != nil {
			s.log.Warn("push: encrypt", "device_id", deviceID, "err", err)
			s.count(kind, "failed", "encrypt")
			continue
		}
		s.enqueue(&delivery{sub: t.Subscription, body: body, topic: Topic(n.conversationID)})
	}
}

// decide says whether a device is told of a message now: it has no open
// connection and no notice of the conversation within Collapse.
func (s *Service) decide(ctx context.Context, kind, userID, deviceID, conversationID string, now time.Time) bool {
	online, err := s.pres.DeviceOnline(ctx, userID, deviceID)
	if err != nil {
		s.log.Warn("push: presence", "user_id", userID, "err", err)
		return false
	}
	if online {
		return false // the connection delivers it
	}
	if !s.allow(ctx, deviceID, conversationID, now) {
		s.count(kind, "dropped", "collapsed")
		return false
	}
	return true
}

// newNoticeID is a relay notice's id: a ULID, unique and sortable.
func newNoticeID() string { return ulid.Make().String() }

// planRelay queues the notice of n for a relay target: JSON, never the
// content, with an id that stays the same across its retries.
func (s *Service) planRelay(t Target, n notice, senderName string, sentAt time.Time) {
	r := t.Relay
	id := newNoticeID()
	body, err := json.Marshal(RelayNotice{Notice: RelayNoticeBody{
		ID: id, Type: "message", AppID: r.AppID, Pushkey: r.Pushkey,
		ConversationID: n.conversationID, SenderID: n.senderID, SenderName: senderName,
		Unread: t.Unread, SentAt: sentAt.UTC().Format(time.RFC3339),
	}})
	if err != nil {
		s.count(KindRelay, "failed", "encode")
		return
	}
	s.enqueue(&delivery{relay: &r, body: body, id: id})
}

// allow applies Collapse: the shared Collapser if there is one, else this
// node's memory. A Collapser that fails lets the notice through: a
// duplicate notice is better than a lost one.
func (s *Service) allow(ctx context.Context, deviceID, conversationID string, now time.Time) bool {
	if s.cfg.Collapser != nil {
		ok, err := s.cfg.Collapser.Allow(ctx, deviceID, conversationID, s.cfg.Collapse)
		if err != nil {
			s.log.Warn("push: collapse", "err", err)
			return true
		}
		return ok
	}
	key := collapseKey{deviceID, conversationID}
	if at, ok := s.last[key]; ok && now.Sub(at) < s.cfg.Collapse {
		return false
	}
	s.last[key] = now
	return true
}

// forget drops collapse entries past their window once the map grows, so
// it holds about the devices notified in the last Collapse.
func (s *Service) forget(now time.Time) {
	if len(s.last) < 4096 {
		return
	}
	for k, at := range s.last {
		if now.Sub(at) >= s.cfg.Collapse {
			delete(s.last, k)
		}
	}
}

// enqueue hands d to the workers, or drops it when they are too far behind.
func (s *Service) enqueue(d *delivery) {
	if !s.begin() {
		return
	}
	select {
	case s.deliveries <- d:
	default:
		s.done()
		s.count(d.kind(), "dropped", "queue_full")
	}
}

func (s *Service) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.deliveries:
			s.deliver(ctx, d)
			s.done()
		}
	}
}
