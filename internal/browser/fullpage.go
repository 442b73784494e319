package browser

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

//go:embed js/fullpage.js
var fullpageJS string

// The bounds of the scroll pass. A step ends when nothing it triggered is
// loading for two polls in a row, or after stepWait; the pass leaves at
// least passReserve of the budget (a third of a short one) for the picture.
const (
	pollEvery   = 50 * time.Millisecond
	stepWait    = 2 * time.Second
	passReserve = 3 * time.Second
	// longRequest is how long a request may stay open before it is taken
	// for a long poll or a stream that will not end, and not waited for.
	longRequest = 3 * time.Second
)

// netTracker knows the page's requests in flight, from the network events.
type netTracker struct {
	mu       sync.Mutex
	inflight map[network.RequestID]request
}

// request is one request in flight.
type request struct {
	start time.Time
	url   string
}

func (n *netTracker) started(ev *network.EventRequestWillBeSent) {
	if ev.RedirectResponse != nil || ev.Request == nil || ev.Type == network.ResourceTypeEventSource || ev.Type == network.ResourceTypeWebSocket ||
		strings.HasPrefix(ev.Request.URL, "data:") || strings.HasPrefix(ev.Request.URL, "blob:") {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.inflight == nil {
		n.inflight = map[network.RequestID]request{}
	}
	n.inflight[ev.RequestID] = request{start: time.Now(), url: ev.Request.URL}
}

func (n *netTracker) finished(id network.RequestID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.inflight, id)
}

// busy reports whether a request that started after since, and is not yet
// longRequest old, is in flight.
func (n *netTracker) busy(since time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	for _, req := range n.inflight {
		if !req.start.Before(since) && now.Sub(req.start) < longRequest {
			return true
		}
	}
	return false
}

// track records the network events the scroll pass waits on; the listener
// calls it with every event.
func (n *netTracker) track(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		n.started(ev)
	case *network.EventLoadingFinished:
		n.finished(ev.RequestID)
	case *network.EventLoadingFailed:
		n.finished(ev.RequestID)
	}
}

type scrollInfo struct {
	Height float64 `json:"height"`
	Step   float64 `json:"step"`
	Inner  bool    `json:"inner"`
	Lazy   bool    `json:"lazy"` // the page shows signs of lazy loading
}

// scrollPass reads the page as a person would before a full-page capture
// or a PDF: it scrolls through it one screen at a time, up to maxHeight,
// and at each step waits (bounded) for the images, iframes and requests
// that step set off; then it scrolls back, lays the page out whole
// (content-visibility sections, an app shell's inner scroller) and lets it
// settle. It leaves part of the budget for the picture: a page that never
// stops loading is captured as far as the pass got.
func (r *renderer) scrollPass(ctx context.Context, maxHeight float64) error {
	reserve := min(passReserve, r.o.Timeout/3)
	deadline := time.Now().Add(r.o.Timeout)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	deadline = deadline.Add(-reserve)

	info, err := eval[scrollInfo](ctx, fullpageJS+".detect()")
	if err != nil {
		return fmt.Errorf("scroll pass: %w", err)
	}
	passStart := time.Now()
	height := info.Height
	// A step is over when nothing loads on calm polls in a row: two, a
	// poll apart, on a page with lazy loaders (some check the viewport on
	// a timer); one elsewhere, which keeps a page without lazy content as
	// fast as a plain scroll.
	calm := 1
	if info.Lazy {
		calm = 2
	}
	for y := 0.0; y < min(height, maxHeight) && time.Now().Before(deadline); y += info.Step {
		if height, err = eval[float64](ctx, fmt.Sprintf("%s.step(%d)", fullpageJS, int(y))); err != nil {
			return fmt.Errorf("scroll pass: %w", err)
		}
		if err := r.quiet(ctx, passStart, deadline, calm); err != nil {
			return err
		}
	}
	if _, err := eval[float64](ctx, fullpageJS+".finish()"); err != nil {
		return fmt.Errorf("scroll pass: %w", err)
	}
	if err := r.quiet(ctx, passStart, deadline, calm); err != nil {
		return err
	}
	return r.rest(ctx)
}

// quiet waits until no image or iframe near the viewport is loading and
// no request started since the pass began is in flight, on calm polls in a
// row; at most stepWait, and never past deadline.
func (r *renderer) quiet(ctx context.Context, since, deadline time.Time, calm int) error {
	end := time.Now().Add(stepWait)
	if deadline.Before(end) {
		end = deadline
	}
	seen := 0
	for time.Now().Before(end) {
		n, err := eval[int](ctx, fullpageJS+".pending()")
		if err != nil {
			return fmt.Errorf("scroll pass: %w", err)
		}
		if n == 0 && !r.net.busy(since) {
			if seen++; seen >= calm {
				return nil
			}
		} else {
			seen = 0
		}
		select {
		case <-time.After(pollEvery):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// reveal renders the sections that content-visibility:auto leaves blank
// off screen, for captures that reach past the viewport.
func (r *renderer) reveal(ctx context.Context) error {
	_, err := eval[any](ctx, fullpageJS+".reveal()")
	return err
}

// fullPage runs the scroll pass and returns the page's whole area, cut at
// full_page_max_height and at what the pixel limit (and, for WebP, the
// largest image Chromium encodes) allows. A cut sets r.truncated.
func (r *renderer) fullPage(ctx context.Context) (*page.Viewport, error) {
	o := r.o
	if err := r.scrollPass(ctx, float64(o.FullPageMaxHeight)); err != nil {
		return nil, err
	}
	m, err := chromedp.Call(ctx, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("get layout metrics: %w", err)
	}
	w, h := float64(o.ViewportWidth), float64(o.ViewportHeight)
	if m.CSSContentSize != nil {
		w = max(w, math.Ceil(m.CSSContentSize.Width))
		h = max(h, math.Ceil(m.CSSContentSize.Height))
	}
	// A phone shows a page laid out wider than its screen (one without a
	// meta viewport: 980 CSS pixels) zoomed out to the screen's width; the
	// picture is taken at that zoom, as the person would see the page.
	scale := 1.0
	if o.Mobile && m.CSSVisualViewport != nil && m.CSSVisualViewport.Scale > 0 && m.CSSVisualViewport.Scale < 1 {
		scale = m.CSSVisualViewport.Scale
		// The layout width that fits the screen exactly, so that the image
		// is as wide as a viewport capture.
		w = float64(o.ViewportWidth) / scale
	}
	limit := float64(o.FullPageMaxHeight)
	px := o.DeviceScaleFactor * scale // image pixels per CSS pixel
	limit = min(limit, math.Floor(float64(r.maxPixels)/(w*px*px)))
	if o.Format == pageshot.FormatWebP {
		limit = min(limit, math.Floor(maxTextureHeight/px))
	}
	if h > limit {
		h, r.truncated = limit, true
	}
	if h < 1 {
		return nil, pageshot.Errorf(pageshot.CodePageTooLarge, "The page is %.0f CSS pixels wide; at scale %g not one row fits in the limit of %d pixels.", w, o.DeviceScaleFactor, r.maxPixels)
	}
	return &page.Viewport{Width: w, Height: h, Scale: scale}, nil
}
