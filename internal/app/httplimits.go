package app

import (
	"cmp"
	"net"
	"net/http"
	"time"

	"github.com/pageshot/pageshot/internal/httpapi"
)

// HTTPLimits bound what one client can hold on the server: slow or
// stalled requests and piles of connections.
type HTTPLimits struct {
	// ReadTimeout bounds the reading of a whole request, body included;
	// a client that stalls is disconnected when it passes. The bodies of
	// the API are read before any key is checked or any slot taken.
	// Defaults to 30 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no new
	// request. Defaults to 2 minutes.
	IdleTimeout time.Duration
	// MaxConnsPerAddr caps the open connections of one client address;
	// one more is answered 429 rate_limited and closed. Defaults to 64;
	// a negative value lifts the cap.
	MaxConnsPerAddr int
}

// headerTimeout bounds the reading of a request's headers.
const headerTimeout = 10 * time.Second

func (l HTTPLimits) withDefaults() HTTPLimits {
	l.ReadTimeout = cmp.Or(l.ReadTimeout, 30*time.Second)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, 2*time.Minute)
	l.MaxConnsPerAddr = cmp.Or(l.MaxConnsPerAddr, 64)
	return l
}

// apply sets the timeouts of s.
func (l HTTPLimits) apply(s *http.Server) {
	l = l.withDefaults()
	s.ReadHeaderTimeout = min(headerTimeout, l.ReadTimeout)
	s.ReadTimeout = l.ReadTimeout
	s.IdleTimeout = l.IdleTimeout
}

// listener caps the connections per address of ln, and makes the
// server's own error answers problem documents.
func (l HTTPLimits) listener(ln net.Listener) net.Listener {
	return httpapi.Listener(ln, l.withDefaults().MaxConnsPerAddr)
}
