package app_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/proc"
	"github.com/pageshot/pageshot/internal/waittest"
)

// descendants returns the pids of every live process under this test
// process whose command contains name, zombies included.
func descendants(name string) []int {
	all, _ := proc.List()
	var out []int
	for _, p := range proc.Descendants(all, os.Getpid()) {
		if strings.Contains(strings.ToLower(p.Comm), name) {
			out = append(out, p.PID)
		}
	}
	return out
}

func waitReady(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("server did not become ready")
}

// TestBrowserKilled kills Chromium with SIGKILL while captures run: those
// fail with a retryable error, the next ones succeed, and no Chromium
// process is left once the server stops.
func TestBrowserKilled(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, nil)
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")

	var wg sync.WaitGroup
	results := make(chan *response, 4)
	for range 4 {
		wg.Go(func() { results <- s.post(t, map[string]any{"url": tg.URL + "/slow?d=3s", "timeout": 20}) })
	}
	time.Sleep(1500 * time.Millisecond) // the captures are navigating
	pid := s.app.Pool().PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.StatusCode == http.StatusOK {
			continue // a capture that had not started yet may run on the new browser
		}
		var p problemDoc
		_ = json.Unmarshal(r.body, &p)
		if p.Retryable == nil || !*p.Retryable {
			t.Errorf("capture during the crash: %d %s, want a retryable error", r.StatusCode, r.body)
		}
	}
	waitReady(t, s)
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	if s.app.Pool().PID() == pid {
		t.Error("the browser was not replaced")
	}
	if got := s.app.Pool().Stats().Crashes; got != 1 {
		t.Errorf("crashes = %d, want 1", got)
	}
	metrics := s.get(t, "/metrics")
	mustContain(t, string(metrics.body), `pageshot_browser_restarts_total{reason="crash"} 1`)

	if err := s.app.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(descendants("chrom")) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// The shared server may run in this process; it has its own browser.
	left := descendants("chrom")
	if sharedApp != nil {
		left = nil
		for _, pid := range descendants("chrom") {
			if !isUnder(pid, sharedApp.Pool().PID()) {
				left = append(left, pid)
			}
		}
	}
	if len(left) > 0 {
		t.Errorf("Chromium processes left after Stop: %v", left)
	}
}

// isUnder reports whether pid is root or one of its descendants.
func isUnder(pid, root int) bool {
	all, _ := proc.List()
	return pid == root || slices.ContainsFunc(proc.Descendants(all, root), func(p proc.Process) bool { return p.PID == pid })
}

// gone waits up to 10 seconds for the process pid to stop existing, and
// says whether it did.
func gone(pid int) bool {
	return waittest.Poll(10*time.Second, 50*time.Millisecond, func() bool { return syscall.Kill(pid, 0) != nil })
}

// TestRendererCrash makes the renderer run out of JavaScript heap: the
// capture answers page_too_large, not retryable (the same page would take
// the same memory again), and the next capture works.
func TestRendererCrash(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) { c.RendererHeapLimit = 32 << 20 })
	p := wantProblem(t, s.post(t, map[string]any{"url": tg.URL + "/oom", "timeout": 30}), 422, "page_too_large")
	if *p.Retryable {
		t.Error("a page that runs out of memory is retryable")
	}
	mustContain(t, p.Detail, "heap")
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
}

// TestQueue fills the single slot and the queue of a small server.
func TestQueue(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) {
		c.Concurrency = 1
		c.QueueSize = 1
		c.QueueTimeout = 2 * time.Second
	})
	busy := make(chan *response, 1)
	go func() { busy <- s.post(t, map[string]any{"url": tg.URL + "/slow?d=5s", "timeout": 15}) }()
	time.Sleep(500 * time.Millisecond)

	// One waits in the queue and times out there; one finds the queue full.
	queued := make(chan *response, 1)
	go func() { queued <- s.post(t, map[string]any{"url": tg.URL}) }()
	time.Sleep(200 * time.Millisecond)
	full := s.post(t, map[string]any{"url": tg.URL})
	p := wantProblem(t, full, 503, "service_unavailable")
	if p.RetryAfter < 1 || full.Header.Get("Retry-After") == "" {
		t.Errorf("queue full without Retry-After: %s", full.body)
	}
	p = wantProblem(t, <-queued, 503, "service_unavailable")
	mustContain(t, p.Detail, "queue timeout")
	wantImage(t, <-busy, "image/png")
}

// TestGracefulShutdown stops the server while a capture runs: the capture
// completes, and new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, nil)
	done := make(chan *response, 1)
	go func() { done <- s.post(t, map[string]any{"url": tg.URL + "/slow?d=2s"}) }()
	time.Sleep(700 * time.Millisecond)
	if err := s.app.Stop(); err != nil {
		t.Fatal(err)
	}
	wantImage(t, <-done, "image/png")
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Error("server still answers after Stop")
	}
}

// TestRecycle restarts the browser after RecycleAfter captures, without
// failing a capture.
func TestRecycle(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) { c.RecycleAfter = 2 })
	first := s.app.Pool().PID()
	for range 2 {
		wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.app.Pool().Stats().Restarts == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	if s.app.Pool().PID() == first || s.app.Pool().Stats().Restarts != 1 || s.app.Pool().Stats().Crashes != 0 {
		t.Errorf("pid %d → %d, stats %+v: want one restart and no crash", first, s.app.Pool().PID(), s.app.Pool().Stats())
	}
	// The retired browser is gone.
	if !gone(first) {
		t.Errorf("the retired browser %d still runs", first)
	}
}

// TestLimits: a page that downloads too much, an image with too many
// pixels, and a page that never stops running JavaScript.
func TestLimits(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) {
		c.Concurrency = 1
		c.MaxPageBytes = 1 << 20
	})
	wantProblem(t, s.post(t, map[string]any{"url": tg.URL + "/heavy", "wait_until": "networkidle"}), 422, "page_too_large")
	wantProblem(t, s.post(t, map[string]any{"url": tg.URL, "viewport_width": 5000, "viewport_height": 5000, "device_scale_factor": 4}), 422, "page_too_large")
	// An infinite loop, or of alerts, holds the only slot until its
	// timeout, no longer.
	for _, path := range []string{"/spin", "/alerts"} {
		p := wantProblem(t, s.post(t, map[string]any{"url": tg.URL + path, "timeout": 3}), 504, "timeout")
		if p.Phase == "" {
			t.Errorf("%s: timeout without phase", path)
		}
		wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	}
}

// TestStartFailuresUnwind: a taken port fails before anything else
// starts; a store that cannot be reached fails within the start-up
// timeout; a browser that does not start fails Start. Each time what
// had started is stopped again: the port is free and no Chromium is left.
func TestStartFailuresUnwind(t *testing.T) {
	browsers := len(descendants("chrom"))
	freePort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	portFree := func(addr string) {
		t.Helper()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("the port %s is still bound after a failed start: %v", addr, err)
			return
		}
		ln.Close()
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, err := app.New(app.Config{Addr: taken.Addr().String(), DataDir: dataDir}); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("a taken port: %v", err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("the data dir was made before the port was checked: %v", err)
	}

	addr := freePort()
	start := time.Now()
	_, err = app.New(app.Config{Addr: addr, DataDir: dataDir, StartupTimeout: 3 * time.Second,
		DatabaseURL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable"})
	if err == nil || !strings.Contains(err.Error(), "open store") {
		t.Fatalf("an unreachable database: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the start-up took %v despite its 3 s timeout", d)
	}
	portFree(addr)

	addr = freePort()
	a, err := app.New(app.Config{Addr: addr, DataDir: dataDir, ChromePath: "/bin/false", Announce: io.Discard})
	if err == nil {
		err = a.Start(t.Context())
	}
	if err == nil {
		a.Stop()
		t.Fatal("a browser that does not start: the server started")
	}
	portFree(addr)
	if n := len(descendants("chrom")); n > browsers {
		t.Errorf("%d Chromium processes left after a failed start", n-browsers)
	}
}
