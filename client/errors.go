package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pageshot/pageshot"
)

// Code is a stable error code of the API; the catalogue is served at
// /docs/errors.
type Code = pageshot.Code

// The error codes of the catalogue.
const (
	CodeInvalidRequest        = pageshot.CodeInvalidRequest
	CodeMissingAPIKey         = pageshot.CodeMissingAPIKey
	CodeInvalidAPIKey         = pageshot.CodeInvalidAPIKey
	CodeAPIKeyRevoked         = pageshot.CodeAPIKeyRevoked
	CodeAPIKeyExpired         = pageshot.CodeAPIKeyExpired
	CodeSignatureRequired     = pageshot.CodeSignatureRequired
	CodeInvalidSignature      = pageshot.CodeInvalidSignature
	CodeQuotaExceeded         = pageshot.CodeQuotaExceeded
	CodeInsufficientScope     = pageshot.CodeInsufficientScope
	CodeURLBlocked            = pageshot.CodeURLBlocked
	CodeNotFound              = pageshot.CodeNotFound
	CodeMethodNotAllowed      = pageshot.CodeMethodNotAllowed
	CodePayloadTooLarge       = pageshot.CodePayloadTooLarge
	CodeSelectorNotFound      = pageshot.CodeSelectorNotFound
	CodeNameNotResolved       = pageshot.CodeNameNotResolved
	CodeContentContainsString = pageshot.CodeContentContainsString
	CodePageTooLarge          = pageshot.CodePageTooLarge
	CodeRateLimited           = pageshot.CodeRateLimited
	CodeConcurrencyLimited    = pageshot.CodeConcurrencyLimited
	CodeInternal              = pageshot.CodeInternal
	CodeHostReturnedError     = pageshot.CodeHostReturnedError
	CodeConnectionFailed      = pageshot.CodeConnectionFailed
	CodeTLSError              = pageshot.CodeTLSError
	CodePageCrashed           = pageshot.CodePageCrashed
	CodeStorageError          = pageshot.CodeStorageError
	CodeServiceUnavailable    = pageshot.CodeServiceUnavailable
	CodeTimeout               = pageshot.CodeTimeout
)

// FieldError is one problem of an invalid_request.
type FieldError = pageshot.FieldError

// Error is an error answer of the server: its problem document. Code and
// Retryable are what to branch on; Detail is for people and may change.
type Error struct {
	Type      string // link to the code's entry in /docs/errors
	Title     string
	Status    int // HTTP status
	Detail    string
	Code      Code
	Retryable bool
	RequestID string // quote it when reporting a problem

	// RetryAfter is the wait the server asked for (Retry-After), zero when
	// it asked for none.
	RetryAfter time.Duration
	// Errors lists every problem of an invalid_request.
	Errors []FieldError
	// ReturnedStatusCode is the target's status of a host_returned_error.
	ReturnedStatusCode int
	Phase              string // timeout: navigation, wait, render or upload
	Reason             string // url_blocked: why
	// Plan, Limit, Used and ResetAt describe a quota_exceeded.
	Plan        string
	Limit, Used int64
	ResetAt     time.Time

	// Members holds every member of the document, those above included,
	// for members this version of the client does not know.
	Members map[string]json.RawMessage
}

func (e *Error) Error() string {
	s := fmt.Sprintf("pageshot: %s (%d): %s", e.Code, e.Status, e.Detail)
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// parseError reads a non-2xx answer. An answer that is not a problem
// document (a proxy's error page) becomes an Error whose code is the one its
// status most likely means (rate_limited for 429, service_unavailable for
// 503, not_found for 404, internal_error for other 5xx, invalid_request for
// other 4xx), retryable for 5xx and 429.
func parseError(res *http.Response, body []byte) *Error {
	var doc struct {
		Type               string       `json:"type"`
		Title              string       `json:"title"`
		Status             int          `json:"status"`
		Detail             string       `json:"detail"`
		Code               Code         `json:"code"`
		Retryable          bool         `json:"retryable"`
		RequestID          string       `json:"request_id"`
		Errors             []FieldError `json:"errors"`
		ReturnedStatusCode int          `json:"returned_status_code"`
		Phase              string       `json:"phase"`
		Reason             string       `json:"reason"`
		RetryAfter         int          `json:"retry_after"`
		Plan               string       `json:"plan"`
		Limit              int64        `json:"limit"`
		Used               int64        `json:"used"`
		ResetAt            int64        `json:"reset_at"`
	}
	e := &Error{Status: res.StatusCode, RequestID: res.Header.Get("X-Request-Id")}
	if json.Unmarshal(body, &doc) != nil || doc.Code == "" {
		switch {
		case res.StatusCode == http.StatusTooManyRequests:
			e.Code = CodeRateLimited
		case res.StatusCode == http.StatusServiceUnavailable:
			e.Code = CodeServiceUnavailable
		case res.StatusCode == http.StatusNotFound:
			e.Code = CodeNotFound
		case res.StatusCode >= 500:
			e.Code = CodeInternal
		default:
			e.Code = CodeInvalidRequest
		}
		e.Title = http.StatusText(res.StatusCode)
		e.Detail = fmt.Sprintf("The server answered %d without a problem document.", res.StatusCode)
		e.Retryable = res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
		e.RetryAfter = retryAfter(res.Header.Get("Retry-After"), 0)
		return e
	}
	_ = json.Unmarshal(body, &e.Members)
	e.Type, e.Title, e.Detail, e.Code, e.Retryable = doc.Type, doc.Title, doc.Detail, doc.Code, doc.Retryable
	if doc.Status != 0 {
		e.Status = doc.Status
	}
	if doc.RequestID != "" {
		e.RequestID = doc.RequestID
	}
	e.Errors, e.ReturnedStatusCode, e.Phase, e.Reason = doc.Errors, doc.ReturnedStatusCode, doc.Phase, doc.Reason
	e.Plan, e.Limit, e.Used = doc.Plan, doc.Limit, doc.Used
	if doc.ResetAt > 0 {
		e.ResetAt = time.Unix(doc.ResetAt, 0)
	}
	e.RetryAfter = retryAfter(res.Header.Get("Retry-After"), doc.RetryAfter)
	return e
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), falling
// back to the retry_after member.
func retryAfter(header string, member int) time.Duration {
	if n, err := strconv.Atoi(header); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(header); err == nil {
		return max(0, time.Until(t))
	}
	return time.Duration(member) * time.Second
}
