package limits

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rates is a token bucket per key: a key may take burst tokens at once and
// perSecond more each second. A nil *Rates allows everything (the limit is
// off). Safe for concurrent use.
type Rates struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	t  *table[*rate.Limiter]
}

// NewRates returns per-key buckets; perSecond <= 0 turns the limit off
// (nil). maxKeys bounds the keys remembered at once.
func NewRates(perSecond float64, burst, maxKeys int) *Rates {
	if perSecond <= 0 {
		return nil
	}
	r := &Rates{limit: rate.Limit(perSecond), burst: max(burst, 1)}
	// A full bucket is what a new key gets: forgetting it loses nothing.
	r.t = newTable(maxKeys, func(l **rate.Limiter, now time.Time) bool {
		return (*l).TokensAt(now) >= float64(r.burst)
	})
	return r
}

// Take takes one token from key's bucket at now. When the bucket is empty
// it takes nothing and says how long until a token is there.
func (r *Rates) Take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if r == nil {
		return true, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := *r.t.get(key, now, func() *rate.Limiter { return rate.NewLimiter(r.limit, r.burst) })
	if l.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - l.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / float64(r.limit) * float64(time.Second)))
}

// Keys is how many keys are remembered now.
func (r *Rates) Keys() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t.len()
}
