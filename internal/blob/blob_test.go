package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/blob"
)

const (
	bucket    = "shots"
	accessKey = "AKIAPAGESHOTTESTKEY"
	secretKey = "pageshot-test-secret-value"
)

// exercise is the conformance suite every pageshot.BlobStore passes.
// checkURL judges what URL returned for an object holding want.
func exercise(t *testing.T, s pageshot.BlobStore, checkURL func(t *testing.T, u string, want []byte)) {
	ctx := t.Context()
	wantNotFound := func(t *testing.T, key string) {
		t.Helper()
		if _, _, err := s.Get(ctx, key); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
			t.Fatalf("get %s: %v, want not_found", key, err)
		}
	}
	wantObject := func(t *testing.T, key string, data []byte, contentType string) {
		t.Helper()
		got, ct, err := s.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) || ct != contentType {
			t.Fatalf("get %s: %d bytes, %q, %v; want %d bytes, %q", key, len(got), ct, err, len(data), contentType)
		}
	}
	put := func(t *testing.T, key string, data []byte, contentType string) {
		t.Helper()
		if err := s.Put(ctx, key, data, contentType); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}

	t.Run("absent", func(t *testing.T) {
		wantNotFound(t, "absent.png")
		if err := s.Delete(ctx, "never-there.png"); err != nil {
			t.Fatalf("delete absent: %v", err)
		}
	})
	t.Run("round trip and overwrite", func(t *testing.T) {
		put(t, "a.png", []byte("one"), "image/png")
		wantObject(t, "a.png", []byte("one"), "image/png")
		put(t, "a.png", []byte("second, longer"), "image/jpeg")
		wantObject(t, "a.png", []byte("second, longer"), "image/jpeg")
		put(t, "a.png", []byte("2"), "image/webp")
		wantObject(t, "a.png", []byte("2"), "image/webp")
	})
	t.Run("empty data and content type", func(t *testing.T) {
		put(t, "empty", nil, "")
		wantObject(t, "empty", []byte{}, "application/octet-stream")
	})
	t.Run("delete", func(t *testing.T) {
		put(t, "gone.pdf", []byte("%PDF"), "application/pdf")
		if err := s.Delete(ctx, "gone.pdf"); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, "gone.pdf")
		if err := s.Delete(ctx, "gone.pdf"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("1 MiB binary and URL", func(t *testing.T) {
		data := make([]byte, 1<<20)
		r := rand.NewChaCha8([32]byte{1})
		r.Read(data) // holds '\n', '\r' and NUL bytes
		put(t, "big.bin", data, "application/octet-stream")
		wantObject(t, "big.bin", data, "application/octet-stream")
		u, err := s.URL(ctx, "big.bin", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		checkURL(t, u, data)
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := s.Put(ctx, fmt.Sprintf("c%d.txt", i), []byte{byte(i)}, "text/plain"); err != nil {
					t.Error(err)
				}
				if err := s.Put(ctx, "same.txt", []byte("x"), "text/plain"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 8 {
			wantObject(t, fmt.Sprintf("c%d.txt", i), []byte{byte(i)}, "text/plain")
		}
		wantObject(t, "same.txt", []byte("x"), "text/plain")
	})
}

func noURL(t *testing.T, u string, _ []byte) {
	t.Helper()
	if u != "" {
		t.Fatalf("URL = %q, want \"\"", u)
	}
}

// fetches checks that a plain GET of u, without credentials, returns want.
func fetches(t *testing.T, u string, want []byte) {
	t.Helper()
	if !strings.Contains(u, "X-Amz-Signature=") {
		t.Errorf("URL %q is not presigned", u)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET %s: %s, %d bytes, %v", u, res.Status, len(got), err)
	}
}

// front stands before gofakes3: it counts requests by method and may
// answer some itself with an S3 error.
type front struct {
	next http.Handler
	// fail returns the status and S3 code to answer the nth request of
	// its method with (n counts from 1), or 0 to pass it on.
	fail func(r *http.Request, n int) (status int, code string)

	mu     sync.Mutex
	counts map[string]int
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.counts[r.Method]++
	n := f.counts[r.Method]
	f.mu.Unlock()
	if f.fail != nil {
		if status, code := f.fail(r, n); status != 0 {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>x</Message></Error>", code)
			return
		}
	}
	f.next.ServeHTTP(w, r)
}

func (f *front) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method == "" {
		n := 0
		for _, c := range f.counts {
			n += c
		}
		return n
	}
	return f.counts[method]
}

// s3Server starts gofakes3, with an in-memory backend holding the bucket
// "shots", behind a front; it returns the front and a config for it.
func s3Server(t *testing.T, fail func(*http.Request, int) (int, string)) (*front, blob.S3Config) {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	f := &front{next: gofakes3.New(mem).Server(), fail: fail, counts: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, blob.S3Config{
		URL:        "s3://" + bucket + "/caps",
		Endpoint:   srv.URL,
		AccessKey:  accessKey,
		SecretKey:  secretKey,
		PathStyle:  true,
		HTTPClient: srv.Client(),
	}
}

// minioClient returns a client of its own for the server cfg points at,
// to look at the bucket behind the store's back.
func minioClient(t *testing.T, cfg blob.S3Config) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(cfg.Endpoint, "http://"), &minio.Options{
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	t.Run("fs", func(t *testing.T) {
		s, err := blob.NewFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		exercise(t, s, noURL)
	})
	t.Run("fs via Open", func(t *testing.T) {
		s, err := blob.Open(t.Context(), blob.Config{Dir: filepath.Join(t.TempDir(), "blobs")})
		if err != nil {
			t.Fatal(err)
		}
		exercise(t, s, noURL)
	})
	t.Run("s3", func(t *testing.T) {
		_, cfg := s3Server(t, nil)
		s, err := blob.NewS3(cfg)
		if err != nil {
			t.Fatal(err)
		}
		exercise(t, s, fetches)
	})
	t.Run("s3 via Open", func(t *testing.T) {
		_, cfg := s3Server(t, nil)
		cfg.URL = "s3://" + bucket // no prefix
		s, err := blob.Open(t.Context(), blob.Config{Dir: "unused", S3: cfg})
		if err != nil {
			t.Fatal(err)
		}
		exercise(t, s, fetches)
	})
}

func TestS3Prefix(t *testing.T) {
	_, cfg := s3Server(t, nil)
	mc := minioClient(t, cfg)
	for _, tc := range []struct{ url, object string }{
		{"s3://shots", "k.txt"},
		{"s3://shots/", "k.txt"},
		{"s3://shots/caps", "caps/k.txt"},
		{"s3://shots/caps/", "caps/k.txt"},
		{"s3://shots/a/b/", "a/b/k.txt"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg.URL = tc.url
			s, err := blob.NewS3(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(t.Context(), "k.txt", []byte(tc.url), "text/plain"); err != nil {
				t.Fatal(err)
			}
			obj, err := mc.GetObject(t.Context(), bucket, tc.object, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			if got, err := io.ReadAll(obj); err != nil || string(got) != tc.url {
				t.Fatalf("object %s holds %q, %v", tc.object, got, err)
			}
			dir, _ := strings.CutSuffix(tc.object, "k.txt")
			var names []string
			for o := range mc.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: dir}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				names = append(names, o.Key)
			}
			if !slices.Contains(names, tc.object) {
				t.Fatalf("listing %q: %q, want %s in it", dir, names, tc.object)
			}
		})
	}
}

func TestS3URL(t *testing.T) {
	_, cfg := s3Server(t, nil)
	ctx := t.Context()

	// The presigned lifetime is clamped to what S3 accepts.
	s, err := blob.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ttl  time.Duration
		want string
	}{{0, "1"}, {90 * time.Second, "90"}, {30 * 24 * time.Hour, "604800"}} {
		u, err := s.URL(ctx, "k.png", tc.ttl)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Path != "/shots/caps/k.png" || pu.Query().Get("X-Amz-Expires") != tc.want {
			t.Errorf("URL for ttl %v: %s, want path /shots/caps/k.png and X-Amz-Expires=%s", tc.ttl, u, tc.want)
		}
	}

	pub := cfg
	pub.PublicURL = "https://cdn.example.com/shots/"
	s, err = blob.NewS3(pub)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.URL(ctx, "k.png", time.Hour); err != nil || u != "https://cdn.example.com/shots/caps/k.png" {
		t.Errorf("public URL: %q, %v", u, err)
	}

	// Anonymous credentials cannot presign: pageshot serves the object.
	anon := cfg
	anon.AccessKey, anon.SecretKey = "", ""
	s, err = blob.NewS3(anon)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.URL(ctx, "k.png", time.Hour); err != nil || u != "" {
		t.Errorf("anonymous URL: %q, %v", u, err)
	}
}

func TestNewS3Config(t *testing.T) {
	for _, cfg := range []blob.S3Config{
		{},
		{URL: "shots"},
		{URL: "https://shots/"},
		{URL: "s3:///prefix"},
		{URL: "s3://No_Such.Bucket!"},
		{URL: "s3://shots", Endpoint: "ftp://host"},
		{URL: "s3://shots", Endpoint: "http://host/path"},
		{URL: "s3://shots", AccessKey: "only-the-access-key"},
		{URL: "s3://shots", PublicURL: "cdn.example.com"},
	} {
		if _, err := blob.NewS3(cfg); err == nil {
			t.Errorf("NewS3(%+v) succeeded", cfg)
		}
	}
	for _, endpoint := range []string{"", "s3.eu-west-1.amazonaws.com", "https://abc.r2.cloudflarestorage.com", "http://minio:9000"} {
		if _, err := blob.NewS3(blob.S3Config{URL: "s3://shots", Endpoint: endpoint}); err != nil {
			t.Errorf("endpoint %q: %v", endpoint, err)
		}
	}
}

func TestOpenS3MissingBucket(t *testing.T) {
	_, cfg := s3Server(t, nil)
	cfg.URL = "s3://missing"
	_, err := blob.Open(t.Context(), blob.Config{S3: cfg})
	if err == nil || !strings.Contains(err.Error(), `bucket "missing" does not exist`) {
		t.Fatalf("Open: %v", err)
	}
	if _, ok := errors.AsType[*pageshot.Error](err); ok {
		t.Errorf("Open: %v is a *pageshot.Error, want a plain startup error", err)
	}
	if _, err := blob.Open(t.Context(), blob.Config{}); err == nil {
		t.Error("Open with neither Dir nor S3.URL succeeded")
	}
}

// recorder is a RetryConfig.Sleep that records the delays and returns at
// once.
type recorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
	return ctx.Err()
}

func s3Error(status int, code string) func(*http.Request, int) (int, string) {
	return func(*http.Request, int) (int, string) { return status, code }
}

func TestRetryTransientRecovers(t *testing.T) {
	f, cfg := s3Server(t, func(r *http.Request, n int) (int, string) {
		if r.Method == http.MethodPut && n <= 2 {
			return http.StatusServiceUnavailable, "SlowDown"
		}
		return 0, ""
	})
	s3, err := blob.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	retryCfg := blob.RetryConfig{Attempts: 4, Base: 100 * time.Millisecond, Max: 150 * time.Millisecond, Sleep: rec.sleep}
	s := blob.WithRetry(s3, retryCfg)
	if err := s.Put(t.Context(), "k.png", []byte("png"), "image/png"); err != nil {
		t.Fatalf("put: %v", err)
	}
	if n := f.count(http.MethodPut); n != 3 {
		t.Errorf("server saw %d PUTs, want 3", n)
	}
	if data, ct, err := s.Get(t.Context(), "k.png"); err != nil || string(data) != "png" || ct != "image/png" {
		t.Errorf("get: %q %q %v", data, ct, err)
	}
	if len(rec.delays) != 2 {
		t.Fatalf("delays %v, want 2", rec.delays)
	}
	for i, d := range rec.delays {
		// Full jitter: the nth wait is drawn from [0, min(Max, Base·2^n)).
		if ceil := min(retryCfg.Max, retryCfg.Base<<i); d < 0 || d >= ceil {
			t.Errorf("delay %d = %v, want in [0, %v)", i, d, ceil)
		}
	}
}

func TestRetryFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     func(*http.Request, int) (int, string)
		bucket   string
		requests int // requests the server sees, all PUTs
	}{
		{"503 SlowDown runs out", s3Error(http.StatusServiceUnavailable, "SlowDown"), bucket, 4},
		{"500 InternalError runs out", s3Error(http.StatusInternalServerError, "InternalError"), bucket, 4},
		{"429 without an S3 code runs out", s3Error(http.StatusTooManyRequests, ""), bucket, 4},
		{"NoSuchBucket is permanent", nil, "missing", 1},
		{"AccessDenied is permanent", s3Error(http.StatusForbidden, "AccessDenied"), bucket, 1},
		{"SignatureDoesNotMatch is permanent", s3Error(http.StatusForbidden, "SignatureDoesNotMatch"), bucket, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, cfg := s3Server(t, tc.fail)
			cfg.URL = "s3://" + tc.bucket + "/caps"
			s3, err := blob.NewS3(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			s := blob.WithRetry(s3, blob.RetryConfig{Attempts: 4, Sleep: rec.sleep})
			err = s.Put(t.Context(), "k.png", []byte("png"), "image/png")
			e, ok := errors.AsType[*pageshot.Error](err)
			if !ok || e.Code != pageshot.CodeStorageError {
				t.Fatalf("put: %v, want storage_error", err)
			}
			// Retries that ran out may succeed later; a refusal never will.
			if transient := tc.requests > 1; pageshot.AsError(err).Retryable() != transient {
				t.Errorf("retryable %v, want %v", pageshot.AsError(err).Retryable(), transient)
			}
			for _, secret := range []string{accessKey, secretKey, cfg.Endpoint, "127.0.0.1"} {
				if strings.Contains(e.Message, secret) {
					t.Errorf("message %q reveals %q", e.Message, secret)
				}
			}
			if strings.Contains(err.Error(), secretKey) {
				t.Errorf("error %q reveals the secret key", err)
			}
			if n, puts := f.count(""), f.count(http.MethodPut); n != tc.requests || puts != tc.requests {
				t.Errorf("server saw %d requests, %d PUTs; want %d PUTs only", n, puts, tc.requests)
			}
			if len(rec.delays) != tc.requests-1 {
				t.Errorf("delays %v, want %d", rec.delays, tc.requests-1)
			}
		})
	}
}

// When ctx ends during a backoff, the operation stops at once with a
// storage_error whose cause matches the context's error.
func TestRetryCanceledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f, cfg := s3Server(t, func(*http.Request, int) (int, string) {
		// Later than minio-go's own wait after a retryable answer (at
		// most 200ms), so the cancel lands in WithRetry's backoff.
		time.AfterFunc(300*time.Millisecond, cancel)
		return http.StatusServiceUnavailable, "SlowDown"
	})
	s3, err := blob.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The default Sleep, with waits far longer than the test may take.
	s := blob.WithRetry(s3, blob.RetryConfig{Attempts: 4, Base: time.Hour, Max: time.Hour})
	start := time.Now()
	err = s.Put(ctx, "k.png", []byte("png"), "image/png")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("put took %v after the cancel", took)
	}
	if pageshot.ErrorCode(err) != pageshot.CodeStorageError || !errors.Is(err, context.Canceled) {
		t.Fatalf("put: %v, want storage_error caused by context.Canceled", err)
	}
	if n := f.count(http.MethodPut); n != 1 {
		t.Errorf("server saw %d PUTs, want 1", n)
	}
}

func TestRetryPassesNotFound(t *testing.T) {
	fsStore, err := blob.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	s := blob.WithRetry(fsStore, blob.RetryConfig{Sleep: rec.sleep})
	_, _, want := fsStore.Get(t.Context(), "absent")
	_, _, err = s.Get(t.Context(), "absent")
	if pageshot.ErrorCode(err) != pageshot.CodeNotFound || err.Error() != want.Error() || len(rec.delays) != 0 {
		t.Fatalf("get absent: %v after %d delays; want %v at once", err, len(rec.delays), want)
	}
}

// FS errors (here: the directory vanished) are permanent.
func TestRetryFSErrorsPermanent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	fsStore, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	s := blob.WithRetry(fsStore, blob.RetryConfig{Sleep: rec.sleep})
	err = s.Put(t.Context(), "k.png", []byte("png"), "image/png")
	if pageshot.ErrorCode(err) != pageshot.CodeStorageError || !errors.Is(err, fs.ErrNotExist) || len(rec.delays) != 0 {
		t.Fatalf("put: %v after %d delays; want storage_error at once", err, len(rec.delays))
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("put object k: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503", minio.ErrorResponse{StatusCode: 503, Code: "ServiceUnavailable"}, true},
		{"500", minio.ErrorResponse{StatusCode: 500, Code: "500 Internal Server Error"}, true},
		{"502", minio.ErrorResponse{StatusCode: 502}, true},
		{"504", minio.ErrorResponse{StatusCode: 504}, true},
		{"429", minio.ErrorResponse{StatusCode: 429}, true},
		{"SlowDown", minio.ErrorResponse{Code: "SlowDown"}, true},
		{"RequestTimeout 400", minio.ErrorResponse{StatusCode: 400, Code: "RequestTimeout"}, true},
		{"InternalError", minio.ErrorResponse{Code: "InternalError"}, true},
		{"wrapped 503", wrap(minio.ErrorResponse{StatusCode: 503}), true},
		{"AccessDenied", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"NoSuchBucket", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchBucket"}, false},
		{"NoSuchKey", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchKey"}, false},
		{"InvalidAccessKeyId", wrap(minio.ErrorResponse{StatusCode: 403, Code: "InvalidAccessKeyId"}), false},
		{"SignatureDoesNotMatch", minio.ErrorResponse{StatusCode: 403, Code: "SignatureDoesNotMatch"}, false},
		{"400 unknown", minio.ErrorResponse{StatusCode: 400, Code: "InvalidArgument"}, false},
		{"connection refused", wrap(&url.Error{Op: "Put", URL: "http://s3", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}), true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), true},
		{"EOF before the answer", &url.Error{Op: "Put", URL: "http://s3", Err: io.EOF}, true},
		{"net timeout", wrap(&url.Error{Op: "Get", URL: "http://s3", Err: timeoutError{}}), true},
		{"DNS timeout", &net.DNSError{Err: "timeout", Name: "s3", IsTimeout: true}, true},
		{"DNS no such host", &net.DNSError{Err: "no such host", Name: "s3", IsNotFound: true}, false},
		{"context canceled", wrap(context.Canceled), false},
		{"plain EOF", io.EOF, false},
		{"disk full", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, false},
		{"permission", fs.ErrPermission, false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := blob.Transient(tc.err); got != tc.want {
				t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestFSKeys(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "blobs")
	s, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Fatalf("directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	ctx := t.Context()
	for _, key := range []string{"../x", "a/b", "", ".hidden", "..", strings.Repeat("a", 201), "a b", "a\\b", "a\x00", "é.png"} {
		t.Run(fmt.Sprintf("%.20q", key), func(t *testing.T) {
			errs := []error{s.Put(ctx, key, []byte("x"), "text/plain"), s.Delete(ctx, key)}
			_, _, err := s.Get(ctx, key)
			_, uerr := s.URL(ctx, key, time.Hour)
			errs = append(errs, err, uerr)
			for i, err := range errs {
				if err == nil {
					t.Fatalf("operation %d accepted the key", i)
				}
				if _, ok := errors.AsType[*pageshot.Error](err); ok {
					t.Errorf("operation %d: %v is a *pageshot.Error, want a plain error", i, err)
				}
			}
		})
	}
	long := strings.Repeat("k", 200)
	for _, key := range []string{long, "a.b-c_D9", "x..y", "a."} {
		if err := s.Put(ctx, key, []byte(key), "text/plain"); err != nil {
			t.Errorf("put %q: %v", key, err)
		}
	}
	// Nothing escaped the directory.
	if entries, _ := os.ReadDir(parent); len(entries) != 1 || entries[0].Name() != "blobs" {
		t.Errorf("parent holds %v, want blobs only", entries)
	}
}

func TestFSAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 5 {
		if err := s.Put(ctx, "a.png", bytes.Repeat([]byte{byte(i)}, 1000), "image/png"); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, fmt.Sprintf("k%d", i), []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
	}
	// A failed Put cleans up too.
	if err := s.Put(ctx, "bad", []byte("x"), "text/plain\nX-Evil: 1"); err == nil {
		t.Error("put with a line break in the content type succeeded")
	}
	if err := s.Delete(ctx, "k4"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"a.png", "k0", "k1", "k2", "k3"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
}
