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
	}{
		{"net::ERR_NAME_NOT_RESOLVED", 0, pageshot.CodeNameNotResolved},
		{"net::ERR_CONNECTION_REFUSED", 0, pageshot.CodeConnectionFailed},
		{"net::ERR_CONNECTION_RESET", 0, pageshot.CodeConnectionFailed},
		{"net::ERR_ADDRESS_UNREACHABLE", 0, pageshot.CodeConnectionFailed},
		{"net::ERR_CERT_DATE_INVALID", 0, pageshot.CodeTLSError},
		{"net::ERR_SSL_PROTOCOL_ERROR", 0, pageshot.CodeTLSError},
		{"net::ERR_HTTP_RESPONSE_CODE_FAILURE", 404, pageshot.CodeHostReturnedError},
		{"net::ERR_BLOCKED_BY_CLIENT", 0, pageshot.CodeURLBlocked},
		{"net::ERR_UNSAFE_PORT", 0, pageshot.CodeURLBlocked},
	} {
		e := pageshot.AsError(navError(c.text, c.status, false))
		if e.Code != c.code {
			t.Errorf("%s: %s, want %s", c.text, e.Code, c.code)
		}
		if e.Code == pageshot.CodeHostReturnedError && e.ReturnedStatusCode != c.status {
			t.Errorf("%s: returned status %d", c.text, e.ReturnedStatusCode)
		}
	}
}
