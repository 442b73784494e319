package browser

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

// window is the viewport and screen of a tab when nothing is emulated.
type window struct {
	Width, Height             int     // innerWidth, innerHeight
	ScreenWidth, ScreenHeight int     // screen.width, screen.height
	AvailWidth, AvailHeight   int     // screen.availWidth, screen.availHeight
	Scale                     float64 // devicePixelRatio
}

// String gives the viewport's size, as in "1280x800".
func (w window) String() string { return fmt.Sprintf("%dx%d", w.Width, w.Height) }

// readWindow reads the window of ctx's tab.
func readWindow(ctx context.Context) (window, error) {
	return eval[window](ctx, `({Width: innerWidth, Height: innerHeight, ScreenWidth: screen.width, ScreenHeight: screen.height, `+
		`AvailWidth: screen.availWidth, AvailHeight: screen.availHeight, Scale: devicePixelRatio})`)
}

// learnWindow reads the window of a tab made as every prepared tab is (a
// fresh browser context, about:blank) into inst.window, within ctx and at
// most 10 s, and then makes that tab the first prepared one. The browser
// opens each such tab at its window size, pageshot's default viewport
// (see flags), so a capture with the default options needs no emulation. When the window cannot be read, or is not
// the default viewport (a window-size switch of the operator's own, a
// browser that adds toolbars), captures at the default viewport emulate
// their screen, as they must, and the log says so.
func (inst *instance) learnWindow(ctx context.Context) {
	log := inst.pool.log
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t, err := inst.newTab()
	if err == nil {
		stop := context.AfterFunc(ctx, t.cancel) // a renderer that never answers
		var w window
		w, err = readWindow(t.ctx)
		stop()
		if err == nil {
			inst.window = w
			inst.ready <- t // the first prepared tab; ready has room, its fillers start later
		} else {
			t.dispose()
		}
	}
	if err != nil {
		log.Warn("could not read the browser's window; captures at the default viewport emulate their screen", "err", err)
		return
	}
	w := inst.window
	defaults := &pageshot.Options{ViewportWidth: pageshot.DefaultViewportWidth, ViewportHeight: pageshot.DefaultViewportHeight, DeviceScaleFactor: 1}
	if !w.fits(defaults) {
		log.Warn("the browser's window is not the default viewport; captures at the default viewport emulate their screen", "window", w.String(),
			"screen", fmt.Sprintf("%dx%d", w.ScreenWidth, w.ScreenHeight), "available", fmt.Sprintf("%dx%d", w.AvailWidth, w.AvailHeight), "scale", w.Scale)
	}
}

// fits reports whether w is already the screen setMetrics would emulate
// for o: its viewport, a screen of the same size, a scale of 1 and no
// mobile mode. Such a capture is taken without emulation, which saves more
// than the call: while a tab emulates, Chromium applies the emulation
// again for each screenshot, with the view resized to it, and restores it
// afterwards. Without, a capture of the perf page costs about 6% less CPU
// (see BENCHMARKS.md, "Sixth pass").
func (w window) fits(o *pageshot.Options) bool {
	return w.Width == o.ViewportWidth && w.Height == o.ViewportHeight &&
		w.ScreenWidth == w.Width && w.ScreenHeight == w.Height && w.AvailWidth == w.Width && w.AvailHeight == w.Height &&
		w.Scale == 1 && o.DeviceScaleFactor == 1 && !o.Mobile
}

// setMetrics emulates the capture's screen: the viewport, a screen of the
// same size (a headless browser otherwise reports 800×600, which pages and
// bot checks read), the mobile mode and touch. A capture whose screen is
// the browser's own window emulates none of it but touch.
func (r *renderer) setMetrics(ctx context.Context) error {
	o := r.o
	if r.t.inst.window.fits(o) {
		return r.setTouch(ctx)
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: int64(o.ViewportWidth), Height: int64(o.ViewportHeight), DeviceScaleFactor: o.DeviceScaleFactor,
		Mobile:      o.Mobile,
		ScreenWidth: int64(o.ViewportWidth), ScreenHeight: int64(o.ViewportHeight),
	}); err != nil {
		return fmt.Errorf("set viewport: %w", err)
	}
	return r.setTouch(ctx)
}

// setTouch emulates touch when the capture asks for it.
func (r *renderer) setTouch(ctx context.Context) error {
	if r.o.Touch {
		// Touch emulation also turns the primary pointer into a coarse one
		// without hover, as on a phone.
		if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
			return fmt.Errorf("emulate touch: %w", err)
		}
	}
	return nil
}

// setUserAgent sets the user agent and the client hints that go with it on
// every capture: the browser's own are those of a headless browser
// ("HeadlessChrome" among navigator.userAgentData's brands and in the
// Sec-CH-UA header), which many sites serve differently.
func (r *renderer) setUserAgent(ctx context.Context) error {
	o := r.o
	ua := cmp.Or(o.UserAgent, r.t.inst.userAgent)
	meta := clientHints(r.t.inst.userAgent, ua, o.Mobile)
	params := emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: o.Locale, UserAgentMetadata: meta}
	switch meta.Platform {
	case "iOS":
		params.Platform = "iPhone"
		if strings.Contains(ua, "iPad") {
			params.Platform = "iPad"
		}
	case "Android":
		params.Platform = "Linux armv81"
	case "Windows":
		params.Platform = "Win32"
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, params); err != nil {
		return fmt.Errorf("set user agent: %w", err)
	}
	return nil
}

var chromeVersionRE = regexp.MustCompile(`(?:Headless)?Chrome/((\d+)[\d.]*)`)

// clientHints builds the user-agent client hints of a capture: the brands
// of the running browser (never "HeadlessChrome"), the platform and model
// told by ua, and the mobile flag.
func clientHints(browserUA, ua string, mobile bool) *emulation.UserAgentMetadata {
	full, major := "0.0.0.0", "0"
	if m := chromeVersionRE.FindStringSubmatch(browserUA); m != nil {
		full, major = m[1], m[2]
	}
	meta := &emulation.UserAgentMetadata{
		Brands: []*emulation.UserAgentBrandVersion{
			{Brand: "Chromium", Version: major},
			{Brand: "Not_A Brand", Version: "24"},
		},
		FullVersionList: []*emulation.UserAgentBrandVersion{
			{Brand: "Chromium", Version: full},
			{Brand: "Not_A Brand", Version: "24.0.0.0"},
		},
		Platform:     "Linux",
		Architecture: "x86",
		Bitness:      "64",
		Mobile:       mobile,
	}
	dev := pageshot.Device{UserAgent: ua}
	switch dev.Platform() {
	case "iOS":
		meta.Platform, meta.Architecture, meta.Bitness = "iOS", "arm", "64"
	case "Android":
		meta.Platform, meta.Architecture, meta.Bitness = "Android", "arm", "64"
		if m := androidVersionRE.FindStringSubmatch(ua); m != nil {
			meta.PlatformVersion = m[1]
		}
		if m := androidModelRE.FindStringSubmatch(ua); m != nil {
			meta.Model = m[1]
		}
	case "Windows":
		meta.Platform, meta.PlatformVersion = "Windows", "10.0.0"
	}
	return meta
}

var (
	androidVersionRE = regexp.MustCompile(`Android ([\d.]+)`)
	androidModelRE   = regexp.MustCompile(`Android [\d.]+; ([^;)]+)\)`)
)
