// Package tenancy decides who may call the API: it authenticates API keys
// and signed URLs, applies the key's scopes and rate limit, and reports
// plans and usage. (What a capture costs, its concurrency slot and quota
// unit, is the capture service's.) It works through the domain's
// interfaces (KeyStore, UsageStore, RateLimiter), so the same rules hold on
// SQLite or PostgreSQL, in process or on Redis.
package tenancy

import (
	"cmp"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// Config configures a Gate. Keys, Usage and Rate are required.
type Config struct {
	Keys  pageshot.KeyStore
	Usage pageshot.UsageStore
	Rate  pageshot.RateLimiter
	// Plans by name. The default plan is added when missing.
	Plans map[string]pageshot.Plan
	// IPRatePerMinute bounds requests without a valid key per client
	// address. Defaults to 60.
	IPRatePerMinute int
	// Now replaces time.Now, for tests.
	Now    func() time.Time
	Logger *slog.Logger
}

// Gate applies the tenancy rules. It is safe for concurrent use.
type Gate struct {
	cfg Config
	log *slog.Logger
}

// New returns a Gate.
func New(cfg Config) *Gate {
	cfg.IPRatePerMinute = cmp.Or(cfg.IPRatePerMinute, 60)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	plans := make(map[string]pageshot.Plan, len(cfg.Plans)+1)
	plans[pageshot.DefaultPlanName] = pageshot.DefaultPlan()
	for name, p := range cfg.Plans {
		p.Name = name
		plans[name] = p
	}
	cfg.Plans = plans
	return &Gate{cfg: cfg, log: cfg.Logger}
}

// Plan returns the named plan.
func (g *Gate) Plan(name string) (pageshot.Plan, bool) {
	p, ok := g.cfg.Plans[name]
	return p, ok
}

// Authenticate checks creds, counts the request against the key's rate
// limit and checks that the key has scope. It always returns the rate
// state to report in headers: the key's once the key is known, else the
// client address's. The caller is returned whenever the key is valid, also
// with rate_limited and insufficient_scope. Errors are *pageshot.Error: missing_api_key,
// invalid_api_key, api_key_revoked, api_key_expired, signature_required,
// invalid_signature, rate_limited, insufficient_scope; or a store failure.
func (g *Gate) Authenticate(ctx context.Context, creds pageshot.Credentials, scope pageshot.Scope) (*pageshot.Caller, pageshot.RateState, error) {
	k, err := g.check(ctx, creds)
	if err != nil {
		// A store that failed or cannot be reached says nothing about
		// the credentials: no address's budget is spent for it.
		if code := pageshot.ErrorCode(err); code == pageshot.CodeInternal || code == pageshot.CodeServiceUnavailable {
			return nil, pageshot.RateState{}, err
		}
		// Failed authentication spends the client address's budget; once
		// that is gone the answer is rate_limited, whatever was sent.
		st, rerr := g.cfg.Rate.Allow(ctx, "ip:"+creds.IP, g.cfg.IPRatePerMinute)
		if rerr != nil {
			return nil, st, rerr
		}
		if !st.Allowed {
			return nil, st, rateLimited(st, "Too many requests without a valid API key from this address.")
		}
		return nil, st, err
	}
	c := &pageshot.Caller{Key: k, Plan: g.planOf(k)}
	st, err := g.cfg.Rate.Allow(ctx, "key:"+k.ID, c.Plan.RatePerMinute)
	if err != nil {
		return c, st, err
	}
	if !st.Allowed {
		return c, st, rateLimited(st, "The key's plan allows "+strconv.Itoa(st.Limit)+" requests a minute.")
	}
	if !k.HasScope(scope) {
		return c, st, pageshot.Errorf(pageshot.CodeInsufficientScope, "The key lacks the %q scope.", scope)
	}
	return c, st, nil
}

// PeekIP returns the rate state of a client address without counting a
// request, for the headers of answers that need no key.
func (g *Gate) PeekIP(ctx context.Context, ip string) pageshot.RateState {
	st, _ := g.cfg.Rate.Peek(ctx, "ip:"+ip, g.cfg.IPRatePerMinute)
	return st
}

func rateLimited(st pageshot.RateState, msg string) *pageshot.Error {
	e := pageshot.Errorf(pageshot.CodeRateLimited, "%s", msg)
	e.RetryAfter = max(st.RetryAfter, time.Second)
	return e
}

// check authenticates creds and returns the key.
func (g *Gate) check(ctx context.Context, creds pageshot.Credentials) (*pageshot.APIKey, error) {
	if creds.Key == "" {
		if creds.Signed != nil {
			return nil, pageshot.Errorf(pageshot.CodeMissingAPIKey, "A signed URL needs access_key set to the key's id.")
		}
		return nil, pageshot.Errorf(pageshot.CodeMissingAPIKey, "Send an API key as Authorization: Bearer KEY, X-API-Key: KEY, or access_key=KEY on GET.")
	}
	id, secret, hasSecret := pageshot.ParseKey(creds.Key)
	if creds.Signed != nil && !hasSecret {
		id = strings.TrimSuffix(creds.Key, ".")
	}
	if id == "" || (creds.Signed == nil && !hasSecret) {
		return nil, invalidKey()
	}
	k, err := g.cfg.Keys.Key(ctx, id)
	if pageshot.ErrorCode(err) == pageshot.CodeNotFound {
		return nil, invalidKey()
	}
	if err != nil {
		return nil, err
	}
	// A signed URL proves the key by its signature; a secret, if one was
	// sent along, must still be right.
	if hasSecret && !k.CheckSecret(secret) {
		return nil, invalidKey()
	}
	now := g.cfg.Now()
	if err := k.Usable(now); err != nil {
		return nil, err
	}
	if creds.Signed == nil {
		if k.SignedOnly {
			return nil, pageshot.Errorf(pageshot.CodeSignatureRequired, "The key %s accepts signed URLs only.", k.ID)
		}
		return k, nil
	}
	if err := pageshot.VerifySignature(k.SigningSecret, creds.Signed, now); err != nil {
		return nil, err
	}
	return k, nil
}

func invalidKey() *pageshot.Error {
	return pageshot.Errorf(pageshot.CodeInvalidAPIKey, "The API key is not valid.")
}

// planOf returns k's plan, or the default plan when the configuration no
// longer has it.
func (g *Gate) planOf(k *pageshot.APIKey) pageshot.Plan {
	if p, ok := g.cfg.Plans[k.Plan]; ok {
		return p
	}
	g.log.Warn("key on a plan the configuration does not define; using the default plan", "key", k.ID, "plan", k.Plan)
	return g.cfg.Plans[pageshot.DefaultPlanName]
}

// Quota returns c's quota in the current period.
func (g *Gate) Quota(ctx context.Context, c *pageshot.Caller) (pageshot.Quota, error) {
	period, reset := pageshot.Period(g.cfg.Now())
	u, err := g.cfg.Usage.Usage(ctx, c.Key.ID, period)
	if err != nil {
		return pageshot.Quota{}, err
	}
	return pageshot.Quota{Limit: c.Plan.MonthlyQuota, Used: u.Committed + u.Reserved, Reset: reset}, nil
}

// Usage returns c's usage in the current period.
func (g *Gate) Usage(ctx context.Context, c *pageshot.Caller) (pageshot.Usage, string, time.Time, error) {
	period, reset := pageshot.Period(g.cfg.Now())
	u, err := g.cfg.Usage.Usage(ctx, c.Key.ID, period)
	return u, period, reset, err
}
