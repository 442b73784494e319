package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/disk"
)

// sqliteFull is SQLITE_FULL, the primary result code of a write that found
// no room: the disk (or the file system holding the database) is full, or
// the database reached its max_page_count.
const sqliteFull = 13

// DiskFullRetryAfter is the Retry-After of a request refused because the
// database's disk is full: long enough for an operator or the cache sweep
// to free space.
const DiskFullRetryAfter = 30 * time.Second

// DefaultMinFree is the room a Store needs on its disk to take a new
// reservation (see Store.MinFree).
const DefaultMinFree = 1 << 20

// room refuses a new reservation when the database's disk has less than
// MinFree left. SQLite may still find room in pages it holds already, or
// may not: refusing at the door, before a capture runs, keeps the ledger's
// commit and refund (which need a little room too) from failing after the
// work is done. Unknown free space is not a refusal.
func (s *Store) room() error {
	if s.MinFree < 0 || s.path == "" {
		return nil
	}
	free, err := disk.Free(filepath.Dir(s.path))
	if err != nil || free >= max(s.MinFree, 1) {
		return nil
	}
	return interpret(fmt.Errorf("%d bytes free on %s: %w", free, filepath.Dir(s.path), errDiskFull))
}

var errDiskFull = errors.New("database or disk is full")

// interpret translates a driver error at the store's boundary: a full disk
// becomes service_unavailable with a Retry-After (the same request
// succeeds once space is back), so that it never reaches a client as an
// internal_error. Other errors, and nil, pass unchanged.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	full := errors.As(err, &se) && se.Code()&0xff == sqliteFull
	if !full && !strings.Contains(err.Error(), "database or disk is full") {
		return err
	}
	return &pageshot.Error{
		Code:       pageshot.CodeServiceUnavailable,
		Message:    "The server's disk is full; try again later.",
		RetryAfter: DiskFullRetryAfter,
		Err:        err,
	}
}
