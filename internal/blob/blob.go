// Package blob implements pageshot.BlobStore: FS keeps objects in a local
// directory, S3 in any S3-compatible service (AWS S3, Cloudflare R2,
// MinIO), and WithRetry adds the retry policy and the storage_error
// contract on top of either. Open picks and wires one from a Config.
package blob

import (
	"context"
	"errors"
	"fmt"

	"github.com/pageshot/pageshot"
)

// Config selects and configures the blob store that Open returns.
type Config struct {
	// Dir is the directory of the filesystem store, used when S3.URL is
	// empty.
	Dir string
	// MinFree is the room, in bytes, the filesystem store leaves on its
	// disk: a Put that would leave less fails (storage_error), so the
	// last of the disk stays for the usage ledger and captures that store
	// nothing keep working longest. Zero keeps nothing back.
	MinFree int64
	// S3 configures the S3 store; setting S3.URL selects it.
	S3 S3Config
	// Retry configures the retries around the store; see RetryConfig for
	// the defaults.
	Retry RetryConfig
}

// Open returns the store cfg selects, wrapped in WithRetry: S3 when
// cfg.S3.URL is set, else FS at cfg.Dir. For S3 it checks once, with ctx,
// that the bucket exists and is reachable, so that a wrong bucket name or
// bad credentials fail at startup rather than on the first capture. Its
// errors are plain wrapped errors, not *pageshot.Error: they are startup
// failures, never sent to a client.
func Open(ctx context.Context, cfg Config) (pageshot.BlobStore, error) {
	if cfg.S3.URL == "" {
		if cfg.Dir == "" {
			return nil, errors.New("open blob store: no directory and no S3 URL")
		}
		fs, err := NewFS(cfg.Dir)
		if err != nil {
			return nil, err
		}
		fs.MinFree = cfg.MinFree
		return WithRetry(fs, cfg.Retry), nil
	}
	s3, err := NewS3(cfg.S3)
	if err != nil {
		return nil, err
	}
	ok, err := s3.client.BucketExists(ctx, s3.bucket)
	if err != nil {
		return nil, fmt.Errorf("check bucket %q: %w", s3.bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("open blob store: bucket %q does not exist", s3.bucket)
	}
	return WithRetry(s3, cfg.Retry), nil
}
