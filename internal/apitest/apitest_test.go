package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/api"
	"github.com/pageshot/pageshot/internal/apitest"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/httpapi"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/sqlite"
	"github.com/pageshot/pageshot/internal/tenancy"
)

// renderer is a pageshot.Renderer without a browser: it answers a 1×1 PNG,
// or, for a URL whose path is /error/CODE, the error a real renderer gives
// with that code.
type renderer struct{}

var _ pageshot.Renderer = renderer{}

func (renderer) Render(ctx context.Context, o *pageshot.Options) (*pageshot.Capture, error) {
	if code, ok := strings.CutPrefix(urlPath(o.URL), "/error/"); ok {
		return nil, renderError(pageshot.Code(code))
	}
	return &pageshot.Capture{
		Data: onePixel(), Format: pageshot.FormatPNG, Width: 1, Height: 1,
		ReturnedStatusCode: 200, FinalURL: o.URL,
		Timing: pageshot.Timing{Navigation: 3 * time.Millisecond, Encode: time.Millisecond},
	}, nil
}

func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

func renderError(code pageshot.Code) error {
	e := pageshot.Errorf(code, "Test error %s.", code)
	switch code {
	case pageshot.CodeURLBlocked:
		e.Reason = "loopback"
	case pageshot.CodeHostReturnedError:
		e.ReturnedStatusCode = 503
	case pageshot.CodeTimeout:
		e.Phase = pageshot.PhaseNavigation
	case pageshot.CodeServiceUnavailable:
		e.RetryAfter = 2 * time.Second
	case pageshot.CodeInternal:
		return errors.New("a cause that is not a *pageshot.Error")
	}
	return e
}

func onePixel() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{R: 0x1a, G: 0x1a, B: 0x2e, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

type fixture struct {
	c     *apitest.Checker
	srv   *httptest.Server
	ready *atomic.Bool
	key   string // sent on every request unless it sets Authorization
}

// signer turns "signed:QUERY" targets into signed URLs of the fixture's
// key.
var signer func(query string) string

func newFixture(t *testing.T) *fixture {
	t.Helper()
	spec, err := api.JSON()
	if err != nil {
		t.Fatal(err)
	}
	ready := new(atomic.Bool)
	ready.Store(true)
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pageshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, key, err := pageshot.NewKey("apitest", "open", pageshot.AllScopes(), time.Now())
	signer = func(query string) string {
		q, _ := url.ParseQuery(query)
		q.Set("access_key", k.ID)
		q.Set("expires", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
		q.Set("signature", pageshot.Sign(k.SigningSecret, q))
		return "/v1/screenshot?" + q.Encode()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	gate := tenancy.New(tenancy.Config{
		Keys: store, Usage: store, Rate: limit.NewRate(nil),
		Plans:  map[string]pageshot.Plan{"open": {MonthlyQuota: 1 << 30, MaxTimeout: time.Minute}},
		Logger: slog.New(slog.DiscardHandler),
	})
	h := httpapi.New(httpapi.Config{
		Capturer: capture.New(capture.Config{Renderer: renderer{}, Usage: store, Concurrency: limit.NewConcurrency(), Limits: pageshot.Limits{MaxHTMLBytes: 1 << 10}}),
		Tenancy:  gate,
		Limits:   pageshot.Limits{MaxHTMLBytes: 1 << 10},
		Ready:    ready.Load,
		OpenAPI:  spec,
		Logger:   slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{c: apitest.New(t), srv: srv, ready: ready, key: key}
}

func (f *fixture) request(t *testing.T, method, target, body string, header ...string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	if q, ok := strings.CutPrefix(target, "signed:"); ok {
		target = signer(q)
	}
	req, err := http.NewRequest(method, f.srv.URL+target, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if !strings.Contains(target, "signature=") {
		req.Header.Set("Authorization", "Bearer "+f.key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// do sends a request and checks the exchange against the description.
func (f *fixture) do(t *testing.T, method, target, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return f.c.Do(t, f.srv.Client(), f.request(t, method, target, body, header...))
}

func problemCode(t *testing.T, body []byte) string {
	t.Helper()
	var p struct{ Code string }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %v: %s", err, body)
	}
	return p.Code
}

// TestServerMatchesDescription sends every kind of request the server
// answers today; Do fails the test on any departure from the description.
func TestServerMatchesDescription(t *testing.T) {
	f := newFixture(t)
	const target = `"url": "https://example.com/"`

	tests := []struct {
		name, method, target, body string
		header                     []string
		status                     int
		contentType                string // a prefix
		code                       string // of a problem
	}{
		{name: "png", method: "POST", target: "/v1/screenshot", body: `{` + target + `}`, status: 200, contentType: "image/png"},
		{name: "png with options", method: "POST", target: "/v1/screenshot",
			body: `{` + target + `, "viewport_width": 800, "viewport_height": 600, "device_scale_factor": 2,
				"clip": {"x": 0, "y": 0, "width": 100, "height": 50}, "omit_background": true, "wait_until": "networkidle",
				"delay": 100, "timeout": 20, "navigation_timeout": 10, "hide_selectors": ["#ad", ".banner"],
				"headers": {"Accept-Language": "de-DE"}, "cookies": [{"name": "session", "value": "abc"}],
				"timezone": "Europe/Paris", "locale": "de-DE", "block_resources": "font", "fail_if_content_contains": "Error 500"}`,
			status: 200, contentType: "image/png"},
		{name: "jpeg quality", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "format": "jpeg", "quality": 90}`, status: 200, contentType: "image/png"},
		{name: "json", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "response_type": "json"}`, status: 200, contentType: "application/json"},
		{name: "empty", method: "POST", target: "/v1/screenshot", body: `{"html": "<p>hi</p>", "response_type": "empty"}`, status: 204},
		{name: "get", method: "GET", target: "/v1/screenshot?url=https%3A%2F%2Fexample.com%2F&full_page=true&hide_selectors=%23a&hide_selectors=.b" +
			"&headers=X-Test%3A%20yes&cookies=a%3Db&block_resources=image&block_resources=font&dark_mode=false",
			status: 200, contentType: "image/png"},
		{name: "get clip", method: "GET", target: "/v1/screenshot?url=https://example.com/&clip_x=0&clip_y=10&clip_width=100&clip_height=50", status: 200, contentType: "image/png"},
		{name: "signed url of an unknown key", method: "GET", target: "/v1/screenshot?url=https://example.com/&access_key=k1&expires=1767225600&signature=" + strings.Repeat("ab", 32), status: 401, code: "invalid_api_key"},
		{name: "signed url", method: "GET", target: "signed:url=https://example.com/&viewport_width=300", status: 200, contentType: "image/png"},
		{name: "unknown option", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "colour": "red"}`, status: 400, code: "invalid_request"},
		{name: "option not offered yet", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "store": true}`, status: 400, code: "invalid_request"},
		{name: "out of range", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "viewport_width": 5, "quality": 50}`, status: 400, code: "invalid_request"},
		{name: "not json", method: "POST", target: "/v1/screenshot", body: `url=x`, status: 400, code: "invalid_request"},
		{name: "neither url nor html", method: "GET", target: "/v1/screenshot", status: 400, code: "invalid_request"},
		{name: "bad time zone", method: "POST", target: "/v1/screenshot", body: `{` + target + `, "timezone": "Mars/Base"}`, status: 400, code: "invalid_request"},
		{name: "html too large", method: "POST", target: "/v1/screenshot", body: `{"html": "` + strings.Repeat("x", 2<<10) + `"}`, status: 413, code: "payload_too_large"},
		{name: "url blocked", method: "POST", target: "/v1/screenshot", body: `{"url": "https://example.com/error/url_blocked"}`, status: 403, code: "url_blocked"},
		{name: "selector not found", method: "GET", target: "/v1/screenshot?url=https://example.com/error/selector_not_found", status: 422, code: "selector_not_found"},
		{name: "internal error", method: "POST", target: "/v1/screenshot", body: `{"url": "https://example.com/error/internal_error"}`, status: 500, code: "internal_error"},
		{name: "host returned error", method: "POST", target: "/v1/screenshot", body: `{"url": "https://example.com/error/host_returned_error"}`, status: 502, code: "host_returned_error"},
		{name: "service unavailable", method: "POST", target: "/v1/screenshot", body: `{"url": "https://example.com/error/service_unavailable"}`, status: 503, code: "service_unavailable"},
		{name: "timeout", method: "POST", target: "/v1/screenshot", body: `{"url": "https://example.com/error/timeout"}`, status: 504, code: "timeout"},
		{name: "not found", method: "GET", target: "/v2/screenshot", status: 404, code: "not_found"},
		{name: "not found below a page", method: "GET", target: "/healthz/deep", status: 404, code: "not_found"},
		{name: "method not allowed", method: "DELETE", target: "/v1/screenshot", status: 405, code: "method_not_allowed"},
		{name: "method not allowed on a page", method: "POST", target: "/healthz", body: `{}`, status: 405, code: "method_not_allowed"},
		{name: "healthz", method: "GET", target: "/healthz", status: 200, contentType: "application/json"},
		{name: "healthz head", method: "HEAD", target: "/healthz", status: 200, contentType: "application/json"},
		{name: "readyz", method: "GET", target: "/readyz", status: 200, contentType: "application/json"},
		{name: "metrics", method: "GET", target: "/metrics", status: 200, contentType: "text/plain"},
		{name: "openapi", method: "GET", target: "/openapi.json", status: 200, contentType: "application/json"},
		{name: "error docs json", method: "GET", target: "/docs/errors", header: []string{"Accept", "application/json"}, status: 200, contentType: "application/json"},
		{name: "error docs html", method: "GET", target: "/docs/errors", status: 200, contentType: "text/html"},
		{name: "playground", method: "GET", target: "/", status: 200, contentType: "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.target, tt.body, tt.header...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code != "" {
				if got := problemCode(t, body); got != tt.code {
					t.Errorf("code %s, want %s", got, tt.code)
				}
			} else if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.contentType)
			}
		})
	}

	t.Run("not modified", func(t *testing.T) {
		resp, _ := f.do(t, "POST", "/v1/screenshot", `{`+target+`}`)
		resp, body := f.do(t, "POST", "/v1/screenshot", `{`+target+`}`, "If-None-Match", resp.Header.Get("ETag"))
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("status %d, want 304: %s", resp.StatusCode, body)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		f.ready.Store(false)
		defer f.ready.Store(true)
		resp, body := f.do(t, "GET", "/readyz", "")
		if resp.StatusCode != http.StatusServiceUnavailable || problemCode(t, body) != "service_unavailable" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// exchange is a hand-made response to a request that the server answered.
type exchange struct {
	req  *http.Request
	resp *http.Response
	body []byte
}

func (f *fixture) record(t *testing.T, method, target, body string) exchange {
	t.Helper()
	req := f.request(t, method, target, body)
	resp, got := f.c.Do(t, f.srv.Client(), req)
	return exchange{req: req, resp: &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone()}, body: got}
}

// editJSON changes one member of a JSON body; a nil value deletes it.
func editJSON(t *testing.T, body []byte, member string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(m, member)
	} else {
		m[member] = value
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestViolationsAreCaught breaks real answers one way each; Validate must
// report every one.
func TestViolationsAreCaught(t *testing.T) {
	f := newFixture(t)
	const capture = `{"url": "https://example.com/"}`

	tests := []struct {
		name, method, target, body string
		edit                       func(t *testing.T, x *exchange)
		want                       string // in the error
	}{
		{"undeclared status", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.resp.StatusCode = http.StatusTeapot }, "status is not supported"},
		{"problem without code", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "code", nil) }, "code"},
		{"problem with an unknown code", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "code", "bad_request") }, "code"},
		{"problem code of another status", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "code", "not_found") }, "code"},
		{"problem status differs from the answer's", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "status", 422) }, "status"},
		{"problem with an undescribed member", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "hint", "try again") }, "hint"},
		{"invalid_request without errors", "POST", "/v1/screenshot", `{"colour": "red"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "errors", nil) }, "errors"},
		{"problem as plain JSON", "GET", "/nope", "",
			func(t *testing.T, x *exchange) { x.resp.Header.Set("Content-Type", "application/json") }, "Content-Type"},
		{"503 without Retry-After", "POST", "/v1/screenshot", `{"url": "https://example.com/error/service_unavailable"}`,
			func(t *testing.T, x *exchange) { x.resp.Header.Del("Retry-After") }, "Retry-After"},
		{"timeout without phase", "POST", "/v1/screenshot", `{"url": "https://example.com/error/timeout"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "phase", nil) }, "phase"},
		{"capture without X-Cache", "POST", "/v1/screenshot", capture,
			func(t *testing.T, x *exchange) { x.resp.Header.Del("X-Cache") }, "X-Cache"},
		{"capture in an undescribed format", "POST", "/v1/screenshot", capture,
			func(t *testing.T, x *exchange) { x.resp.Header.Set("Content-Type", "image/gif") }, "image/gif"},
		{"png that is not one", "POST", "/v1/screenshot", capture,
			func(t *testing.T, x *exchange) { x.body = []byte(`{"ok": true}`) }, "not the image/png"},
		{"json capture missing a member", "POST", "/v1/screenshot", `{"url": "https://example.com/", "response_type": "json"}`,
			func(t *testing.T, x *exchange) { x.body = editJSON(t, x.body, "bytes", nil) }, "bytes"},
		{"no X-Request-Id", "GET", "/healthz", "",
			func(t *testing.T, x *exchange) { x.resp.Header.Del("X-Request-Id") }, "X-Request-Id"},
		{"undescribed health status", "GET", "/healthz", "",
			func(t *testing.T, x *exchange) { x.body = []byte(`{"status":"degraded"}`) }, "status"},
		{"error catalogue without when", "GET", "/docs/errors", "",
			func(t *testing.T, x *exchange) {
				x.resp.Header.Set("Content-Type", "application/json")
				x.body = []byte(`{"errors":[{"code":"timeout","status":504,"title":"Timeout","retryable":true}]}`)
			}, "when"},
		{"unknown path answered", "GET", "/nope", "",
			func(t *testing.T, x *exchange) { x.resp.StatusCode = http.StatusOK }, "status is not supported"},
		{"405 with a wrong Allow", "DELETE", "/v1/screenshot", "",
			func(t *testing.T, x *exchange) { x.resp.Header.Set("Allow", "GET, HEAD") }, "Allow"},
		{"refused request served", "POST", "/v1/screenshot", `{"url": "https://example.com/", "colour": "red"}`,
			func(t *testing.T, x *exchange) {
				ok := f.record(t, "POST", "/v1/screenshot", capture)
				x.resp, x.body = ok.resp, ok.body
			}, "the description refuses the request, yet the server answered 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := f.record(t, tt.method, tt.target, tt.body)
			tt.edit(t, &x)
			err := f.c.Validate(x.req, x.resp, x.body)
			if err == nil {
				t.Fatalf("Validate accepted the broken exchange: %d %v %s", x.resp.StatusCode, x.resp.Header, x.body)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not mention %q:\n%v", tt.want, err)
			}
			t.Logf("caught: %v", err)
		})
	}

	t.Run("request body read once", func(t *testing.T) {
		x := f.record(t, "POST", "/v1/screenshot", capture)
		x.req.GetBody = nil
		if err := f.c.Validate(x.req, x.resp, x.body); err == nil || !strings.Contains(err.Error(), "cannot be read again") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("Check reports through t", func(t *testing.T) {
		x := f.record(t, "GET", "/healthz", "")
		x.resp.StatusCode = http.StatusTeapot
		rec := &recorder{TB: t}
		f.c.Check(rec, x.req, x.resp, x.body)
		if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /healthz → 418") {
			t.Errorf("Check reported %q", rec.errors)
		}
	})
}

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestRulesAgree checks the description's rules on options against the
// server's, both ways: a body the description refuses is refused by the
// server, and one it accepts at the edge of a rule is served.
func TestRulesAgree(t *testing.T) {
	f := newFixture(t)
	served := f.record(t, "POST", "/v1/screenshot", `{"url": "https://example.com/"}`)
	const u = `"url": "https://example.com/"`

	refused := map[string]string{
		"neither url nor html":            `{}`,
		"both url and html":               `{` + u + `, "html": "<p>"}`,
		"url without a scheme":            `{"url": "example.com"}`,
		"url too long":                    `{"url": "https://example.com/` + strings.Repeat("a", 2030) + `"}`,
		"empty html":                      `{"html": ""}`,
		"unknown format":                  `{` + u + `, "format": "gif"}`,
		"quality with png":                `{` + u + `, "format": "png", "quality": 50}`,
		"quality without format":          `{` + u + `, "quality": 50}`,
		"pdf_paper with png":              `{` + u + `, "pdf_paper": "a4"}`,
		"pdf_margin without pdf":          `{` + u + `, "format": "webp", "pdf_margin": "1cm"}`,
		"negative pdf_margin":             `{` + u + `, "format": "pdf", "pdf_margin": "-1cm"}`,
		"selector with pdf":               `{` + u + `, "format": "pdf", "selector": "#a"}`,
		"full_page false with pdf":        `{` + u + `, "format": "pdf", "full_page": false}`,
		"clip and selector":               `{` + u + `, "selector": "#a", "clip": {"x": 0, "y": 0, "width": 10, "height": 10}}`,
		"clip and full_page":              `{` + u + `, "full_page": true, "clip": {"x": 0, "y": 0, "width": 10, "height": 10}}`,
		"selector and full_page":          `{` + u + `, "full_page": true, "selector": "#a"}`,
		"transparent jpeg":                `{` + u + `, "format": "jpeg", "omit_background": true}`,
		"navigation_timeout over default": `{` + u + `, "navigation_timeout": 40}`,
		"clip of width 0":                 `{` + u + `, "clip": {"x": 0, "y": 0, "width": 0, "height": 10}}`,
		"clip without height":             `{` + u + `, "clip": {"x": 0, "y": 0, "width": 10}}`,
		"clip with a member too many":     `{` + u + `, "clip": {"x": 0, "y": 0, "width": 10, "height": 10, "z": 1}}`,
		"blank selector":                  `{` + u + `, "wait_for_selector": "  "}`,
		"blank hidden selector":           `{` + u + `, "hide_selectors": ["#a", " "]}`,
		"unknown resource type":           `{` + u + `, "block_resources": ["image", "nope"]}`,
		"header name with a space":        `{` + u + `, "headers": {"Bad Name": "x"}}`,
		"header value with a line break":  `{` + u + `, "headers": {"X-A": "a\r\nB: c"}}`,
		"user agent with a line break":    `{` + u + `, "user_agent": "a\nb"}`,
		"cookie without a name":           `{` + u + `, "cookies": [{"value": "x"}]}`,
		"cookie with a member too many":   `{` + u + `, "cookies": [{"name": "a", "secure": true}]}`,
		"cookie without domain for html":  `{"html": "<p>", "cookies": [{"name": "a", "value": "b"}]}`,
		"locale":                          `{` + u + `, "locale": "english_US"}`,
		"timeout too long":                `{` + u + `, "timeout": 61}`,
		"delay too long":                  `{` + u + `, "delay": 10001}`,
		"scale factor":                    `{` + u + `, "device_scale_factor": 5}`,
		"viewport not an integer":         `{` + u + `, "viewport_width": 800.5}`,
		"unknown option":                  `{` + u + `, "block_popups": true}`,
	}
	for name, body := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			resp, got := f.do(t, "POST", "/v1/screenshot", body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("the server answered %d, want 400: %s", resp.StatusCode, got)
			}
			req := f.request(t, "POST", "/v1/screenshot", body)
			err := f.c.Validate(req, served.resp, served.body)
			if err == nil || !strings.Contains(err.Error(), "the description refuses the request") {
				t.Errorf("the description accepts a body the server refuses: %v", err)
			}
		})
	}

	accepted := map[string]string{
		"clip with full_page false":          `{` + u + `, "full_page": false, "clip": {"x": 0, "y": 0, "width": 10, "height": 10}}`,
		"opaque jpeg":                        `{` + u + `, "format": "jpeg", "omit_background": false}`,
		"quality with webp":                  `{` + u + `, "format": "webp", "quality": 1}`,
		"navigation_timeout within timeout":  `{` + u + `, "timeout": 50, "navigation_timeout": 40}`,
		"pdf options":                        `{` + u + `, "format": "pdf", "pdf_paper": "letter", "pdf_landscape": true, "pdf_print_background": false, "pdf_margin": 10}`,
		"pdf margin with a unit":             `{` + u + `, "format": "pdf", "pdf_margin": "1.5 cm"}`,
		"cookie with domain for html":        `{"html": "<p>", "cookies": [{"name": "a", "value": "b", "domain": "example.com", "path": "/"}]}`,
		"cookie without value":               `{` + u + `, "cookies": [{"name": "a"}]}`,
		"single strings for lists":           `{` + u + `, "hide_selectors": "#a", "block_resources": "image", "fail_if_content_contains": "oops"}`,
		"integral number":                    `{` + u + `, "viewport_width": 800.0}`,
		"limits":                             `{` + u + `, "viewport_width": 5000, "viewport_height": 100, "device_scale_factor": 4, "delay": 10000, "timeout": 60, "full_page_max_height": 20000}`,
		"error_on_selector_not_found false":  `{` + u + `, "selector": "#a", "error_on_selector_not_found": false}`,
		"scripts and styles":                 `{` + u + `, "scripts": "", "styles": "body{color:red}", "click": "button", "dark_mode": true, "reduced_motion": true}`,
		"response types":                     `{` + u + `, "response_type": "binary", "ignore_host_errors": true, "wait_until": "domcontentloaded"}`,
		"header names with token characters": `{` + u + `, "headers": {"X-Custom_Header.v2": "a: b"}}`,
	}
	for name, body := range accepted {
		t.Run("accepted/"+name, func(t *testing.T) {
			resp, got := f.do(t, "POST", "/v1/screenshot", body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the server answered %d, want 200: %s", resp.StatusCode, got)
			}
		})
	}
}
