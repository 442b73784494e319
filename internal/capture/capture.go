// Package capture is the capture use case: everything that happens when a
// caller asks for a capture, whoever asks (the HTTP API, a job item, the
// CLI). It admits the capture (the key's concurrency slot, a reserved
// quota unit), applies the plan's limits and the key's URL lists, serves
// it from the cache or renders it, stores it, and charges it only when it
// succeeded. It knows the domain's interfaces only, so the same rules hold
// on SQLite or PostgreSQL, in process or on Redis.
package capture

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// Config configures a Service. Renderer is required; the rest is optional.
type Config struct {
	Renderer pageshot.Renderer
	// Limits bound every request's options; a caller's plan narrows the
	// timeout (see pageshot.Caller.Limits).
	Limits pageshot.Limits
	// Usage is the quota ledger; nil charges nothing.
	Usage pageshot.UsageStore
	// Concurrency bounds a key's captures in flight; nil bounds nothing.
	Concurrency pageshot.ConcurrencyLimiter
	// Blobs keeps stored and cached captures and job artifacts; Cache
	// indexes the cached ones. Without Blobs, store and cache are refused.
	Blobs pageshot.BlobStore
	Cache pageshot.CacheStore
	// ChargeCacheHits charges a capture served from the cache like one
	// made. Defaults to false: hits are free.
	ChargeCacheHits bool
	// ReservationTTL is how long a quota reservation holds when neither
	// committed nor refunded (the process died mid-capture). It must
	// exceed the longest capture. Defaults to 15 minutes.
	ReservationTTL time.Duration
	// ConcurrencyRetryAfter is the Retry-After of concurrency_limited.
	// Defaults to 1 s.
	ConcurrencyRetryAfter time.Duration
	// SlotPoll is the longest pause between two attempts of a waiting
	// capture (a job item) to take the key's concurrency slot. Defaults to
	// 250 ms.
	SlotPoll time.Duration
	// Now replaces time.Now, for tests.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service captures for callers. It is safe for concurrent use.
type Service struct {
	cfg  Config
	log  *slog.Logger
	memo memo
}

var _ pageshot.Capturer = (*Service)(nil)

// New returns a Service.
func New(cfg Config) *Service {
	cfg.ReservationTTL = cmp.Or(cfg.ReservationTTL, 15*time.Minute)
	cfg.ConcurrencyRetryAfter = cmp.Or(cfg.ConcurrencyRetryAfter, time.Second)
	cfg.SlotPoll = cmp.Or(cfg.SlotPoll, 250*time.Millisecond)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger}
}

// Options parses raw for caller c: the server's limits, the plan's timeout
// cap, and the key's URL lists (also asked of every redirect). Errors are
// invalid_request (every problem), payload_too_large and url_blocked.
func (s *Service) Options(c *pageshot.Caller, raw pageshot.RawOptions) (*pageshot.Options, error) {
	opts, _, err := s.options(c, raw)
	return opts, err
}

// options is Options, with the cache key of the options when they ask for
// the cache.
func (s *Service) options(c *pageshot.Caller, raw pageshot.RawOptions) (*pageshot.Options, string, error) {
	p := s.parse(c, raw)
	if p.err != nil {
		return nil, "", p.err
	}
	opts := p.opts.Clone()
	if c != nil && opts.URL != "" {
		if err := c.Key.CheckURL(opts.URL); err != nil {
			return nil, "", err
		}
		if len(c.Key.URLBlock) > 0 || len(c.Key.URLAllow) > 0 {
			opts.URLCheck = c.Key.CheckURL
		}
	}
	if (opts.Cache || opts.Store) && s.cfg.Blobs == nil {
		return nil, "", pageshot.InvalidRequest([]pageshot.FieldError{{Field: "store", Message: "This server has no storage."}})
	}
	return opts, p.cacheKey, nil
}

// Capture implements pageshot.Capturer.
func (s *Service) Capture(ctx context.Context, r *pageshot.CaptureRequest) (*pageshot.CaptureResult, error) {
	res := &pageshot.CaptureResult{}
	c := r.Caller
	period, reset := pageshot.Period(s.cfg.Now())
	if c != nil {
		res.Quota = pageshot.Quota{Limit: c.Plan.MonthlyQuota, Reset: reset}
	}

	// The key's concurrency slot: sync captures are refused when none is
	// free, job items wait for one.
	if c != nil && s.cfg.Concurrency != nil {
		release, err := s.slot(ctx, c, r.Wait)
		if err != nil {
			return res, err
		}
		defer release()
	}

	// The options first: bad ones cost no write to the ledger, only the
	// read that reports the quota in the answer.
	opts, cacheKey := r.Options, ""
	if opts == nil {
		var err error
		if opts, cacheKey, err = s.options(c, r.Raw); err != nil {
			s.readQuota(ctx, c, r, period, &res.Quota)
			// Limits come before validation (the order of checks of the
			// API): a key with no quota left is told so, whatever it sent.
			if c != nil && !r.Prepaid && c.Plan.MonthlyQuota > 0 && res.Quota.Used >= c.Plan.MonthlyQuota {
				return res, pageshot.QuotaExceeded(c.Plan, res.Quota.Used, reset)
			}
			return res, err
		}
	}
	res.Options = opts
	if r.CollectLinks {
		opts.CollectLinks = true
	}
	useCache := opts.Cache && s.cfg.Cache != nil
	if useCache && cacheKey == "" {
		cacheKey = pageshot.CacheKey(owner(c), opts)
	}

	// A free cache hit is served before any quota unit is reserved: it
	// would only be refunded, and it is served even when the quota is used
	// up.
	if useCache && !s.cfg.ChargeCacheHits {
		if s.cached(ctx, cacheKey, res) {
			s.readQuota(ctx, c, r, period, &res.Quota)
			return res, nil
		}
	}

	// A quota unit, unless the caller reserved it (a job item's, reserved
	// with its job, is settled by the job store when the item ends).
	var reservation string
	overQuota := false
	if c != nil && s.cfg.Usage != nil && !r.Prepaid {
		id, u, ok, err := s.cfg.Usage.Reserve(ctx, c.Key.ID, period, c.Plan.MonthlyQuota, s.cfg.ReservationTTL)
		if err != nil {
			return res, err
		}
		res.Quota.Used = u.Committed + u.Reserved
		reservation, overQuota = id, !ok
	}
	charged := false
	defer func() {
		if reservation != "" {
			s.settle(ctx, reservation, charged, &res.Quota)
		}
	}()
	if overQuota {
		return res, pageshot.QuotaExceeded(c.Plan, res.Quota.Used, reset)
	}
	// A hit the server charges for takes its unit like a capture.
	if useCache && s.cfg.ChargeCacheHits && s.cached(ctx, cacheKey, res) {
		charged = true
		return res, nil
	}
	if opts.Async {
		return res, nil // a job of one item, which reserves its own unit
	}

	capt, err := s.cfg.Renderer.Render(ctx, opts)
	if err != nil {
		return res, err
	}
	// A redirect may have led somewhere the key may not go; the image is
	// not handed out then.
	if c != nil && capt.FinalURL != "" {
		if err := c.Key.CheckURL(capt.FinalURL); err != nil {
			return res, err
		}
	}
	res.Capture = capt
	if err := s.keep(ctx, r, opts, cacheKey, res); err != nil {
		return res, err
	}
	res.Made, charged = true, true
	return res, nil
}

// slot takes one of c's concurrency slots. With wait it retries until
// one is free or ctx ends; otherwise it fails with concurrency_limited.
func (s *Service) slot(ctx context.Context, c *pageshot.Caller, wait bool) (func(), error) {
	bucket := "key:" + c.Key.ID
	pause := 10 * time.Millisecond
	for {
		release, ok, err := s.cfg.Concurrency.Acquire(ctx, bucket, c.Plan.MaxConcurrency)
		if err != nil {
			return nil, err
		}
		if ok {
			return release, nil
		}
		if !wait {
			e := pageshot.Errorf(pageshot.CodeConcurrencyLimited, "The key's plan allows %d captures at once.", c.Plan.MaxConcurrency)
			e.RetryAfter = s.cfg.ConcurrencyRetryAfter
			return nil, e
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, pageshot.Errorf(pageshot.CodeTimeout, "No capture slot of the key freed up in time.")
		case <-t.C:
		}
		pause = min(2*pause, s.cfg.SlotPoll)
	}
}

// readQuota fills q.Used from the ledger for an answer that reserved
// nothing (bad options, a free cache hit). Only a plan with a quota
// reports it (X-Quota-Remaining), so an unlimited plan costs no read; nor
// does a prepaid capture, whose job reports its own. A failed read leaves
// q.Used unknown (0) rather than failing an answer that is ready.
func (s *Service) readQuota(ctx context.Context, c *pageshot.Caller, r *pageshot.CaptureRequest, period string, q *pageshot.Quota) {
	if c == nil || s.cfg.Usage == nil || r.Prepaid || c.Plan.MonthlyQuota <= 0 {
		return
	}
	u, err := s.cfg.Usage.Usage(ctx, c.Key.ID, period)
	if err != nil {
		s.log.WarnContext(ctx, "read usage", "err", err)
		return
	}
	q.Used = u.Committed + u.Reserved
}

// settle commits reservation when charged, else refunds it. It ignores
// ctx's cancellation, so a client that goes away cannot leave a unit
// reserved.
func (s *Service) settle(ctx context.Context, reservation string, charged bool, q *pageshot.Quota) {
	ctx = context.WithoutCancel(ctx)
	if charged {
		if err := s.cfg.Usage.Commit(ctx, reservation); err != nil {
			s.log.ErrorContext(ctx, "commit usage", "err", err)
		}
		return
	}
	q.Used = max(0, q.Used-1)
	if err := s.cfg.Usage.Refund(ctx, reservation); err != nil {
		s.log.ErrorContext(ctx, "refund usage", "err", err)
	}
}

// cached fills res from the cache entry cacheKey, when there is one
// that can be read.
func (s *Service) cached(ctx context.Context, cacheKey string, res *pageshot.CaptureResult) bool {
	e, err := s.cfg.Cache.CacheGet(ctx, cacheKey, s.cfg.Now())
	if err != nil {
		return false
	}
	data, _, err := s.cfg.Blobs.Get(ctx, e.BlobKey)
	if err != nil {
		s.log.WarnContext(ctx, "cached capture unreadable; capturing anew", "err", err)
		return false
	}
	res.Capture = &pageshot.Capture{Data: data, Format: e.Format, Width: e.Width, Height: e.Height, ReturnedStatusCode: e.ReturnedStatusCode}
	res.Cached, res.ExpiresAt, res.BlobKey = true, e.ExpiresAt, e.BlobKey
	res.URLTTL = e.ExpiresAt.Sub(s.cfg.Now())
	return true
}

func owner(c *pageshot.Caller) string {
	if c == nil {
		return ""
	}
	return c.Key.ID
}

// keep puts a new capture where it was asked to go: the job's artifact,
// the cache (under cacheKey), storage.
func (s *Service) keep(ctx context.Context, r *pageshot.CaptureRequest, opts *pageshot.Options, cacheKey string, res *pageshot.CaptureResult) error {
	capt := res.Capture
	if r.ArtifactKey != "" {
		if err := s.cfg.Blobs.Put(ctx, r.ArtifactKey, capt.Data, capt.Format.ContentType()); err != nil {
			return err
		}
		res.BlobKey = r.ArtifactKey
		return nil
	}
	ext := "." + capt.Format.Extension()
	// A cut capture is not cached, nor one with metadata: the cache keeps
	// neither the flag (a cut is never served silently) nor the metadata.
	if opts.Cache && s.cfg.Cache != nil && !capt.Truncated && capt.Metadata == nil {
		// A random name, not one derived from the cache key: the object
		// URL needs no API key, and a name anyone could compute from a key
		// id and options would tell who captured what.
		blobKey := "cache-" + NewObjectID() + ext
		err := s.cfg.Blobs.Put(ctx, blobKey, capt.Data, capt.Format.ContentType())
		if err == nil {
			now := s.cfg.Now()
			expires := now.Add(opts.CacheTTL)
			var replaced string
			replaced, err = s.cfg.Cache.CachePut(ctx, &pageshot.CacheEntry{
				Key: cacheKey, BlobKey: blobKey, Format: capt.Format, Width: capt.Width, Height: capt.Height,
				ReturnedStatusCode: capt.ReturnedStatusCode, CreatedAt: now, ExpiresAt: expires,
			})
			if replaced != "" && replaced != blobKey {
				if derr := s.cfg.Blobs.Delete(ctx, replaced); derr != nil {
					s.log.WarnContext(ctx, "delete replaced capture", "err", derr)
				}
			}
			if err == nil {
				res.BlobKey, res.ExpiresAt = blobKey, expires
				res.URLTTL = opts.CacheTTL
			}
		}
		if err != nil {
			if opts.Store {
				return err
			}
			// The cache is an optimization: the capture is still good.
			s.log.WarnContext(ctx, "caching a capture failed", "err", err)
		}
	}
	if opts.Store && res.BlobKey == "" {
		blobKey := "obj-" + NewObjectID() + ext
		if err := s.cfg.Blobs.Put(ctx, blobKey, capt.Data, capt.Format.ContentType()); err != nil {
			return err
		}
		res.BlobKey, res.URLTTL = blobKey, StoredURLTTL
	}
	return nil
}

// StoredURLTTL is how long the URL of a stored capture works, when the
// storage hands out presigned URLs.
const StoredURLTTL = 7 * 24 * time.Hour

// NewObjectID returns 160 random bits in lowercase base32: an object id
// nobody can guess.
func NewObjectID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
