package blob

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pageshot/pageshot"
)

// RetryConfig configures WithRetry.
type RetryConfig struct {
	// Attempts is how many times an operation is tried in all, the first
	// try included. Defaults to 4.
	Attempts int
	// Base is the backoff ceiling before the second attempt; it doubles
	// at each further one. Defaults to 200ms.
	Base time.Duration
	// Max caps the backoff ceiling. Defaults to 5s.
	Max time.Duration
	// Sleep waits d or until ctx ends, returning ctx's error then.
	// Defaults to a timer; tests replace it to record the delays.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithRetry returns s with cfg's retry policy and the error contract of
// pageshot.BlobStore. Put, Get and Delete are retried while the error is
// Transient, with exponential backoff and full jitter (each wait is drawn
// uniformly from [0, min(Max, Base·2^n))), up to Attempts tries. The
// final failure, transient or permanent, is a *pageshot.Error with code
// storage_error, a message fit for clients and the cause in Err; a
// not_found error is returned as is, at once. When ctx ends during a
// backoff, the operation stops at once and the error is storage_error
// too, with Err matching ctx.Err() under errors.Is (so callers can still
// tell a timeout apart) and holding the last failure as well. URL is
// passed through untouched: it makes no request worth retrying.
func WithRetry(s pageshot.BlobStore, cfg RetryConfig) pageshot.BlobStore {
	cfg.Attempts = max(cmp.Or(cfg.Attempts, 4), 1)
	cfg.Base = cmp.Or(cfg.Base, 200*time.Millisecond)
	cfg.Max = max(cmp.Or(cfg.Max, 5*time.Second), cfg.Base)
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &retrying{s: s, cfg: cfg}
}

type retrying struct {
	s   pageshot.BlobStore
	cfg RetryConfig
}

func (r *retrying) Put(ctx context.Context, key string, data []byte, contentType string) error {
	return r.do(ctx, "Storing the file failed.", func() error {
		return r.s.Put(ctx, key, data, contentType)
	})
}

func (r *retrying) Get(ctx context.Context, key string) (data []byte, contentType string, err error) {
	err = r.do(ctx, "Reading the file from storage failed.", func() error {
		var err error
		data, contentType, err = r.s.Get(ctx, key)
		return err
	})
	return data, contentType, err
}

func (r *retrying) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return r.s.URL(ctx, key, ttl)
}

func (r *retrying) Delete(ctx context.Context, key string) error {
	return r.do(ctx, "Deleting the file from storage failed.", func() error {
		return r.s.Delete(ctx, key)
	})
}

// do runs op under the policy. message is the client-facing text of the
// storage_error: fixed, so no endpoint, bucket or credential can leak
// through it; the details stay in Err, for logs.
func (r *retrying) do(ctx context.Context, message string, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			return nil
		}
		if e, ok := errors.AsType[*pageshot.Error](err); ok && e.Code == pageshot.CodeNotFound {
			return err
		}
		if !Transient(err) {
			// Not worth retrying now, but a full disk may have room later;
			// any other refusal (access denied, no such bucket) stays.
			permanent := !errors.Is(err, syscall.ENOSPC)
			return &pageshot.Error{Code: pageshot.CodeStorageError, Message: message, Permanent: permanent, Err: err}
		}
		if attempt >= r.cfg.Attempts {
			return &pageshot.Error{Code: pageshot.CodeStorageError, Message: message, Err: err}
		}
		// Checked before sleeping too, as a timer may win a race against
		// an already closed Done channel.
		serr := ctx.Err()
		if serr == nil {
			serr = r.cfg.Sleep(ctx, r.backoff(attempt))
		}
		if serr != nil {
			return &pageshot.Error{Code: pageshot.CodeStorageError, Message: message, Err: errors.Join(serr, err)}
		}
	}
}

// backoff returns the wait after the given failed attempt (1-based).
func (r *retrying) backoff(attempt int) time.Duration {
	ceil := r.cfg.Max
	// The guard keeps the shift from overflowing on large Attempts.
	if attempt <= 32 && r.cfg.Base<<(attempt-1) < ceil {
		ceil = r.cfg.Base << (attempt - 1)
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Transient reports whether err may go away if the same request is sent
// again: an S3 answer of 429, 500, 502, 503 or 504 or with code SlowDown,
// RequestTimeout or InternalError; a network timeout; a connection
// refused, reset or cut short (unexpected EOF, or EOF before any answer).
// Everything else is permanent: other S3 answers (AccessDenied,
// NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, …), TLS and
// DNS name failures, context cancellation, filesystem errors. A context
// deadline counts as a timeout; WithRetry stops anyway once the caller's
// own ctx has ended.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if er, ok := errors.AsType[minio.ErrorResponse](err); ok {
		switch er.StatusCode {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		switch er.Code {
		case "SlowDown", "RequestTimeout", "InternalError":
			return true
		}
		return false
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A plain EOF from the HTTP client means the server closed the
	// connection before answering, typically a reused idle connection.
	if ue, ok := errors.AsType[*url.Error](err); ok && errors.Is(ue.Err, io.EOF) {
		return true
	}
	return false
}
