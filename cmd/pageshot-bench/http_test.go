package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLoadFlags(t *testing.T) {
	c, err := parseLoadFlags([]string{"-clients", "8", "-duration", "2s", "-runs", "5", "-compare", "old"})
	if err != nil || c.clients != 8 || c.duration != 2*time.Second || c.runs != 5 || c.compare != "old" {
		t.Errorf("%+v %v", c, err)
	}
	if !slices.Equal(c.captureClients, []int{1, 2, 4}) || c.round != 20 || c.captures != 80 {
		t.Errorf("%d captures at %v in rounds of %d, want 80 at 1, 2 and 4 in rounds of 20", c.captures, c.captureClients, c.round)
	}
	if _, err := parseLoadFlags([]string{"-captures", "0"}); err != nil {
		t.Errorf("-captures 0 (none): %v", err)
	}
	if c, err := parseLoadFlags([]string{"-capture-clients", "2, 8"}); err != nil || !slices.Equal(c.captureClients, []int{2, 8}) {
		t.Errorf("-capture-clients 2,8: %v %v", c.captureClients, err)
	}
	for _, bad := range [][]string{{"-clients", "0"}, {"-capture-clients", "0"}, {"-capture-clients", "two"}, {"-captures", "15"}, {"-capture-clients", "8", "-captures", "31"}} {
		if _, err := parseLoadFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestHammer: every answer is counted once, as expected or as a failure
// with the first unexpected status, with its latency.
func TestHammer(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	r := hammer(t.Context(), srv.URL, loadRequest{target: "/", header: http.Header{"X-Test": {"yes"}}, ok: []int{200}}, 4, 300*time.Millisecond)
	if r.n == 0 || r.failures == 0 || r.firstFail != "HTTP 418" || len(r.latencies) != r.n || r.bytes != 5 {
		t.Errorf("n %d, failures %d (%q), %d latencies, %d bytes", r.n, r.failures, r.firstFail, len(r.latencies), r.bytes)
	}
	if got := int64(r.n + r.failures); got > n.Load() {
		t.Errorf("%d answers counted, %d served", got, n.Load())
	}
	if r.perSecond() <= 0 {
		t.Error("no rate")
	}
}

// TestTurnSizes: the turns add up to the captures, hold about -round
// captures and never fewer than run at once, and are at least four and
// even in number.
func TestTurnSizes(t *testing.T) {
	for _, c := range []struct {
		captures, round, clients int
		want                     []int
	}{
		{80, 20, 4, []int{20, 20, 20, 20}},
		{320, 20, 2, slices.Repeat([]int{20}, 16)},
		{20, 20, 1, []int{5, 5, 5, 5}},
		{32, 4, 8, []int{8, 8, 8, 8}},
		{50, 10, 2, []int{12, 13, 12, 13}}, // five rounds of ten would leave one server first three times
		{200, 2, 2, slices.Repeat([]int{2}, 100)},
	} {
		got := turnSizes(c.captures, c.round, c.clients)
		if !slices.Equal(got, c.want) {
			t.Errorf("%d captures, round %d, %d at once: %v, want %v", c.captures, c.round, c.clients, got, c.want)
		}
	}
}

// TestQuiesce: an idle process tree is quiet within a few windows, a busy
// one is given up on after quietMax with its CPU counted, and a context
// that ends stops the wait.
func TestQuiesce(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	cpu, quiet, err := quiesce(t.Context(), cmd.Process.Pid)
	if err != nil || !quiet || cpu > quietCPU {
		t.Errorf("sleep: CPU %v, quiet %v, %v", cpu, quiet, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := quiesce(ctx, cmd.Process.Pid); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}

	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = spin.Process.Kill(); _ = spin.Wait() }()
	cpu, quiet, err = quiesce(t.Context(), spin.Process.Pid)
	if err != nil || quiet || cpu < quietMax/10 {
		t.Errorf("a busy loop: CPU %v, quiet %v, %v; want not quiet, with the CPU of its %v", cpu, quiet, err, quietMax)
	}
}
