// Package redisdir is the presence Directory of a cluster, in Redis.
//
// Keys (all under a prefix):
//
//	pres:{user}        hash node -> open connections of user on that node
//	node-users:{node}  set of users with connections on node
//	dev:{device}       hash node -> open connections of device on that node
//	node-devices:{node} set of devices with connections on node
//	alive:{node}       exists while node heartbeats (expires after Lease)
//	nodes              hash node -> its last heartbeat (ms), for the janitor
//	p:{user}           pub/sub channel of user's presence changes
//
// A user is online while some live node counts a connection of it; a
// device likewise (push asks about devices: a user reading on one device
// must not keep its other devices from being woken). When a node dies its
// alive key expires, so its counts stop counting at once; the janitor of
// any surviving node (one wins a lock) then removes the dead node's counts
// and reports every user left with none anywhere, last seen at the dead
// node's last heartbeat. A device's counts ride on the user's: the same
// script, the same round trip, the same expiry and janitor. Redis
// keeps nothing on disk here: after a Redis restart each node notices its
// alive key gone and registers its local connections again.
package redisdir

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/bus/redisbus"
	"github.com/parleychat/parley/internal/presence"
)

// Config tunes the directory.
type Config struct {
	Node   string
	Prefix string
	// Lease is how long a node counts as alive after its last heartbeat;
	// it heartbeats every Lease/3. A dead node's users go offline within
	// about Lease plus one janitor tick.
	Lease time.Duration
}

// Directory implements presence.Directory over Redis.
type Directory struct {
	rdb  *redis.Client
	cfg  Config
	log  *slog.Logger
	subs *redisbus.Subscriptions

	mu       sync.Mutex
	conns    map[string]int // user -> connections here (to re-register)
	devs     map[string]int // device -> connections here (to re-register)
	onChange func(presence.Change)
	gone     func(string, time.Time)

	// Observer, if set before Run, counts Redis failures and the
	// re-registrations after a lost lease.
	Observer redisbus.Observer
}

func (d *Directory) failed(op string) {
	if d.Observer != nil {
		d.Observer.RedisError(op)
	}
}

var _ presence.Directory = (*Directory)(nil)

// New returns a directory for one node.
func New(rdb *redis.Client, cfg Config, log *slog.Logger) *Directory {
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	return &Directory{rdb: rdb, cfg: cfg, log: log, subs: redisbus.NewSubscriptions(rdb, log),
		conns: map[string]int{}, devs: map[string]int{}}
}

func (d *Directory) key(parts ...string) string {
	k := d.cfg.Prefix
	for _, p := range parts {
		k += p
	}
	return k
}

// liveTotal sums a pres hash over the nodes that are alive. KEYS[1] is the
// hash; ARGV[1] the alive-key prefix.
const liveTotal = `
local total = 0
local kv = redis.call('HGETALL', KEYS[1])
for i = 1, #kv, 2 do
  if redis.call('EXISTS', ARGV[1] .. kv[i]) == 1 then total = total + tonumber(kv[i+1]) end
end
return total`

var (
	// connectScript counts a connection of user ARGV[3] (KEYS[1], [2])
	// and of its device ARGV[4] (KEYS[3], [4]) on node ARGV[2].
	connectScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('SADD', KEYS[4], ARGV[4])
` + liveTotal)
	disconnectScript = redis.NewScript(`
local d = redis.call('HINCRBY', KEYS[3], ARGV[2], -1)
if d <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('SREM', KEYS[4], ARGV[4])
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[3])
end
` + liveTotal)
	// deviceConnectScript and deviceDisconnectScript count a connection
	// of device ARGV[2] (KEYS[1], [2]) on node ARGV[1] alone: another
	// connection of a user already counted on this node.
	deviceConnectScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
return 1`)
	deviceDisconnectScript = redis.NewScript(`
local d = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if d <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1`)
	totalScript = redis.NewScript(liveTotal)
	// dropNodeScript removes a dead node's count of one user and returns
	// what is left on live nodes.
	dropNodeScript = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[2])
` + liveTotal)
)

func (d *Directory) keys(userID, deviceID string) []string {
	return []string{d.key("pres:", userID), d.key("node-users:", d.cfg.Node), d.key("dev:", deviceID), d.key("node-devices:", d.cfg.Node)}
}

// Connected implements presence.Directory: one script counts the user on
// this node and its connection's device, the round trip a connect made
// before devices were counted.
func (d *Directory) Connected(ctx context.Context, userID, deviceID string) (bool, error) {
	d.mu.Lock()
	d.conns[userID]++
	d.devs[deviceID]++
	d.mu.Unlock()
	n, err := connectScript.Run(ctx, d.rdb, d.keys(userID, deviceID), d.key("alive:"), d.cfg.Node, userID, deviceID).Int()
	if err != nil {
		return false, fmt.Errorf("redis connect: %w", err)
	}
	return n == 1, nil
}

// Disconnected implements presence.Directory.
func (d *Directory) Disconnected(ctx context.Context, userID, deviceID string) (bool, error) {
	d.mu.Lock()
	d.conns[userID]--
	if d.conns[userID] <= 0 {
		delete(d.conns, userID)
	}
	d.devs[deviceID]--
	if d.devs[deviceID] <= 0 {
		delete(d.devs, deviceID)
	}
	d.mu.Unlock()
	n, err := disconnectScript.Run(ctx, d.rdb, d.keys(userID, deviceID), d.key("alive:"), d.cfg.Node, userID, deviceID).Int()
	if err != nil {
		return false, fmt.Errorf("redis disconnect: %w", err)
	}
	return n == 0, nil
}

// Online implements presence.Directory.
func (d *Directory) Online(ctx context.Context, ids []string) (map[string]bool, error) {
	pipe := d.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		cmds[i] = totalScript.Run(ctx, pipe, []string{d.key("pres:", id)}, d.key("alive:"))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		// The script may not be loaded yet on this server: EVALSHA fails
		// with NOSCRIPT; retry each with EVAL.
		out := make(map[string]bool, len(ids))
		for _, id := range ids {
			n, err := totalScript.Run(ctx, d.rdb, []string{d.key("pres:", id)}, d.key("alive:")).Int()
			if err != nil {
				return nil, fmt.Errorf("redis online: %w", err)
			}
			out[id] = n > 0
		}
		return out, nil
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		n, _ := cmds[i].Int()
		out[id] = n > 0
	}
	return out, nil
}

// DeviceConnected implements presence.Directory.
func (d *Directory) DeviceConnected(ctx context.Context, _, deviceID string) error {
	d.mu.Lock()
	d.devs[deviceID]++
	d.mu.Unlock()
	keys := []string{d.key("dev:", deviceID), d.key("node-devices:", d.cfg.Node)}
	if err := deviceConnectScript.Run(ctx, d.rdb, keys, d.cfg.Node, deviceID).Err(); err != nil {
		return fmt.Errorf("redis device connect: %w", err)
	}
	return nil
}

// DeviceDisconnected implements presence.Directory.
func (d *Directory) DeviceDisconnected(ctx context.Context, _, deviceID string) error {
	d.mu.Lock()
	d.devs[deviceID]--
	if d.devs[deviceID] <= 0 {
		delete(d.devs, deviceID)
	}
	d.mu.Unlock()
	keys := []string{d.key("dev:", deviceID), d.key("node-devices:", d.cfg.Node)}
	if err := deviceDisconnectScript.Run(ctx, d.rdb, keys, d.cfg.Node, deviceID).Err(); err != nil {
		return fmt.Errorf("redis device disconnect: %w", err)
	}
	return nil
}

// DeviceOnline reports whether deviceID has a connection on a live node.
func (d *Directory) DeviceOnline(ctx context.Context, deviceID string) (bool, error) {
	n, err := totalScript.Run(ctx, d.rdb, []string{d.key("dev:", deviceID)}, d.key("alive:")).Int()
	if err != nil {
		return false, fmt.Errorf("redis device online: %w", err)
	}
	return n > 0, nil
}

type wireChange struct {
	Node     string `json:"n"`
	UserID   string `json:"u"`
	Online   bool   `json:"o"`
	LastSeen int64  `json:"l,omitempty"`
	LastVis  string `json:"ls"`
	OnVis    string `json:"ov"`
}

// Announce implements presence.Directory: this node's subscribers hear at
// once, the others through Redis.
func (d *Directory) Announce(ctx context.Context, c presence.Change) error {
	d.mu.Lock()
	h := d.onChange
	d.mu.Unlock()
	if h != nil {
		h(c)
	}
	w := wireChange{Node: d.cfg.Node, UserID: c.UserID, Online: c.Online, LastVis: string(c.Settings.LastSeen), OnVis: string(c.Settings.Online)}
	if !c.LastSeen.IsZero() {
		w.LastSeen = c.LastSeen.UnixMilli()
	}
	b, _ := json.Marshal(w)
	if err := d.rdb.Publish(ctx, d.key("p:", c.UserID), b).Err(); err != nil {
		return fmt.Errorf("redis publish presence: %w", err)
	}
	return nil
}

// Watch implements presence.Directory.
func (d *Directory) Watch(ctx context.Context, userID string) { d.subs.Add(ctx, d.key("p:", userID)) }

// Unwatch implements presence.Directory.
func (d *Directory) Unwatch(ctx context.Context, userID string) {
	d.subs.Remove(ctx, d.key("p:", userID))
}

// Handle implements presence.Directory.
func (d *Directory) Handle(onChange func(presence.Change), gone func(string, time.Time)) {
	d.mu.Lock()
	d.onChange, d.gone = onChange, gone
	d.mu.Unlock()
}

// Run heartbeats, receives other nodes' changes and runs the janitor until
// ctx ends.
func (d *Directory) Run(ctx context.Context) error {
	d.beat(ctx)
	tick := time.NewTicker(d.cfg.Lease / 3)
	defer tick.Stop()
	ch := d.subs.Channel()
	for {
		select {
		case <-ctx.Done():
			d.leave()
			return d.subs.Close()
		case <-tick.C:
			d.beat(ctx)
			d.janitor(ctx)
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			d.receive(m.Payload)
		}
	}
}

func (d *Directory) receive(payload string) {
	var w wireChange
	if err := json.Unmarshal([]byte(payload), &w); err != nil || w.Node == d.cfg.Node {
		return
	}
	c := presence.Change{UserID: w.UserID, Online: w.Online,
		Settings: presence.Settings{LastSeen: presence.Visibility(w.LastVis), Online: presence.Visibility(w.OnVis)}}
	if w.LastSeen != 0 {
		c.LastSeen = time.UnixMilli(w.LastSeen)
	}
	d.mu.Lock()
	h := d.onChange
	d.mu.Unlock()
	if h != nil {
		h(c)
	}
}

// beat renews this node's lease. If the lease was gone (Redis restarted,
// or this node was taken for dead), it registers its connections again.
func (d *Directory) beat(ctx context.Context) {
	now := time.Now().UnixMilli()
	fresh, err := d.rdb.SetNX(ctx, d.key("alive:", d.cfg.Node), now, d.cfg.Lease).Result()
	if err != nil {
		d.log.Warn("presence heartbeat", "err", err)
		d.failed("presence_heartbeat")
		return
	}
	if !fresh {
		if err := d.rdb.Set(ctx, d.key("alive:", d.cfg.Node), now, d.cfg.Lease).Err(); err != nil {
			d.log.Warn("presence heartbeat", "err", err)
			d.failed("presence_heartbeat")
		}
	}
	if err := d.rdb.HSet(ctx, d.key("nodes"), d.cfg.Node, now).Err(); err != nil {
		d.log.Warn("presence heartbeat", "err", err)
		d.failed("presence_heartbeat")
	}
	if !fresh {
		return
	}
	d.mu.Lock()
	conns := make(map[string]int, len(d.conns))
	for u, n := range d.conns {
		conns[u] = n
	}
	devs := make(map[string]int, len(d.devs))
	for dev, n := range d.devs {
		devs[dev] = n
	}
	d.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	pipe := d.rdb.Pipeline()
	for u, n := range conns {
		pipe.HSet(ctx, d.key("pres:", u), d.cfg.Node, n)
		pipe.SAdd(ctx, d.key("node-users:", d.cfg.Node), u)
	}
	for dev, n := range devs {
		pipe.HSet(ctx, d.key("dev:", dev), d.cfg.Node, n)
		pipe.SAdd(ctx, d.key("node-devices:", d.cfg.Node), dev)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		d.log.Warn("presence re-register", "users", len(conns), "err", err)
		d.failed("presence_reregister")
		return
	}
	if d.Observer != nil {
		d.Observer.RedisReconnected("presence")
	}
	d.log.Info("presence re-registered local connections", "users", len(conns))
}

// janitor reports the users of nodes whose lease expired.
func (d *Directory) janitor(ctx context.Context) {
	nodes, err := d.rdb.HGetAll(ctx, d.key("nodes")).Result()
	if err != nil {
		return
	}
	for node, beat := range nodes {
		if node == d.cfg.Node {
			continue
		}
		alive, err := d.rdb.Exists(ctx, d.key("alive:", node)).Result()
		if err != nil || alive == 1 {
			continue
		}
		// One surviving node cleans up each dead one.
		won, err := d.rdb.SetNX(ctx, d.key("janitor:", node), d.cfg.Node, 2*d.cfg.Lease).Result()
		if err != nil || !won {
			continue
		}
		ms, _ := strconv.ParseInt(beat, 10, 64)
		d.bury(ctx, node, time.UnixMilli(ms))
	}
}

func (d *Directory) bury(ctx context.Context, node string, lastBeat time.Time) {
	users, err := d.rdb.SMembers(ctx, d.key("node-users:", node)).Result()
	if err != nil {
		d.log.Warn("presence janitor", "node", node, "err", err)
		return
	}
	d.mu.Lock()
	gone := d.gone
	d.mu.Unlock()
	for _, u := range users {
		left, err := dropNodeScript.Run(ctx, d.rdb, []string{d.key("pres:", u)}, d.key("alive:"), node).Int()
		if err != nil {
			d.log.Warn("presence janitor", "node", node, "user", u, "err", err)
			return // try again at the next tick
		}
		if left == 0 && gone != nil {
			gone(u, lastBeat)
		}
	}
	// Its devices' counts: already not counted (the node is not alive),
	// removed so they do not outlive it.
	devices, err := d.rdb.SMembers(ctx, d.key("node-devices:", node)).Result()
	if err != nil {
		d.log.Warn("presence janitor", "node", node, "err", err)
		return
	}
	if len(devices) > 0 {
		pipe := d.rdb.Pipeline()
		for _, dev := range devices {
			pipe.HDel(ctx, d.key("dev:", dev), node)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			d.log.Warn("presence janitor", "node", node, "devices", len(devices), "err", err)
			return
		}
	}
	d.rdb.Del(ctx, d.key("node-users:", node), d.key("node-devices:", node))
	d.rdb.HDel(ctx, d.key("nodes"), node)
	d.log.Info("presence janitor buried a node", "node", node, "users", len(users), "last_heartbeat", lastBeat)
}

// leave ends this node's lease on a clean shutdown, so its users go
// offline at once rather than after the lease (their connections closed).
func (d *Directory) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d.rdb.Del(ctx, d.key("alive:", d.cfg.Node))
}
