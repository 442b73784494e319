package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pageshot/pageshot"
)

// Options are a capture's options, the same type the server's reference
// (/docs/options) is generated from, so the names cannot drift. A zero
// field leaves its option out and the server's default applies; use Bool
// for the pointer fields whose default is true.
type Options = pageshot.OptionFields

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
	dec := json.NewDecoder(bytes.NewReader(b))
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

// ParseQuery reads options written as query parameters (the form Query
// writes and GET /v1/screenshot takes) into Options. It checks only that
// each parameter is an option and of its type; the server checks the rest.
func ParseQuery(q url.Values) (*Options, error) {
	types := map[string]reflect.Type{}
	rt := reflect.TypeFor[Options]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		types[name] = rt.Field(i).Type
	}
	obj := map[string]any{}
	clip := map[string]float64{}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vs := q[name]
		bad := func(v string) { problems = append(problems, fmt.Sprintf("%s: %q is not a valid value", name, v)) }
		switch name {
		case "clip_x", "clip_y", "clip_width", "clip_height":
			f, err := strconv.ParseFloat(vs[0], 64)
			if err != nil {
				bad(vs[0])
			}
			clip[strings.TrimPrefix(name, "clip_")] = f
			continue
		case "headers":
			h := map[string]string{}
			for _, v := range vs {
				k, val, ok := strings.Cut(v, ":")
				if !ok {
					bad(v)
				}
				h[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
			obj[name] = h
			continue
		case "cookies":
			var cs []Cookie
			for _, v := range vs {
				k, val, ok := strings.Cut(v, "=")
				if !ok {
					bad(v)
				}
				cs = append(cs, Cookie{Name: k, Value: val})
			}
			obj[name] = cs
			continue
		}
		t, ok := types[name]
		if !ok {
			problems = append(problems, name+": unknown option")
			continue
		}
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Slice {
			obj[name] = vs
			continue
		}
		v := vs[len(vs)-1]
		var err error
		switch t.Kind() {
		case reflect.Bool:
			obj[name], err = strconv.ParseBool(v)
		case reflect.Int:
			obj[name], err = strconv.Atoi(v)
		case reflect.Float64:
			obj[name], err = strconv.ParseFloat(v, 64)
		default:
			obj[name] = v
		}
		if err != nil {
			bad(v)
		}
	}
	if len(clip) > 0 {
		obj["clip"] = clip
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("parse options: %s", strings.Join(problems, "; "))
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("parse options: %w", err)
	}
	var o Options
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("parse options: %w", err)
	}
	return &o, nil
}
