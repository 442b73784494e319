package egress

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pageshot/pageshot"
)

// startProxy runs a proxy with the policy of cfg until the test ends and
// returns its address.
func startProxy(t *testing.T, cfg Config) *url.URL {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	px := NewProxy(p, slog.New(slog.DiscardHandler))
	if err := px.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Stop() })
	u, err := url.Parse(px.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRefusalPage: the page the proxy answers a refused request with (what
// an iframe shows, and so what the capture shows) is a generic refusal;
// the code and reason travel only in headers, for the capture to report.
func TestRefusalPage(t *testing.T) {
	proxyURL := startProxy(t, Config{Resolver: staticResolver{netip.MustParseAddr("10.1.2.3")}})
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for _, target := range []string{"http://inside.example/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/"} {
		res, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || res.Header.Get(pageshot.EgressErrorHeader) != string(pageshot.CodeURLBlocked) || res.Header.Get(pageshot.EgressReasonHeader) == "" {
			t.Errorf("%s: %d %v", target, res.StatusCode, res.Header)
		}
		if got := string(body); got != "pageshot refused to load this address.\n" {
			t.Errorf("%s: the refusal page says %q", target, got)
		}
		for _, leak := range []string{res.Header.Get(pageshot.EgressReasonHeader), "10.1.2.3", "inside", "169.254", "::1"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("%s: the refusal page tells %q", target, leak)
			}
		}
	}
}

// TestProxyKeepsConnections: after a page's burst of requests to one
// host, the proxy keeps its connections for the next page (a capture of
// the same site), instead of dialling most of them again as net/http's
// default of two idle connections a host had it do.
func TestProxyKeepsConnections(t *testing.T) {
	const burst = 6 // requests of a page at once, each held until all came
	var (
		dialled atomic.Int64
		mu      sync.Mutex
		arrived int
		all     chan struct{}
	)
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == burst {
			close(all)
		}
		wait := all
		mu.Unlock()
		select {
		case <-wait:
		case <-r.Context().Done():
		}
		io.WriteString(w, "ok")
	}))
	origin.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	origin.Start()
	t.Cleanup(origin.Close)
	proxyURL := startProxy(t, Config{Allow: []string{"127.0.0.1/32"}})
	// Each page with a connection pool of its own, as a fresh browser
	// context has.
	page := func() {
		mu.Lock()
		arrived, all = 0, make(chan struct{})
		mu.Unlock()
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), MaxIdleConnsPerHost: burst}
		defer tr.CloseIdleConnections()
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() {
				res, err := (&http.Client{Transport: tr}).Get(origin.URL + "/asset")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		wg.Wait()
	}
	page()
	if first := dialled.Load(); first != burst {
		t.Fatalf("the first page dialled %d connections, want %d", first, burst)
	}
	for range 3 {
		page()
	}
	if again := dialled.Load() - burst; again > 0 {
		t.Errorf("the next three pages dialled %d connections more", again)
	}
}
