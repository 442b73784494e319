package pageshot

import (
	"context"
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
