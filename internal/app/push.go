package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// newPush builds the push service (Web Push and relays). Its key comes
// from the config or, on a single node, from the data dir (generated at
// first start). A
// cluster node without a configured key pushes nothing: keys generated per
// node would differ, and a push service refuses a push signed by another
// key than the one the browser subscribed with.
func newPush(cfg config.Config, st *sqlstore.Store, hub *gateway.Hub, cl *cluster, clk clock.Clock, log *slog.Logger, m *metrics.Metrics) (*push.Service, devicePresence, error) {
	var vapid *push.VAPID
	var err error
	switch {
	case cfg.Push.VAPIDPrivateKey != "":
		vapid, err = push.NewVAPID(cfg.Push.VAPIDPrivateKey, cfg.Push.VAPIDSubject)
	case cfg.Redis == "":
		vapid, err = push.LoadOrCreateVAPID(cfg.DataDir, cfg.Push.VAPIDSubject)
	default:
		log.Warn("web push is off: a cluster node needs --vapid-private-key, the same on every node")
	}
	pres := devicePresence{hub: hub}
	if err != nil {
		return nil, pres, err
	}
	if vapid != nil && cfg.Push.VAPIDSubject == "" {
		log.Warn("--vapid-subject is not set: some push services refuse pushes without a contact")
	}
	pcfg := push.Config{AllowInsecureHosts: cfg.Push.AllowInsecureHosts}
	if cl != nil {
		pres.dir = cl.dir
		pcfg.Collapser = redisCollapser{rdb: cl.rdb, prefix: cfg.RedisPrefix + "push:"}
	}
	return push.New(st, pres, vapid, clk, pcfg, log, m), pres, nil
}

// redisCollapser shares push.Config.Collapse between the nodes: a key per
// device and conversation, set if absent with the window as its expiry.
// Its time is Redis's, not the injected clock's: the single-node windows
// are the ones tests drive.
type redisCollapser struct {
	rdb    *redis.Client
	prefix string
}

func (c redisCollapser) Allow(ctx context.Context, deviceID, conversationID string, window time.Duration) (bool, error) {
	ok, err := c.rdb.SetNX(ctx, c.prefix+deviceID+":"+conversationID, 1, window).Result()
	if err != nil {
		return false, fmt.Errorf("push collapse: %w", err)
	}
	return ok, nil
}

// devicePresence tells push whether a device has an open connection.
// This node's hub knows its own connections by device; in a cluster the
// directory knows every node's devices (redisdir counts each connection's
// device with its user, on the same lease), so a user reading on one
// device never keeps its other devices from being woken.
type devicePresence struct {
	hub *gateway.Hub
	dir deviceDirectory // nil on a single node
}

// deviceDirectory is what push asks the cluster's presence directory.
type deviceDirectory interface {
	DeviceOnline(ctx context.Context, deviceID string) (bool, error)
}

func (p devicePresence) DeviceOnline(ctx context.Context, userID, deviceID string) (bool, error) {
	if p.hub.DeviceOnline(userID, deviceID) {
		return true, nil
	}
	if p.dir == nil {
		return false, nil // a single node knows every connection
	}
	return p.dir.DeviceOnline(ctx, deviceID)
}

// DeviceOnline says whether push counts a device as connected on some
// node (tests).
func (a *App) DeviceOnline(ctx context.Context, userID, deviceID string) (bool, error) {
	return a.devices.DeviceOnline(ctx, userID, deviceID)
}

// PushSettled waits until every push of the messages committed so far is
// sent, failed or dropped (tests).
func (a *App) PushSettled(ctx context.Context) error { return a.push.Settled(ctx) }
