package pageshot

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Code is a stable, machine-readable error code. Clients branch on it; the
// wording of messages may change, codes never do.
type Code string

// The error catalogue (SPEC §2). Every error pageshot returns carries one of
// these codes.
const (
	CodeInvalidRequest        Code = "invalid_request"
	CodeMissingAPIKey         Code = "missing_api_key"
	CodeInvalidAPIKey         Code = "invalid_api_key"
	CodeAPIKeyRevoked         Code = "api_key_revoked"
	CodeAPIKeyExpired         Code = "api_key_expired"
	CodeSignatureRequired     Code = "signature_required"
	CodeInvalidSignature      Code = "invalid_signature"
	CodeQuotaExceeded         Code = "quota_exceeded"
	CodeInsufficientScope     Code = "insufficient_scope"
	CodeURLBlocked            Code = "url_blocked"
	CodeNotFound              Code = "not_found"
	CodeMethodNotAllowed      Code = "method_not_allowed"
	CodePayloadTooLarge       Code = "payload_too_large"
	CodeSelectorNotFound      Code = "selector_not_found"
	CodeNameNotResolved       Code = "name_not_resolved"
	CodeContentContainsString Code = "content_contains_specified_string"
	CodePageTooLarge          Code = "page_too_large"
	CodeRateLimited           Code = "rate_limited"
	CodeConcurrencyLimited    Code = "concurrency_limited"
	CodeInternal              Code = "internal_error"
	CodeHostReturnedError     Code = "host_returned_error"
	CodeConnectionFailed      Code = "connection_failed"
	CodeTLSError              Code = "tls_error"
	CodePageCrashed           Code = "page_crashed"
	CodeStorageError          Code = "storage_error"
	CodeServiceUnavailable    Code = "service_unavailable"
	CodeTimeout               Code = "timeout"
)

// CodeInfo describes one entry of the error catalogue.
type CodeInfo struct {
	Code   Code
	Status int    // HTTP status
	Title  string // short human title, used as the problem "title"
	// Retryable tells whether the same request may succeed later. For
	// host_returned_error it depends on the target's status; see
	// Error.Retryable.
	Retryable bool
	When      string // when the code is returned, for the catalogue page
}

var catalogue = []CodeInfo{
	{CodeInvalidRequest, 400, "Invalid request", false, "The body is not JSON, an option is unknown or out of range, both or neither of url and html were given, and so on. The errors member lists every problem."},
	{CodeMissingAPIKey, 401, "Missing API key", false, "No API key was sent."},
	{CodeInvalidAPIKey, 401, "Invalid API key", false, "The API key is unknown."},
	{CodeAPIKeyRevoked, 401, "API key revoked", false, "The API key was revoked."},
	{CodeAPIKeyExpired, 401, "API key expired", false, "The API key is past its expiry."},
	{CodeSignatureRequired, 401, "Signature required", false, "The key accepts signed requests only."},
	{CodeInvalidSignature, 401, "Invalid signature", false, "The signature is wrong, the URL was altered, or it has expired."},
	{CodeQuotaExceeded, 402, "Quota exceeded", false, "The plan's monthly captures are used up."},
	{CodeInsufficientScope, 403, "Insufficient scope", false, "The key lacks the scope this endpoint needs."},
	{CodeURLBlocked, 403, "URL blocked", false, "The target, or where it redirects, is a private, loopback, link-local or metadata address, a reserved name, a scheme other than http(s), or on the key's blocklist. The reason member says which."},
	{CodeNotFound, 404, "Not found", false, "Unknown route, job or artifact."},
	{CodeMethodNotAllowed, 405, "Method not allowed", false, "The route exists but not for this method; the Allow header lists the methods it takes."},
	{CodePayloadTooLarge, 413, "Payload too large", false, "The request body or the html option is larger than the server accepts."},
	{CodeSelectorNotFound, 422, "Selector not found", false, "selector, wait_for_selector or click matched nothing in time."},
	{CodeNameNotResolved, 422, "Name not resolved", false, "DNS lookup of the target's host failed."},
	{CodeContentContainsString, 422, "Content contains specified string", false, "A fail_if_content_contains string is on the page."},
	{CodePageTooLarge, 422, "Page too large", false, "The page downloaded more than the byte limit, the image would pass the pixel limit, or the page took more memory than a renderer may (its JavaScript heap limit, or the resident memory limit)."},
	{CodeRateLimited, 429, "Rate limited", true, "Too many requests for the key, or from the client address without a valid key. See Retry-After."},
	{CodeConcurrencyLimited, 429, "Concurrency limited", true, "Too many captures in flight for the key. See Retry-After."},
	{CodeInternal, 500, "Internal error", true, "A fault of the server; it is logged with the request id."},
	{CodeHostReturnedError, 502, "Host returned error", false, "The target answered with a status outside 200–399 and ignore_host_errors is off. returned_status_code holds the status; retryable when it is 5xx or 429."},
	{CodeConnectionFailed, 502, "Connection failed", true, "The connection to the target was refused, reset or unreachable. Not retryable when the target redirects in a loop."},
	{CodeTLSError, 502, "TLS error", false, "The target's certificate is invalid or expired, or the TLS handshake failed."},
	{CodePageCrashed, 502, "Page crashed", true, "The renderer died on this page for a reason other than memory (which is page_too_large)."},
	{CodeStorageError, 502, "Storage error", true, "Uploading the capture failed after retries."},
	{CodeServiceUnavailable, 503, "Service unavailable", true, "The capture queue is full, no browser was free in time, the browser is restarting, the server is shutting down, its data disk is full, or the database or Redis it shares with other nodes cannot be reached. See Retry-After."},
	{CodeTimeout, 504, "Timeout", true, "The timeout budget ran out. phase says where: navigation, wait, render or upload."},
}

var catalogueIndex = func() map[Code]CodeInfo {
	m := make(map[Code]CodeInfo, len(catalogue))
	for _, c := range catalogue {
		m[c.Code] = c
	}
	return m
}()

// Catalogue returns every error code in documentation order.
func Catalogue() []CodeInfo { return append([]CodeInfo(nil), catalogue...) }

// Info returns the catalogue entry of code; unknown codes describe
// internal_error.
func (c Code) Info() CodeInfo {
	if info, ok := catalogueIndex[c]; ok {
		return info
	}
	return catalogueIndex[CodeInternal]
}

// Timeout phases.
const (
	PhaseNavigation = "navigation"
	PhaseWait       = "wait"
	PhaseRender     = "render"
	PhaseUpload     = "upload"
)

// FieldError is one problem with one option of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the error type of pageshot: a catalogue code, a message that is
// safe to show to the client, and the extra members some codes carry. Err,
// the cause, is for logs only and never sent.
type Error struct {
	Code    Code
	Message string

	Fields             []FieldError  // invalid_request
	ReturnedStatusCode int           // host_returned_error; also informative elsewhere
	Phase              string        // timeout
	Reason             string        // url_blocked
	RetryAfter         time.Duration // rate_limited, concurrency_limited, service_unavailable
	Plan               string        // quota_exceeded
	Limit, Used        int64         // quota_exceeded
	ResetAt            time.Time     // quota_exceeded
	// Permanent marks an error of a usually transient code that the same
	// request would meet again however often it is sent (a redirect loop,
	// a page that exhausts the renderer's memory, storage refusing access):
	// it is not retryable.
	Permanent bool

	Err error
}

// Errorf returns an *Error with code and a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable tells whether the same request may succeed if sent again.
func (e *Error) Retryable() bool {
	if e.Permanent {
		return false
	}
	if e.Code == CodeHostReturnedError {
		return e.ReturnedStatusCode >= 500 || e.ReturnedStatusCode == 429
	}
	return e.Code.Info().Retryable
}

// AsError returns err as an *Error. An error that is not one becomes
// internal_error with err as its cause; nil stays nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "The server failed to process the request.", Err: err}
}

// ErrorCode returns the code of err, internal_error for an error that is not
// an *Error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// InvalidRequest returns an invalid_request error listing every problem.
func InvalidRequest(problems []FieldError) *Error {
	msg := "The request has 1 problem."
	if len(problems) != 1 {
		msg = "The request has " + strconv.Itoa(len(problems)) + " problems."
	}
	if len(problems) > 0 {
		msg += " " + problems[0].Field + ": " + problems[0].Message
		if problems[0].Field == "" {
			msg = "The request has 1 problem: " + problems[0].Message
		}
	}
	return &Error{Code: CodeInvalidRequest, Message: msg, Fields: problems}
}
