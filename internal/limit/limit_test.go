package limit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/limittest"
)

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	r := NewRate(clk.now)

	for i := range 60 {
		st, _ := r.Allow(ctx, "k", 60)
		if !st.Allowed || st.Limit != 60 || st.Remaining != 59-i {
			t.Fatalf("request %d: %+v", i, st)
		}
	}
	st, _ := r.Allow(ctx, "k", 60)
	if st.Allowed || st.Remaining != 0 || st.RetryAfter <= 0 || st.RetryAfter > time.Second {
		t.Fatalf("61st request: %+v, want refused with a retry within 1 s", st)
	}
	if st.ResetAfter < 59*time.Second || st.ResetAfter > time.Minute {
		t.Errorf("reset after %v, want about a minute", st.ResetAfter)
	}
	if other, _ := r.Allow(ctx, "other", 60); !other.Allowed {
		t.Error("buckets are not independent")
	}

	clk.add(st.RetryAfter)
	if st, _ := r.Allow(ctx, "k", 60); !st.Allowed {
		t.Fatalf("after Retry-After: %+v", st)
	}
	if st, _ := r.Peek(ctx, "k", 60); !st.Allowed || st.Remaining != 0 {
		t.Errorf("peek: %+v", st)
	}

	// Idle buckets are forgotten once full.
	clk.add(2 * time.Minute)
	r.Peek(ctx, "fresh", 60)
	if n := r.Len(); n != 1 {
		t.Errorf("%d buckets after two idle minutes, want 1", n)
	}

	if st, _ := r.Allow(ctx, "unlimited", 0); !st.Allowed {
		t.Errorf("a zero rate must not limit: %+v", st)
	}
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	c := NewConcurrency()
	var releases []func()
	for range 3 {
		rel, ok, _ := c.Acquire(ctx, "k", 3)
		if !ok {
			t.Fatal("refused under the limit")
		}
		releases = append(releases, rel)
	}
	if _, ok, _ := c.Acquire(ctx, "k", 3); ok {
		t.Fatal("a fourth acquire passed a limit of 3")
	}
	releases[0]()
	releases[0]() // a second call must not free another slot
	if n := c.InFlight("k"); n != 2 {
		t.Fatalf("in flight %d, want 2", n)
	}
	if _, ok, _ := c.Acquire(ctx, "k", 3); !ok {
		t.Fatal("refused after a release")
	}
	if _, ok, _ := c.Acquire(ctx, "k", 3); ok {
		t.Fatal("double release freed a slot")
	}
}

func BenchmarkRateAllow(b *testing.B) {
	ctx := context.Background()
	r := NewRate(nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Allow(ctx, "key_abcdefghijklmnop", 1<<30)
	}
}

func TestConformance(t *testing.T) {
	limittest.Exercise(t, func(t *testing.T) limittest.Limiters {
		clk := &clock{t: time.Unix(1_800_000_000, 0)}
		return limittest.Limiters{Rate: NewRate(clk.now), Concurrency: NewConcurrency(), Wait: clk.add}
	})
}

func BenchmarkConcurrencyAcquire(b *testing.B) {
	ctx := context.Background()
	c := NewConcurrency()
	b.ReportAllocs()
	for b.Loop() {
		release, ok, _ := c.Acquire(ctx, "key_abcdefghijklmnop", 4)
		if !ok {
			b.Fatal("refused")
		}
		release()
	}
}

func BenchmarkRateAllowParallel(b *testing.B) {
	ctx := context.Background()
	r := NewRate(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Allow(ctx, "key_abcdefghijklmnop", 1<<30)
		}
	})
}

func BenchmarkConcurrencyAcquireParallel(b *testing.B) {
	ctx := context.Background()
	c := NewConcurrency()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, ok, _ := c.Acquire(ctx, "key_abcdefghijklmnop", 1<<20)
			if !ok {
				b.Error("refused")
				return
			}
			release()
		}
	})
}
