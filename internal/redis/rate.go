package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/pageshot/pageshot"
)

// Allow implements pageshot.RateLimiter with a GCRA bucket of perMinute
// requests a minute and bursts of perMinute, the same curve as the
// in-process limiter's token bucket. A perMinute of 0 or less allows every
// request without contacting Redis. A changed perMinute starts a full
// bucket at the new rate (the old one expires by itself). Errors are
// service_unavailable; the state is then not Allowed.
func (l *Limiter) Allow(ctx context.Context, bucket string, perMinute int) (pageshot.RateState, error) {
	return l.rate(ctx, bucket, perMinute, 1)
}

// Peek implements pageshot.RateLimiter: the state of bucket without
// counting a request. Like the in-process limiter's, it is Allowed, as
// nothing was refused.
func (l *Limiter) Peek(ctx context.Context, bucket string, perMinute int) (pageshot.RateState, error) {
	return l.rate(ctx, bucket, perMinute, 0)
}

func (l *Limiter) rate(ctx context.Context, bucket string, perMinute, n int) (pageshot.RateState, error) {
	if perMinute <= 0 {
		return pageshot.RateState{Allowed: true}, nil
	}
	// The rate is part of the key, so a plan change starts a fresh bucket
	// as in-process, instead of reading the old bucket's state at a
	// different emission interval.
	key := l.cfg.Prefix + bucket + "/" + strconv.Itoa(perMinute)
	// A cost of 0 reads the bucket: redis_rate's script then writes back
	// only what it read.
	res, err := l.gcra.AllowN(ctx, key, redis_rate.PerMinute(perMinute), n)
	if err != nil {
		return pageshot.RateState{}, l.unavailable("count request", err)
	}
	st := pageshot.RateState{
		Allowed:    n == 0 || res.Allowed > 0,
		Limit:      perMinute,
		Remaining:  max(0, res.Remaining),
		ResetAfter: micros(res.ResetAfter),
	}
	if !st.Allowed {
		st.RetryAfter = micros(res.RetryAfter)
	}
	return st, nil
}

// micros rounds d up to Redis's clock resolution, so that a client waiting
// for it is never early; redis_rate's -1 ("not limited") becomes 0.
func micros(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + time.Microsecond - 1).Truncate(time.Microsecond)
}
