// Package storetest is the conformance suite every pageshot store passes
// (SQLite and PostgreSQL). A store's tests call Exercise with a function
// that opens a fresh, empty store, and ExerciseNodes with one that opens
// two handles on one fresh store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// Store is what a pageshot store provides.
type Store interface {
	pageshot.KeyStore
	pageshot.UsageStore
	pageshot.JobStore
	pageshot.CacheStore
}

// Exercise runs the suite; open returns a new empty store for each test.
func Exercise(t *testing.T, open func(t *testing.T) Store) {
	t.Run("keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("usage", func(t *testing.T) { testUsage(t, open(t)) })
	t.Run("usage is never overshot", func(t *testing.T) { testConcurrentReserve(t, open(t)) })
	t.Run("jobs", func(t *testing.T) { testJobs(t, open(t)) })
	t.Run("job quota", func(t *testing.T) { testJobQuota(t, open(t)) })
	t.Run("job quota is never overshot", func(t *testing.T) { testConcurrentJobQuota(t, open(t)) })
	t.Run("cache", func(t *testing.T) { testCache(t, open(t)) })
	t.Run("stale items", func(t *testing.T) { testStaleItems(t, open(t)) })
}

func testJobs(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Job(ctx, "nope"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Fatalf("unknown job: %v", err)
	}
	j := &pageshot.Job{ID: "job1", KeyID: "key1", Kind: pageshot.JobBatch, CreatedAt: time.Now(), Defaults: []byte(`{"format":"png"}`),
		Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{"url":"https://a.example/"}`)}, {URL: "https://b.example/", Options: []byte(`{}`)}, {URL: "https://c.example/", Options: []byte(`{}`)}}}
	if _, ok, err := s.CreateJob(ctx, j, pageshot.JobQuota{Period: "2026-11", Units: 3, TTL: time.Hour}, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, err := s.Job(ctx, "job1")
	if err != nil || got.Status != pageshot.JobQueued || len(got.Items) != 3 || got.Items[2].Index != 2 || got.Items[0].Status != pageshot.ItemQueued ||
		string(got.Items[0].Options) != `{"url":"https://a.example/"}` || string(got.Defaults) != `{"format":"png"}` {
		t.Fatalf("job: %+v %v", got, err)
	}
	if ok, err := s.StartItem(ctx, "job1", 0); !ok || err != nil {
		t.Fatalf("start: %v %v", ok, err)
	}
	if got, _ := s.Job(ctx, "job1"); got.Status != pageshot.JobRunning {
		t.Errorf("job after a start: %s", got.Status)
	}
	done, err := s.FinishItem(ctx, "job1", 0, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a.png", Format: pageshot.FormatPNG, ReturnedStatusCode: 200})
	if err != nil || done {
		t.Fatalf("finish: %v %v", done, err)
	}
	// A second finish of the same item (a rerun after a crash) changes
	// nothing and charges nothing.
	if _, err := s.FinishItem(ctx, "job1", 0, pageshot.ItemResult{Status: pageshot.ItemFailed, ErrorCode: pageshot.CodeTimeout}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Usage(ctx, "key1", "2026-11"); u.Committed != 1 || u.Reserved != 2 {
		t.Errorf("usage after a success and a repeated finish: %+v", u)
	}
	if ok, _ := s.StartItem(ctx, "job1", 0); ok {
		t.Error("an ended item started again")
	}
	it, err := s.Item(ctx, "job1", 0)
	if err != nil || it.Status != pageshot.ItemSucceeded || it.ArtifactKey != "a.png" || it.ReturnedStatusCode != 200 {
		t.Errorf("item: %+v %v", it, err)
	}
	added, err := s.AddItems(ctx, "job1", []pageshot.JobItem{{URL: "https://b.example/"}, {URL: "https://d.example/", Depth: 1, Options: []byte(`{}`)}, {URL: "https://e.example/", Options: []byte(`{}`)}}, 4)
	if err != nil || len(added) != 1 || added[0].Index != 3 || added[0].URL != "https://d.example/" {
		t.Fatalf("add: %+v %v", added, err)
	}
	open, err := s.UnfinishedItems(ctx)
	if err != nil || len(open) != 3 {
		t.Fatalf("unfinished: %d %v", len(open), err)
	}
	if ok, _ := s.StartItem(ctx, "job1", 1); !ok {
		t.Fatal("start item 1")
	}
	if err := s.CancelJob(ctx, "job1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.StartItem(ctx, "job1", 2); ok {
		t.Error("an item of a canceled job started")
	}
	got, _ = s.Job(ctx, "job1")
	if got.Status != pageshot.JobCanceled || got.Items[1].Status != pageshot.ItemRunning || got.Items[2].Status != pageshot.ItemCanceled {
		t.Errorf("canceled job: %s, items %s %s", got.Status, got.Items[1].Status, got.Items[2].Status)
	}
	if open, _ := s.UnfinishedItems(ctx); len(open) != 0 {
		t.Errorf("a canceled job has %d unfinished items", len(open))
	}

	// A job is done when its last item ends.
	j2 := &pageshot.Job{ID: "job2", KeyID: "key1", Kind: pageshot.JobBatch, CreatedAt: time.Now(), Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{}`)}}}
	s.CreateJob(ctx, j2, pageshot.JobQuota{}, nil)
	s.StartItem(ctx, "job2", 0)
	if done, err := s.FinishItem(ctx, "job2", 0, pageshot.ItemResult{Status: pageshot.ItemFailed, ErrorCode: pageshot.CodeTimeout, ErrorMessage: "slow"}); !done || err != nil {
		t.Errorf("last item: done %v %v", done, err)
	}
	if got, _ := s.Job(ctx, "job2"); got.Status != pageshot.JobDone || got.FinishedAt.IsZero() || got.Items[0].ErrorCode != pageshot.CodeTimeout {
		t.Errorf("done job: %+v", got)
	}

	// Retention: ended jobs go with their items; the artifacts are named.
	j3 := &pageshot.Job{ID: "job3", KeyID: "key1", Kind: pageshot.JobBatch, CreatedAt: time.Now(), Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{}`)}}}
	s.CreateJob(ctx, j3, pageshot.JobQuota{}, nil) // still queued: kept
	s.StartItem(ctx, "job2", 0)
	if arts, err := s.DeleteJobs(ctx, time.Now().Add(-time.Hour), 10); err != nil || len(arts) != 0 {
		t.Errorf("nothing ended an hour ago, yet: %v %v", arts, err)
	}
	arts, err := s.DeleteJobs(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(arts) != 1 || arts[0] != "a.png" {
		t.Errorf("deleted artifacts %v %v, want [a.png] (job1's; job2 had none)", arts, err)
	}
	for id, want := range map[string]pageshot.Code{"job1": pageshot.CodeNotFound, "job2": pageshot.CodeNotFound, "job3": ""} {
		if _, err := s.Job(ctx, id); pageshot.ErrorCode(err) != want {
			t.Errorf("%s after the sweep: %v", id, err)
		}
	}
	if _, err := s.Item(ctx, "job1", 0); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("an item outlived its job: %v", err)
	}
}

func testCache(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	if _, err := s.CacheGet(ctx, "k", now); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Fatalf("empty cache: %v", err)
	}
	e := &pageshot.CacheEntry{Key: "k", BlobKey: "b1.png", Format: pageshot.FormatPNG, Width: 10, Height: 20, ReturnedStatusCode: 200, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if replaced, err := s.CachePut(ctx, e); err != nil || replaced != "" {
		t.Fatalf("put: %q %v", replaced, err)
	}
	s.CachePut(ctx, &pageshot.CacheEntry{Key: "old", BlobKey: "b0.png", Format: pageshot.FormatPNG, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Second)})
	got, err := s.CacheGet(ctx, "k", now)
	if err != nil || got.BlobKey != "b1.png" || got.Width != 10 || got.ReturnedStatusCode != 200 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.CacheGet(ctx, "k", now.Add(2*time.Minute)); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("an expired entry was served: %v", err)
	}
	gone, err := s.CacheExpired(ctx, now, 10)
	if err != nil || len(gone) != 1 || gone[0].BlobKey != "b0.png" {
		t.Errorf("expired: %+v %v", gone, err)
	}
	// Replacing an entry, expired or not, names the blob it held.
	s.CachePut(ctx, &pageshot.CacheEntry{Key: "stale", BlobKey: "b2.png", Format: pageshot.FormatPNG, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Second)})
	if replaced, err := s.CachePut(ctx, &pageshot.CacheEntry{Key: "stale", BlobKey: "b3.png", Format: pageshot.FormatPNG, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil || replaced != "b2.png" {
		t.Errorf("replace: %q %v", replaced, err)
	}
}

func testKeys(t *testing.T, s Store) {
	ctx := context.Background()
	created := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	k := &pageshot.APIKey{
		ID: "key1", Name: "ci", Plan: "default",
		Scopes:     []pageshot.Scope{pageshot.ScopeScreenshot, pageshot.ScopeUsage},
		SecretHash: []byte{1, 2, 3}, SigningSecret: "sign", WebhookSecret: "whsec_abc",
		SignedOnly: true, URLAllow: []string{"example.com"}, URLBlock: []string{"*.bad.example", "evil.example"},
		CreatedAt: created, ExpiresAt: created.Add(time.Hour),
	}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, k); err == nil {
		t.Error("a second key with the same id was created")
	}
	got, err := s.Key(ctx, "key1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != k.Name || got.Plan != k.Plan || len(got.Scopes) != 2 || !got.HasScope(pageshot.ScopeUsage) || got.HasScope(pageshot.ScopeJobs) ||
		!bytes.Equal(got.SecretHash, k.SecretHash) || got.SigningSecret != k.SigningSecret || got.WebhookSecret != k.WebhookSecret ||
		!got.SignedOnly || fmt.Sprint(got.URLAllow) != fmt.Sprint(k.URLAllow) || fmt.Sprint(got.URLBlock) != fmt.Sprint(k.URLBlock) ||
		!got.CreatedAt.Equal(created) || !got.ExpiresAt.Equal(k.ExpiresAt) || !got.RevokedAt.IsZero() {
		t.Errorf("stored %+v, read back %+v", k, got)
	}
	if _, err := s.Key(ctx, "nope"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("unknown key: %v", err)
	}
	if err := s.CreateKey(ctx, &pageshot.APIKey{ID: "key2", Name: "b", Plan: "tiny", SecretHash: []byte{9}, CreatedAt: created.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListKeys(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "key1" || list[1].ID != "key2" {
		t.Errorf("list: %v %v", list, err)
	}
	revoked := created.Add(2 * time.Hour)
	if err := s.RevokeKey(ctx, "key2", revoked); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, "key2", revoked.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Key(ctx, "key2"); got == nil || !got.RevokedAt.Equal(revoked) {
		t.Errorf("revoked at %v, want %v", got.RevokedAt, revoked)
	}
	if err := s.RevokeKey(ctx, "nope", revoked); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("revoke unknown: %v", err)
	}
}

func testUsage(t *testing.T, s Store) {
	ctx := context.Background()
	r1, u, ok, err := s.Reserve(ctx, "k", "2026-11", 2, time.Minute)
	if err != nil || !ok || u.Reserved != 1 || u.Committed != 0 {
		t.Fatalf("first reserve: %v %+v %v", ok, u, err)
	}
	r2, _, ok, _ := s.Reserve(ctx, "k", "2026-11", 2, time.Minute)
	if !ok {
		t.Fatal("second reserve refused")
	}
	if _, u, ok, _ := s.Reserve(ctx, "k", "2026-11", 2, time.Minute); ok || u.Committed+u.Reserved != 2 {
		t.Errorf("third reserve past the limit: ok %v usage %+v", ok, u)
	}
	if err := s.Commit(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := s.Refund(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Usage(ctx, "k", "2026-11"); u != (pageshot.Usage{Committed: 1}) {
		t.Errorf("usage %+v, want 1 committed", u)
	}
	if err := s.Commit(ctx, r2); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("commit of a refunded reservation: %v", err)
	}
	// Other periods and keys are separate; limit 0 is unlimited.
	for range 3 {
		if _, _, ok, _ := s.Reserve(ctx, "k", "2026-12", 0, time.Minute); !ok {
			t.Error("unlimited reserve refused")
		}
	}
	if u, _ := s.Usage(ctx, "other", "2026-11"); u != (pageshot.Usage{}) {
		t.Errorf("other key: %+v", u)
	}
	// An expired reservation no longer holds a unit.
	if _, _, ok, _ := s.Reserve(ctx, "e", "p", 1, -time.Second); !ok {
		t.Fatal("reserve refused")
	}
	if _, _, ok, _ := s.Reserve(ctx, "e", "p", 1, time.Minute); !ok {
		t.Error("an expired reservation still held its unit")
	}
}

// testConcurrentReserve: 50 concurrent captures on a key with 5 units
// left; exactly 5 are let through and the ledger says 5.
func testConcurrentReserve(t *testing.T, s Store) {
	ctx := context.Background()
	for range 5 {
		r, _, _, err := s.Reserve(ctx, "c", "p", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var calls tally
	for range 50 {
		wg.Go(func() {
			ok, err := capture(ctx, s, "c", "p", 10)
			calls.add(1, ok, err)
		})
	}
	wg.Wait()
	granted := calls.total(t)
	u, err := s.Usage(ctx, "c", "p")
	if granted != 5 || err != nil || u != (pageshot.Usage{Committed: 10}) {
		t.Errorf("granted %d of 50, usage %+v (%v); want 5 and 10 committed", granted, u, err)
	}
}

// capture takes one unit of key's quota of limit in period as a capture
// does: it reserves the unit and, when granted (ok), commits it.
func capture(ctx context.Context, s Store, key, period string, limit int64) (ok bool, err error) {
	r, _, ok, err := s.Reserve(ctx, key, period, limit, time.Minute)
	if err == nil && ok {
		err = s.Commit(ctx, r)
	}
	return ok, err
}

// tally counts the units that concurrent calls were granted and collects
// their errors.
type tally struct {
	mu      sync.Mutex
	granted int64
	errs    []error
}

// add records one call's answer: err, or n units granted when ok.
func (c *tally) add(n int64, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, err)
	} else if ok {
		c.granted += n
	}
}

// total fails t with the calls' errors, if any, and returns the units
// granted.
func (c *tally) total(t *testing.T) int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := errors.Join(c.errs...); err != nil {
		t.Fatal(err)
	}
	return c.granted
}
