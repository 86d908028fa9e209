package cache

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
)

type row struct{ id, v string }

func rowID(r row) string { return r.id }

func TestGetPutDrop(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	c := NewIndexed[string](clk, Config{MaxEntries: 10, MaxAge: time.Minute}, rowID)
	if _, ok := c.Get("k"); ok {
		t.Fatal("hit in an empty cache")
	}
	if !c.Put("k", row{"d1", "x"}, c.Gen()) {
		t.Fatal("fill refused")
	}
	if r, ok := c.Get("k"); !ok || r.v != "x" {
		t.Fatalf("Get = %v, %v", r, ok)
	}
	c.Drop("k")
	if _, ok := c.Get("k"); ok {
		t.Fatal("hit after Drop")
	}
	c.Put("k", row{"d1", "y"}, c.Gen())
	c.DropIndexed("d1")
	if _, ok := c.Get("k"); ok || c.Len() != 0 {
		t.Fatalf("after DropIndexed: len %d", c.Len())
	}
	c.Put("a", row{"d1", "1"}, c.Gen())
	c.Put("b", row{"d2", "2"}, c.Gen())
	c.Clear()
	if c.Len() != 0 {
		t.Fatalf("after Clear: len %d", c.Len())
	}
}

func TestEntriesAgeOut(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	c := New[string, int](clk, Config{MaxEntries: 10, MaxAge: time.Minute})
	c.Put("k", 1, c.Gen())
	clk.Advance(time.Minute - time.Nanosecond)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("miss before the entry's age")
	}
	clk.Advance(time.Nanosecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("hit at the entry's age")
	}
	// A fill replaces the aged entry.
	c.Put("k", 2, c.Gen())
	if v, ok := c.Get("k"); !ok || v != 2 {
		t.Fatalf("after refill: %d, %v", v, ok)
	}
}

func TestNoMaxAge(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	c := New[string, int](clk, Config{MaxEntries: 10})
	c.Put("k", 1, c.Gen())
	clk.Advance(24 * 365 * time.Hour)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("MaxAge 0 aged an entry out")
	}
}

// TestFillAfterInvalidationIsRefused: a value read before an invalidation
// must not be stored after it.
func TestFillAfterInvalidationIsRefused(t *testing.T) {
	c := NewIndexed[string](clock.NewFake(time.Unix(1000, 0)), Config{MaxEntries: 10}, rowID)
	for name, invalidate := range map[string]func(){
		"Drop":        func() { c.Drop("other") },
		"DropIndexed": func() { c.DropIndexed("other") },
		"Clear":       c.Clear,
	} {
		gen := c.Gen()
		invalidate()
		if c.Put("k", row{"d", "stale"}, gen) {
			t.Errorf("a fill read before %s was stored", name)
		}
		if _, ok := c.Get("k"); ok {
			t.Errorf("a fill read before %s is served", name)
		}
	}
}

func TestBound(t *testing.T) {
	c := NewIndexed[string](clock.NewFake(time.Unix(1000, 0)), Config{MaxEntries: 3}, rowID)
	for i := range 10 {
		c.Put(fmt.Sprint("k", i), row{fmt.Sprint("d", i), "v"}, c.Gen())
		if c.Len() > 3 {
			t.Fatalf("%d entries, bound 3", c.Len())
		}
	}
	if _, ok := c.Get("k9"); !ok {
		t.Fatal("the newest entry was evicted")
	}
	if len(c.ids) != c.Len() {
		t.Fatalf("index holds %d ids for %d entries", len(c.ids), c.Len())
	}
	// Replacing a key keeps one entry and one id.
	c.Put("k9", row{"d9", "w"}, c.Gen())
	if len(c.ids) != c.Len() || c.Len() != 3 {
		t.Fatalf("after replace: %d ids, %d entries", len(c.ids), c.Len())
	}
}

func TestOff(t *testing.T) {
	c := NewIndexed[string](clock.NewFake(time.Unix(1000, 0)), Config{MaxEntries: 0}, rowID)
	if c != nil {
		t.Fatal("MaxEntries 0 made a cache")
	}
	if c.Put("k", row{"d", "v"}, c.Gen()) {
		t.Fatal("an off cache stored a value")
	}
	if _, ok := c.Get("k"); ok {
		t.Fatal("an off cache hit")
	}
	c.Drop("k")
	c.DropIndexed("d")
	c.Clear()
	if c.Len() != 0 {
		t.Fatal("an off cache holds entries")
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	c := New[[32]byte, row](clock.Real{}, Config{MaxEntries: 10, MaxAge: time.Minute})
	var k [32]byte
	c.Put(k, row{"d", "v"}, c.Gen())
	if n := testing.AllocsPerRun(100, func() { c.Get(k) }); n != 0 {
		t.Fatalf("Get allocates %.0f times", n)
	}
}
