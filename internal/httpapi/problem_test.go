package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
)

// failing is a Renderer that fails with a fixed error: it drives the error
// mapping, which must not depend on where an error comes from.
type failing struct{ err error }

func (f failing) Render(context.Context, *pageshot.Options) (*pageshot.Capture, error) {
	return nil, f.err
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		name      string
		err       error
		status    int
		code      string
		retryable bool
		check     func(t *testing.T, p map[string]any, h http.Header)
	}{
		{"a plain error is internal_error and its cause is not sent", errors.New("db password is hunter2"), 500, "internal_error", true,
			func(t *testing.T, p map[string]any, h http.Header) {
				if b, _ := json.Marshal(p); strings.Contains(string(b), "hunter2") {
					t.Errorf("cause leaked: %s", b)
				}
			}},
		{"retry after", &pageshot.Error{Code: pageshot.CodeServiceUnavailable, Message: "busy", RetryAfter: 1500 * time.Millisecond}, 503, "service_unavailable", true,
			func(t *testing.T, p map[string]any, h http.Header) {
				if h.Get("Retry-After") != "2" || p["retry_after"] != 2.0 {
					t.Errorf("Retry-After %q, retry_after %v", h.Get("Retry-After"), p["retry_after"])
				}
			}},
		{"timeout phase", &pageshot.Error{Code: pageshot.CodeTimeout, Message: "slow", Phase: "render"}, 504, "timeout", true,
			func(t *testing.T, p map[string]any, h http.Header) {
				if p["phase"] != "render" {
					t.Errorf("phase %v", p["phase"])
				}
			}},
		{"quota members", &pageshot.Error{Code: pageshot.CodeQuotaExceeded, Message: "used up", Plan: "tiny", Limit: 5, Used: 5, ResetAt: time.Unix(1767225600, 0)}, 402, "quota_exceeded", false,
			func(t *testing.T, p map[string]any, h http.Header) {
				if p["plan"] != "tiny" || p["limit"] != 5.0 || p["used"] != 5.0 || p["reset_at"] != 1767225600.0 {
					t.Errorf("members %v", p)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(Config{Capturer: capture.New(capture.Config{Renderer: failing{c.err}})})
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/screenshot", strings.NewReader(`{"html":"<p>x</p>"}`)))
			if rec.Code != c.status || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p["code"] != c.code || p["retryable"] != c.retryable || p["type"] != "/docs/errors#"+c.code || p["request_id"] != rec.Header().Get("X-Request-Id") {
				t.Errorf("problem %v", p)
			}
			c.check(t, p, rec.Header())
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := newID(), newID()
	if len(a) != 26 || a == b || strings.Trim(a, crockford) != "" {
		t.Errorf("ids %q %q", a, b)
	}
}

func TestServerTiming(t *testing.T) {
	got := serverTiming(pageshot.Timing{Queue: 1500 * time.Microsecond, Navigation: 250 * time.Millisecond, Render: 0, Encode: 12345 * time.Microsecond})
	if want := "queue;dur=1.5, navigation;dur=250.0, render;dur=0.0, encode;dur=12.3"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
