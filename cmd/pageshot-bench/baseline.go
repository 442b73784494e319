package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// baselineFlags are all the Chromium flags of the baseline, besides
// --user-data-dir. chromedp itself adds only --remote-debugging-pipe (its
// transport) and the first URL, about:blank.
var baselineFlags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync",
	"disable-dev-shm-usage", "hide-scrollbars",
}

// baseline is the minimal chromedp program that pageshot is measured
// against: one warm browser, and per capture a fresh incognito browser
// context, a viewport override, a navigation that waits for the load event
// and a plain PNG screenshot. It is what a competent person writes in 30
// lines, with neither tricks nor handicaps.
type baseline struct {
	browser     context.Context // the browser's first chromedp context
	stopBrowser context.CancelFunc
	stopAlloc   context.CancelFunc
	dataDir     string
}

var _ engine = (*baseline)(nil)

// startBaseline starts Chromium at chromePath with baselineFlags and a fresh
// temporary user data directory, and waits until it answers.
func startBaseline(ctx context.Context, chromePath string) (*baseline, error) {
	dir, err := os.MkdirTemp("", "pageshot-bench-chromium-")
	if err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	// An empty option list, not chromedp.DefaultExecAllocatorOptions, which
	// add twenty more flags.
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromePath), chromedp.UserDataDir(dir)}
	for _, f := range baselineFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	// The browser lives until Close, not until ctx ends, so that Close can
	// still shut it down gracefully after an interrupt.
	allocCtx, stopAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	browserCtx, stopBrowser := chromedp.NewContext(allocCtx)
	b := &baseline{browser: browserCtx, stopBrowser: stopBrowser, stopAlloc: stopAlloc, dataDir: dir}
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		b.Close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return b, nil
}

// Name implements engine.
func (b *baseline) Name() string { return "baseline" }

// Capture implements engine. release closes the tab and disposes of its
// browser context, as the deferred cancel of a simple program does.
func (b *baseline) Capture(ctx context.Context, url string) ([]byte, func(), error) {
	tab, closeTab := chromedp.NewContext(b.browser, chromedp.WithNewBrowserContext())
	// The tab must descend from the browser's context, so ctx's deadline
	// reaches it this way.
	stop := context.AfterFunc(ctx, closeTab)
	release := func() { stop(); closeTab() }

	_, err := chromedp.Call(tab, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: viewportWidth, Height: viewportHeight, DeviceScaleFactor: 1,
	})
	if err == nil {
		err = chromedp.Do(tab, chromedp.Navigate(url))
	}
	var img []byte
	if err == nil {
		img, err = chromedp.Run(tab, chromedp.CaptureScreenshot()) // PNG, the default format
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err() // the real cause, rather than the canceled tab
	}
	return img, release, err
}

// Close implements engine: it closes the browser gracefully and removes its
// user data directory.
func (b *baseline) Close() error {
	ctx, cancel := context.WithTimeout(b.browser, 15*time.Second) // then it is killed
	defer cancel()
	err := chromedp.Cancel(ctx)
	b.stopBrowser()
	b.stopAlloc()
	if rmErr := os.RemoveAll(b.dataDir); err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("stop baseline chromium: %w", err)
	}
	return nil
}
