package pageshot

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// Scope is a permission of an API key.
type Scope string

// Scopes.
const (
	ScopeScreenshot Scope = "screenshot"
	ScopeJobs       Scope = "jobs"
	ScopeUsage      Scope = "usage"
)

// AllScopes returns every scope, the scopes of a key created without a
// list.
func AllScopes() []Scope { return []Scope{ScopeScreenshot, ScopeJobs, ScopeUsage} }

// APIKey is a client's credential. The key a client sends is "ID.SECRET";
// only a hash of SECRET is kept. The signing and webhook secrets are kept
// as they are, because verifying a signature needs them.
type APIKey struct {
	ID            string
	Name          string
	Plan          string
	Scopes        []Scope
	SecretHash    []byte // SHA-256 of the secret part
	SigningSecret string
	WebhookSecret string
	SignedOnly    bool     // accept signed GET URLs only
	URLAllow      []string // host patterns; empty allows every host the egress policy allows
	URLBlock      []string // host patterns refused with url_blocked
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: not revoked
}

// HasScope reports whether k carries s.
func (k *APIKey) HasScope(s Scope) bool {
	for _, have := range k.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

// KeyStore keeps API keys. Methods return an *Error with code not_found
// for an unknown id.
type KeyStore interface {
	CreateKey(ctx context.Context, k *APIKey) error
	Key(ctx context.Context, id string) (*APIKey, error)
	ListKeys(ctx context.Context) ([]*APIKey, error)
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// Usage is a key's count of captures in one period.
type Usage struct {
	Committed int64 // successful captures
	Reserved  int64 // captures in flight, holding a unit
}

// UsageStore is the usage ledger. A unit is reserved before a capture,
// then committed when it succeeds or refunded when it fails, so that
// concurrent captures can never pass the limit and failures are never
// charged. Periods are opaque strings such as "2026-11".
type UsageStore interface {
	// Reserve takes one unit for keyID in period when committed plus
	// reserved units stay within limit (0: no limit). It returns a
	// reservation id, or ok false with the usage that refused it.
	// Reservations older than ttl no longer count and are dropped.
	Reserve(ctx context.Context, keyID, period string, limit int64, ttl time.Duration) (reservation string, u Usage, ok bool, err error)
	// Commit turns a reservation into a charged capture.
	Commit(ctx context.Context, reservation string) error
	// Refund drops a reservation without charge.
	Refund(ctx context.Context, reservation string) error
	// Usage returns keyID's usage in period.
	Usage(ctx context.Context, keyID, period string) (Usage, error)
}

// Usable returns nil when k may be used at now, else an *Error with code
// api_key_revoked or api_key_expired.
func (k *APIKey) Usable(now time.Time) error {
	if !k.RevokedAt.IsZero() && !now.Before(k.RevokedAt) {
		return Errorf(CodeAPIKeyRevoked, "The key %s was revoked.", k.ID)
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return Errorf(CodeAPIKeyExpired, "The key %s expired at %s.", k.ID, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// QuotaExceeded returns the quota_exceeded error of plan p with used
// captures (in flight included) in the period that ends at reset.
func QuotaExceeded(p Plan, used int64, reset time.Time) *Error {
	e := Errorf(CodeQuotaExceeded, "The plan %q allows %d captures a month; %d are used or in flight. The quota resets at %s.",
		p.Name, p.MonthlyQuota, used, reset.UTC().Format(time.RFC3339))
	e.Plan, e.Limit, e.Used, e.ResetAt = p.Name, p.MonthlyQuota, used, reset
	return e
}

// Plan is what a key may do. Every key is on one plan; the plan named
// DefaultPlanName always exists.
type Plan struct {
	Name string
	// MonthlyQuota is the number of successful captures per calendar month
	// (UTC); 0 means unlimited.
	MonthlyQuota int64
	// RatePerMinute is the number of API requests per minute, with bursts
	// of as many.
	RatePerMinute int
	// MaxConcurrency is the number of captures in flight at once.
	MaxConcurrency int
	// MaxTimeout is the largest timeout a request may ask for.
	MaxTimeout time.Duration
	// MaxFullPageHeight is the largest full_page_max_height a request may
	// ask for, within the server's own bound; 0 leaves the server's.
	MaxFullPageHeight int
}

// DefaultPlanName names the plan that always exists.
const DefaultPlanName = "default"

// DefaultPlan returns the built-in default plan: 1000 captures a month, 60
// requests a minute, 4 captures at once, timeouts up to 60 s.
func DefaultPlan() Plan {
	return Plan{Name: DefaultPlanName, MonthlyQuota: 1000, RatePerMinute: 60, MaxConcurrency: 4, MaxTimeout: 60 * time.Second}
}

// Period returns the usage period that contains t: its UTC month, such as
// "2026-11", and the moment the next one starts.
func Period(t time.Time) (name string, reset time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start.Format("2006-01"), start.AddDate(0, 1, 0)
}

// RateState is the state of a rate-limit bucket after a request was
// counted (or refused).
type RateState struct {
	Allowed    bool
	Limit      int           // requests per minute
	Remaining  int           // requests that may be made now
	RetryAfter time.Duration // when not Allowed: until the next request may pass
	ResetAfter time.Duration // until the bucket is full again
}

// RateLimiter counts requests per named bucket. Implementations are safe
// for concurrent use; the in-process one and the Redis one share this
// contract.
type RateLimiter interface {
	// Allow counts one request in bucket against perMinute requests a
	// minute (bursts of perMinute) and reports whether it may pass.
	Allow(ctx context.Context, bucket string, perMinute int) (RateState, error)
	// Peek reports the state of bucket without counting a request.
	Peek(ctx context.Context, bucket string, perMinute int) (RateState, error)
}

// ConcurrencyLimiter bounds work in flight per named bucket.
type ConcurrencyLimiter interface {
	// Acquire takes one of max slots of bucket. When ok, release must be
	// called exactly once when the work ends.
	Acquire(ctx context.Context, bucket string, max int) (release func(), ok bool, err error)
}

// CheckURL refuses a target that k may not capture: a host on its
// blocklist, or, when it has an allowlist, a host not on it. A pattern
// names a host and its subdomains ("example.com"), or only the
// subdomains ("*.example.com"). The error is url_blocked with reason
// key_blocklist or key_allowlist.
func (k *APIKey) CheckURL(target string) error {
	if len(k.URLBlock) == 0 && len(k.URLAllow) == 0 {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil // the options check reports it
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, p := range k.URLBlock {
		if hostMatches(p, host) {
			return &Error{Code: CodeURLBlocked, Reason: "key_blocklist",
				Message: "The host " + host + " is on the key's blocklist."}
		}
	}
	if len(k.URLAllow) == 0 {
		return nil
	}
	for _, p := range k.URLAllow {
		if hostMatches(p, host) {
			return nil
		}
	}
	return &Error{Code: CodeURLBlocked, Reason: "key_allowlist",
		Message: "The host " + host + " is not on the key's allowlist."}
}

func hostMatches(pattern, host string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(pattern)), ".")
	if pattern == "*" {
		return true
	}
	if sub, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+sub)
	}
	return host == pattern || strings.HasSuffix(host, "."+pattern)
}

// Caller is an authenticated key with its plan: who a capture is for.
type Caller struct {
	Key  *APIKey
	Plan Plan
}

// Limits returns the option limits for c's requests: server's, with the
// timeout and the full-page height bounded by c's plan as well (the
// smaller of the two when both are set). A nil c gets server's.
func (c *Caller) Limits(server Limits) Limits {
	if c == nil {
		return server
	}
	if c.Plan.MaxTimeout > 0 && (server.MaxTimeout <= 0 || c.Plan.MaxTimeout < server.MaxTimeout) {
		server.MaxTimeout = c.Plan.MaxTimeout
	}
	return c.Plan.FullPageLimits(server)
}

// Credentials are what a request presents.
type Credentials struct {
	// Key is the key as sent: "ID.SECRET" in a header or access_key, or
	// only the id in a signed URL.
	Key string
	// Signed holds the query of a signed GET URL (one that has a signature
	// parameter); nil otherwise.
	Signed url.Values
	// IP is the client's address, for the limit on requests without a
	// valid key.
	IP string
}
