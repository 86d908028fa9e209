package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/bus/redisbus"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/presence/redisdir"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// publisher is what every service publishes events through: the hub in
// the embedded mode, the Redis bus in a cluster.
type publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// openStore opens PostgreSQL when configured, else SQLite in the data dir.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlstore.Store, error) {
	if cfg.Store != "" {
		name := "parley"
		if cfg.NodeID != "" {
			name += " " + cfg.NodeID
		}
		return sqlstore.OpenPostgres(ctx, cfg.Store, sqlstore.PostgresOptions{PoolSize: cfg.StorePoolSize, AppName: name, Log: log})
	}
	return sqlstore.OpenSQLite(ctx, cfg.DataDir, sqlstore.SQLiteOptions{Log: log})
}

// cluster is what a node of a cluster adds: Redis for events and presence.
type cluster struct {
	rdb *redis.Client
	bus *redisbus.Bus
	dir *redisdir.Directory
}

func newCluster(cfg config.Config, hub *gateway.Hub, log *slog.Logger, obs redisbus.Observer) (*cluster, error) {
	opt, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	node := cfg.NodeID
	if node == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		node = host + "-" + hex.EncodeToString(b)
	}
	// RESP2: each pub/sub connection is its own. Under RESP3 the bus's and
	// the presence directory's subscriptions were seen sharing one
	// connection, and events reached the wrong consumer.
	opt.Protocol = 2
	rdb := redis.NewClient(opt)
	log = log.With("node", node)
	log.Info("cluster node", "redis", opt.Addr, "prefix", cfg.RedisPrefix)
	c := &cluster{
		rdb: rdb,
		bus: redisbus.New(rdb, hub, node, cfg.RedisPrefix, log),
		dir: redisdir.New(rdb, redisdir.Config{Node: node, Prefix: cfg.RedisPrefix, Lease: cfg.NodeLease}, log),
	}
	c.bus.Observer, c.dir.Observer = obs, obs
	return c, nil
}

// caches are a node's caches of stored rows, as other nodes'
// invalidations reach them.
type caches struct {
	sessions *identity.Service
	settings *presence.Tracker
}

func (c caches) apply(inv bus.Invalidation) {
	switch inv.Cache {
	case bus.CacheSessions:
		c.sessions.ForgetSessions(inv.IDs)
	case bus.CachePresenceSettings:
		c.settings.ForgetSettings(inv.IDs)
	case bus.CacheContacts:
		c.settings.ForgetContacts(inv.IDs)
	default:
		// A cache this version does not know (a newer node, during a
		// rolling upgrade): dropping everything is always safe.
		c.reset()
	}
}

// reset empties every cache: invalidations may have been lost.
func (c caches) reset() {
	c.sessions.ForgetAllSessions()
	c.settings.ForgetAllSettings()
}
