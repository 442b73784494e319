package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/blob"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/httpapi"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/sqlite"
	"github.com/pageshot/pageshot/internal/tenancy"
)

// fixedRenderer answers every capture with the same image and counts the
// renders, so that a benchmark of cache hits can tell that none rendered.
type fixedRenderer struct {
	data    []byte
	renders atomic.Int64
}

func (f *fixedRenderer) Render(_ context.Context, o *pageshot.Options) (*pageshot.Capture, error) {
	f.renders.Add(1)
	return &pageshot.Capture{Data: f.data, Format: o.Format, Width: 74, Height: 74, ReturnedStatusCode: 200}, nil
}

// hotPath is the HTTP API wired as `pageshot serve` wires it on one node —
// SQLite store, filesystem blobs, in-process limits, the capture service,
// the tenancy gate — with a renderer that answers a fixed 21 KB image.
type hotPath struct {
	handler  http.Handler
	renderer *fixedRenderer
	store    *sqlite.Store
	key      *pageshot.APIKey
	token    string
}

func newHotPath(tb testing.TB) *hotPath {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "pageshot.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	blobs, err := blob.Open(ctx, blob.Config{Dir: filepath.Join(dir, "objects")})
	if err != nil {
		tb.Fatal(err)
	}
	blobs = blob.Hot(blobs, 64<<20) // as app.New wires it
	// A quota that the benchmark never reaches, but a quota: the ledger is
	// in the path as it is for a plan that has one.
	plan := pageshot.Plan{MonthlyQuota: 1 << 40, RatePerMinute: 1 << 30, MaxConcurrency: 1 << 20, MaxTimeout: 30 * time.Second}
	k, token, err := pageshot.NewKey("bench", "bench", pageshot.AllScopes(), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.CreateKey(ctx, k); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	gate := tenancy.New(tenancy.Config{
		Keys: store, Usage: store, Rate: limit.NewRate(nil),
		Plans: map[string]pageshot.Plan{"bench": plan}, Logger: log,
	})
	// 21 KB that do not compress, as a PNG of a real page does not.
	data := make([]byte, 21<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	r := &fixedRenderer{data: data}
	svc := capture.New(capture.Config{
		Renderer: r, Usage: store, Concurrency: limit.NewConcurrency(),
		Blobs: blobs, Cache: store, ReservationTTL: time.Minute, Logger: log,
	})
	h := httpapi.New(httpapi.Config{Capturer: svc, Tenancy: gate, Blobs: blobs, Logger: log})
	return &hotPath{handler: h, renderer: r, store: store, key: k, token: token}
}

// hitURL is the cached capture of the benchmark, asked for as an
// <img src> asks: a GET with the key in the query.
func (p *hotPath) hitURL() string {
	q := url.Values{"html": {"<h1>Hello</h1>"}, "cache": {"true"}, "access_key": {p.token}}
	return "/v1/screenshot?" + q.Encode()
}

// do serves one request and returns its status.
func (p *hotPath) do(method, target, key string) (int, []byte) {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.1:1234"
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// BenchmarkHotPath measures, through the whole HTTP handler, the three
// requests that never reach the browser:
//
//   - CacheHit: a GET of a 21 KB capture already in the cache;
//   - InvalidOption: a valid key with an option out of range (400);
//   - InvalidKey: a key that does not exist (401, then 429 once the
//     address's budget is spent).
//
// Run with -cpuprofile to see where the time goes.
func BenchmarkHotPath(b *testing.B) {
	p := newHotPath(b)
	if code, body := p.do(http.MethodGet, p.hitURL(), ""); code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", code, body)
	}
	run := func(b *testing.B, method, target, key string, want ...int) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code, body := p.do(method, target, key)
				if code != want[0] && (len(want) < 2 || code != want[1]) {
					b.Errorf("%s %s: %d %s", method, target, code, body)
					return
				}
			}
		})
	}
	b.Run("CacheHit", func(b *testing.B) {
		before := p.renderer.renders.Load()
		run(b, http.MethodGet, p.hitURL(), "", http.StatusOK)
		if n := p.renderer.renders.Load() - before; n != 0 {
			b.Errorf("%d renders during cache hits", n)
		}
	})
	b.Run("InvalidOption", func(b *testing.B) {
		run(b, http.MethodGet, "/v1/screenshot?html=x&width=-5", p.token, http.StatusBadRequest)
	})
	b.Run("InvalidKey", func(b *testing.B) {
		run(b, http.MethodGet, "/v1/screenshot?html=x", "nokey.nosecret", http.StatusUnauthorized, http.StatusTooManyRequests)
	})
	// The same hit over a real connection: what net/http adds, and what
	// the handler costs beside it.
	b.Run("CacheHitHTTP", func(b *testing.B) {
		srv := httptest.NewServer(p.handler)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
		b.SetParallelism(16) // 32 clients on 2 CPUs
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(srv.URL + p.hitURL())
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("hit over HTTP: %d", resp.StatusCode)
					return
				}
			}
		})
	})
	b.Run("Bare", func(b *testing.B) {
		// The floor: a handler that writes the same bytes.
		data := p.renderer.data
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(data)
		})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec := httptest.NewRecorder()
				bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				_, _ = io.Copy(io.Discard, rec.Body)
			}
		})
	})
}
