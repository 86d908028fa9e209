// Package limits holds the mechanisms behind Parley's abuse limits: token
// buckets and failure backoffs keyed by client address, account or user in
// tables that cannot grow without bound, counts of open connections, and a
// listener that caps connections before they cost a file descriptor each.
//
// Nothing here reads a clock or knows a wire code: callers pass now (from
// the injected clock.Clock) and map a refusal to their protocol's answer.
// Every limit is per process; in a cluster each node counts its own.
package limits

import (
	"container/list"
	"time"
)

// table maps keys to values in least-recently-used order. It stays
// bounded two ways: entries that have become idle (their value is what a
// fresh one would be, so forgetting them loses nothing) are dropped as
// they reach the back, and past max entries the least recently used one
// is dropped whatever its state. An attacker with more than max keys
// (addresses, usernames) can thus reset the oldest key's state; with the
// default sizes that takes hundreds of thousands of keys, each of which
// must itself pass the limits.
//
// Not safe for concurrent use: its owner holds a lock around every call.
type table[V any] struct {
	max  int
	m    map[string]*list.Element
	lru  list.List // of *entry[V], most recently used at the front
	idle func(v *V, now time.Time) bool
}

type entry[V any] struct {
	key string
	v   V
}

func newTable[V any](max int, idle func(v *V, now time.Time) bool) *table[V] {
	return &table[V]{max: max, m: map[string]*list.Element{}, idle: idle}
}

// sweepPerUse is how many entries at the back each use inspects: more than
// one, so the table shrinks while it is used, not only while it grows.
const sweepPerUse = 2

// get returns key's value, creating it with fresh if absent, and marks it
// used. The pointer is valid until the next call.
func (t *table[V]) get(key string, now time.Time, fresh func() V) *V {
	t.sweep(now)
	if e, ok := t.m[key]; ok {
		t.lru.MoveToFront(e)
		return &e.Value.(*entry[V]).v
	}
	for len(t.m) >= t.max {
		t.remove(t.lru.Back())
	}
	e := t.lru.PushFront(&entry[V]{key: key, v: fresh()})
	t.m[key] = e
	return &e.Value.(*entry[V]).v
}

// peek returns key's value without creating it or marking it used.
func (t *table[V]) peek(key string) *V {
	if e, ok := t.m[key]; ok {
		return &e.Value.(*entry[V]).v
	}
	return nil
}

// forget drops key.
func (t *table[V]) forget(key string) {
	if e, ok := t.m[key]; ok {
		t.remove(e)
	}
}

func (t *table[V]) sweep(now time.Time) {
	for range sweepPerUse {
		e := t.lru.Back()
		if e == nil || !t.idle(&e.Value.(*entry[V]).v, now) {
			return
		}
		t.remove(e)
	}
}

func (t *table[V]) remove(e *list.Element) {
	delete(t.m, e.Value.(*entry[V]).key)
	t.lru.Remove(e)
}

func (t *table[V]) len() int { return len(t.m) }
