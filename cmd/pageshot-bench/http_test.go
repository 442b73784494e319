package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseLoadFlags(t *testing.T) {
	c, err := parseLoadFlags([]string{"-clients", "8", "-duration", "2s", "-runs", "5", "-compare", "old"})
	if err != nil || c.clients != 8 || c.duration != 2*time.Second || c.runs != 5 || c.compare != "old" || c.captures != 20 {
		t.Errorf("%+v %v", c, err)
	}
	if !slices.Equal(c.captureClients, []int{1, 2, 4}) || c.round != 20 {
		t.Errorf("captures at %v in rounds of %d, want 1, 2 and 4 in rounds of 20", c.captureClients, c.round)
	}
	if c, err := parseLoadFlags([]string{"-capture-clients", "2, 8"}); err != nil || !slices.Equal(c.captureClients, []int{2, 8}) {
		t.Errorf("-capture-clients 2,8: %v %v", c.captureClients, err)
	}
	for _, bad := range [][]string{{"-clients", "0"}, {"-capture-clients", "0"}, {"-capture-clients", "two"}} {
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
