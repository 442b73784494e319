package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pageshot/pageshot/client"
	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/redistest"
	"github.com/pageshot/pageshot/internal/waittest"
)

// The multi-node tests run the real binary as several processes — two
// `serve` nodes and a `worker` — sharing one PostgreSQL database, one
// Redis and one S3-protocol server, and check that to a client they act
// as one node.

// multiConfig is the config file of the clusters: a plan per limit under
// test, each lifting the limits it does not test.
const multiConfig = `plans:
  default:
    monthly_quota: 1000
    rate_per_minute: 100000
    max_concurrency: 8
  quota7:
    monthly_quota: 7
    rate_per_minute: 100000
    max_concurrency: 100
  rate10:
    monthly_quota: 0
    rate_per_minute: 10
    max_concurrency: 100
  conc2:
    monthly_quota: 0
    rate_per_minute: 100000
    max_concurrency: 2
  open:
    monthly_quota: 10000000
    rate_per_minute: 10000000
    max_concurrency: 1000
`

// node is a running pageshot process, serve or worker.
type node struct {
	name string
	kind string // "serve" or "worker"
	args []string
	cmd  *exec.Cmd
	base string // http://ADDR of its API (serve) or admin endpoints (worker)
	logs *waittest.Buffer
	done chan struct{} // closed when the process has exited
}

var readyLine = regexp.MustCompile(`(?:listening on|admin endpoints on) (http://[0-9.:]+)`)

// startNode starts `pageshot kind --addr 127.0.0.1:0 args…` (--admin-addr
// for a worker) and returns once it has logged its address. It does not
// call t.Fatal, so that nodes can be started in parallel.
func startNode(bin, name, kind string, args ...string) (*node, error) {
	addrFlag := "--addr"
	if kind == "worker" {
		addrFlag = "--admin-addr"
	}
	n := &node{name: name, kind: kind, args: args, logs: &waittest.Buffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(bin, append([]string{kind, addrFlag, "127.0.0.1:0"}, args...)...)
	n.cmd.Stdout = n.logs
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.logs.Write([]byte(sc.Text() + "\n"))
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		n.cmd.Wait()
		close(n.done)
	}()
	select {
	case n.base = <-addr:
		return n, nil
	case <-n.done:
		return nil, fmt.Errorf("%s exited before it was ready:\n%s", name, n.logs.String())
	case <-time.After(90 * time.Second):
		n.kill()
		return nil, fmt.Errorf("%s: no ready line after 90 s:\n%s", name, n.logs.String())
	}
}

// kill ends the node with SIGKILL, as a crash would, and waits until it
// has exited (its browser dies with it). Safe to call twice.
func (n *node) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// startNodes starts the nodes of specs in parallel; each is killed when t
// ends.
func startNodes(t testing.TB, bin string, specs ...nodeSpec) []*node {
	t.Helper()
	nodes := make([]*node, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { nodes[i], errs[i] = startNode(bin, s.name, s.kind, s.args...) })
	}
	wg.Wait()
	for _, n := range nodes {
		if n != nil {
			t.Cleanup(n.kill)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

type nodeSpec struct {
	name, kind string
	args       []string
}

// restart starts a node like n (a new process with n's flags) in its
// place and returns it.
func restart(t testing.TB, bin string, n *node) *node {
	t.Helper()
	return startNodes(t, bin, nodeSpec{n.name, n.kind, n.args})[0]
}

// s3Server is a real S3-protocol server (gofakes3 over HTTP) with one
// bucket.
func s3Server(t *testing.T, bucket string) *httptest.Server {
	mem := s3mem.New()
	if err := mem.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	return srv
}

// site is the test's target: pages whose visits it counts.
type site struct {
	*httptest.Server
	quit chan struct{} // closed when the test ends: hanging pages answer

	mu       sync.Mutex
	fetches  map[string]int // by the query's "n"
	slowNow  int            // visitors of /slow now
	slowMax  int            // most visitors of /slow at once
	hanging  int            // visitors of /hang now
	pairs    map[string]int // arrivals at /pair by round
	pairCond *sync.Cond
}

// newSite serves:
//   - /color?c=RRGGBB&n=ID: a page of colour c;
//   - /slow?n=ID: answers after 800 ms, counting the visitors at once;
//   - /hang?n=ID: answers only when its visitor leaves or the test ends;
//   - /pair?round=R: answers cyan once two visitors of round R are
//     there, grey when the second has not come within a second;
//   - /item?n=ID: a job item's page, answered after 600 ms.
//
// Every page counts its fetches by n.
func newSite(t *testing.T) *site {
	s := &site{quit: make(chan struct{}), fetches: map[string]int{}, pairs: map[string]int{}}
	s.pairCond = sync.NewCond(&s.mu)
	page := func(w http.ResponseWriter, c string) {
		if !regexp.MustCompile(`^[0-9a-f]{6}$`).MatchString(c) {
			c = "00aa00"
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body style="margin:0;background:#`+c+`"></body></html>`)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/favicon.ico" {
			s.mu.Lock()
			s.fetches[q.Get("n")]++
			s.mu.Unlock()
		}
		switch r.URL.Path {
		case "/color":
		case "/slow":
			s.mu.Lock()
			s.slowNow++
			s.slowMax = max(s.slowMax, s.slowNow)
			s.mu.Unlock()
			select {
			case <-time.After(800 * time.Millisecond): // the page's own slowness
			case <-s.quit:
			}
			s.mu.Lock()
			s.slowNow--
			s.mu.Unlock()
		case "/hang":
			s.mu.Lock()
			s.hanging++
			s.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-s.quit:
			}
			s.mu.Lock()
			s.hanging--
			s.mu.Unlock()
			return
		case "/pair":
			round := q.Get("round")
			s.mu.Lock()
			s.pairs[round]++
			s.pairCond.Broadcast()
			deadline := time.AfterFunc(time.Second, func() { s.mu.Lock(); s.pairCond.Broadcast(); s.mu.Unlock() })
			start := time.Now()
			for s.pairs[round] < 2 && time.Since(start) < time.Second {
				s.pairCond.Wait()
			}
			met := s.pairs[round] >= 2
			s.mu.Unlock()
			deadline.Stop()
			if met {
				page(w, "00ffff")
			} else {
				page(w, "808080")
			}
			return
		case "/item":
			select {
			case <-time.After(600 * time.Millisecond):
			case <-s.quit:
			}
		default:
			http.NotFound(w, r)
			return
		}
		page(w, q.Get("c"))
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.quit) }) // runs first: hanging handlers end
	return s
}

func (s *site) count(n string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[n]
}

// reply is an answer of a node.
type reply struct {
	status int
	header http.Header
	body   []byte
	// problem holds the members of a problem document.
	problem struct {
		Code       string `json:"code"`
		Retryable  *bool  `json:"retryable"`
		RetryAfter int    `json:"retry_after"`
	}
}

func (r reply) String() string {
	b := r.body
	if r.status == 200 {
		b = nil
	}
	return fmt.Sprintf("%d %s %s", r.status, r.problem.Code, b)
}

var multiClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 2 * time.Minute}

// call sends a request with key (unless empty) and a JSON body (unless
// nil).
func call(ctx context.Context, method, u, key string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := multiClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	r := reply{status: res.StatusCode, header: res.Header}
	if r.body, err = io.ReadAll(res.Body); err != nil {
		return r, err
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		json.Unmarshal(r.body, &r.problem)
	}
	return r, nil
}

// shot captures page (a path and query of the site) through node n.
func shot(n *node, key string, s *site, page string, extra map[string]any) (reply, error) {
	body := map[string]any{"url": s.URL + page, "viewport_width": 160, "viewport_height": 120}
	for k, v := range extra {
		body[k] = v
	}
	return call(context.Background(), http.MethodPost, n.base+"/v1/screenshot", key, body)
}

// wantColor checks that img is an image whose centre is c.
func wantColor(t *testing.T, what string, img []byte, c color.RGBA) {
	t.Helper()
	got, err := centre(img)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !sameColor(got, c) {
		t.Errorf("%s: the centre is %v, want %v", what, got, c)
	}
}

// centre returns the colour at the centre of the image img.
func centre(img []byte) (color.RGBA, error) {
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return color.RGBA{}, fmt.Errorf("not an image: %w", err)
	}
	b := m.Bounds()
	r, g, bl, _ := m.At((b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}, nil
}

func sameColor(a, b color.RGBA) bool { return near(a.R, b.R) && near(a.G, b.G) && near(a.B, b.B) }

func near(a, b uint8) bool { return max(a, b)-min(a, b) <= 8 }

// createKey makes a key on plan in the store at dbURL and returns its id,
// key and webhook secret.
func createKey(t testing.TB, bin, dbURL, config, plan string) (id, key, webhookSecret string) {
	t.Helper()
	out := run(t, bin, "keys", "create", "--name", plan, "--plan", plan, "--json", "--database-url", dbURL, "--config", config)
	var k struct {
		ID, Key       string
		WebhookSecret string `json:"webhook_secret"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		t.Fatalf("keys create: %v: %s", err, out)
	}
	return k.ID, k.Key, k.WebhookSecret
}

// used returns the ledger of key id: captures charged and in flight.
func used(t *testing.T, bin, dbURL, config, id string) (charged, inFlight int64) {
	t.Helper()
	out := run(t, bin, "usage", "--json", "--key", id, "--database-url", dbURL, "--config", config)
	var rows []struct {
		ID       string `json:"id"`
		Used     int64  `json:"used"`
		InFlight int64  `json:"in_flight"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("usage --json: %v: %s", err, out)
	}
	for _, r := range rows {
		if r.ID == id {
			return r.Used, r.InFlight
		}
	}
	t.Fatalf("usage --json has no row of %s: %s", id, out)
	return 0, 0
}

// metric returns the value of the Prometheus metric name (without
// labels) on node n's /metrics.
func metric(t *testing.T, n *node, name string) float64 {
	t.Helper()
	r, err := call(context.Background(), http.MethodGet, n.base+"/metrics", "", nil)
	if err != nil || r.status != 200 {
		t.Fatalf("%s /metrics: %v %s", n.name, err, r)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s /metrics has no %s", n.name, name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("%s /metrics: %s %s: %v", n.name, name, m[1], err)
	}
	return v
}

// cluster is two serve nodes and a worker on one database, one Redis and
// one bucket.
type cluster struct {
	bin, db, config string
	a, b, worker    *node
}

func writeConfig(t testing.TB) string {
	config := filepath.Join(t.TempDir(), "pageshot.yaml")
	if err := os.WriteFile(config, []byte(multiConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}

// nodeArgs returns the flags of a node with a data directory of its own.
func nodeArgs(t testing.TB, shared []string) []string {
	return append([]string{"--data-dir", filepath.Join(t.TempDir(), "data")}, shared...)
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	redisURL := redistest.URL(t)
	db := pgtest.URL(t)
	bin := binary(t)
	s3 := s3Server(t, "shots")
	c := &cluster{bin: bin, db: db, config: writeConfig(t)}
	shared := []string{
		"--database-url", db,
		"--redis-url", redisURL, "--redis-prefix", redistest.Prefix(t, redisURL),
		"--storage-url", "s3://shots/captures", "--storage-endpoint", s3.URL, "--storage-path-style",
		"--storage-access-key", "AKMULTINODE", "--storage-secret-key", "multinode-secret-key",
		"--config", c.config, "--egress-allow", "127.0.0.1/32",
		"--concurrency", "2", "--job-timeout", "4s", "--job-rescue-after", "5s",
	}
	// Migrated once before the nodes start, so that they do not race to
	// migrate or to create a first key.
	run(t, bin, "migrate", "--database-url", db)
	createKey(t, bin, db, c.config, "default")
	nodes := startNodes(t, bin,
		nodeSpec{"node A", "serve", nodeArgs(t, shared)},
		nodeSpec{"node B", "serve", nodeArgs(t, shared)},
		nodeSpec{"worker", "worker", nodeArgs(t, shared)})
	c.a, c.b, c.worker = nodes[0], nodes[1], nodes[2]
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []*node{c.a, c.b, c.worker} {
				t.Logf("%s log:\n%s", n.name, n.logs.String())
			}
		}
	})
	return c
}

// spread sends n captures at once, the ith of path(i), alternately to
// each of nodes, and returns the replies in order.
func spread(t *testing.T, nodes []*node, n int, path func(int) string, key string, s *site) []reply {
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := shot(nodes[i%len(nodes)], key, s, path(i), nil)
			if err != nil {
				t.Error(err)
			}
			replies[i] = r
		})
	}
	wg.Wait()
	return replies
}

// TestMultiNode runs one cluster through the limits, the shared state
// and the death of a node: every answer is one that a single node with
// the same plans would give.
func TestMultiNode(t *testing.T) {
	c := startCluster(t)
	s := newSite(t)
	top := t // owns the nodes started in a subtest
	nodes := func() []*node { return []*node{c.a, c.b} }

	// Quota: 60 concurrent captures on a quota of 7, over both nodes:
	// exactly 7 succeed, the rest are quota_exceeded, the ledger says 7.
	t.Run("quota", func(t *testing.T) {
		id, key, _ := createKey(t, c.bin, c.db, c.config, "quota7")
		replies := spread(t, nodes(), 60, func(i int) string { return "/color?c=0000ff&n=quota" + strconv.Itoa(i) }, key, s)
		ok := 0
		var remaining []int
		for i, r := range replies {
			switch {
			case r.status == 200:
				ok++
				wantColor(t, "capture "+strconv.Itoa(i), r.body, color.RGBA{0, 0, 255, 255})
				left, _ := strconv.Atoi(r.header.Get("X-Quota-Remaining"))
				remaining = append(remaining, left)
			case r.status == 402 && r.problem.Code == "quota_exceeded":
			default:
				t.Errorf("capture %d: %s", i, r)
			}
		}
		if ok != 7 {
			t.Errorf("%d captures succeeded on a quota of 7", ok)
		}
		// Each success reserved its unit in the one ledger: together they
		// counted the quota down from 6 to 0.
		slices.Sort(remaining)
		if want := []int{0, 1, 2, 3, 4, 5, 6}; !slices.Equal(remaining, want) {
			t.Errorf("X-Quota-Remaining of the successes: %v, want %v", remaining, want)
		}
		if charged, inFlight := used(t, c.bin, c.db, c.config, id); charged != 7 || inFlight != 0 {
			t.Errorf("ledger: %d charged, %d in flight, want 7 and 0", charged, inFlight)
		}
	})

	// Rate: 30 requests at once on 10 a minute: 10 pass in all, the rest
	// are rate_limited with Retry-After. (A node refills one request
	// every 6 s; the 30 are admitted in far less.)
	t.Run("rate", func(t *testing.T) {
		_, key, _ := createKey(t, c.bin, c.db, c.config, "rate10")
		replies := spread(t, nodes(), 30, func(i int) string { return "/color?c=ff0000&n=rate" + strconv.Itoa(i) }, key, s)
		ok := 0
		var remaining []int
		for i, r := range replies {
			switch {
			case r.status == 200:
				ok++
				wantColor(t, "capture "+strconv.Itoa(i), r.body, color.RGBA{255, 0, 0, 255})
				left, _ := strconv.Atoi(r.header.Get("X-RateLimit-Remaining"))
				remaining = append(remaining, left)
			case r.status == 429 && r.problem.Code == "rate_limited":
				if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || r.problem.RetryAfter != ra {
					t.Errorf("rate_limited with Retry-After %q and retry_after %d", r.header.Get("Retry-After"), r.problem.RetryAfter)
				}
				if r.header.Get("X-RateLimit-Limit") != "10" || r.header.Get("X-RateLimit-Remaining") != "0" {
					t.Errorf("rate_limited with X-RateLimit-Limit %q, X-RateLimit-Remaining %q", r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"))
				}
			default:
				t.Errorf("capture %d: %s", i, r)
			}
		}
		if ok != 10 {
			t.Errorf("%d captures passed a rate of 10 a minute", ok)
		}
		// The headers count for both nodes: each success saw what was left
		// after it, so together they counted down from 9 to 0.
		slices.Sort(remaining)
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(remaining, want) {
			t.Errorf("X-RateLimit-Remaining of the successes: %v, want %v", remaining, want)
		}
	})

	// Concurrency: clients over both nodes keep a key of 2 captures at once
	// busy; the page never sees more than 2 visitors at once.
	t.Run("concurrency", func(t *testing.T) {
		_, key, _ := createKey(t, c.bin, c.db, c.config, "conc2")
		var succeeded, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				deadline := time.Now().Add(90 * time.Second)
				for j := 0; succeeded.Load() < 8 && time.Now().Before(deadline); j++ {
					r, err := shot(nodes()[(i+j)%2], key, s, fmt.Sprintf("/slow?c=ffff00&n=conc%d-%d", i, j), nil)
					switch {
					case err != nil:
						t.Error(err)
						return
					case r.status == 200:
						succeeded.Add(1)
						wantColor(t, "capture", r.body, color.RGBA{255, 255, 0, 255})
					case r.status == 429 && r.problem.Code == "concurrency_limited" && r.header.Get("Retry-After") != "":
						refused.Add(1)
						time.Sleep(50 * time.Millisecond) // a client's pause before it tries again
					default:
						t.Errorf("capture: %s", r)
						return
					}
				}
			})
		}
		wg.Wait()
		s.mu.Lock()
		most := s.slowMax
		s.mu.Unlock()
		if most != 2 {
			t.Errorf("at most %d captures were in flight at once, want 2 (the plan's limit, reached)", most)
		}
		if succeeded.Load() < 8 || refused.Load() == 0 {
			t.Errorf("%d succeeded, %d concurrency_limited", succeeded.Load(), refused.Load())
		}
	})

	// Shared state: a cache entry filled through A is a hit on B, an object
	// stored through A is served by the storage and by B, and a key revoked
	// with the CLI is refused by both from the next request.
	t.Run("shared", func(t *testing.T) {
		id, key, _ := createKey(t, c.bin, c.db, c.config, "default")
		green, magenta := color.RGBA{0, 0xaa, 0, 255}, color.RGBA{255, 0, 255, 255}

		page := "/color?c=00aa00&n=cached"
		r, err := shot(c.a, key, s, page, map[string]any{"cache": true})
		if err != nil || r.status != 200 || r.header.Get("X-Cache") != "MISS" {
			t.Fatalf("cache fill on A: %v %s, X-Cache %q", err, r, r.header.Get("X-Cache"))
		}
		wantColor(t, "cache fill", r.body, green)
		r, err = shot(c.b, key, s, page, map[string]any{"cache": true})
		if err != nil || r.status != 200 || r.header.Get("X-Cache") != "HIT" {
			t.Errorf("the same capture on B: %v %s, X-Cache %q", err, r, r.header.Get("X-Cache"))
		}
		wantColor(t, "cache hit", r.body, green)
		if n := s.count("cached"); n != 1 {
			t.Errorf("the page was fetched %d times, want once (B answered from the cache)", n)
		}

		r, err = shot(c.a, key, s, "/color?c=ff00ff&n=stored", map[string]any{"store": true, "response_type": "json"})
		var stored struct{ URL string }
		if err != nil || r.status != 200 || json.Unmarshal(r.body, &stored) != nil || stored.URL == "" {
			t.Fatalf("store on A: %v %s %s", err, r, r.body)
		}
		u, err := url.Parse(stored.URL)
		if err != nil {
			t.Fatal(err)
		}
		for what, link := range map[string]string{
			"the storage's URL":     stored.URL,
			"/v1/objects through B": c.b.base + "/v1/objects/" + path.Base(u.Path),
		} {
			r, err := call(context.Background(), http.MethodGet, link, "", nil)
			if err != nil || r.status != 200 || r.header.Get("Content-Type") != "image/png" {
				t.Errorf("%s %s: %v %s %s", what, link, err, r, r.header.Get("Content-Type"))
				continue
			}
			wantColor(t, what, r.body, magenta)
		}

		run(t, c.bin, "keys", "revoke", id, "--database-url", c.db)
		for _, n := range nodes() {
			r, err := shot(n, key, s, "/color?n=revoked", nil)
			if err != nil || r.status != 401 || r.problem.Code != "api_key_revoked" {
				t.Errorf("revoked key on %s: %v %s", n.name, err, r)
			}
		}
		if n := s.count("revoked"); n != 0 {
			t.Errorf("a revoked key's page was fetched %d times", n)
		}
	})

	// Lease expiry: B is killed while two captures hold the key's two
	// slots; within the lease time (10 s) A can run two at once.
	t.Run("lease", func(t *testing.T) {
		_, key, _ := createKey(t, c.bin, c.db, c.config, "conc2")
		for i := range 2 {
			go shot(c.b, key, s, "/hang?n=lease"+strconv.Itoa(i), map[string]any{"timeout": 60})
		}
		if !waittest.Poll(60*time.Second, 100*time.Millisecond, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.hanging == 2 }) {
			t.Fatal("the two hanging captures did not reach the page")
		}
		r, err := shot(c.a, key, s, "/color?n=lease-held", nil)
		if err != nil || r.status != 429 || r.problem.Code != "concurrency_limited" {
			t.Fatalf("A while B holds both slots: %v %s", err, r)
		}

		c.b.kill()
		killed := time.Now()
		var freed, lastRefusal time.Duration
		for round := 0; ; round++ {
			if time.Since(killed) > 30*time.Second {
				t.Fatal("the dead node's slots were not freed in 30 s")
			}
			sent := time.Since(killed)
			var wg sync.WaitGroup
			var replies [2]reply
			for i := range 2 {
				wg.Go(func() {
					r, err := shot(c.a, key, s, fmt.Sprintf("/pair?round=%d&n=pair%d-%d", round, round, i), nil)
					if err != nil {
						t.Error(err)
					}
					replies[i] = r
				})
			}
			wg.Wait()
			// Both captured, and the page saw them at once (cyan): the key
			// held both slots on A together.
			met := 0
			for _, r := range replies {
				if c, err := centre(r.body); r.status == 200 && err == nil && sameColor(c, color.RGBA{0, 255, 255, 255}) {
					met++
				}
			}
			if met == 2 {
				freed = sent
				break
			}
			for _, r := range replies {
				if r.status != 200 && r.problem.Code != "concurrency_limited" {
					t.Fatalf("capture on A: %s", r)
				}
				if r.status != 200 {
					lastRefusal = sent
				}
			}
			time.Sleep(100 * time.Millisecond) // polling interval
		}
		t.Logf("both slots usable on A from %.1f s after B was killed (the last refused request was sent at %.1f s)", freed.Seconds(), lastRefusal.Seconds())
		// B renewed its leases last before it died (killed is taken after
		// its exit), so they end at most 10 s after, give or take the
		// moment Redis takes to run a renewal sent just before the kill: a
		// request refused for want of a slot must have been sent before
		// that. (Rounds run one after the other, so A's own captures take
		// no slot of a later round.)
		if lastRefusal > 10*time.Second+500*time.Millisecond {
			t.Errorf("a slot of the dead node was still taken by a request sent %.1f s after the kill, past the 10 s lease", lastRefusal.Seconds())
		}
		c.b = restart(top, c.bin, c.b)
	})

	// A batch job submitted to A runs on every node; A is killed in the
	// middle; B and the worker finish it: each item done once, charged
	// once, and the webhook, refused once, arrives again with the same id.
	t.Run("job", func(t *testing.T) {
		id, key, secret := createKey(t, c.bin, c.db, c.config, "default")
		type delivery struct {
			id     string
			status int
			body   []byte
			err    error
		}
		var (
			hookMu sync.Mutex
			hooks  []delivery
		)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			hookMu.Lock()
			defer hookMu.Unlock()
			d := delivery{id: r.Header.Get("webhook-id"), status: http.StatusNoContent, body: body,
				err: client.VerifyWebhook(secret, r.Header, body, time.Now())}
			if len(hooks) == 0 {
				d.status = http.StatusInternalServerError // the first delivery fails
			}
			hooks = append(hooks, d)
			w.WriteHeader(d.status)
		}))
		t.Cleanup(receiver.Close)

		const n = 30
		var items []map[string]any
		for i := range n {
			items = append(items, map[string]any{"url": fmt.Sprintf("%s/item?c=0000aa&n=item%d", s.URL, i)})
		}
		r, err := call(context.Background(), http.MethodPost, c.a.base+"/v1/jobs", key, map[string]any{
			"items": items, "defaults": map[string]any{"viewport_width": 160, "viewport_height": 120},
			"webhook_url": receiver.URL,
		})
		var j jobState
		if err != nil || r.status != 202 || json.Unmarshal(r.body, &j) != nil {
			t.Fatalf("submit: %v %s %s", err, r, r.body)
		}
		job := func(n *node) jobState {
			t.Helper()
			r, err := call(context.Background(), http.MethodGet, n.base+"/v1/jobs/"+j.ID, key, nil)
			var st jobState
			if err != nil || r.status != 200 || json.Unmarshal(r.body, &st) != nil {
				t.Fatalf("job on %s: %v %s", n.name, err, r)
			}
			return st
		}
		// A is killed while it renders an item (its only captures here).
		if !waittest.Poll(60*time.Second, 100*time.Millisecond, func() bool {
			return job(c.b).Succeeded >= 4 && metric(t, c.a, "pageshot_pool_in_use") >= 1
		}) {
			t.Fatal("the job did not progress on A")
		}
		before := job(c.b)
		c.a.kill()
		hitsAtKill := map[int]int{}
		for i := range n {
			hitsAtKill[i] = s.count("item" + strconv.Itoa(i))
		}
		if before.Succeeded >= n {
			t.Fatalf("the job ended before the kill; nothing to rescue")
		}
		endedBefore := map[string]bool{}
		for _, it := range before.Items {
			endedBefore[it.URL] = it.Status == "succeeded"
		}
		for i := range n {
			if _, ok := endedBefore[items[i]["url"].(string)]; !ok {
				t.Fatalf("item %d is not in the job's items: %+v", i, before.Items)
			}
		}

		var final jobState
		if !waittest.Poll(150*time.Second, 100*time.Millisecond, func() bool { final = job(c.b); return final.Status == "done" }) {
			t.Fatalf("the job did not end after A was killed: %+v", final)
		}
		if final.Succeeded != n || final.Failed != 0 {
			t.Errorf("%d succeeded, %d failed, want %d and 0", final.Succeeded, final.Failed, n)
		}
		again := 0
		for i := range n {
			hits := s.count("item" + strconv.Itoa(i))
			ended := endedBefore[items[i]["url"].(string)]
			switch {
			case hits == 0:
				t.Errorf("item %d was never fetched", i)
			case ended && hits != hitsAtKill[i]:
				t.Errorf("item %d, done before the kill, was fetched again (%d times, %d at the kill)", i, hits, hitsAtKill[i])
			case hits > hitsAtKill[i]+1:
				t.Errorf("item %d was fetched %d times, %d at the kill", i, hits, hitsAtKill[i])
			}
			if hits > 1 {
				again++
			}
		}
		t.Logf("%d of %d items ran again after the kill (%d done before it)", again, n, before.Succeeded)
		// The items of the dead node were not all left to one survivor:
		// both B and the worker ran some.
		for _, nd := range []*node{c.b, c.worker} {
			if ran := metric(t, nd, "pageshot_job_items_succeeded_total"); ran == 0 {
				t.Errorf("%s ran no item of the job", nd.name)
			}
		}
		if charged, inFlight := used(t, c.bin, c.db, c.config, id); charged != n || inFlight != 0 {
			t.Errorf("ledger: %d charged, %d in flight, want %d and 0", charged, inFlight, n)
		}

		if !waittest.Poll(60*time.Second, 100*time.Millisecond, func() bool {
			hookMu.Lock()
			defer hookMu.Unlock()
			return len(hooks) > 0 && hooks[len(hooks)-1].status == http.StatusNoContent
		}) {
			t.Fatal("the webhook was not delivered again after its first attempt failed")
		}
		hookMu.Lock()
		defer hookMu.Unlock()
		for i, d := range hooks {
			var ev struct {
				Type string
				Data struct {
					ID        string
					Succeeded int
				}
			}
			json.Unmarshal(d.body, &ev)
			if d.id != hooks[0].id || d.id == "" || d.err != nil || ev.Type != "job.completed" || ev.Data.ID != j.ID || ev.Data.Succeeded != n {
				t.Errorf("delivery %d: webhook-id %q (first %q), signature %v, %s", i, d.id, hooks[0].id, d.err, d.body)
			}
		}
	})
}

// TestMultiNodeRedisDown stops the Redis of two nodes while clients keep
// sending: every capture is refused with 503 service_unavailable and
// Retry-After, none reaches its page, both nodes are not ready; when
// Redis is back on its port, both serve again without a restart.
func TestMultiNodeRedisDown(t *testing.T) {
	redistest.URL(t) // skips, like the rest, without a Redis to test with
	db := pgtest.URL(t)
	rs := redistest.StartServer(t)
	bin := binary(t)
	config := writeConfig(t)
	run(t, bin, "migrate", "--database-url", db)
	_, key, _ := createKey(t, bin, db, config, "default")
	shared := []string{"--database-url", db, "--redis-url", rs.URL(), "--config", config,
		"--egress-allow", "127.0.0.1/32", "--concurrency", "2", "--jobs=false"}
	nodes := startNodes(t, bin,
		nodeSpec{"node A", "serve", nodeArgs(t, shared)},
		nodeSpec{"node B", "serve", nodeArgs(t, shared)})
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("%s log:\n%s", n.name, n.logs.String())
			}
		}
	})
	s := newSite(t)

	const (
		up = iota
		down
		back
	)
	var phase atomic.Int64
	type answer struct {
		phase int64
		node  string
		r     reply
	}
	var (
		mu      sync.Mutex
		answers []answer
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		sent    atomic.Int64
		// gate lets the test wait for the requests in flight: those sent
		// while Redis was down end before it starts again.
		gate sync.RWMutex
	)
	count := func(ph int64, node string, ok func(reply) bool) int {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for _, a := range answers {
			if a.phase == ph && (node == "" || a.node == node) && ok(a.r) {
				c++
			}
		}
		return c
	}
	for i := range 4 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				n := nodes[(i+j)%2]
				gate.RLock()
				ph := phase.Load()
				// The phase names the page, so that a fetch shows when the
				// capture was sent.
				r, err := shot(n, key, s, fmt.Sprintf("/color?c=ff8800&n=phase%d", ph), nil)
				gate.RUnlock()
				sent.Add(1)
				if err != nil {
					t.Error(err)
					return
				}
				if r.status == 200 {
					wantColor(t, "capture", r.body, color.RGBA{255, 0x88, 0, 255})
				}
				mu.Lock()
				answers = append(answers, answer{ph, n.name, r})
				mu.Unlock()
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	isOK := func(r reply) bool { return r.status == 200 }
	is503 := func(r reply) bool { return r.status == 503 && r.problem.Code == "service_unavailable" }
	ready := func(n *node) int {
		r, err := call(context.Background(), http.MethodGet, n.base+"/readyz", "", nil)
		if err != nil {
			t.Error(err)
		}
		return r.status
	}

	for _, n := range nodes {
		if !waittest.Poll(60*time.Second, 100*time.Millisecond, func() bool { return count(up, n.name, isOK) >= 2 }) {
			t.Fatalf("no capture through %s with Redis up", n.name)
		}
	}

	rs.Stop()
	phase.Store(down)
	for _, n := range nodes {
		if !waittest.Poll(30*time.Second, 100*time.Millisecond, func() bool { return count(down, n.name, is503) >= 5 }) {
			t.Errorf("%s: %d refusals with Redis down", n.name, count(down, n.name, is503))
		}
		if !waittest.Poll(30*time.Second, 100*time.Millisecond, func() bool { return ready(n) == 503 }) {
			t.Errorf("%s: /readyz does not answer 503 with Redis down", n.name)
		}
	}
	// Nothing sent while Redis is down was admitted: no page was fetched.
	gate.Lock()
	if f := s.count("phase1"); f != 0 {
		t.Errorf("the page was fetched %d times while Redis was down: captures passed without a limit check", f)
	}
	rs.Start()
	phase.Store(back)
	gate.Unlock()
	for _, n := range nodes {
		if !waittest.Poll(60*time.Second, 100*time.Millisecond, func() bool { return count(back, n.name, isOK) >= 2 }) {
			t.Errorf("%s: no capture after Redis came back", n.name)
		}
		if !waittest.Poll(30*time.Second, 100*time.Millisecond, func() bool { return ready(n) == 200 }) {
			t.Errorf("%s: /readyz does not answer 200 after Redis came back", n.name)
		}
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close

	t.Logf("%d captures sent: %d while Redis was down", sent.Load(), count(down, "", func(reply) bool { return true }))
	mu.Lock()
	defer mu.Unlock()
	for _, a := range answers {
		r := a.r
		switch {
		case r.status == 500:
			t.Errorf("%s: 500 in phase %d: %s", a.node, a.phase, r)
		case a.phase == down && !is503(r):
			t.Errorf("%s with Redis down: %s, want 503 service_unavailable", a.node, r)
		case is503(r):
			ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
			if ra < 1 || r.problem.RetryAfter != ra || r.problem.Retryable == nil || !*r.problem.Retryable {
				t.Errorf("%s: service_unavailable with Retry-After %q, retry_after %d: %s", a.node, r.header.Get("Retry-After"), r.problem.RetryAfter, r.body)
			}
		case r.status != 200:
			t.Errorf("%s in phase %d: %s", a.node, a.phase, r)
		}
	}
}
