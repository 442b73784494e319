package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/tenancy"
)

// authParams are query parameters that belong to authentication and signed
// URLs, not to the capture options.
var authParams = []string{"access_key", "expires", "signature"}

// bodySlack is what a JSON body may carry beyond the html option.
const bodySlack = 1 << 20

// screenshot serves POST and GET /v1/screenshot. With tenancy, the
// capture is admitted first (a concurrency slot and a reserved quota unit),
// then its options are checked, and it is charged only when it is made:
// never when it fails or becomes a job (whose item is charged), and when
// it is served from the cache only with ChargeCacheHits.
func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	lim := s.cfg.Limits
	c := caller(r.Context())
	var adm *tenancy.Admission
	if c != nil {
		var err error
		if adm, err = s.cfg.Tenancy.Admit(r.Context(), c); err != nil {
			s.writeError(w, r, err)
			return
		}
		if c.Plan.MaxTimeout > 0 {
			lim.MaxTimeout = c.Plan.MaxTimeout
		}
		lim = c.Plan.FullPageLimits(lim)
	}
	res, err := s.capture(r, c, lim)
	if adm != nil {
		adm.Finish(r.Context(), err == nil && (res.made || res.cached && s.cfg.ChargeCacheHits))
		setQuotaHeaders(w.Header(), adm.Quota)
	}
	if err != nil {
		if res == nil {
			s.writeError(w, r, err)
			return
		}
		if r.Context().Err() != nil && pageshot.ErrorCode(err) == pageshot.CodeInternal {
			return // the client went away; nobody reads an answer
		}
		s.metrics.observeCapture(string(res.opts.Format), string(pageshot.ErrorCode(err)), time.Since(start))
		s.writeError(w, r, err)
		return
	}
	if res.opts.Async {
		s.asyncCapture(w, r, res.raw, res.opts)
		return
	}
	result := "ok"
	if res.cached {
		result = "cache_hit"
	}
	s.metrics.observeCapture(string(res.opts.Format), result, time.Since(start))
	s.writeCapture(w, r, res)
}

// captured is what a capture request produced.
type captured struct {
	raw  pageshot.RawOptions
	opts *pageshot.Options
	c    *pageshot.Capture // nil for async
	// made tells whether a browser made the capture (and it is charged).
	made   bool
	cached bool      // served from the cache
	expiry time.Time // of the cache entry, with cache
	url    string    // of the stored or cached object
}

// capture checks the options of r and renders them, or serves them from
// the cache; it stores the capture when asked. It returns nil when the
// options were refused.
func (s *Server) capture(r *http.Request, c *tenancy.Caller, lim pageshot.Limits) (*captured, error) {
	ctx := r.Context()
	raw, opts, err := s.parseOptions(r, lim)
	if err != nil {
		return nil, err
	}
	if c != nil && opts.URL != "" {
		if err := c.Key.CheckURL(opts.URL); err != nil {
			return nil, err
		}
		if len(c.Key.URLBlock) > 0 || len(c.Key.URLAllow) > 0 {
			opts.URLCheck = c.Key.CheckURL // every redirect too
		}
	}
	res := &captured{raw: raw, opts: opts}
	if opts.Async {
		return res, nil
	}
	if (opts.Cache || opts.Store) && s.cfg.Blobs == nil {
		return nil, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "store", Message: "This server has no storage."}})
	}
	var owner, cacheKey string
	if c != nil {
		owner = c.Key.ID
	}
	if opts.Cache && s.cfg.Cache != nil {
		cacheKey = pageshot.CacheKey(owner, opts)
		if e, err := s.cfg.Cache.CacheGet(ctx, cacheKey, time.Now()); err == nil {
			data, _, err := s.cfg.Blobs.Get(ctx, e.BlobKey)
			if err == nil {
				res.c = &pageshot.Capture{Data: data, Format: e.Format, Width: e.Width, Height: e.Height, ReturnedStatusCode: e.ReturnedStatusCode}
				res.cached, res.expiry = true, e.ExpiresAt
				res.url = s.objectURL(r, e.BlobKey, time.Until(e.ExpiresAt))
				return res, nil
			}
			s.log.Warn("cached capture unreadable; capturing anew", "request_id", requestID(ctx), "err", err)
		}
	}

	res.c, err = s.cfg.Renderer.Render(ctx, opts)
	if err != nil {
		return res, err
	}
	// A redirect may have led somewhere the key may not go; the image is
	// not handed out then.
	if c != nil && res.c.FinalURL != "" {
		if err := c.Key.CheckURL(res.c.FinalURL); err != nil {
			return res, err
		}
	}
	res.made = true
	ext := "." + res.c.Format.Extension()
	// A cut capture is not cached, nor one with metadata: the cache keeps
	// neither the flag (a cut is never served silently) nor the metadata.
	if cacheKey != "" && !res.c.Truncated && res.c.Metadata == nil {
		// A random name, not one derived from the cache key: the object
		// URL needs no API key, and a name anyone could compute from a key
		// id and options would tell who captured what.
		blobKey := "cache-" + newObjectID() + ext
		err := s.cfg.Blobs.Put(ctx, blobKey, res.c.Data, res.c.Format.ContentType())
		if err == nil {
			now := time.Now()
			res.expiry = now.Add(opts.CacheTTL)
			var replaced string
			replaced, err = s.cfg.Cache.CachePut(ctx, &pageshot.CacheEntry{
				Key: cacheKey, BlobKey: blobKey, Format: res.c.Format, Width: res.c.Width, Height: res.c.Height,
				ReturnedStatusCode: res.c.ReturnedStatusCode, CreatedAt: now, ExpiresAt: res.expiry,
			})
			if replaced != "" && replaced != blobKey {
				if derr := s.cfg.Blobs.Delete(ctx, replaced); derr != nil {
					s.log.Warn("delete replaced capture", "request_id", requestID(ctx), "err", derr)
				}
			}
		}
		switch {
		case err == nil:
			res.url = s.objectURL(r, blobKey, opts.CacheTTL)
		case opts.Store:
			return res, err
		default:
			// The cache is an optimization: the capture is still good.
			s.log.Warn("caching a capture failed", "request_id", requestID(ctx), "err", err)
		}
	}
	if opts.Store && res.url == "" {
		blobKey := "obj-" + newObjectID() + ext
		if err := s.cfg.Blobs.Put(ctx, blobKey, res.c.Data, res.c.Format.ContentType()); err != nil {
			return res, err
		}
		res.url = s.objectURL(r, blobKey, storedURLTTL)
	}
	return res, nil
}

// storedURLTTL is how long the URL of a stored capture works, when the
// storage hands out presigned URLs.
const storedURLTTL = 7 * 24 * time.Hour

// objectURL returns where a client fetches blob key: the storage's own
// URL, or this server's /v1/objects.
func (s *Server) objectURL(r *http.Request, key string, ttl time.Duration) string {
	u, err := s.cfg.Blobs.URL(r.Context(), key, ttl)
	if err != nil {
		s.log.Warn("object URL", "request_id", requestID(r.Context()), "err", err)
	}
	if u != "" {
		return u
	}
	return s.baseURL(r) + "/v1/objects/" + key
}

// newObjectID returns 160 random bits in lowercase base32: an object id
// nobody can guess.
func newObjectID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func (s *Server) parseOptions(r *http.Request, lim pageshot.Limits) (pageshot.RawOptions, *pageshot.Options, error) {
	var raw pageshot.RawOptions
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		for _, p := range authParams {
			q.Del(p)
		}
		raw = pageshot.QueryOptions(q)
	} else {
		maxHTML := lim.MaxHTMLBytes
		if maxHTML <= 0 {
			maxHTML = 5 << 20
		}
		body := http.MaxBytesReader(nil, r.Body, int64(maxHTML)+bodySlack)
		var err error
		raw, err = pageshot.DecodeJSONOptions(body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return raw, nil, pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request body is larger than %d bytes.", int64(maxHTML)+bodySlack)
		}
		if err != nil {
			return raw, nil, err
		}
	}
	o, err := pageshot.ParseOptions(raw, lim)
	return raw, o, err
}

// captureJSON is the answer of response_type json.
type captureJSON struct {
	URL                string         `json:"url,omitempty"`
	Format             string         `json:"format"`
	Width              int            `json:"width"`
	Height             int            `json:"height"`
	Bytes              int            `json:"bytes"`
	ReturnedStatusCode int            `json:"returned_status_code"`
	Truncated          bool           `json:"truncated"`
	Cache              *cacheJSON     `json:"cache,omitempty"`
	Metadata           map[string]any `json:"metadata,omitempty"`
}

type cacheJSON struct {
	Hit       bool  `json:"hit"`
	ExpiresAt int64 `json:"expires_at"`
}

func (s *Server) writeCapture(w http.ResponseWriter, r *http.Request, res *captured) {
	o, c := res.opts, res.c
	h := w.Header()
	sum := sha256.Sum256(c.Data)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h.Set("ETag", etag)
	h.Set("X-Returned-Status-Code", strconv.Itoa(c.ReturnedStatusCode))
	if c.Truncated {
		h.Set("X-Truncated", "true")
	}
	h.Set("X-Cache", "MISS")
	if res.cached {
		h.Set("X-Cache", "HIT")
	}
	if res.url != "" {
		h.Set("Content-Location", res.url)
	}
	h.Set("Cache-Control", "private, max-age=0")
	h.Set("Server-Timing", fmt.Sprintf("queue;dur=%.1f, navigation;dur=%.1f, render;dur=%.1f, encode;dur=%.1f",
		ms(c.Timing.Queue), ms(c.Timing.Navigation), ms(c.Timing.Render), ms(c.Timing.Encode)))
	if c.Width > 0 && o.Format != pageshot.FormatPDF {
		h.Set("X-Image-Width", strconv.Itoa(c.Width))
		h.Set("X-Image-Height", strconv.Itoa(c.Height))
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	switch o.ResponseType {
	case pageshot.ResponseEmpty:
		w.WriteHeader(http.StatusNoContent)
	case pageshot.ResponseJSON:
		h.Set("Content-Type", "application/json")
		out := captureJSON{
			URL: res.url, Format: string(c.Format), Width: c.Width, Height: c.Height, Bytes: len(c.Data),
			ReturnedStatusCode: c.ReturnedStatusCode, Truncated: c.Truncated,
		}
		if c.Metadata != nil {
			out.Metadata = c.Metadata.Fields(o.Metadata)
		}
		if o.Cache && !res.expiry.IsZero() {
			out.Cache = &cacheJSON{Hit: res.cached, ExpiresAt: res.expiry.Unix()}
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		h.Set("Content-Type", c.Format.ContentType())
		h.Set("Content-Length", strconv.Itoa(len(c.Data)))
		h.Set("Content-Disposition", `inline; filename="screenshot.`+c.Format.Extension()+`"`)
		_, _ = w.Write(c.Data)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// etagMatch implements If-None-Match's weak comparison.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
