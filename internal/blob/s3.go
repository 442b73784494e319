package blob

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/pageshot/pageshot"
)

// S3Config configures an S3 store.
type S3Config struct {
	// URL is s3://bucket or s3://bucket/prefix. Required. Objects live at
	// prefix+key; a prefix that does not end in '/' gets one, so
	// s3://shots/captures puts key k at captures/k.
	URL string
	// Endpoint is host[:port], https://host[:port] or http://host[:port];
	// http:// turns TLS off. Defaults to s3.amazonaws.com over HTTPS.
	Endpoint string
	// Region defaults to us-east-1. Setting it (we always do) also spares
	// the client a bucket-location request before the first operation.
	Region string
	// AccessKey and SecretKey are used as given; both empty means
	// anonymous requests, and then URL has no presigned URL to offer.
	AccessKey, SecretKey string
	// PathStyle forces path-style addressing (endpoint/bucket/key), which
	// MinIO and most self-hosted servers need. When false the client
	// chooses: virtual-hosted (bucket.endpoint/key) for AWS and Google
	// endpoints, path-style for the rest.
	PathStyle bool
	// PublicURL, when set, makes URL return PublicURL/prefix+key (a CDN or
	// a public bucket) instead of a presigned URL.
	PublicURL string
	// HTTPClient supplies the transport (tests, proxies). Only its
	// Transport is used; the client's Timeout is not, bound calls with the
	// context instead. Defaults to minio-go's transport.
	HTTPClient *http.Client
}

// S3 is a BlobStore in an S3-compatible bucket. It does not retry: wrap it
// in WithRetry. Its errors are minio-go's, wrapped, except not_found. S3
// is safe for concurrent use.
type S3 struct {
	client    *minio.Client
	bucket    string
	prefix    string
	publicURL string
	anonymous bool
}

var _ pageshot.BlobStore = (*S3)(nil)

// NewS3 returns a store for cfg. It makes no request; Open checks the
// bucket.
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse S3 URL: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("parse S3 URL %q: want s3://bucket[/prefix]", cfg.URL)
	}
	if err := s3utils.CheckValidBucketName(u.Host); err != nil {
		return nil, fmt.Errorf("parse S3 URL %q: %w", cfg.URL, err)
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}

	endpoint := cmp.Or(cfg.Endpoint, "s3.amazonaws.com")
	secure := true
	if scheme, rest, ok := strings.Cut(endpoint, "://"); ok {
		switch scheme {
		case "http":
			secure = false
		case "https":
		default:
			return nil, fmt.Errorf("parse S3 endpoint %q: scheme must be http or https", endpoint)
		}
		endpoint = strings.TrimSuffix(rest, "/")
	}
	if endpoint == "" || strings.Contains(endpoint, "/") {
		return nil, fmt.Errorf("parse S3 endpoint %q: want host[:port]", cfg.Endpoint)
	}

	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("configure S3: set both the access key and the secret key, or neither")
	}
	if cfg.PublicURL != "" {
		pu, err := url.Parse(cfg.PublicURL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("parse S3 public URL %q: want http(s)://host[/path]", cfg.PublicURL)
		}
	}

	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cmp.Or(cfg.Region, "us-east-1"),
		// One attempt per call: WithRetry is the only retry policy, so
		// attempts and backoff are ours to bound and test. minio-go
		// would otherwise retry 10 times with its own backoff. Its
		// retry loop (v7.4.1) still waits once after a retryable
		// failure before giving up, up to DefaultRetryUnit (200ms,
		// jittered) or until ctx ends; we leave that package variable
		// alone, as it is shared by every minio client in the process.
		MaxRetries: 1,
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient.Transport
	}
	client, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("create S3 client: %w", err)
	}
	return &S3{
		client:    client,
		bucket:    u.Host,
		prefix:    prefix,
		publicURL: cfg.PublicURL,
		anonymous: cfg.AccessKey == "",
	}, nil
}

// Put uploads the object in one request. An empty contentType is stored
// as application/octet-stream.
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	opts := minio.PutObjectOptions{
		ContentType: cmp.Or(contentType, defaultContentType),
		// Over plain HTTP minio-go signs the body in aws-chunked streaming
		// mode, and for an empty body it then sends no Content-Length
		// (chunked transfer), which S3 refuses. An empty body has nothing
		// to sign, so send it as UNSIGNED-PAYLOAD instead.
		DisableContentSha256: len(data) == 0,
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return fmt.Errorf("put object %s: %w", key, err)
	}
	return nil
}

// Get downloads the object; an absent one (NoSuchKey) is a
// *pageshot.Error with code not_found.
func (s *S3) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	// Core.GetObject sends the GET at once and returns the headers with
	// the body; Client.GetObject would defer both to the first Read.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		if er, ok := errors.AsType[minio.ErrorResponse](err); ok && er.Code == minio.NoSuchKey {
			return nil, "", &pageshot.Error{Code: pageshot.CodeNotFound, Message: "The object does not exist.", Err: err}
		}
		return nil, "", fmt.Errorf("get object %s: %w", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, "", fmt.Errorf("read object %s: %w", key, err)
	}
	return data, info.ContentType, nil
}

// URL returns PublicURL/prefix+key when PublicURL is set, else a URL
// presigned for ttl, clamped to the 1 second to 7 days S3 allows. With
// anonymous credentials and no PublicURL it returns "": nothing can be
// presigned, and pageshot then serves the object itself. URL makes no
// request and does not check that the object exists.
func (s *S3) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if s.publicURL != "" {
		return url.JoinPath(s.publicURL, s.prefix+key)
	}
	if s.anonymous {
		return "", nil
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, min(max(ttl, time.Second), 7*24*time.Hour), nil)
	if err != nil {
		return "", fmt.Errorf("presign object %s: %w", key, err)
	}
	return u.String(), nil
}

// Delete removes the object; S3 answers success for an absent one.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete object %s: %w", key, err)
	}
	return nil
}
