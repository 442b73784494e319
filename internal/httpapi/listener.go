package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
)

// Listener wraps the API's listener. It lets each client address hold at
// most perAddr open connections (no cap when perAddr ≤ 0): a connection
// past the cap is answered at once with a 429 rate_limited problem
// (Retry-After: 1) and closed, before any of its request is read, so that
// nobody can pile up connections. And it turns the plain-text answers that
// net/http writes itself, before any handler runs, into problem documents:
// headers too large (431) become payload_too_large, a malformed request
// invalid_request.
func Listener(ln net.Listener, perAddr int) net.Listener {
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
		over := l.max > 0 && l.open[addr] >= l.max
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

// cappedConn gives its place back once, when closed, and rewrites the
// server's own plain-text error answers.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// serverErrorHeader is what follows the status line of an answer that
// net/http writes itself on a malformed or oversized request, in one
// write.
const serverErrorHeader = "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverError returns the status of b when b is such an answer, and the
// length of its status line and header. It is asked of every write, so it
// looks at as few bytes as it can.
func serverError(b []byte) (status string, n int) {
	// "HTTP/1.1 400 " at least: a status line of a 4xx or 5xx.
	if len(b) < 13 || string(b[:7]) != "HTTP/1." || (b[7] != '0' && b[7] != '1') || b[8] != ' ' ||
		b[9] < '4' || b[9] > '5' || !isDigit(b[10]) || !isDigit(b[11]) || b[12] != ' ' {
		return "", 0
	}
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 || !bytes.HasPrefix(b[end+2:], []byte(serverErrorHeader)) {
		return "", 0
	}
	return string(b[9:12]), end + 2 + len(serverErrorHeader)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (c *cappedConn) Write(b []byte) (int, error) {
	status, n := serverError(b)
	if n == 0 {
		return c.Conn.Write(b)
	}
	e := pageshot.Errorf(pageshot.CodeInvalidRequest, "The request is malformed: %s.", strings.TrimSpace(string(b[n:])))
	e.Fields = []pageshot.FieldError{{Field: "", Message: e.Message}}
	if status == "431" {
		e = pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request's headers, or its URL, are larger than the server takes.")
	}
	if _, err := c.Conn.Write(rawProblem(e, "")); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *cappedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// refuseConn answers a connection past the cap with a problem document and
// closes it.
func refuseConn(c net.Conn, limit int) {
	defer c.Close()
	e := pageshot.Errorf(pageshot.CodeRateLimited, "This address already holds %d open connections to the server.", limit)
	e.RetryAfter = time.Second
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(rawProblem(e, "Retry-After: 1\r\n"))
}

// rawProblem is a whole HTTP/1.1 answer, connection closing, that carries
// e as a problem document; for the answers written below net/http.
func rawProblem(e *pageshot.Error, header string) []byte {
	info := e.Code.Info()
	id := newID()
	p := problem{
		Type: "/docs/errors#" + string(info.Code), Title: info.Title, Status: info.Status, Detail: e.Message,
		Code: string(info.Code), Retryable: e.Retryable(), RequestID: id, Errors: e.Fields,
		RetryAfter: int(e.RetryAfter / time.Second),
	}
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\nX-Request-Id: %s\r\n%s: %s\r\n%sConnection: close\r\n\r\n%s",
		info.Status, http.StatusText(info.Status), len(body), id, errorCodeHeader, info.Code, header, body)
}
