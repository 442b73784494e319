package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A bucket's leases are a sorted set, "conc:" after the prefix, whose
// members are lease ids scored by their expiry in Redis's milliseconds.
// The set itself expires with its last lease, so idle buckets leave
// nothing behind.

// acquireScript drops the expired leases of KEYS[1], then adds lease
// ARGV[3] expiring ARGV[2] ms from now when fewer than ARGV[1] remain.
// Returns 1 when taken, 0 when the bucket is full. (replicate_commands lets
// a script write after reading TIME on Redis before 5; later it is the
// default.)
var acquireScript = goredis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1)
return 1
`)

// renewScript moves the expiry of lease ARGV[2] of KEYS[1] to ARGV[1] ms
// from now. A lease that expired is not revived (its slot may have been
// taken since): it is dropped and 0 returned.
var renewScript = goredis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not s or tonumber(s) <= now then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1)
return 1
`)

// Acquire implements pageshot.ConcurrencyLimiter: it takes one of max
// leases of bucket, shared by every node. While the lease is held a
// goroutine renews it every third of Config.Lease; release stops that
// and removes the lease. If the holder's node dies, the lease expires
// Config.Lease after its last renewal and the slot is free again. A max
// of 0 or less allows any number without contacting Redis. Errors are
// service_unavailable, never a pass.
//
// A lease that could not be renewed for a whole lease time (Redis down
// that long) is lost: the work it admitted goes on, but its slot may be
// taken by others; the limiter logs it.
func (l *Limiter) Acquire(ctx context.Context, bucket string, max int) (func(), bool, error) {
	if max <= 0 {
		return func() {}, true, nil
	}
	key := l.cfg.Prefix + "conc:" + bucket
	id := leaseID()
	ms := l.cfg.Lease.Milliseconds()
	n, err := acquireScript.Run(ctx, l.rdb, []string{key}, max, ms, id).Int()
	if err != nil {
		return nil, false, l.unavailable("acquire lease", err)
	}
	if n == 0 {
		return nil, false, nil
	}
	stop := make(chan struct{})
	l.wg.Add(1)
	go l.renew(key, id, stop)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			// Bounded and detached from any request: when Redis cannot
			// be told, the lease expires by itself.
			ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Lease/3)
			defer cancel()
			if err := l.rdb.ZRem(ctx, key, id).Err(); err != nil {
				l.log.Warn("release concurrency lease; it expires by itself", "bucket", key, "err", err)
			}
		})
	}, true, nil
}

// renew keeps lease id of key alive until stop or Close.
func (l *Limiter) renew(key, id string, stop <-chan struct{}) {
	defer l.wg.Done()
	every := l.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	ms := l.cfg.Lease.Milliseconds()
	for {
		select {
		case <-stop:
			return
		case <-l.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		n, err := renewScript.Run(ctx, l.rdb, []string{key}, ms, id).Int()
		cancel()
		switch {
		case err != nil:
			// The next tick tries again; the lease survives two misses.
			l.log.Warn("renew concurrency lease", "bucket", key, "err", err)
		case n == 0:
			select {
			case <-stop: // released meanwhile
			default:
				l.log.Error("concurrency lease lost: it expired before it could be renewed", "bucket", key)
			}
			return
		}
	}
}

func leaseID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
