package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
)

// Proxy is a forward proxy for plain HTTP and CONNECT that the browser must
// use for everything. It resolves every host itself, checks every address
// with its Policy, and dials exactly an address it checked, so a DNS answer
// that changes between a check and the connection cannot reach a refused
// address. It is safe for concurrent use.
type Proxy struct {
	policy *Policy
	log    *slog.Logger
	dialer net.Dialer
	tr     *http.Transport
	srv    *http.Server
	ln     net.Listener

	stopOnce sync.Once
}

// NewProxy returns a proxy enforcing policy. Start runs it.
func NewProxy(policy *Policy, log *slog.Logger) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{policy: policy, log: log, dialer: net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}}
	p.tr = &http.Transport{
		Proxy:        nil, // never another proxy from the environment
		DialContext:  p.dial,
		MaxIdleConns: 64,
		// A page opens up to six connections to a host, and captures of
		// the same site follow each other: net/http's default of two
		// idle connections a host had most of them dialled anew. A kept
		// connection was dialled through the policy like any other.
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		DisableCompression:    true, // pass the browser's Accept-Encoding through
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	return p
}

// Start listens on a free loopback port and serves.
func (p *Proxy) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen egress proxy: %w", err)
	}
	p.ln = ln
	go func() { _ = p.srv.Serve(ln) }()
	return nil
}

// URL is the proxy's address for the browser's --proxy-server.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Stop closes the proxy and every connection through it. Safe to call
// twice.
func (p *Proxy) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		err = p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return err
}

// dial connects to host:port through the policy.
func (p *Proxy) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	return p.policy.dial(ctx, &p.dialer, hostport)
}

// ServeHTTP implements the proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		p.refuse(w, pageshot.Errorf(pageshot.CodeURLBlocked, "Only absolute http URLs go through this proxy."))
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	removeHopHeaders(out.Header)
	if isUpgrade(r) {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", r.Header.Get("Upgrade"))
	}
	res, err := p.tr.RoundTrip(out)
	if err != nil {
		p.refuse(w, err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		p.switchProtocols(w, res)
		return
	}
	removeHopHeaders(res.Header)
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

// connect opens a tunnel for HTTPS and secure WebSockets.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	conn, err := p.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		p.refuse(w, err)
		return
	}
	p.splice(w, conn, func(client io.Writer) error {
		_, err := io.WriteString(client, "HTTP/1.1 200 Connection Established\r\n\r\n")
		return err
	})
}

// switchProtocols relays a WebSocket (or other upgrade) after a 101.
func (p *Proxy) switchProtocols(w http.ResponseWriter, res *http.Response) {
	upstream, ok := res.Body.(io.ReadWriteCloser)
	if !ok {
		p.refuse(w, errors.New("upgrade not supported"))
		return
	}
	p.splice(w, upstream, res.Write)
}

// splice takes over the client's connection, writes the answer that opens
// the relay with hello, and then copies bytes both ways until either side
// closes.
func (p *Proxy) splice(w http.ResponseWriter, upstream io.ReadWriteCloser, hello func(io.Writer) error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		p.refuse(w, errors.New("cannot take over the connection"))
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if err := hello(client); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	if n := buf.Reader.Buffered(); n > 0 {
		b, _ := buf.Reader.Peek(n)
		_, _ = upstream.Write(b)
	}
	pipe(client, upstream)
}

func pipe(a, b io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	cp := func(dst, src io.ReadWriteCloser) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// refuse answers a request the proxy will not or cannot carry. The code
// and reason go in headers so the capture can report them.
func (p *Proxy) refuse(w http.ResponseWriter, err error) {
	e := pageshot.AsError(err)
	status := http.StatusBadGateway
	if e.Code == pageshot.CodeURLBlocked {
		status = http.StatusForbidden
	}
	p.log.Debug("egress refused", "code", e.Code, "reason", e.Reason, "err", err)
	h := w.Header()
	h.Set(pageshot.EgressErrorHeader, string(e.Code))
	if e.Reason != "" {
		h.Set(pageshot.EgressReasonHeader, e.Reason)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The body is what a frame of the page shows, and so what the
	// capture shows to whoever wrote the page: it names no address, class
	// or reason, which would map the network behind the proxy.
	body := "pageshot could not load this address.\n"
	if e.Code == pageshot.CodeURLBlocked {
		body = "pageshot refused to load this address.\n"
	}
	_, _ = io.WriteString(w, body)
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, f := range strings.Split(h.Get("Connection"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			h.Del(f)
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func isUpgrade(r *http.Request) bool {
	for _, v := range strings.Split(r.Header.Get("Connection"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), "upgrade") {
			return r.Header.Get("Upgrade") != ""
		}
	}
	return false
}
