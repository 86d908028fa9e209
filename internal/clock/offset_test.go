package clock

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestOffsetNowMovesByTheOffset(t *testing.T) {
	o := NewOffset(time.Hour)
	before := time.Now()
	got := o.Now()
	after := time.Now()
	if got.Before(before.Add(time.Hour)) || got.After(after.Add(time.Hour)) {
		t.Fatalf("Now = %s, want within [%s, %s]", got, before.Add(time.Hour), after.Add(time.Hour))
	}
	if z := NewOffset(0); z.Offset() != 0 {
		t.Fatalf("NewOffset(0).Offset() = %s", z.Offset())
	}
}

func TestOffsetAdvanceAccumulates(t *testing.T) {
	o := NewOffset(time.Minute)
	if got := o.Advance(2 * time.Hour); got != 2*time.Hour+time.Minute {
		t.Fatalf("Advance returned %s", got)
	}
	if got := o.Advance(time.Second); got != 2*time.Hour+time.Minute+time.Second {
		t.Fatalf("Advance returned %s", got)
	}
	if got := o.Offset(); got != 2*time.Hour+time.Minute+time.Second {
		t.Fatalf("Offset = %s", got)
	}
	if now := o.Now(); now.Before(time.Now().Add(2 * time.Hour)) {
		t.Fatalf("Now = %s, not 2h ahead", now)
	}
	// An offset past the largest Duration saturates instead of wrapping
	// into the past.
	o.Advance(math.MaxInt64)
	if got := o.Offset(); got != math.MaxInt64 {
		t.Fatalf("after overflow: Offset = %s", got)
	}
}

func TestOffsetRefusesToGoBack(t *testing.T) {
	for name, f := range map[string]func(){
		"Advance(0)":    func() { NewOffset(0).Advance(0) },
		"Advance(-1)":   func() { NewOffset(time.Hour).Advance(-1) },
		"NewOffset(-1)": func() { NewOffset(-1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			f()
		})
	}
}

// TestOffsetConcurrent: concurrent advances all count, and readers never
// see the clock go backwards (run under -race).
func TestOffsetConcurrent(t *testing.T) {
	o := NewOffset(0)
	const writers, steps = 4, 1000
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range steps {
				o.Advance(time.Millisecond)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			var last time.Duration
			for range steps {
				cur := o.Offset()
				if cur < last {
					t.Errorf("offset went back from %s to %s", last, cur)
					return
				}
				last = cur
				_ = o.Now()
			}
		})
	}
	wg.Wait()
	if got, want := o.Offset(), writers*steps*time.Millisecond; got != want {
		t.Fatalf("Offset = %s, want %s", got, want)
	}
}
