package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/cli"
)

func page(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body style="background:#0a0"><h1>shot</h1></body></html>`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestShot(t *testing.T) {
	srv := page(t)
	out := filepath.Join(t.TempDir(), "x.png")
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"pageshot", "shot", srv.URL, "-o", out, "--width", "640", "--height", "480", "--egress-allow", "127.0.0.1/32"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 640 || cfg.Height != 480 {
		t.Errorf("%s: %dx%d %v", out, cfg.Width, cfg.Height, err)
	}
}

func TestShotErrors(t *testing.T) {
	srv := page(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{srv.URL}, "url_blocked"}, // loopback without --egress-allow
		{[]string{srv.URL, "--format", "gif", "--delay", "-1"}, "invalid_request"},
		{[]string{"http://nonexistent.invalid/"}, "name_not_resolved"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"pageshot", "shot", "-o", filepath.Join(t.TempDir(), "x.png")}, c.args...)
		if code := cli.Run(context.Background(), args, &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0", c.args)
		}
		if !strings.Contains(stderr.String(), "pageshot: "+c.want+": ") {
			t.Errorf("%v: stderr %q, want the code %s", c.args, stderr.String(), c.want)
		}
	}
}

func TestDefaultOutputName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	html := filepath.Join(dir, "card.html")
	os.WriteFile(html, []byte("<p>x</p>"), 0o644)
	if code := cli.Run(context.Background(), []string{"pageshot", "shot", "--html", html, "--format", "jpeg"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "card.jpg")); err != nil {
		t.Error(err)
	}
}

// TestServeBinary runs the real binary: it logs its address, serves a
// capture, and exits 0 on SIGTERM.
func TestServeBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pageshot")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pageshot").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := page(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data"))
	cmd.Env = append(os.Environ(), "PAGESHOT_EGRESS_ALLOW=127.0.0.1/32")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatal("no listening line")
	}
	res, err := http.Post(base+"/v1/screenshot", "application/json", strings.NewReader(`{"url":"`+srv.URL+`","format":"webp"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/webp" || !bytes.HasPrefix(body, []byte("RIFF")) {
		t.Errorf("capture: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("serve did not exit after SIGTERM")
	}
}
