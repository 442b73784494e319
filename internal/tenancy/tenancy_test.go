package tenancy_test

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/limit"
	"github.com/pageshot/pageshot/internal/sqlite"
	"github.com/pageshot/pageshot/internal/tenancy"
)

func TestCheckURL(t *testing.T) {
	k := &pageshot.APIKey{URLBlock: []string{"evil.example", "*.ads.example"}, URLAllow: []string{"example.com", "*.cdn.example", "ads.example"}}
	for _, c := range []struct {
		url, reason string
	}{
		{"https://example.com/", ""},
		{"https://www.example.com/x", ""},
		{"https://EXAMPLE.COM./", ""},
		{"https://notexample.com/", "key_allowlist"},
		{"https://cdn.example/", "key_allowlist"}, // *. names subdomains only
		{"https://a.cdn.example/", ""},
		{"https://evil.example/", "key_blocklist"},
		{"https://x.evil.example/", "key_blocklist"},
		{"https://ads.example/", ""},
		{"https://t.ads.example/", "key_blocklist"},
	} {
		err := k.CheckURL(c.url)
		got := ""
		if err != nil {
			e := pageshot.AsError(err)
			if e.Code != pageshot.CodeURLBlocked {
				t.Fatalf("%s: code %s", c.url, e.Code)
			}
			got = e.Reason
		}
		if got != c.reason {
			t.Errorf("%s: reason %q, want %q", c.url, got, c.reason)
		}
	}
	if err := (&pageshot.APIKey{}).CheckURL("https://anything.example/"); err != nil {
		t.Errorf("a key without lists refused: %v", err)
	}
}

type fixture struct {
	gate  *tenancy.Gate
	store store
	key   *pageshot.APIKey
	token string
}

// store is what the gate needs of a store.
type store interface {
	pageshot.KeyStore
	pageshot.UsageStore
}

func newFixture(t testing.TB, plan pageshot.Plan, now func() time.Time) *fixture {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pageshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newFixtureOn(t, store, plan, now)
}

// newFixtureOn returns a gate on store with one key on plan.
func newFixtureOn(t testing.TB, store store, plan pageshot.Plan, now func() time.Time) *fixture {
	k, token, err := pageshot.NewKey("test", "p", pageshot.AllScopes(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	gate := tenancy.New(tenancy.Config{
		Keys: store, Usage: store, Rate: limit.NewRate(now),
		Plans: map[string]pageshot.Plan{"p": plan}, IPRatePerMinute: 2, Now: now,
		Logger: slog.New(slog.DiscardHandler),
	})
	return &fixture{gate: gate, store: store, key: k, token: token}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	f := newFixture(t, pageshot.Plan{MonthlyQuota: 2, RatePerMinute: 100, MaxConcurrency: 1}, func() time.Time { return now })

	c, st, err := f.gate.Authenticate(ctx, pageshot.Credentials{Key: f.token, IP: "192.0.2.1"}, pageshot.ScopeScreenshot)
	if err != nil || c.Key.ID != f.key.ID || c.Plan.MonthlyQuota != 2 || st.Limit != 100 || st.Remaining != 99 {
		t.Fatalf("valid key: %v %+v %v", c, st, err)
	}

	// Signed: the id and a signature; a secret is not needed.
	q := url.Values{"url": {"https://example.com/"}, "expires": {strconv.FormatInt(now.Add(time.Minute).Unix(), 10)}}
	q.Set("signature", pageshot.Sign(f.key.SigningSecret, q))
	if _, _, err := f.gate.Authenticate(ctx, pageshot.Credentials{Key: f.key.ID, Signed: q, IP: "192.0.2.1"}, pageshot.ScopeScreenshot); err != nil {
		t.Errorf("signed: %v", err)
	}
	q.Set("url", "https://example.org/")
	if _, _, err := f.gate.Authenticate(ctx, pageshot.Credentials{Key: f.key.ID, Signed: q, IP: "192.0.2.1"}, pageshot.ScopeScreenshot); pageshot.ErrorCode(err) != pageshot.CodeInvalidSignature {
		t.Errorf("altered: %v", err)
	}

	// Failed attempts spend the address's budget of 2, then rate_limited.
	for i, want := range []pageshot.Code{pageshot.CodeInvalidAPIKey, pageshot.CodeInvalidAPIKey, pageshot.CodeRateLimited} {
		_, st, err := f.gate.Authenticate(ctx, pageshot.Credentials{Key: f.key.ID + ".nope", IP: "192.0.2.9"}, pageshot.ScopeScreenshot)
		if pageshot.ErrorCode(err) != want || st.Limit != 2 {
			t.Errorf("attempt %d: %v %+v, want %s", i, err, st, want)
		}
	}

	if q, _ := f.gate.Quota(ctx, c); q.Used != 0 || q.Remaining() != 2 {
		t.Errorf("quota %+v", q)
	}
}

// BenchmarkAuthenticate measures what every /v1 request pays before its
// handler: the key looked up in SQLite, its secret checked and the
// request counted against the key's rate.
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b, pageshot.Plan{RatePerMinute: 1 << 30}, nil)
	ctx := context.Background()
	creds := pageshot.Credentials{Key: f.token, IP: "192.0.2.1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.gate.Authenticate(ctx, creds, pageshot.ScopeScreenshot); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyLookup is the baseline of BenchmarkAuthenticate: the bare
// SQLite lookup of the key by its id.
func BenchmarkKeyLookup(b *testing.B) {
	f := newFixture(b, pageshot.Plan{}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.store.Key(ctx, f.key.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRejectIP measures an answer to a request with a wrong key once
// the address's budget is spent.
func BenchmarkRejectIP(b *testing.B) {
	f := newFixture(b, pageshot.Plan{}, nil)
	ctx := context.Background()
	creds := pageshot.Credentials{Key: "key_nope.nope", IP: "192.0.2.1"}
	b.ReportAllocs()
	for b.Loop() {
		f.gate.Authenticate(ctx, creds, pageshot.ScopeScreenshot)
	}
}
