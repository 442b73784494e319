package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// ExerciseNodes runs the part of the suite about sharing: open returns two
// handles on one new, empty store, as two nodes (or serve and a CLI
// command beside it) hold them. What one handle writes the other reads,
// and the quota is never overshot by the two together.
func ExerciseNodes(t *testing.T, open func(t *testing.T) (a, b Store)) {
	t.Run("shared state", func(t *testing.T) { testSharedState(t, open) })
	t.Run("quota across nodes", func(t *testing.T) { testQuotaAcrossNodes(t, open) })
	t.Run("jobs across nodes", func(t *testing.T) { testJobsAcrossNodes(t, open) })
	t.Run("cache puts across nodes", func(t *testing.T) { testCachePutsAcrossNodes(t, open) })
}

// testCachePutsAcrossNodes: nodes fill one cache key at once. Each put
// names the blob it replaced, so every blob but the one left in the entry
// is named exactly once (deleted once, none left behind), and only the
// first put replaced nothing.
func testCachePutsAcrossNodes(t *testing.T, open func(t *testing.T) (a, b Store)) {
	ctx := context.Background()
	a, b := open(t)
	now := time.Now()
	const puts = 30
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		replaced = map[string]int{}
		errs     []error
	)
	for i := range puts {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			r, err := s.CachePut(ctx, &pageshot.CacheEntry{Key: "c", BlobKey: fmt.Sprintf("b%d", i), Format: pageshot.FormatPNG, CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			replaced[r]++
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	e, err := a.CacheGet(ctx, "c", now)
	if err != nil {
		t.Fatal(err)
	}
	replaced[e.BlobKey]++ // the blob kept, counted once too
	for i := range puts {
		if n := replaced[fmt.Sprintf("b%d", i)]; n != 1 {
			t.Errorf("blob b%d named %d times", i, n)
		}
	}
	if replaced[""] != 1 || len(replaced) != puts+1 {
		t.Errorf("replaced: %v", replaced)
	}
}

func testSharedState(t *testing.T, open func(t *testing.T) (a, b Store)) {
	ctx := context.Background()
	a, b := open(t)
	created := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if err := a.CreateKey(ctx, &pageshot.APIKey{ID: "key1", Name: "n", Plan: "default", SecretHash: []byte{1}, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	if k, err := b.Key(ctx, "key1"); err != nil || k.Name != "n" {
		t.Errorf("the other node reads %+v %v", k, err)
	}
	if err := b.RevokeKey(ctx, "key1", created.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if k, err := a.Key(ctx, "key1"); err != nil || !k.RevokedAt.Equal(created.Add(time.Hour)) {
		t.Errorf("a revocation on one node is not seen on the other: %+v %v", k, err)
	}

	r, _, ok, err := a.Reserve(ctx, "key1", "p", 0, time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := b.Commit(ctx, r); err != nil {
		t.Errorf("a reservation of one node committed on the other: %v", err)
	}
	wantUsage(t, a, "key1", "p", pageshot.Usage{Committed: 1}, "usage read on the first node")

	now := time.Now()
	if _, err := a.CachePut(ctx, &pageshot.CacheEntry{Key: "c", BlobKey: "b1", Format: pageshot.FormatPNG, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if e, err := b.CacheGet(ctx, "c", now); err != nil || e.BlobKey != "b1" {
		t.Errorf("a cache entry of one node is not seen on the other: %+v %v", e, err)
	}
	if replaced, err := b.CachePut(ctx, &pageshot.CacheEntry{Key: "c", BlobKey: "b2", Format: pageshot.FormatPNG, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil || replaced != "b1" {
		t.Errorf("a put on the other node replaced %q (%v), want b1", replaced, err)
	}
}

// testQuotaAcrossNodes: 50 captures, half through each node, race for 5
// units; exactly 5 pass and the ledger says 5.
func testQuotaAcrossNodes(t *testing.T, open func(t *testing.T) (a, b Store)) {
	ctx := context.Background()
	a, b := open(t)
	var (
		wg    sync.WaitGroup
		calls tally
	)
	for i := range 50 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			ok, err := capture(ctx, s, "k", "p", 5)
			calls.add(1, ok, err)
		})
	}
	wg.Wait()
	granted := calls.total(t)
	if granted != 5 {
		t.Errorf("granted %d of 50 on a quota of 5", granted)
	}
	wantUsage(t, b, "k", "p", pageshot.Usage{Committed: 5}, "the ledger")
}

// testJobsAcrossNodes: jobs of two items whose items end at once on two
// nodes; each job is done exactly once (one of the two finishes says so),
// each success is charged once and each failure refunded.
func testJobsAcrossNodes(t *testing.T, open func(t *testing.T) (a, b Store)) {
	ctx := context.Background()
	a, b := open(t)
	const jobs = 20
	for i := range jobs {
		id := fmt.Sprintf("j%d", i)
		if _, ok, err := a.CreateJob(ctx, newJob(id, "k", 2), pageshot.JobQuota{Period: "p", Units: 2, TTL: time.Hour}, nil); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, err := b.StartItem(ctx, id, 0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, err := a.StartItem(ctx, id, 1); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		dones = map[string]int{}
		errs  []error
	)
	for i := range jobs {
		id := fmt.Sprintf("j%d", i)
		for index, s := range []Store{a, b} {
			wg.Go(func() {
				// One success, one failure: a failure takes no lock on
				// the usage ledger, so nothing else orders the two.
				st := pageshot.ItemSucceeded
				if index == 1 {
					st = pageshot.ItemFailed
				}
				done, err := s.FinishItem(ctx, id, index, pageshot.ItemResult{Status: st})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if done {
					dones[id]++
				}
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		id := fmt.Sprintf("j%d", i)
		j, err := b.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != pageshot.JobDone || dones[id] != 1 {
			t.Errorf("%s: status %s, reported done %d times", id, j.Status, dones[id])
		}
	}
	wantUsage(t, a, "k", "p", pageshot.Usage{Committed: jobs}, "the ledger")
}
