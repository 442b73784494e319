package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/redistest"
)

// target is the site the tests capture, served on 127.0.0.1.
type target struct {
	*httptest.Server
	mu      sync.Mutex
	cookies []string       // Cookie headers received on /whoami
	hits    map[string]int // requests by path and query
}

// hitsOf returns how many requests asked for pathQuery.
func (t *target) hitsOf(pathQuery string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hits[pathQuery]
}

func (t *target) cookieHeaders() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.cookies...)
}

const pageHTML = `<!doctype html><html><head><title>Test page</title>
<style>html,body{margin:0;background:#cc0000} #box{position:absolute;left:100px;top:50px;width:200px;height:100px;background:#0000ff}</style>
</head><body><div id="box"></div><p style="color:white;margin-top:300px">Hello secret-word 你好 😀</p></body></html>`

func newTarget(t *testing.T) *target {
	tg := &target{hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, pageHTML) })
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		// 503 the first time a query is asked for, the page after.
		tg.mu.Lock()
		n := tg.hits[r.URL.RequestURI()]
		tg.mu.Unlock()
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, pageHTML)
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		if r.URL.Query().Get("empty") == "" {
			fmt.Fprintf(w, "<h1>status %d</h1>", code)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		if d == 0 {
			d = time.Hour
		}
		select {
		case <-time.After(d):
			io.WriteString(w, pageHTML)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/embed", func(w http.ResponseWriter, r *http.Request) {
		// An <img> of the given src on a green page.
		fmt.Fprintf(w, `<!doctype html><html><body style="margin:0;background:#00ff00"><img src="%s" style="display:block;width:200px;height:100px"></body></html>`,
			html.EscapeString(r.URL.Query().Get("src")))
	})
	mux.HandleFunc("/tall", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body style="margin:0"><div style="height:3000px;background:#00cc00"></div><div style="height:3000px;background:#0000cc"></div></body></html>`)
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body><script>setTimeout(() => { const d = document.createElement("div"); d.id = "late"; d.textContent = "here"; document.body.append(d) }, 300)</script></body></html>`)
	})
	mux.HandleFunc("/setstate", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/", MaxAge: 3600})
		io.WriteString(w, `<!doctype html><html><body><script>localStorage.setItem("k", "v"); document.cookie = "jsc=1; path=/; max-age=3600"</script></body></html>`)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.cookies = append(tg.cookies, r.Header.Get("Cookie"))
		tg.mu.Unlock()
		io.WriteString(w, `<!doctype html><html><body><p id="state"></p><script>document.getElementById("state").textContent = "ls=" + localStorage.getItem("k") + " cookie=" + document.cookie</script></body></html>`)
	})
	mux.HandleFunc("/dialogs", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body style="background:#cc0000"><script>for (let i = 0; i < 20; i++) { alert("hi " + i); confirm("sure?") } window.open("/"); window.onbeforeunload = () => "stay"</script></body></html>`)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="x.bin"`)
		w.Write(bytes.Repeat([]byte{1}, 1024))
	})
	mux.HandleFunc("/heavy", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body><script>fetch("/blob").then(r => r.arrayBuffer())</script></body></html>`)
	})
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := bytes.Repeat([]byte{7}, 64<<10)
		for range 64 { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/alerts", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body><script>while (true) { alert("again") }</script></body></html>`)
	})
	mux.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body><script>while (true) {}</script></body></html>`)
	})
	mux.HandleFunc("/oom", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html><body><script>const a = []; for (;;) { a.push(new Array(1e6).fill(Math.random())) }</script></body></html>`)
	})
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/favicon.ico" {
			tg.mu.Lock()
			tg.hits[r.URL.RequestURI()]++
			tg.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// server is a real pageshot server on 127.0.0.1:0.
type server struct {
	app         *app.App
	url         string
	dataDir     string
	databaseURL string // "" for SQLite under dataDir
	// key is the first API key, which the server printed on its first
	// start; requests to /v1 send it unless they carry credentials.
	key string
}

// testPlans lifts the default plan's limits, which the many captures of
// the tests would otherwise reach; the tenancy tests set their own.
var testPlans = map[string]pageshot.Plan{
	pageshot.DefaultPlanName: {RatePerMinute: 1 << 20, MaxConcurrency: 1 << 10, MaxTimeout: 60 * time.Second},
}

// firstKey finds the key in what a first start printed.
func firstKey(t testing.TB, announced string) string {
	t.Helper()
	m := regexp.MustCompile(`API key:\s+(key_\S+)`).FindStringSubmatch(announced)
	if m == nil {
		t.Fatalf("no API key announced in %q", announced)
	}
	return m[1]
}

func startServer(t testing.TB, modify func(*app.Config)) *server {
	t.Helper()
	var announced bytes.Buffer
	cfg := app.Config{
		Addr:        "127.0.0.1:0",
		DataDir:     filepath.Join(t.TempDir(), "data"),
		EgressAllow: []string{"127.0.0.1/32"},
		Concurrency: 2,
		Plans:       testPlans,
		Announce:    &announced,
	}
	if modify != nil {
		modify(&cfg)
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop() })
	return &server{app: a, url: "http://" + a.Addr(), dataDir: cfg.DataDir, databaseURL: cfg.DatabaseURL, key: firstKey(t, announced.String())}
}

// onStores runs test on SQLite, then on PostgreSQL in a database of its
// own (at PAGESHOT_TEST_DATABASE_URL; skipped without it), then on
// PostgreSQL with the limits in Redis under a prefix of its own (at
// PAGESHOT_TEST_REDIS_URL; skipped without it). store sets a server's
// config to the store of the run.
func onStores(t *testing.T, test func(t *testing.T, store func(*app.Config))) {
	t.Run("sqlite", func(t *testing.T) { test(t, func(*app.Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		test(t, func(c *app.Config) { c.DatabaseURL = url })
	})
	t.Run("postgres+redis", func(t *testing.T) {
		url, redisURL := pgtest.URL(t), redistest.URL(t)
		prefix := redistest.Prefix(t, redisURL)
		test(t, func(c *app.Config) { c.DatabaseURL, c.RedisURL, c.RedisPrefix = url, redisURL, prefix })
	})
}

// openStore opens s's store beside the running server, as the CLI's
// commands do.
func (s *server) openStore(t testing.TB) app.Store {
	t.Helper()
	st, err := app.OpenStore(context.Background(), s.dataDir, s.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	sharedOnce sync.Once
	shared     *server
	sharedApp  *app.App
)

// sharedServer is one server for the tests that need nothing special.
func sharedServer(t *testing.T) *server {
	sharedOnce.Do(func() {
		var announced bytes.Buffer
		cfg := app.Config{
			Addr:        "127.0.0.1:0",
			DataDir:     filepath.Join(os.TempDir(), fmt.Sprintf("pageshot-test-%d", os.Getpid())),
			EgressAllow: []string{"127.0.0.1/32"},
			Concurrency: 2,
			Plans:       testPlans,
			Announce:    &announced,
		}
		cfg.Limits.MaxHTMLBytes = 64 << 10
		a, err := app.New(cfg)
		if err != nil {
			panic(err)
		}
		if err := a.Start(context.Background()); err != nil {
			panic(err)
		}
		sharedApp = a
		shared = &server{app: a, url: "http://" + a.Addr(), dataDir: cfg.DataDir, key: firstKey(t, announced.String())}
	})
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedApp != nil {
		_ = sharedApp.Stop()
		_ = os.RemoveAll(filepath.Join(os.TempDir(), fmt.Sprintf("pageshot-test-%d", os.Getpid())))
	}
	os.Exit(code)
}

// response is a read answer.
type response struct {
	*http.Response
	body []byte
}

// do sends req, with the server's key when it goes to /v1 without
// credentials of its own.
func (s *server) do(t testing.TB, req *http.Request) *response {
	t.Helper()
	q := req.URL.Query()
	if strings.HasPrefix(req.URL.Path, "/v1/") && req.Header.Get("Authorization") == "" && req.Header.Get("X-API-Key") == "" &&
		!q.Has("access_key") && !q.Has("signature") {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	return s.send(t, req)
}

// send sends req as it is.
func (s *server) send(t testing.TB, req *http.Request) *response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL.Path)
	}
	checkContract(t, req, res, body)
	return &response{res, body}
}

func (s *server) post(t testing.TB, body any) *response {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/screenshot", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return s.do(t, req)
}

func (s *server) get(t testing.TB, path string) *response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	return s.do(t, req)
}

// problemDoc is a decoded problem+json answer.
type problemDoc struct {
	Type               string `json:"type"`
	Title              string `json:"title"`
	Status             int    `json:"status"`
	Detail             string `json:"detail"`
	Code               string `json:"code"`
	Retryable          *bool  `json:"retryable"`
	RequestID          string `json:"request_id"`
	Errors             []struct{ Field, Message string }
	ReturnedStatusCode int    `json:"returned_status_code"`
	Phase              string `json:"phase"`
	Reason             string `json:"reason"`
	RetryAfter         int    `json:"retry_after"`
}

// wantProblem asserts that r is a problem+json with status and code, and
// returns it.
func wantProblem(t testing.TB, r *response, status int, code string) problemDoc {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body: %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.body)
	}
	if p.Code != code {
		t.Fatalf("code = %q, want %q; detail: %s", p.Code, code, p.Detail)
	}
	if p.Status != status || p.Type != "/docs/errors#"+code || p.Title == "" || p.Detail == "" || p.Retryable == nil {
		t.Errorf("incomplete problem: %s", r.body)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q does not match X-Request-Id %q", p.RequestID, r.Header.Get("X-Request-Id"))
	}
	if p.RetryAfter > 0 && r.Header.Get("Retry-After") != strconv.Itoa(p.RetryAfter) {
		t.Errorf("retry_after %d but Retry-After %q", p.RetryAfter, r.Header.Get("Retry-After"))
	}
	return p
}

// wantImage asserts a successful capture and decodes it.
func wantImage(t testing.TB, r *response, contentType string) image.Image {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", r.StatusCode, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		t.Fatalf("Content-Type = %q, want %q", ct, contentType)
	}
	img, _, err := image.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("decode %s: %v", contentType, err)
	}
	return img
}

// near reports whether c is within tol of want in every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v <= tol && v >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func wantSize(t testing.TB, img image.Image, w, h int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
