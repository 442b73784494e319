package browser

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pageshot/pageshot"
)

// Config configures a Pool. Zero fields take the defaults in their comments.
type Config struct {
	// ExecPath is the Chromium executable. Defaults to FindChrome().
	ExecPath string
	// Concurrency is the number of captures that render at once. Defaults
	// to the number of CPUs, at least 2.
	Concurrency int
	// QueueSize is the number of captures that may wait for a slot; one
	// more is refused at once with service_unavailable. Defaults to 16 per
	// slot.
	QueueSize int
	// QueueTimeout bounds the wait for a slot and a browser. Defaults to
	// 30 seconds.
	QueueTimeout time.Duration
	// RecycleAfter restarts the browser after this many captures, to bound
	// the memory a long-lived browser gathers. Defaults to 1000.
	RecycleAfter int
	// Guard is consulted before every navigation of a main frame. Required.
	Guard pageshot.URLGuard
	// FastPNG takes Chromium's fast PNG and packs it (see packPNG): about
	// as fast as the fast PNG, within about 10% of the size of Chromium's
	// default PNG. False takes Chromium's default PNG, a few percent
	// smaller again, for a slower encoding. Defaults to false; the CLI
	// turns it on unless --png-compression is set.
	FastPNG bool
	// MaxPageBytes ends a capture with page_too_large once its page has
	// downloaded more than this many bytes. Defaults to 64 MiB.
	MaxPageBytes int64
	// MaxPixels refuses an image larger than this many pixels with
	// page_too_large. Defaults to 64 million (about 256 MB decoded).
	MaxPixels int64
	// ProxyServer, when set, is the egress proxy every request of the
	// browser goes through, loopback included.
	ProxyServer string
	// RendererHeapLimit is the JavaScript heap a page may fill (V8's
	// --max-old-space-size); a page that passes it crashes its renderer
	// and the capture answers page_too_large. Defaults to 512 MiB.
	RendererHeapLimit int64
	// MaxRendererMemory is the resident memory a renderer may reach; one
	// that passes it is killed and its capture answers page_too_large.
	// Negative turns the check off. Defaults to 1 GiB.
	MaxRendererMemory int64
	// User is the account Chromium runs as when this process runs as
	// root, so that Chromium's sandbox can run and a renderer exploit
	// does not hold root. Defaults to DefaultUser; when it does not exist
	// the browser runs as root without its sandbox, and Sandbox says so.
	User string
	// WatchdogInterval is how often the browser is asked a cheap question
	// (Browser.getVersion); a browser that leaves one unanswered for this
	// long is killed and restarted. Defaults to 5 seconds.
	WatchdogInterval time.Duration
	// Flags are added to (or, with value false, removed from) the switches
	// every browser is started with.
	Flags map[string]any
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Filter decides what block_ads and block_trackers block and hide;
	// without it those options block nothing.
	Filter pageshot.RequestFilter
}

// Stats are counters of a Pool, for metrics.
type Stats struct {
	InUse    int   // captures rendering now
	Queued   int   // captures waiting for a slot
	Restarts int64 // browser restarts since Start, crashes and recycling
	Crashes  int64 // browser processes that died unexpectedly
	Hangs    int64 // browsers the watchdog killed for not answering
	// Probes counts the watchdog's questions the browsers answered.
	Probes int64
	// MemoryKills counts renderers killed for passing MaxRendererMemory.
	MemoryKills int64
	// RestartsBy splits Restarts by reason: "crash", "hang", "recycle".
	RestartsBy map[string]int64
}

// Restart reasons, as counted in Stats.RestartsBy.
const (
	ReasonCrash   = "crash"
	ReasonHang    = "hang"
	ReasonRecycle = "recycle"
)

// Pool renders captures in one warm Chromium. It is safe for concurrent use.
type Pool struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{}

	queued   atomic.Int64
	restarts atomic.Int64
	crashes  atomic.Int64
	hangs    atomic.Int64
	memKills atomic.Int64
	probes   atomic.Int64
	// restartsBy counts restarts by reason.
	restartsBy struct{ crash, hang, recycle atomic.Int64 }

	mu       sync.Mutex
	cur      *instance
	curSet   chan struct{} // closed when cur is set to a live instance
	closed   bool
	wg       sync.WaitGroup // the supervisor
	retiring sync.WaitGroup // browsers being retired
	stop     chan struct{}
	recycle  chan *instance

	startOnce, stopOnce sync.Once
}

var _ pageshot.Renderer = (*Pool)(nil)

// New returns a Pool; Start launches its browser.
func New(cfg Config) (*Pool, error) {
	if cfg.Guard == nil {
		return nil, errors.New("browser pool: no URL guard")
	}
	if cfg.ExecPath == "" {
		p, err := FindChrome()
		if err != nil {
			return nil, err
		}
		cfg.ExecPath = p
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, max(runtime.NumCPU(), 2))
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 16*cfg.Concurrency)
	cfg.QueueTimeout = cmp.Or(cfg.QueueTimeout, 30*time.Second)
	cfg.RecycleAfter = cmp.Or(cfg.RecycleAfter, 1000)
	cfg.MaxPageBytes = cmp.Or(cfg.MaxPageBytes, 64<<20)
	cfg.MaxPixels = cmp.Or(cfg.MaxPixels, 64_000_000)
	cfg.WatchdogInterval = cmp.Or(cfg.WatchdogInterval, 5*time.Second)
	cfg.User = cmp.Or(cfg.User, DefaultUser)
	cfg.RendererHeapLimit = cmp.Or(cfg.RendererHeapLimit, 512<<20)
	cfg.MaxRendererMemory = cmp.Or(cfg.MaxRendererMemory, 1<<30)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool{
		cfg:     cfg,
		log:     cfg.Logger,
		slots:   make(chan struct{}, cfg.Concurrency),
		curSet:  make(chan struct{}),
		stop:    make(chan struct{}),
		recycle: make(chan *instance, 1),
	}, nil
}

// Start launches the browser and waits until it is ready. Calling it again
// does nothing.
func (p *Pool) Start(ctx context.Context) error {
	var err error
	p.startOnce.Do(func() {
		var inst *instance
		inst, err = p.launch(ctx)
		if err != nil {
			return
		}
		// Wait for the first prepared tab, so the first capture finds one.
		select {
		case t := <-inst.ready:
			inst.ready <- t
		case <-ctx.Done():
		}
		p.setCurrent(inst)
		p.wg.Add(1)
		go p.supervise()
	})
	return err
}

// Stop ends the browser after the captures in flight finish or ctx ends,
// whichever comes first; then it kills what is left. Captures that arrive
// after Stop get service_unavailable. Safe to call twice.
func (p *Pool) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stop)
		p.wg.Wait()
		p.mu.Lock()
		inst := p.cur
		p.mu.Unlock()
		if inst != nil {
			inst.retire(ctx)
		}
		p.retiring.Wait()
	})
	return nil
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{
		InUse:       len(p.slots),
		Queued:      int(p.queued.Load()),
		Restarts:    p.restarts.Load(),
		Crashes:     p.crashes.Load(),
		Hangs:       p.hangs.Load(),
		MemoryKills: p.memKills.Load(),
		Probes:      p.probes.Load(),
		RestartsBy: map[string]int64{
			ReasonCrash:   p.restartsBy.crash.Load(),
			ReasonHang:    p.restartsBy.hang.Load(),
			ReasonRecycle: p.restartsBy.recycle.Load(),
		},
	}
}

// Ready reports whether a live browser is serving captures: false from
// the moment a browser dies or its watchdog finds it frozen until its
// replacement is up.
func (p *Pool) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.cur != nil && !p.cur.isLost() && !p.cur.hung.Load()
}

// PID returns the process id of the current browser, 0 when there is none.
func (p *Pool) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.pid
}

func (p *Pool) setCurrent(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = inst
	select {
	case <-p.curSet:
	default:
		close(p.curSet)
	}
}

// current waits for a live browser.
func (p *Pool) current(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		inst, set, closed := p.cur, p.curSet, p.closed
		p.mu.Unlock()
		if closed {
			return nil, shuttingDown()
		}
		if inst != nil && !inst.isLost() {
			return inst, nil
		}
		select {
		case <-set:
			// A replacement was installed after set was taken; look again
			// after a moment so a lost instance does not spin.
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// supervise replaces the browser when it dies or has served RecycleAfter
// captures.
func (p *Pool) supervise() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		inst := p.cur
		p.mu.Unlock()
		var old *instance
		var reason *atomic.Int64
		select {
		case <-p.stop:
			return
		case <-inst.lost:
			if inst.hung.Load() {
				p.hangs.Add(1)
				reason = &p.restartsBy.hang
				p.log.Warn("frozen browser killed; restarting", "pid", inst.pid)
			} else {
				p.crashes.Add(1)
				reason = &p.restartsBy.crash
				p.log.Warn("browser died; restarting", "pid", inst.pid)
			}
			p.mu.Lock()
			p.curSet = make(chan struct{})
			p.mu.Unlock()
			old = inst
		case old = <-p.recycle:
			if old != inst {
				continue
			}
			reason = &p.restartsBy.recycle
			p.log.Info("recycling browser", "pid", inst.pid, "captures", inst.captures.Load())
		}
		next := p.relaunch()
		if next == nil {
			return
		}
		p.restarts.Add(1)
		reason.Add(1)
		p.setCurrent(next)
		p.retiring.Add(1)
		go func() {
			defer p.retiring.Done()
			old.retire(context.Background())
		}()
	}
}

// relaunch starts a browser, retrying with backoff until it works or the
// pool stops. It returns nil when the pool stopped.
func (p *Pool) relaunch() *instance {
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		inst, err := p.launch(ctx)
		cancel()
		if err == nil {
			return inst
		}
		p.log.Error("start browser", "err", err)
		select {
		case <-p.stop:
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Render implements pageshot.Renderer. The wait for a slot and a browser is
// bounded by QueueTimeout and ends in service_unavailable; opts.Timeout
// bounds the capture from the moment a browser starts on it.
func (p *Pool) Render(ctx context.Context, opts *pageshot.Options) (*pageshot.Capture, error) {
	if opts.URL != "" {
		u, err := url.Parse(opts.URL)
		if err != nil {
			return nil, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "url", Message: "Is not a valid URL."}})
		}
		if err := p.cfg.Guard.CheckURL(ctx, u); err != nil {
			return nil, err
		}
	}
	queuedAt := time.Now()
	qctx, cancel := context.WithTimeout(ctx, p.cfg.QueueTimeout)
	defer cancel()
	if err := p.acquire(qctx); err != nil {
		return nil, p.queueError(ctx, err)
	}
	defer func() { <-p.slots }()
	inst, err := p.current(qctx)
	if err != nil {
		return nil, p.queueError(ctx, err)
	}
	t, err := inst.take(qctx)
	if err != nil {
		return nil, p.queueError(ctx, err)
	}
	queued := time.Since(queuedAt)

	c, err := t.render(ctx, opts, &p.cfg)
	inst.done(t)
	if n := inst.captures.Add(1); n == int64(p.cfg.RecycleAfter) {
		select {
		case p.recycle <- inst:
		default:
		}
	}
	if err != nil {
		return nil, p.cutOff(inst, p.outOfMemory(t, err))
	}
	c.Timing.Queue = queued
	return c, nil
}

// acquire takes a capture slot, waiting in the bounded queue.
func (p *Pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.queued.Add(1) > int64(p.cfg.QueueSize) {
		p.queued.Add(-1)
		return errQueueFull
	}
	defer p.queued.Add(-1)
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-p.stop:
		return shuttingDown()
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errQueueFull = errors.New("queue full")

// queueError turns an error of the wait for a slot or a browser into the
// answer the client gets.
func (p *Pool) queueError(parent context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err() // the client went away
	}
	var pe *pageshot.Error
	if errors.As(err, &pe) {
		return pe
	}
	retry := p.cfg.QueueTimeout / 6
	msg := "No browser was free within the queue timeout; try again shortly."
	if errors.Is(err, errQueueFull) {
		msg = "The capture queue is full; try again shortly."
		retry = 2 * time.Second
	}
	e := pageshot.Errorf(pageshot.CodeServiceUnavailable, "%s", msg)
	e.RetryAfter = max(retry, time.Second)
	e.Err = err
	return e
}

func shuttingDown() *pageshot.Error {
	e := pageshot.Errorf(pageshot.CodeServiceUnavailable, "The server is shutting down.")
	e.RetryAfter = 5 * time.Second
	return e
}
