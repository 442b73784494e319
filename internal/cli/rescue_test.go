package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/waittest"
)

// TestStaleItemRescued: the items a node was running when it died are run
// again by another node once their heartbeat stops, within seconds —
// not after River's own rescue (--job-rescue-after, ten minutes here) —
// and each is done and charged once.
func TestStaleItemRescued(t *testing.T) {
	bin := binary(t)
	var (
		mu      sync.Mutex
		fetched waittest.Cond
		fetch   = map[string]int{}
	)
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.URL.Query().Get("n")
		mu.Lock()
		fetch[n]++
		first := fetch[n] == 1
		mu.Unlock()
		fetched.Changed()
		if first { // the first node's run hangs here until it dies
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, `<html><body style="background:#0a0">rescued</body></html>`)
	}))
	t.Cleanup(target.Close)
	fetches := func(n string) int {
		mu.Lock()
		defer mu.Unlock()
		return fetch[n]
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "pageshot.yaml")
	os.WriteFile(config, []byte("plans:\n  default:\n    rate_per_minute: 100000\n"), 0o600)
	args := []string{"--data-dir", filepath.Join(dir, "data"), "--config", config, "--concurrency", "2",
		"--job-timeout", "2m", "--job-rescue-after", "10m", "--job-stale-after", "3s"}
	first := startServe(t, bin, args...)
	key := first.key(t)
	j := first.submitJob(t, key, fmt.Sprintf(`{"items":[{"url":"%[1]s/?n=0"},{"url":"%[1]s/?n=1"}],"defaults":{"viewport_width":300,"viewport_height":200,"timeout":60}}`, target.URL))
	if !fetched.Wait(time.Minute, func() bool { return fetches("0") > 0 && fetches("1") > 0 }) {
		t.Fatal("the first node did not start the items")
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	killed := time.Now()

	second := startServe(t, bin, args...)
	j = second.waitJob(t, key, j.ID, 45*time.Second, "the items of the dead node were not rescued within 45 s")
	t.Logf("rescued %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	if j.Succeeded != 2 || j.Failed != 0 {
		t.Errorf("%d succeeded, %d failed, want 2 and 0", j.Succeeded, j.Failed)
	}
	for _, n := range []string{"0", "1"} {
		if got := fetches(n); got != 2 {
			t.Errorf("item %s fetched %d times, want 2 (the dead run and the rescue)", n, got)
		}
	}
	var rows []struct {
		Used     int64 `json:"used"`
		InFlight int64 `json:"in_flight"`
	}
	out := run(t, bin, "usage", "--json", "--data-dir", filepath.Join(dir, "data"))
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Used != 2 || rows[0].InFlight != 0 {
		t.Errorf("charged: %s, want 2 captures and nothing in flight", out)
	}
}
