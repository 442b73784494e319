package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// pageshot is the real pageshot server, started as a subprocess on a free
// port with a fresh data directory, and driven through POST /v1/screenshot.
type pageshot struct {
	srv     *serverProcess
	client  *http.Client
	key     string // sent as a bearer token when not empty
	dir     string // temporary; holds the data directory and the config
	version string // first line of `pageshot version`, or empty

	// keyNote says where the key comes from, for the report.
	keyNote string

	// cache asks for cache: true, so that after the first capture every
	// answer is a hit served from storage. A cache engine shares its
	// server with the pageshot engine, which owns it.
	cache bool
}

// cached returns an engine on the same server that asks for cached
// captures.
func (ps *pageshot) cached() *pageshot {
	c := *ps
	c.cache = true
	return &c
}

var _ engine = (*pageshot)(nil)

// benchPlanConfig is the config file given to the server when the tool
// creates its own key: a plan whose limits never throttle the benchmark
// (the default plan allows 60 requests a minute).
const benchPlanConfig = `# written by pageshot-bench
plans:
  bench:
    monthly_quota: 0
    rate_per_minute: 1000000
    max_concurrency: 64
    max_timeout: 120s
`

// startPageshot runs `bin serve --addr 127.0.0.1:0 --data-dir TMP
// --egress-allow 127.0.0.1/32`. With an empty chromePath the server picks
// its own browser, as it does for users; otherwise PAGESHOT_CHROME_PATH is
// set to chromePath. With an empty key it
// first tries `bin keys create` on a plan without limits (see
// provisionKey), and adds --config to serve when that worked. Server output
// is copied to echo when echo is not nil.
func startPageshot(ctx context.Context, bin, key, chromePath string, extra []string, echo io.Writer) (*pageshot, error) {
	if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pageshot binary %s not found: build it with `go build -o bin/pageshot ./cmd/pageshot` or set -bin", bin)
	}
	dir, err := os.MkdirTemp("", "pageshot-bench-server-")
	if err != nil {
		return nil, fmt.Errorf("start pageshot: %w", err)
	}
	ps := &pageshot{dir: dir, key: key, keyNote: "given by -key / PAGESHOT_BENCH_KEY"}
	dataDir := filepath.Join(dir, "data")
	var env []string
	if chromePath != "" {
		env = append(env, "PAGESHOT_CHROME_PATH="+chromePath)
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--egress-allow", "127.0.0.1/32"}, extra...)

	ps.version = strings.Join(outputLines(ctx, bin, env, "version"), ", ")
	if key == "" {
		cfgPath := filepath.Join(dir, "bench.yaml")
		k, err := provisionKey(ctx, bin, dataDir, cfgPath, env)
		switch {
		case err != nil:
			ps.keyNote = "none (" + err.Error() + ")"
		default:
			ps.key, ps.keyNote = k, "created by `pageshot keys create` on a plan without limits"
			args = append(args, "--config", cfgPath)
		}
	}

	if ps.srv, err = startServer(ctx, bin, args, env, echo); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the server is on loopback; no HTTP_PROXY in the way
	tr.MaxIdleConnsPerHost = 64
	tr.DisableCompression = true
	ps.client = &http.Client{Transport: tr}
	return ps, nil
}

// provisionKey creates an API key on a plan without limits in the data
// directory, with `bin keys create --name pageshot-bench --plan bench
// --json`, and returns the key. It returns an error when the binary has no
// such command yet, or answers something else than the documented JSON.
func provisionKey(ctx context.Context, bin, dataDir, cfgPath string, env []string) (string, error) {
	if err := os.WriteFile(cfgPath, []byte(benchPlanConfig), 0o600); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "keys", "create", "--name", "pageshot-bench", "--plan", "bench", "--json",
		"--data-dir", dataDir, "--config", cfgPath)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if msg, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n"); msg != "" {
				err = fmt.Errorf("%w: %s", err, msg)
			}
		}
		return "", fmt.Errorf("`pageshot keys create` failed: %v", err)
	}
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Key == "" {
		return "", errors.New("`pageshot keys create --json` printed no key")
	}
	return created.Key, nil
}

// outputLines runs bin with args and returns the lines it prints, nil on
// failure.
func outputLines(ctx context.Context, bin string, env []string, args ...string) []string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// Name implements engine.
func (ps *pageshot) Name() string {
	if ps.cache {
		return "cache"
	}
	return "pageshot"
}

// screenshotRequest is the body of POST /v1/screenshot.
type screenshotRequest struct {
	URL            string `json:"url"`
	Format         string `json:"format"`
	ViewportWidth  int    `json:"viewport_width"`
	ViewportHeight int    `json:"viewport_height"`
	Cache          bool   `json:"cache,omitempty"`
}

// Capture implements engine. Anything but 200 with Content-Type image/png
// is an error that quotes the response body.
func (ps *pageshot) Capture(ctx context.Context, url string) ([]byte, func(), error) {
	noop := func() {}
	body, err := json.Marshal(screenshotRequest{URL: url, Format: "png", ViewportWidth: viewportWidth, ViewportHeight: viewportHeight, Cache: ps.cache})
	if err != nil {
		return nil, noop, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ps.srv.baseURL+"/v1/screenshot", bytes.NewReader(body))
	if err != nil {
		return nil, noop, err
	}
	req.Header.Set("Content-Type", "application/json")
	if ps.key != "" {
		req.Header.Set("Authorization", "Bearer "+ps.key)
	}
	resp, err := ps.client.Do(req)
	if err != nil {
		return nil, noop, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, noop, fmt.Errorf("read response: %w", err)
	}
	ctype := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ctype)
	if resp.StatusCode != http.StatusOK || mt != "image/png" {
		return nil, noop, fmt.Errorf("HTTP %d, Content-Type %q: %s", resp.StatusCode, ctype, quoteBody(data))
	}
	return data, noop, nil
}

// requestIDMember matches the request id of a problem document, which
// differs in every response and would keep equal failures from grouping.
var requestIDMember = regexp.MustCompile(`"request_id"\s*:\s*"[^"]*"`)

// quoteBody returns a response body for an error message: text up to 600
// bytes with the request id masked, or the size of a binary body.
func quoteBody(b []byte) string {
	const limit = 600
	if !utf8.Valid(b) {
		return fmt.Sprintf("<%d bytes of binary data>", len(b))
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	s = requestIDMember.ReplaceAllString(s, `"request_id":"…"`)
	if len(s) > limit {
		cut := limit
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if s == "" {
		return "<empty body>"
	}
	return s
}

// Close implements engine: it stops the server with SIGTERM and removes its
// data directory.
func (ps *pageshot) Close() error {
	if ps.cache {
		return nil // the pageshot engine stops the server
	}
	err := ps.srv.Stop()
	ps.client.CloseIdleConnections()
	if rmErr := os.RemoveAll(ps.dir); err == nil {
		err = rmErr
	}
	return err
}
