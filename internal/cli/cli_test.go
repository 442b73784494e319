package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/cli"
	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/waittest"
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
func run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pageshot %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestServeBinary runs the real binary: on its first start it prints one
// API key, logs its address, serves a capture to that key, and exits 0 on
// SIGTERM. Beside it, keys create, list, revoke, usage and migrate work
// on the same store; a revoked key is refused by the running server; no
// secret reaches the log, keys list or an error body.
func TestServeBinary(t *testing.T) {
	bin := binary(t)
	srv := page(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, bin, "--data-dir", dataDir, "--log-level", "debug")
	cmd, base, stdout, logs := p.cmd, p.base, p.stdout, p.logs
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

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds pageshot once for the tests that run it.
func binary(t testing.TB) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pageshot-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "pageshot")
		if out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/pageshot").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// serveProc is a running `pageshot serve`.
type serveProc struct {
	cmd    *exec.Cmd
	base   string
	stdout *waittest.Buffer
	logs   *waittest.Buffer
}

func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	return startServeUnder(t, nil, bin, args...)
}

// startServeUnder runs serve through a wrapper command (such as unshare),
// when wrapper is not empty.
func startServeUnder(t *testing.T, wrapper []string, bin string, args ...string) *serveProc {
	t.Helper()
	argv := append(append(append([]string(nil), wrapper...), bin, "serve", "--addr", "127.0.0.1:0"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PAGESHOT_EGRESS_ALLOW=127.0.0.1/32")
	p := &serveProc{cmd: cmd, stdout: &waittest.Buffer{}, logs: &waittest.Buffer{}}
	cmd.Stdout = p.stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case p.base = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatalf("no listening line: %s", p.logs.String())
	}
	return p
}

type jobState struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	Items     []struct {
		URL    string `json:"url"`
		Status string `json:"status"`
	} `json:"items"`
}

// do sends a request to serve with key as its bearer token (body may be
// empty) and returns the answer, whose body the caller closes.
func (p *serveProc) do(t *testing.T, method, path, key, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (p *serveProc) job(t *testing.T, key, id string) jobState {
	t.Helper()
	res := p.do(t, http.MethodGet, "/v1/jobs/"+id, key, "")
	defer res.Body.Close()
	var j jobState
	if err := json.NewDecoder(res.Body).Decode(&j); err != nil || res.StatusCode != 200 {
		t.Fatalf("job: %d %v", res.StatusCode, err)
	}
	return j
}

// key returns the API key that the first start of serve printed.
func (p *serveProc) key(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no key printed: %s", p.stdout.String())
	}
	return m[1]
}

// submitJob posts a job (body is the request's JSON) and returns it as
// accepted.
func (p *serveProc) submitJob(t *testing.T, key, body string) jobState {
	t.Helper()
	res := p.do(t, http.MethodPost, "/v1/jobs", key, body)
	defer res.Body.Close()
	var j jobState
	json.NewDecoder(res.Body).Decode(&j)
	if res.StatusCode != 202 {
		t.Fatalf("submit: %d", res.StatusCode)
	}
	return j
}

// waitJob polls the job id until it is done and returns it; past within it
// fails the test, saying what did not happen.
func (p *serveProc) waitJob(t *testing.T, key, id string, within time.Duration, what string) jobState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := p.job(t, key, id)
		if j.Status == "done" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v\n%s", what, j, p.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestJobSurvivesKill: serve is killed (SIGKILL) in the middle of a job and
// started again on the same data directory; the job finishes with no item
// lost or done twice, and quota charged once per item.
func TestJobSurvivesKill(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testJobSurvivesKill(t, nil) })
	t.Run("postgres", func(t *testing.T) { testJobSurvivesKill(t, []string{"--database-url", pgtest.URL(t)}) })
}

func testJobSurvivesKill(t *testing.T, store []string) {
	bin := binary(t)
	var (
		mu   sync.Mutex
		hits = map[string]int{}
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Query().Get("n")]++
		mu.Unlock()
		time.Sleep(700 * time.Millisecond)
		io.WriteString(w, `<html><body style="background:#09c">page</body></html>`)
	}))
	t.Cleanup(target.Close)

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	config := filepath.Join(dir, "pageshot.yaml")
	os.WriteFile(config, []byte("plans:\n  default:\n    rate_per_minute: 100000\n"), 0o600)
	args := append([]string{"--data-dir", dataDir, "--config", config, "--concurrency", "2", "--job-timeout", "8s", "--job-rescue-after", "9s"}, store...)
	first := startServe(t, bin, args...)
	key := first.key(t)

	const n = 20
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"url":"%s/?n=%d","viewport_width":300,"viewport_height":200}`, target.URL, i))
	}
	j := first.submitJob(t, key, `{"items":[`+strings.Join(items, ",")+`]}`)

	deadline := time.Now().Add(time.Minute)
	for first.job(t, key, j.ID).Succeeded < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the job did not progress")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	mu.Lock()
	hitsBefore := map[string]int{}
	for k, v := range hits {
		hitsBefore[k] = v
	}
	mu.Unlock()

	second := startServe(t, bin, args...)
	if strings.Contains(second.stdout.String(), "API key:") {
		t.Error("the restart created another first key")
	}
	j = second.waitJob(t, key, j.ID, 2*time.Minute, "the job did not finish after the restart")
	if j.Succeeded != n || j.Failed != 0 {
		t.Errorf("after the restart: %d succeeded, %d failed, want %d and 0: %+v", j.Succeeded, j.Failed, n, j)
	}
	mu.Lock()
	for i := range n {
		k := strconv.Itoa(i)
		// An item in flight at the kill is captured again; an item that had
		// succeeded never is.
		if hits[k] == 0 || hits[k] > hitsBefore[k]+1 || (hitsBefore[k] > 0 && hits[k] > 2) {
			t.Errorf("item %d: fetched %d times (%d before the kill)", i, hits[k], hitsBefore[k])
		}
	}
	mu.Unlock()
	var rows []struct {
		Used     int64 `json:"used"`
		InFlight int64 `json:"in_flight"`
	}
	out := run(t, bin, append([]string{"usage", "--json", "--data-dir", dataDir}, store...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Used != n {
		t.Errorf("charged: %s, want %d captures", out, n)
	}
}

// batchSite serves two pages, and a 404.
func batchSite(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `<html><body style="background:#0a0">`+r.URL.Path+`</body></html>`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func batchFile(t *testing.T, site string) string {
	path := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(path, []byte("# pages\n"+site+"/one\n\n"+site+"/two\n"+site+"/missing\nhttp://nonexistent.invalid/\nftp://example.com/\n"), 0o644)
	return path
}

// checkBatch asserts the files and the summary of a batch of batchFile.
func checkBatch(t *testing.T, out, stdout string) {
	t.Helper()
	for _, name := range []string{"0001-127.0.0.1-one.png", "0002-127.0.0.1-two.png"} {
		matches, _ := filepath.Glob(filepath.Join(out, strings.Replace(name, "127.0.0.1", "127.0.0.1-*", 1)))
		if len(matches) != 1 {
			t.Errorf("no %s in %s", name, out)
			continue
		}
		f, _ := os.Open(matches[0])
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 640 {
			t.Errorf("%s: %v %d", matches[0], err, cfg.Width)
		}
	}
	for _, want := range []string{"2 captured, 3 failed", "host_returned_error", "name_not_resolved", "url_blocked", "line 5", "line 7"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}

func TestBatchLocal(t *testing.T) {
	site := batchSite(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"pageshot", "batch", batchFile(t, site.URL), "-o", out, "--egress-allow", "127.0.0.1/32", "--width", "640", "--height", "400"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1 (some failed): %s", code, stderr.String())
	}
	checkBatch(t, out, stdout.String())
}

func TestBatchServer(t *testing.T) {
	site := batchSite(t)
	srv := startServe(t, binary(t), "--data-dir", filepath.Join(t.TempDir(), "data"))
	key := srv.key(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"pageshot", "batch", batchFile(t, site.URL), "-o", out, "--server", srv.base, "--key", key, "--width", "640"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1: %s", code, stderr.String())
	}
	checkBatch(t, out, stdout.String())
}
