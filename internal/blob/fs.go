package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/disk"
)

// defaultContentType is what an empty content type is stored as, by every
// store, so that Get answers the same whatever the backend.
const defaultContentType = "application/octet-stream"

// maxKeyLen is the longest key, in bytes (see pageshot.BlobStore).
const maxKeyLen = 200

// checkKey reports whether key has the form pageshot.BlobStore promises:
// letters, digits, '-', '_' and '.', not starting with '.', at most 200
// bytes. Such a key cannot name a path outside the FS directory ("..",
// "/"), a hidden file, or FS's temporary files. A bad key is a bug of the
// caller, so the error is plain, not an invalid_request.
func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen || key[0] == '.' {
		return fmt.Errorf("check key %q: empty, longer than %d bytes or starts with '.'", key, maxKeyLen)
	}
	for _, c := range []byte(key) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("check key %q: character %q not allowed", key, c)
		}
	}
	return nil
}

// FS is a BlobStore in a local directory. Each object is one file named
// after its key that holds the content type, a newline, then the data:
// keeping both in one file lets a single rename replace them together, so
// a reader never sees new data with an old type. FS is safe for
// concurrent use, by several processes too; its errors are permanent and
// plain, except not_found.
type FS struct {
	dir string
	// MinFree is the room Put leaves on the disk: a write that would leave
	// less fails with ENOSPC, before the disk is really full.
	MinFree int64
}

var _ pageshot.BlobStore = (*FS)(nil)

// NewFS returns a store in dir, creating it with mode 0700 when absent.
func NewFS(dir string) (*FS, error) {
	if dir == "" {
		return nil, errors.New("create blob directory: empty path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	return &FS{dir: dir}, nil
}

// Put writes the object atomically: to a temporary file in the same
// directory (so the rename cannot cross filesystems), synced, then renamed
// over the key. A crash leaves the old object or the new one, never half
// of one. An empty contentType is stored as application/octet-stream.
func (s *FS) Put(_ context.Context, key string, data []byte, contentType string) (err error) {
	if err := checkKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	if strings.ContainsAny(contentType, "\r\n") {
		return fmt.Errorf("put %s: content type contains a line break", key)
	}
	if s.MinFree > 0 {
		if free, err := disk.Free(s.dir); err == nil && free-int64(len(data)) < s.MinFree {
			return fmt.Errorf("put %s: %d bytes free, %d kept for the ledger: %w", key, free, s.MinFree,
				&fs.PathError{Op: "write", Path: s.dir, Err: syscall.ENOSPC})
		}
	}
	// The leading '.' keeps temporary files out of the key space.
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.WriteString(contentType + "\n"); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// Without the sync, a crash soon after the rename can leave an empty
	// file under the key on some filesystems.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(s.dir, key)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get returns the object and its content type; an absent key is a
// *pageshot.Error with code not_found.
func (s *FS) Get(_ context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(filepath.Join(s.dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", &pageshot.Error{Code: pageshot.CodeNotFound, Message: "The object does not exist.", Err: err}
	}
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", key, err)
	}
	contentType, data, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return nil, "", fmt.Errorf("get %s: no content type line", key)
	}
	return data, string(contentType), nil
}

// URL returns "": pageshot serves FS objects itself at /v1/objects/{key}.
func (s *FS) URL(_ context.Context, key string, _ time.Duration) (string, error) {
	return "", checkKey(key)
}

// Delete removes the object; an absent key is not an error.
func (s *FS) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
