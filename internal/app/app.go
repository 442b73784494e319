// Package app wires a Config into pageshot's parts — egress policy, render
// pool, HTTP server — and owns their start and stop.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/api"
	"github.com/pageshot/pageshot/internal/blob"
	"github.com/pageshot/pageshot/internal/browser"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/egress"
	"github.com/pageshot/pageshot/internal/filter"
	"github.com/pageshot/pageshot/internal/httpapi"
	"github.com/pageshot/pageshot/internal/jobs"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/redis"
	"github.com/pageshot/pageshot/internal/requestid"
	"github.com/pageshot/pageshot/internal/tenancy"
)

// Config is everything a pageshot node needs. Zero fields take the defaults
// in their comments.
type Config struct {
	// Addr is the listen address. Defaults to 127.0.0.1:8080; port 0 picks
	// a free one.
	Addr string
	// DataDir holds the node's state. Defaults to ./pageshot-data.
	DataDir string

	// ChromePath is the Chromium executable; empty finds one (see
	// browser.FindChrome).
	ChromePath   string
	Concurrency  int           // captures rendering at once; defaults to the CPU count, at least 2
	QueueSize    int           // captures waiting for a slot; defaults to 16 per slot
	QueueTimeout time.Duration // longest wait for a slot; defaults to 30 s
	RecycleAfter int           // restart the browser after this many captures; defaults to 1000
	// PNGCompression takes Chromium's default PNG encoding, the smallest
	// (about 7% fewer bytes) and the slowest; false takes its fast
	// encoding and packs it (see browser.Config.FastPNG). Defaults to false.
	PNGCompression bool
	// BrowserWatchdog is how long the browser may leave a cheap question
	// unanswered before it is killed and restarted. Defaults to 5 s.
	BrowserWatchdog time.Duration
	// ChromeUser is the account Chromium runs as when pageshot runs as
	// root, so that its sandbox can run. Defaults to pageshot-chrome.
	ChromeUser string
	// BrowserFlags are added to (or, with value false, removed from) the
	// Chromium command line.
	BrowserFlags map[string]any

	// EgressAllow lists CIDRs and host names let through the private
	// address block, such as 127.0.0.1/32.
	EgressAllow []string
	// Resolver resolves target host names; defaults to the system's.
	Resolver egress.Resolver
	// DirectEgress lets the browser reach the network itself instead of
	// through the egress proxy; only the first navigation is then checked.
	// For measuring the proxy's cost; never for serving strangers.
	DirectEgress bool

	Limits pageshot.Limits
	// Plans by name, from the config file. The default plan always exists;
	// an entry named "default" redefines it.
	Plans map[string]pageshot.Plan
	// IPRatePerMinute bounds requests without a valid key per client
	// address. Defaults to 60.
	IPRatePerMinute int
	// Announce receives the first API key, created on the first start
	// with an empty store. Defaults to os.Stdout; it is never logged.
	Announce io.Writer

	// MaxPageBytes and MaxPixels bound a capture's download and image
	// (page_too_large); zero takes the browser package's defaults.
	MaxPageBytes int64
	MaxPixels    int64
	// RendererHeapLimit and MaxRendererMemory bound a page's JavaScript
	// heap and its renderer's resident memory (page_too_large); zero takes
	// the browser package's defaults (512 MiB, 1 GiB).
	RendererHeapLimit, MaxRendererMemory int64

	// AdLists and TrackerLists are filter lists in the EasyList format,
	// files or http(s) URLs, added to the built-in lists of block_ads and
	// block_trackers. URL lists are fetched again daily; their last good
	// copy is kept in DataDir.
	AdLists, TrackerLists []string

	// Storage selects the blob store of stored and cached captures and job
	// artifacts. An empty Storage.Dir defaults to DataDir/objects.
	Storage blob.Config
	// PublicURL is the server's address as clients reach it, for links in
	// answers (stored objects, job artifacts). Empty derives it from each
	// request's Host.
	PublicURL string
	// Jobs tunes the async job runner; zero fields take jobs.Config's
	// defaults, and Workers defaults to Concurrency.
	Jobs JobsConfig
	// ChargeCacheHits charges captures served from the cache. Defaults to
	// false.
	ChargeCacheHits bool
	// CacheSweep is how often expired cache entries, and jobs past
	// JobRetention, are removed. Defaults to a minute.
	CacheSweep time.Duration
	// JobRetention is how long an ended job, its items and artifacts are
	// kept. Defaults to 30 days.
	JobRetention time.Duration

	// HTTP bounds slow clients and connections per address.
	HTTP HTTPLimits
	// MinFreeDisk is the room kept on the data directory's disk: below it
	// the node is not ready and the filesystem blob store refuses writes,
	// keeping the rest for the usage ledger. Defaults to 64 MiB.
	MinFreeDisk int64

	// ShutdownTimeout bounds the drain of in-flight requests on Stop.
	// Defaults to 60 s.
	ShutdownTimeout time.Duration
	// StartupTimeout bounds each start-up step that waits on another
	// system: the storage's bucket check, the migrations, the first key.
	// Defaults to 30 s.
	StartupTimeout time.Duration

	// Worker makes a node without the public API: it runs job items and
	// webhooks and serves only /healthz, /readyz and /metrics on Addr, and
	// never creates the first key.
	Worker bool
	// NoJobs makes a node that queues jobs but runs none of their items or
	// webhooks (serve --jobs=false), leaving them to worker nodes.
	NoJobs bool

	// RedisURL puts the rate and concurrency limits in Redis
	// (redis://…), shared by every node that names the same server;
	// empty keeps them in this process (one node).
	RedisURL string
	// RedisPrefix starts the name of every Redis key the limits use, so
	// that several deployments can share one server; every node of one
	// deployment must use the same. Defaults to "pageshot:".
	RedisPrefix string
	// DatabaseURL selects PostgreSQL (postgres://…) for the store and the
	// job queue; empty keeps them in SQLite under DataDir.
	DatabaseURL string

	Logger *slog.Logger
}

// JobsConfig tunes the async job runner.
type JobsConfig struct {
	Workers     int
	MaxAttempts int
	JobTimeout  time.Duration
	RescueAfter time.Duration
	StaleAfter  time.Duration
	RetryBase   time.Duration
}

func (c *Config) setDefaults() {
	c.Addr = cmp.Or(c.Addr, "127.0.0.1:8080")
	c.DataDir = cmp.Or(c.DataDir, "pageshot-data")
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 60*time.Second)
	c.StartupTimeout = cmp.Or(c.StartupTimeout, 30*time.Second)
	c.CacheSweep = cmp.Or(c.CacheSweep, time.Minute)
	c.JobRetention = cmp.Or(c.JobRetention, 30*24*time.Hour)
	c.Storage.Dir = cmp.Or(c.Storage.Dir, filepath.Join(c.DataDir, "objects"))
	c.MinFreeDisk = cmp.Or(c.MinFreeDisk, 64<<20)
	c.Storage.MinFree = cmp.Or(c.Storage.MinFree, c.MinFreeDisk)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Logger = slog.New(requestid.Handler(c.Logger.Handler()))
	if c.Announce == nil {
		c.Announce = os.Stdout
	}
}

// DatabasePath returns the SQLite database of a data directory.
func DatabasePath(dataDir string) string {
	return filepath.Join(cmp.Or(dataDir, "pageshot-data"), "pageshot.db")
}

// Engine renders captures: the browser pool and the egress proxy that all
// of its traffic goes through. It implements pageshot.Renderer.
type Engine struct {
	*browser.Pool
	proxy  *egress.Proxy
	policy *egress.Policy
	lists  *filter.Filter // the filter lists of block_ads and block_trackers
}

// NewEngine returns an engine with its egress policy; its proxy listens at
// once, its browser starts with Start.
func NewEngine(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	policy, err := egress.NewPolicy(egress.Config{Allow: cfg.EgressAllow, Resolver: cfg.Resolver})
	if err != nil {
		return nil, fmt.Errorf("egress policy: %w", err)
	}
	e := &Engine{policy: policy}
	lists, err := filter.New(filter.Config{AdLists: cfg.AdLists, TrackerLists: cfg.TrackerLists, DataDir: cfg.DataDir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	e.lists = lists
	bcfg := browser.Config{
		Filter:       lists,
		ExecPath:     cfg.ChromePath,
		Concurrency:  cfg.Concurrency,
		QueueSize:    cfg.QueueSize,
		QueueTimeout: cfg.QueueTimeout,
		RecycleAfter: cfg.RecycleAfter,
		Guard:        policy,
		FastPNG:      !cfg.PNGCompression,
		Flags:        cfg.BrowserFlags,
		Logger:       cfg.Logger,
		MaxPageBytes: cfg.MaxPageBytes,
		MaxPixels:    cfg.MaxPixels,
	}
	bcfg.WatchdogInterval, bcfg.User = cfg.BrowserWatchdog, cfg.ChromeUser
	bcfg.RendererHeapLimit, bcfg.MaxRendererMemory = cfg.RendererHeapLimit, cfg.MaxRendererMemory
	if !cfg.DirectEgress {
		e.proxy = egress.NewProxy(policy, cfg.Logger)
		if err := e.proxy.Start(); err != nil {
			lists.Close()
			return nil, err
		}
		bcfg.ProxyServer = e.proxy.URL()
	}
	if e.Pool, err = browser.New(bcfg); err != nil {
		e.stopProxy()
		lists.Close()
		return nil, err
	}
	return e, nil
}

// Capturer returns the capture service over e for captures without a key
// (the CLI): no quota, no concurrency limit, no storage.
func (e *Engine) Capturer(lim pageshot.Limits) pageshot.Capturer {
	return capture.New(capture.Config{Renderer: e, Limits: lim})
}

// Stop stops the browser, then the proxy. Safe to call twice.
func (e *Engine) Stop(ctx context.Context) error {
	err := e.Pool.Stop(ctx)
	e.stopProxy()
	e.lists.Close()
	return err
}

func (e *Engine) stopProxy() {
	if e.proxy != nil {
		_ = e.proxy.Stop()
	}
}

// App is a running pageshot server.
type App struct {
	cfg       Config
	log       *slog.Logger
	pool      *Engine
	store     Store
	jobs      *jobs.Service
	blobs     pageshot.BlobStore
	stopSweep context.CancelFunc
	swept     chan struct{}
	server    *http.Server
	ln        net.Listener
	served    chan error
	// closers release what New opened, in the order opened; they run in
	// reverse, after a failed start or on Stop.
	closers []func() error
	// redis holds the limits when Config.RedisURL is set.
	redis *redis.Limiter
	// drainCtx bounds the closers that wait for work in flight (the job
	// runner, the browser): Stop's drain deadline; nil after a failed
	// start, when nothing is in flight.
	drainCtx context.Context

	stopOnce sync.Once
	stopErr  error
}

// New builds an App from cfg. It binds the listen address first, so that
// a taken port fails before anything expensive starts; then it opens the
// blob storage and the store (applying the store's and the job queue's
// migrations, all within StartupTimeout) and prepares the browser. When a
// step fails, what the earlier ones opened is closed again. Start runs it.
func New(cfg Config) (_ *App, err error) {
	cfg.setDefaults()
	a := &App{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = a.close()
		}
	}()
	if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a.closers = append(a.closers, func() error {
		// Serve's Shutdown closes it too.
		if err := a.ln.Close(); !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	spec, err := api.JSON()
	if err != nil {
		return nil, fmt.Errorf("load openapi: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartupTimeout)
	defer cancel()
	if a.blobs, err = blob.Open(ctx, cfg.Storage); err != nil {
		return nil, err
	}
	a.blobs = blob.Hot(a.blobs, hotObjectBytes) // cache hits read no file
	if a.store, err = OpenStore(ctx, cfg.DataDir, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("open store %s: %w", StoreName(cfg.DataDir, cfg.DatabaseURL), err)
	}
	a.closers = append(a.closers, a.store.Close)
	if cfg.DatabaseURL != "" && cfg.Storage.S3.URL == "" {
		a.log.Warn("the store is shared (PostgreSQL) but captures are kept in local files; with several nodes, use S3-compatible storage (--storage-url) so that every node serves every object",
			"dir", cfg.Storage.Dir)
	}
	rate, concurrency, err := a.openLimits(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	a.pool = pool
	a.closers = append(a.closers, func() error { return a.stopEngine(a.draining()) })
	store := a.store
	gate := tenancy.New(tenancy.Config{
		Keys:            store,
		Usage:           store,
		Rate:            rate,
		Plans:           cfg.Plans,
		IPRatePerMinute: cfg.IPRatePerMinute,
		Logger:          cfg.Logger,
	})
	captures := capture.New(capture.Config{
		Renderer:        pool,
		Limits:          cfg.Limits,
		Usage:           store,
		Concurrency:     concurrency,
		Blobs:           a.blobs,
		Cache:           store,
		ChargeCacheHits: cfg.ChargeCacheHits,
		// A reservation must outlive the longest capture: the wait for a
		// browser plus the largest timeout.
		ReservationTTL: 2*cmp.Or(cfg.QueueTimeout, 30*time.Second) + 2*maxTimeout(cfg),
		Logger:         cfg.Logger,
	})
	var closeQueue func() error
	a.jobs, closeQueue, err = newJobs(ctx, store, jobs.Config{
		Store:       store,
		Capturer:    captures,
		Blobs:       a.blobs,
		Guard:       pool.policy,
		Webhooks:    pool.policy.HTTPClient(30 * time.Second),
		BaseURL:     cfg.PublicURL,
		Plan:        func(name string) pageshot.Plan { p, _ := gate.Plan(name); return cmp.Or(p, pageshot.DefaultPlan()) },
		Limits:      cfg.Limits,
		Workers:     cmp.Or(cfg.Jobs.Workers, cfg.Concurrency, max(runtime.NumCPU(), 2)),
		MaxAttempts: cfg.Jobs.MaxAttempts,
		JobTimeout:  cfg.Jobs.JobTimeout,
		RescueAfter: cfg.Jobs.RescueAfter,
		StaleAfter:  cfg.Jobs.StaleAfter,
		RetryBase:   cfg.Jobs.RetryBase,
		Logger:      cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeQueue)
	handler := httpapi.New(httpapi.Config{
		Capturer: captures,
		Limits:   cfg.Limits,
		Tenancy:  gate,
		Jobs:     a.jobs,
		Blobs:    a.blobs,
		BaseURL:  cfg.PublicURL,
		Ready:    a.ready,
		Details:  a.readyDetails,
		Gauges: func() httpapi.Gauges {
			s, j := pool.Stats(), a.jobs.Stats()
			return httpapi.Gauges{
				InUse: s.InUse, Queued: s.Queued, Restarts: s.Restarts, Crashes: s.Crashes, RestartsBy: s.RestartsBy, MemoryKills: s.MemoryKills,
				DataDiskFree: a.diskFree(), DataDiskLow: a.diskLow(),
				ItemsSucceeded: j.ItemsSucceeded, ItemsFailed: j.ItemsFailed,
				WebhooksDelivered: j.WebhooksDelivered, WebhookFailures: j.WebhookFailures,
			}
		},
		OpsOnly: cfg.Worker,
		OpenAPI: spec,
		Logger:  cfg.Logger,
	})
	a.server = &http.Server{
		Handler:  handler,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	cfg.HTTP.apply(a.server)
	return a, nil
}

// openLimits returns the rate and concurrency limiters: on Redis, which it
// must reach within ctx, when RedisURL is set, else in this process.
func (a *App) openLimits(ctx context.Context) (pageshot.RateLimiter, pageshot.ConcurrencyLimiter, error) {
	if a.cfg.RedisURL == "" {
		return limit.NewRate(nil), limit.NewConcurrency(), nil
	}
	l, err := redis.Open(a.cfg.RedisURL, redis.Config{Prefix: a.cfg.RedisPrefix, Logger: a.log})
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	a.closers = append(a.closers, l.Close)
	if err := l.Ping(ctx); err != nil {
		return nil, nil, fmt.Errorf("reach redis %s: %w", Redact(a.cfg.RedisURL), err)
	}
	a.redis = l
	return l, l, nil
}

// draining returns the deadline of the work in flight: Stop's drain, or
// none.
func (a *App) draining() context.Context {
	if a.drainCtx == nil {
		return context.Background()
	}
	return a.drainCtx
}

// close runs the closers in reverse.
func (a *App) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// maxTimeout is the largest timeout any plan allows.
func maxTimeout(cfg Config) time.Duration {
	d := max(cfg.Limits.MaxTimeout, pageshot.DefaultPlan().MaxTimeout)
	for _, p := range cfg.Plans {
		d = max(d, p.MaxTimeout)
	}
	return d
}

// ready reports whether the browser is up, the store answers and the data
// disk has room.
func (a *App) ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return a.pool.Ready() && a.store.Ping(ctx) == nil && !a.diskLow() && (a.redis == nil || a.redis.Ping(ctx) == nil)
}

// Start creates the first API key when the store has none, starts the
// browser and the job runner, and begins serving. It returns once the
// server accepts connections. When a step fails, everything New opened is
// closed again.
func (a *App) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.stopOnce.Do(func() { a.stopErr = a.close() })
		}
	}()
	keyCtx, cancel := context.WithTimeout(ctx, a.cfg.StartupTimeout)
	defer cancel()
	if !a.cfg.Worker {
		if err := a.firstKey(keyCtx); err != nil {
			return err
		}
	}
	// The browser runs on after its start; only the wait for it is
	// bounded, so that a browser that never comes up (a sandbox the
	// kernel half allows) fails the start instead of hanging it.
	bctx, bcancel := context.WithTimeout(ctx, a.cfg.StartupTimeout)
	err = a.pool.Start(bctx)
	bcancel()
	if err != nil {
		return err
	}
	if !a.cfg.NoJobs {
		if err := a.jobs.Start(ctx); err != nil {
			return err
		}
		a.closers = append(a.closers, func() error {
			// Jobs stop before the browser, so that running items finish
			// (or are canceled, to run again after a restart) while it is
			// up.
			return drained(a.jobs.Stop(a.draining()))
		})
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	a.stopSweep, a.swept = stopSweep, make(chan struct{})
	go a.sweep(sweepCtx)
	a.served = make(chan error, 1)
	go func() { a.served <- a.server.Serve(a.cfg.HTTP.listener(a.ln)) }()
	switch {
	case a.cfg.Worker:
		a.log.Info("worker running job items; admin endpoints on http://" + a.Addr())
	case a.cfg.NoJobs:
		a.log.Info("listening on http://"+a.Addr(), "jobs", "queued for worker nodes")
	default:
		a.log.Info("listening on http://" + a.Addr())
	}
	return nil
}

// firstKey creates a key on the default plan when the store has none and
// prints it, with its secrets, to Announce: the only time they are shown.
func (a *App) firstKey(ctx context.Context) error {
	keys, err := a.store.ListKeys(ctx)
	if err != nil || len(keys) > 0 {
		return err
	}
	k, key, err := pageshot.NewKey("default", pageshot.DefaultPlanName, pageshot.AllScopes(), time.Now())
	if err != nil {
		return err
	}
	if err := a.store.CreateKey(ctx, k); err != nil {
		return err
	}
	a.log.Info("created the first API key", "id", k.ID, "plan", k.Plan)
	_, err = fmt.Fprintf(a.cfg.Announce, "\nCreated the first API key (plan %s). It is shown only this once:\n\n"+
		"    API key:        %s\n    signing secret: %s\n    webhook secret: %s\n\n"+
		"Send it as \"Authorization: Bearer <key>\". More keys: pageshot keys create --name NAME\n\n",
		k.Plan, key, k.SigningSecret, k.WebhookSecret)
	return err
}

// Addr returns the address the server listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Pool returns the render pool, for tests and diagnostics.
func (a *App) Pool() *browser.Pool { return a.pool.Pool }

// Stop stops taking new requests, waits for those in flight (at most
// ShutdownTimeout), then stops the job runner, the browser and the store.
// Safe to call twice. When the timeout runs out first, the error is
// ErrDrainExpired (see stopEngine).
func (a *App) Stop() error {
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		err := drained(a.server.Shutdown(ctx))
		if a.served != nil {
			if serr := <-a.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
		}
		if a.stopSweep != nil {
			a.stopSweep()
			<-a.swept
		}
		a.drainCtx = ctx
		a.stopErr = errors.Join(err, a.close())
	})
	return a.stopErr
}

// sweep removes expired cache entries, and jobs ended more than
// JobRetention ago, with their blobs, every CacheSweep until ctx ends.
func (a *App) sweep(ctx context.Context) {
	defer close(a.swept)
	t := time.NewTicker(a.cfg.CacheSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			gone, err := a.store.CacheExpired(ctx, time.Now(), 100)
			if err != nil {
				a.log.Warn("sweep cache", "err", err)
				break
			}
			for _, e := range gone {
				if err := a.blobs.Delete(ctx, e.BlobKey); err != nil {
					a.log.Warn("delete expired capture", "key", e.BlobKey, "err", err)
				}
			}
			if len(gone) < 100 {
				break
			}
		}
		for {
			arts, err := a.store.DeleteJobs(ctx, time.Now().Add(-a.cfg.JobRetention), 100)
			if err != nil {
				a.log.Warn("sweep jobs", "err", err)
				break
			}
			for _, key := range arts {
				if err := a.blobs.Delete(ctx, key); err != nil {
					a.log.Warn("delete artifact", "key", key, "err", err)
				}
			}
			if len(arts) == 0 {
				break
			}
		}
	}
}

// Blobs returns the blob store, for tests and diagnostics.
func (a *App) Blobs() pageshot.BlobStore { return a.blobs }

// Run starts the server and serves until ctx ends, then drains and stops.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.log.Info("shutting down: draining requests in flight")
	if err := a.Stop(); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	a.log.Info("stopped")
	return nil
}
