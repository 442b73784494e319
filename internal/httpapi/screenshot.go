package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// authParams are query parameters that belong to authentication and signed
// URLs, not to the capture options.
var authParams = []string{"access_key", "expires", "signature"}

// bodySlack is what a JSON body may carry beyond the html option.
const bodySlack = 1 << 20

// screenshot serves POST and GET /v1/screenshot through the capture
// service, which admits the capture (the key's concurrency slot, a quota
// unit), checks its options and charges it only when it is made: never
// when it fails or becomes a job (whose item is charged), and when it is
// served from the cache only if the server charges hits.
func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := caller(r.Context())
	raw, err := s.readOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.cfg.Capturer.Capture(r.Context(), &pageshot.CaptureRequest{Caller: c, Raw: raw})
	if res == nil {
		res = &pageshot.CaptureResult{}
	}
	if c != nil {
		setQuotaHeaders(w.Header(), res.Quota)
	}
	if err != nil {
		if res.Options == nil {
			s.writeError(w, r, err)
			return
		}
		if r.Context().Err() != nil && pageshot.ErrorCode(err) == pageshot.CodeInternal {
			return // the client went away; nobody reads an answer
		}
		s.metrics.observeCapture(string(res.Options.Format), string(pageshot.ErrorCode(err)), time.Since(start))
		s.writeError(w, r, err)
		return
	}
	if res.Options.Async {
		s.asyncCapture(w, r, raw, res.Options)
		return
	}
	result := "ok"
	if res.Cached {
		result = "cache_hit"
	}
	s.metrics.observeCapture(string(res.Options.Format), result, time.Since(start))
	s.writeCapture(w, r, res)
}

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

// readOptions reads the options of r as sent: the query of a GET, the
// JSON body of a POST.
func (s *Server) readOptions(r *http.Request) (pageshot.RawOptions, error) {
	var raw pageshot.RawOptions
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q := query(r)
		for _, p := range authParams {
			q.Del(p)
		}
		raw = pageshot.QueryOptions(q)
	} else {
		if err := queryOfPost(r); err != nil {
			return raw, err
		}
		maxHTML := s.cfg.Limits.MaxHTMLBytes
		if maxHTML <= 0 {
			maxHTML = 5 << 20
		}
		body := http.MaxBytesReader(nil, r.Body, int64(maxHTML)+bodySlack)
		var err error
		raw, err = pageshot.DecodeJSONOptions(body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return raw, pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request body is larger than %d bytes.", int64(maxHTML)+bodySlack)
		}
		if err != nil {
			return raw, err
		}
	}
	return raw, nil
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

func (s *Server) writeCapture(w http.ResponseWriter, r *http.Request, res *pageshot.CaptureResult) {
	o, c := res.Options, res.Capture
	url := ""
	if res.BlobKey != "" {
		url = s.objectURL(r, res.BlobKey, res.URLTTL)
	}
	h := w.Header()
	etag := s.etag(res)
	h.Set("ETag", etag)
	h.Set("X-Returned-Status-Code", strconv.Itoa(c.ReturnedStatusCode))
	if c.Truncated {
		h.Set("X-Truncated", "true")
	}
	h.Set("X-Cache", "MISS")
	if res.Cached {
		h.Set("X-Cache", "HIT")
	}
	if url != "" {
		h.Set("Content-Location", url)
	}
	h.Set("Cache-Control", "private, max-age=0")
	h.Set("Server-Timing", serverTiming(c.Timing))
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
			URL: url, Format: string(c.Format), Width: c.Width, Height: c.Height, Bytes: len(c.Data),
			ReturnedStatusCode: c.ReturnedStatusCode, Truncated: c.Truncated,
		}
		if c.Metadata != nil {
			out.Metadata = c.Metadata.Fields(o.Metadata)
		}
		if o.Cache && !res.ExpiresAt.IsZero() {
			out.Cache = &cacheJSON{Hit: res.Cached, ExpiresAt: res.ExpiresAt.Unix()}
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		h.Set("Content-Type", c.Format.ContentType())
		h.Set("Content-Length", strconv.Itoa(len(c.Data)))
		h.Set("Content-Disposition", `inline; filename="screenshot.`+c.Format.Extension()+`"`)
		_, _ = w.Write(c.Data)
	}
}

// etag returns the entity tag of res's image: the first half of its
// SHA-256. A cached capture's is computed once per object, whose name is
// random and whose bytes never change (see blob.HotPrefix): hashing the
// image was the largest cost of a hit after the store's reads.
func (s *Server) etag(res *pageshot.CaptureResult) string {
	if !res.Cached || res.BlobKey == "" {
		return etagOf(res.Capture.Data)
	}
	s.etagMu.Lock()
	e, ok := s.etags[res.BlobKey]
	s.etagMu.Unlock()
	if ok {
		return e
	}
	e = etagOf(res.Capture.Data)
	s.etagMu.Lock()
	if len(s.etags) >= maxETags {
		clear(s.etags) // the hot ones come back at their next hit
	}
	s.etags[res.BlobKey] = e
	s.etagMu.Unlock()
	return e
}

// maxETags bounds the remembered entity tags (about 100 bytes each).
const maxETags = 1 << 14

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// serverTiming formats t as a Server-Timing header, in milliseconds with
// one decimal (strconv rather than fmt: this is on every cache hit).
func serverTiming(t pageshot.Timing) string {
	b := make([]byte, 0, 96)
	for i, m := range []struct {
		name string
		d    time.Duration
	}{{"queue", t.Queue}, {"navigation", t.Navigation}, {"render", t.Render}, {"encode", t.Encode}} {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, m.name...)
		b = append(b, ";dur="...)
		b = strconv.AppendFloat(b, ms(m.d), 'f', 1, 64)
	}
	return string(b)
}

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
