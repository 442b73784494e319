// Package limittest is the conformance suite every pageshot rate and
// concurrency limiter passes: the in-process one (internal/limit) and the
// Redis one (internal/redis). It pins the values that end up in the
// X-RateLimit-* and Retry-After headers, so that a client sees the same
// numbers whichever limiter a node runs.
//
// The Redis limiter runs on Redis's clock, so the suite cannot stop time:
// its bounds allow Slack of real time to pass between two calls on a busy
// machine, and no more.
package limittest

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// Slack is how much real time the suite allows between two calls of one
// check (a busy machine, a network round trip).
const Slack = 5 * time.Second

// Limiters is one implementation under test.
type Limiters struct {
	Rate        pageshot.RateLimiter
	Concurrency pageshot.ConcurrencyLimiter
	// Wait lets d pass for the limiters: a fake clock moves on, or, for a
	// limiter on a server's clock, the test waits for the real one.
	Wait func(d time.Duration)
}

// Exercise runs the suite. open returns limiters with no state of their
// own (a fresh instance, or a fresh key prefix) for each subtest.
func Exercise(t *testing.T, open func(t *testing.T) Limiters) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Limiters)
	}{
		{"Burst", testBurst},
		{"Buckets", testBuckets},
		{"Peek", testPeek},
		{"Refill", testRefill},
		{"UnlimitedRate", testUnlimitedRate},
		{"ConcurrentAllow", testConcurrentAllow},
		{"ConcurrencyMax", testConcurrencyMax},
		{"UnlimitedConcurrency", testUnlimitedConcurrency},
		{"ConcurrentAcquire", testConcurrentAcquire},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// ExerciseNodes runs the part of the suite about sharing: open returns
// two limiters on one new, empty state, as two nodes hold them. A key's
// limits hold for both together, and each node's headers show what the
// other spent.
func ExerciseNodes(t *testing.T, open func(t *testing.T) (a, b Limiters)) {
	t.Run("RateAcrossNodes", func(t *testing.T) {
		a, b := open(t)
		testRateAcrossNodes(t, a, b)
	})
	t.Run("ConcurrencyAcrossNodes", func(t *testing.T) {
		a, b := open(t)
		testConcurrencyAcrossNodes(t, a, b)
	})
}

func allow(t *testing.T, r pageshot.RateLimiter, bucket string, perMinute int) pageshot.RateState {
	t.Helper()
	st, err := r.Allow(t.Context(), bucket, perMinute)
	if err != nil {
		t.Fatalf("Allow(%q, %d): %v", bucket, perMinute, err)
	}
	return st
}

func peek(t *testing.T, r pageshot.RateLimiter, bucket string, perMinute int) pageshot.RateState {
	t.Helper()
	st, err := r.Peek(t.Context(), bucket, perMinute)
	if err != nil {
		t.Fatalf("Peek(%q, %d): %v", bucket, perMinute, err)
	}
	return st
}

// within reports whether d is in (want-Slack, want], give or take a
// millisecond of rounding.
func within(d, want time.Duration) bool { return d > want-Slack && d <= want+time.Millisecond }

// testBurst: a bucket of 5 a minute passes a burst of 5, counting
// Remaining down to 0, then refuses with the time until the next token;
// refused requests spend nothing.
func testBurst(t *testing.T, l Limiters) {
	const perMinute = 5
	const token = time.Minute / perMinute
	for i := range perMinute {
		st := allow(t, l.Rate, "k", perMinute)
		if !st.Allowed || st.Limit != perMinute || st.Remaining != perMinute-1-i || st.RetryAfter != 0 {
			t.Fatalf("request %d: %+v, want allowed, limit %d, remaining %d, no retry", i+1, st, perMinute, perMinute-1-i)
		}
		if want := time.Duration(i+1) * token; !within(st.ResetAfter, want) {
			t.Errorf("request %d: reset after %v, want about %v", i+1, st.ResetAfter, want)
		}
	}
	st := allow(t, l.Rate, "k", perMinute)
	if st.Allowed || st.Limit != perMinute || st.Remaining != 0 {
		t.Fatalf("request %d: %+v, want refused with limit %d, remaining 0", perMinute+1, st, perMinute)
	}
	if !within(st.RetryAfter, token) {
		t.Errorf("refused: retry after %v, want about %v (one token)", st.RetryAfter, token)
	}
	if !within(st.ResetAfter, time.Minute) {
		t.Errorf("refused: reset after %v, want about a minute", st.ResetAfter)
	}
	again := allow(t, l.Rate, "k", perMinute)
	if again.Allowed || again.RetryAfter > st.RetryAfter || again.ResetAfter > st.ResetAfter {
		t.Errorf("a refused request was counted: %+v after %+v", again, st)
	}
}

// testBuckets: buckets are independent, and a bucket asked at another
// rate (the key's plan changed) starts full at that rate.
func testBuckets(t *testing.T, l Limiters) {
	for range 2 {
		allow(t, l.Rate, "a", 2)
	}
	if st := allow(t, l.Rate, "a", 2); st.Allowed {
		t.Fatalf("third request of 2 a minute passed: %+v", st)
	}
	if st := allow(t, l.Rate, "b", 2); !st.Allowed || st.Remaining != 1 {
		t.Errorf("another bucket: %+v, want allowed with 1 remaining", st)
	}
	if st := allow(t, l.Rate, "a", 3); !st.Allowed || st.Limit != 3 || st.Remaining != 2 {
		t.Errorf("bucket at a new rate: %+v, want allowed, limit 3, remaining 2", st)
	}
}

// testPeek: Peek reports Limit, Remaining and ResetAfter as Allow would
// leave them, and counts nothing.
func testPeek(t *testing.T, l Limiters) {
	const perMinute = 4
	for range 3 {
		st := peek(t, l.Rate, "k", perMinute)
		if !st.Allowed || st.Limit != perMinute || st.Remaining != perMinute || st.RetryAfter != 0 || st.ResetAfter != 0 {
			t.Fatalf("peek at a fresh bucket: %+v, want allowed, limit %d, remaining %d, nothing to wait for", st, perMinute, perMinute)
		}
	}
	first := allow(t, l.Rate, "k", perMinute)
	for range 3 {
		st := peek(t, l.Rate, "k", perMinute)
		if !st.Allowed || st.Remaining != first.Remaining || st.ResetAfter > first.ResetAfter || !within(st.ResetAfter, time.Minute/perMinute) {
			t.Fatalf("peek after one request: %+v, want remaining %d and reset after about %v", st, first.Remaining, time.Minute/perMinute)
		}
	}
	for range perMinute - 1 {
		if st := allow(t, l.Rate, "k", perMinute); !st.Allowed {
			t.Fatalf("peeks were counted: %+v", st)
		}
	}
	if st := allow(t, l.Rate, "k", perMinute); st.Allowed {
		t.Fatalf("request %d passed: %+v", perMinute+1, st)
	}
	st := peek(t, l.Rate, "k", perMinute)
	if st.Remaining != 0 || st.Limit != perMinute || st.RetryAfter != 0 || !within(st.ResetAfter, time.Minute) {
		t.Errorf("peek at an empty bucket: %+v, want remaining 0, reset after about a minute", st)
	}
}

// testRefill: once RetryAfter has passed a request passes again, and
// tokens come back at perMinute a minute.
func testRefill(t *testing.T, l Limiters) {
	const perMinute = 60 // a token a second
	var st pageshot.RateState
	passed := 0
	for range 2 * perMinute {
		if st = allow(t, l.Rate, "k", perMinute); !st.Allowed {
			break
		}
		passed++
	}
	if st.Allowed || passed < perMinute || passed > perMinute+int(Slack/time.Second) {
		t.Fatalf("%d requests passed before a refusal (%+v), want %d", passed, st, perMinute)
	}
	if st.RetryAfter <= 0 || st.RetryAfter > time.Second {
		t.Fatalf("refused: retry after %v, want within a second", st.RetryAfter)
	}
	l.Wait(st.RetryAfter)
	if st := allow(t, l.Rate, "k", perMinute); !st.Allowed {
		t.Fatalf("refused after waiting Retry-After: %+v", st)
	}
	before := peek(t, l.Rate, "k", perMinute)
	const pause = 2500 * time.Millisecond
	l.Wait(pause)
	after := peek(t, l.Rate, "k", perMinute)
	if after.Remaining < 2 {
		t.Errorf("remaining %d after %v at a token a second, want at least 2", after.Remaining, pause)
	}
	if after.ResetAfter > before.ResetAfter-pause+time.Millisecond {
		t.Errorf("reset after %v, then %v after %v: the bucket does not refill", before.ResetAfter, after.ResetAfter, pause)
	}
}

// testUnlimitedRate: a rate of 0 (or less) passes everything.
func testUnlimitedRate(t *testing.T, l Limiters) {
	for _, perMinute := range []int{0, -1} {
		for i := range 100 {
			if st := allow(t, l.Rate, "k", perMinute); !st.Allowed {
				t.Fatalf("request %d at rate %d refused: %+v", i+1, perMinute, st)
			}
		}
		if st := peek(t, l.Rate, "k", perMinute); !st.Allowed {
			t.Errorf("peek at rate %d: %+v", perMinute, st)
		}
	}
}

// testConcurrentAllow: 40 requests at once on 10 a minute; exactly 10 pass.
func testConcurrentAllow(t *testing.T, l Limiters) {
	if n := race(t, []pageshot.RateLimiter{l.Rate}, 40, 10); n != 10 {
		t.Errorf("%d of 40 concurrent requests passed a limit of 10 a minute", n)
	}
}

// race sends n requests at once on bucket "k" at perMinute, spread over
// limiters, and returns how many passed.
func race(t *testing.T, limiters []pageshot.RateLimiter, n, perMinute int) int {
	var passed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			st, err := limiters[i%len(limiters)].Allow(t.Context(), "k", perMinute)
			if err != nil {
				errs <- err
				return
			}
			if st.Allowed {
				passed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Allow: %v", err)
	}
	return int(passed.Load())
}

func acquire(t *testing.T, c pageshot.ConcurrencyLimiter, bucket string, max int) (func(), bool) {
	t.Helper()
	release, ok, err := c.Acquire(t.Context(), bucket, max)
	if err != nil {
		t.Fatalf("Acquire(%q, %d): %v", bucket, max, err)
	}
	if ok && release == nil {
		t.Fatalf("Acquire(%q, %d): ok without a release", bucket, max)
	}
	return release, ok
}

// testConcurrencyMax: max slots are taken, the next is refused until one
// is released, a second call of one release frees nothing more, and
// buckets are independent.
func testConcurrencyMax(t *testing.T, l Limiters) {
	var releases []func()
	for i := range 3 {
		rel, ok := acquire(t, l.Concurrency, "k", 3)
		if !ok {
			t.Fatalf("acquire %d of 3 refused", i+1)
		}
		releases = append(releases, rel)
	}
	if _, ok := acquire(t, l.Concurrency, "k", 3); ok {
		t.Fatal("a fourth acquire passed a limit of 3")
	}
	if rel, ok := acquire(t, l.Concurrency, "other", 1); !ok {
		t.Fatal("another bucket is full too")
	} else {
		rel()
	}
	releases[0]()
	releases[0]() // must not free another slot
	rel, ok := acquire(t, l.Concurrency, "k", 3)
	if !ok {
		t.Fatal("refused after a release")
	}
	if _, ok := acquire(t, l.Concurrency, "k", 3); ok {
		t.Fatal("releasing twice freed two slots")
	}
	rel()
	for _, r := range releases[1:] {
		r()
	}
	for i := range 3 {
		if _, ok := acquire(t, l.Concurrency, "k", 3); !ok {
			t.Fatalf("after every release, acquire %d of 3 refused", i+1)
		}
	}
}

// testUnlimitedConcurrency: a max of 0 (or less) takes any number.
func testUnlimitedConcurrency(t *testing.T, l Limiters) {
	for _, max := range []int{0, -1} {
		var releases []func()
		for i := range 100 {
			rel, ok := acquire(t, l.Concurrency, "k", max)
			if !ok {
				t.Fatalf("acquire %d with max %d refused", i+1, max)
			}
			releases = append(releases, rel)
		}
		for _, r := range releases {
			r()
		}
	}
}

// testConcurrentAcquire: 50 acquires at once on a max of 2; exactly 2 pass.
// Then 50 workers take turns; no more than 2 ever hold a slot.
func testConcurrentAcquire(t *testing.T, l Limiters) {
	acquireRace(t, []pageshot.ConcurrencyLimiter{l.Concurrency}, 50, 2)
}

// acquireRace runs testConcurrentAcquire over limiters, spreading the
// attempts over them.
func acquireRace(t *testing.T, limiters []pageshot.ConcurrencyLimiter, n, max int) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		releases []func()
		errs     = make(chan error, n)
		start    = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			rel, ok, err := limiters[i%len(limiters)].Acquire(t.Context(), "k", max)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				mu.Lock()
				releases = append(releases, rel)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Acquire: %v", err)
	}
	if len(releases) != max {
		t.Fatalf("%d of %d concurrent acquires passed a max of %d", len(releases), n, max)
	}
	for _, r := range releases {
		r()
	}

	// Churn: every worker waits for a slot, holds it a moment, gives it
	// back. The count goes up after Acquire and down before release, so it
	// never exceeds what is really held.
	var inFlight, peak atomic.Int32
	deadline := time.Now().Add(2 * time.Minute)
	start = make(chan struct{})
	errs = make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			c := limiters[i%len(limiters)]
			for {
				rel, ok, err := c.Acquire(t.Context(), "k", max)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					now := inFlight.Add(1)
					for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
					}
					runtime.Gosched()
					inFlight.Add(-1)
					rel()
					return
				}
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("worker %d found no free slot in 2 minutes", i)
					return
				}
				runtime.Gosched()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := peak.Load(); p > int32(max) || p < 1 {
		t.Errorf("at most %d slots were held at once, want 1..%d", p, max)
	}
}

// testRateAcrossNodes: a key limited to 10 a minute gets exactly 10
// requests through both nodes together, and each node's Peek shows what
// the other spent.
func testRateAcrossNodes(t *testing.T, a, b Limiters) {
	const perMinute = 10
	allow(t, a.Rate, "shown", perMinute)
	allow(t, a.Rate, "shown", perMinute)
	allow(t, b.Rate, "shown", perMinute)
	for name, l := range map[string]Limiters{"a": a, "b": b} {
		if st := peek(t, l.Rate, "shown", perMinute); st.Remaining != perMinute-3 {
			t.Errorf("node %s shows %d remaining after 3 requests over both, want %d", name, st.Remaining, perMinute-3)
		}
	}
	if n := race(t, []pageshot.RateLimiter{a.Rate, b.Rate}, 40, perMinute); n != perMinute {
		t.Errorf("%d of 40 requests over two nodes passed a limit of %d a minute", n, perMinute)
	}
	for name, l := range map[string]Limiters{"a": a, "b": b} {
		st := allow(t, l.Rate, "k", perMinute)
		if st.Allowed || st.Remaining != 0 || st.RetryAfter <= 0 {
			t.Errorf("node %s after the limit: %+v, want refused with a Retry-After", name, st)
		}
	}
}

// testConcurrencyAcrossNodes: 50 acquires at once over both nodes on a max
// of 2: exactly 2 pass; then no more than 2 are ever held across both, and
// a slot released on one node is free on the other.
func testConcurrencyAcrossNodes(t *testing.T, a, b Limiters) {
	acquireRace(t, []pageshot.ConcurrencyLimiter{a.Concurrency, b.Concurrency}, 50, 2)
	rel, ok := acquire(t, a.Concurrency, "handover", 1)
	if !ok {
		t.Fatal("node a: refused on an empty bucket")
	}
	if _, ok := acquire(t, b.Concurrency, "handover", 1); ok {
		t.Fatal("node b took a slot node a holds")
	}
	rel()
	if _, ok := acquire(t, b.Concurrency, "handover", 1); !ok {
		t.Fatal("node b: refused after node a released")
	}
}
