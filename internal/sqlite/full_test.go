package sqlite

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// TestDiskFull fills the database for real (SQLite's max_page_count gives
// the very SQLITE_FULL a full disk gives): reservations then fail with
// service_unavailable and a Retry-After, never an internal error, and work
// again once there is room.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	// One connection, so the per-connection pragma holds for every call.
	s.db.SetMaxOpenConns(1)
	var pages int64
	if err := s.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA max_page_count = `+itoa(pages+1)); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 10000 && full == nil; i++ {
		_, _, _, full = s.Reserve(ctx, "key", "2026-11", 0, time.Hour)
	}
	if full == nil {
		t.Fatal("the database never filled up")
	}
	var pe *pageshot.Error
	if !errors.As(full, &pe) || pe.Code != pageshot.CodeServiceUnavailable || pe.RetryAfter <= 0 || !pe.Retryable() {
		t.Fatalf("full database: %v, want service_unavailable with a Retry-After", full)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.Reserve(ctx, "key", "2026-11", 0, time.Hour); err != nil || !ok {
		t.Fatalf("after making room: %v %v", ok, err)
	}
}

// TestNoRoom: with less than MinFree left on the database's disk, a new
// reservation is refused at the door, the same way.
func TestNoRoom(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	s.MinFree = 1 << 62 // more than any disk has
	_, _, _, err := s.Reserve(ctx, "key", "2026-11", 0, time.Hour)
	var pe *pageshot.Error
	if !errors.As(err, &pe) || pe.Code != pageshot.CodeServiceUnavailable || pe.RetryAfter <= 0 {
		t.Fatalf("no room: %v, want service_unavailable with a Retry-After", err)
	}
	s.MinFree = DefaultMinFree
	if _, _, ok, err := s.Reserve(ctx, "key", "2026-11", 0, time.Hour); err != nil || !ok {
		t.Fatalf("with room: %v %v", ok, err)
	}
}

// TestPoolBounded: a burst of concurrent calls opens no more than
// MaxOpenConns connections (each holds three files).
func TestPoolBounded(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	var wg sync.WaitGroup
	for range 120 {
		wg.Go(func() {
			if _, err := s.Usage(ctx, "key", "2026-11"); err != nil {
				t.Error(err)
			}
			if _, _, _, err := s.Reserve(ctx, "key", "2026-11", 0, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st := s.db.Stats()
	if st.MaxOpenConnections != MaxOpenConns || st.OpenConnections > MaxOpenConns {
		t.Errorf("pool stats %+v, want at most %d connections", st, MaxOpenConns)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
