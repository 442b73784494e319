package egress

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
)

// TestRefusalPage: the page the proxy answers a refused request with (what
// an iframe shows, and so what the capture shows) is a generic refusal;
// the code and reason travel only in headers, for the capture to report.
func TestRefusalPage(t *testing.T) {
	p, err := NewPolicy(Config{Resolver: staticResolver{netip.MustParseAddr("10.1.2.3")}})
	if err != nil {
		t.Fatal(err)
	}
	px := NewProxy(p, slog.New(slog.DiscardHandler))
	if err := px.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Stop() })
	proxyURL, _ := url.Parse(px.URL())
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
