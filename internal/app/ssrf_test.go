package app_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
)

// canary counts every connection and request it gets on 127.0.0.2, an
// address the policy refuses.
type canary struct {
	conns, requests atomic.Int64
	ln              net.Listener
	url             string
}

func newCanary(t *testing.T, port string) *canary {
	ln, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	c := &canary{ln: ln, url: "http://" + ln.Addr().String()}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.requests.Add(1)
			io.WriteString(w, "canary")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				c.conns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

// rebinder answers the first lookup of a name with one address and every
// later one with another, as a rebinding attacker's DNS server does.
type rebinder struct {
	mu     sync.Mutex
	seen   map[string]int
	first  map[string]netip.Addr
	later  map[string]netip.Addr
	static map[string]netip.Addr
}

func (r *rebinder) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.static[host]; ok {
		return []netip.Addr{a}, nil
	}
	if a, ok := r.first[host]; ok {
		r.seen[host]++
		if r.seen[host] > 1 {
			a = r.later[host]
		}
		return []netip.Addr{a}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

func TestSSRF(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	blocked := netip.MustParseAddr("127.0.0.2")
	res := &rebinder{
		seen:   map[string]int{},
		first:  map[string]netip.Addr{"rebind.test": loop},
		later:  map[string]netip.Addr{"rebind.test": blocked},
		static: map[string]netip.Addr{"inside.test": blocked, "fine.test": loop},
	}
	var mux http.ServeMux
	var tgURL string
	tg := &http.Server{Handler: &mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tg.Serve(ln)
	t.Cleanup(func() { tg.Close() })
	tgURL = "http://" + ln.Addr().String()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// The canary listens on the target's port, so a request that reaches
	// 127.0.0.2 by any name or redirect lands there.
	can := newCanary(t, port)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body style="background:#0000ff">fine</body></html>`)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, can.url+"/redirected", http.StatusFound)
	})
	mux.HandleFunc("/redirect-name", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://inside.test:"+port+"/redirected", http.StatusFound)
	})
	mux.HandleFunc("/redirect-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.2:"+port+"/redirected", http.StatusFound)
	})
	mux.HandleFunc("/redirect-nxdomain", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://nonexistent.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/chain", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/embeds", func(w http.ResponseWriter, r *http.Request) {
		c := can.url
		fmt.Fprintf(w, `<html><body style="background:#0000ff">
<img src="%[1]s/img"><iframe src="%[1]s/frame"></iframe><iframe src="http://[::ffff:127.0.0.2]:%[2]s/frame6"></iframe>
<link rel="stylesheet" href="%[1]s/css"><script src="%[1]s/js"></script>
<script>
fetch("%[1]s/fetch").catch(() => {});
fetch("http://inside.test:%[2]s/fetch-name").catch(() => {});
try { new WebSocket("ws://127.0.0.2:%[2]s/ws") } catch (e) {}
navigator.sendBeacon("%[1]s/beacon", "x");
new Worker("/worker.js");
navigator.serviceWorker && navigator.serviceWorker.register("/sw.js").catch(() => {});
const x = new XMLHttpRequest(); x.open("GET", "%[1]s/xhr"); x.send();
</script></body></html>`, c, port)
	})
	mux.HandleFunc("/worker.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, `fetch(%q).catch(() => {}); try { new WebSocket("ws://127.0.0.2:%s/wsw") } catch (e) {}`, can.url+"/from-worker", port)
	})
	mux.HandleFunc("/sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, `self.addEventListener("install", () => fetch(%q).catch(() => {}));`, can.url+"/from-sw")
	})

	s := startServer(t, func(c *app.Config) { c.Resolver = res })

	for _, c := range []struct{ name, url string }{
		{"redirect to a refused address", tgURL + "/redirect"},
		{"redirect chain", tgURL + "/chain"},
		// The proxy refuses the CONNECT; the browser only says the tunnel
		// failed, and the capture finds out why.
		{"redirect to https on a refused address", tgURL + "/redirect-https"},
		{"redirect to a name that resolves inside", tgURL + "/redirect-name"},
		{"name that resolves inside", "http://inside.test:" + port + "/"},
		{"DNS rebinding between check and connect", "http://rebind.test:" + port + "/"},
		{"literal", can.url + "/"},
		{"decimal", "http://2130706434:" + port + "/"},
		{"octal", "http://0177.0.0.02:" + port + "/"},
		{"hex", "http://0x7f000002:" + port + "/"},
		{"short", "http://127.2:" + port + "/"},
		{"ipv4-mapped", "http://[::ffff:127.0.0.2]:" + port + "/"},
		{"ipv6 loopback", "http://[::1]:" + port + "/"},
		{"localhost", "http://localhost:" + port + "/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, s.post(t, map[string]any{"url": c.url}), 403, "url_blocked")
			if p.Reason == "" {
				t.Errorf("no reason: %+v", p)
			}
		})
	}
	t.Run("redirect to a name that does not resolve", func(t *testing.T) {
		wantProblem(t, s.post(t, map[string]any{"url": tgURL + "/redirect-nxdomain"}), 422, "name_not_resolved")
	})
	t.Run("subresources, frames, fetch, WebSocket, workers", func(t *testing.T) {
		r := s.post(t, map[string]any{"url": tgURL + "/embeds", "wait_until": "networkidle", "delay": 500, "viewport_width": 300, "viewport_height": 200})
		img := wantImage(t, r, "image/png")
		if !near(img.At(290, 190), blue, 8) {
			t.Errorf("page did not render: %v", img.At(290, 190))
		}
	})
	t.Run("a name the resolver maps to an allowed address works", func(t *testing.T) {
		wantImage(t, s.post(t, map[string]any{"url": "http://fine.test:" + port + "/"}), "image/png")
	})
	time.Sleep(300 * time.Millisecond) // let a stray request arrive before counting
	if n, m := can.conns.Load(), can.requests.Load(); n != 0 || m != 0 {
		t.Errorf("the canary got %d connections and %d requests", n, m)
	}
	if !strings.HasPrefix(can.url, "http://127.0.0.2:") {
		t.Fatal("canary not on 127.0.0.2")
	}
}

// TestWebSocketThroughProxy: an allowed WebSocket is relayed by the proxy
// (the page turns blue only when the socket opens).
func TestWebSocketThroughProxy(t *testing.T) {
	var mux http.ServeMux
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
		buf.Flush()
		io.Copy(io.Discard, conn) // hold the socket open until the page goes
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<html><body style="margin:0;background:#cc0000"><script>
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => { document.body.style.background = "#0000ff"; document.body.id = "open" };
</script></body></html>`)
	})
	srv := httptest.NewServer(&mux)
	defer srv.Close()
	s := sharedServer(t)
	img := wantImage(t, s.post(t, map[string]any{"url": srv.URL, "wait_for_selector": "#open", "timeout": 10, "viewport_width": 200, "viewport_height": 100}), "image/png")
	if !near(img.At(100, 50), blue, 8) {
		t.Errorf("the WebSocket did not open: %v", img.At(100, 50))
	}
}
