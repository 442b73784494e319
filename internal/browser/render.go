package browser

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of captures
	_ "image/png"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	_ "golang.org/x/image/webp" // DecodeConfig of captures

	"github.com/pageshot/pageshot"
)

// htmlURL is the address an html capture is served at. The request never
// leaves the browser: it is answered from the capture's own html. The
// .invalid name can never resolve, so nothing real is shadowed.
const htmlURL = "http://pageshot.invalid/"

// maxTextureHeight is the tallest image Chromium's compositor renders in
// one piece, in device pixels.
const maxTextureHeight = 16384

// capture holds what the events of one capture tell.
type capture struct {
	mu       sync.Mutex
	loaders  map[cdp.LoaderID]map[string]bool // lifecycle events seen
	status   int
	finalURL string
	current  string          // the URL the main frame is loading, after redirects
	egress   *pageshot.Error // the proxy's refusal of the main document

	changed chan struct{} // signalled on each new lifecycle event
}

func (c *capture) seen(loader cdp.LoaderID, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaders[loader][name]
}

func (c *capture) response() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.finalURL
}

// render runs one capture in t. It owns the whole timeout budget.
func (t *tab) render(reqCtx context.Context, o *pageshot.Options, cfg *Config) (*pageshot.Capture, error) {
	ctx, cancel := context.WithCancelCause(t.ctx)
	defer cancel(nil)
	stopReq := context.AfterFunc(reqCtx, func() { cancel(context.Cause(reqCtx)) })
	defer stopReq()
	done := ctx.Done()
	go func() {
		select {
		case <-t.inst.lost:
			cancel(errBrowserLost)
		case <-done:
		}
	}()
	ctx, cancelBudget := context.WithTimeoutCause(ctx, o.Timeout, errBudget)
	defer cancelBudget()

	r := &renderer{t: t, o: o, guard: cfg.Guard, fastPNG: cfg.FastPNG, maxBytes: cfg.MaxPageBytes, maxPixels: cfg.MaxPixels, phase: pageshot.PhaseNavigation, ev: &capture{loaders: map[cdp.LoaderID]map[string]bool{}, changed: make(chan struct{}, 1)}}
	c, err := r.run(ctx, cancel)
	if err != nil {
		return nil, r.classify(reqCtx, ctx, err)
	}
	return c, nil
}

type renderer struct {
	t       *tab
	o       *pageshot.Options
	guard   pageshot.URLGuard
	fastPNG bool
	ev      *capture
	nav     navigation

	maxBytes, maxPixels int64
	downloaded          int64 // bytes the page received so far; only the listener touches it
	phase               string

	net       netTracker // requests in flight, for the scroll pass
	truncated bool       // the full page was cut
	consent   *consent   // autoconsent's progress, with block_cookie_banners
}

func (r *renderer) mainFrame() cdp.FrameID { return cdp.FrameID(r.t.targetID) }

func (r *renderer) listen(ctx context.Context, cancel context.CancelCauseFunc) error {
	main := r.mainFrame()
	return chromedp.Listen(ctx, func(ev any) {
		if r.nav.observe(main, ev) {
			r.ev.signal()
		}
		r.net.track(ev)
		switch ev := ev.(type) {
		case *page.EventLifecycleEvent:
			if ev.FrameID != main {
				return
			}
			r.ev.mu.Lock()
			if r.ev.loaders[ev.LoaderID] == nil {
				r.ev.loaders[ev.LoaderID] = map[string]bool{}
			}
			r.ev.loaders[ev.LoaderID][ev.Name] = true
			r.ev.mu.Unlock()
			select {
			case r.ev.changed <- struct{}{}:
			default:
			}
		case *network.EventRequestWillBeSent:
			if ev.Type == network.ResourceTypeDocument && ev.FrameID == main && ev.Request != nil {
				r.ev.mu.Lock()
				r.ev.current = ev.Request.URL
				r.ev.mu.Unlock()
			}
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument && ev.FrameID == main && string(ev.RequestID) == string(ev.LoaderID) && ev.Response != nil {
				r.ev.mu.Lock()
				r.ev.status, r.ev.finalURL = int(ev.Response.Status), ev.Response.URL
				r.ev.egress = egressError(ev.Response)
				r.ev.mu.Unlock()
			}
		case *network.EventDataReceived:
			r.downloaded += ev.DataLength
			if r.downloaded > r.maxBytes {
				cancel(errTooLarge)
			}
		case *inspector.EventTargetCrashed:
			cancel(errPageCrashed)
		case *fetch.EventRequestPaused:
			go r.intercept(ctx, ev)
		}
	})
}

func (r *renderer) run(ctx context.Context, cancel context.CancelCauseFunc) (*pageshot.Capture, error) {
	o := r.o
	if err := r.listen(ctx, cancel); err != nil {
		return nil, err
	}
	if err := r.emulate(ctx); err != nil {
		return nil, err
	}
	if err := r.checkSelectors(ctx); err != nil {
		return nil, err
	}
	if o.BlockCookieBanners {
		if err := r.startConsent(ctx); err != nil {
			return nil, err
		}
	}

	r.phase = pageshot.PhaseNavigation
	navStart := time.Now()
	if err := r.navigate(ctx); err != nil {
		return nil, err
	}
	if err := r.landed(); err != nil {
		return nil, err
	}
	if err := r.waitNetworkIdle(ctx, navStart); err != nil {
		return nil, err
	}
	status, finalURL := r.ev.response()
	if status != 0 && (status < 200 || status > 399) && !o.IgnoreHostErrors {
		e := pageshot.Errorf(pageshot.CodeHostReturnedError, "The target answered with HTTP status %d.", status)
		e.ReturnedStatusCode = status
		return nil, e
	}
	navigated := time.Since(navStart)
	_, _, commits := r.nav.state()

	r.phase = pageshot.PhaseWait
	waitStart := time.Now()
	err := r.prepareFollowing(ctx, commits)
	if err != nil {
		return nil, err
	}

	var links []string
	if o.CollectLinks {
		// Resolved by the page itself, so base elements and relative
		// paths come out as the browser sees them.
		if links, err = eval[[]string](ctx, `Array.from(document.links, a => a.href).filter(h => /^https?:/i.test(h))`); err != nil {
			return nil, err
		}
	}

	r.phase = pageshot.PhaseRender
	var (
		data        []byte
		w, h        int
		encodeStart time.Time
	)
	err = r.still(ctx, func(ctx context.Context) error {
		params, err := r.screenshotParams(ctx)
		if err != nil {
			return err
		}
		encodeStart = time.Now()
		data, w, h, err = r.encode(ctx, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	status, finalURL = r.ev.response()
	if o.Format == pageshot.FormatPDF {
		w, h = o.ViewportWidth, o.ViewportHeight
	}
	if finalURL == "" && o.URL != "" {
		finalURL = o.URL
	}
	var md *pageshot.Metadata
	if len(o.Metadata) > 0 {
		if md, err = r.metadata(ctx, data, status, finalURL); err != nil {
			return nil, err
		}
	}
	return &pageshot.Capture{
		Data:               data,
		Format:             o.Format,
		Width:              w,
		Height:             h,
		ReturnedStatusCode: status,
		FinalURL:           finalURL,
		Truncated:          r.truncated,
		Metadata:           md,
		Links:              links,
		Timing: pageshot.Timing{
			Navigation: navigated,
			Render:     encodeStart.Sub(waitStart),
			Encode:     time.Since(encodeStart),
		},
	}, nil
}

// emulate sets the viewport and every per-capture override before
// navigation.
func (r *renderer) emulate(ctx context.Context) error {
	o := r.o
	if err := r.setMetrics(ctx); err != nil {
		return err
	}
	if o.OmitBackground {
		if _, err := chromedp.Call(ctx, transparentBackground, transparent); err != nil {
			return fmt.Errorf("set background: %w", err)
		}
	}
	if err := r.setUserAgent(ctx); err != nil {
		return err
	}
	if o.Locale != "" {
		if _, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: icuLocale(o.Locale)}); err != nil {
			return pageshot.InvalidRequest([]pageshot.FieldError{{Field: "locale", Message: "The browser does not know this locale."}})
		}
	}
	if o.Timezone != "" {
		if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: o.Timezone}); err != nil {
			return pageshot.InvalidRequest([]pageshot.FieldError{{Field: "timezone", Message: "The browser does not know this time zone."}})
		}
	}
	if o.DarkMode || o.ReducedMotion {
		var features []*emulation.MediaFeature
		if o.DarkMode {
			features = append(features, &emulation.MediaFeature{Name: "prefers-color-scheme", Value: "dark"})
		}
		if o.ReducedMotion {
			features = append(features, &emulation.MediaFeature{Name: "prefers-reduced-motion", Value: "reduce"})
		}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
			return fmt.Errorf("emulate media: %w", err)
		}
	}
	if len(o.Headers) > 0 {
		h := network.Headers{}
		for k, v := range o.Headers {
			h[k] = v
		}
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
			return fmt.Errorf("set headers: %w", err)
		}
	}
	if len(o.Cookies) > 0 {
		var cookies []*network.CookieParam
		for _, c := range o.Cookies {
			p := &network.CookieParam{Name: c.Name, Value: c.Value, Domain: c.Domain, Path: cmp.Or(c.Path, "/")}
			if c.Domain == "" {
				p.URL = o.URL
			}
			cookies = append(cookies, p)
		}
		if _, err := chromedp.Call(ctx, network.SetCookies, network.SetCookiesParams{Cookies: cookies}); err != nil {
			return pageshot.InvalidRequest([]pageshot.FieldError{{Field: "cookies", Message: "The browser refused the cookies: " + err.Error()}})
		}
	}
	var patterns []*fetch.RequestPattern
	if o.HTML != "" {
		patterns = append(patterns, &fetch.RequestPattern{URLPattern: htmlURL, RequestStage: fetch.RequestStageRequest})
	}
	for _, rt := range o.BlockResources {
		patterns = append(patterns, &fetch.RequestPattern{ResourceType: resourceType(rt), RequestStage: fetch.RequestStageRequest})
	}
	if o.URLCheck != nil && o.URL != "" {
		patterns = append(patterns, &fetch.RequestPattern{ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest})
	}
	patterns = append(patterns, r.filterPatterns()...)
	if len(patterns) > 0 {
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: patterns}); err != nil {
			return fmt.Errorf("enable interception: %w", err)
		}
	}
	return nil
}

func resourceType(s string) network.ResourceType {
	switch s {
	case "xhr":
		return network.ResourceTypeXHR
	case "texttrack":
		return network.ResourceTypeTextTrack
	case "eventsource":
		return network.ResourceTypeEventSource
	case "websocket":
		return network.ResourceTypeWebSocket
	case "cspviolationreport":
		return network.ResourceTypeCSPViolationReport
	}
	return network.ResourceType(strings.ToUpper(s[:1]) + s[1:])
}

// intercept answers a paused request: the html of an html capture, a
// main-frame document checked against Options.URLCheck, or a refusal for
// a blocked resource type.
func (r *renderer) intercept(ctx context.Context, ev *fetch.EventRequestPaused) {
	if r.filterPaused(ctx, ev) {
		return
	}
	if r.o.HTML != "" && ev.Request != nil && ev.Request.URL == htmlURL && ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == r.mainFrame() {
		_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
			RequestID:       ev.RequestID,
			ResponseCode:    200,
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
			Body:            []byte(r.o.HTML),
		})
		return
	}
	if r.o.URLCheck != nil && ev.Request != nil && ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == r.mainFrame() {
		if err := r.o.URLCheck(ev.Request.URL); err != nil {
			// Recorded as the egress proxy's refusals are, so that the
			// failed navigation reports it.
			r.ev.mu.Lock()
			r.ev.egress = pageshot.AsError(err)
			r.ev.mu.Unlock()
		} else if !slices.Contains(r.o.BlockResources, "document") {
			_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			return
		}
	}
	_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
}

// transparentBackground is Emulation.setDefaultBackgroundColorOverride with
// an alpha of 0 that is sent: cdproto's RGBA omits a zero alpha, and Chromium
// reads a missing alpha as 1.
var transparentBackground = cdp.Command[struct {
	Color map[string]int `json:"color"`
}, cdp.Empty]{Method: emulation.CommandSetDefaultBackgroundColorOverride}

var transparent = struct {
	Color map[string]int `json:"color"`
}{Color: map[string]int{"r": 0, "g": 0, "b": 0, "a": 0}}

// egressError reads the egress proxy's refusal from a response, nil when
// the response is the target's own.
func egressError(res *network.Response) *pageshot.Error {
	code, _ := headerValue(res.Headers, pageshot.EgressErrorHeader)
	if code == "" {
		return nil
	}
	reason, _ := headerValue(res.Headers, pageshot.EgressReasonHeader)
	e := &pageshot.Error{Code: pageshot.Code(code), Reason: reason}
	switch e.Code {
	case pageshot.CodeURLBlocked:
		e.Message = fmt.Sprintf("The page or a redirect led to a refused address (%s): %s.", reason, res.URL)
	case pageshot.CodeNameNotResolved:
		e.Message = "The target's host name could not be resolved."
	default:
		e.Code = pageshot.CodeConnectionFailed
		e.Message = "The target could not be reached."
	}
	return e
}

func headerValue(h network.Headers, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, ok := v.(string)
			return s, ok
		}
	}
	return "", false
}

// egressRefusal returns the proxy's refusal of the main document, if any.
func (r *renderer) egressRefusal() error {
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	if r.ev.egress != nil {
		return r.ev.egress
	}
	return nil
}

// tunnelError explains a failed HTTPS tunnel of the main document: the
// proxy does not pass its reasons through a refused CONNECT, so the URL the
// frame was loading is checked again.
func (r *renderer) tunnelError(ctx context.Context) error {
	r.ev.mu.Lock()
	current := r.ev.current
	r.ev.mu.Unlock()
	if u, err := url.Parse(current); err == nil && current != "" {
		if err := r.guard.CheckURL(ctx, u); err != nil {
			return err
		}
	}
	return pageshot.Errorf(pageshot.CodeConnectionFailed, "The target could not be reached.")
}

var lifecycleName = map[pageshot.WaitUntil]string{
	pageshot.WaitLoad:             "load",
	pageshot.WaitDOMContentLoaded: "DOMContentLoaded",
	// The network idle modes navigate to load, then waitNetworkIdle.
	pageshot.WaitNetworkIdle:  "load",
	pageshot.WaitNetworkIdle2: "load",
}

// navigate loads the target and waits for the wait_until event, within the
// navigation timeout.
func (r *renderer) navigate(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, r.o.NavigationTimeout, errNavBudget)
	defer cancel()
	target := r.o.URL
	if r.o.HTML != "" {
		target = htmlURL
	}
	res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: target})
	if err != nil {
		return err
	}
	if res.IsDownload {
		return pageshot.InvalidRequest([]pageshot.FieldError{{Field: "url", Message: "The target is a file download, not a page."}})
	}
	if res.ErrorText != "" {
		if err := r.egressRefusal(); err != nil {
			return err
		}
		if strings.Contains(res.ErrorText, "TUNNEL_CONNECTION_FAILED") || strings.Contains(res.ErrorText, "PROXY_CONNECTION_FAILED") {
			return r.tunnelError(ctx)
		}
		status, _ := r.ev.response()
		if r.o.IgnoreHostErrors && status >= 400 && strings.HasSuffix(res.ErrorText, "ERR_HTTP_RESPONSE_CODE_FAILURE") {
			return r.showEmptyResponse(ctx)
		}
		return navError(res.ErrorText, status, r.o.IgnoreHostErrors)
	}
	return r.settle(ctx, res.LoaderID)
}

// prepare runs what happens between load and capture: waits, styles,
// scripts, clicks, the delay and the content check.
func (r *renderer) prepare(ctx context.Context) error {
	o := r.o
	if o.WaitForSelector != "" {
		if err := r.waitVisible(ctx, "wait_for_selector", o.WaitForSelector); err != nil {
			return err
		}
	}
	if err := r.hide(ctx); err != nil {
		return err
	}
	css := o.Styles
	if css != "" {
		if _, err := eval[bool](ctx, `(css => { const s = document.createElement("style"); s.textContent = css; (document.head || document.documentElement).appendChild(s); return true })(`+jsString(css)+`)`); err != nil {
			return err
		}
	}
	if o.Scripts != "" {
		// The page's own errors are not the client's: a script that throws
		// still leaves a page to capture.
		_, _ = eval[json.RawMessage](ctx, "(async () => {\n"+o.Scripts+"\n})().then(() => null, () => null)")
		if err := context.Cause(ctx); ctx.Err() != nil {
			return err
		}
	}
	if o.Click != "" {
		found, err := eval[bool](ctx, `(sel => { const el = document.querySelector(sel); if (!el) return false; el.scrollIntoView({block: "center"}); el.click(); return true })(`+jsString(o.Click)+`)`)
		if err != nil {
			return selectorError(err, "click", o.Click)
		}
		if !found {
			return pageshot.Errorf(pageshot.CodeSelectorNotFound, "No element matches %q to click.", o.Click)
		}
		if _, err := eval[bool](ctx, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`); err != nil {
			return err
		}
	}
	if o.Delay > 0 {
		select {
		case <-time.After(o.Delay):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if len(o.FailIfContentContains) > 0 {
		html, err := eval[string](ctx, `document.documentElement ? document.documentElement.outerHTML : ""`)
		if err != nil {
			return err
		}
		for _, s := range o.FailIfContentContains {
			if strings.Contains(html, s) {
				return pageshot.Errorf(pageshot.CodeContentContainsString, "The page contains %q.", s)
			}
		}
	}
	// Last, on the document the capture will show (prepare runs again
	// when the page moves): consent answered, filtered elements hidden,
	// fonts and animations come to rest.
	if err := r.waitConsent(ctx); err != nil {
		return err
	}
	if err := r.hideFiltered(ctx); err != nil {
		return err
	}
	return r.rest(ctx)
}

// waitVisible waits until an element matching sel is visible. When the
// budget ends first, the answer is selector_not_found.
func (r *renderer) waitVisible(ctx context.Context, field, sel string) error {
	js := `(sel => new Promise(resolve => {
  const visible = () => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const st = getComputedStyle(el), rect = el.getBoundingClientRect();
    return st.visibility !== "hidden" && st.display !== "none" && rect.width > 0 && rect.height > 0;
  };
  if (visible()) return resolve(true);
  const obs = new MutationObserver(() => { if (visible()) { obs.disconnect(); clearInterval(iv); resolve(true); } });
  obs.observe(document, {subtree: true, childList: true, attributes: true});
  const iv = setInterval(() => { if (visible()) { obs.disconnect(); clearInterval(iv); resolve(true); } }, 100);
}))(` + jsString(sel) + `)`
	_, err := eval[bool](ctx, js)
	if err == nil {
		return nil
	}
	if errors.Is(context.Cause(ctx), errBudget) {
		return pageshot.Errorf(pageshot.CodeSelectorNotFound, "No visible element matches %q after %s.", sel, r.o.Timeout)
	}
	return selectorError(err, field, sel)
}

// screenshotParams settles what the image covers: it scrolls a full page
// so lazy content loads, finds the selector's element, and refuses an image
// over the pixel limit. A PDF needs none of it.
func (r *renderer) screenshotParams(ctx context.Context) (page.CaptureScreenshotParams, error) {
	o := r.o
	if o.Format == pageshot.FormatPDF {
		return page.CaptureScreenshotParams{}, r.scrollPass(ctx, float64(o.FullPageMaxHeight))
	}
	params := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormat(o.Format)}
	if o.Quality > 0 {
		params.Quality = new(int64(o.Quality))
	}
	if o.Format == pageshot.FormatPNG && r.fastPNG {
		params.OptimizeForSpeed = new(true)
	}
	switch {
	case o.Clip != nil:
		if err := r.reveal(ctx); err != nil {
			return params, err
		}
		params.Clip = &page.Viewport{X: o.Clip.X, Y: o.Clip.Y, Width: o.Clip.Width, Height: o.Clip.Height, Scale: 1}
		params.CaptureBeyondViewport = new(true)
	case o.Selector != "":
		if err := r.reveal(ctx); err != nil {
			return params, err
		}
		clip, err := r.elementClip(ctx)
		if err != nil {
			return params, err
		}
		if clip != nil {
			if err := r.unobscure(ctx); err != nil {
				return params, err
			}
			params.Clip = clip
			params.CaptureBeyondViewport = new(true)
		}
	case o.FullPage:
		clip, err := r.fullPage(ctx)
		if err != nil {
			return params, err
		}
		params.Clip = clip
		params.CaptureBeyondViewport = new(true)
	}
	cw, ch := float64(o.ViewportWidth), float64(o.ViewportHeight)
	if params.Clip != nil {
		cw, ch = params.Clip.Width*params.Clip.Scale, params.Clip.Height*params.Clip.Scale
	}
	if px := cw * ch * o.DeviceScaleFactor * o.DeviceScaleFactor; px > float64(r.maxPixels) {
		return params, pageshot.Errorf(pageshot.CodePageTooLarge, "The image would have %.0f pixels; the limit is %d.", px, r.maxPixels)
	}
	return params, nil
}

// encode takes the image, or prints the PDF.
func (r *renderer) encode(ctx context.Context, params page.CaptureScreenshotParams) ([]byte, int, int, error) {
	o := r.o
	if o.Format == pageshot.FormatPDF {
		return r.pdf(ctx)
	}
	if params.Clip != nil && params.Clip.Height*params.Clip.Scale*o.DeviceScaleFactor > maxTextureHeight {
		return r.tiled(ctx, params)
	}
	res, err := chromedp.Call(ctx, page.CaptureScreenshot, params)
	if err != nil {
		return nil, 0, 0, err
	}
	data := res.Data
	if params.OptimizeForSpeed != nil && *params.OptimizeForSpeed {
		// Chromium's fast PNG is half again as large as its default one;
		// packed here it comes within a tenth of it, in less time than
		// Chromium's default encoding takes.
		if data, err = packPNG(data); err != nil {
			return nil, 0, 0, err
		}
	}
	w, h, err := imageSize(data)
	return data, w, h, err
}

func imageSize(data []byte) (int, int, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("read captured image: %w", err)
	}
	return cfg.Width, cfg.Height, nil
}

// elementClip returns the page rectangle of the selector's element, nil
// when none matches and error_on_selector_not_found is off.
func (r *renderer) elementClip(ctx context.Context) (*page.Viewport, error) {
	o := r.o
	type rect struct{ X, Y, W, H float64 }
	rc, err := eval[*rect](ctx, `(sel => { const el = document.querySelector(sel); if (!el) return null;
  el.scrollIntoView({block: "start"}); const r = el.getBoundingClientRect();
  return {X: r.left + scrollX, Y: r.top + scrollY, W: r.width, H: r.height} })(`+jsString(o.Selector)+`)`)
	if err != nil {
		return nil, selectorError(err, "selector", o.Selector)
	}
	if rc == nil || rc.W < 1 || rc.H < 1 {
		if o.ErrorOnSelectorNotFound {
			return nil, pageshot.Errorf(pageshot.CodeSelectorNotFound, "No visible element matches %q.", o.Selector)
		}
		return nil, nil
	}
	return &page.Viewport{X: rc.X, Y: rc.Y, Width: rc.W, Height: rc.H, Scale: 1}, nil
}

func (r *renderer) pdf(ctx context.Context) ([]byte, int, int, error) {
	p := r.o.PDF
	size := pageshot.PaperSizes[p.Paper]
	res, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{
		Landscape:       new(p.Landscape),
		PrintBackground: new(p.PrintBackground),
		PaperWidth:      size[0],
		PaperHeight:     size[1],
		MarginTop:       new(p.Margin),
		MarginBottom:    new(p.Margin),
		MarginLeft:      new(p.Margin),
		MarginRight:     new(p.Margin),
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("print to pdf: %w", err)
	}
	return res.Data, 0, 0, nil
}

// classify turns the error of a capture into the client's answer.
func (r *renderer) classify(reqCtx, ctx context.Context, err error) error {
	var pe *pageshot.Error
	if errors.As(err, &pe) {
		return pe
	}
	cause := context.Cause(ctx)
	switch {
	case reqCtx.Err() != nil:
		return context.Cause(reqCtx) // the client went away
	case errors.Is(cause, errPageCrashed) || errors.Is(err, errPageCrashed):
		return &pageshot.Error{Code: pageshot.CodePageCrashed, Permanent: true, Message: "The page crashed the renderer.", Err: err}
	case errors.Is(cause, errTooLarge):
		return &pageshot.Error{Code: pageshot.CodePageTooLarge, Message: fmt.Sprintf("The page downloaded more than %d bytes.", r.maxBytes), Err: err}
	case errors.Is(cause, errBrowserLost) || errors.Is(err, errBrowserLost) || errors.Is(err, chromedp.ErrTargetDetached) || r.t.inst.isLost():
		return &pageshot.Error{Code: pageshot.CodeServiceUnavailable, Message: "The browser stopped during the capture; it is restarting.", RetryAfter: time.Second, Err: err}
	case errors.Is(cause, errBudget) || errors.Is(err, errBudget):
		return &pageshot.Error{Code: pageshot.CodeTimeout, Phase: r.phase, Message: fmt.Sprintf("The capture did not finish within %s (phase: %s).", r.o.Timeout, r.phase) + r.stillLoading(), Err: err}
	case errors.Is(err, errNavBudget) || errors.Is(err, context.DeadlineExceeded) && r.phase == pageshot.PhaseNavigation:
		return &pageshot.Error{Code: pageshot.CodeTimeout, Phase: pageshot.PhaseNavigation, Message: fmt.Sprintf("The page did not load within %s.", r.o.NavigationTimeout) + r.stillLoading(), Err: err}
	case detached(err):
		// The document went away under a step: where the page went
		// decides the answer; a page that would not hold still is a
		// timeout of the phase, as in still.
		if lerr := r.landed(); lerr != nil {
			return lerr
		}
		// A navigation that failed since the document committed (a meta
		// refresh to a port Chromium refuses): the page went away for
		// Chromium's error page, whose commit may come after this.
		if failed := r.nav.failedSinceCommit(); failed != "" {
			status, _ := r.ev.response()
			return navError(failed, status, r.o.IgnoreHostErrors)
		}
		return &pageshot.Error{Code: pageshot.CodeTimeout, Phase: r.phase, Message: "The page navigated while it was being captured and never held still.", Err: err}
	}
	return &pageshot.Error{Code: pageshot.CodeInternal, Message: "The capture failed inside the browser.", Err: err}
}

// eval evaluates a JavaScript expression, awaiting a promise, and decodes
// its value into T.
func eval[T any](ctx context.Context, js string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// selectorError reports an invalid CSS selector as invalid_request.
func selectorError(err error, field, sel string) error {
	if strings.Contains(err.Error(), "is not a valid selector") || strings.Contains(err.Error(), "SyntaxError") {
		return pageshot.InvalidRequest([]pageshot.FieldError{{Field: field, Message: fmt.Sprintf("%q is not a valid CSS selector.", sel)}})
	}
	return err
}
