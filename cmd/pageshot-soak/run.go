package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pageshot/pageshot/internal/browser"
)

const page = `<!doctype html><html><head><title>soak</title><style>body{margin:0;font:16px sans-serif;background:#f4f4f4}
.card{margin:20px;padding:20px;background:#fff;border-radius:8px}</style></head><body>%s</body></html>`

// target serves the pages the soak captures.
func target() (*http.Server, string, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, page, `<div class="card"><h1>Soak</h1><p>A page with some text.</p></div>`)
	})
	mux.HandleFunc("/tall", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, page, strings.Repeat(`<div class="card" style="height:400px">block</div>`, 12))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(800 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, page, `<div class="card">slow</div>`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// server is the running pageshot serve.
type server struct {
	cmd    *exec.Cmd
	base   string
	key    string
	exited chan error
}

func startServer(ctx context.Context, c config, dir string) (*server, error) {
	cfgPath := filepath.Join(dir, "pageshot.yaml")
	// No quota and no per-key limits: the soak measures the engine.
	if err := os.WriteFile(cfgPath, []byte("plans:\n  default:\n    monthly_quota: 0\n    rate_per_minute: 10000000\n    max_concurrency: 100000\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--config", cfgPath, "--egress-allow", "127.0.0.1/32", "--concurrency", fmt.Sprint(c.concurrency),
		"--queue-timeout", "10s")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pageshot: %w", err)
	}
	s := &server{cmd: cmd, exited: make(chan error, 1)}
	keys, addrs := make(chan string, 1), make(chan string, 1)
	scan := func(r io.Reader, re *regexp.Regexp, found chan string) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if c.verbose {
				fmt.Fprintln(os.Stderr, sc.Text())
			}
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}
	go scan(stdout, regexp.MustCompile(`API key:\s+(\S+)`), keys)
	go scan(stderr, regexp.MustCompile(`listening on (http://[0-9.:]+)`), addrs)
	go func() { s.exited <- cmd.Wait() }()
	for s.key == "" || s.base == "" {
		select {
		case s.key = <-keys:
		case s.base = <-addrs:
		case err := <-s.exited:
			return nil, fmt.Errorf("pageshot exited at start: %v", err)
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			return nil, errors.New("pageshot did not start within a minute")
		case <-ctx.Done():
			cmd.Process.Kill()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

// tally counts answers by status and code.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
	total  atomic.Int64
	errors []string // the 500s and transport errors, first ones
}

func (t *tally) add(status int, code string, body string) {
	t.total.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	k := fmt.Sprint(status)
	if code != "" {
		k += " " + code
	}
	t.counts[k]++
	if (status == 0 || status == 500) && len(t.errors) < 10 {
		t.errors = append(t.errors, fmt.Sprintf("%d %s", status, body))
	}
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keys []string
	for k := range t.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, t.counts[k])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

var codeRe = regexp.MustCompile(`"code":"([a-z_]+)"`)

// capture sends one capture of the mix and counts its answer.
func capture(ctx context.Context, s *server, body string, t *tally) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/screenshot", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			t.add(0, "", err.Error())
		}
		return
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	code := ""
	if res.StatusCode >= 400 {
		if m := codeRe.FindSubmatch(data); m != nil {
			code = string(m[1])
		}
	}
	t.add(res.StatusCode, code, string(data))
}

// mix are the captures the clients take turns at.
func mix(base string) []string {
	return []string{
		`{"url":"` + base + `/"}`,
		`{"url":"` + base + `/tall","full_page":true,"format":"jpeg","quality":70}`,
		`{"url":"` + base + `/","format":"webp","viewport_width":800,"viewport_height":600}`,
		`{"url":"` + base + `/","format":"pdf"}`,
		`{"url":"` + base + `/slow","store":true,"response_type":"json"}`,
		`{"url":"` + base + `/?c=1","cache":true}`,
		`{"html":"<h1 style=\"color:#c00\">inline</h1>","format":"png"}`,
	}
}

func run(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "pageshot-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tg, base, err := target()
	if err != nil {
		return err
	}
	defer tg.Close()
	s, err := startServer(ctx, c, dir)
	if err != nil {
		return err
	}
	defer s.cmd.Process.Kill()
	pid := s.cmd.Process.Pid
	bodies := mix(base)

	// Warm up, then take the baseline at rest.
	warm := &tally{counts: map[string]int{}}
	for _, b := range bodies {
		capture(ctx, s, b, warm)
	}
	if warm.String() != fmt.Sprintf("200: %d", len(bodies)) {
		return fmt.Errorf("warm-up: %s", warm)
	}
	settle(s)
	first := take(pid, s.base)
	fmt.Printf("soak: %s for %v, %d clients, kill every %v, burst of %d every %v\n", c.bin, c.duration, c.clients, c.killEvery, c.burstClients, c.burstEvery)
	fmt.Printf("%8s  %s\n", "start", first)

	t := &tally{counts: map[string]int{}}
	lctx, stopLoad := context.WithTimeout(ctx, c.duration)
	defer stopLoad()
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Go(func() {
			for n := i; lctx.Err() == nil; n++ {
				capture(lctx, s, bodies[n%len(bodies)], t)
			}
		})
	}
	var kills atomic.Int64
	if c.killEvery > 0 {
		wg.Go(func() {
			for every(lctx, c.killEvery) {
				if b := browser.BrowserProcess(pid); b != 0 && syscall.Kill(b, syscall.SIGKILL) == nil {
					kills.Add(1)
				}
			}
		})
	}
	var bursts atomic.Int64
	if c.burstEvery > 0 {
		wg.Go(func() {
			for every(lctx, c.burstEvery) {
				bursts.Add(1)
				bctx, cancel := context.WithTimeout(lctx, c.burstFor)
				var bw sync.WaitGroup
				for i := range c.burstClients {
					bw.Go(func() {
						for n := i; bctx.Err() == nil; n++ {
							capture(bctx, s, bodies[n%len(bodies)], t)
						}
					})
				}
				bw.Wait()
				cancel()
			}
		})
	}
	start := time.Now()
	for every(lctx, c.interval) {
		fmt.Printf("%8s  %s  answers %d, kills %d, bursts %d\n", time.Since(start).Round(time.Second), take(pid, s.base), t.total.Load(), kills.Load(), bursts.Load())
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	settle(s)
	end := take(pid, s.base)
	// Chromium reaps its own children a moment after they exit: only a
	// zombie that stays is a leak.
	for deadline := time.Now().Add(10 * time.Second); end.zombies > 0 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		end = take(pid, s.base)
	}
	fmt.Printf("%8s  %s\n", "end", end)
	fmt.Printf("answers: %d (%s)\n", t.total.Load(), t)
	fmt.Printf("browser restarts: %s\n", restarts(s.base))

	var problems []string
	if len(t.errors) > 0 {
		problems = append(problems, "internal errors or failed connections: "+strings.Join(t.errors, " | "))
	}
	problems = append(problems, growth(first, end)...)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			problems = append(problems, fmt.Sprintf("serve did not exit cleanly after SIGTERM: %v", err))
		}
	case <-time.After(90 * time.Second):
		problems = append(problems, "serve did not exit within 90 s of SIGTERM")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// every waits d and reports true, or false once ctx ends.
func every(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// settle waits until the server is ready and renders nothing, so that two
// samples at rest compare.
func settle(s *server) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		inUse, err1 := metric(s.base, "pageshot_pool_in_use")
		queued, err2 := metric(s.base, "pageshot_queue_depth")
		res, err3 := http.Get(s.base + "/readyz")
		if err3 == nil {
			res.Body.Close()
		}
		if err1 == nil && err2 == nil && err3 == nil && res.StatusCode == 200 && inUse == 0 && queued == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Idle connections and tabs being disposed of settle within a moment.
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(2 * time.Second)
}

// restarts reads the browser restarts by reason from the metrics.
func restarts(base string) string {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var out []string
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pageshot_browser_restarts_total{reason="); ok {
			out = append(out, strings.ReplaceAll(strings.TrimPrefix(v, `"`), `"} `, " "))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
