package browser

import (
	"strconv"
	"strings"

	"github.com/pageshot/pageshot"
)

// navError maps the errorText of a failed Page.navigate (a Chromium net
// error name such as net::ERR_NAME_NOT_RESOLVED) to the catalogue. status is
// the HTTP status of the main document when one arrived.
func navError(text string, status int, ignoreHostErrors bool) error {
	name := strings.TrimPrefix(text, "net::")
	e := &pageshot.Error{}
	switch {
	case name == "ERR_HTTP_RESPONSE_CODE_FAILURE" || status >= 400 && !ignoreHostErrors:
		// An error status with an empty body: Chromium shows its own error
		// page and reports the navigation as failed.
		e.Code = pageshot.CodeHostReturnedError
		e.ReturnedStatusCode = status
		e.Message = "The target answered with an HTTP error status."
		if status > 0 {
			e.Message = "The target answered with HTTP status " + strconv.Itoa(status) + "."
		}
	case name == "ERR_NAME_NOT_RESOLVED" || name == "ERR_NAME_RESOLUTION_FAILED" || name == "ERR_DNS_TIMED_OUT":
		e.Code = pageshot.CodeNameNotResolved
		e.Message = "The target's host name could not be resolved."
	case strings.HasPrefix(name, "ERR_CERT_") || strings.HasPrefix(name, "ERR_SSL_") ||
		name == "ERR_BAD_SSL_CLIENT_AUTH_CERT" || name == "ERR_TLS_HANDSHAKE_FAILED":
		e.Code = pageshot.CodeTLSError
		e.Message = "The TLS connection to the target failed: " + name + "."
	case name == "ERR_BLOCKED_BY_CLIENT" || name == "ERR_BLOCKED_BY_ADMINISTRATOR" || name == "ERR_UNSAFE_PORT" || name == "ERR_DISALLOWED_URL_SCHEME":
		e.Code = pageshot.CodeURLBlocked
		e.Reason = "blocked"
		e.Message = "The browser refused to load the target: " + name + "."
	case name == "ERR_UNSAFE_REDIRECT":
		// A redirect to file:, data:, chrome: and the like, which the
		// browser refuses to follow.
		e.Code = pageshot.CodeURLBlocked
		e.Reason = "scheme"
		e.Message = "The target redirected to a scheme that is not allowed; only http and https are."
	case name == "ERR_TOO_MANY_REDIRECTS":
		e.Code = pageshot.CodeConnectionFailed
		e.Permanent = true
		e.Message = "The target redirects in a loop."
	case name == "ERR_TIMED_OUT" || name == "ERR_CONNECTION_TIMED_OUT":
		e.Code = pageshot.CodeConnectionFailed
		e.Message = "Connecting to the target timed out."
	case name == "ERR_RESPONSE_HEADERS_TOO_BIG" || name == "ERR_FILE_TOO_BIG" || name == "ERR_CONTENT_LENGTH_MISMATCH":
		e.Code = pageshot.CodePageTooLarge
		e.Message = "The target's response was too large: " + name + "."
	default:
		// Refused, reset, closed, unreachable, empty response, invalid
		// response, too many redirects: the target could not be reached.
		e.Code = pageshot.CodeConnectionFailed
		e.Message = "The target could not be reached: " + name + "."
	}
	return e
}
