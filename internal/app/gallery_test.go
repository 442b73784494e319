package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/waittest"
)

// gallery serves the pages of testdata/gallery, built like real sites, and
// the resources they load, on 127.0.0.1.
type gallery struct {
	*httptest.Server
	mu        sync.Mutex
	headers   map[string]http.Header // request headers by path, the last seen
	hits      map[string]int         // requests by path
	reports   []string               // queries of /report, which pages call to tell a choice
	newReport waittest.Cond
}

// systemFont is the font the gallery serves as a web font.
const systemFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

var (
	green = color.RGBA{0, 0xcc, 0, 0xff}
	fail  = color.RGBA{0xcc, 0, 0, 0xff} // a check that does not hold
)

func newGallery(t *testing.T) *gallery {
	g := &gallery{headers: map[string]http.Header{}, hits: map[string]int{}}
	mux := http.NewServeMux()
	// The pages, each answered after the delay d when one is asked for.
	files := http.FileServer(http.Dir("testdata/gallery"))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		files.ServeHTTP(w, r)
	}))
	// /img/RRGGBB.png?w=&h=&d=: an image of that colour, answered after the
	// delay d.
	mux.HandleFunc("/img/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		v, err := strconv.ParseUint(name[:min(6, len(name))], 16, 32)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		wd, _ := strconv.Atoi(q.Get("w"))
		ht, _ := strconv.Atoi(q.Get("h"))
		d, _ := time.ParseDuration(q.Get("d"))
		img := image.NewRGBA(image.Rect(0, 0, max(wd, 1), max(ht, 1)))
		c := color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
		// A black frame two pixels wide, so that no image is one solid
		// colour (which a PDF would draw as a plain rectangle).
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if x < 2 || y < 2 || x >= b.Max.X-2 || y >= b.Max.Y-2 {
					img.Set(x, y, color.RGBA{0, 0, 0, 0xff})
				} else {
					img.Set(x, y, c)
				}
			}
		}
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
	// /font.ttf?d=: a real font (DejaVu Sans, from the system), answered
	// after the delay d.
	mux.HandleFunc("/font.ttf", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(systemFont)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "font/ttf")
		w.Write(b)
	})
	// /go/PATH redirects to /PATH.
	mux.HandleFunc("/go/{path...}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/"+r.PathValue("path"), http.StatusFound)
	})
	// /hang answers only when the client goes away (or after a minute).
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.reports = append(g.reports, r.URL.RawQuery)
		g.mu.Unlock()
		g.newReport.Changed()
	})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.headers[r.URL.Path] = r.Header.Clone()
		g.hits[r.URL.Path]++
		g.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// header returns the last request headers received for path.
func (g *gallery) header(path string) http.Header {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.headers[path]
}

// wantChecks asserts that the blocks painted by checks.js (one per check,
// each 100 CSS pixels tall from top, scaled by scale) are green.
func wantChecks(t *testing.T, img image.Image, top int, scale float64, labels ...string) {
	t.Helper()
	for i, label := range labels {
		y := int((float64(top) + float64(i)*100 + 50) * scale)
		if c := img.At(10, y); !near(c, green, 10) {
			t.Errorf("check %q failed: pixel at y=%d is %v", label, y, c)
		}
	}
}

// TestGalleryLooksLikeABrowser: a page that looks for the tells of an
// automated headless browser finds none, with the default viewport (which
// is the browser's own window, not emulated) and with another (emulated),
// and with the default viewport in a browser whose window is of another
// size (emulated). Each browser tells in the log which window it read.
func TestGalleryLooksLikeABrowser(t *testing.T) {
	g := newGallery(t)
	type browser struct {
		s    *server
		logs *waittest.Buffer
	}
	start := func(window string) browser {
		b := browser{logs: new(waittest.Buffer)}
		b.s = startServer(t, func(cfg *app.Config) {
			cfg.Logger = slog.New(slog.NewTextHandler(b.logs, nil))
			if window != "" {
				cfg.BrowserFlags = map[string]any{"window-size": window}
			}
		})
		return b
	}
	own, other := start(""), start("1000,700")
	for _, c := range []struct {
		name          string
		width, height int
		b             browser
		window        string // what the browser's log line says
		emulates      bool   // the log warns that captures at the default viewport emulate
	}{
		{"default viewport", 0, 0, own, "window=1280x800", false},
		{"own viewport", 900, 700, own, "window=1280x800", false},
		{"default viewport in another window", 0, 0, other, "window=1000x700", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"url": g.URL + "/stealth.html", "wait_for_selector": "body[data-done]"}
			w, h := pageshot.DefaultViewportWidth, pageshot.DefaultViewportHeight
			if c.width != 0 {
				body["viewport_width"], body["viewport_height"] = c.width, c.height
				w, h = c.width, c.height
			}
			img := wantImage(t, c.b.s.post(t, body), "image/png")
			wantSize(t, img, w, h)
			wantChecks(t, img, 0, 1, "webdriver", "user agent", "client hints", "screen")
			sent := g.header("/stealth.html")
			for _, name := range []string{"User-Agent", "Sec-Ch-Ua"} {
				if v := sent.Get(name); v == "" || bytes.Contains(bytes.ToLower([]byte(v)), []byte("headless")) {
					t.Errorf("%s sent to the site: %q", name, v)
				}
			}
			logs := c.b.logs.String()
			mustContain(t, logs, c.window)
			if warned := strings.Contains(logs, "captures at the default viewport emulate their screen"); warned != c.emulates {
				t.Errorf("warned that captures at the default viewport emulate: %v, want %v; log:\n%s", warned, c.emulates, logs)
			}
		})
	}
}

// TestGalleryOwnAgent: a capture's own user agent and language reach the
// site.
func TestGalleryOwnAgent(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	for _, c := range []struct {
		option, value, header, want string
	}{
		{"user_agent", "pageshot-test/1.0", "User-Agent", "pageshot-test/1.0"},
		{"locale", "fr-FR", "Accept-Language", "fr-FR"},
	} {
		t.Run(c.option, func(t *testing.T) {
			img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/stealth.html", c.option: c.value}), "image/png")
			wantSize(t, img, pageshot.DefaultViewportWidth, pageshot.DefaultViewportHeight)
			if got := g.header("/stealth.html").Get(c.header); !strings.HasPrefix(got, c.want) {
				t.Errorf("%s sent to the site: %q, want %q", c.header, got, c.want)
			}
		})
	}
}

// TestGalleryDevice: device=iphone_15 gives the iPhone's viewport, scale
// and a truly mobile page; without it the same page is a desktop one.
func TestGalleryDevice(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{
		"url": g.URL + "/device.html", "device": "iphone_15", "wait_for_selector": "body[data-done]",
	}), "image/png")
	wantSize(t, img, 393*3, 852*3)
	wantChecks(t, img, 0, 3, "narrow layout", "pointer: coarse", "touch events", "mobile user agent", "scale", "mobile client hint")
	if ua := g.header("/device.html").Get("User-Agent"); !bytes.Contains([]byte(ua), []byte("iPhone")) {
		t.Errorf("User-Agent sent: %q", ua)
	}

	desk := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/device.html", "wait_for_selector": "body[data-done]"}), "image/png")
	wantSize(t, desk, 1280, 800)
	for i, label := range []string{"narrow layout", "pointer: coarse", "touch events", "mobile user agent"} {
		if c := desk.At(10, i*100+50); !near(c, fail, 10) {
			t.Errorf("desktop: check %q holds: %v", label, c)
		}
	}

	t.Run("full page without a meta viewport", func(t *testing.T) {
		// Laid out 980 CSS pixels wide and zoomed out to the phone's
		// width, as a phone shows it: the app shell's 3,080 CSS pixels at
		// 393/980 × 3.
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/shell.html", "device": "iphone_15", "full_page": true}), "image/png")
		if b := img.Bounds(); b.Dx() != 1179 || b.Dy() < 3700 || b.Dy() > 3710 {
			t.Fatalf("image is %dx%d, want 1179 by about 3705", b.Dx(), b.Dy())
		}
		if c := img.At(600, img.Bounds().Dy()-50); !near(c, hexColor("ff00ff"), 6) {
			t.Errorf("bottom block %v", c)
		}
		if c := img.At(600, 1000); !near(c, green, 6) { // CSS y 830
			t.Errorf("second block %v", c)
		}
	})
	t.Run("tall page stitched at the phone's zoom", func(t *testing.T) {
		// tall.html, cut at 20,000 CSS pixels, is 24,061 image pixels
		// tall: past the texture limit, so taken in bands.
		r := s.post(t, map[string]any{"url": g.URL + "/tall.html", "device": "iphone_15", "full_page": true})
		img := wantImage(t, r, "image/png")
		zoom := 393.0 / 980 * 3
		if b := img.Bounds(); b.Dx() != 1179 || b.Dy() < 24055 || b.Dy() > 24065 || r.Header.Get("X-Truncated") != "true" {
			t.Fatalf("image is %dx%d (X-Truncated %q), want 1179 by about 24,061, cut", b.Dx(), b.Dy(), r.Header.Get("X-Truncated"))
		}
		for _, cssY := range []float64{500, 10500, 16900, 19900} {
			want := blue
			if int(cssY)/1000%2 == 1 {
				want = green
			}
			if c := img.At(600, int(cssY*zoom)); !near(c, want, 6) {
				t.Errorf("CSS y %.0f: %v, want %v", cssY, c, want)
			}
		}
	})
	t.Run("explicit viewport wins", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/device.html", "device": "pixel_8", "viewport_width": 360, "device_scale_factor": 1}), "image/png")
		wantSize(t, img, 360, 915)
	})
	t.Run("device list", func(t *testing.T) {
		r := s.get(t, "/v1/devices")
		var list struct {
			Devices []pageshot.Device `json:"devices"`
		}
		if err := json.Unmarshal(r.body, &list); err != nil || r.StatusCode != 200 {
			t.Fatalf("GET /v1/devices: %d %v %s", r.StatusCode, err, r.body)
		}
		if !slices.Equal(list.Devices, pageshot.Devices) {
			t.Errorf("listed %v", list.Devices)
		}
		i := slices.IndexFunc(list.Devices, func(d pageshot.Device) bool { return d.Name == "iphone_15" })
		if i < 0 {
			t.Fatal("iphone_15 not listed")
		}
		if d := list.Devices[i]; d.Width != 393 || d.Height != 852 || d.ScaleFactor != 3 || !d.Mobile || !d.Touch || !strings.Contains(d.UserAgent, "iPhone") {
			t.Errorf("iphone_15: %+v", d)
		}
		req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/devices", nil)
		wantProblem(t, s.send(t, req), 401, "missing_api_key")
		doc := s.get(t, "/docs/devices")
		for _, d := range pageshot.Devices {
			mustContain(t, string(doc.body), `id="`+d.Name+`"`)
		}
	})
	t.Run("unknown device", func(t *testing.T) {
		p := wantProblem(t, s.post(t, map[string]any{"url": g.URL, "device": "nokia_3310"}), 400, "invalid_request")
		if len(p.Errors) != 1 || p.Errors[0].Field != "device" {
			t.Errorf("errors: %+v", p.Errors)
		}
	})
}

// countNear counts the pixels of r in img within tol of c.
func countNear(img image.Image, r image.Rectangle, c color.RGBA, tol int) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if near(img.At(x, y), c, tol) {
				n++
			}
		}
	}
	return n
}

// TestGallerySettled: a capture shows the page at rest, not mid-fade,
// mid-slide or before its web font arrived; disable_animations shows the
// end of animations longer than any wait.
func TestGallerySettled(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("fade and slide, disable_animations=%v", disable), func(t *testing.T) {
			img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/motion.html", "viewport_width": 1000, "viewport_height": 600, "disable_animations": disable}), "image/png")
			if c := img.At(500, 100); !near(c, blue, 6) {
				t.Errorf("hero is %v, want the end of its fade-in", c)
			}
			if c := img.At(700, 250); !near(c, green, 6) {
				t.Errorf("slid card is %v at its end position", c)
			}
			if c := img.At(100, 250); !near(c, white, 6) {
				t.Errorf("slid card's start position is %v", c)
			}
		})
	}
	t.Run("fade longer than the wait", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/slow.html", "viewport_width": 400, "viewport_height": 400}), "image/png")
		if c := img.At(200, 150); near(c, blue, 30) || near(c, white, 3) {
			t.Errorf("a 30 s fade is %v after the bounded wait, want part-way", c)
		}
		img = wantImage(t, s.post(t, map[string]any{"url": g.URL + "/slow.html", "viewport_width": 400, "viewport_height": 400, "disable_animations": true}), "image/png")
		if c := img.At(200, 150); !near(c, blue, 6) {
			t.Errorf("with disable_animations the fade is %v, want its end", c)
		}
	})
	t.Run("web font in flight", func(t *testing.T) {
		if _, err := os.Stat(systemFont); err != nil {
			t.Skip("no DejaVu Sans on this machine (Debian: fonts-dejavu-core)")
		}
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/font.html", "viewport_width": 1000, "viewport_height": 300}), "image/png")
		if n := countNear(img, image.Rect(0, 0, 1000, 200), color.RGBA{0, 0, 0, 0xff}, 40); n < 2000 {
			t.Errorf("%d dark pixels: the headline was captured before its font arrived", n)
		}
	})
}

// TestGalleryHideSelectors: hidden elements are gone from the picture and
// from the layout, even when the page insists on showing them.
func TestGalleryHideSelectors(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	magenta := color.RGBA{0xff, 0, 0xff, 0xff}
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/hide.html", "viewport_width": 800, "viewport_height": 600}), "image/png")
	if !near(img.At(400, 100), magenta, 6) || !near(img.At(400, 550), red, 6) {
		t.Fatalf("the page shows no promo or banner: %v %v", img.At(400, 100), img.At(400, 550))
	}
	img = wantImage(t, s.post(t, map[string]any{"url": g.URL + "/hide.html", "viewport_width": 800, "viewport_height": 600, "hide_selectors": []string{"#banner", ".promo"}}), "image/png")
	if c := img.At(400, 550); !near(c, green, 6) {
		t.Errorf("banner still painted: %v", c)
	}
	if c := img.At(400, 100); !near(c, green, 6) {
		t.Errorf("the promo's place is %v, want the article moved up", c)
	}
	p := wantProblem(t, s.post(t, map[string]any{"url": g.URL + "/hide.html", "hide_selectors": []string{"#banner", "div[[x"}}), 400, "invalid_request")
	if len(p.Errors) != 1 || p.Errors[0].Field != "hide_selectors" || !strings.Contains(p.Errors[0].Message, "div[[x") {
		t.Errorf("errors %+v", p.Errors)
	}
}

// TestGallerySelectorUnobscured: an element captured under a fixed header,
// a sticky menu and a floating chat button shows only itself.
func TestGallerySelectorUnobscured(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/header.html", "selector": "#pricing", "viewport_width": 800, "viewport_height": 600}), "image/png")
	wantSize(t, img, 600, 400)
	if n := countNear(img, img.Bounds(), blue, 6); n != 600*400 {
		t.Errorf("%d of %d pixels are the element's own", n, 600*400)
	}
}

// TestGalleryNetworkIdle: a page that always keeps a request open is
// captured with networkidle2 as soon as it is almost quiet, and with
// networkidle once the budget leaves only the time for the picture; a
// page that never finishes loading fails with timeout and says which
// request held it.
func TestGalleryNetworkIdle(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	for _, mode := range []string{"networkidle2", "networkidle", "networkidle0"} {
		t.Run(mode, func(t *testing.T) {
			img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/poll.html", "wait_until": mode, "timeout": 3, "viewport_width": 300, "viewport_height": 200}), "image/png")
			if c := img.At(150, 100); !near(c, green, 6) {
				t.Errorf("pixel %v", c)
			}
		})
	}
	t.Run("never loads", func(t *testing.T) {
		html := `<body style="background:#00cc00"><img src="` + g.URL + `/img/0000ff.png?w=10&h=10&d=1m"></body>`
		p := wantProblem(t, s.post(t, map[string]any{"html": html, "wait_until": "networkidle", "timeout": 2}), 504, "timeout")
		if p.Phase != "navigation" || !strings.Contains(p.Detail, "/img/0000ff.png") {
			t.Errorf("phase %q, detail %q", p.Phase, p.Detail)
		}
	})
}

// lazyRows are the rows of lazy.html below the first screen: each shows one
// image (or iframe, or section) of its colour in the middle once loaded,
// grey (#888888) or white before.
var lazyRows = []struct{ kind, color string }{
	{"native", "0000ff"}, {"lazysizes", "00cc00"}, {"io", "ff00ff"},
	{"native", "00cccc"}, {"lazysizes", "cc6600"}, {"io", "6600cc"},
	{"native", "0066cc"}, {"lazysizes", "cc0066"}, {"io", "66cc00"},
	{"native", "006666"}, {"lazysizes", "996600"},
	{"iframe", "ff00ff"}, {"content-visibility", "ffaa00"},
}

func hexColor(s string) color.RGBA {
	v, _ := strconv.ParseUint(s, 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

// TestGalleryLazyFullPage: a full-page capture of a long article whose
// images arrive 400 ms after they are asked for shows every one of them,
// whether the page loads them natively (loading=lazy), with lazysizes or
// with its own IntersectionObserver, and its lazy iframe and
// content-visibility:auto section too.
func TestGalleryLazyFullPage(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/lazy.html", "full_page": true, "viewport_width": 800, "viewport_height": 600}), "image/png")
	wantSize(t, img, 800, 600*(len(lazyRows)+1))
	for i, row := range lazyRows {
		y := (i+1)*600 + 300
		if c := img.At(300, y); !near(c, hexColor(row.color), 6) {
			t.Errorf("row %d (%s) at y=%d is %v, want #%s", i+1, row.kind, y, c, row.color)
		}
	}
}

// TestGalleryTruncated: a page taller than the cap is cut at
// full_page_max_height, or where the pixel limit allows, and the answer
// says so; the cap's bound is the server's --max-full-page-height.
func TestGalleryTruncated(t *testing.T) {
	s := startServer(t, func(c *app.Config) {
		c.MaxPixels = 12_000_000
		c.Limits.MaxFullPageHeight = 30000
	})
	g := newGallery(t)
	stripe := func(y int) color.RGBA { // tall.html: 1000 px stripes, blue first
		if (y/1000)%2 == 0 {
			return blue
		}
		return green
	}
	t.Run("at the default height", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": g.URL + "/tall.html", "full_page": true, "viewport_width": 300, "viewport_height": 600})
		img := wantImage(t, r, "image/png")
		wantSize(t, img, 300, 20000)
		if r.Header.Get("X-Truncated") != "true" {
			t.Errorf("X-Truncated = %q", r.Header.Get("X-Truncated"))
		}
		if c := img.At(150, 19990); !near(c, stripe(19990), 6) {
			t.Errorf("bottom pixel %v", c)
		}
	})
	t.Run("at the pixel limit", func(t *testing.T) {
		// 300 × 30,000 CSS pixels at scale 2 would be 36 M pixels: cut
		// to 12 M, 10,000 CSS pixels.
		r := s.post(t, map[string]any{"url": g.URL + "/tall.html", "full_page": true, "full_page_max_height": 30000, "device_scale_factor": 2, "viewport_width": 300, "viewport_height": 600, "response_type": "json"})
		var out struct {
			Width, Height int
			Truncated     bool
		}
		if err := json.Unmarshal(r.body, &out); err != nil || r.StatusCode != 200 {
			t.Fatalf("%d %v %s", r.StatusCode, err, r.body)
		}
		if out.Width != 600 || out.Height != 20000 || !out.Truncated || r.Header.Get("X-Truncated") != "true" {
			t.Errorf("answer %+v, X-Truncated %q", out, r.Header.Get("X-Truncated"))
		}
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/tall.html", "full_page": true, "full_page_max_height": 30000, "device_scale_factor": 2, "viewport_width": 300, "viewport_height": 600}), "image/png")
		wantSize(t, img, 600, 20000)
		if c := img.At(300, 19990); !near(c, stripe(9995), 6) {
			t.Errorf("bottom pixel %v", c)
		}
	})
	t.Run("not cut", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": g.URL + "/shell.html", "full_page": true, "viewport_width": 300, "viewport_height": 600, "response_type": "json"})
		if r.StatusCode != 200 || r.Header.Get("X-Truncated") != "" || !bytes.Contains(r.body, []byte(`"truncated":false`)) {
			t.Errorf("%d X-Truncated %q %s", r.StatusCode, r.Header.Get("X-Truncated"), r.body)
		}
	})
	t.Run("over the server's cap", func(t *testing.T) {
		p := wantProblem(t, s.post(t, map[string]any{"url": g.URL + "/tall.html", "full_page": true, "full_page_max_height": 30001}), 400, "invalid_request")
		if len(p.Errors) != 1 || p.Errors[0].Field != "full_page_max_height" {
			t.Errorf("errors %+v", p.Errors)
		}
	})
}

// TestGalleryAppShell: a page whose content scrolls inside a container
// is captured whole.
func TestGalleryAppShell(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/shell.html", "full_page": true, "viewport_width": 800, "viewport_height": 600}), "image/png")
	wantSize(t, img, 800, 80+6*500)
	for i, want := range []color.RGBA{red, blue, green, blue, green, blue, hexColor("ff00ff")} {
		y := 40
		if i > 0 {
			y = 80 + (i-1)*500 + 250
		}
		if c := img.At(400, y); !near(c, want, 6) {
			t.Errorf("y=%d: %v, want %v", y, c, want)
		}
	}
}

// TestGalleryLazyPDF: a PDF of the long article carries every lazy image.
// No PDF rasteriser is at hand, so the images are counted in the file:
// each loaded image is one image object 400×300 pixels large (a grey
// placeholder is a plain rectangle).
func TestGalleryLazyPDF(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	r := s.post(t, map[string]any{"url": g.URL + "/lazy.html", "format": "pdf"})
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("%d %s", r.StatusCode, r.body[:min(len(r.body), 300)])
	}
	images := regexp.MustCompile(`/Subtype\s*/Image\b[^>]*?/Width\s+400\b[^>]*?/Height\s+300\b|/Width\s+400\b[^>]*?/Height\s+300\b[^>]*?/Subtype\s*/Image\b`).FindAll(r.body, -1)
	want := 0
	for _, row := range lazyRows {
		if row.kind != "iframe" && row.kind != "content-visibility" {
			want++
		}
	}
	if len(images) != want {
		t.Errorf("%d images of 400x300 in the PDF, want %d", len(images), want)
	}
}

// TestGalleryMetadata: metadata gives every field for a page reached
// through a redirect, with Open Graph tags, a web font and known colours.
func TestGalleryMetadata(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	r := s.post(t, map[string]any{
		"url": g.URL + "/go/meta.html", "response_type": "json", "viewport_width": 1000, "viewport_height": 500,
		"metadata": pageshot.MetadataFields, "colors_count": 3,
	})
	var out struct {
		Width, Height int
		Metadata      struct {
			Title       *string
			Description *string
			FinalURL    *string `json:"final_url"`
			Status      *int
			OpenGraph   map[string]string `json:"open_graph"`
			PageHeight  *int              `json:"page_height"`
			Truncated   *bool
			Fonts       []string
			Colors      []string
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.StatusCode != 200 {
		t.Fatalf("%d %v %s", r.StatusCode, err, r.body)
	}
	m := out.Metadata
	if m.Title == nil || *m.Title != "Harbour Coffee — Roasters since 1998" {
		t.Errorf("title %v", m.Title)
	}
	if m.Description == nil || *m.Description != "Small-batch coffee roasted by the harbour." {
		t.Errorf("description %v", m.Description)
	}
	if m.FinalURL == nil || *m.FinalURL != g.URL+"/meta.html" || m.Status == nil || *m.Status != 200 {
		t.Errorf("final_url %v status %v", m.FinalURL, m.Status)
	}
	wantOG := map[string]string{"title": "Harbour Coffee", "type": "website", "image": "https://harbour.example/cover.jpg", "url": "https://harbour.example/"}
	if !maps.Equal(m.OpenGraph, wantOG) {
		t.Errorf("open_graph %v", m.OpenGraph)
	}
	if m.PageHeight == nil || *m.PageHeight != 1200 || m.Truncated == nil || *m.Truncated {
		t.Errorf("page_height %v truncated %v", m.PageHeight, m.Truncated)
	}
	if !slices.Equal(m.Colors, []string{"#1a1a2e", "#e94560", "#0f3460"}) {
		t.Errorf("colors %v", m.Colors)
	}
	if _, err := os.Stat(systemFont); err == nil && !slices.Contains(m.Fonts, "DejaVu Sans") {
		t.Errorf("fonts %v, want DejaVu Sans (the Brand web font) among them", m.Fonts)
	}

	t.Run("only what is asked", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": g.URL + "/meta.html", "response_type": "json", "metadata": []string{"title"}})
		var out struct{ Metadata map[string]any }
		if err := json.Unmarshal(r.body, &out); err != nil || len(out.Metadata) != 1 || out.Metadata["title"] == nil {
			t.Errorf("%v %s", err, r.body)
		}
	})
	t.Run("refused", func(t *testing.T) {
		p := wantProblem(t, s.post(t, map[string]any{"url": g.URL, "metadata": []string{"title", "weather"}, "colors_count": 13}), 400, "invalid_request")
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		slices.Sort(fields)
		if !slices.Equal(fields, []string{"colors_count", "metadata", "metadata"}) {
			t.Errorf("errors %+v", p.Errors)
		}
	})
}

// consentPages are pages built with real consent libraries from npm, each
// with the selector of its banner once shown.
// with the selector of its banner once shown, and the report the page
// sends when consent is rejected ("" for a page that sends none).
var consentPages = []struct{ name, page, banner, rejected string }{
	{"vanilla-cookieconsent", "/consent-vanilla.html", "#cc-main .cm", "lib=vanilla&categories=necessary"},
	{"klaro", "/consent-klaro.html", ".klaro .cookie-modal", "lib=klaro&analytics=false"},
	{"tarteaucitron", "/consent-tarteaucitron.html", "#tarteaucitronAlertBig", ""},
	{"home-made bar", "/consent-homemade.html", "#cookie-notice", ""},
}

// waitReport waits until the gallery received the report want.
func (g *gallery) waitReport(t *testing.T, want string) {
	t.Helper()
	reported := func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return slices.Contains(g.reports, want)
	}
	if g.newReport.Wait(10*time.Second, reported) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	t.Errorf("no report %q; got %q", want, g.reports)
}

// TestGalleryCookieBanners: the consent banner of each library covers the
// page without block_cookie_banners and is gone with it; where the page
// tells, consent was rejected, not given.
func TestGalleryCookieBanners(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	area := image.Rect(0, 0, 1000, 700)
	for _, p := range consentPages {
		t.Run(p.name, func(t *testing.T) {
			img := wantImage(t, s.post(t, map[string]any{"url": g.URL + p.page, "wait_for_selector": p.banner, "viewport_width": 1000, "viewport_height": 700}), "image/png")
			if n := countNear(img, area, green, 6); n > area.Dx()*area.Dy()*95/100 {
				t.Fatalf("without block_cookie_banners the page shows no banner (%d of %d pixels are the page's)", n, area.Dx()*area.Dy())
			}
			img = wantImage(t, s.post(t, map[string]any{"url": g.URL + p.page, "block_cookie_banners": true, "delay": 1000, "viewport_width": 1000, "viewport_height": 700}), "image/png")
			if n := countNear(img, area, green, 6); n != area.Dx()*area.Dy() {
				t.Errorf("with block_cookie_banners %d of %d pixels are the page's", n, area.Dx()*area.Dy())
				if f, err := os.CreateTemp("", "consent-*.png"); err == nil {
					png.Encode(f, img)
					f.Close()
					t.Logf("capture kept in %s", f.Name())
				}
			}
			if p.rejected != "" {
				g.waitReport(t, p.rejected)
			}
		})
	}
}

// TestGalleryAdsAndTrackers: with block_ads and block_trackers the shipped
// lists block the ad script and the analytics beacon (they never reach the
// site) and hide the ad slot; without them the page shows both ads.
func TestGalleryAdsAndTrackers(t *testing.T) {
	s := sharedServer(t)
	g := newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/ads.html", "viewport_width": 800, "viewport_height": 600, "delay": 200}), "image/png")
	if !near(img.At(400, 100), fail, 6) || !near(img.At(400, 560), fail, 6) {
		t.Fatalf("without blocking the page shows no ads: slot %v, sticky banner %v", img.At(400, 100), img.At(400, 560))
	}
	if g.hitsOf("/collect") == 0 || g.hitsOf("/pagead/js/adsbygoogle.js") == 0 {
		t.Fatalf("without blocking: beacon %d, ad script %d requests", g.hitsOf("/collect"), g.hitsOf("/pagead/js/adsbygoogle.js"))
	}

	g = newGallery(t)
	img = wantImage(t, s.post(t, map[string]any{"url": g.URL + "/ads.html", "block_ads": true, "block_trackers": true, "viewport_width": 800, "viewport_height": 600, "delay": 200}), "image/png")
	if n := countNear(img, img.Bounds(), green, 6); n != 800*600 {
		t.Errorf("with blocking %d of %d pixels are the page's: slot %v, banner %v", n, 800*600, img.At(400, 100), img.At(400, 560))
	}
	if n := g.hitsOf("/pagead/js/adsbygoogle.js"); n != 0 {
		t.Errorf("the ad script was requested %d times", n)
	}
	if n := g.hitsOf("/collect"); n != 0 {
		t.Errorf("the beacon was sent %d times", n)
	}
	if g.hitsOf("/analytics.js") != 0 {
		t.Error("the analytics script was requested")
	}

	t.Run("trackers only", func(t *testing.T) {
		g := newGallery(t)
		img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/ads.html", "block_trackers": true, "viewport_width": 800, "viewport_height": 600, "delay": 200}), "image/png")
		if g.hitsOf("/collect") != 0 || g.hitsOf("/pagead/js/adsbygoogle.js") == 0 || !near(img.At(400, 100), fail, 6) {
			t.Errorf("beacon %d, ad script %d, slot %v", g.hitsOf("/collect"), g.hitsOf("/pagead/js/adsbygoogle.js"), img.At(400, 100))
		}
	})
}

// TestGalleryChats: block_chats hides a chat launcher.
func TestGalleryChats(t *testing.T) {
	s, g := sharedServer(t), newGallery(t)
	img := wantImage(t, s.post(t, map[string]any{"url": g.URL + "/chat.html", "viewport_width": 600, "viewport_height": 400}), "image/png")
	if c := img.At(540, 340); !near(c, fail, 6) {
		t.Fatalf("no launcher without block_chats: %v", c)
	}
	img = wantImage(t, s.post(t, map[string]any{"url": g.URL + "/chat.html", "block_chats": true, "viewport_width": 600, "viewport_height": 400}), "image/png")
	if n := countNear(img, img.Bounds(), green, 6); n != 600*400 {
		t.Errorf("with block_chats %d of %d pixels are the page's", n, 600*400)
	}
}

// hitsOf returns how many requests asked for path.
func (g *gallery) hitsOf(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[path]
}
