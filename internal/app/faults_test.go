package app_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
)

// TestFrozenBrowser stops Chromium with SIGSTOP: the watchdog notices
// within its interval, /readyz turns 503 until a new browser is up, the
// frozen one is killed and replaced, captures succeed again, and the
// restart is counted with reason hang.
func TestFrozenBrowser(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) { c.BrowserWatchdog = time.Second })
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	pid := s.app.Pool().PID()

	// Watch /readyz from the freeze on.
	var notReady atomic.Int64
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			if res, err := http.Get(s.url + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusServiceUnavailable {
					notReady.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(30 * time.Second)
	for (s.app.Pool().PID() == pid || !s.app.Pool().Ready()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stopWatch)
	<-watched
	if s.app.Pool().PID() == pid {
		t.Fatal("the frozen browser was not replaced")
	}
	if notReady.Load() == 0 {
		t.Error("/readyz never answered 503 while the browser was frozen")
	}
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	st := s.app.Pool().Stats()
	if st.Hangs != 1 || st.Crashes != 0 || st.RestartsBy["hang"] != 1 {
		t.Errorf("stats %+v: want one restart for a hang, no crash", st)
	}
	mustContain(t, string(s.get(t, "/metrics").body), `pageshot_browser_restarts_total{reason="hang"} 1`)
	// The frozen process is gone, not left stopped.
	deadline = time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("the frozen browser %d still exists", pid)
	}
}

// TestDrainExpired stops a server whose shutdown timeout is shorter than
// the captures in flight: they answer 503 service_unavailable, retryable
// with Retry-After (not connection_failed, which would blame the target),
// and Stop says the drain did not complete.
func TestDrainExpired(t *testing.T) {
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) { c.ShutdownTimeout = time.Second })
	results := make(chan *response, 2)
	for range 2 {
		go func() { results <- s.post(t, map[string]any{"url": tg.URL + "/slow?d=30s", "timeout": 40}) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for tg.hitsOf("/slow?d=30s") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if tg.hitsOf("/slow?d=30s") < 2 {
		t.Fatal("the captures did not reach the target")
	}
	err := s.app.Stop()
	if !errors.Is(err, app.ErrDrainExpired) {
		t.Errorf("Stop = %v, want ErrDrainExpired", err)
	}
	for range 2 {
		r := <-results
		p := wantProblem(t, r, 503, "service_unavailable")
		if !*p.Retryable || p.RetryAfter < 1 || r.Header.Get("Retry-After") == "" {
			t.Errorf("cut-off capture: %s, want retryable with Retry-After", r.body)
		}
	}
}
