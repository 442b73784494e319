package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

// run runs the binary with args and returns its stdout; a non-zero exit
// fails the test.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pageshot %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServeBinary runs the real binary: on its first start it prints one
// API key, logs its address, serves a capture to that key, and exits 0 on
// SIGTERM. Beside it, keys create, list, revoke, usage and migrate work
// on the same store; a revoked key is refused by the running server; no
// secret reaches the log, keys list or an error body.
func TestServeBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pageshot")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pageshot").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := page(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "debug")
	cmd.Env = append(os.Environ(), "PAGESHOT_EGRESS_ALLOW=127.0.0.1/32")
	var stdout, logs syncBuffer
	cmd.Stdout = &stdout
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
			logs.Write([]byte(sc.Text() + "\n"))
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
	m := regexp.MustCompile(`API key:\s+(\S+)\s+signing secret:\s+(\S+)\s+webhook secret:\s+(\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("the first start printed no key: %q", stdout.String())
	}
	first := m[1]
	secrets := []string{m[1], m[2], m[3]}

	post := func(key, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/screenshot", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := post(first, `{"url":"`+srv.URL+`","format":"webp"}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/webp" || !bytes.HasPrefix(body, []byte("RIFF")) {
		t.Errorf("capture: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("X-Quota-Limit") != "1000" || res.Header.Get("X-Quota-Remaining") != "999" || res.Header.Get("X-RateLimit-Limit") != "60" {
		t.Errorf("quota/rate headers of the default plan: %v", res.Header)
	}

	// keys create beside the running server.
	var created struct {
		ID            string `json:"id"`
		Key           string `json:"key"`
		SigningSecret string `json:"signing_secret"`
		WebhookSecret string `json:"webhook_secret"`
	}
	out := run(t, bin, "keys", "create", "--name", "ci", "--json", "--data-dir", dataDir)
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("keys create --json: %v: %s", err, out)
	}
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, f := range []string{"id", "key", "signing_secret", "webhook_secret", "plan"} {
		if s, _ := raw[f].(string); s == "" {
			t.Errorf("keys create --json lacks %s: %s", f, out)
		}
	}
	secrets = append(secrets, created.Key, created.SigningSecret, created.WebhookSecret)
	if res, body := post(created.Key, `{"url":"`+srv.URL+`","delay":-1}`); res.StatusCode != 400 {
		t.Errorf("new key, bad option: %d %s", res.StatusCode, body)
	}
	run(t, bin, "keys", "revoke", created.ID, "--data-dir", dataDir)
	res, body = post(created.Key, `{"url":"`+srv.URL+`"}`)
	if res.StatusCode != 401 || !strings.Contains(string(body), `"api_key_revoked"`) {
		t.Errorf("revoked key: %d %s", res.StatusCode, body)
	}
	// A wrong secret for a known id: the error must not echo what was sent.
	res, body = post(created.ID+".wrong-secret-"+created.SigningSecret, `{}`)
	if res.StatusCode != 401 || !strings.Contains(string(body), `"invalid_api_key"`) {
		t.Errorf("wrong secret: %d %s", res.StatusCode, body)
	}

	list := run(t, bin, "keys", "list", "--data-dir", dataDir)
	list += run(t, bin, "keys", "list", "--json", "--data-dir", dataDir)
	if !strings.Contains(list, created.ID) || !strings.Contains(list, "revoked") {
		t.Errorf("keys list: %s", list)
	}
	usage := run(t, bin, "usage", "--json", "--data-dir", dataDir)
	var rows []struct {
		ID   string
		Used int64
	}
	json.Unmarshal([]byte(usage), &rows)
	if len(rows) != 2 || rows[0].Used != 1 || rows[1].Used != 0 {
		t.Errorf("usage: %s", usage)
	}
	if out := run(t, bin, "migrate", "--data-dir", dataDir); !strings.Contains(out, "up to date") {
		t.Errorf("migrate: %s", out)
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

	// The secrets: never in the log, keys list or an error body. The
	// secret part alone is checked too, in case a key is logged split.
	for _, sec := range secrets {
		if len(sec) < 20 {
			t.Fatalf("a secret of %d characters", len(sec))
		}
		parts := []string{sec}
		if _, s, ok := strings.Cut(sec, "."); ok {
			parts = append(parts, s)
		}
		for _, p := range parts {
			for what, text := range map[string]string{"log": logs.String(), "keys list": list, "error bodies": string(body)} {
				if strings.Contains(text, p) {
					t.Errorf("a secret is in the %s", what)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "request failed") {
		t.Errorf("the log lacks the failed requests, so the check above saw nothing: %s", logs.String())
	}
	// A second start does not create another key.
	if out := run(t, bin, "keys", "list", "--json", "--data-dir", dataDir); strings.Count(out, `"id"`) != 2 {
		t.Errorf("keys after restart: %s", out)
	}
}
