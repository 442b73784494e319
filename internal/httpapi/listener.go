package httpapi

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
)

// LimitConns returns a listener that lets each client address hold at most
// perAddr open connections. A connection past the cap is answered at once
// with a 429 rate_limited problem (Retry-After: 1) and closed, before any
// of its request is read, so that nobody can pile up connections. perAddr
// ≤ 0 returns ln unchanged.
func LimitConns(ln net.Listener, perAddr int) net.Listener {
	if perAddr <= 0 {
		return ln
	}
	return &connCap{Listener: ln, max: perAddr, open: map[string]int{}}
}

type connCap struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *connCap) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := hostOf(c.RemoteAddr())
		l.mu.Lock()
		over := l.open[addr] >= l.max
		if !over {
			l.open[addr]++
		}
		l.mu.Unlock()
		if over {
			go refuseConn(c, l.max)
			continue
		}
		return &cappedConn{Conn: c, release: func() { l.release(addr) }}, nil
	}
}

func (l *connCap) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[addr]--; l.open[addr] <= 0 {
		delete(l.open, addr)
	}
}

func hostOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// cappedConn gives its place back once, when closed.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// refuseConn answers a connection past the cap with a problem document and
// closes it.
func refuseConn(c net.Conn, limit int) {
	defer c.Close()
	id := newID()
	body, _ := json.Marshal(problem{
		Type: "/docs/errors#" + string(pageshot.CodeRateLimited), Title: pageshot.CodeRateLimited.Info().Title,
		Status: 429, Code: string(pageshot.CodeRateLimited), Retryable: true, RequestID: id, RetryAfter: 1,
		Detail: fmt.Sprintf("This address already holds %d open connections to the server.", limit),
	})
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\nRetry-After: 1\r\nX-Request-Id: %s\r\n%s: %s\r\nConnection: close\r\n\r\n%s",
		len(body)+1, id, errorCodeHeader, pageshot.CodeRateLimited, string(body)+"\n")
}
