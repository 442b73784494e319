package browser

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

// screen is what a tab's device metrics emulate: the viewport, a screen
// of the same size (a headless browser otherwise reports 800×600, which
// pages and bot checks read), the scale and the mobile mode.
type screen struct {
	width, height int
	scale         float64
	mobile        bool
}

// agent is what a tab's user agent override says: the user agent ("" for
// the browser's own, without "Headless"), the language and the mobile
// client hint.
type agent struct {
	userAgent, locale string
	mobile            bool
}

func screenOf(o *pageshot.Options) screen {
	return screen{width: o.ViewportWidth, height: o.ViewportHeight, scale: o.DeviceScaleFactor, mobile: o.Mobile}
}

func agentOf(o *pageshot.Options) agent {
	return agent{userAgent: o.UserAgent, locale: o.Locale, mobile: o.Mobile}
}

// Each call below waits for the page's renderer, 3–15 ms on a fresh tab;
// a tab is prepared with the screen and agent of the default options (see
// instance.newTab), so that the captures that keep them wait for neither.
var (
	defaultScreen = screen{width: pageshot.DefaultViewportWidth, height: pageshot.DefaultViewportHeight, scale: pageshot.DefaultScale}
	defaultAgent  = agent{}
)

// setScreen emulates s on the tab, unless it already does.
func (t *tab) setScreen(ctx context.Context, s screen) error {
	if t.screen != nil && *t.screen == s {
		return nil
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: int64(s.width), Height: int64(s.height), DeviceScaleFactor: s.scale, Mobile: s.mobile,
		ScreenWidth: int64(s.width), ScreenHeight: int64(s.height),
	}); err != nil {
		return fmt.Errorf("set viewport: %w", err)
	}
	t.screen = &s
	return nil
}

// setAgent sets the user agent and the client hints that go with it,
// unless the tab has them already: the browser's own are those of a
// headless browser ("HeadlessChrome" among navigator.userAgentData's
// brands and in the Sec-CH-UA header), which many sites serve differently.
func (t *tab) setAgent(ctx context.Context, a agent) error {
	if t.agent != nil && *t.agent == a {
		return nil
	}
	ua := cmp.Or(a.userAgent, t.inst.userAgent)
	meta := clientHints(t.inst.userAgent, ua, a.mobile)
	params := emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: a.locale, UserAgentMetadata: meta}
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
	t.agent = &a
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
