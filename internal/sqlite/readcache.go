package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// readCache answers the reads of every request — the API key, the cache
// entry — from memory for as long as the database has not changed since
// they were read, so that serving a cached capture, or refusing a bad
// request, reads nothing from SQLite. Revocation stays immediate: any
// committed write, by this process or another one on the same file (such
// as `pageshot keys revoke`), empties it before the next read.
//
// Whether the database changed is read in the WAL index (the "-shm" file
// every connection in WAL mode shares), whose header SQLite rewrites at
// each commit: a counter of transactions, the last frame, the salts and a
// checksum (https://www.sqlite.org/walformat.html). The header is kept
// twice, written one copy after the other; a read that finds them unequal
// met a write in progress and counts as a change. The header is read
// where SQLite itself reads it, in a shared mapping of the start of the
// file (the same memory the writers change), which costs no system call;
// where the file cannot be mapped, with pread.
type readCache struct {
	shm *os.File // nil: never cache
	// hdr maps the header at the start of shm, read-only and shared; nil
	// when it could not be mapped. The pinned connection keeps SQLite
	// from truncating the file below it (only the first connection to
	// open a database truncates its index), but a process that took the
	// database over could, so a fault reading it is an error, not a crash
	// (see readMapped). It is unmapped only once the cache is garbage,
	// so that no read can meet it unmapped.
	hdr    []byte
	closed atomic.Bool
	// pin holds one connection open for the cache's life, so that the
	// WAL index stays this file: SQLite deletes it when the last
	// connection to the database, in any process, closes.
	pin   *sql.Conn
	pinDB *sql.DB

	mu    sync.Mutex
	stamp walStamp
	m     map[string]any
}

// walStamp is the WAL index header, both copies.
type walStamp [96]byte

// maxCached bounds the answers kept between two writes.
const maxCached = 1 << 14

// openReadCache enables the cache for the database at path when its
// journal is in WAL mode; otherwise it caches nothing.
func openReadCache(ctx context.Context, s *Store) *readCache {
	c := &readCache{m: map[string]any{}}
	if s.path == "" {
		return c
	}
	// A pool of its own, so that the pinned connection takes no slot
	// of the store's.
	db, err := OpenDB(s.path)
	if err != nil {
		return c
	}
	pin, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return c
	}
	var mode string
	var n int
	// The read opens the WAL index on the pinned connection.
	if pin.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode) != nil || !strings.EqualFold(mode, "wal") ||
		pin.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n) != nil {
		_ = pin.Close()
		_ = db.Close()
		return c
	}
	f, err := os.Open(s.path + "-shm")
	if err != nil {
		_ = pin.Close()
		_ = db.Close()
		return c
	}
	c.shm, c.pin, c.pinDB = f, pin, db
	if fi, err := f.Stat(); err == nil && fi.Size() >= int64(len(walStamp{})) {
		if m, err := syscall.Mmap(int(f.Fd()), 0, len(walStamp{}), syscall.PROT_READ, syscall.MAP_SHARED); err == nil {
			c.hdr = m
			runtime.AddCleanup(c, func(m []byte) { _ = syscall.Munmap(m) }, m)
		}
	}
	return c
}

// readMapped copies the header from the mapping hdr into st a 32-bit
// word at a time, in order, each load ordered after the one before (as
// SQLite's own memory barrier orders its reads of the two copies). A
// fault, the file having been cut below the mapping, makes it return
// false instead of ending the process.
func readMapped(hdr []byte, st *walStamp) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	for i := 0; i+4 <= len(st); i += 4 {
		binary.NativeEndian.PutUint32(st[i:], atomic.LoadUint32((*uint32)(unsafe.Pointer(&hdr[i]))))
	}
	return true
}

// now returns the database's current stamp; ok is false when it cannot
// be read whole and consistent, and nothing may then be cached or served
// from the cache.
func (c *readCache) now() (st walStamp, ok bool) {
	if c == nil || c.shm == nil || c.closed.Load() {
		return st, false
	}
	n, err := len(st), error(nil)
	if c.hdr != nil {
		// In the order SQLite reads them: the first copy, then the
		// second, which writers write first.
		if !readMapped(c.hdr, &st) {
			return st, false
		}
	} else {
		n, err = c.shm.ReadAt(st[:], 0)
	}
	// isInit (byte 12 of each copy) is set once the index is built.
	if err != nil || n != len(st) || st[12] != 1 || !bytes.Equal(st[:48], st[48:]) {
		return st, false
	}
	return st, true
}

// get returns what was cached under key at stamp st.
func (c *readCache) get(st walStamp, key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stamp != st {
		clear(c.m) // the database changed: nothing read before holds
		c.stamp = st
		return nil, false
	}
	v, ok := c.m[key]
	return v, ok
}

// put caches v under key, read after the database had stamp st.
func (c *readCache) put(st walStamp, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stamp != st {
		return // changed meanwhile: v may already be out of date
	}
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = v
}

func (c *readCache) close() {
	if c != nil && c.shm != nil {
		c.closed.Store(true)
		_ = c.shm.Close()
		_ = c.pin.Close()
		_ = c.pinDB.Close()
	}
}
