package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Screenshot is a capture. With response_type binary (the default) Data
// holds the image; with json it is empty and URL says where a stored or
// cached capture is kept.
type Screenshot struct {
	Data        []byte
	ContentType string
	Format      Format
	// Width and Height are the image's size in pixels (zero for PDF).
	Width, Height int
	Bytes         int // size of the image
	// ReturnedStatusCode is the target's HTTP status.
	ReturnedStatusCode int
	// URL is where the capture is kept, when it was stored or cached.
	URL string
	// CacheHit tells that the capture came from the cache; CacheExpires
	// is when the cached capture expires (json answers of cache true).
	CacheHit     bool
	CacheExpires time.Time
	Truncated    bool   // a full-page capture was cut
	ETag         string // send it as If-None-Match to save a download
	RequestID    string
}

// Screenshot captures a page with POST /v1/screenshot. A failure is a
// *Error (url_blocked, timeout, host_returned_error, …); retryable ones
// have been retried as the client's RetryPolicy says. A failed connection
// is retried too: should the lost attempt have reached the server, it may
// have been charged. Async captures are made with Submit.
func (c *Client) Screenshot(ctx context.Context, o *Options) (*Screenshot, error) {
	if o.Async {
		return nil, fmt.Errorf("pageshot: Screenshot: use Submit for an async capture")
	}
	body, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("pageshot: encode options: %w", err)
	}
	res, data, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/screenshot", body: body, retryConnErrors: true})
	if err != nil {
		return nil, err
	}
	h := res.Header
	s := &Screenshot{
		ContentType: h.Get("Content-Type"), Width: atoi(h.Get("X-Image-Width")), Height: atoi(h.Get("X-Image-Height")),
		ReturnedStatusCode: atoi(h.Get("X-Returned-Status-Code")), URL: h.Get("Content-Location"),
		CacheHit: h.Get("X-Cache") == "HIT", Truncated: h.Get("X-Truncated") == "true",
		ETag: h.Get("ETag"), RequestID: h.Get("X-Request-Id"),
	}
	if s.ContentType == "application/json" {
		var j struct {
			URL                string `json:"url"`
			Format             Format `json:"format"`
			Width              int    `json:"width"`
			Height             int    `json:"height"`
			Bytes              int    `json:"bytes"`
			ReturnedStatusCode int    `json:"returned_status_code"`
			Truncated          bool   `json:"truncated"`
			Cache              *struct {
				Hit       bool  `json:"hit"`
				ExpiresAt int64 `json:"expires_at"`
			} `json:"cache"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, fmt.Errorf("pageshot: decode the capture: %w", err)
		}
		s.URL, s.Format, s.Width, s.Height, s.Bytes, s.ReturnedStatusCode = j.URL, j.Format, j.Width, j.Height, j.Bytes, j.ReturnedStatusCode
		s.Truncated = s.Truncated || j.Truncated
		if j.Cache != nil {
			s.CacheHit, s.CacheExpires = j.Cache.Hit, time.Unix(j.Cache.ExpiresAt, 0)
		}
		return s, nil
	}
	s.Data, s.Bytes = data, len(data)
	s.Format = formatOf(s.ContentType)
	if s.Format == "" {
		s.Format = o.Format
	}
	return s, nil
}

func formatOf(contentType string) Format {
	for _, f := range []Format{PNG, JPEG, WebP, PDF} {
		if f.ContentType() == contentType {
			return f
		}
	}
	return ""
}
