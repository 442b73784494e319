package pageshot

import (
	"context"
	"net/url"
)

// URLGuard decides whether a capture may reach a URL. It is consulted before
// the browser navigates and for every navigation of the main frame
// (redirects included).
type URLGuard interface {
	// CheckURL returns nil when u may be fetched. It returns an *Error with
	// code url_blocked and a Reason when the scheme, the host name or any
	// address the host resolves to is forbidden, and name_not_resolved when
	// the host has no address.
	CheckURL(ctx context.Context, u *url.URL) error
}

// Headers by which the egress proxy tells the render engine why it refused
// a request: the catalogue code, and for url_blocked the reason. They ride
// on the proxy's own answer, which the browser shows as the response.
const (
	EgressErrorHeader  = "X-Pageshot-Egress-Error"
	EgressReasonHeader = "X-Pageshot-Egress-Reason"
)
