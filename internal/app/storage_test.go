package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/blob"
)

// flakyS3 is a real S3-protocol server (gofakes3, over HTTP) whose PUTs
// can be made to fail: the next failPuts of them answer 503 SlowDown, and
// every PUT answers 403 AccessDenied while deny is set.
type flakyS3 struct {
	*httptest.Server
	failPuts atomic.Int64
	deny     atomic.Bool
	puts     atomic.Int64
}

func newFlakyS3(t *testing.T, bucket string) *flakyS3 {
	mem := s3mem.New()
	if err := mem.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s3 := gofakes3.New(mem).Server()
	f := &flakyS3{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			f.puts.Add(1)
			if f.deny.Load() {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
				return
			}
			if f.failPuts.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`))
				return
			}
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// TestS3Storage: store on S3-compatible storage answers a presigned URL of
// the object; a transient upload failure is retried; one that lasts ends in
// storage_error, retryable; a refusal ends at once in storage_error, not
// retryable; failures are not charged.
func TestS3Storage(t *testing.T) {
	tg := newTarget(t)
	s3 := newFlakyS3(t, "shots")
	s := newTenancyServer(t, func(c *app.Config) {
		c.Storage = blob.Config{
			S3:    blob.S3Config{URL: "s3://shots/captures", Endpoint: s3.URL, PathStyle: true, AccessKey: "AKTEST", SecretKey: "s3cr3t-test-key"},
			Retry: blob.RetryConfig{Attempts: 3, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		}
	})
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	body := map[string]any{"url": tg.URL, "viewport_width": 320, "viewport_height": 240, "store": true, "response_type": "json"}
	stored := func() string {
		r := s.send(t, s.request(t, "POST", "/v1/screenshot", body, bearer(key)...))
		var a struct{ URL string }
		if r.StatusCode != 200 || json.Unmarshal(r.body, &a) != nil {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		return a.URL
	}

	u := stored()
	if !strings.HasPrefix(u, s3.URL+"/shots/captures/obj-") || !strings.Contains(u, "X-Amz-Signature=") {
		t.Errorf("url %s, want a presigned URL of the object in the bucket", u)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET the presigned URL: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}

	s3.failPuts.Store(2) // two 503s, then the third attempt succeeds
	s3.puts.Store(0)
	stored()
	if n := s3.puts.Load(); n != 3 {
		t.Errorf("%d PUTs for an upload that failed twice, want 3", n)
	}

	s3.failPuts.Store(100)
	s3.puts.Store(0)
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", body, bearer(key)...))
	if p := wantProblem(t, r, 502, "storage_error"); !*p.Retryable || strings.Contains(string(r.body), "s3cr3t") || strings.Contains(string(r.body), "AKTEST") {
		t.Errorf("storage_error: %s", r.body)
	}
	if n := s3.puts.Load(); n != 3 {
		t.Errorf("%d PUTs, want the 3 attempts", n)
	}
	// A refusal is permanent: one attempt, and not retryable.
	s3.failPuts.Store(0)
	s3.deny.Store(true)
	s3.puts.Store(0)
	r = s.send(t, s.request(t, "POST", "/v1/screenshot", body, bearer(key)...))
	if p := wantProblem(t, r, 502, "storage_error"); *p.Retryable {
		t.Errorf("access denied by the storage answered retryable: %s", r.body)
	}
	if n := s3.puts.Load(); n != 1 {
		t.Errorf("%d PUTs for a refused upload, want 1", n)
	}
	if u := s.usage(t, k.ID); u.Committed != 2 || u.Reserved != 0 {
		t.Errorf("ledger %+v: the failed uploads must not be charged", u)
	}
}
