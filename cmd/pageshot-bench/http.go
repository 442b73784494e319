package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pageshot/pageshot/internal/proc"
)

// The `load` command measures what pageshot costs around the browser: the
// requests that never reach it, at many clients at once, each against a
// bare Go handler that returns the same bytes, in the same run:
//
//   - hit: GET /v1/screenshot of a capture in the cache, the key in the
//     query, as an <img src> on a busy page asks for it;
//   - invalid option: a valid key and an option out of range (400), the
//     same query each time, and then a query of its own each time (an
//     unknown parameter with a counter), which the server cannot have
//     seen before;
//   - invalid key: a key that does not exist (401, then 429 once the
//     client address's budget is spent);
//
// then captures of the perf page at 1, 2 and 4 at a time (captures/s, p50,
// PNG size) beside the size of Chromium's own PNG of the same page. Each row
// also gives the server process's CPU time per answer, and the captures
// the CPU time of the server and its browser per capture, which the load
// generator and the machine's other work do not blur.

// loadConfig is what the flags of `load` ask for.
type loadConfig struct {
	bin, chrome, out string
	// compare is another pageshot binary (say, the last release)
	// measured alike in the same run, alternating with bin.
	compare  string
	clients  int
	duration time.Duration
	runs     int
	// captures is how many captures of the perf page each server makes
	// at each concurrency of captureClients.
	captures       int
	captureClients []int
	// round is about how many captures a server makes before the other
	// takes its turn (see turnSizes).
	round     int
	serveArgs []string
}

// loadRequest is one kind of request the load command measures.
type loadRequest struct {
	name string
	// target is the URL path and query; header is sent with it.
	target string
	header http.Header
	// ok lists the statuses expected; any other is a failure.
	ok []int
	// vary makes every request's query its own (a parameter with a
	// counter), so that nothing the server remembers of a query helps.
	vary bool
}

// loadResult is one run of one kind of request.
type loadResult struct {
	n         int // answers with an expected status
	failures  int
	firstFail string
	wall      time.Duration
	latencies []time.Duration
	bytes     int // body size of the last expected answer
	// cpu is the CPU time the server process used during the run: it
	// tells the server's own cost from the load generator's on a shared
	// machine.
	cpu time.Duration
}

// cpuPerRequest is the server's CPU time per answer, in microseconds.
func (r *loadResult) cpuPerRequest() float64 {
	return float64(r.cpu.Microseconds()) / float64(max(1, r.n+r.failures))
}

func (r *loadResult) perSecond() float64 { return float64(r.n) / r.wall.Seconds() }

// parseLoadFlags parses the arguments of `load`.
func parseLoadFlags(args []string) (loadConfig, error) {
	var c loadConfig
	fs := flag.NewFlagSet("pageshot-bench load", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "./bin/pageshot", "path to the pageshot binary")
	fs.StringVar(&c.chrome, "chrome", "", "Chromium executable for pageshot and for Chromium's own PNG (default: chromium-headless-shell, else chromium)")
	fs.StringVar(&c.out, "o", "", "also write the Markdown report to `FILE`")
	fs.StringVar(&c.compare, "compare", "", "another pageshot `BINARY` measured alike, alternating with -bin")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each measurement")
	fs.IntVar(&c.runs, "runs", 3, "runs of every request kind; the report gives medians")
	fs.IntVar(&c.captures, "captures", 80, "captures of the perf page a server makes at each concurrency (0: none)")
	c.captureClients = []int{1, 2, 4}
	fs.Func("capture-clients", "the concurrencies of the captures, comma-separated; replaces the default 1,2,4", func(v string) (err error) {
		c.captureClients, err = parseLevels(v)
		return err
	})
	fs.IntVar(&c.round, "round", 20, "captures a server makes in its turn, about; each has at least 4 turns")
	fs.Func("serve-arg", "add an argument to pageshot serve (repeatable)", func(v string) error {
		c.serveArgs = append(c.serveArgs, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.clients < 1 || c.runs < 1 || c.duration <= 0 || c.captures < 0 || c.round < 1 {
		return c, errors.New("-clients, -runs and -round must be at least 1, -duration positive, -captures not negative")
	}
	if most := slices.Max(c.captureClients); c.captures > 0 && c.captures < 4*most {
		return c, fmt.Errorf("-captures must be 0 or at least %d: four turns of %d at once", 4*most, most)
	}
	return c, nil
}

// cardHTML is the page of the cached capture, served at /card: a small
// report card whose 640×400 PNG is about 25 KB.
const cardHTML = `<body style="margin:0;font:16px/1.4 sans-serif;background:#f4f6fb"><div style="padding:24px">` +
	`<h1 style="color:#1a1a2e">Quarterly report</h1><p>Revenue grew in every region; the table below has the figures.</p>` +
	`<table style="border-collapse:collapse">` +
	`<tr><td style="padding:4px 12px;background:#dde">North</td><td style="padding:4px 12px">1,204</td><td style="padding:4px 12px;color:#080">+12%</td></tr>` +
	`<tr><td style="padding:4px 12px;background:#dde">South</td><td style="padding:4px 12px">982</td><td style="padding:4px 12px;color:#080">+7%</td></tr>` +
	`<tr><td style="padding:4px 12px;background:#dde">East</td><td style="padding:4px 12px">1,530</td><td style="padding:4px 12px;color:#080">+18%</td></tr>` +
	`</table><p style="color:#555">Figures in thousands of euros, unaudited.</p></div></body>`

// runHTTPLoad is the `load` command.
func runHTTPLoad(ctx context.Context, args []string) error {
	cfg, err := parseLoadFlags(args)
	if err != nil {
		return err
	}
	chromePath := cfg.chrome
	if chromePath == "" {
		if p, err := exec.LookPath("chromium-headless-shell"); err == nil {
			chromePath = p
		}
	}
	chrome, err := findChromium(ctx, chromePath)
	if err != nil {
		return err
	}
	page, err := startPageServer()
	if err != nil {
		return err
	}
	defer page.Close()

	servers := []*loadServer{{label: "pageshot", bin: cfg.bin}}
	if cfg.compare != "" {
		servers = append(servers, &loadServer{label: "compared", bin: cfg.compare})
	}
	var hitBody []byte
	for _, sv := range servers {
		logf("%s: starting %s serve", sv.label, sv.bin)
		ps, err := startPageshot(ctx, sv.bin, "", chrome.path, cfg.serveArgs, nil)
		if err != nil {
			return err
		}
		defer ps.Close()
		if ps.key == "" {
			return fmt.Errorf("%s: no API key: %s", sv.label, ps.keyNote)
		}
		sv.ps = ps
		// The cached capture, made once.
		card := strings.TrimSuffix(page.URL, "/article") + "/card"
		q := url.Values{"url": {card}, "viewport_width": {"640"}, "viewport_height": {"400"}, "cache": {"true"}, "access_key": {ps.key}}
		sv.hit = "/v1/screenshot?" + q.Encode()
		resp, err := ps.client.Get(ps.srv.baseURL + sv.hit)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: the capture to serve from the cache: HTTP %d: %s", sv.label, resp.StatusCode, quoteBody(body))
		}
		logf("%s: cached capture of %d bytes", sv.label, len(body))
		if hitBody == nil {
			hitBody = body
		}
	}

	bare, err := startBare(ctx, hitBody)
	if err != nil {
		return err
	}
	defer bare.stop()

	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	type kind struct {
		label string // the row of the report
		req   loadRequest
		base  string
		pid   int // of the server
	}
	kinds := []kind{{"bare", loadRequest{target: "/", ok: []int{200}}, bare.baseURL, bare.cmd.Process.Pid}}
	for _, name := range []string{"hit", "invalid option", "invalid option, each new", "invalid key"} {
		for _, sv := range servers {
			k := kind{label: name, base: sv.ps.srv.baseURL, pid: sv.ps.srv.cmd.Process.Pid}
			if len(servers) > 1 {
				k.label += " (" + sv.label + ")"
			}
			switch name {
			case "hit":
				k.req = loadRequest{target: sv.hit, ok: []int{200}}
			case "invalid option":
				k.req = loadRequest{target: "/v1/screenshot?html=x&viewport_width=-5", header: bearer(sv.ps.key), ok: []int{400}}
			case "invalid option, each new":
				k.req = loadRequest{target: "/v1/screenshot?html=x&viewport_width=-5", header: bearer(sv.ps.key), ok: []int{400}, vary: true}
			case "invalid key":
				k.req = loadRequest{target: "/v1/screenshot?html=x", header: bearer("ps_nokey.nosecret"), ok: []int{401, 429}}
			}
			kinds = append(kinds, k)
		}
	}
	rep := &loadReport{date: time.Now().UTC(), cfg: cfg, chrome: chrome, hitBytes: len(hitBody), loadStart: loadAverage(), results: map[string][]*loadResult{}}
	for _, sv := range servers {
		rep.versions = append(rep.versions, sv.label+": "+sv.ps.version)
	}
	for run := 1; run <= cfg.runs; run++ {
		for _, k := range kinds {
			cpu0, _ := proc.CPUTime(k.pid)
			r := hammer(ctx, k.base, k.req, cfg.clients, cfg.duration)
			if err := ctx.Err(); err != nil {
				return err
			}
			cpu1, err := proc.CPUTime(k.pid)
			if err != nil {
				return fmt.Errorf("%s: the server's CPU time: %w", k.label, err)
			}
			r.cpu = cpu1 - cpu0
			logf("run %d %-25s %8.0f req/s  p50 %s  p99 %s  server CPU %.1f µs/req  %d failed %s", run, k.label, r.perSecond(),
				fmtMillis(percentile(r.latencies, 50)), fmtMillis(percentile(r.latencies, 99)), r.cpuPerRequest(), r.failures, r.firstFail)
			rep.results[k.label] = append(rep.results[k.label], r)
			rep.order = appendNew(rep.order, k.label)
		}
	}
	rep.loadEnd = loadAverage()

	if cfg.captures > 0 {
		for _, sv := range servers {
			if err := warmUp(ctx, sv.ps, page.URL, config{warmup: 3, timeout: time.Minute}); err != nil {
				return err
			}
			if _, _, err := quiesce(ctx, sv.ps.srv.cmd.Process.Pid); err != nil {
				return fmt.Errorf("%s: CPU time: %w", sv.label, err)
			}
		}
		for _, clients := range cfg.captureClients {
			level, err := captureTurns(ctx, servers, page.URL, clients, cfg)
			if err != nil {
				return err
			}
			rep.levels = append(rep.levels, level)
		}
		// Chromium's own PNG of the same page, at its default compression.
		b, err := startBaseline(ctx, chrome.path)
		if err != nil {
			return err
		}
		img, release, err := b.Capture(ctx, page.URL)
		release()
		_ = b.Close()
		if err != nil {
			return fmt.Errorf("chromium's own PNG: %w", err)
		}
		rep.chromiumPNG = len(img)
	}

	md := rep.markdown()
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// A server's turn of captures leaves work running after its last answer:
// tabs disposed of, new ones prepared, renderers ending. quiesce waits for
// it, so that it is charged to the turn that caused it and does not run
// in the other server's turn. Without it, in short turns, a server whose
// captures leave more behind came out cheaper than it is: in turns of two
// captures, this build came to 1.1% less CPU a capture than d8f7d97 (the
// build before the PNG packing) without the wait, and 8.8% less with it.
const (
	quietWindow = 200 * time.Millisecond
	quietCPU    = 20 * time.Millisecond // in a window: a tenth of a core
	quietMax    = 5 * time.Second
)

// quiesce waits until the process tree of pid uses less than quietCPU in
// a quietWindow, and returns its CPU time then, with quiet true; after
// quietMax it returns the CPU time with quiet false. The turn's CPU
// includes what the wait saw, its time does not: a turn's captures/s is
// its captures over the time until its last answer. It returns ctx's
// error when ctx ends first.
func quiesce(ctx context.Context, pid int) (cpu time.Duration, quiet bool, err error) {
	if cpu, err = proc.TreeCPUTime(pid); err != nil {
		return 0, false, err
	}
	t := time.NewTicker(quietWindow)
	defer t.Stop()
	for end := time.Now().Add(quietMax); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-t.C:
		}
		now, err := proc.TreeCPUTime(pid)
		if err != nil {
			return 0, false, err
		}
		// A sum that went down (a child ended between the listing and
		// its read) says nothing of quiet.
		if now >= cpu && now-cpu < quietCPU {
			return now, true, nil
		}
		cpu = max(cpu, now)
	}
	return cpu, false, nil
}

// loadServer is one pageshot server of the load command.
type loadServer struct {
	label, bin string
	ps         *pageshot
	hit        string // the target of the cached capture
}

// captureLevel is what the servers' captures of the perf page came to at
// one concurrency.
type captureLevel struct {
	clients int
	rounds  int
	round   int       // captures a server makes in its turn, about
	servers []labeled // in the order of the servers
	unquiet int       // turns whose server was still busy quietMax after them
}

// turnSizes splits captures into the turns of one server: about round
// captures each, and never fewer than clients, so that the turn runs
// clients at once; at least four turns, and an even number of them, so
// that with the order reversed every other round (A B B A …) each server
// goes first as often as the other. captures is at least 4×clients (see
// parseLoadFlags).
func turnSizes(captures, round, clients int) []int {
	rounds := max(4, captures/max(round, clients))
	rounds -= rounds % 2
	sizes := make([]int, rounds)
	for i := range sizes {
		sizes[i] = captures*(i+1)/rounds - captures*i/rounds
	}
	return sizes
}

// captureTurns has the servers capture the perf page at url, cfg.captures
// each with clients at once, in the turns of turnSizes, taking turns: the
// order reversed every other round, so that a drift in the machine's
// speed hits every server alike. Each turn ends when its server is quiet
// again (see quiesce).
func captureTurns(ctx context.Context, servers []*loadServer, url string, clients int, cfg loadConfig) (captureLevel, error) {
	sizes := turnSizes(cfg.captures, cfg.round, clients)
	level := captureLevel{clients: clients, rounds: len(sizes), round: cfg.captures / len(sizes), servers: make([]labeled, len(servers))}
	for i, sv := range servers {
		level.servers[i].label = sv.label
	}
	for i, n := range sizes {
		order := []int{0, 1}[:len(servers)] // one server, or two with -compare
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, j := range order {
			sv, x := servers[j], &level.servers[j]
			pid := sv.ps.srv.cmd.Process.Pid
			cpu0, err := proc.TreeCPUTime(pid)
			if err != nil {
				return level, fmt.Errorf("%s: CPU time: %w", sv.label, err)
			}
			r := runLoad(ctx, sv.ps, url, clients, n, time.Minute)
			if err := ctx.Err(); err != nil {
				return level, err
			}
			cpu1, quiet, err := quiesce(ctx, pid)
			if err != nil {
				return level, fmt.Errorf("%s: CPU time: %w", sv.label, err)
			}
			if !quiet {
				logf("%d at once, round %d %s: still busy %s after its last answer", clients, i+1, sv.label, quietMax)
				level.unquiet++
			}
			x.cpu += cpu1 - cpu0
			t := turn{perSecond: r.throughput(), latencies: r.latencies}
			if made := len(r.latencies) + len(r.failures); made > 0 {
				t.cpuPerCapture = (cpu1 - cpu0) / time.Duration(made)
			}
			x.turns = append(x.turns, t) // one a turn, so that the servers' turns stay paired
			logf("%d at once, round %d %s: %d captures, %.2f/s, p50 %s, CPU %s", clients, i+1, sv.label, len(r.latencies), r.throughput(), fmtMillis(r.percentile(50)), fmtMillis(cpu1-cpu0))
			x.r = merge(x.r, r)
		}
	}
	for _, x := range level.servers {
		logf("%d at once, %s captures: %.2f/s, p50 %s, median PNG %d bytes, %d failed", clients, x.label, x.r.throughput(),
			fmtMillis(x.r.percentile(50)), x.r.medianSize(), len(x.r.failures))
	}
	return level, nil
}

// labeled is a result with the server it came from.
type labeled struct {
	label string
	r     *result
	cpu   time.Duration // of the server and its browser, for r
	turns []turn
}

// merge returns a and b as one result; a may be nil.
func merge(a, b *result) *result {
	if a == nil {
		return b
	}
	return &result{
		latencies: append(a.latencies, b.latencies...),
		sizes:     append(a.sizes, b.sizes...),
		failures:  append(a.failures, b.failures...),
		wall:      a.wall + b.wall,
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// hammer sends req to base from clients goroutines, each starting its next
// request when the last answer was read whole, for d.
func hammer(ctx context.Context, base string, req loadRequest, clients int, d time.Duration) *loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu  sync.Mutex
		all loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var mine loadResult
			for i := 0; ctx.Err() == nil; i++ {
				target := base + req.target
				if req.vary {
					target += "&n=" + strconv.Itoa(c) + "." + strconv.Itoa(i)
				}
				r, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
				maps(r.Header, req.header)
				t := time.Now()
				resp, err := client.Do(r)
				var n int64
				if err == nil {
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat := time.Since(t)
				switch {
				case ctx.Err() != nil:
					// cut by the end of the measurement: not counted
				case err != nil:
					mine.failures++
					mine.firstFail = cmpOr(mine.firstFail, err.Error())
				case !slices.Contains(req.ok, resp.StatusCode):
					mine.failures++
					mine.firstFail = cmpOr(mine.firstFail, "HTTP "+strconv.Itoa(resp.StatusCode))
				default:
					mine.n++
					mine.bytes = int(n)
					mine.latencies = append(mine.latencies, lat)
				}
			}
			mu.Lock()
			all.n += mine.n
			all.failures += mine.failures
			all.firstFail = cmpOr(all.firstFail, mine.firstFail)
			all.bytes = max(all.bytes, mine.bytes)
			all.latencies = append(all.latencies, mine.latencies...)
			mu.Unlock()
		})
	}
	wg.Wait()
	all.wall = time.Since(start)
	return &all
}

func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// bareServer is `pageshot-bench bare`: another process, like the pageshot
// server, whose one handler writes the same bytes as the cached capture.
type bareServer struct {
	baseURL string
	cmd     *exec.Cmd
}

func startBare(ctx context.Context, body []byte) (*bareServer, error) {
	f, err := os.CreateTemp("", "pageshot-bench-bare-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // read at the server's start
	if _, err := f.Write(body); err != nil {
		return nil, err
	}
	f.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "bare", f.Name())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bare handler: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("start bare handler: %w", err)
	}
	return &bareServer{baseURL: "http://" + strings.TrimSpace(line), cmd: cmd}, nil
}

func (b *bareServer) stop() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}

// serveBare is the `bare FILE` command: it serves FILE's bytes as a PNG
// on 127.0.0.1 and prints the address it listens on.
func serveBare(path string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
}

// loadReport is what `load` prints.
type loadReport struct {
	date               time.Time
	cfg                loadConfig
	chrome             chromium
	versions           []string
	hitBytes           int
	results            map[string][]*loadResult
	order              []string       // of the rows
	levels             []captureLevel // of the captures, one a concurrency
	chromiumPNG        int
	loadStart, loadEnd string
}

// median returns the median of f over rs.
func median(rs []*loadResult, f func(*loadResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

func (r *loadReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### The request path at %d clients\n\n", r.cfg.clients)
	fmt.Fprintf(&b, "%s · %s · %d CPUs · %s · load average %s → %s\n\n%s\n\n",
		r.date.Format("2006-01-02 15:04 UTC"), r.chrome.version, runtime.NumCPU(), runtime.Version(), r.loadStart, r.loadEnd,
		strings.Join(r.versions, "; "))
	fmt.Fprintf(&b, "%d runs of %s per request kind, %d clients, medians; the cached capture is %d bytes.\n\n",
		r.cfg.runs, r.cfg.duration, r.cfg.clients, r.hitBytes)
	b.WriteString("| request | req/s | p50 | p99 | req/s ratio to bare | server CPU per request | runs (req/s) | failed |\n|---|---:|---:|---:|---:|---:|---|---:|\n")
	bare := median(r.results["bare"], (*loadResult).perSecond)
	for _, name := range r.order {
		rs := r.results[name]
		rps := median(rs, (*loadResult).perSecond)
		var runs []string
		failed := 0
		for _, x := range rs {
			runs = append(runs, fmt.Sprintf("%.0f", x.perSecond()))
			failed += x.failures
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.2f× | %.1f µs | %s | %d |\n", name, rps,
			fmtMillis(time.Duration(median(rs, func(x *loadResult) float64 { return float64(percentile(x.latencies, 50)) }))),
			fmtMillis(time.Duration(median(rs, func(x *loadResult) float64 { return float64(percentile(x.latencies, 99)) }))),
			rps/bare, median(rs, (*loadResult).cpuPerRequest), strings.Join(runs, ", "), failed)
	}
	for _, l := range r.levels {
		fmt.Fprintf(&b, "\nCaptures of the perf page (1280×800 PNG), %d at a time, in %d rounds of about %d a server, the servers taking turns, each turn ending once its server is quiet:\n\n", l.clients, l.rounds, l.round)
		b.WriteString("| server | made | failed | captures/s | p50 | p90 | CPU per capture (server and browser) | median PNG | PNG / Chromium's own |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range l.servers {
			c := x.r
			ratio := "–"
			if r.chromiumPNG > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(c.medianSize())/float64(r.chromiumPNG))
			}
			perCapture := "–"
			if n := len(c.latencies) + len(c.failures); n > 0 {
				perCapture = fmtMillis(x.cpu / time.Duration(n))
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %s | %s | %s | %d B | %s |\n", x.label, len(c.latencies), len(c.failures),
				c.throughput(), fmtMillis(c.percentile(50)), fmtMillis(c.percentile(90)), perCapture, c.medianSize(), ratio)
		}
		b.WriteString(l.pairedLine())
		if l.unquiet > 0 {
			fmt.Fprintf(&b, "\n%d turns ended with their server still busy %s after its last answer.\n", l.unquiet, quietMax)
		}
	}
	if len(r.levels) > 0 {
		fmt.Fprintf(&b, "\nChromium's own PNG of the page (default compression): %d B.\n", r.chromiumPNG)
	}
	return b.String()
}

// pairedLine compares the first server's captures with the second's,
// with how sure the difference is: the turns paired for throughput and
// CPU, the pairs of turns resampled for the p50. "" when there are not
// two servers, or too little to compare.
func (l captureLevel) pairedLine() string {
	if len(l.servers) != 2 {
		return ""
	}
	a, b := l.servers[1], l.servers[0] // compared, then pageshot
	field := func(l labeled, f func(turn) float64) []float64 {
		v := make([]float64, len(l.turns))
		for i, t := range l.turns {
			v[i] = f(t)
		}
		return v
	}
	rate, pairs, dropped, ok1 := pairedChange(field(a, func(t turn) float64 { return t.perSecond }), field(b, func(t turn) float64 { return t.perSecond }))
	cpu, _, _, ok2 := pairedChange(field(a, func(t turn) float64 { return float64(t.cpuPerCapture) }), field(b, func(t turn) float64 { return float64(t.cpuPerCapture) }))
	p50, ok3 := medianChange(a.turns, b.turns)
	if !ok1 || !ok2 || !ok3 {
		return ""
	}
	left := ""
	if dropped > 0 {
		left = fmt.Sprintf("; %d pairs left out, a turn of them with no capture made", dropped)
	}
	return fmt.Sprintf("\n%s against %s: captures/s %s, %s; p50 %s, %s; CPU per capture %s. "+
		"Captures/s and CPU per capture are compared turn by turn (%d pairs%s; the geometric mean of their ratios), "+
		"the p50 by resampling the pairs of turns.\n",
		b.label, a.label, rate, rate.worse(0.05, true), p50, p50.worse(0.05, false), cpu, pairs, left)
}
