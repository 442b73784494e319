package httpapi

import (
	"crypto/sha256"
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
// then its options are checked, and it is charged only when it succeeds.
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
	}
	capture, opts, err := s.capture(r, c, lim)
	if adm != nil {
		adm.Finish(r.Context(), err == nil)
		setQuotaHeaders(w.Header(), adm.Quota)
	}
	if err != nil {
		if opts == nil {
			s.writeError(w, r, err)
			return
		}
		if r.Context().Err() != nil && pageshot.ErrorCode(err) == pageshot.CodeInternal {
			return // the client went away; nobody reads an answer
		}
		s.metrics.observeCapture(string(opts.Format), string(pageshot.ErrorCode(err)), time.Since(start))
		s.writeError(w, r, err)
		return
	}
	s.metrics.observeCapture(string(opts.Format), "ok", time.Since(start))
	s.writeCapture(w, r, opts, capture)
}

// capture checks the options of r and renders them. The options are nil
// when they were refused.
func (s *Server) capture(r *http.Request, c *tenancy.Caller, lim pageshot.Limits) (*pageshot.Capture, *pageshot.Options, error) {
	opts, err := s.parseOptions(r, lim)
	if err != nil {
		return nil, nil, err
	}
	if c != nil && opts.URL != "" {
		if err := tenancy.CheckURL(c.Key, opts.URL); err != nil {
			return nil, nil, err
		}
	}
	capture, err := s.cfg.Renderer.Render(r.Context(), opts)
	if err != nil {
		return nil, opts, err
	}
	// A redirect may have led somewhere the key may not go; the image is
	// not handed out then.
	if c != nil && capture.FinalURL != "" {
		if err := tenancy.CheckURL(c.Key, capture.FinalURL); err != nil {
			return nil, opts, err
		}
	}
	return capture, opts, nil
}

func (s *Server) parseOptions(r *http.Request, lim pageshot.Limits) (*pageshot.Options, error) {
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
			return nil, pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request body is larger than %d bytes.", int64(maxHTML)+bodySlack)
		}
		if err != nil {
			return nil, err
		}
	}
	return pageshot.ParseOptions(raw, lim)
}

// captureJSON is the answer of response_type json.
type captureJSON struct {
	URL                string `json:"url,omitempty"`
	Format             string `json:"format"`
	Width              int    `json:"width"`
	Height             int    `json:"height"`
	Bytes              int    `json:"bytes"`
	ReturnedStatusCode int    `json:"returned_status_code"`
}

func (s *Server) writeCapture(w http.ResponseWriter, r *http.Request, o *pageshot.Options, c *pageshot.Capture) {
	h := w.Header()
	sum := sha256.Sum256(c.Data)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h.Set("ETag", etag)
	h.Set("X-Returned-Status-Code", strconv.Itoa(c.ReturnedStatusCode))
	h.Set("X-Cache", "MISS")
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
		_ = json.NewEncoder(w).Encode(captureJSON{
			Format: string(c.Format), Width: c.Width, Height: c.Height, Bytes: len(c.Data),
			ReturnedStatusCode: c.ReturnedStatusCode,
		})
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
