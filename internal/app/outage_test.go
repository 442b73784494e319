package app_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/pgtest"
)

// cuttable is a TCP path to a real server that the test can cut and
// restore on the same address: while it is cut, connections are refused
// and those open are closed, as when the server goes down.
type cuttable struct {
	t      *testing.T
	addr   string // where clients connect
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newCuttable(t *testing.T, target string) *cuttable {
	c := &cuttable{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.cut)
	return c
}

func (c *cuttable) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for conn := range c.conns {
		conn.Close()
	}
	clear(c.conns)
}

// restore listens again on the same address.
func (c *cuttable) restore() {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.serve(ln)
}

// TestDatabaseOutage: with PostgreSQL unreachable, requests that need it
// answer 503 service_unavailable with Retry-After, never 500, and /readyz
// answers 503; once it is back, the same server serves again.
func TestDatabaseOutage(t *testing.T) {
	tg := newTarget(t)
	dbURL, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	path := newCuttable(t, dbURL.Host)
	dbURL.Host = path.addr
	s := newTenancyServer(t, func(c *app.Config) { c.DatabaseURL = dbURL.String() })
	capture := func() *response {
		return s.post(t, map[string]any{"url": tg.URL, "viewport_width": 200, "viewport_height": 150})
	}
	wantImage(t, capture(), "image/png")

	path.cut()
	for _, r := range []*response{capture(), s.get(t, "/v1/usage"), capture()} {
		p := wantProblem(t, r, http.StatusServiceUnavailable, "service_unavailable")
		if !*p.Retryable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: retryable %v, Retry-After %q", r.Request.URL.Path, *p.Retryable, r.Header.Get("Retry-After"))
		}
	}
	if r := s.get(t, "/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d", r.StatusCode)
	}
	if n := tg.hitsOf("/"); n != 1 {
		t.Errorf("the target was fetched %d times; the captures without a database must not run", n)
	}

	path.restore()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := capture()
		if r.StatusCode == http.StatusOK {
			break
		}
		if r.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the database came back: %d %s", r.StatusCode, r.body)
		}
		time.Sleep(200 * time.Millisecond) // polling for recovery, with a deadline
	}
	if r := s.get(t, "/readyz"); r.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the database came back: %d", r.StatusCode)
	}
}
