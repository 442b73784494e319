package capture_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/sqlite"
)

// countingLedger is the real SQLite ledger with its writes and reads
// counted.
type countingLedger struct {
	*sqlite.Store
	reserves, settles, reads atomic.Int64
}

func (l *countingLedger) Reserve(ctx context.Context, keyID, period string, limit int64, ttl time.Duration) (string, pageshot.Usage, bool, error) {
	l.reserves.Add(1)
	return l.Store.Reserve(ctx, keyID, period, limit, ttl)
}

func (l *countingLedger) Commit(ctx context.Context, id string) error {
	l.settles.Add(1)
	return l.Store.Commit(ctx, id)
}

func (l *countingLedger) Refund(ctx context.Context, id string) error {
	l.settles.Add(1)
	return l.Store.Refund(ctx, id)
}

func (l *countingLedger) Usage(ctx context.Context, keyID, period string) (pageshot.Usage, error) {
	l.reads.Add(1)
	return l.Store.Usage(ctx, keyID, period)
}

// TestAdmissionWithoutWrites: what cannot be charged writes nothing to the
// ledger. Bad options and free cache hits reserve no unit, yet report the
// quota exactly; an unlimited plan's hit does not even read the ledger.
// With charged hits, a hit reserves and commits its unit.
func TestAdmissionWithoutWrites(t *testing.T) {
	for _, charge := range []bool{false, true} {
		var l *countingLedger
		f := newFixture(t, &renderer{}, pageshot.Limits{}, func(cfg *capture.Config) {
			l = &countingLedger{Store: cfg.Cache.(*sqlite.Store)}
			cfg.Usage, cfg.ChargeCacheHits = l, charge
		})
		svc := f.svc
		ctx := context.Background()
		c := caller("k", pageshot.Plan{Name: "p", MonthlyQuota: 3})
		body := `{"url":"https://example.com/","cache":true}`
		if _, err := svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, body)}); err != nil {
			t.Fatal(err)
		}
		l.reserves.Store(0)
		l.settles.Store(0)
		l.reads.Store(0)

		res, err := svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, `{"url":"ftp://x","quality":900}`)})
		if pageshot.ErrorCode(err) != pageshot.CodeInvalidRequest || res.Quota.Used != 1 || res.Quota.Limit != 3 {
			t.Errorf("charge=%v: bad options: %+v %v", charge, res.Quota, err)
		}
		if n := l.reserves.Load() + l.settles.Load(); n != 0 {
			t.Errorf("charge=%v: bad options wrote to the ledger %d times", charge, n)
		}

		res, err = svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Raw: raw(t, body)})
		if err != nil || !res.Cached {
			t.Fatalf("charge=%v: hit: %+v %v", charge, res, err)
		}
		want, writes := int64(1), int64(0)
		if charge {
			want, writes = 2, 2 // reserved, then committed
		}
		if res.Quota.Used != want {
			t.Errorf("charge=%v: hit reports %d used, want %d", charge, res.Quota.Used, want)
		}
		if n := l.reserves.Load() + l.settles.Load(); n != writes {
			t.Errorf("charge=%v: the hit wrote to the ledger %d times, want %d", charge, n, writes)
		}
		if u := f.used(t, "k"); u != (pageshot.Usage{Committed: want}) {
			t.Errorf("charge=%v: ledger %+v", charge, u)
		}

		// An unlimited plan reports no usage: its hit reads nothing.
		free := caller("free", pageshot.Plan{})
		if _, err := svc.Capture(ctx, &pageshot.CaptureRequest{Caller: free, Raw: raw(t, body)}); err != nil {
			t.Fatal(err)
		}
		if !charge {
			l.reads.Store(0)
			if res, err := svc.Capture(ctx, &pageshot.CaptureRequest{Caller: free, Raw: raw(t, body)}); err != nil || !res.Cached || l.reads.Load() != 0 {
				t.Errorf("unlimited plan's hit: cached=%v, %d reads, %v", res.Cached, l.reads.Load(), err)
			}
		}
		if got := f.r.calls.Load(); got != 2 {
			t.Errorf("charge=%v: %d renders, want 2 (one per key)", charge, got)
		}
	}
}
