// Package redis provides pageshot's rate and concurrency limits on Redis,
// shared by every node that points at the same server: rate limits as
// GCRA buckets (go-redis/redis_rate), the concurrency limit as leases that
// a live holder keeps renewing, so the slots of a node that dies free
// themselves within the lease time.
//
// Every time in Redis is Redis's own (the TIME command inside scripts),
// so the nodes' clocks need not agree. When Redis cannot be reached, every
// method returns a service_unavailable *pageshot.Error with a Retry-After,
// wrapping ErrUnavailable: a limit that cannot be checked is never passed.
package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pageshot/pageshot"
)

// ErrUnavailable is in the chain of every error caused by Redis being
// unreachable or failing; the error itself is a *pageshot.Error with code
// service_unavailable and Config.RetryAfter.
var ErrUnavailable = errors.New("redis unavailable")

// Config configures a Limiter. The zero value takes every default.
type Config struct {
	// Prefix starts the name of every key the limiter writes: a bucket's
	// leases are Prefix + "conc:" + bucket, its rate state "rate:" +
	// Prefix + bucket + "/" + the rate (redis_rate puts "rate:" first).
	// Nodes that share limits must use the same prefix. Defaults to
	// "pageshot:".
	Prefix string
	// Lease is how long a concurrency slot stays taken after its holder's
	// last renewal: the time within which the slots of a node that died
	// free themselves. Holders renew every third of it. Defaults to 10
	// seconds; values under MinLease are raised to it.
	Lease time.Duration
	// RetryAfter is the Retry-After of the service_unavailable error
	// returned while Redis cannot be reached. Defaults to 5 seconds.
	RetryAfter time.Duration
	// Logger receives lost leases and failed renewals. Defaults to
	// discarding them.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultPrefix     = "pageshot:"
	DefaultLease      = 10 * time.Second
	DefaultRetryAfter = 5 * time.Second
	// MinLease is the shortest lease: renewals every third of it must
	// still have time for a round trip.
	MinLease = 100 * time.Millisecond
)

// Limiter is a pageshot.RateLimiter and pageshot.ConcurrencyLimiter on
// Redis. It is safe for concurrent use.
type Limiter struct {
	rdb    goredis.UniversalClient
	owned  bool // Close closes rdb
	gcra   *redis_rate.Limiter
	cfg    Config
	log    *slog.Logger
	closed chan struct{} // closed by Close: renewals stop
	once   sync.Once
	wg     sync.WaitGroup // renewal goroutines
}

var (
	_ pageshot.RateLimiter        = (*Limiter)(nil)
	_ pageshot.ConcurrencyLimiter = (*Limiter)(nil)
)

// New returns a limiter on rdb, which the caller keeps owning: Close does
// not close it. It does not contact Redis; call Ping for that.
func New(rdb goredis.UniversalClient, cfg Config) *Limiter {
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	cfg.Lease = max(cfg.Lease, MinLease)
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Limiter{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), cfg: cfg, log: log, closed: make(chan struct{})}
}

// Open connects to the server at rawURL (redis://[user:password@]host:port/db,
// rediss:// for TLS, or unix://) and returns a limiter that owns the
// client. Commands respect their context's deadline. It does not contact
// Redis; call Ping for that. The error is a plain error for a malformed
// URL.
func Open(rawURL string, cfg Config) (*Limiter, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	l := New(goredis.NewClient(opts), cfg)
	l.owned = true
	return l, nil
}

// Ping checks that Redis answers, for readiness. The error is
// service_unavailable.
func (l *Limiter) Ping(ctx context.Context) error {
	if err := l.rdb.Ping(ctx).Err(); err != nil {
		return l.unavailable("ping", err)
	}
	return nil
}

// Close stops renewing the leases still held (they expire within the
// lease time) and closes the client when Open made it. Safe to call more
// than once.
func (l *Limiter) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closed)
		l.wg.Wait()
		if l.owned {
			err = l.rdb.Close()
		}
	})
	return err
}

// Config returns the configuration in use, defaults filled in.
func (l *Limiter) Config() Config { return l.cfg }

// unavailable wraps a failure of Redis as service_unavailable.
func (l *Limiter) unavailable(op string, err error) error {
	e := pageshot.Errorf(pageshot.CodeServiceUnavailable, "The shared rate and concurrency limits cannot be checked right now.")
	e.RetryAfter = l.cfg.RetryAfter
	e.Err = fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	return e
}
