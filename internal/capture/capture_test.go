package capture_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/blob"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/sqlite"
)

// renderer is a pageshot.Renderer the test controls: it answers at once,
// or, with gate set, only when the test sends on gate. It counts the
// renders in flight and the most it saw at once.
type renderer struct {
	gate     chan struct{}
	entered  chan struct{} // receives one value per render that started
	err      error
	finalURL string
	// touch, when set, is given the options of every render.
	touch func(*pageshot.Options)

	inFlight, peak, calls atomic.Int64
}

func (r *renderer) Render(ctx context.Context, o *pageshot.Options) (*pageshot.Capture, error) {
	r.calls.Add(1)
	if r.touch != nil {
		r.touch(o)
	}
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if r.entered != nil {
		r.entered <- struct{}{}
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, pageshot.Errorf(pageshot.CodeTimeout, "canceled")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	final := r.finalURL
	if final == "" {
		final = o.URL
	}
	return &pageshot.Capture{Data: []byte("png bytes"), Format: o.Format, Width: 1, Height: 1, ReturnedStatusCode: 200, FinalURL: final, Links: []string{"x"}}, nil
}

type fixture struct {
	svc   *capture.Service
	store *sqlite.Store
	r     *renderer
	conc  *limit.Concurrency
}

// newFixture returns a service over r, a real SQLite store and file blobs;
// adjust, when given, changes the service's config before it is built.
func newFixture(t testing.TB, r *renderer, lim pageshot.Limits, adjust ...func(*capture.Config)) *fixture {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pageshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := blob.Open(context.Background(), blob.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	conc := limit.NewConcurrency()
	cfg := capture.Config{
		Renderer: r, Limits: lim, Usage: store, Concurrency: conc, Blobs: blobs, Cache: store,
		SlotPoll: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	}
	for _, a := range adjust {
		a(&cfg)
	}
	return &fixture{svc: capture.New(cfg), store: store, r: r, conc: conc}
}

func caller(id string, p pageshot.Plan) *pageshot.Caller {
	return &pageshot.Caller{Key: &pageshot.APIKey{ID: id}, Plan: p}
}

func raw(t testing.TB, body string) pageshot.RawOptions {
	r, err := pageshot.DecodeJSONOptions(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) used(t testing.TB, keyID string) pageshot.Usage {
	period, _ := pageshot.Period(time.Now())
	u, err := f.store.Usage(context.Background(), keyID, period)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAdmission(t *testing.T) {
	r := &renderer{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	f := newFixture(t, r, pageshot.Limits{})
	c := caller("k", pageshot.Plan{Name: "p", MonthlyQuota: 2, MaxConcurrency: 1})
	ctx := context.Background()

	// One at a time: the second capture is refused while the first renders.
	done := make(chan error, 1)
	go func() {
		_, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)})
		done <- err
	}()
	<-r.entered
	_, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)})
	if e := pageshot.AsError(err); e == nil || e.Code != pageshot.CodeConcurrencyLimited || e.RetryAfter != time.Second {
		t.Fatalf("second capture at once: %+v", e)
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{Reserved: 1}) {
		t.Errorf("usage while one renders: %+v", u)
	}
	r.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A failure is refunded; bad options cost nothing.
	r.err = pageshot.Errorf(pageshot.CodeConnectionFailed, "refused")
	r.gate = nil
	r.entered = nil
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)}); pageshot.ErrorCode(err) != pageshot.CodeConnectionFailed {
		t.Fatalf("failing render: %v", err)
	}
	res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"ftp://x","quality":900}`)})
	if e := pageshot.AsError(err); e.Code != pageshot.CodeInvalidRequest || len(e.Fields) < 2 {
		t.Fatalf("bad options: %+v", e)
	}
	if res.Quota.Used != 1 || res.Quota.Limit != 2 {
		t.Errorf("quota after a refused request: %+v", res.Quota)
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{Committed: 1}) {
		t.Errorf("usage after a failure and bad options: %+v", u)
	}

	// The second success uses the quota up; the third is refused with the
	// members a client needs.
	r.err = nil
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)})
	_, reset := pageshot.Period(time.Now())
	if e := pageshot.AsError(err); e.Code != pageshot.CodeQuotaExceeded || e.Plan != "p" || e.Limit != 2 || e.Used != 2 || !e.ResetAt.Equal(reset) {
		t.Errorf("over the quota: %+v", e)
	}
	// With the quota used up, bad options are told the quota first.
	_, err = f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"ftp://x"}`)})
	if e := pageshot.AsError(err); e.Code != pageshot.CodeQuotaExceeded {
		t.Errorf("bad options over the quota: %+v", e)
	}
	if got := r.calls.Load(); got != 3 {
		t.Errorf("%d renders, want 3 (the refused ones never reach the browser)", got)
	}
}

// TestQuotaIsExact: 50 captures at once on a quota of 5.
func TestQuotaIsExact(t *testing.T) {
	f := newFixture(t, &renderer{}, pageshot.Limits{})
	c := caller("k", pageshot.Plan{MonthlyQuota: 5})
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := f.svc.Capture(context.Background(), &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"html":"<p>x</p>"}`)})
			switch pageshot.ErrorCode(err) {
			case "":
				ok.Add(1)
			case pageshot.CodeQuotaExceeded:
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 45 {
		t.Errorf("%d succeeded and %d were refused, want 5 and 45", ok.Load(), refused.Load())
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{Committed: 5}) {
		t.Errorf("ledger %+v, want 5 committed", u)
	}
}

// TestWaitForSlot: captures that wait (job items) share the key's
// concurrency with those that do not, and never pass it.
func TestWaitForSlot(t *testing.T) {
	r := &renderer{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	f := newFixture(t, r, pageshot.Limits{})
	c := caller("k", pageshot.Plan{MaxConcurrency: 2})
	ctx := context.Background()
	errs := make(chan error, 6)
	capt := func(wait bool) {
		_, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"html":"<p>x</p>"}`), Wait: wait, Prepaid: wait})
		errs <- err
	}
	go capt(false)
	go capt(false)
	<-r.entered
	<-r.entered
	for range 4 {
		go capt(true)
	}
	// The waiting ones poll for a slot while both are held; a capture
	// that does not wait is refused meanwhile.
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"html":"<p>x</p>"}`)}); pageshot.ErrorCode(err) != pageshot.CodeConcurrencyLimited {
		t.Fatalf("a sync capture while the slots are held: %v", err)
	}
	for range 6 {
		r.gate <- struct{}{}
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if p := r.peak.Load(); p != 2 {
		t.Errorf("%d captures of the key rendered at once, want at most (and here exactly) 2", p)
	}
	if r.calls.Load() != 6 {
		t.Errorf("%d renders, want 6", r.calls.Load())
	}
	if f.conc.InFlight("key:k") != 0 {
		t.Errorf("slots left taken: %d", f.conc.InFlight("key:k"))
	}
	// The waiting captures were prepaid: only the two sync ones were
	// charged here.
	if u := f.used(t, "k"); u != (pageshot.Usage{Committed: 2}) {
		t.Errorf("usage %+v, want the 2 sync captures", u)
	}

	// A waiting capture whose context ends first times out.
	r.gate, r.entered = make(chan struct{}), make(chan struct{}, 10)
	go capt(false)
	go capt(false)
	<-r.entered
	<-r.entered
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.svc.Capture(short, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"html":"<p>x</p>"}`), Wait: true, Prepaid: true}); pageshot.ErrorCode(err) != pageshot.CodeTimeout {
		t.Errorf("waiting past the context: %v", err)
	}
	r.gate <- struct{}{}
	r.gate <- struct{}{}
	<-errs
	<-errs
}

// TestCache: a hit is free, also once the quota is spent; a miss fills
// the cache; keys never share entries.
func TestCache(t *testing.T) {
	f := newFixture(t, &renderer{}, pageshot.Limits{})
	c := caller("k", pageshot.Plan{MonthlyQuota: 1})
	ctx := context.Background()
	body := `{"url":"https://example.com/","cache":true}`
	res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, body)})
	if err != nil || res.Cached || !res.Made || res.BlobKey == "" || res.ExpiresAt.IsZero() {
		t.Fatalf("miss: %+v %v", res, err)
	}
	res, err = f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, body)})
	if err != nil || !res.Cached || res.Made || string(res.Capture.Data) != "png bytes" {
		t.Fatalf("hit with the quota spent: %+v %v", res, err)
	}
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)}); pageshot.ErrorCode(err) != pageshot.CodeQuotaExceeded {
		t.Errorf("a capture that is not a hit, with the quota spent: %v", err)
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{Committed: 1}) {
		t.Errorf("usage %+v, want only the miss charged", u)
	}
	other := caller("other", pageshot.Plan{})
	if res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: other, Raw: raw(t, body)}); err != nil || res.Cached {
		t.Errorf("another key got k's entry: %+v %v", res, err)
	}
}

func TestPlanTimeout(t *testing.T) {
	f := newFixture(t, &renderer{}, pageshot.Limits{MaxTimeout: 30 * time.Second})
	for _, c := range []struct {
		plan    time.Duration
		timeout string
		ok      bool
	}{
		{60 * time.Second, "30", true},
		{60 * time.Second, "45", false}, // the server's cap holds
		{10 * time.Second, "10", true},
		{10 * time.Second, "20", false}, // the plan's cap holds
	} {
		_, err := f.svc.Capture(context.Background(), &pageshot.CaptureRequest{
			Caller: caller("k", pageshot.Plan{MaxTimeout: c.plan}), Raw: raw(t, `{"html":"x","timeout":`+c.timeout+`}`)})
		if (err == nil) != c.ok {
			t.Errorf("plan %v, timeout %s: %v", c.plan, c.timeout, err)
		}
	}
}

func TestKeyURLLists(t *testing.T) {
	r := &renderer{}
	f := newFixture(t, r, pageshot.Limits{})
	c := caller("k", pageshot.Plan{})
	c.Key.URLBlock = []string{"evil.example"}
	ctx := context.Background()
	_, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://www.evil.example/"}`)})
	if e := pageshot.AsError(err); e.Code != pageshot.CodeURLBlocked || e.Reason != "key_blocklist" || r.calls.Load() != 0 {
		t.Errorf("blocked target: %+v, %d renders", e, r.calls.Load())
	}
	// A redirect that ended on a blocked host: not handed out, not charged.
	r.finalURL = "https://evil.example/landing"
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`)}); pageshot.ErrorCode(err) != pageshot.CodeURLBlocked {
		t.Errorf("redirect to a blocked host: %v", err)
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{}) {
		t.Errorf("usage %+v, want nothing charged", u)
	}
}

// TestArtifact: a job item's capture goes under its artifact key and
// leaves the quota to the job.
func TestArtifact(t *testing.T) {
	f := newFixture(t, &renderer{}, pageshot.Limits{})
	c := caller("k", pageshot.Plan{MonthlyQuota: 1})
	res, err := f.svc.Capture(context.Background(), &pageshot.CaptureRequest{
		Caller: c, Raw: raw(t, `{"url":"https://example.com/"}`), Wait: true, Prepaid: true, ArtifactKey: "job_x-0.png", CollectLinks: true})
	if err != nil || res.BlobKey != "job_x-0.png" || len(res.Capture.Links) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if u := f.used(t, "k"); u != (pageshot.Usage{}) {
		t.Errorf("a prepaid capture touched the ledger: %+v", u)
	}
}

// TestQueryOptionsRemembered: options from a query are parsed once and
// remembered, and what is remembered is the parse alone: it is told apart
// by the caller's limits and key, the key's URL lists are asked anew, and
// no request sees what another one did to its options.
func TestQueryOptionsRemembered(t *testing.T) {
	r := &renderer{touch: func(o *pageshot.Options) {
		if len(o.Headers) != 1 || len(o.HideSelectors) != 1 || o.Clip == nil || o.Clip.X != 1 {
			panic(fmt.Sprintf("options changed by an earlier capture: %+v", o))
		}
		o.Headers["X-Other"] = "1"
		o.HideSelectors[0] = "#changed"
		o.HideSelectors = append(o.HideSelectors, "#more")
		o.Clip.X = 99
	}}
	f := newFixture(t, r, pageshot.Limits{MaxTimeout: time.Minute})
	ctx := context.Background()
	query := func(s string) pageshot.RawOptions {
		q, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return pageshot.QueryOptions(q)
	}
	const q = "url=https://example.com/&headers=X-One:+1&hide_selectors=%23ad&clip_x=1&clip_y=0&clip_width=10&clip_height=10&timeout=20"
	short := caller("k", pageshot.Plan{MaxTimeout: 10 * time.Second})
	long := caller("k", pageshot.Plan{MaxTimeout: 30 * time.Second})
	for i := range 3 {
		if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: long, Raw: query(q)}); err != nil {
			t.Fatalf("round %d, a plan that allows 20 s: %v", i, err)
		}
		if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: short, Raw: query(q)}); pageshot.ErrorCode(err) != pageshot.CodeInvalidRequest {
			t.Fatalf("round %d, a plan that allows 10 s: %v", i, err)
		}
	}
	if n := r.calls.Load(); n != 3 {
		t.Errorf("%d renders, want 3", n)
	}

	// The key's URL lists are the key's as it is now.
	blocked := caller("k", pageshot.Plan{MaxTimeout: 30 * time.Second})
	blocked.Key.URLBlock = []string{"example.com"}
	if _, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: blocked, Raw: query(q)}); pageshot.ErrorCode(err) != pageshot.CodeURLBlocked {
		t.Errorf("the same query from the key once it blocks the host: %v", err)
	}

	// The cache key is the caller's: another key's same query misses.
	r.touch = nil
	const cached = "url=https://example.com/&cache=true"
	if res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: long, Raw: query(cached)}); err != nil || res.Cached {
		t.Fatalf("first: %+v %v", res, err)
	}
	if res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: long, Raw: query(cached)}); err != nil || !res.Cached {
		t.Fatalf("second, same key: %+v %v", res, err)
	}
	if res, err := f.svc.Capture(ctx, &pageshot.CaptureRequest{Caller: caller("other", pageshot.Plan{}), Raw: query(cached)}); err != nil || res.Cached {
		t.Errorf("same query, another key: %+v %v", res, err)
	}
}
