package client

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/pageshot/pageshot"
)

// Options are a capture's options, the same type the server's reference
// (/docs/options) is generated from, so the names cannot drift. A zero
// field leaves its option out and the server's default applies; use Bool
// for the pointer fields whose default is true.
type Options = pageshot.CaptureRequest

// Option value types.
type (
	Format       = pageshot.Format
	WaitUntil    = pageshot.WaitUntil
	ResponseType = pageshot.ResponseType
	Clip         = pageshot.Clip
	Cookie       = pageshot.Cookie
)

// Option values.
const (
	PNG  = pageshot.FormatPNG
	JPEG = pageshot.FormatJPEG
	WebP = pageshot.FormatWebP
	PDF  = pageshot.FormatPDF

	WaitLoad             = pageshot.WaitLoad
	WaitDOMContentLoaded = pageshot.WaitDOMContentLoaded
	WaitNetworkIdle      = pageshot.WaitNetworkIdle

	ResponseBinary = pageshot.ResponseBinary
	ResponseJSON   = pageshot.ResponseJSON
	ResponseEmpty  = pageshot.ResponseEmpty
)

// Bool returns a pointer to b, for the options that default to true.
func Bool(b bool) *bool { return &b }

// Query returns o as the query parameters of GET /v1/screenshot: lists as
// repeated parameters, clip as clip_x, clip_y, clip_width and clip_height,
// headers as repeated "Name: value", cookies as repeated "name=value". A
// cookie with a domain or path cannot be written so and is an error, as is
// async, which GET does not take.
func Query(o *Options) (url.Values, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	q := url.Values{}
	for name, v := range m {
		switch name {
		case "async", "webhook_url":
			return nil, fmt.Errorf("encode options: %s is taken by POST only", name)
		case "clip":
			for _, k := range []string{"x", "y", "width", "height"} {
				q.Set("clip_"+k, fmt.Sprint(v.(map[string]any)[k]))
			}
			continue
		case "headers":
			for _, k := range sortedKeys(o.Headers) {
				q.Add("headers", k+": "+o.Headers[k])
			}
			continue
		case "cookies":
			for _, c := range o.Cookies {
				if c.Domain != "" || c.Path != "" {
					return nil, fmt.Errorf("encode options: cookie %s has a domain or path, which a query cannot carry", c.Name)
				}
				q.Add("cookies", c.Name+"="+c.Value)
			}
			continue
		}
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				q.Add(name, fmt.Sprint(e))
			}
		case bool:
			q.Set(name, strconv.FormatBool(v))
		default:
			q.Set(name, fmt.Sprint(v))
		}
	}
	return q, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
