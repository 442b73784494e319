package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/redistest"
)

// BenchmarkNodes measures the captures a second of one serve node and of
// two on this machine, both on PostgreSQL and Redis, with the same
// clients: 8 captures always in flight, spread over the nodes. Each node
// renders 2 at once (--concurrency 2, the CPU count here). An iteration
// is one capture answered; the captures/s metric is the result. Run:
//
//	PAGESHOT_TEST_DATABASE_URL=… PAGESHOT_TEST_REDIS_URL=… go test -run '^$' -bench Nodes -benchtime 60x -count 3 ./internal/cli/
func BenchmarkNodes(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		b.Run(strconv.Itoa(nodes)+"node", func(b *testing.B) { benchNodes(b, nodes) })
	}
}

func benchNodes(b *testing.B, count int) {
	redisURL := redistest.URL(b)
	db := pgtest.URL(b)
	bin := binary(b)
	config := writeConfig(b)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body style="margin:0;background:#3366cc;color:#fff;font:24px sans-serif">`+
			`<h1>pageshot</h1><p>A page with some text to render.</p></body></html>`)
	}))
	b.Cleanup(page.Close)
	run(b, bin, "migrate", "--database-url", db)
	// Limits that are checked (in Redis and the ledger) but never bind.
	_, key, _ := createKey(b, bin, db, config, "open")
	shared := []string{"--database-url", db, "--redis-url", redisURL, "--redis-prefix", redistest.Prefix(b, redisURL),
		"--config", config, "--egress-allow", "127.0.0.1/32", "--concurrency", "2", "--jobs=false"}
	var specs []nodeSpec
	for i := range count {
		specs = append(specs, nodeSpec{"node " + strconv.Itoa(i), "serve", nodeArgs(b, shared)})
	}
	nodes := startNodes(b, bin, specs...)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := 0; ; j++ {
				n := nodes[(i+j)%len(nodes)]
				body := map[string]any{"url": page.URL, "viewport_width": 800, "viewport_height": 600}
				r, err := call(ctx, http.MethodPost, n.base+"/v1/screenshot", key, body)
				if ctx.Err() != nil {
					return
				}
				if err != nil || r.status != 200 {
					b.Errorf("capture: %v %s", err, r)
					return
				}
				select {
				case done <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	gone := make(chan struct{}) // every client stopped: a capture failed
	go func() { wg.Wait(); close(gone) }()
	for b.Loop() {
		select {
		case <-done:
		case <-gone:
			b.Fatal("the clients stopped")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captures/s")
	cancel()
	<-gone
}
