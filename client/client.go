// Package client is the Go SDK of pageshot's HTTP API: captures, jobs,
// usage, signed URLs and webhook verification. It uses the standard library
// only.
//
// Every method returns a *Error for an answer of the server that is an
// error (an RFC 9457 problem document); branch on its Code with errors.As.
// Answers whose code is retryable (rate_limited, service_unavailable, …)
// and failed connections are retried as the client's RetryPolicy says,
// waiting as long as the server's Retry-After asks; other errors never are.
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("PAGESHOT_KEY"))
//	shot, err := c.Screenshot(ctx, &client.Options{URL: "https://example.com/", FullPage: true})
//	var perr *client.Error
//	if errors.As(err, &perr) && perr.Code == client.CodeURLBlocked { … }
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls one pageshot server with one API key. It is safe for
// concurrent use.
type Client struct {
	base  string
	key   string
	http  *http.Client
	retry RetryPolicy
	agent string
}

// RetryPolicy says how a request is retried after a retryable error answer
// or a failed connection. The zero value takes the defaults in the fields'
// comments.
type RetryPolicy struct {
	// MaxAttempts is the number of tries of a request, the first
	// included. Defaults to 4; 1 never retries.
	MaxAttempts int
	// BaseDelay is the wait before the first retry when the server gave
	// no Retry-After; it doubles with each retry, with full jitter.
	// Defaults to 500 ms.
	BaseDelay time.Duration
	// MaxDelay caps a wait, Retry-After included: a server asking for
	// longer ends the retries with its error. Defaults to 60 s.
	MaxDelay time.Duration
	// OnRetry, when set, is called before each wait with the attempt
	// that failed (from 1), its error and the wait.
	OnRetry func(attempt int, err error, wait time.Duration)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 60 * time.Second
	}
	return p
}

// An Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a client with a
// five-minute timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRetry sets the retry policy.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p.withDefaults() } }

// WithoutRetry sends every request once.
func WithoutRetry() Option { return WithRetry(RetryPolicy{MaxAttempts: 1}) }

// WithUserAgent sets the User-Agent header of requests.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// New returns a client of the server at baseURL (such as
// http://127.0.0.1:8080) using the API key key ("key_….secret").
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{
		base:  strings.TrimSuffix(baseURL, "/"),
		key:   key,
		http:  &http.Client{Timeout: 5 * time.Minute},
		retry: RetryPolicy{}.withDefaults(),
		agent: "pageshot-go",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// request is one API call, resent as is on retries.
type request struct {
	method, path string
	body         []byte // JSON; nil for none
	// retryConnErrors resends after a failed connection; false for
	// requests that must not run twice (job submission).
	retryConnErrors bool
}

// do sends r, retrying as the policy says, and returns a 2xx answer with
// its body read. Non-2xx answers become *Error.
func (c *Client) do(ctx context.Context, r request) (*http.Response, []byte, error) {
	p := c.retry
	for attempt := 1; ; attempt++ {
		res, body, err := c.once(ctx, r)
		if err == nil {
			return res, body, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		wait, ok := c.retryable(err, r, attempt)
		if !ok || attempt >= p.MaxAttempts {
			return nil, nil, err
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, ctx.Err())
		}
	}
}

// retryable tells whether err may be retried after attempt, and after how
// long: the server's Retry-After when it gave one, else exponential backoff
// with full jitter.
func (c *Client) retryable(err error, r request, attempt int) (time.Duration, bool) {
	p := c.retry
	backoff := p.BaseDelay << (attempt - 1)
	if backoff <= 0 || backoff > p.MaxDelay {
		backoff = p.MaxDelay
	}
	backoff = time.Duration(rand.Int64N(int64(backoff)) + 1)
	var e *Error
	if errors.As(err, &e) {
		if !e.Retryable {
			return 0, false
		}
		if e.RetryAfter > 0 {
			return e.RetryAfter, e.RetryAfter <= p.MaxDelay
		}
		return backoff, true
	}
	var ce *connError
	if errors.As(err, &ce) && r.retryConnErrors {
		return backoff, true
	}
	return 0, false
}

// connError is a request that got no answer.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func (c *Client) once(ctx context.Context, r request) (*http.Response, []byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, nil, fmt.Errorf("pageshot: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("User-Agent", c.agent)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &connError{fmt.Errorf("pageshot: %s %s: %w", r.method, r.path, err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, &connError{fmt.Errorf("pageshot: %s %s: read the answer: %w", r.method, r.path, err)}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 || res.StatusCode == http.StatusNotModified {
		return res, data, nil
	}
	return nil, nil, parseError(res, data)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
