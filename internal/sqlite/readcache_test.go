package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// mustOpen opens the store at path, a pool of its own, or ends the test.
func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadCacheSeesEveryWrite: a serve process reads keys and cache
// entries from memory while nothing changes, and another process on the
// same file (the CLI) creating or revoking a key, or replacing a cache
// entry, is seen by the very next read.
func TestReadCacheSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pageshot.db")
	serve := mustOpen(t, path)
	defer serve.Close()
	cli := mustOpen(t, path) // a pool of its own, as another process has
	defer cli.Close()
	if serve.reads.shm == nil {
		t.Fatal("no WAL index: the read cache is off")
	}
	if serve.reads.hdr == nil {
		t.Fatal("the WAL index is not mapped")
	}
	// The mapping reads what pread reads, before and after the other
	// pool's write.
	same := func(when string) {
		t.Helper()
		var read walStamp
		if _, err := serve.reads.shm.ReadAt(read[:], 0); err != nil {
			t.Fatal(err)
		}
		if st, ok := serve.reads.now(); !ok || st != read {
			t.Errorf("%s: the mapped header is not the file's", when)
		}
	}
	same("at first")
	if _, err := cli.db.ExecContext(ctx, `CREATE TABLE mapped_probe (x)`); err != nil {
		t.Fatal(err)
	}
	same("after a write")
	cached := func(key string) bool {
		st, ok := serve.reads.now()
		if !ok {
			return false
		}
		serve.reads.mu.Lock()
		defer serve.reads.mu.Unlock()
		_, hit := serve.reads.m[key]
		return hit && serve.reads.stamp == st
	}

	k, _, err := pageshot.NewKey("k", "default", pageshot.AllScopes(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Absent, and remembered as absent; created by the CLI: found at once.
	if _, err := serve.Key(ctx, k.ID); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Fatalf("before creation: %v", err)
	}
	if !cached("key:" + k.ID) {
		t.Error("the absent key was not remembered")
	}
	if err := cli.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := serve.Key(ctx, k.ID)
	if err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("after creation: %+v %v", got, err)
	}
	if _, err := serve.Key(ctx, k.ID); err != nil || !cached("key:"+k.ID) {
		t.Fatalf("the key was not served from memory: %v", err)
	}
	got.Name = "changed by a caller" // a copy: the cache keeps its own
	if again, _ := serve.Key(ctx, k.ID); again.Name != "k" {
		t.Errorf("a caller's change reached the cache: %q", again.Name)
	}

	// Revoked by the CLI: the next read sees it.
	if err := cli.RevokeKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := serve.Key(ctx, k.ID); err != nil || got.RevokedAt.IsZero() {
		t.Fatalf("right after revocation: %+v %v", got, err)
	}

	// Usage: remembered, changed by another process's reservation, and
	// read anew once a counted reservation expires.
	if u, err := serve.Usage(ctx, k.ID, "2026-11"); err != nil || u != (pageshot.Usage{}) || !cached("usage:"+k.ID+"\x00"+"2026-11") {
		t.Fatalf("usage: %+v %v", u, err)
	}
	if _, _, _, err := cli.Reserve(ctx, k.ID, "2026-11", 0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if u, err := serve.Usage(ctx, k.ID, "2026-11"); err != nil || u.Reserved != 1 {
		t.Fatalf("usage after another process reserved: %+v %v", u, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := serve.Usage(ctx, k.ID, "2026-11")
		if err != nil {
			t.Fatal(err)
		}
		if u.Reserved == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired reservation is still counted")
		}
		time.Sleep(20 * time.Millisecond) // polling toward a deadline, not a synchronisation
	}

	// A cache entry, replaced by another process, and expiring in memory.
	now := time.Now()
	put := func(s *Store, blob string, expires time.Time) {
		t.Helper()
		if _, err := s.CachePut(ctx, &pageshot.CacheEntry{Key: "c", BlobKey: blob, Format: pageshot.FormatPNG, CreatedAt: now, ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	put(serve, "cache-1", now.Add(time.Hour))
	if e, err := serve.CacheGet(ctx, "c", now); err != nil || e.BlobKey != "cache-1" || !cached("cache:c") {
		t.Fatalf("entry: %+v %v", e, err)
	}
	put(cli, "cache-2", now.Add(time.Hour))
	if e, err := serve.CacheGet(ctx, "c", now); err != nil || e.BlobKey != "cache-2" {
		t.Fatalf("after the CLI replaced it: %+v %v", e, err)
	}
	if _, err := serve.CacheGet(ctx, "c", now.Add(2*time.Hour)); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("an expired entry was served from memory: %v", err)
	}
}

// TestReadCacheMappedAndRead: the mapped header and pread give the same
// stamp, before and after a write by another pool; a closed store reads
// no stamp (and no key from memory) and does not crash.
func TestReadCacheMappedAndRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pageshot.db")
	s := mustOpen(t, path)
	other := mustOpen(t, path)
	defer other.Close()
	if s.reads.hdr == nil {
		t.Fatal("the WAL index is not mapped")
	}
	both := func() (mapped, read walStamp) {
		t.Helper()
		var ok bool
		if mapped, ok = s.reads.now(); !ok {
			t.Fatal("no stamp from the mapping")
		}
		hdr := s.reads.hdr
		s.reads.hdr = nil
		defer func() { s.reads.hdr = hdr }()
		if read, ok = s.reads.now(); !ok {
			t.Fatal("no stamp from pread")
		}
		return mapped, read
	}
	m1, r1 := both()
	if m1 != r1 {
		t.Error("at first, the mapping and pread differ")
	}
	if _, err := other.db.ExecContext(ctx, `CREATE TABLE probe (x)`); err != nil {
		t.Fatal(err)
	}
	m2, r2 := both()
	if m2 != r2 || m2 == m1 {
		t.Errorf("after a write: mapping and pread equal %v, changed %v", m2 == r2, m2 != m1)
	}

	k := pageshot.APIKey{ID: "key_closed", Name: "n", Plan: "default", SecretHash: []byte("h"), CreatedAt: time.Now()}
	if err := s.CreateKey(ctx, &k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Key(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, ok := s.reads.now(); ok {
		t.Error("a closed store still reads a stamp")
	}
	if _, err := s.Key(ctx, k.ID); err == nil {
		t.Error("a closed store still answers a key")
	}
}

// TestReadMappedFault: a file cut below its mapping is a failed read, not
// a crash.
func TestReadMappedFault(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "shm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, len(walStamp{}), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	var st walStamp
	if !readMapped(m, &st) {
		t.Fatal("no read of a whole file")
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if readMapped(m, &st) {
		t.Error("a read past the end of the file succeeded")
	}
}
