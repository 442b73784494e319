package app_test

import (
	"bytes"
	"encoding/json"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

var (
	red  = color.RGBA{0xcc, 0, 0, 0xff}
	blue = color.RGBA{0, 0, 0xff, 0xff}
)

func TestFormats(t *testing.T) {
	s, tg := sharedServer(t), newTarget(t)
	t.Run("png", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL, "viewport_width": 1024, "viewport_height": 600})
		img := wantImage(t, r, "image/png")
		wantSize(t, img, 1024, 600)
		if !near(img.At(10, 10), red, 8) || !near(img.At(200, 100), blue, 8) {
			t.Errorf("pixels: %v at (10,10), %v at (200,100)", img.At(10, 10), img.At(200, 100))
		}
		if r.Header.Get("X-Returned-Status-Code") != "200" || r.Header.Get("ETag") == "" || r.Header.Get("X-Cache") != "MISS" {
			t.Errorf("headers: %v", r.Header)
		}
		mustContain(t, r.Header.Get("Server-Timing"), "navigation;dur=")
	})
	t.Run("jpeg", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL, "format": "jpeg", "quality": 90}), "image/jpeg")
		wantSize(t, img, 1280, 800)
		if !near(img.At(10, 10), red, 20) {
			t.Errorf("pixel %v", img.At(10, 10))
		}
	})
	t.Run("webp", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL, "format": "webp", "device_scale_factor": 2, "viewport_width": 400, "viewport_height": 300}), "image/webp")
		wantSize(t, img, 800, 600)
	})
	t.Run("pdf", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL, "format": "pdf", "pdf_paper": "letter", "pdf_margin": "10mm"})
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
			t.Fatalf("status %d, type %q, starts %q", r.StatusCode, r.Header.Get("Content-Type"), r.body[:min(len(r.body), 8)])
		}
	})
	t.Run("get", func(t *testing.T) {
		q := url.Values{"url": {tg.URL}, "format": {"png"}, "viewport_width": {"300"}, "viewport_height": {"200"}, "hide_selectors": {"#box"}}
		img := wantImage(t, s.get(t, "/v1/screenshot?"+q.Encode()), "image/png")
		wantSize(t, img, 300, 200)
		if !near(img.At(200, 100), red, 8) {
			t.Errorf("hidden #box still drawn: %v", img.At(200, 100))
		}
	})
}

func TestCaptureOptions(t *testing.T) {
	s, tg := sharedServer(t), newTarget(t)
	t.Run("selector", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL, "selector": "#box"}), "image/png")
		wantSize(t, img, 200, 100)
		if !near(img.At(100, 50), blue, 8) {
			t.Errorf("pixel %v", img.At(100, 50))
		}
	})
	t.Run("clip", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL, "clip": map[string]any{"x": 0, "y": 0, "width": 50, "height": 40}}), "image/png")
		wantSize(t, img, 50, 40)
	})
	t.Run("full page", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL + "/tall", "full_page": true, "viewport_width": 300, "viewport_height": 300}), "image/png")
		wantSize(t, img, 300, 6000)
		if !near(img.At(10, 100), color.RGBA{0, 0xcc, 0, 0xff}, 8) || !near(img.At(10, 5900), color.RGBA{0, 0, 0xcc, 0xff}, 8) {
			t.Errorf("pixels %v %v", img.At(10, 100), img.At(10, 5900))
		}
	})
	t.Run("full page past the texture limit", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL + "/tall", "full_page": true, "viewport_width": 200, "viewport_height": 300, "device_scale_factor": 3}), "image/png")
		wantSize(t, img, 600, 18000)
		if !near(img.At(10, 17900), color.RGBA{0, 0, 0xcc, 0xff}, 8) {
			t.Errorf("bottom pixel %v", img.At(10, 17900))
		}
	})
	t.Run("full page max height", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"url": tg.URL + "/tall", "full_page": true, "full_page_max_height": 1000, "viewport_width": 300, "viewport_height": 300}), "image/png")
		wantSize(t, img, 300, 1000)
	})
	t.Run("html", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"html": `<body style="margin:0;background:#0000ff">x</body>`, "viewport_width": 200, "viewport_height": 100}), "image/png")
		if !near(img.At(100, 50), blue, 8) {
			t.Errorf("pixel %v", img.At(100, 50))
		}
	})
	t.Run("omit background", func(t *testing.T) {
		img := wantImage(t, s.post(t, map[string]any{"html": `<p>x</p>`, "omit_background": true, "viewport_width": 200, "viewport_height": 100}), "image/png")
		if _, _, _, a := img.At(150, 80).RGBA(); a != 0 {
			t.Errorf("alpha = %d, want 0", a)
		}
	})
	t.Run("wait for selector", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL + "/late", "wait_for_selector": "#late"})
		wantImage(t, r, "image/png")
	})
	t.Run("scripts styles click dark mode", func(t *testing.T) {
		r := s.post(t, map[string]any{
			"html":      `<body style="margin:0"><button id="b" onclick="document.body.style.background='#0000ff'">go</button></body>`,
			"styles":    "button { font-size: 30px }",
			"scripts":   "document.title = 'changed'",
			"click":     "#b",
			"dark_mode": true, "timezone": "Asia/Tokyo", "locale": "ja-JP", "delay": 50,
			"viewport_width": 300, "viewport_height": 200,
		})
		img := wantImage(t, r, "image/png")
		if !near(img.At(250, 150), blue, 8) {
			t.Errorf("click did not run: %v", img.At(250, 150))
		}
	})
	t.Run("json and empty response types", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL, "response_type": "json"})
		var got struct {
			Format             string `json:"format"`
			Width, Height      int
			Bytes              int `json:"bytes"`
			ReturnedStatusCode int `json:"returned_status_code"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || got.Width != 1280 || got.Height != 800 || got.Bytes == 0 || got.ReturnedStatusCode != 200 {
			t.Errorf("json answer %s (%v)", r.body, err)
		}
		r = s.post(t, map[string]any{"url": tg.URL, "response_type": "empty"})
		if r.StatusCode != http.StatusNoContent || len(r.body) != 0 || r.Header.Get("X-Returned-Status-Code") != "200" {
			t.Errorf("empty answer: %d %q", r.StatusCode, r.body)
		}
	})
	t.Run("ignore host errors", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL + "/status/404", "ignore_host_errors": true})
		wantImage(t, r, "image/png")
		if r.Header.Get("X-Returned-Status-Code") != "404" {
			t.Errorf("X-Returned-Status-Code = %q", r.Header.Get("X-Returned-Status-Code"))
		}
		// An error status with an empty body, which Chromium reports as a
		// failed navigation: captured as the empty page it is, not as the
		// browser's error page.
		for _, code := range []string{"410", "503"} {
			r = s.post(t, map[string]any{"url": tg.URL + "/status/" + code + "?empty=1", "ignore_host_errors": true, "viewport_width": 400, "viewport_height": 300})
			img := wantImage(t, r, "image/png")
			wantSize(t, img, 400, 300)
			if r.Header.Get("X-Returned-Status-Code") != code {
				t.Errorf("X-Returned-Status-Code = %q, want %s", r.Header.Get("X-Returned-Status-Code"), code)
			}
			// The empty page is white throughout.
			for y := 0; y < 300; y += 5 {
				for x := 0; x < 400; x += 5 {
					if c := img.At(x, y); !near(c, color.RGBA{255, 255, 255, 255}, 2) {
						t.Fatalf("%s: pixel (%d, %d) is %v, want the white of an empty page", code, x, y, c)
					}
				}
			}
		}
	})
	t.Run("etag", func(t *testing.T) {
		q := "/v1/screenshot?url=" + url.QueryEscape(tg.URL) + "&viewport_width=200&viewport_height=200"
		first := s.get(t, q)
		wantImage(t, first, "image/png")
		req, _ := http.NewRequest(http.MethodGet, s.url+q, nil)
		req.Header.Set("If-None-Match", first.Header.Get("ETag"))
		if r := s.do(t, req); r.StatusCode != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("If-None-Match: status %d, %d bytes", r.StatusCode, len(r.body))
		}
	})
	t.Run("dialogs and popups", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL + "/dialogs", "timeout": 20})
		img := wantImage(t, r, "image/png")
		if !near(img.At(10, 10), red, 8) {
			t.Errorf("pixel %v", img.At(10, 10))
		}
	})
}

func TestIsolation(t *testing.T) {
	s, tg := sharedServer(t), newTarget(t)
	wantImage(t, s.post(t, map[string]any{"url": tg.URL + "/setstate"}), "image/png")
	// Concurrent captures and later ones must not see the cookie or the
	// storage of the first.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r := s.post(t, map[string]any{"url": tg.URL + "/whoami", "fail_if_content_contains": []string{"ls=v", "s3cr3t", "jsc=1"}})
			if r.StatusCode != http.StatusOK {
				t.Errorf("state leaked into a later capture: %s", r.body)
			}
		})
	}
	wg.Wait()
	for _, c := range tg.cookieHeaders() {
		if c != "" {
			t.Errorf("a later capture sent Cookie: %q", c)
		}
	}
	// A cookie given as an option reaches the target of that capture only.
	r := s.post(t, map[string]any{"url": tg.URL + "/whoami", "cookies": []map[string]string{{"name": "given", "value": "1"}}, "fail_if_content_contains": []string{"given=1"}})
	wantProblem(t, r, 422, "content_contains_specified_string")
}

func TestErrors(t *testing.T) {
	s, tg := sharedServer(t), newTarget(t)

	t.Run("invalid_request lists every problem", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tg.URL, "html": "<p>", "format": "gif", "quality": 500, "viewport_width": 5, "colour": "red", "delay": "soon"})
		p := wantProblem(t, r, 400, "invalid_request")
		fields := map[string]bool{}
		for _, e := range p.Errors {
			fields[e.Field] = true
		}
		for _, f := range []string{"html", "format", "quality", "viewport_width", "colour", "delay"} {
			if !fields[f] {
				t.Errorf("no problem reported for %s: %s", f, r.body)
			}
		}
		if *p.Retryable {
			t.Error("invalid_request is not retryable")
		}
	})
	t.Run("invalid_request for a body that is not JSON", func(t *testing.T) {
		p := wantProblem(t, s.post(t, "{not json"), 400, "invalid_request")
		if len(p.Errors) != 1 || p.Errors[0].Field != "" {
			t.Errorf("errors = %+v", p.Errors)
		}
	})
	t.Run("invalid_request for a bad GET parameter", func(t *testing.T) {
		wantProblem(t, s.get(t, "/v1/screenshot?url="+url.QueryEscape(tg.URL)+"&full_page=maybe"), 400, "invalid_request")
	})
	t.Run("not_found", func(t *testing.T) {
		wantProblem(t, s.get(t, "/v2/nothing"), 404, "not_found")
	})
	t.Run("method_not_allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, s.url+"/v1/screenshot", nil)
		r := s.do(t, req)
		wantProblem(t, r, 405, "method_not_allowed")
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Errorf("Allow = %q", allow)
		}
	})
	t.Run("payload_too_large", func(t *testing.T) {
		// The shared server accepts 64 KiB of html.
		wantProblem(t, s.post(t, map[string]any{"html": strings.Repeat("x", 65<<10)}), 413, "payload_too_large")
		wantProblem(t, s.post(t, map[string]any{"html": strings.Repeat("x", 2<<20)}), 413, "payload_too_large")
	})
	t.Run("url_blocked", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(tg.URL, "http://"))
		for _, u := range []string{
			"http://127.0.0.2:" + port + "/", "http://localhost:" + port + "/", "http://[::1]:" + port + "/",
			"http://[::ffff:127.0.0.1]:" + port + "/", "http://2130706434:" + port + "/", "http://0x7f.2:" + port + "/",
			"http://0:" + port + "/", "file:///etc/passwd", "javascript:alert(1)", "view-source:" + tg.URL,
		} {
			p := wantProblem(t, s.post(t, map[string]any{"url": u}), 403, "url_blocked")
			if p.Reason == "" {
				t.Errorf("%s: no reason", u)
			}
		}
	})
	t.Run("selector_not_found", func(t *testing.T) {
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "selector": "#missing"}), 422, "selector_not_found")
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "wait_for_selector": "#missing", "timeout": 2}), 422, "selector_not_found")
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "click": "#missing"}), 422, "selector_not_found")
		wantImage(t, s.post(t, map[string]any{"url": tg.URL, "selector": "#missing", "error_on_selector_not_found": false}), "image/png")
	})
	t.Run("name_not_resolved", func(t *testing.T) {
		wantProblem(t, s.post(t, map[string]any{"url": "http://nonexistent.invalid/"}), 422, "name_not_resolved")
	})
	t.Run("content_contains_specified_string", func(t *testing.T) {
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "fail_if_content_contains": []string{"nothing-like-it", "secret-word"}}), 422, "content_contains_specified_string")
	})
	t.Run("host_returned_error", func(t *testing.T) {
		for _, c := range []struct {
			path      string
			status    int
			retryable bool
		}{{"/status/404", 404, false}, {"/status/410?empty=1", 410, false}, {"/status/503", 503, true}, {"/status/429?empty=1", 429, true}} {
			p := wantProblem(t, s.post(t, map[string]any{"url": tg.URL + c.path}), 502, "host_returned_error")
			if p.ReturnedStatusCode != c.status || *p.Retryable != c.retryable {
				t.Errorf("%s: returned_status_code %d retryable %v", c.path, p.ReturnedStatusCode, *p.Retryable)
			}
		}
	})
	t.Run("connection_failed", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := wantProblem(t, s.post(t, map[string]any{"url": "http://" + addr + "/"}), 502, "connection_failed")
		if !*p.Retryable {
			t.Error("connection_failed is retryable")
		}
	})
	t.Run("tls_error", func(t *testing.T) {
		ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer ts.Close()
		wantProblem(t, s.post(t, map[string]any{"url": ts.URL}), 502, "tls_error")
	})
	t.Run("timeout in navigation", func(t *testing.T) {
		p := wantProblem(t, s.post(t, map[string]any{"url": tg.URL + "/slow", "timeout": 2}), 504, "timeout")
		if p.Phase != "navigation" || !*p.Retryable {
			t.Errorf("phase %q retryable %v", p.Phase, *p.Retryable)
		}
		p = wantProblem(t, s.post(t, map[string]any{"url": tg.URL + "/slow", "timeout": 5, "navigation_timeout": 1}), 504, "timeout")
		if p.Phase != "navigation" {
			t.Errorf("phase %q", p.Phase)
		}
	})
	t.Run("timeout while waiting", func(t *testing.T) {
		// A delay as long as the timeout is refused up front; a script that
		// never ends is not.
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "timeout": 4, "delay": 10000}), 400, "invalid_request")
		p := wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "timeout": 2, "scripts": "await new Promise(() => {})"}), 504, "timeout")
		if p.Phase != "wait" {
			t.Errorf("phase %q", p.Phase)
		}
	})
	t.Run("download", func(t *testing.T) {
		wantProblem(t, s.post(t, map[string]any{"url": tg.URL + "/download"}), 400, "invalid_request")
	})
}

func TestPages(t *testing.T) {
	s := sharedServer(t)
	if r := s.get(t, "/healthz"); r.StatusCode != 200 {
		t.Errorf("/healthz: %d", r.StatusCode)
	}
	if r := s.get(t, "/readyz"); r.StatusCode != 200 {
		t.Errorf("/readyz: %d %s", r.StatusCode, r.body)
	}
	r := s.get(t, "/docs/errors")
	for _, code := range []string{"invalid_request", "url_blocked", "timeout", "service_unavailable", "quota_exceeded"} {
		mustContain(t, string(r.body), `id="`+code+`"`)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/docs/errors", nil)
	req.Header.Set("Accept", "application/json")
	if r := s.do(t, req); !bytes.Contains(r.body, []byte(`"code":"page_crashed"`)) {
		t.Errorf("JSON catalogue: %s", r.body)
	}
	if r := s.get(t, "/"); !bytes.Contains(r.body, []byte("/v1/screenshot")) {
		t.Error("playground page does not call the API")
	}
	r = s.get(t, "/openapi.json")
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil || doc["openapi"] == nil {
		t.Errorf("/openapi.json: %v", err)
	}
	// A capture of its own, so that the capture histogram has a series
	// whatever ran before.
	wantImage(t, s.post(t, map[string]any{"html": "<p>metrics</p>", "viewport_width": 200, "viewport_height": 100}), "image/png")
	r = s.get(t, "/metrics")
	for _, m := range []string{"pageshot_http_requests_total", "pageshot_capture_duration_seconds", "pageshot_queue_depth", "pageshot_pool_in_use", "pageshot_browser_restarts_total"} {
		mustContain(t, string(r.body), m)
	}
}
