package browser

import (
	"context"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// watchdog notices a browser that stopped answering: a browser that is
// alive but frozen (stopped, deadlocked, swapping) never closes its
// connection, so the crash supervisor alone would keep it forever while
// every capture waits out its queue timeout.
type watchdog struct {
	// interval is the time between probes and the time a probe may take.
	interval time.Duration
	// probe asks the browser something cheap; it must return once ctx
	// ends.
	probe func(ctx context.Context) error
	// hung is called once, with the probe's error, when a probe failed.
	hung func(err error)
}

// run probes every interval until done closes or a probe fails, in which
// case it calls hung and returns. A probe that fails because done closed
// meanwhile is not a hang.
func (w watchdog) run(done <-chan struct{}) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.interval)
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := w.probe(ctx)
		cancel()
		if err == nil {
			continue
		}
		select {
		case <-done:
			return
		default:
		}
		w.hung(err)
		return
	}
}

// watch starts the watchdog of inst: a Browser.getVersion that goes
// unanswered for the pool's WatchdogInterval marks the browser hung (so
// Ready reports false) and kills it; the supervisor then replaces it as it
// would a crashed one, counting the restart with reason "hang".
func (inst *instance) watch() {
	p := inst.pool
	done := make(chan struct{})
	go func() {
		select {
		case <-inst.quit:
		case <-inst.lost:
		}
		close(done)
	}()
	watchdog{
		interval: p.cfg.WatchdogInterval,
		probe:    inst.probe,
		hung: func(err error) {
			inst.hung.Store(true)
			p.log.Warn("browser does not answer; killing it", "pid", inst.pid, "after", p.cfg.WatchdogInterval, "err", err)
			if inst.pid > 0 {
				// SIGKILL ends a stopped process too; its connection then
				// closes and the supervisor restarts it.
				_ = syscall.Kill(inst.pid, syscall.SIGKILL)
			}
		},
	}.run(done)
}

// probe is the watchdog's question: cheap, answered by the browser process
// itself, not by a renderer that a page may keep busy. It returns ctx's
// error when ctx ends first.
func (inst *instance) probe(ctx context.Context) error {
	// Browser calls need the browser's chromedp context.
	cctx, cancel := context.WithCancel(inst.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	_, err := chromedp.CallBrowser(cctx, browser.GetVersion, cdp.Empty{})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		inst.pool.probes.Add(1)
	}
	return err
}
