package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
)

// tenancyPlans are the plans of the tenancy tests' server.
var tenancyPlans = map[string]pageshot.Plan{
	pageshot.DefaultPlanName: testPlans[pageshot.DefaultPlanName],
	"five":                   {MonthlyQuota: 5, MaxConcurrency: 100, MaxTimeout: time.Minute},
	"slow":                   {RatePerMinute: 3, MaxTimeout: time.Minute},
	"single":                 {MaxConcurrency: 1, MaxTimeout: time.Minute},
	"pair":                   {MaxConcurrency: 2, MaxTimeout: time.Minute},
	"one":                    {MonthlyQuota: 1, MaxConcurrency: 10, MaxTimeout: time.Minute},
	"short":                  {MaxTimeout: 5 * time.Second},
}

// newTenancyServer starts a server with the tenancy plans.
func newTenancyServer(t *testing.T, modify func(*app.Config)) *server {
	return startServer(t, func(c *app.Config) {
		c.Plans = tenancyPlans
		c.IPRatePerMinute = 1000
		if modify != nil {
			modify(c)
		}
	})
}

// newKey creates a key in s's store, beside the running server, as
// `pageshot keys create` does; modify adjusts it before it is stored.
func (s *server) newKey(t *testing.T, plan string, modify func(*pageshot.APIKey)) (*pageshot.APIKey, string) {
	t.Helper()
	st := s.openStore(t)
	defer st.Close()
	k, key, err := pageshot.NewKey(t.Name(), plan, pageshot.AllScopes(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if modify != nil {
		modify(k)
	}
	if err := st.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, key
}

// usage reads keyID's usage this period from the store.
func (s *server) usage(t *testing.T, keyID string) pageshot.Usage {
	t.Helper()
	st := s.openStore(t)
	defer st.Close()
	period, _ := pageshot.Period(time.Now())
	u, err := st.Usage(context.Background(), keyID, period)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// request builds a request to s with the given headers ("Name", "value"
// pairs); a JSON body when body is not nil.
func (s *server) request(t *testing.T, method, path string, body any, header ...string) *http.Request {
	t.Helper()
	var r *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	var req *http.Request
	if r != nil {
		req, _ = http.NewRequest(method, s.url+path, r)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(method, s.url+path, nil)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// wantRateHeaders asserts the X-RateLimit-* headers and returns the limit
// and remaining.
func wantRateHeaders(t *testing.T, r *response) (limit, remaining int) {
	t.Helper()
	limit, err1 := strconv.Atoi(r.Header.Get("X-RateLimit-Limit"))
	remaining, err2 := strconv.Atoi(r.Header.Get("X-RateLimit-Remaining"))
	reset, err3 := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || reset < time.Now().Unix()-1 || reset > time.Now().Add(2*time.Minute).Unix() {
		t.Errorf("X-RateLimit-* headers: limit %q remaining %q reset %q",
			r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"), r.Header.Get("X-RateLimit-Reset"))
	}
	return limit, remaining
}

// wantQuotaHeaders asserts X-Quota-* of an authenticated answer: limit
// and remaining as given (-1: absent, an unlimited plan) and the reset at
// the start of next month.
func wantQuotaHeaders(t *testing.T, r *response, limit, remaining int) {
	t.Helper()
	_, reset := pageshot.Period(time.Now())
	if got := r.Header.Get("X-Quota-Reset"); got != strconv.FormatInt(reset.Unix(), 10) {
		t.Errorf("X-Quota-Reset = %q, want %d", got, reset.Unix())
	}
	for name, want := range map[string]int{"X-Quota-Limit": limit, "X-Quota-Remaining": remaining} {
		got := r.Header.Get(name)
		if want < 0 && got != "" || want >= 0 && got != strconv.Itoa(want) {
			t.Errorf("%s = %q, want %d", name, got, want)
		}
	}
}

func TestAuthentication(t *testing.T) { onStores(t, testAuthentication) }

func testAuthentication(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, store)
	_, good := s.newKey(t, "five", nil)
	revoked, revokedKey := s.newKey(t, "five", func(k *pageshot.APIKey) { k.RevokedAt = time.Now().Add(-time.Second) })
	_, expiredKey := s.newKey(t, "five", func(k *pageshot.APIKey) { k.ExpiresAt = time.Now().Add(-time.Minute) })
	_, signedOnly := s.newKey(t, "five", func(k *pageshot.APIKey) { k.SignedOnly = true })
	_, usageOnly := s.newKey(t, "five", func(k *pageshot.APIKey) { k.Scopes = []pageshot.Scope{pageshot.ScopeUsage} })
	_, blocking := s.newKey(t, "five", func(k *pageshot.APIKey) { k.URLBlock = []string{"127.0.0.1", "example.org"} })
	_, allowing := s.newKey(t, "five", func(k *pageshot.APIKey) { k.URLAllow = []string{"*.example.com"} })
	id, _, _ := pageshot.ParseKey(good)
	capture := map[string]any{"url": tg.URL, "viewport_width": 300, "viewport_height": 200}

	for _, c := range []struct {
		name           string
		method, path   string
		body           any
		header         []string
		status         int
		code, reason   string
		authenticated  bool // X-Quota-* expected
		ipRateHeaders  bool // the client address's bucket in X-RateLimit-*
		quotaRemaining int
	}{
		{name: "no key", method: "GET", path: "/v1/usage", status: 401, code: "missing_api_key", ipRateHeaders: true},
		{name: "not a key", method: "GET", path: "/v1/usage", header: bearer("nonsense"), status: 401, code: "invalid_api_key", ipRateHeaders: true},
		{name: "basic auth is not a key", method: "GET", path: "/v1/usage", header: []string{"Authorization", "Basic dXNlcjpwYXNz"}, status: 401, code: "missing_api_key", ipRateHeaders: true},
		{name: "unknown id", method: "GET", path: "/v1/usage", header: bearer("key_unknown.c2VjcmV0"), status: 401, code: "invalid_api_key", ipRateHeaders: true},
		{name: "wrong secret", method: "GET", path: "/v1/usage", header: bearer(id + ".wrong"), status: 401, code: "invalid_api_key", ipRateHeaders: true},
		{name: "id without secret", method: "GET", path: "/v1/usage", header: bearer(id), status: 401, code: "invalid_api_key", ipRateHeaders: true},
		{name: "revoked", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(revokedKey), status: 401, code: "api_key_revoked", ipRateHeaders: true},
		{name: "expired", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(expiredKey), status: 401, code: "api_key_expired", ipRateHeaders: true},
		{name: "signed only", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(signedOnly), status: 401, code: "signature_required", ipRateHeaders: true},
		{name: "signed only, access_key", method: "GET", path: "/v1/usage?access_key=" + url.QueryEscape(signedOnly), status: 401, code: "signature_required", ipRateHeaders: true},
		{name: "scope", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(usageOnly), status: 403, code: "insufficient_scope", authenticated: true, quotaRemaining: 5},
		{name: "blocklist", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(blocking), status: 403, code: "url_blocked", reason: "key_blocklist", authenticated: true, quotaRemaining: 5},
		{name: "blocklist, subdomain", method: "POST", path: "/v1/screenshot", body: map[string]any{"url": "http://www.example.org/"}, header: bearer(blocking), status: 403, code: "url_blocked", reason: "key_blocklist", authenticated: true, quotaRemaining: 5},
		{name: "allowlist", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(allowing), status: 403, code: "url_blocked", reason: "key_allowlist", authenticated: true, quotaRemaining: 5},
		{name: "bearer", method: "GET", path: "/v1/usage", header: bearer(good), status: 200, authenticated: true, quotaRemaining: 5},
		{name: "X-API-Key", method: "GET", path: "/v1/usage", header: []string{"X-API-Key", good}, status: 200, authenticated: true, quotaRemaining: 5},
		{name: "access_key", method: "GET", path: "/v1/usage?access_key=" + url.QueryEscape(good), status: 200, authenticated: true, quotaRemaining: 5},
		{name: "capture", method: "POST", path: "/v1/screenshot", body: capture, header: bearer(good), status: 200, authenticated: true, quotaRemaining: 4},
		{name: "bad options after auth", method: "POST", path: "/v1/screenshot", body: map[string]any{"url": tg.URL, "delay": -1}, header: bearer(good), status: 400, code: "invalid_request", authenticated: true, quotaRemaining: 4},
		{name: "a public route needs no key", method: "GET", path: "/healthz", status: 200, ipRateHeaders: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.send(t, s.request(t, c.method, c.path, c.body, c.header...))
			if c.code != "" {
				p := wantProblem(t, r, c.status, c.code)
				if p.Reason != c.reason {
					t.Errorf("reason = %q, want %q", p.Reason, c.reason)
				}
			} else if r.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, c.status, r.body)
			}
			limit, _ := wantRateHeaders(t, r)
			if c.ipRateHeaders && limit != 1000 {
				t.Errorf("X-RateLimit-Limit = %d, want the per-address 1000", limit)
			}
			if c.authenticated {
				wantQuotaHeaders(t, r, 5, c.quotaRemaining)
			} else if r.Header.Get("X-Quota-Reset") != "" {
				t.Errorf("X-Quota-* on an answer without a valid key")
			}
			for _, secret := range []string{good, revokedKey, expiredKey, signedOnly, usageOnly, revoked.SigningSecret} {
				_, part, _ := strings.Cut(secret, ".")
				if part != "" && bytes.Contains(r.body, []byte(part)) || bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("a secret is in the answer: %s", r.body)
				}
			}
		})
	}
}

func TestUsageEndpoint(t *testing.T) { onStores(t, testUsageEndpoint) }

func testUsageEndpoint(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, store)
	k, key := s.newKey(t, "five", nil)
	wantImage(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL}, bearer(key)...)), "image/png")
	r := s.send(t, s.request(t, "GET", "/v1/usage", nil, bearer(key)...))
	var u struct {
		KeyID string `json:"key_id"`
		Plan  struct {
			Name         string
			MonthlyQuota int64 `json:"monthly_quota"`
		}
		Period    string
		Used      int64
		InFlight  int64 `json:"in_flight"`
		Remaining *int64
	}
	if err := json.Unmarshal(r.body, &u); err != nil || r.StatusCode != 200 {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	period, _ := pageshot.Period(time.Now())
	if u.KeyID != k.ID || u.Plan.Name != "five" || u.Plan.MonthlyQuota != 5 || u.Period != period || u.Used != 1 || u.InFlight != 0 || u.Remaining == nil || *u.Remaining != 4 {
		t.Errorf("usage: %s", r.body)
	}
}

// TestQuota: a failing capture is not charged; 50 concurrent captures on
// a key with 5 left give exactly 5 images and 45 quota_exceeded, and the
// ledger says 5.
func TestQuota(t *testing.T) { onStores(t, testQuota) }

func testQuota(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, store)
	k, key := s.newKey(t, "five", nil)

	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL + "/status/404"}, bearer(key)...))
	wantProblem(t, r, 502, "host_returned_error")
	wantQuotaHeaders(t, r, 5, 5)
	if u := s.usage(t, k.ID); u != (pageshot.Usage{}) {
		t.Fatalf("a failed capture left usage %+v", u)
	}

	const n = 50
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		byStatus  = map[int]int{}
		exceeded  []byte
		otherBody []byte
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "viewport_width": 200, "viewport_height": 100}, bearer(key)...))
			mu.Lock()
			defer mu.Unlock()
			byStatus[r.StatusCode]++
			switch r.StatusCode {
			case 402:
				exceeded = r.body
				wantProblem(t, r, 402, "quota_exceeded")
			case 200:
			default:
				otherBody = r.body
			}
		}()
	}
	wg.Wait()
	if byStatus[200] != 5 || byStatus[402] != 45 {
		t.Fatalf("answers by status %v, want 5×200 and 45×402; other: %s", byStatus, otherBody)
	}
	var p struct {
		Plan    string
		Limit   int64
		Used    int64
		ResetAt int64 `json:"reset_at"`
	}
	json.Unmarshal(exceeded, &p)
	_, reset := pageshot.Period(time.Now())
	if p.Plan != "five" || p.Limit != 5 || p.Used < 5 || p.ResetAt != reset.Unix() {
		t.Errorf("quota_exceeded members: %s", exceeded)
	}
	if u := s.usage(t, k.ID); u.Committed != 5 || u.Reserved != 0 {
		t.Errorf("ledger %+v, want 5 committed, none reserved", u)
	}
	r = s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL}, bearer(key)...))
	wantProblem(t, r, 402, "quota_exceeded")
	wantQuotaHeaders(t, r, 5, 0)
}

func TestRateLimit(t *testing.T) { onStores(t, testRateLimit) }

func testRateLimit(t *testing.T, store func(*app.Config)) {
	s := newTenancyServer(t, store)
	_, key := s.newKey(t, "slow", nil)
	for i := range 3 {
		r := s.send(t, s.request(t, "GET", "/v1/usage", nil, bearer(key)...))
		if r.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, r.StatusCode, r.body)
		}
		if limit, left := wantRateHeaders(t, r); limit != 3 || left != 2-i {
			t.Errorf("request %d: limit %d remaining %d", i, limit, left)
		}
	}
	r := s.send(t, s.request(t, "GET", "/v1/usage", nil, bearer(key)...))
	p := wantProblem(t, r, 429, "rate_limited")
	if p.RetryAfter < 1 || p.RetryAfter > 20 {
		t.Errorf("retry_after %d, want the time to the next token (20 s at most)", p.RetryAfter)
	}
	if limit, left := wantRateHeaders(t, r); limit != 3 || left != 0 {
		t.Errorf("limit %d remaining %d", limit, left)
	}
	wantQuotaHeaders(t, r, -1, -1)
}

// TestIPRateLimit: requests without a valid key spend the client address's
// budget; once it is gone they get rate_limited, while a valid key still
// passes.
func TestIPRateLimit(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.IPRatePerMinute = 3 })
	for i := range 3 {
		r := s.send(t, s.request(t, "GET", "/v1/usage", nil, bearer("key_guess.guess")...))
		wantProblem(t, r, 401, "invalid_api_key")
		if limit, left := wantRateHeaders(t, r); limit != 3 || left != 2-i {
			t.Errorf("guess %d: limit %d remaining %d", i, limit, left)
		}
	}
	r := s.send(t, s.request(t, "GET", "/v1/usage", nil, bearer("key_guess.guess")...))
	if p := wantProblem(t, r, 429, "rate_limited"); p.RetryAfter < 1 {
		t.Errorf("retry_after %d", p.RetryAfter)
	}
	wantProblem(t, s.send(t, s.request(t, "GET", "/v1/screenshot", nil)), 429, "rate_limited")
	if r := s.get(t, "/v1/usage"); r.StatusCode != 200 {
		t.Errorf("a valid key from the same address: %d %s", r.StatusCode, r.body)
	}
	r = s.get(t, "/healthz")
	if limit, left := wantRateHeaders(t, r); r.StatusCode != 200 || limit != 3 || left != 0 {
		t.Errorf("/healthz: %d, limit %d remaining %d", r.StatusCode, limit, left)
	}
}

func TestConcurrencyLimit(t *testing.T) { onStores(t, testConcurrencyLimit) }

func testConcurrencyLimit(t *testing.T, store func(*app.Config)) {
	tg := newTarget(t)
	s := newTenancyServer(t, store)
	k, key := s.newKey(t, "single", nil)
	first := make(chan *response, 1)
	go func() {
		first <- s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL + "/slow?d=3s"}, bearer(key)...))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for s.usage(t, k.ID).Reserved == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first capture never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL}, bearer(key)...))
	if p := wantProblem(t, r, 429, "concurrency_limited"); p.RetryAfter < 1 {
		t.Errorf("retry_after %d", p.RetryAfter)
	}
	wantRateHeaders(t, r)
	wantImage(t, <-first, "image/png")
	wantImage(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL}, bearer(key)...)), "image/png")
	if u := s.usage(t, k.ID); u.Committed != 2 || u.Reserved != 0 {
		t.Errorf("ledger %+v, want 2 committed", u)
	}
}

func TestPlanMaxTimeout(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, nil)
	_, key := s.newKey(t, "short", nil)
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "timeout": 10}, bearer(key)...))
	p := wantProblem(t, r, 400, "invalid_request")
	if len(p.Errors) != 1 || p.Errors[0].Field != "timeout" {
		t.Errorf("errors: %+v", p.Errors)
	}
	wantImage(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "timeout": 5}, bearer(key)...)), "image/png")

	// --max-timeout bounds every plan: the default plan allows 60 s, the
	// server 20 s.
	capped := newTenancyServer(t, func(c *app.Config) { c.Limits.MaxTimeout = 20 * time.Second })
	r = capped.send(t, capped.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "timeout": 30}, bearer(capped.key)...))
	if p := wantProblem(t, r, 400, "invalid_request"); len(p.Errors) != 1 || p.Errors[0].Field != "timeout" {
		t.Errorf("a timeout over --max-timeout: %+v", p.Errors)
	}
	wantImage(t, capped.send(t, capped.request(t, "POST", "/v1/screenshot", map[string]any{"url": tg.URL, "timeout": 20}, bearer(capped.key)...)), "image/png")
}

// signedURL returns a signed GET /v1/screenshot URL of k with the options
// in q, valid until expires.
func signedURL(base string, k *pageshot.APIKey, q url.Values, expires time.Time) string {
	q.Set("access_key", k.ID)
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	q.Set("signature", pageshot.Sign(k.SigningSecret, q))
	return base + "/v1/screenshot?" + q.Encode()
}

// TestSignedURL: a signed URL works as the src of an <img> on a page that
// Chromium renders; an altered or expired one is invalid_signature.
func TestSignedURL(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, nil)
	k, _ := s.newKey(t, "five", func(k *pageshot.APIKey) { k.SignedOnly = true })
	opts := func() url.Values {
		return url.Values{"url": {tg.URL + "/"}, "viewport_width": {"200"}, "viewport_height": {"100"}}
	}
	good := signedURL(s.url, k, opts(), time.Now().Add(time.Hour))
	altered := strings.Replace(good, "viewport_width=200", "viewport_width=201", 1)
	expired := signedURL(s.url, k, opts(), time.Now().Add(-time.Second))
	noSignature := strings.Split(good, "&signature=")[0]

	get := func(u string) *response {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		return s.send(t, req)
	}
	img := wantImage(t, get(good), "image/png")
	wantSize(t, img, 200, 100)
	wantProblem(t, get(altered), 401, "invalid_signature")
	wantProblem(t, get(expired), 401, "invalid_signature")
	wantProblem(t, get(noSignature), 401, "invalid_api_key") // an id is not a key

	// The same URLs as the src of an <img>, on a page pageshot renders.
	red, green := color.RGBA{0xcc, 0, 0, 255}, color.RGBA{0, 0xff, 0, 255}
	_, key := s.newKey(t, "five", nil)
	shoot := func(src string) *response {
		return s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{
			"url": tg.URL + "/embed?src=" + url.QueryEscape(src), "viewport_width": 400, "viewport_height": 300,
		}, bearer(key)...))
	}
	page := wantImage(t, shoot(good), "image/png")
	if c := page.At(50, 25); !near(c, red, 12) {
		t.Errorf("the signed <img> did not load: pixel (50,25) is %v, want the red of the captured page", c)
	}
	if c := page.At(300, 250); !near(c, green, 12) {
		t.Errorf("pixel (300,250) is %v, want the green page", c)
	}
	for name, src := range map[string]string{"altered": altered, "expired": expired} {
		page := wantImage(t, shoot(src), "image/png")
		if c := page.At(50, 25); near(c, red, 40) {
			t.Errorf("%s: the <img> loaded a capture", name)
		}
	}
	if u := s.usage(t, k.ID); u.Committed != 2 {
		t.Errorf("the signed key was charged %d captures, want 2 (the direct GET and the <img>)", u.Committed)
	}
}

// revoke revokes keyID in s's store, as `pageshot keys revoke` does.
func (s *server) revoke(t *testing.T, keyID string) {
	t.Helper()
	st := s.openStore(t)
	defer st.Close()
	if err := st.RevokeKey(context.Background(), keyID, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// jobFromStore reads a job from s's store, whatever its key's state.
func (s *server) jobFromStore(t *testing.T, id string) *pageshot.Job {
	t.Helper()
	st := s.openStore(t)
	defer st.Close()
	j, err := st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestKeyListOnRedirect: a key's blocklist holds for every redirect of the
// main page, before the request leaves: the blocked host never sees it.
func TestKeyListOnRedirect(t *testing.T) {
	var hostHits sync.Map
	mux := http.NewServeMux()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hostHits.LoadOrStore(r.Host, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(site.Close)
	_, port, _ := net.SplitHostPort(site.Listener.Addr().String())
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://blocked.test:"+port+"/", http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, pageHTML) })
	loop := netip.MustParseAddr("127.0.0.1")
	s := newTenancyServer(t, func(c *app.Config) {
		c.Resolver = &rebinder{static: map[string]netip.Addr{"ok.test": loop, "blocked.test": loop}}
	})
	_, key := s.newKey(t, pageshot.DefaultPlanName, func(k *pageshot.APIKey) { k.URLBlock = []string{"blocked.test"} })

	wantImage(t, s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": "http://ok.test:" + port + "/"}, bearer(key)...)), "image/png")
	r := s.send(t, s.request(t, "POST", "/v1/screenshot", map[string]any{"url": "http://ok.test:" + port + "/hop"}, bearer(key)...))
	if p := wantProblem(t, r, 403, "url_blocked"); p.Reason != "key_blocklist" {
		t.Errorf("reason %q, want key_blocklist", p.Reason)
	}
	if n, ok := hostHits.Load("blocked.test:" + port); ok && n.(*atomic.Int64).Load() > 0 {
		t.Errorf("the blocked host got %d requests", n.(*atomic.Int64).Load())
	}
}
