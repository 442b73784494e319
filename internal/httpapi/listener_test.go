package httpapi

import "testing"

// TestServerError: only the answers net/http writes itself are
// recognised, and by their whole status line and header.
func TestServerError(t *testing.T) {
	for _, c := range []struct {
		write  string
		status string
	}{
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: malformed Host header", "400"},
		{"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large", "431"},
		{"HTTP/1.0 505 HTTP Version Not Supported\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nunsupported protocol version", "505"},
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nX-Request-Id: 1\r\n\r\n{}", ""},
		{"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nok", ""},
		{"HTTP/1.1 4x0 Bad\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", ""},
		{"\x89PNG\r\n\x1a\n", ""},
		{"HTTP/1.1 400", ""},
		{"HTTP/1.2 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", ""},
		{"HTTP/1.1x400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", ""},
		{"", ""},
	} {
		status, n := serverError([]byte(c.write))
		if status != c.status || (n > 0) != (c.status != "") {
			t.Errorf("%q: %q %d, want %q", c.write, status, n, c.status)
		}
		if n > 0 && c.write[n-4:n] != "\r\n\r\n" {
			t.Errorf("%q: the header ends at %d", c.write, n)
		}
	}
}
