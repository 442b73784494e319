package browser

import (
	"testing"

	"github.com/pageshot/pageshot"
)

func TestNavError(t *testing.T) {
	for _, c := range []struct {
		text   string
		status int
		code   pageshot.Code
		retry  bool
	}{
		{"net::ERR_NAME_NOT_RESOLVED", 0, pageshot.CodeNameNotResolved, false},
		{"net::ERR_CONNECTION_REFUSED", 0, pageshot.CodeConnectionFailed, true},
		{"net::ERR_CONNECTION_RESET", 0, pageshot.CodeConnectionFailed, true},
		{"net::ERR_ADDRESS_UNREACHABLE", 0, pageshot.CodeConnectionFailed, true},
		{"net::ERR_CERT_DATE_INVALID", 0, pageshot.CodeTLSError, false},
		{"net::ERR_SSL_PROTOCOL_ERROR", 0, pageshot.CodeTLSError, false},
		{"net::ERR_HTTP_RESPONSE_CODE_FAILURE", 404, pageshot.CodeHostReturnedError, false},
		{"net::ERR_BLOCKED_BY_CLIENT", 0, pageshot.CodeURLBlocked, false},
		{"net::ERR_UNSAFE_PORT", 0, pageshot.CodeURLBlocked, false},
		{"net::ERR_UNSAFE_REDIRECT", 0, pageshot.CodeURLBlocked, false},
		{"net::ERR_TOO_MANY_REDIRECTS", 0, pageshot.CodeConnectionFailed, false},
	} {
		e := pageshot.AsError(navError(c.text, c.status, false))
		if e.Code != c.code || e.Retryable() != c.retry {
			t.Errorf("%s: %s (retryable %t), want %s (%t)", c.text, e.Code, e.Retryable(), c.code, c.retry)
		}
		if e.Code == pageshot.CodeHostReturnedError && e.ReturnedStatusCode != c.status {
			t.Errorf("%s: returned status %d", c.text, e.ReturnedStatusCode)
		}
	}
}
