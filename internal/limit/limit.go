// Package limit provides pageshot's in-process rate and concurrency limits
// for a single node: token buckets from golang.org/x/time/rate and counters
// of work in flight. Both forget buckets that are idle, so a flood of
// distinct client addresses cannot grow them without bound.
package limit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/pageshot/pageshot"
)

// sweepEvery is how often idle buckets are dropped.
const sweepEvery = time.Minute

// Rate is an in-process pageshot.RateLimiter. The zero value is not usable;
// call NewRate.
type Rate struct {
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	perMinute int
	lim       *rate.Limiter
}

var _ pageshot.RateLimiter = (*Rate)(nil)

// NewRate returns an empty rate limiter. now, if not nil, replaces
// time.Now (for tests).
func NewRate(now func() time.Time) *Rate {
	if now == nil {
		now = time.Now
	}
	return &Rate{now: now, buckets: make(map[string]*bucket), lastSweep: now()}
}

// Allow implements pageshot.RateLimiter. A perMinute of 0 or less allows
// every request.
func (r *Rate) Allow(_ context.Context, name string, perMinute int) (pageshot.RateState, error) {
	return r.take(name, perMinute, 1), nil
}

// Peek implements pageshot.RateLimiter.
func (r *Rate) Peek(_ context.Context, name string, perMinute int) (pageshot.RateState, error) {
	return r.take(name, perMinute, 0), nil
}

func (r *Rate) take(name string, perMinute, n int) pageshot.RateState {
	if perMinute <= 0 {
		return pageshot.RateState{Allowed: true, Limit: 0, Remaining: 0}
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) >= sweepEvery {
		r.sweep(now)
	}
	b := r.buckets[name]
	if b == nil || b.perMinute != perMinute {
		// A changed plan starts a full bucket at the new rate.
		b = &bucket{perMinute: perMinute, lim: rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)}
		r.buckets[name] = b
	}
	st := pageshot.RateState{Limit: perMinute, Allowed: true}
	if n > 0 {
		st.Allowed = b.lim.AllowN(now, n)
	}
	tokens := b.lim.TokensAt(now)
	perSecond := float64(perMinute) / 60
	st.Remaining = max(0, int(math.Floor(tokens)))
	st.ResetAfter = seconds((float64(perMinute) - tokens) / perSecond)
	if !st.Allowed {
		st.RetryAfter = seconds((1 - tokens) / perSecond)
	}
	return st
}

// sweep drops buckets that are full again: forgetting them loses nothing.
func (r *Rate) sweep(now time.Time) {
	for name, b := range r.buckets {
		if b.lim.TokensAt(now) >= float64(b.perMinute) {
			delete(r.buckets, name)
		}
	}
	r.lastSweep = now
}

// Len returns the number of buckets held, for tests and metrics.
func (r *Rate) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}

func seconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(s * float64(time.Second)))
}

// Concurrency is an in-process pageshot.ConcurrencyLimiter.
type Concurrency struct {
	mu       sync.Mutex
	inFlight map[string]int
}

var _ pageshot.ConcurrencyLimiter = (*Concurrency)(nil)

// NewConcurrency returns a limiter with nothing in flight.
func NewConcurrency() *Concurrency {
	return &Concurrency{inFlight: make(map[string]int)}
}

// Acquire implements pageshot.ConcurrencyLimiter. A max of 0 or less
// allows any number.
func (c *Concurrency) Acquire(_ context.Context, name string, max int) (func(), bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.inFlight[name] >= max {
		return nil, false, nil
	}
	c.inFlight[name]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.inFlight[name]--; c.inFlight[name] <= 0 {
				delete(c.inFlight, name)
			}
		})
	}, true, nil
}

// InFlight returns the work in flight in bucket.
func (c *Concurrency) InFlight(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight[name]
}
