package browser

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/pageshot/pageshot"
)

func TestClientHints(t *testing.T) {
	const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.8078.108 Safari/537.36"
	iphone, _ := pageshot.DeviceByName("iphone_15")
	pixel, _ := pageshot.DeviceByName("pixel_8")
	surface, _ := pageshot.DeviceByName("surface_pro_7")
	for _, c := range []struct {
		name, ua                         string
		mobile                           bool
		platform, platformVersion, model string
	}{
		{"desktop", strings.Replace(browserUA, "HeadlessChrome", "Chrome", 1), false, "Linux", "", ""},
		{"iphone", iphone.UserAgent, true, "iOS", "", ""},
		{"android", pixel.UserAgent, true, "Android", "14", "Pixel 8"},
		{"windows tablet", surface.UserAgent, true, "Windows", "10.0.0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := clientHints(browserUA, c.ua, c.mobile)
			if m.Platform != c.platform || m.PlatformVersion != c.platformVersion || m.Model != c.model || m.Mobile != c.mobile {
				t.Errorf("hints %+v", m)
			}
			for _, b := range append(m.Brands, m.FullVersionList...) {
				if strings.Contains(strings.ToLower(b.Brand), "headless") {
					t.Errorf("brand %q", b.Brand)
				}
			}
			if m.Brands[0].Brand != "Chromium" || m.Brands[0].Version != "156" || m.FullVersionList[0].Version != "156.0.8078.108" {
				t.Errorf("brands %v %v", *m.Brands[0], *m.FullVersionList[0])
			}
		})
	}
}

// TestWindowFits: only a capture that asks for the browser's own window,
// screen and scale goes without emulation.
func TestWindowFits(t *testing.T) {
	dw, dh := pageshot.DefaultViewportWidth, pageshot.DefaultViewportHeight
	own := window{Width: dw, Height: dh, ScreenWidth: dw, ScreenHeight: dh, AvailWidth: dw, AvailHeight: dh, Scale: 1}
	other := window{Width: 1000, Height: 700, ScreenWidth: 1000, ScreenHeight: 700, AvailWidth: 1000, AvailHeight: 700, Scale: 1}
	win := func(edit func(*window)) window {
		changed := own
		edit(&changed)
		return changed
	}
	opts := func(query string) *pageshot.Options {
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		q.Set("url", "https://example.com/")
		o, err := pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, c := range []struct {
		name string
		w    window
		o    *pageshot.Options
		want bool
	}{
		{"a request's defaults", own, opts(""), true},
		{"the desktop device", own, opts("device=desktop"), true},
		{"the laptop device", own, opts("device=laptop"), false},
		{"a phone", own, opts("device=iphone_15"), false},
		{"a phone at the window's size and scale", own, opts(fmt.Sprintf("device=iphone_15&viewport_width=%d&viewport_height=%d&device_scale_factor=1", dw, dh)), false},
		{"another width", own, opts(fmt.Sprintf("viewport_width=%d", dw-1)), false},
		{"another height", own, opts(fmt.Sprintf("viewport_height=%d", dh+1)), false},
		{"a scale of 2", own, opts("device_scale_factor=2"), false},
		{"a window of another size, asked for", other, opts("viewport_width=1000&viewport_height=700"), true},
		{"a window of another size, not asked for", other, opts(""), false},
		{"a wider screen", win(func(w *window) { w.ScreenWidth++ }), opts(""), false},
		{"a taller screen", win(func(w *window) { w.ScreenHeight++ }), opts(""), false},
		{"a taskbar at the side", win(func(w *window) { w.AvailWidth-- }), opts(""), false},
		{"a taskbar at the bottom", win(func(w *window) { w.AvailHeight -= 40 }), opts(""), false},
		{"a window of scale 2", win(func(w *window) { w.Scale = 2 }), opts(""), false},
		{"a window not read", window{}, opts(""), false},
	} {
		if got := c.w.fits(c.o); got != c.want {
			t.Errorf("%s: fits = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNetTracker(t *testing.T) {
	var n netTracker
	before := time.Now()
	req := func(id, url string, typ network.ResourceType) *network.EventRequestWillBeSent {
		return &network.EventRequestWillBeSent{RequestID: network.RequestID(id), Type: typ, Request: &network.Request{URL: url}}
	}
	n.track(req("1", "https://a.example/img.png", network.ResourceTypeImage))
	n.track(req("2", "data:image/png;base64,AAAA", network.ResourceTypeImage))
	n.track(req("3", "https://a.example/stream", network.ResourceTypeEventSource))
	if got := n.open(); len(got) != 1 || got[0] != "https://a.example/img.png" {
		t.Fatalf("open %v: data URLs and streams are not waited for", got)
	}
	if !n.busy(before) || n.busy(time.Now().Add(time.Second)) {
		t.Error("busy does not tell requests started since")
	}
	// A redirect keeps its request id: still one request.
	n.track(&network.EventRequestWillBeSent{RequestID: "1", Request: &network.Request{URL: "https://b.example/img.png"}, RedirectResponse: &network.Response{}})
	if got := n.open(); len(got) != 1 {
		t.Errorf("open after a redirect %v", got)
	}
	n.track(&network.EventLoadingFinished{RequestID: "1"})
	n.track(req("4", "https://a.example/api", network.ResourceTypeFetch))
	n.track(&network.EventLoadingFailed{RequestID: "4"})
	if got := n.open(); len(got) != 0 || n.busy(before) {
		t.Errorf("open %v after they ended", got)
	}
}

func TestConsentDone(t *testing.T) {
	started := time.Now()
	long := started.Add(-time.Minute)
	for _, c := range []struct {
		lifecycle, cmp string
		since          time.Time
		done           bool
	}{
		{"optOutSucceeded", "cookieconsent3", started, true},
		{"nothingDetected", "", started, true},
		{"runningOptOut", "Klaro", started, false}, // rejecting: wait
		{"runningOptOut", "Klaro", long, true},     // but not past consentAct
		{"started", "", started, false},            // still searching
		{"started", "", long, true},                // searched long enough without finding one
		{"started", "Klaro", long, false},          // found one: its state comes next
	} {
		cs := &consent{lifecycle: c.lifecycle, cmp: c.cmp}
		if done, _, _ := cs.done(c.since); done != c.done {
			t.Errorf("%s %q after %s: done = %v", c.lifecycle, c.cmp, time.Since(c.since).Round(time.Second), done)
		}
	}
}
