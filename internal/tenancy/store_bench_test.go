package tenancy_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/postgres"
	"github.com/pageshot/pageshot/internal/sqlite"
)

// benchStores are the stores BenchmarkStores compares, in one run: SQLite
// in a temporary directory, and PostgreSQL at PAGESHOT_TEST_DATABASE_URL
// (skipped without it).
var benchStores = []struct {
	name string
	open func(b *testing.B) store
}{
	{"sqlite", func(b *testing.B) store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "pageshot.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(b *testing.B) store { return openPostgres(b, "") }},
	// The same without waiting for the WAL to reach the disk at each
	// commit: what SQLite's synchronous=NORMAL in WAL mode also does. A
	// crash of the server may lose the last commits, never consistency.
	{"postgres-async-commit", func(b *testing.B) store { return openPostgres(b, "synchronous_commit=off") }},
}

// openPostgres opens a store on a new database, with the run-time
// parameters of query ("name=value&…") set on each connection.
func openPostgres(b *testing.B, query string) store {
	url := pgtest.URL(b)
	if query != "" {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + query
	}
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// instant is a renderer that answers at once.
type instant struct{}

func (instant) Render(_ context.Context, o *pageshot.Options) (*pageshot.Capture, error) {
	return &pageshot.Capture{Data: []byte{1}, Format: o.Format, Width: 1, Height: 1, ReturnedStatusCode: 200}, nil
}

// BenchmarkStores measures, on each store, what a capture request pays
// before and after its render:
//
//   - KeyLookup: the bare lookup of the key by its id (the floor);
//   - Request: the key authenticated (lookup, secret, expiry, scope, rate),
//     the capture admitted (concurrency slot, quota unit reserved within
//     the plan's monthly quota) and its unit committed, one request at a
//     time;
//   - RequestParallel: the same from GOMAXPROCS goroutines at once, all on
//     one key, so that they contend for its ledger row.
func BenchmarkStores(b *testing.B) {
	plan := pageshot.Plan{MonthlyQuota: 1 << 40, RatePerMinute: 1 << 30, MaxConcurrency: 1 << 20}
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			f := newFixtureOn(b, st.open(b), plan, nil)
			ctx := context.Background()
			creds := pageshot.Credentials{Key: f.token, IP: "192.0.2.1"}
			// The capture service admits and charges; its renderer answers
			// at once, so what is measured is all around the browser.
			svc := capture.New(capture.Config{Renderer: instant{}, Usage: f.store, Concurrency: limit.NewConcurrency()})
			opts, err := pageshot.ParseOptions(pageshot.QueryOptions(map[string][]string{"html": {"<p>x</p>"}}), pageshot.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			request := func() error {
				c, _, err := f.gate.Authenticate(ctx, creds, pageshot.ScopeScreenshot)
				if err != nil {
					return err
				}
				_, err = svc.Capture(ctx, &pageshot.CaptureRequest{Caller: c, Options: opts})
				return err
			}
			b.Run("KeyLookup", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.store.Key(ctx, f.key.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Request", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := request(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("RequestParallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := request(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			// Every unit was committed: none left reserved by a failed
			// commit (Finish only logs those).
			period, _ := pageshot.Period(time.Now())
			if u, err := f.store.Usage(ctx, f.key.ID, period); err != nil || u.Reserved != 0 || u.Committed == 0 {
				b.Errorf("usage after the benchmark: %+v %v", u, err)
			}
		})
	}
}
