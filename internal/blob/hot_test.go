package blob_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/blob"
)

// TestHotConformance: a store with hot copies is still a BlobStore.
func TestHotConformance(t *testing.T) {
	s, err := blob.Open(t.Context(), blob.Config{Dir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, blob.Hot(s, 1<<20), noURL)
}

// TestHot: a cached capture read once is served from memory (its file is
// no longer read), a Put or Delete through the store drops the copy, the
// least recently used copies go first, and other objects are always read
// from the store.
func TestHot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := blob.Hot(fs, 800) // room for 8 objects of 100 bytes; larger than 100 are never kept
	obj := func(b byte) []byte { return bytes.Repeat([]byte{b}, 100) }
	put := func(key string, data []byte) {
		t.Helper()
		if err := h.Put(ctx, key, data, "image/png"); err != nil {
			t.Fatal(err)
		}
	}
	get := func(key string) ([]byte, error) {
		t.Helper()
		data, ct, err := h.Get(ctx, key)
		if err == nil && ct != "image/png" {
			t.Errorf("%s: content type %q", key, ct)
		}
		return data, err
	}
	// removeFile takes the object away behind the store's back: what Get
	// still returns then comes from memory.
	removeFile := func(key string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, key)); err != nil {
			t.Fatal(err)
		}
	}

	put("cache-a", obj('a'))
	put("obj-b", obj('b'))
	for _, k := range []string{"cache-a", "obj-b"} {
		if _, err := get(k); err != nil {
			t.Fatal(err)
		}
		removeFile(k)
	}
	if data, err := get("cache-a"); err != nil || !bytes.Equal(data, obj('a')) {
		t.Errorf("cache-a after its file went: %q %v", data, err)
	}
	if _, err := get("obj-b"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("obj-b is not a cached capture, so it is read from the store: %v", err)
	}

	// Put and Delete through the store drop the copy.
	put("cache-a", obj('A'))
	if data, _ := get("cache-a"); !bytes.Equal(data, obj('A')) {
		t.Errorf("cache-a after a Put: %q", data)
	}
	if err := h.Delete(ctx, "cache-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := get("cache-a"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("cache-a after Delete: %v", err)
	}

	// Eight fit; a ninth pushes out the least recently used, the first,
	// unless it was read again meanwhile.
	keys := []string{"cache-0", "cache-1", "cache-2", "cache-3", "cache-4", "cache-5", "cache-6", "cache-7", "cache-8"}
	for i, k := range keys[:8] {
		put(k, obj(byte('0'+i)))
		if _, err := get(k); err != nil {
			t.Fatal(err)
		}
		removeFile(k)
	}
	if _, err := get("cache-0"); err != nil { // now the most recently used
		t.Fatalf("cache-0 from memory: %v", err)
	}
	put("cache-8", obj('8'))
	if _, err := get("cache-8"); err != nil {
		t.Fatal(err)
	}
	if _, err := get("cache-1"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("cache-1, the least recently used, should have gone: %v", err)
	}
	for _, k := range []string{"cache-0", "cache-2", "cache-7", "cache-8"} {
		if _, err := get(k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}

	// Too large to keep: read from the store each time.
	put("cache-big", bytes.Repeat([]byte{'x'}, 101))
	if _, err := get("cache-big"); err != nil {
		t.Fatal(err)
	}
	removeFile("cache-big")
	if _, err := get("cache-big"); pageshot.ErrorCode(err) != pageshot.CodeNotFound {
		t.Errorf("an object over an eighth of the room was kept: %v", err)
	}
}
