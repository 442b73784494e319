package pageshot_test

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/pageshot/pageshot"
)

// FuzzParseOptions feeds the option decoder arbitrary JSON bodies and
// query strings: it never panics, refuses only with invalid_request or
// payload_too_large, and what it accepts keeps the contract's rules.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{
		`{"url": "https://example.com/", "full_page": true, "hide_selectors": ["#a", ".b"]}`,
		`{"html": "<p>", "format": "jpeg", "quality": 1, "clip": {"x": 0, "y": 0, "width": 1, "height": 1}}`,
		`{"url": "https://a.b:65536/", "headers": {"Host": "x", "X-A": "a\u0000"}, "delay": 5000, "timeout": 5}`,
		`{"url": "https://a.b/", "url": "https://c.d/", "clip": {"x": 1, "x": 2}}`,
		`{"url": "https://a.b/", "locale": "de-DE-u-co-phonebk", "timezone": "Europe/Paris", "cookies": [{"name": "a", "value": "b"}]}`,
		`{"html": "x", "format": "pdf", "pdf_margin": "1cm", "pdf_paper": "letter"}`,
		"url=https%3A%2F%2Fa.b%2F&clip_x=1&clip_y=1&clip_width=2&clip_height=2&headers=X-A%3A+1",
		"html=x&delay=1&delay=2&full_page=maybe",
	} {
		f.Add([]byte(s))
	}
	lim := pageshot.Limits{MaxHTMLBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		var raws []pageshot.RawOptions
		if raw, err := pageshot.DecodeJSONOptions(bytes.NewReader(b)); err == nil {
			raws = append(raws, raw)
		} else if c := pageshot.ErrorCode(err); c != pageshot.CodeInvalidRequest {
			t.Fatalf("DecodeJSONOptions(%q): %v", b, err)
		}
		if q, err := url.ParseQuery(string(b)); err == nil {
			raws = append(raws, pageshot.QueryOptions(q))
		}
		for _, raw := range raws {
			o, err := pageshot.ParseOptions(raw, lim)
			if err != nil {
				if c := pageshot.ErrorCode(err); c != pageshot.CodeInvalidRequest && c != pageshot.CodePayloadTooLarge {
					t.Fatalf("ParseOptions(%q): %v", b, err)
				}
				continue
			}
			if (o.URL == "") == (o.HTML == "") || o.Timeout <= 0 || o.Delay >= o.Timeout || o.NavigationTimeout > o.Timeout ||
				o.ViewportWidth < 100 || o.ViewportWidth > 5000 || o.ViewportHeight < 100 || o.ViewportHeight > 5000 ||
				len(o.HTML) > lim.MaxHTMLBytes {
				t.Fatalf("ParseOptions(%q) accepted %+v", b, o)
			}
		}
	})
}
