package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
)

// green, the colour of the pages' final state, is gallery_test.go's.

// movingSite serves pages that move themselves to /final, a green page.
// redirectTo is where /refused sends the browser; blockedURL is a page
// the capture must refuse.
func movingSite(t *testing.T, blockedURL string) *httptest.Server {
	mux := http.NewServeMux()
	page := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body style="margin:0;background:#cc0000">`+body+`</body></html>`)
		})
	}
	page("/final", `<script>document.body.style.background = "#00cc00"</script>`)
	page("/replace", `<script>location.replace("/final")</script>`)
	page("/href-onload", `<script>onload = () => { location.href = "/final" }</script>`)
	page("/href-timer", `<script>setTimeout(() => { location.href = "/final" }, 0)</script>`)
	page("/href-later", `<script>onload = () => setTimeout(() => { location.href = "/final" }, 50)</script>`)
	page("/reload", `<script>if (sessionStorage.getItem("reloaded")) { document.body.style.background = "#00cc00" } else { sessionStorage.setItem("reloaded", "1"); location.reload() }</script>`)
	page("/meta", `<meta http-equiv="refresh" content="0; url=/final">`)
	page("/still", ``)
	page("/link", `<a id="go" href="/final">go</a>`)
	page("/meta-refused", fmt.Sprintf(`<meta http-equiv="refresh" content="0; url=%s">`, blockedURL))
	page("/js-refused", fmt.Sprintf(`<script>location.href = %q</script>`, blockedURL))
	page("/js-refused-later", fmt.Sprintf(`<script>onload = () => setTimeout(() => { location.href = %q }, 20)</script>`, blockedURL))
	for _, c := range []struct{ path, to string }{
		{"/302-file", "file:///etc/passwd"},
		{"/302-data", "data:text/html,<h1>hi</h1>"},
		{"/302-chrome", "chrome://version/"},
	} {
		mux.HandleFunc(c.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", c.to)
			w.WriteHeader(http.StatusFound)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestJSNavigation: a page that replaces itself is captured at the page it
// ends on, well within the budget, whatever moved it.
func TestJSNavigation(t *testing.T) {
	site := movingSite(t, "http://127.0.0.2/")
	s := sharedServer(t)
	for _, c := range []struct {
		name string
		opts map[string]any
	}{
		{"location.replace while parsing", map[string]any{"url": site.URL + "/replace"}},
		{"location.href on load", map[string]any{"url": site.URL + "/href-onload"}},
		{"location.href in a timer", map[string]any{"url": site.URL + "/href-timer"}},
		{"location.href in a timer after load, with a delay", map[string]any{"url": site.URL + "/href-later", "delay": 500}},
		{"location.href in a timer, domcontentloaded", map[string]any{"url": site.URL + "/href-timer", "wait_until": "domcontentloaded"}},
		{"location.reload", map[string]any{"url": site.URL + "/reload"}},
		{"meta refresh", map[string]any{"url": site.URL + "/meta"}},
		{"a script of the capture", map[string]any{"url": site.URL + "/still", "scripts": `location.href = "/final"`}},
		{"a click on a link", map[string]any{"url": site.URL + "/link", "click": "#go"}},
		{"html that navigates", map[string]any{"html": `<script>location.replace(` + fmt.Sprintf("%q", site.URL+"/final") + `)</script>`}},
		{"networkidle", map[string]any{"url": site.URL + "/replace", "wait_until": "networkidle"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts["viewport_width"], c.opts["viewport_height"] = 200, 150
			c.opts["timeout"] = 20
			r := s.post(t, c.opts)
			img := wantImage(t, r, "image/png")
			if px := img.At(100, 75); !near(px, green, 8) {
				t.Errorf("captured %v, want the final page's green", px)
			}
		})
	}
}

// TestNavigationToRefusedTarget: a page that moves to a target the
// capture may not load answers url_blocked with the reason, is not charged
// and is not retryable.
func TestNavigationToRefusedTarget(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	s := newTenancyServer(t, func(c *app.Config) {
		c.Resolver = &rebinder{static: map[string]netip.Addr{"blocked.test": loop}}
	})
	k, key := s.newKey(t, pageshot.DefaultPlanName, func(k *pageshot.APIKey) { k.URLBlock = []string{"blocked.test"} })
	probe := movingSite(t, "")
	_, port, _ := net.SplitHostPort(probe.Listener.Addr().String())

	for _, c := range []struct {
		name, blocked, path, reason string
	}{
		{"meta refresh to a private address", "http://127.0.0.2:" + port + "/final", "/meta-refused", ""},
		{"meta refresh to an unsafe port", "http://127.0.0.1:6000/", "/meta-refused", ""},
		{"location.href to an unsafe port", "http://127.0.0.1:6000/", "/js-refused", ""},
		{"location.href to a private address", "http://127.0.0.2:" + port + "/final", "/js-refused", ""},
		{"location.href to the key's blocklist", "http://blocked.test:" + port + "/final", "/js-refused", "key_blocklist"},
		{"302 to file:", "", "/302-file", ""},
		{"302 to data:", "", "/302-data", ""},
		{"302 to chrome:", "", "/302-chrome", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := movingSite(t, c.blocked)
			before := s.usage(t, k.ID)
			r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": site.URL + c.path, "timeout": 20}, bearer(key)...))
			p := wantProblem(t, r, 403, "url_blocked")
			if p.Reason == "" || c.reason != "" && p.Reason != c.reason {
				t.Errorf("reason %q, want %q", p.Reason, c.reason)
			}
			if *p.Retryable {
				t.Error("retryable")
			}
			if after := s.usage(t, k.ID); after.Committed != before.Committed || after.Reserved != 0 {
				t.Errorf("usage %+v after %+v: charged", after, before)
			}
		})
	}
}

// TestNavigationToDeadTarget: a page that moves somewhere that cannot be
// reached answers connection_failed, not a picture of Chromium's error
// page: over http the proxy answers for the target, over https the
// tunnel fails and Chromium shows its own page.
func TestNavigationToDeadTarget(t *testing.T) {
	s := sharedServer(t)
	for _, scheme := range []string{"http", "https"} {
		site := movingSite(t, scheme+"://"+closedPort(t)+"/")
		for _, opts := range []map[string]any{
			{"url": site.URL + "/js-refused"},
			{"url": site.URL + "/js-refused-later", "delay": 1000},
		} {
			wantProblem(t, s.post(t, opts), 502, "connection_failed")
		}
	}
}

// TestRedirectLoop: a target that redirects in a loop would again: the
// answer is connection_failed, not retryable.
func TestRedirectLoop(t *testing.T) {
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(loop.Close)
	p := wantProblem(t, sharedServer(t).post(t, map[string]any{"url": loop.URL + "/again"}), 502, "connection_failed")
	if *p.Retryable {
		t.Error("a redirect loop is retryable")
	}
}
