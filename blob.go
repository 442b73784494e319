package pageshot

import (
	"context"
	"time"
)

// BlobStore keeps the files pageshot hands out: stored captures, cached
// captures and job artifacts. Keys are opaque strings of letters, digits,
// '-', '_' and '.', at most 200 bytes. Implementations are safe for
// concurrent use.
type BlobStore interface {
	// Put stores data under key, replacing what was there. Transient
	// failures are retried with backoff; when the retries run out, or the
	// failure is permanent (no such bucket, access denied), the error is
	// an *Error with code storage_error.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Get returns the object under key and its content type. An absent
	// key is an *Error with code not_found; other failures are
	// storage_error.
	Get(ctx context.Context, key string) (data []byte, contentType string, err error)
	// URL returns an address where a client can fetch key for at least
	// ttl without an API key (a presigned or public URL), or "" when the
	// store has none: pageshot then serves the object itself at
	// /v1/objects/{key}.
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Delete removes key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
}
