package cli_test

import (
	"bytes"
	"errors"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/browser"
	"github.com/pageshot/pageshot/internal/proc"
)

// TestPID1ReapsOrphans runs the real binary as PID 1 of a new PID
// namespace, as in a container without an init, and kills its browser
// three times: the orphans Chromium leaves each time are reaped, so no
// <defunct> process remains, and captures go on.
func TestPID1ReapsOrphans(t *testing.T) {
	if out, err := exec.Command("unshare", "-p", "-f", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a PID namespace here (unshare -p -f --mount-proc: %v: %s)", err, bytes.TrimSpace(out))
	}
	bin := binary(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body style="margin:0;background:#0000ff"></body></html>`)
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	config := filepath.Join(dir, "pageshot.yaml")
	os.WriteFile(config, []byte("plans:\n  default:\n    rate_per_minute: 100000\n"), 0o600)
	// --kill-child ends the namespace (and with it every process in it)
	// when the test kills unshare.
	p := startServeUnder(t, []string{"unshare", "-p", "-f", "--mount-proc", "--kill-child"}, bin,
		"--data-dir", filepath.Join(dir, "data"), "--config", config, "--concurrency", "2")
	key := p.key(t)

	// pageshot is unshare's child, PID 1 inside its namespace.
	var init int
	all, err := proc.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range all {
		if q.PPID == p.cmd.Process.Pid {
			init = q.PID
		}
	}
	status, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(init), "status"))
	if !regexp.MustCompile(`(?m)^NSpid:\s+\d+\s+1$`).Match(status) {
		t.Fatalf("pageshot (%d) is not PID 1 of its namespace: %s", init, status)
	}

	capture := func() {
		t.Helper()
		res := p.do(t, http.MethodPost, "/v1/screenshot", key, `{"url":"`+target.URL+`","viewport_width":300,"viewport_height":200}`)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("capture: %d %s", res.StatusCode, body)
		}
		img, _, err := image.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if r, g, b, _ := img.At(150, 100).RGBA(); r>>8 > 10 || g>>8 > 10 || b>>8 < 245 {
			t.Fatalf("capture is not the blue page: %d %d %d", r>>8, g>>8, b>>8)
		}
	}
	capture()
	for round := range 3 {
		killed := browser.BrowserProcess(init)
		if killed == 0 {
			t.Fatalf("round %d: no browser under pageshot", round)
		}
		if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if b := browser.BrowserProcess(init); b != 0 && b != killed {
				if res, err := http.Get(p.base + "/readyz"); err == nil {
					res.Body.Close()
					if res.StatusCode == 200 {
						break
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the browser was not replaced: %s", round, p.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		capture()
	}

	var zombies []proc.Process
	deadline := time.Now().Add(15 * time.Second)
	for {
		zombies = zombies[:0]
		all, _ := proc.List()
		for _, q := range proc.Descendants(all, init) {
			if q.Zombie() {
				zombies = append(zombies, q)
			}
		}
		if len(zombies) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(zombies) > 0 {
		t.Errorf("<defunct> processes left under pageshot as PID 1: %+v", zombies)
	}
}

// TestDrainExitStatus: SIGTERM with a capture in flight longer than
// --shutdown-timeout answers it 503 service_unavailable and exits 3; the
// exit status says that the drain did not complete.
func TestDrainExitStatus(t *testing.T) {
	bin := binary(t)
	arrived := make(chan struct{}, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-time.After(time.Minute):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(target.Close)
	p := startServe(t, bin, "--data-dir", filepath.Join(t.TempDir(), "data"), "--shutdown-timeout", "1s")
	key := p.key(t)
	type answer struct {
		status int
		body   string
		retry  string
	}
	answers := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/screenshot", strings.NewReader(`{"url":"`+target.URL+`","timeout":50}`))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answers <- answer{body: err.Error()}
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		answers <- answer{res.StatusCode, string(body), res.Header.Get("Retry-After")}
	}()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the capture did not reach the target")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	a := <-answers
	if a.status != 503 || !strings.Contains(a.body, `"service_unavailable"`) || a.retry == "" {
		t.Errorf("capture cut by the shutdown: %d %s (Retry-After %q), want 503 service_unavailable with Retry-After", a.status, a.body, a.retry)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("exit: %v, want status 3", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit")
	}
}
