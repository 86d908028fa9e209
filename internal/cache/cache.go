// Package cache keeps copies of stored rows in memory, bounded in count
// and in age, for the lookups that run on every connect (a session by its
// token, a user's presence settings).
//
// A copy may only be dropped by whoever changes the row (Drop), or by a
// message from another node that did; a message can be lost (Redis pub/sub
// drops what it publishes while a node is cut off), so every entry also
// ages out after MaxAge, and the whole cache can be cleared (Clear) when
// the channel of those messages comes back.
package cache

import (
	"sync"
	"time"

	"github.com/parleychat/parley/internal/clock"
)

// Config bounds a cache.
type Config struct {
	// MaxEntries is the most entries held; past it an arbitrary one makes
	// room. 0 turns the cache off: New returns nil, which misses always.
	MaxEntries int
	// MaxAge is how long an entry is served after it was filled: it bounds
	// how long a lost invalidation leaves a copy stale. 0: no bound.
	MaxAge time.Duration
}

// Cache is a bounded map of copies of stored values, safe for concurrent
// use. A nil *Cache is a cache that is off: every Get misses and every Put
// is dropped, so callers need no second code path.
//
// Fills race invalidations: a caller reads the store, the row changes and
// is invalidated, then the caller puts what it read. So a fill carries the
// generation it read under (Gen, taken before the read), and Put refuses
// it if any Drop or Clear came since.
type Cache[K comparable, V any] struct {
	clock  clock.Clock
	max    int
	maxAge time.Duration
	// index, if set, names a secondary id of a value, by which DropIndexed
	// finds its entry (a session's device id, for a cache keyed by token).
	index func(V) string

	mu  sync.RWMutex
	m   map[K]entry[V]
	ids map[string]K // index(value) -> key, when index is set
	gen uint64
}

type entry[V any] struct {
	v V
	// until is when the entry stops being served, in Unix nanoseconds of
	// the injected clock (0: never); an int64 rather than a time.Time
	// keeps 16 bytes off every entry.
	until int64
}

// New returns a cache, or nil (off) when cfg.MaxEntries is 0.
func New[K comparable, V any](clk clock.Clock, cfg Config) *Cache[K, V] {
	if cfg.MaxEntries <= 0 {
		return nil
	}
	return &Cache[K, V]{clock: clk, max: cfg.MaxEntries, maxAge: cfg.MaxAge, m: map[K]entry[V]{}}
}

// NewIndexed is New with a secondary id for each value, for DropIndexed.
// Each value's id must be unique among the entries.
func NewIndexed[K comparable, V any](clk clock.Clock, cfg Config, index func(V) string) *Cache[K, V] {
	c := New[K, V](clk, cfg)
	if c != nil {
		c.index, c.ids = index, map[string]K{}
	}
	return c
}

// Get returns the value of k if it is held and not too old. It does not
// allocate: it runs on every connect.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || (e.until != 0 && c.clock.Now().UnixNano() >= e.until) {
		// Too old: left for the fill that follows this miss to replace.
		return zero, false
	}
	return e.v, true
}

// Gen returns the generation to hand to Put with what is read next.
func (c *Cache[K, V]) Gen() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// Put stores v under k, unless a Drop or Clear came since gen was taken
// (then v may be older than what was dropped); it reports whether it did.
func (c *Cache[K, V]) Put(k K, v V, gen uint64) bool {
	if c == nil {
		return false
	}
	e := entry[V]{v: v}
	if c.maxAge > 0 {
		e.until = c.clock.Now().Add(c.maxAge).UnixNano()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return false
	}
	old, replace := c.m[k]
	if replace {
		c.unindexLocked(old.v)
	} else if len(c.m) >= c.max {
		// Full: any entry makes room. Map iteration starts at a random
		// place, so this costs O(1) and spreads evictions.
		for ek, ev := range c.m {
			c.deleteLocked(ek, ev.v)
			break
		}
	}
	c.m[k] = e
	if c.index != nil {
		c.ids[c.index(v)] = k
	}
	return true
}

// Drop removes the entries of keys, and refuses the fills under way.
func (c *Cache[K, V]) Drop(keys ...K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if e, ok := c.m[k]; ok {
			c.deleteLocked(k, e.v)
		}
	}
}

// DropIndexed removes the entries whose values have the given secondary
// ids, and refuses the fills under way.
func (c *Cache[K, V]) DropIndexed(ids ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		if k, ok := c.ids[id]; ok {
			c.deleteLocked(k, c.m[k].v)
		}
	}
}

// Clear removes every entry, and refuses the fills under way.
func (c *Cache[K, V]) Clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
	clear(c.ids)
}

// Len is the number of entries held, too old ones included.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *Cache[K, V]) deleteLocked(k K, v V) {
	delete(c.m, k)
	c.unindexLocked(v)
}

func (c *Cache[K, V]) unindexLocked(v V) {
	if c.index != nil {
		delete(c.ids, c.index(v))
	}
}
