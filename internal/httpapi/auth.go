package httpapi

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

const callerKey ctxKey = 1

// authed is what authenticated passes on in a request's context.
type authed struct {
	caller *pageshot.Caller
	// query is the request's query as parsed for its credentials (the
	// same map as their Signed, which authentication has done with),
	// handed on once so that a handler need not parse it again.
	query url.Values
}

// caller returns the authenticated caller of r, nil when the server runs
// without tenancy.
func caller(ctx context.Context) *pageshot.Caller {
	a, _ := ctx.Value(callerKey).(*authed)
	if a == nil {
		return nil
	}
	return a.caller
}

// query returns r's query for the handler to keep and change: the first
// call takes the parse authentication made, any later one parses the URL
// again. It is called from the request's own goroutine only.
func query(r *http.Request) url.Values {
	if a, _ := r.Context().Value(callerKey).(*authed); a != nil && a.query != nil {
		q := a.query
		a.query = nil // handed over
		return q
	}
	return r.URL.Query()
}

// credentials reads what r presents: Authorization: Bearer, X-API-Key, or
// on GET and HEAD access_key; a signature parameter makes a signed URL,
// which authenticates GET and HEAD /v1/screenshot only, so that the query
// of a public <img src> opens nothing else. Ambiguous credentials are
// refused: two different keys, a parameter given twice, a signature where
// none is accepted.
func credentials(r *http.Request, q url.Values) (pageshot.Credentials, error) {
	c := pageshot.Credentials{IP: clientIP(r)}
	var header []string
	for _, v := range r.Header.Values("Authorization") {
		if scheme, token, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
			header = append(header, strings.TrimSpace(token))
		}
	}
	for _, v := range r.Header.Values("X-API-Key") {
		header = append(header, strings.TrimSpace(v))
	}
	for _, k := range header {
		if c.Key != "" && k != c.Key {
			return c, pageshot.Errorf(pageshot.CodeInvalidAPIKey, "The request carries more than one API key; send one.")
		}
		c.Key = cmp.Or(c.Key, k)
	}
	for _, name := range []string{"access_key", "signature", "expires"} {
		if len(q[name]) > 1 {
			code := pageshot.CodeInvalidSignature
			if name == "access_key" && !q.Has("signature") {
				code = pageshot.CodeInvalidAPIKey
			}
			return c, pageshot.Errorf(code, "The query has %d %s parameters; send one.", len(q[name]), name)
		}
	}
	if q.Has("signature") {
		if !signedRoute(r) {
			return c, pageshot.Errorf(pageshot.CodeInvalidSignature, "A signed URL authenticates GET /v1/screenshot only, not %s %s.", r.Method, r.URL.Path)
		}
		if c.Key != "" && c.Key != q.Get("access_key") && !strings.HasPrefix(c.Key, q.Get("access_key")+".") {
			return c, pageshot.Errorf(pageshot.CodeInvalidAPIKey, "The request carries a key and a signed URL of another key; send one.")
		}
		c.Key = q.Get("access_key")
		c.Signed = q
		return c, nil
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if k := q.Get("access_key"); k != "" {
			if c.Key != "" && c.Key != k {
				return c, pageshot.Errorf(pageshot.CodeInvalidAPIKey, "The request carries more than one API key; send one.")
			}
			c.Key = k
		}
	}
	return c, nil
}

// signedRoute reports whether a signed URL may authenticate r.
func signedRoute(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/v1/screenshot"
}

// clientIP is the address the request came from. Forwarding headers are
// not trusted: anyone can send them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticated wraps a route that needs a key with scope: it
// authenticates the request, sets the rate-limit and quota headers, and
// passes the caller on in the context.
func (s *Server) authenticated(scope pageshot.Scope, next http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Tenancy == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		creds, err := credentials(r, q)
		var c *pageshot.Caller
		var st pageshot.RateState
		if err != nil {
			// Refused before any key is looked at; the answer carries
			// the address's rate state.
			st = s.cfg.Tenancy.PeekIP(r.Context(), creds.IP)
		} else {
			c, st, err = s.cfg.Tenancy.Authenticate(r.Context(), creds, scope)
		}
		setRateHeaders(w.Header(), st)
		if c != nil {
			w = &quotaWriter{ResponseWriter: w, fill: func(h http.Header) {
				if q, err := s.cfg.Tenancy.Quota(r.Context(), c); err == nil {
					setQuotaHeaders(h, q)
				}
			}}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), callerKey, &authed{caller: c, query: q})))
	}
}

// quotaWriter adds the X-Quota-* headers to an answer whose handler did not
// set them. Handlers that know the quota already (a capture's admission,
// /v1/usage) set them, which spares the store a read.
type quotaWriter struct {
	http.ResponseWriter
	fill func(http.Header)
	done bool
}

func (w *quotaWriter) WriteHeader(status int) {
	if !w.done {
		w.done = true
		if w.Header().Get("X-Quota-Reset") == "" {
			w.fill(w.Header())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *quotaWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// public wraps a route that needs no key: its answer carries the client
// address's rate-limit state, which it does not spend.
func (s *Server) public(next http.Handler) http.Handler {
	if s.cfg.Tenancy == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRateHeaders(w.Header(), s.cfg.Tenancy.PeekIP(r.Context(), clientIP(r)))
		next.ServeHTTP(w, r)
	})
}

func setRateHeaders(h http.Header, st pageshot.RateState) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(st.ResetAfter+time.Second-1).Unix(), 10))
}

// setQuotaHeaders reports q; an unlimited plan has no X-Quota-Limit or
// X-Quota-Remaining.
func setQuotaHeaders(h http.Header, q pageshot.Quota) {
	if q.Limit > 0 {
		h.Set("X-Quota-Limit", strconv.FormatInt(q.Limit, 10))
		h.Set("X-Quota-Remaining", strconv.FormatInt(q.Remaining(), 10))
	} else {
		h.Del("X-Quota-Limit")
		h.Del("X-Quota-Remaining")
	}
	h.Set("X-Quota-Reset", strconv.FormatInt(q.Reset.Unix(), 10))
}

// usageJSON is the answer of GET /v1/usage.
type usageJSON struct {
	KeyID     string   `json:"key_id"`
	Name      string   `json:"name"`
	Plan      planJSON `json:"plan"`
	Period    string   `json:"period"`
	Used      int64    `json:"used"`
	InFlight  int64    `json:"in_flight"`
	Remaining *int64   `json:"remaining"`
	ResetAt   int64    `json:"reset_at"`
}

type planJSON struct {
	Name           string `json:"name"`
	MonthlyQuota   int64  `json:"monthly_quota"`
	RatePerMinute  int    `json:"rate_per_minute"`
	MaxConcurrency int    `json:"max_concurrency"`
	MaxTimeout     int    `json:"max_timeout"`
}

// usage serves GET /v1/usage: the key's plan and its usage this period.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	c := caller(r.Context())
	u, period, reset, err := s.cfg.Tenancy.Usage(r.Context(), c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := usageJSON{
		KeyID: c.Key.ID, Name: c.Key.Name, Period: period,
		Used: u.Committed, InFlight: u.Reserved, ResetAt: reset.Unix(),
		Plan: planJSON{
			Name: c.Plan.Name, MonthlyQuota: c.Plan.MonthlyQuota, RatePerMinute: c.Plan.RatePerMinute,
			MaxConcurrency: c.Plan.MaxConcurrency, MaxTimeout: int(c.Plan.MaxTimeout / time.Second),
		},
	}
	if c.Plan.MonthlyQuota > 0 {
		left := max(0, c.Plan.MonthlyQuota-u.Committed-u.Reserved)
		out.Remaining = &left
	}
	setQuotaHeaders(w.Header(), pageshot.Quota{Limit: c.Plan.MonthlyQuota, Used: u.Committed + u.Reserved, Reset: reset})
	writeJSON(w, http.StatusOK, out)
}
