package pageshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits bound what a request may ask for. Zero fields take the defaults
// given in their comments.
type Limits struct {
	MaxHTMLBytes      int           // size of the html option; default 5 MiB
	MinViewport       int           // default 100
	MaxViewport       int           // default 5000
	MaxTimeout        time.Duration // largest timeout; default 60 s
	MaxFullPageHeight int           // largest full_page_max_height; default 20,000
}

func (l Limits) withDefaults() Limits {
	if l.MaxHTMLBytes <= 0 {
		l.MaxHTMLBytes = 5 << 20
	}
	if l.MinViewport <= 0 {
		l.MinViewport = 100
	}
	if l.MaxViewport <= 0 {
		l.MaxViewport = 5000
	}
	if l.MaxTimeout <= 0 {
		l.MaxTimeout = 60 * time.Second
	}
	if l.MaxFullPageHeight <= 0 {
		l.MaxFullPageHeight = 20000
	}
	return l
}

// Option defaults.
const (
	DefaultQuality        = 80
	DefaultViewportWidth  = 1280
	DefaultViewportHeight = 800
	DefaultTimeout        = 30 * time.Second
	DefaultFullPageMax    = 20000
	MaxURLLength          = 2048
	MaxDelay              = 10 * time.Second
	DefaultCacheTTL       = 24 * time.Hour
	MaxCacheTTL           = 30 * 24 * time.Hour
)

// ResourceTypes are the values block_resources accepts.
var ResourceTypes = []string{
	"document", "stylesheet", "image", "media", "font", "script", "texttrack",
	"xhr", "fetch", "prefetch", "eventsource", "websocket", "manifest", "ping", "other",
}

// laterOptions are options of the contract that this server does not offer
// yet. They are refused rather than ignored, so a client never gets a capture
// that silently lacks what it asked for.
var laterOptions = []string{}

// RawOptions are undecoded options: a JSON object's members, or the
// parameters of a query string.
type RawOptions struct {
	json  map[string]json.RawMessage
	query url.Values
}

// DecodeJSONOptions reads a JSON object of options from r. A body that is not
// a JSON object is an invalid_request with one problem whose field is "".
func DecodeJSONOptions(r io.Reader) (RawOptions, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return RawOptions{}, err
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		e := InvalidRequest([]FieldError{{Field: "", Message: "The body is not a JSON object: " + jsonErrorText(err)}})
		e.Err = err
		return RawOptions{}, e
	}
	if m == nil {
		return RawOptions{}, InvalidRequest([]FieldError{{Field: "", Message: "The body must be a JSON object, not null."}})
	}
	if _, err := dec.Token(); err != io.EOF {
		return RawOptions{}, InvalidRequest([]FieldError{{Field: "", Message: "The body has data after the JSON object."}})
	}
	if err := CheckDuplicateMembers(data); err != nil {
		return RawOptions{}, err
	}
	return RawOptions{json: m}, nil
}

// Object returns the members of options decoded from JSON, nil for
// options from a query.
func (r RawOptions) Object() map[string]json.RawMessage { return r.json }

// QueryOptions takes options from query parameters. Lists are repeated
// parameters; clip is given as clip_x, clip_y, clip_width and clip_height;
// headers as repeated "Name: value" and cookies as repeated "name=value".
func QueryOptions(q url.Values) RawOptions { return RawOptions{query: q} }

// Query returns options taken from a query in a canonical form (the
// parameters sorted and escaped, as url.Values.Encode), and false for
// options decoded from JSON. Equal texts parse to equal options.
func (r RawOptions) Query() (string, bool) {
	if r.json != nil || r.query == nil {
		return "", false
	}
	return r.query.Encode(), true
}

// CheckDuplicateMembers refuses a JSON text with a member given twice in
// one object, which a decoder would silently read as the last: an
// invalid_request with one problem per repeated member, named by its
// dotted path ("clip.x", "items.url"). Text that is not JSON passes; its
// decoder reports it.
func CheckDuplicateMembers(data []byte) error {
	dups := duplicateMembers(data)
	if len(dups) == 0 {
		return nil
	}
	var problems []FieldError
	for _, name := range dups {
		problems = append(problems, FieldError{Field: name, Message: "Is given more than once."})
	}
	return InvalidRequest(problems)
}

// duplicateMembers returns the members that an object of the JSON text
// data has more than once, as dotted paths ("clip.x"); a decoder would
// silently keep the last.
func duplicateMembers(data []byte) []string {
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
		path    string // of the object or array
		key     string // the member whose value is being read
	}
	var stack []*frame
	var dups []string
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return dups
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					dups = append(dups, strings.TrimPrefix(top.path+"."+key, "."))
				}
				top.keys[key], top.wantKey, top.key = true, false, key
				continue
			}
		}
		path := ""
		if top != nil {
			path = top.path
			if top.object {
				path += "." + top.key
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true, path: path})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	switch {
	case err == io.EOF:
		return "the body is empty."
	case asErr(err, &se):
		return fmt.Sprintf("%s at byte %d.", se.Error(), se.Offset)
	default:
		return err.Error() + "."
	}
}

func asErr[T error](err error, target *T) bool {
	t, ok := err.(T)
	if ok {
		*target = t
	}
	return ok
}

// ParseOptions validates raw options against lim and returns them with every
// default applied. It reports every problem at once as an invalid_request
// *Error; an html option over lim.MaxHTMLBytes is a payload_too_large.
func ParseOptions(raw RawOptions, lim Limits) (*Options, error) {
	lim = lim.withDefaults()
	d := &decoder{raw: raw, known: make(map[string]bool, len(raw.query)+len(raw.json))}
	for _, name := range sortedKeys(raw.json) {
		if bytes.Equal(bytes.TrimSpace(raw.json[name]), []byte("null")) {
			d.problem(name, "Must not be null; leave the option out instead.")
			d.know(name)
			delete(raw.json, name)
		}
	}
	o := &Options{
		Format:                  FormatPNG,
		ViewportWidth:           DefaultViewportWidth,
		ViewportHeight:          DefaultViewportHeight,
		DeviceScaleFactor:       1,
		FullPageMaxHeight:       min(DefaultFullPageMax, lim.MaxFullPageHeight),
		ErrorOnSelectorNotFound: true,
		WaitUntil:               WaitLoad,
		Timeout:                 min(DefaultTimeout, lim.MaxTimeout),
		ResponseType:            ResponseBinary,
		PDF:                     PDFOptions{Paper: "a4", PrintBackground: true},
	}

	d.str("url", &o.URL)
	d.str("html", &o.HTML)
	if len(o.HTML) > lim.MaxHTMLBytes {
		return nil, Errorf(CodePayloadTooLarge, "The html option has %d bytes; the limit is %d.", len(o.HTML), lim.MaxHTMLBytes)
	}
	switch {
	case d.has("url") && d.has("html"):
		d.problem("html", "Give either url or html, not both.")
	case !d.has("url") && !d.has("html"):
		d.problem("url", "Give url or html.")
	case d.has("url"):
		checkTargetURL(d, o.URL)
	case o.HTML == "":
		d.problem("html", "Must not be empty.")
	}

	d.enum("format", (*string)(&o.Format), "png", "jpeg", "webp", "pdf")
	lossy := o.Format == FormatJPEG || o.Format == FormatWebP
	if lossy {
		o.Quality = DefaultQuality
	}
	d.integer("quality", &o.Quality, 1, 100)
	if d.has("quality") && !lossy {
		d.problem("quality", "Applies to format jpeg or webp only.")
		o.Quality = 0
	}

	d.integer("viewport_width", &o.ViewportWidth, lim.MinViewport, lim.MaxViewport)
	d.integer("viewport_height", &o.ViewportHeight, lim.MinViewport, lim.MaxViewport)
	d.number("device_scale_factor", &o.DeviceScaleFactor, 1, 4)
	d.boolean("full_page", &o.FullPage)
	d.integer("full_page_max_height", &o.FullPageMaxHeight, lim.MinViewport, lim.MaxFullPageHeight)
	d.selector("selector", &o.Selector)
	d.boolean("error_on_selector_not_found", &o.ErrorOnSelectorNotFound)
	d.clip(&o.Clip)
	d.boolean("omit_background", &o.OmitBackground)

	d.enum("wait_until", (*string)(&o.WaitUntil), "load", "domcontentloaded", "networkidle", "networkidle0", "networkidle2")
	if o.WaitUntil == "networkidle0" {
		o.WaitUntil = WaitNetworkIdle
	}
	d.selector("wait_for_selector", &o.WaitForSelector)
	d.millis("delay", &o.Delay, 0, MaxDelay)
	d.seconds("timeout", &o.Timeout, time.Second, lim.MaxTimeout)
	o.NavigationTimeout = o.Timeout
	if d.seconds("navigation_timeout", &o.NavigationTimeout, time.Second, lim.MaxTimeout) && o.NavigationTimeout > o.Timeout {
		d.problem("navigation_timeout", "Must not be larger than timeout.")
	}
	if o.Delay >= o.Timeout {
		// The budget would always run out: a timeout that no retry cures.
		d.problem("delay", fmt.Sprintf("Must be shorter than timeout (%s).", o.Timeout))
	}

	d.strings("hide_selectors", &o.HideSelectors, true)
	d.selector("click", &o.Click)
	d.str("scripts", &o.Scripts)
	d.str("styles", &o.Styles)
	d.boolean("dark_mode", &o.DarkMode)
	d.boolean("reduced_motion", &o.ReducedMotion)

	if d.str("user_agent", &o.UserAgent) && hasControl(o.UserAgent) {
		d.problem("user_agent", "Must not contain line breaks or other control characters.")
	}
	d.headers(&o.Headers)
	d.cookies(&o.Cookies, o)
	if d.str("timezone", &o.Timezone) {
		if _, err := time.LoadLocation(o.Timezone); err != nil || o.Timezone == "" || o.Timezone == "Local" {
			d.problem("timezone", fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris.", o.Timezone))
		}
	}
	if d.str("locale", &o.Locale) && !localeRE.MatchString(o.Locale) {
		d.problem("locale", fmt.Sprintf("%q is not a BCP 47 language tag such as en-US.", o.Locale))
	}

	if d.strings("block_resources", &o.BlockResources, true) {
		for _, r := range o.BlockResources {
			if !slices.Contains(ResourceTypes, r) {
				d.problem("block_resources", fmt.Sprintf("%q is not one of %s.", r, strings.Join(ResourceTypes, ", ")))
			}
		}
	}
	d.boolean("ignore_host_errors", &o.IgnoreHostErrors)
	d.strings("fail_if_content_contains", &o.FailIfContentContains, true)
	d.enum("response_type", (*string)(&o.ResponseType), "binary", "json", "empty")
	d.boolean("store", &o.Store)
	d.boolean("cache", &o.Cache)
	o.CacheTTL = DefaultCacheTTL
	if d.seconds("cache_ttl", &o.CacheTTL, time.Second, MaxCacheTTL) && !o.Cache {
		d.problem("cache_ttl", "Applies with cache true only.")
	}
	d.boolean("async", &o.Async)
	if d.str("webhook_url", &o.WebhookURL) {
		if u, err := url.Parse(o.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(o.WebhookURL) > MaxURLLength {
			d.problem("webhook_url", "Must be an absolute http or https URL.")
		} else if !o.Async {
			d.problem("webhook_url", "Applies with async true only; jobs take webhook_url at the job level.")
		}
	}

	d.enum("pdf_paper", &o.PDF.Paper, sortedKeys(PaperSizes)...)
	d.boolean("pdf_landscape", &o.PDF.Landscape)
	d.boolean("pdf_print_background", &o.PDF.PrintBackground)
	d.margin(&o.PDF.Margin, o.PDF.Paper)

	checkCombinations(d, o)

	// Capture quality: device emulation and settling (options_quality.go).
	d.qualityOptions(o)

	for _, name := range laterOptions {
		if d.has(name) {
			d.know(name)
			d.problem(name, "This option is not available on this server yet.")
		}
	}
	for _, name := range d.names() {
		if !d.known[name] {
			d.problem(name, "Unknown option.")
		}
	}
	if len(d.problems) > 0 {
		return nil, InvalidRequest(d.problems)
	}
	return o, nil
}

// localeRE matches a well-formed BCP 47 language tag (RFC 5646 §2.1):
// language (with extended subtags), script, region, variants, extensions
// such as -u-co-phonebk, and private use.
var localeRE = regexp.MustCompile(`^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?$`)

func checkTargetURL(d *decoder, raw string) {
	switch u, err := url.Parse(raw); {
	case raw == "":
		d.problem("url", "Must not be empty.")
	case len(raw) > MaxURLLength:
		d.problem("url", fmt.Sprintf("Has %d characters; the limit is %d.", len(raw), MaxURLLength))
	case err != nil:
		d.problem("url", "Is not a valid URL.")
	case u.Scheme == "":
		d.problem("url", "Must be an absolute URL such as https://example.com/.")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "":
		d.problem("url", "Has no host.")
	case u.Port() != "" && !validPort(u.Port()):
		d.problem("url", fmt.Sprintf("The port %s is not between 1 and 65535.", u.Port()))
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// hasControl reports whether s holds a control character (tab excepted),
// which no header value may carry.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// browserHeaders are the request headers that the browser sets itself
// from the connection and the request; a capture may not set them.
var browserHeaders = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-authorization",
	"proxy-connection", "te", "trailer", "upgrade", "expect",
}

func checkCombinations(d *decoder, o *Options) {
	if o.Clip != nil && o.Selector != "" {
		d.problem("clip", "Cannot be combined with selector.")
	}
	if o.Clip != nil && o.FullPage {
		d.problem("clip", "Cannot be combined with full_page.")
	}
	if o.Selector != "" && o.FullPage {
		d.problem("selector", "Cannot be combined with full_page.")
	}
	if o.Format == FormatPDF {
		for _, name := range []string{"selector", "clip_x", "clip", "full_page", "omit_background"} {
			if d.has(name) {
				d.problem(name, "Does not apply to format pdf.")
			}
		}
	} else {
		for _, name := range []string{"pdf_paper", "pdf_landscape", "pdf_print_background", "pdf_margin"} {
			if d.has(name) {
				d.problem(name, "Applies to format pdf only.")
			}
		}
	}
	if o.OmitBackground && o.Format == FormatJPEG {
		d.problem("omit_background", "JPEG has no transparency; use png or webp.")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decoder reads typed options from RawOptions, recording every problem.
// Each method returns true when the option was present and valid.
type decoder struct {
	raw      RawOptions
	known    map[string]bool
	problems []FieldError
}

func (d *decoder) problem(field, msg string) {
	d.problems = append(d.problems, FieldError{Field: field, Message: msg})
}

// know marks the option name as one the server takes. Only names the
// request carries are kept, which is all the check for unknown ones reads:
// marking each of the sixty options cost more than the parse.
func (d *decoder) know(name string) {
	if d.has(name) {
		d.known[name] = true
	}
}

func (d *decoder) has(name string) bool {
	if d.raw.query != nil {
		_, ok := d.raw.query[name]
		return ok
	}
	_, ok := d.raw.json[name]
	return ok
}

func (d *decoder) names() []string {
	var names []string
	if d.raw.query != nil {
		names = sortedKeys(d.raw.query)
	} else {
		names = sortedKeys(d.raw.json)
	}
	return names
}

// scalar returns the option's JSON text, converting a query parameter with
// conv. ok is false when the option is absent or malformed (recorded).
func (d *decoder) scalar(name string, conv func(string) (string, bool)) (json.RawMessage, bool) {
	d.know(name)
	if d.raw.query != nil {
		vs, ok := d.raw.query[name]
		if !ok {
			return nil, false
		}
		if len(vs) != 1 {
			d.problem(name, "Given more than once.")
			return nil, false
		}
		js, ok := conv(vs[0])
		if !ok {
			return json.RawMessage(strconv.Quote(vs[0])), true
		}
		return json.RawMessage(js), true
	}
	v, ok := d.raw.json[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, false
	}
	return v, true
}

func quoteConv(s string) (string, bool) { return strconv.Quote(s), true }
func numberConv(s string) (string, bool) {
	if _, err := strconv.ParseFloat(s, 64); err != nil || strings.ContainsAny(s, "xXnN") {
		return "", false
	}
	return s, true
}
func boolConv(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "", "yes", "on":
		return "true", true
	case "false", "0", "no", "off":
		return "false", true
	}
	return "", false
}

func (d *decoder) str(name string, dst *string) bool {
	v, ok := d.scalar(name, quoteConv)
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		d.problem(name, "Must be a string.")
		return false
	}
	return true
}

func (d *decoder) selector(name string, dst *string) bool {
	if !d.str(name, dst) {
		return false
	}
	if strings.TrimSpace(*dst) == "" {
		d.problem(name, "Must not be empty.")
		return false
	}
	return true
}

func (d *decoder) enum(name string, dst *string, allowed ...string) bool {
	var s string
	if !d.str(name, &s) {
		return false
	}
	if !slices.Contains(allowed, s) {
		d.problem(name, fmt.Sprintf("Must be one of %s.", strings.Join(allowed, ", ")))
		return false
	}
	*dst = s
	return true
}

func (d *decoder) boolean(name string, dst *bool) bool {
	v, ok := d.scalar(name, boolConv)
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		d.problem(name, "Must be true or false.")
		return false
	}
	return true
}

func (d *decoder) number(name string, dst *float64, lo, hi float64) bool {
	v, ok := d.scalar(name, numberConv)
	if !ok {
		return false
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		d.problem(name, "Must be a number.")
		return false
	}
	if f < lo || f > hi || math.IsNaN(f) {
		d.problem(name, fmt.Sprintf("Must be between %g and %g.", lo, hi))
		return false
	}
	*dst = f
	return true
}

func (d *decoder) integer(name string, dst *int, lo, hi int) bool {
	v, ok := d.scalar(name, numberConv)
	if !ok {
		return false
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) {
		d.problem(name, "Must be an integer.")
		return false
	}
	if f < float64(lo) || f > float64(hi) {
		d.problem(name, fmt.Sprintf("Must be between %d and %d.", lo, hi))
		return false
	}
	*dst = int(f)
	return true
}

func (d *decoder) millis(name string, dst *time.Duration, lo, hi time.Duration) bool {
	var n int
	if !d.integer(name, &n, int(lo/time.Millisecond), int(hi/time.Millisecond)) {
		return false
	}
	*dst = time.Duration(n) * time.Millisecond
	return true
}

func (d *decoder) seconds(name string, dst *time.Duration, lo, hi time.Duration) bool {
	var n int
	if !d.integer(name, &n, int(lo/time.Second), int(hi/time.Second)) {
		return false
	}
	*dst = time.Duration(n) * time.Second
	return true
}

// strings reads a list of strings; a single string is a list of one.
func (d *decoder) strings(name string, dst *[]string, nonEmpty bool) bool {
	d.know(name)
	var list []string
	if d.raw.query != nil {
		vs, ok := d.raw.query[name]
		if !ok {
			return false
		}
		list = vs
	} else {
		v, ok := d.raw.json[name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return false
		}
		if err := json.Unmarshal(v, &list); err != nil {
			var one string
			if json.Unmarshal(v, &one) != nil {
				d.problem(name, "Must be a list of strings.")
				return false
			}
			list = []string{one}
		}
	}
	if nonEmpty {
		for _, s := range list {
			if strings.TrimSpace(s) == "" {
				d.problem(name, "Must not contain empty strings.")
				return false
			}
		}
	}
	*dst = list
	return true
}

func (d *decoder) clip(dst **Clip) {
	d.know("clip")
	var c Clip
	if d.raw.query != nil {
		names := []string{"clip_x", "clip_y", "clip_width", "clip_height"}
		fields := []*float64{&c.X, &c.Y, &c.Width, &c.Height}
		for _, n := range names {
			d.know(n)
		}
		given := false
		for _, n := range names {
			given = given || d.has(n)
		}
		if !given {
			return
		}
		valid := true
		for i, n := range names {
			if !d.has(n) {
				d.problem(n, "Give clip_x, clip_y, clip_width and clip_height together.")
				valid = false
				continue
			}
			valid = d.number(n, fields[i], 0, 1e6) && valid
		}
		if valid {
			d.checkClip(&c, dst)
		}
		return
	}
	v, ok := d.raw.json["clip"]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return
	}
	var m map[string]*float64
	if err := json.Unmarshal(v, &m); err != nil {
		d.problem("clip", "Must be an object with numbers x, y, width and height.")
		return
	}
	for k := range m {
		if k != "x" && k != "y" && k != "width" && k != "height" {
			d.problem("clip."+k, "Unknown member of clip.")
		}
	}
	for _, k := range []string{"x", "y", "width", "height"} {
		if m[k] == nil {
			d.problem("clip."+k, "Required.")
		}
	}
	if m["x"] == nil || m["y"] == nil || m["width"] == nil || m["height"] == nil {
		return
	}
	c = Clip{X: *m["x"], Y: *m["y"], Width: *m["width"], Height: *m["height"]}
	d.checkClip(&c, dst)
}

func (d *decoder) checkClip(c *Clip, dst **Clip) {
	ok := true
	if c.X < 0 || c.Y < 0 {
		d.problem("clip", "x and y must not be negative.")
		ok = false
	}
	if c.Width < 1 || c.Height < 1 || c.Width > 16384 || c.Height > 16384 {
		d.problem("clip", "width and height must be between 1 and 16384.")
		ok = false
	}
	if ok {
		*dst = c
	}
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

func (d *decoder) headers(dst *map[string]string) {
	d.know("headers")
	h := map[string]string{}
	if d.raw.query != nil {
		for _, line := range d.raw.query["headers"] {
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				d.problem("headers", fmt.Sprintf("%q is not of the form \"Name: value\".", line))
				continue
			}
			h[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	} else if v, ok := d.raw.json["headers"]; ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		if err := json.Unmarshal(v, &h); err != nil {
			d.problem("headers", "Must be an object of header names to string values.")
			return
		}
	}
	for name, value := range h {
		if !headerNameRE.MatchString(name) {
			d.problem("headers", fmt.Sprintf("%q is not a valid header name.", name))
		}
		if hasControl(value) {
			d.problem("headers", fmt.Sprintf("The value of %q must not contain line breaks or other control characters.", name))
		}
		if slices.Contains(browserHeaders, strings.ToLower(name)) {
			d.problem("headers", fmt.Sprintf("%q is set by the browser itself and cannot be given.", name))
		}
	}
	if len(h) > 0 {
		*dst = h
	}
}

func (d *decoder) cookies(dst *[]Cookie, o *Options) {
	d.know("cookies")
	var list []Cookie
	if d.raw.query != nil {
		for _, s := range d.raw.query["cookies"] {
			name, value, ok := strings.Cut(s, "=")
			if !ok {
				d.problem("cookies", fmt.Sprintf("%q is not of the form name=value.", s))
				continue
			}
			list = append(list, Cookie{Name: name, Value: value})
		}
	} else if v, ok := d.raw.json["cookies"]; ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			d.problem("cookies", "Must be a list of {name, value, domain?, path?} objects.")
			return
		}
	}
	for i, c := range list {
		field := fmt.Sprintf("cookies[%d]", i)
		if c.Name == "" || strings.ContainsAny(c.Name, "=;, \t\r\n") {
			d.problem(field, "name must be a non-empty cookie name.")
		}
		if strings.ContainsAny(c.Value, ";\r\n") {
			d.problem(field, "value must not contain ';' or line breaks.")
		}
		if c.Domain == "" && o.URL == "" {
			d.problem(field, "domain is required when html is given instead of url.")
		}
	}
	if len(list) > 0 {
		*dst = list
	}
}

var marginRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*(px|in|cm|mm)?\s*$`)

func (d *decoder) margin(dst *float64, paper string) {
	v, ok := d.scalar("pdf_margin", quoteConv)
	if !ok {
		return
	}
	var s string
	var f float64
	if json.Unmarshal(v, &f) == nil {
		s = strconv.FormatFloat(f, 'f', -1, 64)
	} else if json.Unmarshal(v, &s) != nil {
		d.problem("pdf_margin", "Must be a length such as 10mm, 1cm, 0.5in or 20px.")
		return
	}
	m := marginRE.FindStringSubmatch(s)
	if m == nil {
		d.problem("pdf_margin", "Must be a length such as 10mm, 1cm, 0.5in or 20px.")
		return
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	inches := map[string]float64{"": 1.0 / 96, "px": 1.0 / 96, "in": 1, "cm": 1 / 2.54, "mm": 1 / 25.4}[m[2]] * n
	size := PaperSizes[paper]
	if inches*2 >= min(size[0], size[1]) {
		d.problem("pdf_margin", "Leaves no room on the page.")
		return
	}
	*dst = inches
}

// CacheKey identifies the captures that o and the key keyID would make
// alike: a hash of the options that shape the image, with those that only
// shape the answer (response_type, store, cache, async, webhook_url) left
// out, and of the key, so that keys never share captures.
func CacheKey(keyID string, o *Options) string {
	n := *o
	n.ResponseType, n.Store, n.Cache, n.CacheTTL, n.Async, n.WebhookURL = "", false, false, 0, false, ""
	b, _ := json.Marshal(n) // maps marshal in key order, so equal options give equal bytes
	h := sha256.New()
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
