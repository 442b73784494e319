package httpapi

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/pageshot/pageshot"
)

// readBody reads the whole body of a request into memory, bounded by the
// route's limit, before anything else runs: a client that sends headers
// and stalls (or trickles) holds no concurrency slot and no quota
// reservation while the server's read timeout runs, and the handlers read
// their bodies from memory. Once the body is in, the connection's read
// deadline is lifted: what follows is bounded by the capture's own
// timeout, not by the time the client had to send its request.
func (s *Server) readBody(pattern string, next http.Handler) http.Handler {
	limit := s.bodyLimit(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > limit {
				s.writeError(w, r, tooLarge(limit))
				return
			}
			b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
			var big *http.MaxBytesError
			switch {
			case errors.As(err, &big):
				s.writeError(w, r, tooLarge(limit))
				return
			case err != nil:
				// Most often the read timeout: the client stalled.
				s.writeError(w, r, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "", Message: "The request body could not be read in time."}}))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}

// bodyLimit is the largest body a route takes.
func (s *Server) bodyLimit(pattern string) int64 {
	switch pattern {
	case "POST /v1/screenshot":
		maxHTML := s.cfg.Limits.MaxHTMLBytes
		if maxHTML <= 0 {
			maxHTML = 5 << 20
		}
		return int64(maxHTML) + bodySlack
	case "POST /v1/jobs":
		return maxJobBody
	}
	return 64 << 10
}

func tooLarge(limit int64) error {
	return pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request body is larger than %d bytes.", limit)
}

// queryOfPost refuses the query string of a POST, whose options are its
// JSON body: a query there would otherwise be silently ignored. Every
// parameter is a problem of its own.
func queryOfPost(r *http.Request) error {
	if r.Method != http.MethodPost || r.URL.RawQuery == "" {
		return nil
	}
	q := r.URL.Query()
	names := slices.Sorted(maps.Keys(q))
	if len(names) == 0 {
		names = []string{""}
	}
	var problems []pageshot.FieldError
	for _, name := range names {
		problems = append(problems, pageshot.FieldError{Field: name, Message: "A POST takes its options in the JSON body, not in the query string."})
	}
	return pageshot.InvalidRequest(problems)
}
