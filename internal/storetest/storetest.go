// Package storetest is the conformance suite every pageshot store passes:
// SQLite now, PostgreSQL when it comes. A store's tests call Exercise with
// a function that opens a fresh, empty store.
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
}

// Exercise runs the suite; open returns a new empty store for each test.
func Exercise(t *testing.T, open func(t *testing.T) Store) {
	t.Run("keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("usage", func(t *testing.T) { testUsage(t, open(t)) })
	t.Run("usage is never overshot", func(t *testing.T) { testConcurrentReserve(t, open(t)) })
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
	var mu sync.Mutex
	granted := 0
	var errs []error
	for range 50 {
		wg.Go(func() {
			r, _, ok, err := s.Reserve(ctx, "c", "p", 10, time.Minute)
			if err == nil && ok {
				err = s.Commit(ctx, r)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				granted++
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	u, err := s.Usage(ctx, "c", "p")
	if granted != 5 || err != nil || u != (pageshot.Usage{Committed: 10}) {
		t.Errorf("granted %d of 50, usage %+v (%v); want 5 and 10 committed", granted, u, err)
	}
}
