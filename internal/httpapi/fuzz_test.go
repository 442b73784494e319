package httpapi_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/httpapi"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/sqlite"
	"github.com/pageshot/pageshot/internal/tenancy"
)

// painter renders every capture as a plain image of the asked size. The
// fuzz target is about what the HTTP layer makes of a request (routing,
// authentication, reading and decoding the options), not about Chromium,
// which the end-to-end tests drive.
type painter struct{}

func (painter) Render(_ context.Context, o *pageshot.Options) (*pageshot.Capture, error) {
	img := image.NewRGBA(image.Rect(0, 0, min(o.ViewportWidth, 64), min(o.ViewportHeight, 64)))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return &pageshot.Capture{Data: b.Bytes(), Format: pageshot.FormatPNG, Width: img.Rect.Dx(), Height: img.Rect.Dy(), ReturnedStatusCode: 200}, nil
}

var methods = []string{"GET", "POST", "HEAD", "DELETE", "PUT", "PATCH", "OPTIONS"}

// FuzzHandler sends arbitrary requests, with a valid key, to the whole
// HTTP handler (routes, middleware, authentication, admission, the option
// decoder): it never panics and never answers 500, and every error is a
// problem document.
func FuzzHandler(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "pageshot.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	k, key, err := pageshot.NewKey("fuzz", pageshot.DefaultPlanName, pageshot.AllScopes(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateKey(ctx, k); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv := httpapi.New(httpapi.Config{
		Capturer: capture.New(capture.Config{
			Renderer: painter{}, Limits: pageshot.Limits{MaxHTMLBytes: 64 << 10},
			Usage: st, Concurrency: limit.NewConcurrency(), Logger: log,
		}),
		Limits: pageshot.Limits{MaxHTMLBytes: 64 << 10},
		Tenancy: tenancy.New(tenancy.Config{
			Keys: st, Usage: st, Rate: limit.NewRate(nil),
			Plans:           map[string]pageshot.Plan{pageshot.DefaultPlanName: {RatePerMinute: 1 << 30, MaxConcurrency: 1 << 10, MaxTimeout: time.Minute}},
			IPRatePerMinute: 1 << 30,
			Logger:          log,
		}),
		Logger: log,
	})

	for _, s := range []struct {
		method uint8
		target string
		body   string
	}{
		{1, "/v1/screenshot", `{"html": "<p>hi</p>", "viewport_width": 200, "viewport_height": 100}`},
		{1, "/v1/screenshot", `{"url": "https://example.com/", "hide_selectors": ["#a", "x { } body"], "headers": {"Host": "x"}, "delay": 5000, "timeout": 5}`},
		{1, "/v1/screenshot", `{"url": "https://example.com/", "url": "https://example.org/", "clip": {"x": 1, "x": 2}}`},
		{1, "/v1/screenshot?format=jpeg", `{"html": "x"}`},
		{1, "/v1/screenshot", `{"html": "x", "locale": "de-DE-u-co-phonebk", "user_agent": "a\u0001", "cookies": [{"name": "a", "value": "b"}]}`},
		{0, "/v1/screenshot?html=%3Cp%3E&format=webp&quality=50&hide_selectors=a&hide_selectors=b", ""},
		{0, "/v1/screenshot?url=http://[::1]:99999/&clip_x=1&clip_y=1&clip_width=2", ""},
		{0, "/v1/screenshot?html=x&access_key=key_x&expires=1&signature=00", ""},
		{2, "/v1/screenshot?html=x", ""},
		{0, "/v1/usage", ""},
		{0, "//v1/usage", ""},
		{0, "/v1/jobs/x/items/0/artifact", ""},
		{3, "/v1/jobs/x", ""},
		{1, "/v1/jobs", `{"items": [{"url": "https://example.com/"}]}`},
		{4, "/v1/screenshot", `{}`},
		{0, "/v1/objects/..%2F..%2Fetc", ""},
		{0, "/nowhere", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, m uint8, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://pageshot"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		res := rec.Result()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %q %q: %d %s", req.Method, target, body, res.StatusCode, out)
		}
		if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %q: %d without a problem document: %q", req.Method, target, res.StatusCode, out)
		}
	})
}
