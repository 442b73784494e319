package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/jobs"
)

// fastJobs makes retries quick, so that tests of transient failures do
// not wait for production backoffs.
func fastJobs(c *app.Config) {
	c.Plans = tenancyPlans
	c.IPRatePerMinute = 1000
	c.Jobs.RetryBase = 100 * time.Millisecond
	c.Jobs.MaxAttempts = 2
}

type jobDoc struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Total      int    `json:"total"`
	Succeeded  int    `json:"succeeded"`
	Failed     int    `json:"failed"`
	FinishedAt *int64 `json:"finished_at"`
	Items      []struct {
		Index              int     `json:"index"`
		URL                string  `json:"url"`
		Status             string  `json:"status"`
		ErrorCode          *string `json:"error_code"`
		ErrorMessage       *string `json:"error_message"`
		ReturnedStatusCode *int    `json:"returned_status_code"`
		ArtifactURL        *string `json:"artifact_url"`
	} `json:"items"`
}

func decodeJob(t *testing.T, r *response) jobDoc {
	t.Helper()
	var j jobDoc
	if err := json.Unmarshal(r.body, &j); err != nil {
		t.Fatalf("job: %v: %s", err, r.body)
	}
	return j
}

// waitJob polls the job until it is done or canceled.
func (s *server) waitJob(t *testing.T, key, id string, within time.Duration) jobDoc {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.send(t, s.request(t, "GET", "/v1/jobs/"+id, nil, bearer(key)...))
		if r.StatusCode != 200 {
			t.Fatalf("get job: %d %s", r.StatusCode, r.body)
		}
		j := decodeJob(t, r)
		if j.Status == "done" || j.Status == "canceled" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v: %s", id, j.Status, within, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantMetric asserts the value of a metric without labels in /metrics,
// waiting a little for work that ends just after what the test saw.
func wantMetric(t *testing.T, s *server, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.get(t, "/metrics")
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("no %s in /metrics", name)
		}
		got, _ := strconv.ParseFloat(string(m[1]), 64)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestJobBatch: a job of 20 items, some failing with different codes,
// ends with every item in the right state and code, artifacts for the
// successes, and one charge per success.
func TestJobBatch(t *testing.T) { onStores(t, testJobBatch) }

func testJobBatch(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); store(c) })
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)

	type want struct {
		item   map[string]any
		code   string
		status int
	}
	var cases []want
	for i := range 12 {
		cases = append(cases, want{item: map[string]any{"url": fmt.Sprintf("%s/?n=%d", tg.URL, i)}})
	}
	// A transient failure (the target's first answer is 503) is retried
	// and succeeds.
	cases = append(cases, want{item: map[string]any{"url": tg.URL + "/flaky?job=batch"}})
	cases = append(cases,
		want{item: map[string]any{"url": tg.URL + "/status/404"}, code: "host_returned_error", status: 404},
		want{item: map[string]any{"url": tg.URL + "/status/503"}, code: "host_returned_error", status: 503}, // retried, then failed
		want{item: map[string]any{"url": "http://nonexistent.invalid/"}, code: "name_not_resolved"},
		want{item: map[string]any{"url": "http://10.0.0.1/"}, code: "url_blocked"},
		want{item: map[string]any{"url": "http://" + closedPort(t) + "/"}, code: "connection_failed"},
		want{item: map[string]any{"url": tg.URL, "selector": "#missing", "timeout": 2}, code: "selector_not_found"},
		want{item: map[string]any{"html": "<p>forbidden words</p>", "fail_if_content_contains": []string{"forbidden"}}, code: "content_contains_specified_string"},
	)
	items := make([]map[string]any, len(cases))
	for i, c := range cases {
		items[i] = c.item
	}
	r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": items, "defaults": map[string]any{"viewport_width": 400, "viewport_height": 300}}, bearer(key)...))
	if r.StatusCode != 202 || !strings.HasSuffix(r.Header.Get("Location"), "/v1/jobs/"+decodeJob(t, r).ID) {
		t.Fatalf("submit: %d %s", r.StatusCode, r.body)
	}
	j := s.waitJob(t, key, decodeJob(t, r).ID, 2*time.Minute)
	if j.Total != 20 || j.Succeeded != 13 || j.Failed != 7 || j.Status != "done" || j.FinishedAt == nil {
		t.Errorf("job: total %d succeeded %d failed %d status %s", j.Total, j.Succeeded, j.Failed, j.Status)
	}
	for i, c := range cases {
		it := j.Items[i]
		if it.Index != i {
			t.Errorf("item %d has index %d", i, it.Index)
		}
		if c.code == "" {
			if it.Status != "succeeded" || it.ArtifactURL == nil || it.ErrorCode != nil || it.ReturnedStatusCode == nil || *it.ReturnedStatusCode != 200 {
				t.Errorf("item %d: %+v", i, it)
			}
			continue
		}
		if it.Status != "failed" || str(it.ErrorCode) != c.code || str(it.ErrorMessage) == "" || it.ArtifactURL != nil {
			t.Errorf("item %d (%v): status %s code %s, want failed %s", i, c.item, it.Status, str(it.ErrorCode), c.code)
		}
		if c.status != 0 && (it.ReturnedStatusCode == nil || *it.ReturnedStatusCode != c.status) {
			t.Errorf("item %d: returned_status_code %v, want %d", i, it.ReturnedStatusCode, c.status)
		}
	}
	// An artifact is the item's image, for its key only: not under
	// /v1/objects, which needs none.
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/objects/"+j.ID+"-0.png", nil)), 404, "not_found")
	req, _ := http.NewRequest(http.MethodGet, *j.Items[0].ArtifactURL, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	img := wantImage(t, s.send(t, req), "image/png")
	wantSize(t, img, 400, 300)
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/jobs/"+j.ID+"/items/13/artifact", nil, bearer(key)...)), 404, "not_found")

	if u := s.usage(t, k.ID); u.Committed != 13 || u.Reserved != 0 {
		t.Errorf("ledger %+v, want 13 charged", u)
	}
	// Retried: the transient failures, as many times as the attempts allow
	// (2 here); not retried: the permanent one.
	for path, want := range map[string]int{"/flaky?job=batch": 2, "/status/503": 2, "/status/404": 1} {
		if n := tg.hitsOf(path); n != want {
			t.Errorf("%s was requested %d times, want %d", path, n, want)
		}
	}
	wantMetric(t, s, "pageshot_job_items_succeeded_total", 13)
	wantMetric(t, s, "pageshot_job_items_failed_total", 7)
	// Another key sees no such job.
	_, other := s.newKey(t, pageshot.DefaultPlanName, nil)
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/jobs/"+j.ID, nil, bearer(other)...)), 404, "not_found")
}

func TestJobSubmissionErrors(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, fastJobs)
	_, key := s.newKey(t, "five", nil)
	_, noJobs := s.newKey(t, "five", func(k *pageshot.APIKey) { k.Scopes = []pageshot.Scope{pageshot.ScopeScreenshot} })

	r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{
		"items":       []any{map[string]any{"url": tg.URL}, map[string]any{"url": "ftp://x/", "format": "gif"}, "nonsense", map[string]any{"url": tg.URL, "async": true}},
		"defaults":    map[string]any{"url": tg.URL},
		"webhook_url": "http://10.0.0.1/hook",
	}, bearer(key)...))
	p := wantProblem(t, r, 400, "invalid_request")
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	for _, f := range []string{"defaults.url", "items[1].format", "items[2]", "items[3].async", "webhook_url"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %s", f, r.body)
		}
	}

	six := make([]any, 6)
	for i := range six {
		six[i] = map[string]any{"url": tg.URL}
	}
	r = s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": six}, bearer(key)...))
	wantProblem(t, r, 402, "quota_exceeded")
	var q struct {
		Plan  string
		Limit int64
		Used  int64
	}
	json.Unmarshal(r.body, &q)
	if q.Plan != "five" || q.Limit != 5 || q.Used != 0 {
		t.Errorf("quota_exceeded: %s", r.body)
	}
	wantProblem(t, s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": six[:1]}, bearer(noJobs)...)), 403, "insufficient_scope")
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/jobs/job_nope", nil, bearer(key)...)), 404, "not_found")
	wantProblem(t, s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": []any{}, "crawl": map[string]any{"url": tg.URL, "include": []string{"("}}}, bearer(key)...)), 400, "invalid_request")
}

// slowJob submits a job of n pages of 0.5 s each on a server that runs one
// item at a time.
func slowJob(t *testing.T, n int, store func(*app.Config)) (*server, *pageshot.APIKey, string, jobDoc) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); store(c); c.Jobs.Workers = 1 })
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	items := make([]any, n)
	for i := range items {
		items[i] = map[string]any{"url": fmt.Sprintf("%s/slow?d=500ms&n=%d", tg.URL, i)}
	}
	return s, k, key, decodeJob(t, s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": items}, bearer(key)...)))
}

// TestJobCancel: canceling a job cancels what has not run.
func TestJobCancel(t *testing.T) { onStores(t, testJobCancel) }

func testJobCancel(t *testing.T, store func(*app.Config)) {
	s, _, key, j := slowJob(t, 6, store)
	r := s.send(t, s.request(t, "DELETE", "/v1/jobs/"+j.ID, nil, bearer(key)...))
	if r.StatusCode != 200 || decodeJob(t, r).Status != "canceled" {
		t.Fatalf("cancel: %d %s", r.StatusCode, r.body)
	}
	time.Sleep(1500 * time.Millisecond) // a running item may still end
	j = s.waitJob(t, key, j.ID, time.Second)
	canceled := 0
	for _, it := range j.Items {
		switch it.Status {
		case "canceled":
			canceled++
		case "succeeded", "running":
		default:
			t.Errorf("item %d: %s", it.Index, it.Status)
		}
	}
	if canceled < 4 {
		t.Errorf("%d items canceled, want most of 6: %+v", canceled, j.Items)
	}
}

// TestStoreAndCache: response_type json with store and cache: the first
// request is a MISS and charged; the second a HIT, not charged, with the
// same bytes; another key never shares the entry; an expired entry is
// swept from storage.
func TestStoreAndCache(t *testing.T) { onStores(t, testStoreAndCache) }

func testStoreAndCache(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); store(c); c.CacheSweep = 200 * time.Millisecond })
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	body := map[string]any{"url": tg.URL, "viewport_width": 300, "viewport_height": 200, "response_type": "json", "store": true, "cache": true}

	type answer struct {
		URL    string
		Format string
		Width  int
		Height int
		Bytes  int
		Cache  *struct {
			Hit       bool  `json:"hit"`
			ExpiresAt int64 `json:"expires_at"`
		}
	}
	shoot := func(key string, body map[string]any) (*response, answer) {
		r := s.send(t, s.request(t, "POST", "/v1/screenshot", body, bearer(key)...))
		var a answer
		if r.StatusCode != 200 || json.Unmarshal(r.body, &a) != nil || a.Cache == nil || a.URL == "" {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		return r, a
	}
	fetch := func(u string) []byte {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := s.send(t, req)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("GET %s: %d %s", u, r.StatusCode, r.body)
		}
		return r.body
	}

	r1, a1 := shoot(key, body)
	if r1.Header.Get("X-Cache") != "MISS" || a1.Cache.Hit || a1.Width != 300 || a1.Cache.ExpiresAt < time.Now().Add(23*time.Hour).Unix() {
		t.Errorf("first: %s %s", r1.Header.Get("X-Cache"), r1.body)
	}
	first := fetch(a1.URL)
	if len(first) != a1.Bytes {
		t.Errorf("the stored object has %d bytes, the answer says %d", len(first), a1.Bytes)
	}
	r2, a2 := shoot(key, body)
	if r2.Header.Get("X-Cache") != "HIT" || !a2.Cache.Hit || a2.URL != a1.URL {
		t.Errorf("second: %s %s", r2.Header.Get("X-Cache"), r2.body)
	}
	if second := fetch(a2.URL); !bytes.Equal(first, second) {
		t.Error("the cached object differs")
	}
	bin := map[string]any{"url": tg.URL, "viewport_width": 300, "viewport_height": 200, "cache": true}
	r3 := s.send(t, s.request(t, "POST", "/v1/screenshot", bin, bearer(key)...))
	if r3.Header.Get("X-Cache") != "HIT" || !bytes.Equal(r3.body, first) {
		t.Errorf("binary answer from the cache: %s, same bytes %v", r3.Header.Get("X-Cache"), bytes.Equal(r3.body, first))
	}
	wantQuotaHeaders(t, r3, -1, -1)
	if u := s.usage(t, k.ID); u.Committed != 1 {
		t.Errorf("charged %d captures, want 1: hits are free", u.Committed)
	}
	_, other := s.newKey(t, pageshot.DefaultPlanName, nil)
	if r, _ := shoot(other, body); r.Header.Get("X-Cache") != "MISS" {
		t.Error("another key got this key's cached capture")
	}

	// An entry of one second is swept, its object with it.
	body["cache_ttl"] = 1
	body["viewport_width"] = 301
	_, short := shoot(key, body)
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, short.URL, nil)
		if r := s.send(t, req); r.StatusCode == 404 {
			wantProblem(t, r, 404, "not_found")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired capture is still stored")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/objects/..%2Fpageshot.db", nil)), 404, "not_found")
	wantProblem(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "cache_ttl": 5}, bearer(key)...)), 400, "invalid_request")
}

// verifyWebhook checks a delivery by the Standard Webhooks algorithm.
func verifyWebhook(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-id %q, webhook-timestamp %q", id, ts)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, b64, _ := strings.Cut(sig, ","); v == "v1" && hmac.Equal([]byte(b64), []byte(want)) {
			return
		}
	}
	t.Fatalf("webhook-signature %q does not verify", h.Get("webhook-signature"))
}

// receiver is a webhook endpoint that fails its first failures calls.
type receiver struct {
	*httptest.Server
	failures int32
	mu       sync.Mutex
	calls    []http.Header
	body     []byte
	got      chan struct{}
}

func newReceiver(t *testing.T, failures int32) *receiver {
	rc := &receiver{failures: failures, got: make(chan struct{}, 1)}
	var n atomic.Int32
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.calls = append(rc.calls, r.Header.Clone())
		rc.mu.Unlock()
		if n.Add(1) <= rc.failures {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		rc.mu.Lock()
		rc.body = body
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		select {
		case rc.got <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// TestWebhook: a receiver that fails twice, then succeeds, gets the
// event, signed by the Standard Webhooks algorithm with the key's webhook
// secret, with the same id on every attempt.
func TestWebhook(t *testing.T) { onStores(t, testWebhook) }

func testWebhook(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); store(c) })
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	rc := newReceiver(t, 2)
	r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": []any{map[string]any{"url": tg.URL}}, "webhook_url": rc.URL + "/hook"}, bearer(key)...))
	if r.StatusCode != 202 {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	id := decodeJob(t, r).ID
	select {
	case <-rc.got:
	case <-time.After(time.Minute):
		t.Fatal("no webhook delivered")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.calls) != 3 {
		t.Errorf("%d deliveries, want 3 (two failures, then success)", len(rc.calls))
	}
	for _, h := range rc.calls {
		if h.Get("webhook-id") != rc.calls[0].Get("webhook-id") {
			t.Error("the webhook id changed between attempts")
		}
	}
	verifyWebhook(t, k.WebhookSecret, rc.calls[len(rc.calls)-1], rc.body)
	wantMetric(t, s, "pageshot_webhooks_delivered_total", 1)
	wantMetric(t, s, "pageshot_webhook_failures_total", 2)
	var ev struct {
		Type string
		Data jobDoc
	}
	if err := json.Unmarshal(rc.body, &ev); err != nil || ev.Type != "job.completed" || ev.Data.ID != id || ev.Data.Status != "done" || ev.Data.Succeeded != 1 {
		t.Errorf("event: %s", rc.body)
	}
}

// TestAsyncCapture: async true answers 202 with a job of one item, and
// its webhook brings the result.
func TestAsyncCapture(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, fastJobs)
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	rc := newReceiver(t, 0)
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "async": true, "webhook_url": rc.URL, "format": "jpeg"}, bearer(key)...))
	if r.StatusCode != 202 {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	j := decodeJob(t, r)
	if j.Total != 1 || j.Items[0].URL != tg.URL {
		t.Errorf("job: %s", r.body)
	}
	select {
	case <-rc.got:
	case <-time.After(time.Minute):
		t.Fatal("no webhook delivered")
	}
	rc.mu.Lock()
	verifyWebhook(t, k.WebhookSecret, rc.calls[0], rc.body)
	rc.mu.Unlock()
	j = s.waitJob(t, key, j.ID, 10*time.Second)
	req, _ := http.NewRequest(http.MethodGet, *j.Items[0].ArtifactURL, nil)
	req.Header.Set("X-API-Key", key)
	wantImage(t, s.send(t, req), "image/jpeg")
	wantProblem(t, s.get(t, "/v1/screenshot?async=true&url="+tg.URL), 400, "invalid_request")
	if u := s.usage(t, k.ID); u.Committed != 1 {
		t.Errorf("charged %d, want 1", u.Committed)
	}
}

// TestCrawl: a crawl of a small site respects include, max_depth and
// max_pages, stays on its origin, and never reaches a blocked address.
func TestCrawl(t *testing.T) { onStores(t, testCrawl) }

func testCrawl(t *testing.T, store func(*app.Config)) {
	canary := newCanary(t, "0")
	mux := http.NewServeMux()
	page := func(links ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var b strings.Builder
			b.WriteString("<!doctype html><html><body>")
			for _, l := range links {
				fmt.Fprintf(&b, `<a href="%s">%s</a> `, l, l)
			}
			b.WriteString("</body></html>")
			io.WriteString(w, b.String())
		}
	}
	var site *httptest.Server
	mux.HandleFunc("/site/", page("/site/a", "/site/b#top", "/site/b", "/private/x", canary.url+"/", "mailto:x@example.com", "/site/c"))
	mux.HandleFunc("/site/a", page("/site/a/deep", "/site/"))
	mux.HandleFunc("/site/a/deep", page("/site/a/deep/deeper"))
	mux.HandleFunc("/site/a/deep/deeper", page())
	mux.HandleFunc("/site/b", page("/site/d"))
	mux.HandleFunc("/site/c", page())
	mux.HandleFunc("/site/d", page())
	mux.HandleFunc("/private/x", page())
	site = httptest.NewServer(mux)
	t.Cleanup(site.Close)

	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); store(c) })
	_, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	crawl := func(spec map[string]any) jobDoc {
		r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"crawl": spec, "defaults": map[string]any{"viewport_width": 200, "viewport_height": 100}}, bearer(key)...))
		if r.StatusCode != 202 || decodeJob(t, r).Kind != "crawl" {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		return s.waitJob(t, key, decodeJob(t, r).ID, time.Minute)
	}
	include := "^" + regexp.QuoteMeta(site.URL) + "/site/"

	j := crawl(map[string]any{"url": site.URL + "/site/", "include": []string{include}, "max_depth": 1, "max_pages": 10})
	got := map[string]bool{}
	for _, it := range j.Items {
		got[strings.TrimPrefix(it.URL, site.URL)] = true
		if it.Status != "succeeded" {
			t.Errorf("%s: %s %s", it.URL, it.Status, str(it.ErrorCode))
		}
	}
	want := map[string]bool{"/site/": true, "/site/a": true, "/site/b": true, "/site/c": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("depth 1 crawled %v, want %v", got, want)
	}

	j = crawl(map[string]any{"url": site.URL + "/site/", "include": []string{include}, "exclude": []string{"/site/c$"}, "max_depth": 3, "max_pages": 5})
	if len(j.Items) != 5 {
		t.Errorf("max_pages 5 crawled %d pages", len(j.Items))
	}
	for _, it := range j.Items {
		if !regexp.MustCompile(include).MatchString(it.URL) || strings.HasSuffix(it.URL, "/site/c") {
			t.Errorf("crawled %s against include/exclude", it.URL)
		}
	}
	// Any origin: the link to the canary passes the origin rule and meets
	// the egress policy, which refuses it before it is queued.
	j = crawl(map[string]any{"url": site.URL + "/site/", "any_origin": true, "max_depth": 1, "max_pages": 20})
	for _, it := range j.Items {
		if strings.HasPrefix(it.URL, canary.url) {
			t.Errorf("a blocked link was queued: %s", it.URL)
		}
	}
	if len(j.Items) != 5 { // the start page, a, b, c and /private/x
		t.Errorf("any-origin crawl of depth 1 has %d pages", len(j.Items))
	}
	if n := canary.requests.Load() + canary.conns.Load(); n != 0 {
		t.Errorf("the canary on a blocked address got %d connections and requests", n)
	}
}

// TestJobOfRevokedKey: items that have not run when their key is revoked
// fail with api_key_revoked and are not charged.
func TestJobOfRevokedKey(t *testing.T) {
	s, k, key, j := slowJob(t, 5, func(*app.Config) {})
	items := j.Items
	s.revoke(t, k.ID)
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/jobs/"+j.ID, nil, bearer(key)...)), 401, "api_key_revoked")
	deadline := time.Now().Add(time.Minute)
	for {
		done := 0
		st := s.jobFromStore(t, j.ID)
		for _, it := range st.Items {
			if it.Status.Final() {
				done++
			}
		}
		if done == len(items) {
			revoked, succeeded := 0, 0
			for _, it := range st.Items {
				switch {
				case it.ErrorCode == pageshot.CodeAPIKeyRevoked:
					revoked++
				case it.Status == pageshot.ItemSucceeded:
					succeeded++
				default:
					t.Errorf("item %d: %s %s", it.Index, it.Status, it.ErrorCode)
				}
			}
			if revoked < 3 {
				t.Errorf("%d items refused after the revocation, want most of 5", revoked)
			}
			if u := s.usage(t, k.ID); u.Committed != int64(succeeded) {
				t.Errorf("charged %d, want the %d that ran", u.Committed, succeeded)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done: %+v", st.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChargeCacheHits: with --charge-cache-hits a hit is charged too.
func TestChargeCacheHits(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); c.ChargeCacheHits = true })
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	for _, want := range []string{"MISS", "HIT"} {
		r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "cache": true}, bearer(key)...))
		if r.StatusCode != 200 || r.Header.Get("X-Cache") != want {
			t.Fatalf("%d X-Cache %q, want %s", r.StatusCode, r.Header.Get("X-Cache"), want)
		}
	}
	if u := s.usage(t, k.ID); u.Committed != 2 {
		t.Errorf("charged %d, want 2", u.Committed)
	}
}

// TestJobRetention: a job that ended longer ago than the retention goes,
// with its artifacts.
func TestJobRetention(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, func(c *app.Config) {
		fastJobs(c)
		c.JobRetention = 2 * time.Second
		c.CacheSweep = 100 * time.Millisecond
	})
	_, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": []any{map[string]any{"url": tg.URL}}}, bearer(key)...))
	id := decodeJob(t, r).ID
	if j := s.waitJob(t, key, id, time.Minute); j.Succeeded != 1 {
		t.Fatalf("job: %+v", j)
	}
	artifact := jobs.ArtifactKey(id, 0, pageshot.FormatPNG)
	if _, _, err := s.app.Blobs().Get(context.Background(), artifact); err != nil {
		t.Fatalf("no artifact: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r := s.send(t, s.request(t, "GET", "/v1/jobs/"+id, nil, bearer(key)...))
		if r.StatusCode == 404 {
			wantProblem(t, r, 404, "not_found")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is still there: %s", r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := s.app.Blobs().Get(context.Background(), artifact); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("the artifact outlived its job: %v", err)
	}
}

// TestWebhookRebinding: a webhook host that resolved to an allowed address
// when the job was submitted and to a refused one at delivery is not
// called, nor retried.
func TestWebhookRebinding(t *testing.T) {
	tg := newTarget(t)
	rc := newReceiver(t, 0)
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	can := newCanary(t, port) // 127.0.0.2, same port
	dns := &rebinder{
		seen:  map[string]int{},
		first: map[string]netip.Addr{"hook.test": netip.MustParseAddr("127.0.0.1")},
		later: map[string]netip.Addr{"hook.test": netip.MustParseAddr("127.0.0.2")},
	}
	s := newTenancyServer(t, func(c *app.Config) { fastJobs(c); c.Resolver = dns })
	_, key := s.newKey(t, pageshot.DefaultPlanName, nil)
	r := s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": []any{map[string]any{"url": tg.URL}}, "webhook_url": "http://hook.test:" + port + "/"}, bearer(key)...))
	if r.StatusCode != 202 {
		t.Fatalf("the submission, while hook.test is 127.0.0.1: %d %s", r.StatusCode, r.body)
	}
	s.waitJob(t, key, decodeJob(t, r).ID, time.Minute)
	// The delivery looks the name up again, is refused, and is dropped:
	// nothing delivered, no failure to retry.
	deadline := time.Now().Add(30 * time.Second)
	for {
		dns.mu.Lock()
		n := dns.seen["hook.test"]
		dns.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never attempted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the refusal follows the lookup
	wantMetric(t, s, "pageshot_webhooks_delivered_total", 0)
	wantMetric(t, s, "pageshot_webhook_failures_total", 0)
	if n := can.requests.Load() + can.conns.Load(); n != 0 {
		t.Errorf("the webhook reached the refused address: %d connections and requests", n)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.calls) != 0 {
		t.Errorf("the receiver got %d calls after its name moved", len(rc.calls))
	}
}

// visitors is a page that counts the requests it serves at once; each
// answer takes a moment, so that captures overlap when they can.
type visitors struct {
	*httptest.Server
	now, peak, total atomic.Int64
}

func newVisitors(t *testing.T) *visitors {
	v := &visitors{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		n := v.now.Add(1)
		defer v.now.Add(-1)
		v.total.Add(1)
		for p := v.peak.Load(); n > p && !v.peak.CompareAndSwap(p, n); p = v.peak.Load() {
		}
		select { // the page's own slowness, not a synchronisation
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
		io.WriteString(w, `<!doctype html><body style="background:#00f">v</body>`)
	}))
	t.Cleanup(v.Close)
	return v
}

// TestJobItemsTakeConcurrencySlots: job items count against the key's
// concurrency like synchronous captures; they wait for a slot instead of
// failing, and the key never has more captures in flight than its plan
// allows, whichever way they came.
func TestJobItemsTakeConcurrencySlots(t *testing.T) {
	v := newVisitors(t)
	s := newTenancyServer(t, func(c *app.Config) {
		fastJobs(c)
		c.Concurrency, c.Jobs.Workers = 6, 6 // the browser and the job runner would allow 6
	})
	_, key := s.newKey(t, "pair", nil)
	items := make([]any, 8)
	for i := range items {
		items[i] = map[string]any{"url": fmt.Sprintf("%s/?item=%d", v.URL, i), "viewport_width": 300, "viewport_height": 200}
	}
	j := decodeJob(t, s.send(t, s.request(t, "POST", "/v1/jobs", map[string]any{"items": items}, bearer(key)...)))
	var wg sync.WaitGroup
	var ok, limited atomic.Int64
	for i := range 6 {
		wg.Go(func() {
			r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": fmt.Sprintf("%s/?sync=%d", v.URL, i), "viewport_width": 300, "viewport_height": 200}, bearer(key)...))
			switch r.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				wantProblem(t, r, 429, "concurrency_limited")
				limited.Add(1)
			default:
				t.Errorf("sync capture: %d %s", r.StatusCode, r.body)
			}
		})
	}
	wg.Wait()
	done := s.waitJob(t, key, j.ID, 2*time.Minute)
	if done.Succeeded != 8 || done.Failed != 0 {
		t.Errorf("job: %d succeeded, %d failed, want 8 and 0 (items wait for a slot): %+v", done.Succeeded, done.Failed, done)
	}
	if p := v.peak.Load(); p > 2 {
		t.Errorf("%d captures of one key reached the page at once; its plan allows 2", p)
	}
	if got := v.total.Load(); got != 8+ok.Load() {
		t.Errorf("the page served %d captures, want the 8 items and the %d sync captures let in", got, ok.Load())
	}
	if ok.Load()+limited.Load() != 6 {
		t.Errorf("sync captures: %d ok, %d limited", ok.Load(), limited.Load())
	}
}

// TestCacheHitsWhenQuotaIsSpent: cache hits are free, so a key whose quota
// is spent is still served its cached captures, and a 304 of a hit costs
// nothing either; anything else is quota_exceeded.
func TestCacheHitsWhenQuotaIsSpent(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, fastJobs)
	k, key := s.newKey(t, "one", nil)
	q := "/v1/screenshot?cache=true&viewport_width=300&viewport_height=200&url=" + url.QueryEscape(tg.URL)
	get := func(header ...string) *response {
		return s.send(t, s.request(t, "GET", q, nil, append(bearer(key), header...)...))
	}
	miss := get()
	wantImage(t, miss, "image/png")
	if miss.Header.Get("X-Cache") != "MISS" || miss.Header.Get("X-Quota-Remaining") != "0" {
		t.Fatalf("first capture: X-Cache %q, X-Quota-Remaining %q", miss.Header.Get("X-Cache"), miss.Header.Get("X-Quota-Remaining"))
	}
	hit := get()
	img := wantImage(t, hit, "image/png")
	wantSize(t, img, 300, 200)
	if hit.Header.Get("X-Cache") != "HIT" || !bytes.Equal(hit.body, miss.body) {
		t.Errorf("a hit with the quota spent: X-Cache %q, same bytes %v", hit.Header.Get("X-Cache"), bytes.Equal(hit.body, miss.body))
	}
	if r := get("If-None-Match", hit.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match on a hit: %d", r.StatusCode)
	}
	r := s.send(t, s.request(t, "GET", "/v1/screenshot?url="+url.QueryEscape(tg.URL), nil, bearer(key)...))
	wantProblem(t, r, 402, "quota_exceeded")
	if u := s.usage(t, k.ID); u.Committed != 1 || u.Reserved != 0 {
		t.Errorf("ledger %+v, want the one capture made", u)
	}
}
