package redis_test

import (
	"testing"

	"github.com/pageshot/pageshot/internal/redis"
	"github.com/pageshot/pageshot/internal/redistest"
)

// The same cases as internal/limit's benchmarks, so that one run of both
// packages compares admission on Redis with admission in process.

func benchLimiter(b *testing.B) *redis.Limiter {
	url := redistest.URL(b)
	return open(b, url, redis.Config{Prefix: redistest.Prefix(b, url)})
}

func BenchmarkRateAllow(b *testing.B) {
	l := benchLimiter(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, "key_abcdefghijklmnop", 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRateAllowParallel(b *testing.B) {
	l := benchLimiter(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(ctx, "key_abcdefghijklmnop", 1<<30); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkConcurrencyAcquire(b *testing.B) {
	l := benchLimiter(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		release, ok, err := l.Acquire(ctx, "key_abcdefghijklmnop", 4)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		release()
	}
}

func BenchmarkConcurrencyAcquireParallel(b *testing.B) {
	l := benchLimiter(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, ok, err := l.Acquire(ctx, "key_abcdefghijklmnop", 1<<20)
			if err != nil || !ok {
				b.Error(ok, err)
				return
			}
			release()
		}
	})
}
