package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// testStaleItems: running items whose heartbeat stopped are claimed, each
// by one caller; items that beat, ended, are queued, or belong to a
// canceled job are not.
func testStaleItems(t *testing.T, s Store) {
	ctx := context.Background()
	items := make([]pageshot.JobItem, 4)
	for i := range items {
		items[i] = pageshot.JobItem{URL: "https://a.example/", Options: []byte(`{}`)}
	}
	j := &pageshot.Job{ID: "jstale", KeyID: "k", Kind: pageshot.JobBatch, CreatedAt: time.Now(), Items: items}
	if _, _, err := s.CreateJob(ctx, j, pageshot.JobQuota{Period: "p", Units: 4, TTL: time.Hour}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, err := s.StartItem(ctx, "jstale", i); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	indexes := func(items []pageshot.JobItem) []int {
		var out []int
		for _, it := range items {
			out = append(out, it.Index)
		}
		slices.Sort(out)
		return out
	}
	if got, err := s.ClaimStaleItems(ctx, time.Now().Add(-time.Minute), 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed %v (%v) of items that started just now", indexes(got), err)
	}
	if _, err := s.FinishItem(ctx, "jstale", 2, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a", Format: pageshot.FormatPNG}); err != nil {
		t.Fatal(err)
	}
	// Taken as the cut-off, now makes the two running items stale (they
	// beat last when they started); the ended and the queued one never
	// are. The claims race: each item goes to one, whose claim counts as
	// a beat later than the cut-off.
	before := time.Now()
	var mu sync.Mutex
	var claimed []pageshot.JobItem
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := s.ClaimStaleItems(ctx, before, 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			claimed = append(claimed, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := indexes(claimed); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("claimed %v, want [0 1], each once", got)
	}
	for _, it := range claimed {
		if it.JobID != "jstale" || it.Status != pageshot.ItemRunning {
			t.Errorf("claimed item %+v", it)
		}
	}
	if got, _ := s.ClaimStaleItems(ctx, before, 10); len(got) != 0 {
		t.Errorf("claimed again at once: %v", indexes(got))
	}
	// A beating item is not stale; one that stopped beating is.
	cut := time.Now()
	if err := s.Heartbeat(ctx, "jstale", 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimStaleItems(ctx, cut, 10); !slices.Equal(indexes(got), []int{1}) {
		t.Errorf("after item 0 beat: claimed %v, want [1]", indexes(got))
	}
	// The items of a canceled job are left to end.
	if err := s.CancelJob(ctx, "jstale"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimStaleItems(ctx, time.Now().Add(time.Minute), 10); len(got) != 0 {
		t.Errorf("claimed %v of a canceled job", indexes(got))
	}
	if err := s.Heartbeat(ctx, "nope", 0); err != nil {
		t.Errorf("heartbeat of an unknown item: %v", err)
	}
}
