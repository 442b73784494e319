package app_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/waittest"
)

// TestSignedURLScope: a signature authenticates GET and HEAD
// /v1/screenshot only; the query of a signed <img src> opens no other
// route, and ambiguous credentials are refused.
func TestSignedURLScope(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, nil)
	k, key := s.newKey(t, "five", nil)
	other, otherKey := s.newKey(t, "five", nil)
	signed := signedURL(s.url, k, url.Values{"url": {tg.URL + "/"}, "viewport_width": {"200"}, "viewport_height": {"100"}}, time.Now().Add(time.Hour))
	query := signed[strings.Index(signed, "?"):]
	send := func(method, path string, header ...string) *response {
		req, _ := http.NewRequest(method, s.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return s.send(t, req)
	}

	wantSize(t, wantImage(t, send("GET", "/v1/screenshot"+query), "image/png"), 200, 100)
	head := send("HEAD", "/v1/screenshot"+query)
	if head.StatusCode != 200 || head.Header.Get("Content-Type") != "image/png" || len(head.body) != 0 {
		t.Errorf("HEAD of a signed URL: %d %q, %d bytes", head.StatusCode, head.Header.Get("Content-Type"), len(head.body))
	}
	for _, path := range []string{"/v1/usage", "/v1/jobs/job_x", "/v1/jobs/job_x/items/0/artifact"} {
		wantProblem(t, send("GET", path+query), 401, "invalid_signature")
	}
	wantProblem(t, send("DELETE", "/v1/jobs/job_x"+query), 401, "invalid_signature")
	wantProblem(t, send("POST", "/v1/screenshot"+query), 401, "invalid_signature")
	// With a valid key beside it, the signature still opens nothing.
	wantProblem(t, send("GET", "/v1/usage"+query, bearer(key)...), 401, "invalid_signature")

	t.Run("ambiguous credentials", func(t *testing.T) {
		wantProblem(t, send("GET", "/v1/usage", "Authorization", "Bearer "+key, "X-API-Key", otherKey), 401, "invalid_api_key")
		wantProblem(t, send("GET", "/v1/usage?access_key="+url.QueryEscape(otherKey), bearer(key)...), 401, "invalid_api_key")
		wantProblem(t, send("GET", "/v1/screenshot"+query+"&signature=00"), 401, "invalid_signature")
		wantProblem(t, send("GET", "/v1/screenshot"+query+"&access_key="+other.ID), 401, "invalid_signature")
		wantProblem(t, send("GET", "/v1/screenshot"+query, bearer(otherKey)...), 401, "invalid_api_key")
		// The same key twice is not ambiguous.
		r := send("GET", "/v1/usage", "Authorization", "Bearer "+key, "X-API-Key", key)
		if r.StatusCode != 200 {
			t.Errorf("the same key in both headers: %d %s", r.StatusCode, r.body)
		}
	})
	if u := s.usage(t, k.ID); u.Committed != 2 {
		t.Errorf("the signed key was charged %d captures, want 2 (GET and HEAD)", u.Committed)
	}
}

// stall opens a connection to s and sends the headers of a POST
// /v1/screenshot with key and the start of its body, then nothing more.
func stall(t *testing.T, s *server, key string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "POST /v1/screenshot HTTP/1.1\r\nHost: pageshot\r\nAuthorization: Bearer "+key+
		"\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"url\": "); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowClients: requests whose bodies stall hold neither the key's
// concurrency slot nor its quota, and the server closes them when the
// read timeout passes.
func TestSlowClients(t *testing.T) {
	const readTimeout = 3 * time.Second
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { c.HTTP.ReadTimeout = readTimeout })
	k, key := s.newKey(t, "single", nil)

	var stalled []net.Conn
	start := time.Now()
	for range 4 {
		stalled = append(stalled, stall(t, s, key))
	}
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "viewport_width": 200, "viewport_height": 100}, bearer(key)...))
	wantSize(t, wantImage(t, r, "image/png"), 200, 100)
	if u := s.usage(t, k.ID); u.Committed != 1 || u.Reserved != 0 {
		t.Errorf("usage %+v, want 1 capture and nothing reserved", u)
	}
	for i, c := range stalled {
		// The deadline only bounds the test if the server never closes.
		_ = c.SetReadDeadline(start.Add(readTimeout + 5*time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("stalled request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("stalled request %d: %d %s", i, res.StatusCode, body)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("stalled request %d: the server did not close the connection", i)
			}
		}
	}
	if elapsed := time.Since(start); elapsed < readTimeout {
		t.Errorf("stalled requests answered after %s, before the read timeout", elapsed)
	}
	// A capture that lasts longer than the read timeout is not cut by it.
	wantImage(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "delay": 4000}, bearer(key)...)), "image/png")
}

// TestConnectionCap: one address holds at most MaxConnsPerAddr open
// connections; one more is answered rate_limited and closed, and a
// connection closed gives its place back.
func TestConnectionCap(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.HTTP.MaxConnsPerAddr = 3 })
	addr := strings.TrimPrefix(s.url, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// refused reports whether c was answered 429 at once; a connection
	// within the cap answers a request instead.
	refused := func(c net.Conn) bool {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: pageshot\r\n\r\n"); err != nil {
			return true // closed already
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 429 {
			if res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("Retry-After") != "1" || res.Header.Get("X-Request-Id") == "" {
				t.Errorf("refusal without a problem document: %v", res.Header)
			}
			return true
		}
		return false
	}
	var held []net.Conn
	for i := range 3 {
		c := dial()
		if refused(c) {
			t.Fatalf("connection %d refused within the cap", i+1)
		}
		held = append(held, c)
	}
	if !refused(dial()) {
		t.Fatal("a fourth connection from the same address was served")
	}
	held[0].Close()
	if !waittest.Poll(10*time.Second, 20*time.Millisecond, func() bool { return !refused(dial()) }) {
		t.Fatal("a closed connection did not give its place back")
	}
}

// TestClientFaults: what a client got wrong is a 400 listing every
// problem, never a 500, a timeout or a silently wrong picture.
func TestClientFaults(t *testing.T) {
	tg := newTarget(t)
	s := sharedServer(t)
	small := func(opts map[string]any) map[string]any {
		opts["url"], opts["viewport_width"], opts["viewport_height"] = tg.URL, 400, 300
		return opts
	}
	for _, c := range []struct {
		name   string
		opts   map[string]any
		fields []string
	}{
		{"CSS injection in hide_selectors", small(map[string]any{"hide_selectors": []string{"#box", "x { } body"}}), []string{"hide_selectors"}},
		{"an invalid hide_selectors entry", small(map[string]any{"hide_selectors": []string{"#box", "p:nope("}}), []string{"hide_selectors"}},
		{"every invalid selector at once", small(map[string]any{"selector": "##", "click": "[", "wait_for_selector": "a)", "hide_selectors": []string{"}"}}),
			[]string{"selector", "wait_for_selector", "click", "hide_selectors"}},
		{"port above 65535", map[string]any{"url": "http://127.0.0.1:70000/"}, []string{"url"}},
		{"control character in user_agent", small(map[string]any{"user_agent": "Mozilla\x01"}), []string{"user_agent"}},
		{"control character in a header", small(map[string]any{"headers": map[string]string{"X-A": "a\x00b"}}), []string{"headers"}},
		{"a header the browser owns", small(map[string]any{"headers": map[string]string{"Host": "evil.example", "Transfer-Encoding": "chunked"}}), []string{"headers", "headers"}},
		{"delay as long as the timeout", small(map[string]any{"delay": 2000, "timeout": 2}), []string{"delay"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, s.post(t, c.opts), 400, "invalid_request")
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Errorf("problems with %v, want %v: %+v", got, c.fields, p.Errors)
			}
		})
	}
	t.Run("valid hide_selectors each hide their own", func(t *testing.T) {
		img := wantImage(t, s.post(t, small(map[string]any{"hide_selectors": []string{"#box", "p:has(> nothing)", `[title="{"]`}})), "image/png")
		if px := img.At(150, 80); !near(px, red, 8) {
			t.Errorf("the box shows: %v", px)
		}
	})
	t.Run("a BCP 47 tag with extensions", func(t *testing.T) {
		wantImage(t, s.post(t, small(map[string]any{"locale": "de-DE-u-co-phonebk"})), "image/png")
	})
	t.Run("duplicate members", func(t *testing.T) {
		p := wantProblem(t, s.post(t, `{"url": "`+tg.URL+`", "url": "http://127.0.0.2/"}`), 400, "invalid_request")
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" {
			t.Errorf("%+v", p.Errors)
		}
		req, _ := http.NewRequest("POST", s.url+"/v1/jobs", strings.NewReader(`{"items": [{"url": "`+tg.URL+`", "url": "http://127.0.0.2/"}]}`))
		p = wantProblem(t, s.do(t, req), 400, "invalid_request")
		if len(p.Errors) != 1 || p.Errors[0].Field != "items.url" {
			t.Errorf("%+v", p.Errors)
		}
	})
}

// TestIDNHost: an internationalized host name is captured: its ASCII form
// is what the guard checks and the resolver is asked for.
func TestIDNHost(t *testing.T) {
	tg := newTarget(t)
	_, port, _ := net.SplitHostPort(tg.Listener.Addr().String())
	s := startServer(t, func(c *app.Config) {
		c.Resolver = &rebinder{static: map[string]netip.Addr{"xn--bcher-kva.test": netip.MustParseAddr("127.0.0.1")}}
	})
	img := wantImage(t, s.post(t, map[string]any{"url": "http://bücher.test:" + port + "/", "viewport_width": 400, "viewport_height": 300}), "image/png")
	if px := img.At(150, 80); !near(px, blue, 8) {
		t.Errorf("pixel %v, want the page's blue box", px)
	}
}

// TestEveryErrorIsAProblem: answers that net/http or its router would
// write themselves (an unclean path's redirect, headers too large, a
// malformed request) and a POST's query string are problem documents.
func TestEveryErrorIsAProblem(t *testing.T) {
	s := sharedServer(t)
	for _, path := range []string{"//v1/usage", "/v1/./usage", "/v1/jobs/../usage", "/docs//errors"} {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.URL.Opaque = path // sent as it is, not cleaned by the client
		wantProblem(t, s.do(t, req), 404, "not_found")
	}
	// Requests net/http refuses before any handler: headers (here the
	// query) too large, a malformed header line.
	for _, c := range []struct {
		request, code string
		status        int
	}{
		{"GET /v1/usage?q=" + strings.Repeat("x", 2<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n", "payload_too_large", 413},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", "invalid_request", 400},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go io.WriteString(conn, c.request)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		if res.StatusCode != c.status || res.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(body), `"code":"`+c.code+`"`) || res.Header.Get("X-Request-Id") == "" {
			t.Errorf("%.40s: %d %s %s", c.request, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}

	// A POST takes its options in the body; a query is refused, not ignored.
	req, _ := http.NewRequest("POST", s.url+"/v1/screenshot?format=jpeg&full_page=true", strings.NewReader(`{"url": "http://127.0.0.1:1/"}`))
	p := wantProblem(t, s.do(t, req), 400, "invalid_request")
	if len(p.Errors) != 2 || p.Errors[0].Field != "format" || p.Errors[1].Field != "full_page" {
		t.Errorf("%+v", p.Errors)
	}
}
