package gateway

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/parleychat/parley/internal/bus"
)

const hubShards = 64

// Hub is the registry of this node's connections, sharded by user id so
// that fan-out to many users does not contend on one lock. It is also the
// in-process bus: Publish delivers straight to local connections.
type Hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu    sync.RWMutex
	users map[string][]*Conn
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	h := &Hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].users = map[string][]*Conn{}
	}
	return h
}

func (h *Hub) shard(userID string) *hubShard {
	return &h.shards[maphash.String(h.seed, userID)%hubShards]
}

func (h *Hub) register(c *Conn) {
	s := h.shard(c.userID)
	s.mu.Lock()
	s.users[c.userID] = append(s.users[c.userID], c)
	s.mu.Unlock()
}

func (h *Hub) unregister(c *Conn) {
	s := h.shard(c.userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.users[c.userID]
	for i, x := range conns {
		if x == c {
			conns[i] = conns[len(conns)-1]
			conns[len(conns)-1] = nil
			conns = conns[:len(conns)-1]
			break
		}
	}
	if len(conns) == 0 {
		delete(s.users, c.userID)
	} else {
		s.users[c.userID] = conns
	}
}

// Publish delivers ev to every local connection of each user. It never
// blocks: a connection too far behind is disconnected instead.
func (h *Hub) Publish(_ context.Context, userIDs []string, ev *bus.Event) {
	for _, u := range userIDs {
		s := h.shard(u)
		s.mu.RLock()
		for _, c := range s.users[u] {
			c.Deliver(ev)
		}
		s.mu.RUnlock()
	}
}

// Online reports whether userID has a connection on this node.
func (h *Hub) Online(userID string) bool {
	s := h.shard(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users[userID]) > 0
}

// DeviceOnline reports whether deviceID, a session of userID, has a
// connection on this node.
func (h *Hub) DeviceOnline(userID, deviceID string) bool {
	s := h.shard(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.users[userID] {
		if c.deviceID == deviceID {
			return true
		}
	}
	return false
}
