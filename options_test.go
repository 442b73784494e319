package pageshot_test

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

func parseJSON(t *testing.T, body string, lim pageshot.Limits) (*pageshot.Options, error) {
	t.Helper()
	raw, err := pageshot.DecodeJSONOptions(strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	return pageshot.ParseOptions(raw, lim)
}

func fields(err error) []string {
	var e *pageshot.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestDefaults(t *testing.T) {
	o, err := parseJSON(t, `{"url":"https://example.com/"}`, pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Format != pageshot.FormatPNG || o.ViewportWidth != 1280 || o.ViewportHeight != 800 || o.DeviceScaleFactor != 1 ||
		o.Timeout != 30*time.Second || o.NavigationTimeout != 30*time.Second || o.WaitUntil != pageshot.WaitLoad ||
		!o.ErrorOnSelectorNotFound || o.FullPageMaxHeight != 20000 || o.ResponseType != pageshot.ResponseBinary ||
		o.Quality != 0 || o.PDF.Paper != "a4" || !o.PDF.PrintBackground {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseJSON(t, `{"url":"https://example.com/","format":"jpeg"}`, pageshot.Limits{})
	if err != nil || o.Quality != 80 {
		t.Errorf("jpeg default quality: %v %v", o, err)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       []string // fields with a problem, in any order
	}{
		{"neither url nor html", `{}`, []string{"url"}},
		{"both url and html", `{"url":"https://a.b/","html":"<p>"}`, []string{"html"}},
		{"relative url", `{"url":"/path"}`, []string{"url"}},
		{"long url", `{"url":"https://a.b/` + strings.Repeat("x", 2048) + `"}`, []string{"url"}},
		{"unknown options", `{"url":"https://a.b/","colour":1,"block_popups":true}`, []string{"colour", "block_popups"}},
		{"unknown device", `{"url":"https://a.b/","device":"nokia_3310"}`, []string{"device"}},
		{"metadata without json", `{"url":"https://a.b/","metadata":["title"]}`, []string{"metadata"}},
		{"metadata fields", `{"url":"https://a.b/","response_type":"json","metadata":["title","weather"],"colors_count":1}`, []string{"metadata", "colors_count"}},
		{"colors of a pdf", `{"url":"https://a.b/","response_type":"json","format":"pdf","metadata":["colors"]}`, []string{"metadata"}},
		{"colors_count without colors", `{"url":"https://a.b/","response_type":"json","metadata":["title"],"colors_count":4}`, []string{"colors_count"}},
		{"metadata with async", `{"url":"https://a.b/","response_type":"json","async":true,"metadata":["title"]}`, []string{"metadata"}},
		{"types", `{"url":"https://a.b/","full_page":"yes","viewport_width":"wide","delay":1.5,"hide_selectors":3}`, []string{"full_page", "viewport_width", "delay", "hide_selectors"}},
		{"ranges", `{"url":"https://a.b/","viewport_width":99,"viewport_height":5001,"device_scale_factor":5,"timeout":61,"delay":10001}`, []string{"viewport_width", "viewport_height", "device_scale_factor", "timeout", "delay"}},
		{"quality without lossy format", `{"url":"https://a.b/","quality":50}`, []string{"quality"}},
		{"enums", `{"url":"https://a.b/","format":"gif","wait_until":"idle","response_type":"xml","pdf_paper":"a0"}`, []string{"format", "wait_until", "response_type", "pdf_paper", "pdf_paper"}},
		{"navigation timeout over timeout", `{"url":"https://a.b/","timeout":5,"navigation_timeout":10}`, []string{"navigation_timeout"}},
		{"clip members", `{"url":"https://a.b/","clip":{"x":0,"y":0,"width":10}}`, []string{"clip.height"}},
		{"clip with selector", `{"url":"https://a.b/","clip":{"x":0,"y":0,"width":10,"height":10},"selector":"#a"}`, []string{"clip"}},
		{"pdf options on an image", `{"url":"https://a.b/","pdf_landscape":true}`, []string{"pdf_landscape"}},
		{"image options on a pdf", `{"url":"https://a.b/","format":"pdf","full_page":true}`, []string{"full_page"}},
		{"headers", `{"url":"https://a.b/","headers":{"Bad Name":"x","X-Ok":"a\r\nb"}}`, []string{"headers", "headers"}},
		{"cookies", `{"html":"<p>","cookies":[{"name":"","value":"x"}]}`, []string{"cookies[0]", "cookies[0]"}},
		{"timezone and locale", `{"url":"https://a.b/","timezone":"Mars/Olympus","locale":"not a locale"}`, []string{"timezone", "locale"}},
		{"block resources", `{"url":"https://a.b/","block_resources":["image","sound"]}`, []string{"block_resources"}},
		{"empty selectors", `{"url":"https://a.b/","selector":" ","hide_selectors":[""]}`, []string{"selector", "hide_selectors"}},
		{"margin", `{"url":"https://a.b/","format":"pdf","pdf_margin":"20in"}`, []string{"pdf_margin"}},
		{"omit background on jpeg", `{"url":"https://a.b/","format":"jpeg","omit_background":true}`, []string{"omit_background"}},
		{"port above 65535", `{"url":"https://a.b:65536/"}`, []string{"url"}},
		{"port 0", `{"url":"http://a.b:0/"}`, []string{"url"}},
		{"control characters", `{"url":"https://a.b/","user_agent":"x\u0001y","headers":{"X-A":"a\u0000b","X-B":"\u007f"}}`, []string{"user_agent", "headers", "headers"}},
		{"headers the browser owns", `{"url":"https://a.b/","headers":{"Host":"x","content-length":"1","Transfer-Encoding":"chunked","Connection":"close","Proxy-Authorization":"Basic eA=="}}`,
			[]string{"headers", "headers", "headers", "headers", "headers"}},
		{"delay as long as the timeout", `{"url":"https://a.b/","timeout":5,"delay":5000}`, []string{"delay"}},
		{"duplicate members", `{"url":"https://a.b/","url":"https://c.d/","clip":{"x":1,"x":2,"y":0,"width":1,"height":1}}`, []string{"url", "clip.x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseJSON(t, c.body, pageshot.Limits{})
			if pageshot.ErrorCode(err) != pageshot.CodeInvalidRequest {
				t.Fatalf("err = %v, want invalid_request", err)
			}
			got := fields(err)
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("problems with %v, want %v (%v)", got, want, err)
			}
		})
	}
}

func TestValidEdgeOptions(t *testing.T) {
	for _, body := range []string{
		`{"url":"https://a.b:65535/","locale":"de-DE-u-co-phonebk"}`,
		`{"url":"https://a.b:1/","locale":"zh-Hant-TW"}`,
		`{"url":"https://a.b/","locale":"en-US-x-twain","user_agent":"a\tb","headers":{"X-A":"tab\there"}}`,
		`{"url":"https://a.b/","locale":"sr-Latn-RS-u-nu-latn","timeout":5,"delay":4999}`,
		`{"url":"https://a.b/","headers":{"X-A":"1"},"cookies":[{"name":"a","value":"1"}],"clip":{"x":0,"y":0,"width":5,"height":5}}`,
	} {
		if _, err := parseJSON(t, body, pageshot.Limits{}); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestBodyNotJSON(t *testing.T) {
	for _, body := range []string{``, `{`, `[1]`, `null`, `{"url":"x"} trailing`} {
		_, err := pageshot.DecodeJSONOptions(strings.NewReader(body))
		if got := fields(err); len(got) != 1 || got[0] != "" {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestHTMLTooLarge(t *testing.T) {
	_, err := parseJSON(t, `{"html":"`+strings.Repeat("x", 101)+`"}`, pageshot.Limits{MaxHTMLBytes: 100})
	if pageshot.ErrorCode(err) != pageshot.CodePayloadTooLarge {
		t.Errorf("err = %v", err)
	}
}

func TestQueryOptions(t *testing.T) {
	q := url.Values{
		"url": {"https://a.b/"}, "full_page": {"true"}, "viewport_width": {"640"}, "hide_selectors": {"#a", ".b"},
		"headers": {"X-One: 1"}, "cookies": {"c=2"}, "format": {"webp"}, "quality": {"55"},
	}
	o, err := pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.FullPage || o.ViewportWidth != 640 || len(o.HideSelectors) != 2 || o.Headers["X-One"] != "1" ||
		len(o.Cookies) != 1 || o.Cookies[0].Value != "2" || o.Quality != 55 {
		t.Errorf("%+v", o)
	}
	q = url.Values{"url": {"https://a.b/"}, "clip_x": {"1"}, "clip_y": {"2"}, "clip_width": {"3"}, "clip_height": {"4"}}
	o, err = pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
	if err != nil || o.Clip == nil || *o.Clip != (pageshot.Clip{X: 1, Y: 2, Width: 3, Height: 4}) {
		t.Errorf("clip: %+v %v", o, err)
	}
	q = url.Values{"url": {"https://a.b/"}, "clip_x": {"1"}, "delay": {"1", "2"}, "full_page": {"perhaps"}}
	_, err = pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
	got := fields(err)
	slices.Sort(got)
	if want := []string{"clip_height", "clip_width", "clip_y", "delay", "full_page"}; !slices.Equal(got, want) {
		t.Errorf("problems with %v, want %v", got, want)
	}
}

func TestCatalogue(t *testing.T) {
	seen := map[pageshot.Code]bool{}
	for _, c := range pageshot.Catalogue() {
		if seen[c.Code] || c.Status < 400 || c.Title == "" || c.When == "" {
			t.Errorf("bad entry %+v", c)
		}
		seen[c.Code] = true
	}
	if len(seen) != 27 {
		t.Errorf("%d codes, want 27", len(seen))
	}
	e := &pageshot.Error{Code: pageshot.CodeHostReturnedError, ReturnedStatusCode: 503}
	if !e.Retryable() {
		t.Error("host_returned_error 503 is retryable")
	}
	e.ReturnedStatusCode = 404
	if e.Retryable() {
		t.Error("host_returned_error 404 is not retryable")
	}
	if pageshot.ErrorCode(errors.New("x")) != pageshot.CodeInternal {
		t.Error("a plain error is internal_error")
	}
}

func TestNullAndClipNames(t *testing.T) {
	_, err := parseJSON(t, `{"url":"https://a.b/","html":null,"delay":null,"clip_x":5}`, pageshot.Limits{})
	got := fields(err)
	slices.Sort(got)
	if want := []string{"clip_x", "delay", "html"}; !slices.Equal(got, want) {
		t.Errorf("problems with %v, want %v", got, want)
	}
	_, err = pageshot.ParseOptions(pageshot.QueryOptions(url.Values{"url": {"https://a.b/"}, "clip_foo": {"1"}}), pageshot.Limits{})
	if got := fields(err); !slices.Equal(got, []string{"clip_foo"}) {
		t.Errorf("problems with %v, want [clip_foo]", got)
	}
}

func TestCheckDuplicateMembers(t *testing.T) {
	for body, want := range map[string][]string{
		`{"a": 1, "b": {"c": 1, "d": [{"e": 1, "e": 2}]}}`:   {"b.d.e"},
		`{"items": [{"url": "x", "url": "y"}], "items": []}`: {"items.url", "items"},
		`{"a": {"a": 1}, "b": {"a": 1}}`:                     nil,
		`[{"a": 1}, {"a": 2}]`:                               nil,
		`not json`:                                           nil,
	} {
		got := fields(pageshot.CheckDuplicateMembers([]byte(body)))
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

func TestPlanFullPageLimits(t *testing.T) {
	for _, c := range []struct{ server, plan, want int }{
		{0, 0, 20000},     // the default bound
		{30000, 0, 30000}, // the server's
		{30000, 8000, 8000},
		{5000, 8000, 5000}, // never past the server's
		{0, 50000, 20000},
	} {
		lim := pageshot.Plan{MaxFullPageHeight: c.plan}.FullPageLimits(pageshot.Limits{MaxFullPageHeight: c.server})
		o, err := parseJSON(t, `{"url":"https://a.b/","full_page":true}`, lim)
		if err != nil {
			t.Fatal(err)
		}
		if o.FullPageMaxHeight != min(20000, c.want) {
			t.Errorf("server %d plan %d: default full_page_max_height %d", c.server, c.plan, o.FullPageMaxHeight)
		}
		if _, err := parseJSON(t, fmt.Sprintf(`{"url":"https://a.b/","full_page":true,"full_page_max_height":%d}`, c.want), lim); err != nil {
			t.Errorf("server %d plan %d: %d refused: %v", c.server, c.plan, c.want, err)
		}
		if _, err := parseJSON(t, fmt.Sprintf(`{"url":"https://a.b/","full_page":true,"full_page_max_height":%d}`, c.want+1), lim); err == nil {
			t.Errorf("server %d plan %d: %d accepted", c.server, c.plan, c.want+1)
		}
	}
}

func TestDevicePresets(t *testing.T) {
	o, err := parseJSON(t, `{"url":"https://a.b/","device":"iphone_15"}`, pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if o.ViewportWidth != 393 || o.ViewportHeight != 852 || o.DeviceScaleFactor != 3 || !o.Mobile || !o.Touch || !strings.Contains(o.UserAgent, "iPhone") {
		t.Errorf("iphone_15: %+v", o)
	}
	o, err = parseJSON(t, `{"url":"https://a.b/","device":"desktop_hd","user_agent":"mine","viewport_height":900}`, pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if o.ViewportWidth != 1920 || o.ViewportHeight != 900 || o.DeviceScaleFactor != 1 || o.Mobile || o.Touch || o.UserAgent != "mine" {
		t.Errorf("desktop_hd with overrides: %+v", o)
	}
	seen := map[string]bool{}
	for _, d := range pageshot.Devices {
		if seen[d.Name] || d.Width < 100 || d.Height < 100 || d.ScaleFactor < 1 || d.ScaleFactor > 4 || d.Mobile != (d.UserAgent != "") {
			t.Errorf("preset %+v", d)
		}
		seen[d.Name] = true
	}
}

// TestCloneSharesNothing: every field of Options that refers to memory
// that could be changed (a slice, a map, a pointer) is copied by Clone, so
// a field added later cannot be shared by mistake.
func TestCloneSharesNothing(t *testing.T) {
	o := &pageshot.Options{}
	v := reflect.ValueOf(o).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.New(f.Type().Key()).Elem(), reflect.New(f.Type().Elem()).Elem())
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		}
	}
	c := reflect.ValueOf(o.Clone()).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		switch a, b := v.Field(i), c.Field(i); a.Kind() {
		case reflect.Slice, reflect.Map:
			if a.Pointer() == b.Pointer() || b.Len() != 1 {
				t.Errorf("%s is shared by the clone, or lost", name)
			}
		case reflect.Pointer:
			if a.Pointer() == b.Pointer() || b.IsNil() {
				t.Errorf("%s is shared by the clone, or lost", name)
			}
		case reflect.Struct:
			if mutable(a.Type()) {
				t.Errorf("%s (%s) refers to memory Clone does not copy", name, a.Type())
			}
		case reflect.Interface, reflect.Chan:
			t.Errorf("%s (%s): Clone does not know how to copy it", name, a.Type())
		}
	}
}

// mutable reports whether a value of t refers to memory that can change
// (functions and strings cannot).
func mutable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Chan:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if mutable(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
