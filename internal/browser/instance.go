package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// instance is one browser process and the tabs prepared in it.
type instance struct {
	pool *Pool

	ctx         context.Context // the chromedp context of the browser
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	lost        <-chan struct{}
	pid         int
	userAgent   string
	window      window // of a prepared tab, read once at launch (see learnWindow); the zero window fits no capture

	ready chan *tab // prepared tabs, each in a fresh browser context
	// changed wakes the fillers waiting to prepare a tab (see
	// waitToPrepare): one value for each filler, sent by wake.
	changed  chan struct{}
	quit     chan struct{}
	fillers  sync.WaitGroup
	inflight sync.WaitGroup
	// busy counts the captures taking or holding a tab, until the tab is
	// disposed of: the pages that may be running. The memory watch has
	// nothing to look at without one; a filler waits for none (see
	// mayPrepare).
	busy     atomic.Int64
	captures atomic.Int64
	retired  sync.Once
	hung     atomic.Bool // the watchdog found it frozen and killed it
	killed   atomic.Bool // kill was called: its captures end because of us
	mem      *memoryWatch
	box      *box // how it was started
}

// launch starts a browser and the goroutines that prepare its tabs, with
// Chromium's sandbox when it can: when the browser does not start with
// it (a kernel that refuses unprivileged user namespaces), it starts
// without, and says so in the log and in Pool.Sandbox.
func (p *Pool) launch(ctx context.Context) (*instance, error) {
	b, err := p.plan()
	if err != nil {
		return nil, err
	}
	inst, err := p.launchIn(ctx, b)
	if err != nil && b.state.On && ctx.Err() == nil {
		p.log.Error("Chromium did not start with its sandbox; starting it without", "err", err)
		b = b.withoutSandbox(fmt.Sprintf("Chromium did not start with its sandbox (%v); the kernel may refuse unprivileged user namespaces (see /proc/sys/user/max_user_namespaces, and kernel.apparmor_restrict_unprivileged_userns on Ubuntu)", err))
		inst, err = p.launchIn(ctx, b)
	}
	if err != nil {
		os.RemoveAll(b.dir)
		return nil, err
	}
	if !b.state.On {
		p.log.Warn("the browser runs WITHOUT its sandbox", "user", b.state.User, "reason", b.state.Reason)
	}
	return inst, nil
}

// launchIn starts a browser as b says.
func (p *Pool) launchIn(ctx context.Context, b *box) (*instance, error) {
	merged := map[string]any{}
	for k, v := range flags {
		merged[k] = v
	}
	if p.cfg.RendererHeapLimit > 0 {
		merged["js-flags"] = fmt.Sprintf("--max-old-space-size=%d", max(p.cfg.RendererHeapLimit>>20, 16))
	}
	if p.cfg.ProxyServer != "" {
		merged["proxy-server"] = p.cfg.ProxyServer
		// Without this Chromium sends loopback requests around the proxy.
		merged["proxy-bypass-list"] = "<-loopback>"
	}
	for k, v := range p.cfg.Flags {
		merged[k] = v
	}
	// The browser's output tells when a renderer ran out of memory.
	mem := newMemoryWatch()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(p.cfg.ExecPath), chromedp.CombinedOutput(mem)}
	opts = b.apply(merged, opts)
	for k, v := range merged {
		if v == false {
			continue
		}
		opts = append(opts, chromedp.Flag(k, v))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	logf := func(format string, args ...any) { p.log.Debug(fmt.Sprintf(format, args...)) }
	bctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			cancel()
			allocCancel()
			return nil, fmt.Errorf("start chromium: %w", err)
		}
	case <-ctx.Done():
		cancel()
		allocCancel()
		return nil, fmt.Errorf("start chromium: %w", ctx.Err())
	}
	c := chromedp.FromContext(bctx)
	inst := &instance{
		pool:        p,
		ctx:         bctx,
		cancel:      cancel,
		allocCancel: allocCancel,
		lost:        c.Browser.LostConnection,
		ready:       make(chan *tab, p.cfg.Concurrency),
		changed:     make(chan struct{}, fillers(p.cfg.Concurrency)),
		quit:        make(chan struct{}),
		mem:         mem,
		box:         b,
	}
	if proc := c.Browser.Process(); proc != nil {
		inst.pid = proc.Pid
	}
	vctx, vcancel := context.WithTimeout(bctx, 10*time.Second)
	ver, err := chromedp.CallBrowser(vctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		err = fmt.Errorf("get browser version: %w", err)
	} else if _, err = chromedp.Call(vctx, target.SetDiscoverTargets, target.SetDiscoverTargetsParams{Discover: false}); err != nil {
		// The first tab, which chromedp opened and keeps, would hear of
		// every other tab as each prepared tab would (see setUp).
		err = fmt.Errorf("stop target discovery: %w", err)
	}
	vcancel()
	if err != nil {
		inst.kill()
		return nil, err
	}
	// Many sites refuse "HeadlessChrome"; present the browser as what it is.
	inst.userAgent = strings.Replace(ver.UserAgent, "HeadlessChrome", "Chrome", 1)
	inst.learnWindow(ctx)

	for range fillers(p.cfg.Concurrency) {
		inst.fillers.Add(1)
		go inst.fill()
	}
	go inst.watch()
	inst.watchMemory()
	p.log.Info("browser started", "pid", inst.pid, "version", ver.Product, "sandbox", b.state.On, "user", b.state.User,
		"window", inst.window.String())
	return inst, nil
}

func (inst *instance) isLost() bool {
	select {
	case <-inst.lost:
		return true
	default:
		return false
	}
}

// fillers is how many goroutines prepare tabs for a browser whose
// captures run concurrency at once: two, so that the stock is refilled
// at the pace two captures take it, and one when one capture runs.
func fillers(concurrency int) int { return min(concurrency, 2) }

// fill keeps inst.ready stocked with prepared tabs, whenever mayPrepare,
// until inst retires.
func (inst *instance) fill() {
	defer inst.fillers.Done()
	for {
		if !inst.waitToPrepare() {
			return
		}
		t, err := inst.newTab()
		if err == nil {
			select {
			case inst.ready <- t:
				t = nil // handed over
			default: // ready is full: t waits for room below
			}
		}
		if prepareHook != nil {
			prepareHook(prepareEvent{inst: inst, done: true})
		}
		if err != nil {
			if inst.isLost() {
				return
			}
			select {
			case <-inst.quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
			inst.pool.log.Warn("prepare tab", "err", err)
			continue
		}
		if t == nil {
			continue
		}
		select {
		case inst.ready <- t:
		case <-inst.quit:
			t.dispose()
			return
		}
	}
}

// mayPrepare reports whether a filler may prepare a tab now: when no
// capture takes or holds a tab (busy, until the tab is disposed of, which
// is the browser's work too), or when fewer tabs are in ready than
// captures may run at once. Preparing a tab (a browser context, a
// renderer, its set-up) takes the browser's main thread and a core from
// the captures that run, so with ready full it waits for them; see
// BENCHMARKS.md, "Seventh pass" (bursts of captures on an idle server).
// It returns what it saw.
func (inst *instance) mayPrepare() (busy int64, ready int, ok bool) {
	busy, ready = inst.busy.Load(), len(inst.ready)
	return busy, ready, busy == 0 || ready < cap(inst.ready)
}

// waitToPrepare waits until mayPrepare, and calls prepareHook then; false
// when inst retires first.
func (inst *instance) waitToPrepare() bool {
	for {
		select {
		case <-inst.quit:
			return false
		default:
		}
		if busy, ready, ok := inst.mayPrepare(); ok {
			if prepareHook != nil {
				prepareHook(prepareEvent{inst: inst, busy: busy, ready: ready})
			}
			return true
		}
		select {
		case <-inst.quit:
			return false
		case <-inst.changed:
		}
	}
}

// prepareEvent is a filler's preparation of a tab as prepareHook sees it:
// its start, with what mayPrepare saw, or its end (done): the tab in
// ready, or in the filler's hands because ready is full, or the attempt
// failed.
type prepareEvent struct {
	inst  *instance
	busy  int64
	ready int
	done  bool
}

// prepareHook, when set, is called at the start and the end of each
// attempt to prepare a tab. For tests: set it only while no Pool runs,
// as the fillers read it unsynchronised.
var prepareHook func(prepareEvent)

// wake tells the waiting fillers that mayPrepare may have changed. Every
// change that can make it true (busy down to 0, a tab taken from ready)
// calls it after the change. It fills changed: a filler that takes a
// value rechecks after the change, and a full changed has no filler
// blocked on it. Start's look at the first tab and kill's drain of ready
// need none: the first puts the tab back, the second runs once the
// fillers have ended.
func (inst *instance) wake() {
	for range cap(inst.changed) {
		select {
		case inst.changed <- struct{}{}:
		default:
			return
		}
	}
}

// take returns a prepared tab, waiting for one if none is ready.
func (inst *instance) take(ctx context.Context) (*tab, error) {
	inst.inflight.Add(1)
	// Counted busy before the tab leaves ready, so that no filler sees an
	// idle browser in between.
	inst.busy.Add(1)
	select {
	case t := <-inst.ready:
		inst.wake()
		return t, nil
	case <-inst.lost:
		inst.busy.Add(-1)
		inst.wake()
		inst.inflight.Done()
		return nil, errBrowserLost
	case <-ctx.Done():
		inst.busy.Add(-1)
		inst.wake()
		inst.inflight.Done()
		return nil, ctx.Err()
	}
}

// done disposes of a used tab in the background and releases its capture.
func (inst *instance) done(t *tab) {
	inst.inflight.Done()
	go func() {
		t.dispose()
		inst.busy.Add(-1)
		inst.wake()
	}()
}

// retire stops preparing tabs, waits for the captures in flight (until ctx
// ends), then ends the browser process.
func (inst *instance) retire(ctx context.Context) {
	inst.retired.Do(func() {
		close(inst.quit)
		waited := make(chan struct{})
		go func() { inst.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
		}
		inst.kill()
	})
}

// kill ends the browser process and waits for it to exit.
func (inst *instance) kill() {
	inst.killed.Store(true)
	done := make(chan struct{})
	go func() {
		_ = chromedp.Cancel(inst.ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	inst.cancel()
	inst.allocCancel()
	inst.fillers.Wait()
	if inst.box != nil {
		// Helpers that outlive the browser a moment may still write here;
		// what they leave is small and in the temporary directory.
		_ = os.RemoveAll(inst.box.dir)
	}
	// Tabs still queued belong to a dead browser now.
	for {
		select {
		case t := <-inst.ready:
			t.cancel()
		default:
			return
		}
	}
}

var (
	errBrowserLost = errors.New("browser process exited")
	errPageCrashed = errors.New("renderer crashed")
	errBudget      = errors.New("timeout budget spent")
	errNavBudget   = errors.New("navigation timeout spent")
	errTooLarge    = errors.New("page byte limit passed")
)

// tab is a page target in a browser context of its own.
type tab struct {
	inst     *instance
	ctx      context.Context // chromedp context of the target
	cancel   context.CancelFunc
	bcID     cdp.BrowserContextID
	targetID target.ID
}

// newTab creates a browser context with one blank page, attached and set up
// for a capture. It runs ahead of the capture that will use it.
func (inst *instance) newTab() (*tab, error) {
	ctx, cancel := context.WithTimeout(inst.ctx, 20*time.Second)
	defer cancel()
	bc, err := chromedp.CallBrowser(ctx, target.CreateBrowserContext, target.CreateBrowserContextParams{})
	if err != nil {
		return nil, fmt.Errorf("create browser context: %w", err)
	}
	t := &tab{inst: inst, bcID: bc.BrowserContextID}
	tr, err := chromedp.CallBrowser(ctx, target.CreateTarget, target.CreateTargetParams{URL: "about:blank", BrowserContextID: bc.BrowserContextID})
	if err != nil {
		t.disposeContext()
		return nil, fmt.Errorf("create target: %w", err)
	}
	t.targetID = tr.TargetID
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorDeny, BrowserContextID: bc.BrowserContextID,
	})
	if err != nil {
		t.disposeContext()
		return nil, fmt.Errorf("deny downloads: %w", err)
	}
	t.ctx, t.cancel = chromedp.NewContext(inst.ctx, chromedp.WithTargetID(tr.TargetID))
	stop := context.AfterFunc(ctx, t.cancel) // bound the attach and the set-up
	if err = chromedp.Do(t.ctx); err != nil {
		err = fmt.Errorf("attach target: %w", err)
	} else if err = t.setUp(inst.userAgent); err != nil {
		err = fmt.Errorf("set up tab: %w", err)
	}
	stop()
	if err != nil {
		t.dispose()
		return nil, err
	}
	// Dialogs would stall the page until answered: dismiss every one, and
	// let beforeunload through.
	dialogs := chromedp.Events(t.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(t.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: ev.Type == page.DialogTypeBeforeunload})
		}
	}()
	return t, nil
}

// dispose closes the tab and its browser context, with all the state the
// capture left in it.
func (t *tab) dispose() {
	if t.cancel != nil {
		t.cancel()
	}
	t.disposeContext()
}

func (t *tab) disposeContext() {
	ctx, cancel := context.WithTimeout(t.inst.ctx, 10*time.Second)
	defer cancel()
	_, _ = chromedp.CallBrowser(ctx, target.DisposeBrowserContext, target.DisposeBrowserContextParams{BrowserContextID: t.bcID})
}

// setUp prepares an attached tab. chromedp enables the DOM, CSS and Log
// domains for its element queries, and target discovery; pageshot uses
// none of them, and their events (a DOM.getDocument after every
// navigation, each stylesheet's header, every tab's news) cost CPU during
// every capture, so they are turned off again.
func (t *tab) setUp(userAgent string) error {
	ctx := t.ctx
	if _, err := chromedp.Call(ctx, dom.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disable DOM domain: %w", err)
	}
	if _, err := chromedp.Call(ctx, css.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disable CSS domain: %w", err)
	}
	if _, err := chromedp.Call(ctx, log.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disable Log domain: %w", err)
	}
	// chromedp also has every tab discover targets, for WaitNewTarget:
	// each tab then hears of every other tab's creation, changes and end,
	// which came to some forty messages a capture over the few tabs
	// alive, each serialised by the browser and decoded here. pageshot
	// opens no second tab; the browser connection keeps its own
	// discovery (the memory watch hears of crashes through it), and
	// auto-attach (the page's iframes) stays.
	if _, err := chromedp.Call(ctx, target.SetDiscoverTargets, target.SetDiscoverTargetsParams{Discover: false}); err != nil {
		return fmt.Errorf("stop target discovery: %w", err)
	}
	// Keep the Network domain's events (the main document's status), but
	// not copies of every response body.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{MaxTotalBufferSize: new(int64(0)), MaxResourceBufferSize: new(int64(0))}); err != nil {
		return fmt.Errorf("enable network: %w", err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent}); err != nil {
		return fmt.Errorf("set user agent: %w", err)
	}
	return nil
}
