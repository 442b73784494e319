package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/limittest"
	"github.com/pageshot/pageshot/internal/redis"
	"github.com/pageshot/pageshot/internal/redistest"
	"github.com/pageshot/pageshot/internal/waittest"
)

// open returns a limiter on the server at url, closed when t ends.
func open(t testing.TB, url string, cfg redis.Config) *redis.Limiter {
	t.Helper()
	l, err := redis.Open(url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func limiters(l *redis.Limiter) limittest.Limiters {
	// Redis keeps the time: waiting is letting the real time pass.
	return limittest.Limiters{Rate: l, Concurrency: l, Wait: time.Sleep}
}

func TestConformance(t *testing.T) {
	url := redistest.URL(t)
	t.Parallel()
	limittest.Exercise(t, func(t *testing.T) limittest.Limiters {
		return limiters(open(t, url, redis.Config{Prefix: redistest.Prefix(t, url)}))
	})
}

// TestNodes: two limiters with clients of their own, as two nodes, share
// one prefix on one server.
func TestNodes(t *testing.T) {
	url := redistest.URL(t)
	t.Parallel()
	limittest.ExerciseNodes(t, func(t *testing.T) (a, b limittest.Limiters) {
		prefix := redistest.Prefix(t, url)
		return limiters(open(t, url, redis.Config{Prefix: prefix})), limiters(open(t, url, redis.Config{Prefix: prefix}))
	})
}

// wantUnavailable checks that err is the service_unavailable error of a
// Redis that cannot be reached.
func wantUnavailable(t *testing.T, what string, err error, retryAfter time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error while Redis is down", what)
	}
	e := pageshot.AsError(err)
	if e.Code != pageshot.CodeServiceUnavailable || e.RetryAfter != retryAfter || !errors.Is(err, redis.ErrUnavailable) || !e.Retryable() {
		t.Fatalf("%s: %v (code %s, retry after %v), want service_unavailable with Retry-After %v wrapping ErrUnavailable",
			what, err, e.Code, e.RetryAfter, retryAfter)
	}
}

// TestRedisStopped: with its Redis stopped, every call that needs Redis
// fails with service_unavailable and a Retry-After, never a pass; when
// Redis is back, the same limiter works again.
func TestRedisStopped(t *testing.T) {
	srv := redistest.StartServer(t)
	const retryAfter = 3 * time.Second
	logs := &waittest.Buffer{}
	l := open(t, srv.URL(), redis.Config{RetryAfter: retryAfter, Lease: 3 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := t.Context()

	if err := l.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := l.Allow(ctx, "key:a", 10); err != nil || !st.Allowed {
		t.Fatalf("Allow with Redis up: %+v, %v", st, err)
	}
	held, ok, err := l.Acquire(ctx, "key:a", 2)
	if err != nil || !ok {
		t.Fatalf("Acquire with Redis up: %v, %v", ok, err)
	}
	kept, ok, err := l.Acquire(ctx, "key:a", 2)
	if err != nil || !ok {
		t.Fatalf("Acquire with Redis up: %v, %v", ok, err)
	}
	defer kept()

	srv.Stop()
	for i := range 3 {
		st, err := l.Allow(ctx, "key:a", 10)
		wantUnavailable(t, "Allow", err, retryAfter)
		if st.Allowed {
			t.Fatalf("Allow %d passed while Redis is down: %+v", i, st)
		}
		st, err = l.Allow(ctx, "key:fresh", 10)
		wantUnavailable(t, "Allow on a new bucket", err, retryAfter)
		if st.Allowed {
			t.Fatalf("Allow on a new bucket passed while Redis is down: %+v", st)
		}
		_, err = l.Peek(ctx, "key:a", 10)
		wantUnavailable(t, "Peek", err, retryAfter)
		release, ok, err := l.Acquire(ctx, "key:b", 2)
		wantUnavailable(t, "Acquire", err, retryAfter)
		if ok || release != nil {
			t.Fatalf("Acquire %d passed while Redis is down", i)
		}
		wantUnavailable(t, "Ping", l.Ping(ctx), retryAfter)
	}
	// Releasing while Redis is down returns; the lease would expire.
	held()
	// No limit needs no Redis.
	if st, err := l.Allow(ctx, "key:a", 0); err != nil || !st.Allowed {
		t.Errorf("an unlimited rate while Redis is down: %+v, %v", st, err)
	}
	if _, ok, err := l.Acquire(ctx, "key:a", 0); err != nil || !ok {
		t.Errorf("an unlimited concurrency while Redis is down: %v, %v", ok, err)
	}

	// The lease still held keeps trying to renew, and says so.
	waitLog(t, logs, "renew concurrency lease")

	srv.Start()
	if !waittest.Poll(30*time.Second, 50*time.Millisecond, func() bool { return l.Ping(ctx) == nil }) {
		t.Fatalf("the limiter does not reach the restarted Redis: %v", l.Ping(ctx))
	}
	// The restarted server kept nothing: the buckets start full.
	if st, err := l.Allow(ctx, "key:a", 10); err != nil || !st.Allowed || st.Remaining != 9 {
		t.Fatalf("Allow after Redis came back: %+v, %v", st, err)
	}
	var releases []func()
	for i := range 2 {
		rel, ok, err := l.Acquire(ctx, "key:b", 2)
		if err != nil || !ok {
			t.Fatalf("Acquire %d after Redis came back: %v, %v", i+1, ok, err)
		}
		releases = append(releases, rel)
	}
	if _, ok, err := l.Acquire(ctx, "key:b", 2); err != nil || ok {
		t.Fatalf("a third Acquire of 2 after Redis came back: %v, %v", ok, err)
	}
	for _, r := range releases {
		r()
	}
	// The restarted server lost the lease held through the outage: its
	// holder finds out at its next renewal and says so.
	waitLog(t, logs, "concurrency lease lost")
}

// TestOpen: a malformed URL is refused at Open, and an unreachable server
// is reported by Ping, not by Open.
func TestOpen(t *testing.T) {
	if _, err := redis.Open("http://127.0.0.1:6379", redis.Config{}); err == nil {
		t.Error("Open accepted an http:// URL")
	}
	// Port 1 on loopback: nothing listens there.
	l := open(t, "redis://127.0.0.1:1/0", redis.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	wantUnavailable(t, "Ping", l.Ping(ctx), redis.DefaultRetryAfter)
	cfg := l.Config()
	if cfg.Prefix != redis.DefaultPrefix || cfg.Lease != redis.DefaultLease || cfg.RetryAfter != redis.DefaultRetryAfter {
		t.Errorf("defaults: %+v", cfg)
	}
	if got := open(t, "redis://127.0.0.1:1/0", redis.Config{Lease: time.Nanosecond}).Config().Lease; got != redis.MinLease {
		t.Errorf("a lease of 1 ns became %v, want %v", got, redis.MinLease)
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// waitLog waits up to a minute for text in logs, or fails t.
func waitLog(t *testing.T, logs *waittest.Buffer, text string) {
	t.Helper()
	if !logs.WaitFor(time.Minute, text) {
		t.Fatalf("no log line %q within a minute; logs:\n%s", text, logs.String())
	}
}
