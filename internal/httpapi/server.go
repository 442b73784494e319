// Package httpapi serves pageshot's HTTP API: the routes in one table, the
// middleware every response passes through, and the one mapping of errors to
// HTTP answers.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/requestid"
)

// Config configures a Server. Capturer is required.
type Config struct {
	// Capturer makes the captures of /v1/screenshot.
	Capturer pageshot.Capturer
	// Limits are the server's option limits; the body of a capture is
	// read up to MaxHTMLBytes and a margin.
	Limits pageshot.Limits
	// Tenancy authenticates /v1 requests and reports plans and usage. Nil
	// serves every request without a key.
	Tenancy Gate
	// Jobs runs async jobs; nil answers their routes not_found.
	Jobs Jobs
	// Blobs keeps stored and cached captures, served at /v1/objects and
	// linked from answers.
	Blobs pageshot.BlobStore
	// BaseURL is the server's address as clients reach it, for links in
	// answers. Empty derives it from each request's Host.
	BaseURL string
	// Ready reports whether the server can take captures (browser up,
	// stores reachable). Nil means always ready.
	Ready func() bool
	// Details, when set, adds members to the /readyz answer (such as
	// whether the browser's sandbox is on).
	Details func() map[string]string
	// Gauges reads the render pool's state for /metrics. Nil reports zeros.
	Gauges func() Gauges
	// OpsOnly serves /healthz, /readyz and /metrics only: the admin
	// address of a worker node, which has no public API.
	OpsOnly bool
	// OpenAPI is the API description served at /openapi.json, as JSON.
	OpenAPI []byte
	Logger  *slog.Logger
}

// Gate authenticates requests (tenancy.Gate).
type Gate interface {
	// Authenticate checks creds for scope and counts the request against
	// the key's (or, failing that, the address's) rate; see tenancy.Gate.
	Authenticate(ctx context.Context, creds pageshot.Credentials, scope pageshot.Scope) (*pageshot.Caller, pageshot.RateState, error)
	// PeekIP reads an address's rate state without counting a request.
	PeekIP(ctx context.Context, ip string) pageshot.RateState
	// Quota and Usage read the caller's quota and usage this period.
	Quota(ctx context.Context, c *pageshot.Caller) (pageshot.Quota, error)
	Usage(ctx context.Context, c *pageshot.Caller) (u pageshot.Usage, period string, reset time.Time, err error)
}

// Jobs submits and reads async jobs (jobs.Service). Jobs of another key
// are not_found.
type Jobs interface {
	Submit(ctx context.Context, key *pageshot.APIKey, plan pageshot.Plan, r *pageshot.JobRequest) (*pageshot.Job, error)
	Job(ctx context.Context, key *pageshot.APIKey, id string) (*pageshot.Job, error)
	Cancel(ctx context.Context, key *pageshot.APIKey, id string) (*pageshot.Job, error)
	Artifact(ctx context.Context, key *pageshot.APIKey, id string, n int) (data []byte, contentType string, err error)
}

// Gauges are the render pool's and the job runner's readings exported as
// metrics.
type Gauges struct {
	InUse, Queued     int
	Restarts, Crashes int64
	// RestartsBy splits Restarts by reason (crash, hang, recycle); nil
	// counts crashes and takes the rest as recycling.
	RestartsBy map[string]int64
	// MemoryKills counts renderers killed for passing their memory limit.
	MemoryKills int64
	// DataDiskFree is the room left on the data directory's disk (-1:
	// unknown); DataDiskLow tells that it is under the kept minimum.
	DataDiskFree int64
	DataDiskLow  bool
	// Job counts since the process started.
	ItemsSucceeded, ItemsFailed        int64
	WebhooksDelivered, WebhookFailures int64
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	handler http.Handler

	etagMu sync.Mutex
	etags  map[string]string // of cached objects, by blob key
}

// route is one entry of the routing table.
type route struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	name    string // the label of the route in metrics
	// scope is what a key needs for the route; "" needs no key.
	scope   pageshot.Scope
	handler http.HandlerFunc
}

// New returns the API server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), etags: map[string]string{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = slog.New(requestid.Handler(s.log.Handler())) // every line logged with a request's context names it
	s.metrics = newMetrics(cfg.Gauges)
	for _, rt := range s.routes() {
		if cfg.OpsOnly && !opsRoutes[rt.name] {
			continue
		}
		var h http.Handler = rt.handler
		if rt.scope != "" {
			h = s.authenticated(rt.scope, rt.handler)
		} else {
			h = s.public(h)
		}
		s.mux.Handle(rt.pattern, s.metrics.instrument(rt.name, s.readBody(rt.pattern, h)))
	}
	s.mux.Handle("/", s.metrics.instrument("unmatched", s.public(http.HandlerFunc(s.unmatched))))
	s.handler = s.withRequestID(s.cleanPaths(s.mux))
	return s
}

// opsRoutes are the routes of an OpsOnly server.
var opsRoutes = map[string]bool{"healthz": true, "readyz": true, "metrics": true}

func (s *Server) routes() []route {
	return []route{
		{"POST /v1/screenshot", "screenshot", pageshot.ScopeScreenshot, s.screenshot},
		{"GET /v1/screenshot", "screenshot", pageshot.ScopeScreenshot, s.screenshot},
		{"GET /v1/usage", "usage", pageshot.ScopeUsage, s.usage},
		{"GET /v1/devices", "devices", pageshot.ScopeScreenshot, s.devices},
		{"POST /v1/jobs", "jobs", pageshot.ScopeJobs, s.submitJob},
		{"GET /v1/jobs/{id}", "job", pageshot.ScopeJobs, s.getJob},
		{"DELETE /v1/jobs/{id}", "job", pageshot.ScopeJobs, s.cancelJob},
		{"GET /v1/jobs/{id}/items/{n}/artifact", "artifact", pageshot.ScopeJobs, s.artifact},
		{"GET /v1/objects/{id}", "object", "", s.object},
		{"GET /healthz", "healthz", "", s.healthz},
		{"GET /readyz", "readyz", "", s.readyz},
		{"GET /metrics", "metrics", "", s.metrics.serve},
		{"GET /openapi.json", "openapi", "", s.openapi},
		{"GET /docs/errors", "docs", "", s.errorDocs},
		{"GET /docs/options", "docs", "", s.optionDocs},
		{"GET /docs/{page}", "docs", "", s.markdownDoc},
		{"GET /docs", "docs", "", s.docsIndex},
		{"GET /docs/devices", "docs", "", s.deviceDocs},
		{"GET /{$}", "playground", "", s.playground},
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers not_found, or method_not_allowed with Allow when the
// path exists for other methods.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeMethodNotAllowed, "%s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "There is nothing at %s.", r.URL.Path))
}

// withRequestID gives every request an id, in the X-Request-Id header of the
// response and in its context.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newID()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(requestid.With(r.Context(), id)))
	})
}

// ctxKey keys the values this package keeps in a request's context.
type ctxKey int

func requestID(ctx context.Context) string { return requestid.From(ctx) }

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID returns a ULID: 48 bits of milliseconds and 80 random bits in
// Crockford base32, so ids sort by time.
func newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	var out [26]byte
	// 128 bits as 26 base32 digits, the first holding 3 bits.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
