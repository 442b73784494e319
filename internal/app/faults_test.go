package app_test

import (
	"encoding/json"
	"errors"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/browser"
	"github.com/pageshot/pageshot/internal/waittest"
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
	// A browser that answers is left alone.
	deadline := time.Now().Add(30 * time.Second)
	for s.app.Pool().Stats().Probes < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.app.Pool().Stats(); st.Probes < 2 || st.Hangs != 0 || s.app.Pool().PID() != pid {
		t.Fatalf("before the freeze: %+v, pid %d → %d; want probes answered and no hang", st, pid, s.app.Pool().PID())
	}

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
	deadline = time.Now().Add(30 * time.Second)
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
	if !gone(pid) {
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

// rendererRSS returns the largest resident memory, in bytes, of the
// renderer processes under the browser process root.
func rendererRSS(root int) int64 {
	var most int64
	for _, r := range browser.Renderers(root) {
		most = max(most, r.RSS)
	}
	return most
}

// TestMemoryCap: a page that keeps allocating memory outside the
// JavaScript heap (array buffers, which V8's heap limit does not count) is
// ended when its renderer passes the cap, with page_too_large (not
// retryable); a capture rendering beside it is unharmed, and no renderer
// grows far past the cap.
func TestMemoryCap(t *testing.T) {
	const limit = 256 << 20
	tg := newTarget(t)
	bloat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 8 MiB every 20 ms, each byte touched so that it is resident.
		io.WriteString(w, `<!doctype html><html><body><script>
const keep = []; (function grow() { keep.push(new Uint8Array(8 << 20).fill(1)); setTimeout(grow, 20) })()
</script></body></html>`)
	}))
	t.Cleanup(bloat.Close)
	s := startServer(t, func(c *app.Config) { c.MaxRendererMemory = limit })
	browserPID := s.app.Pool().PID()

	var most atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := rendererRSS(browserPID); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	big := make(chan *response, 1)
	go func() {
		big <- s.post(t, map[string]any{"url": bloat.URL, "wait_until": "load", "delay": 10000, "timeout": 30})
	}()
	// A capture beside it, started once the hungry page is growing.
	deadline := time.Now().Add(20 * time.Second)
	for most.Load() < 64<<20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	img := wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	if !near(img.At(150, 100), color.RGBA{0, 0, 255, 255}, 8) || !near(img.At(600, 20), color.RGBA{204, 0, 0, 255}, 8) {
		t.Errorf("the capture beside the hungry page is not the test page")
	}
	r := <-big
	close(stop)
	<-sampled
	p := wantProblem(t, r, 422, "page_too_large")
	if *p.Retryable {
		t.Error("page_too_large for memory is retryable")
	}
	mustContain(t, p.Detail, "memory")
	if got := s.app.Pool().Stats().MemoryKills; got != 1 {
		t.Errorf("memory kills = %d, want 1", got)
	}
	mustContain(t, string(s.get(t, "/metrics").body), "pageshot_renderer_memory_kills_total 1")
	// The cap is checked every 100 ms; the page grows 40 MiB in that time.
	if n := most.Load(); n > limit+128<<20 {
		t.Errorf("a renderer reached %d MiB, cap %d MiB", n>>20, limit>>20)
	} else {
		t.Logf("largest renderer: %d MiB (cap %d MiB)", n>>20, limit>>20)
	}
	if s.app.Pool().PID() != browserPID {
		t.Error("the browser was restarted; only the renderer should end")
	}
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
}

// fill writes zeros to path until the disk has at most leave bytes free
// (leave 0: until the disk is full).
func fill(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		if free <= leave {
			return
		}
		n := min(int64(len(chunk)), free-leave)
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFull puts the data directory on a tiny tmpfs and fills it: first
// below --min-free-disk (not ready, stored captures refused with
// storage_error, plain captures still served), then to the last byte
// (captures answer 503 service_unavailable with Retry-After); never a 500.
// Freeing the space brings everything back.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the data dir (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	tg := newTarget(t)
	const keep = 4 << 20
	s := startServer(t, func(c *app.Config) {
		c.DataDir = filepath.Join(dir, "data")
		c.MinFreeDisk = keep
	})
	ready := func() int {
		res, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	never500 := func(r *response) {
		t.Helper()
		if r.StatusCode >= 500 && r.StatusCode != 502 && r.StatusCode != 503 {
			t.Fatalf("answer %d: %s", r.StatusCode, r.body)
		}
		if r.StatusCode == 500 {
			t.Fatalf("internal error: %s", r.body)
		}
	}
	wantImage(t, s.post(t, map[string]any{"url": tg.URL, "store": true}), "image/png")
	if ready() != 200 {
		t.Fatal("not ready before the disk filled")
	}

	// Under the kept minimum: stored captures fail first, plain ones go on.
	fill(t, filepath.Join(dir, "filler-1"), keep/2)
	if got := ready(); got != 503 {
		t.Errorf("/readyz = %d with the disk nearly full, want 503", got)
	}
	mustContain(t, string(s.get(t, "/metrics").body), "pageshot_data_disk_low 1")
	r := s.post(t, map[string]any{"url": tg.URL, "store": true})
	never500(r)
	p := wantProblem(t, r, 502, "storage_error")
	if !*p.Retryable {
		t.Error("storage_error is not retryable")
	}
	img := wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	if !near(img.At(150, 100), color.RGBA{0, 0, 255, 255}, 8) {
		t.Error("the capture on a nearly full disk is not the page")
	}

	// Full: the ledger cannot be written; the answer says so and when to
	// come back.
	fill(t, filepath.Join(dir, "filler-2"), 0)
	for _, opts := range []map[string]any{{"url": tg.URL}, {"url": tg.URL, "store": true}} {
		r := s.post(t, opts)
		never500(r)
		p := wantProblem(t, r, 503, "service_unavailable")
		if p.RetryAfter < 1 || r.Header.Get("Retry-After") == "" || !*p.Retryable {
			t.Errorf("full disk: %s, want Retry-After", r.body)
		}
		mustContain(t, p.Detail, "disk is full")
	}
	if got := ready(); got != 503 {
		t.Errorf("/readyz = %d with the disk full, want 503", got)
	}

	// Room again: everything works, with no restart.
	os.Remove(filepath.Join(dir, "filler-1"))
	os.Remove(filepath.Join(dir, "filler-2"))
	if got := ready(); got != 200 {
		t.Errorf("/readyz = %d after freeing space, want 200", got)
	}
	mustContain(t, string(s.get(t, "/metrics").body), "pageshot_data_disk_low 0")
	wantImage(t, s.post(t, map[string]any{"url": tg.URL, "store": true}), "image/png")
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
}

// statusField returns a field of /proc/PID/status, "" when unreadable.
func statusField(pid int, name string) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestSandbox: pageshot started as root runs Chromium as the unprivileged
// browser user, every Chromium process runs as that user, and the
// renderers run in Chromium's sandbox (their own user namespace, under a
// seccomp filter); /readyz says so.
func TestSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the sandbox test starts pageshot as root; run it as root")
	}
	u, err := user.Lookup("pageshot-chrome")
	if err != nil {
		t.Skip("no user pageshot-chrome: run scripts/setup.sh as root")
	}
	tg := newTarget(t)
	s := startServer(t, nil)
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	if sb := s.app.Pool().Sandbox(); !sb.On || sb.User != "pageshot-chrome" {
		t.Fatalf("sandbox %+v, want on as pageshot-chrome", sb)
	}
	// Keep a page open while looking, so that a renderer exists.
	busy := make(chan *response, 1)
	go func() { busy <- s.post(t, map[string]any{"url": tg.URL + "/slow?d=3s"}) }()
	root := s.app.Pool().PID()
	self, _ := os.Readlink("/proc/self/ns/user")
	var procs, renderers int
	deadline := time.Now().Add(20 * time.Second)
	for renderers == 0 && time.Now().Before(deadline) {
		procs, renderers = 0, 0
		rs := browser.Renderers(root)
		for _, pid := range descendants("chrom") {
			if !isUnder(pid, root) {
				continue
			}
			uids := strings.Fields(statusField(pid, "Uid"))
			if len(uids) == 0 {
				continue // gone meanwhile
			}
			procs++
			for _, id := range uids {
				if id != u.Uid {
					t.Errorf("Chromium process %d runs with uids %v, want all %s", pid, uids, u.Uid)
					break
				}
			}
			if !slices.ContainsFunc(rs, func(r browser.RendererProcess) bool { return r.PID == pid }) {
				continue
			}
			renderers++
			if got := statusField(pid, "Seccomp"); got != "2" {
				t.Errorf("renderer %d: Seccomp %q, want 2 (a filter)", pid, got)
			}
			if ns, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns/user")); ns == "" || ns == self {
				t.Errorf("renderer %d shares the server's user namespace (%s)", pid, ns)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if renderers == 0 {
		t.Fatalf("no renderer found among %d Chromium processes", procs)
	}
	t.Logf("%d Chromium processes as %s, %d sandboxed renderers", procs, u.Username, renderers)
	wantImage(t, <-busy, "image/png")
	var ready struct {
		Status  string `json:"status"`
		Sandbox string `json:"browser_sandbox"`
	}
	if err := json.Unmarshal(s.get(t, "/readyz").body, &ready); err != nil || ready.Sandbox != "on (user pageshot-chrome)" {
		t.Errorf("/readyz: %+v %v, want browser_sandbox on", ready, err)
	}
}

// TestSandboxOffSaysSo: when the sandbox cannot run (here: started as
// root with a browser user that does not exist), captures still work and
// /readyz says that the sandbox is off, and why.
func TestSandboxOffSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) { c.ChromeUser = "no-such-user-pageshot" })
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	var ready map[string]string
	if err := json.Unmarshal(s.get(t, "/readyz").body, &ready); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ready["browser_sandbox"], "off (user root)")
	mustContain(t, ready["browser_sandbox"], `"no-such-user-pageshot" does not exist`)
}

// TestSandboxRefused: when Chromium cannot start its sandbox (as on a
// kernel that refuses unprivileged user namespaces, emulated here by a
// launcher that fails like Chromium does unless given --no-sandbox), the
// browser starts without it, captures work, and the log and /readyz say
// that the sandbox is off and why.
func TestSandboxRefused(t *testing.T) {
	chrome, err := browser.FindChrome()
	if err != nil {
		t.Fatal(err) // every test here captures with Chromium
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the browser user runs it
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	launcher := filepath.Join(dir, "chromium")
	script := "#!/bin/sh\ncase \" $* \" in *\" --no-sandbox \"*) exec " + chrome + " \"$@\";; esac\n" +
		"echo 'No usable sandbox! (emulated: the kernel refuses user namespaces)' >&2\nexit 1\n"
	if err := os.WriteFile(launcher, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs waittest.Buffer
	tg := newTarget(t)
	s := startServer(t, func(c *app.Config) {
		c.ChromePath = launcher
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	wantImage(t, s.post(t, map[string]any{"url": tg.URL}), "image/png")
	var ready map[string]string
	if err := json.Unmarshal(s.get(t, "/readyz").body, &ready); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ready["browser_sandbox"], "off (user ")
	mustContain(t, ready["browser_sandbox"], "did not start with its sandbox")
	mustContain(t, logs.String(), "the browser runs WITHOUT its sandbox")
	if sb := s.app.Pool().Sandbox(); sb.On {
		t.Errorf("sandbox %+v reported on", sb)
	}
}
