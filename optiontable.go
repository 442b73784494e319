package pageshot

import (
	"fmt"
	"strconv"
	"strings"
)

// OptionFields is a capture's options as a client sends them in the JSON
// body of POST /v1/screenshot (or, through its Query form, as the
// parameters of GET): one field per option, named by its JSON tag. It is the
// one definition of the options' names and JSON types, shared by the Go
// client (client.Options) and the reference page /docs/options (through
// OptionDocs, whose entries follow its fields one for one); ParseOptions
// reads the same names, which the tests check against api/openapi.yaml.
//
// A zero field leaves its option out, so the server's default applies. The
// two options whose default is true, error_on_selector_not_found and
// pdf_print_background, are pointers so that false can be sent.
type OptionFields struct {
	URL  string `json:"url,omitempty"`
	HTML string `json:"html,omitempty"`

	Format  Format `json:"format,omitempty"`
	Quality int    `json:"quality,omitempty"`

	ViewportWidth     int     `json:"viewport_width,omitempty"`
	ViewportHeight    int     `json:"viewport_height,omitempty"`
	DeviceScaleFactor float64 `json:"device_scale_factor,omitempty"`
	Device            string  `json:"device,omitempty"`

	FullPage                bool   `json:"full_page,omitempty"`
	FullPageMaxHeight       int    `json:"full_page_max_height,omitempty"`
	Selector                string `json:"selector,omitempty"`
	ErrorOnSelectorNotFound *bool  `json:"error_on_selector_not_found,omitempty"`
	Clip                    *Clip  `json:"clip,omitempty"`
	OmitBackground          bool   `json:"omit_background,omitempty"`

	WaitUntil         WaitUntil `json:"wait_until,omitempty"`
	WaitForSelector   string    `json:"wait_for_selector,omitempty"`
	Delay             int       `json:"delay,omitempty"`              // milliseconds
	Timeout           int       `json:"timeout,omitempty"`            // seconds
	NavigationTimeout int       `json:"navigation_timeout,omitempty"` // seconds

	HideSelectors []string `json:"hide_selectors,omitempty"`
	Click         string   `json:"click,omitempty"`
	Scripts       string   `json:"scripts,omitempty"`
	Styles        string   `json:"styles,omitempty"`
	DarkMode      bool     `json:"dark_mode,omitempty"`
	ReducedMotion bool     `json:"reduced_motion,omitempty"`

	DisableAnimations bool `json:"disable_animations,omitempty"`

	UserAgent string            `json:"user_agent,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Cookies   []Cookie          `json:"cookies,omitempty"`
	Timezone  string            `json:"timezone,omitempty"`
	Locale    string            `json:"locale,omitempty"`

	BlockResources        []string `json:"block_resources,omitempty"`
	BlockAds              bool     `json:"block_ads,omitempty"`
	BlockTrackers         bool     `json:"block_trackers,omitempty"`
	BlockCookieBanners    bool     `json:"block_cookie_banners,omitempty"`
	BlockChats            bool     `json:"block_chats,omitempty"`
	IgnoreHostErrors      bool     `json:"ignore_host_errors,omitempty"`
	FailIfContentContains []string `json:"fail_if_content_contains,omitempty"`

	ResponseType ResponseType `json:"response_type,omitempty"`
	Store        bool         `json:"store,omitempty"`
	Cache        bool         `json:"cache,omitempty"`
	CacheTTL     int          `json:"cache_ttl,omitempty"` // seconds
	Async        bool         `json:"async,omitempty"`
	WebhookURL   string       `json:"webhook_url,omitempty"`

	Metadata    []string `json:"metadata,omitempty"`
	ColorsCount int      `json:"colors_count,omitempty"`

	PDFPaper           string `json:"pdf_paper,omitempty"`
	PDFLandscape       bool   `json:"pdf_landscape,omitempty"`
	PDFPrintBackground *bool  `json:"pdf_print_background,omitempty"`
	PDFMargin          string `json:"pdf_margin,omitempty"` // a length such as 10mm
}

// OptionDoc documents one capture option for the reference page.
type OptionDoc struct {
	Name    string // the JSON member and query parameter
	Type    string // string, integer, number, boolean, list of strings, object, …
	Default string // "" when the option has none
	Range   string // allowed values; "" when any value of Type is
	Meaning string
	Example string // a JSON value
}

// OptionDocs returns the documentation of every option, in the order of
// OptionFields's fields.
func OptionDocs() []OptionDoc { return append([]OptionDoc(nil), optionDocs...) }

var optionDocs = []OptionDoc{
	{"url", "string", "", fmt.Sprintf("http or https, at most %d characters", MaxURLLength),
		"The page to capture. Exactly one of url and html is required. Private, loopback and metadata addresses are refused (url_blocked).", `"https://example.com/"`},
	{"html", "string", "", "at most 5 MiB (the server's --max-html-bytes)",
		"A page to render instead of a URL.", `"<h1>Hello</h1>"`},
	{"format", "string", "png", "png, jpeg, webp, pdf", "The output format.", `"webp"`},
	{"quality", "integer", strconv.Itoa(DefaultQuality) + " (jpeg, webp)", "1–100; jpeg and webp only", "Compression quality of lossy formats.", `90`},
	{"viewport_width", "integer", strconv.Itoa(DefaultViewportWidth), "100–5000 (server limits)", "Browser window width in CSS pixels.", `1024`},
	{"viewport_height", "integer", strconv.Itoa(DefaultViewportHeight), "100–5000 (server limits)", "Browser window height in CSS pixels.", `768`},
	{"device_scale_factor", "number", "1", "1–4", "Device pixels per CSS pixel; 2 gives a retina image twice the size.", `2`},
	{"device", "string", "", "a preset of GET /v1/devices", "Emulate a phone, tablet or desktop: its viewport, scale, mobile mode, touch and user agent. Options given beside it win.", `"iphone_15"`},
	{"full_page", "boolean", "false", "", "Capture the whole page, scrolled first so that lazy content loads; works past Chromium's 16,384 px texture limit.", `true`},
	{"full_page_max_height", "integer", strconv.Itoa(DefaultFullPageMax), "100 to the server's --max-full-page-height", "Where a full-page capture is cut, in CSS pixels; a cut is flagged with X-Truncated.", `5000`},
	{"selector", "string", "", "a CSS selector", "Capture one element, once the page is loaded (and after delay).", `"#pricing"`},
	{"error_on_selector_not_found", "boolean", "true", "", "With false, a selector that matches nothing captures the viewport instead of failing with selector_not_found.", `false`},
	{"clip", "object", "", "x, y ≥ 0; width, height 1–16384 (CSS pixels)", "Capture a rectangle of the page. As query parameters: clip_x, clip_y, clip_width, clip_height.", `{"x": 0, "y": 0, "width": 400, "height": 300}`},
	{"omit_background", "boolean", "false", "png and webp only", "Make the page's default white background transparent.", `true`},
	{"wait_until", "string", "load", "load, domcontentloaded, networkidle (= networkidle0), networkidle2", "The page event navigation waits for; networkidle is no request for 500 ms, networkidle2 at most 2.", `"networkidle2"`},
	{"wait_for_selector", "string", "", "a CSS selector", "Wait until an element is visible; selector_not_found if timeout ends first.", `"#chart canvas"`},
	{"delay", "integer (ms)", "0", fmt.Sprintf("0–%d", MaxDelay.Milliseconds()), "Wait this long after load before capturing.", `500`},
	{"timeout", "integer (s)", strconv.Itoa(int(DefaultTimeout.Seconds())), "1 to the plan's max_timeout (60 by default)", "The budget of the whole capture, from the moment a browser starts on it.", `20`},
	{"navigation_timeout", "integer (s)", "= timeout", "1 to timeout", "The budget of the navigation alone.", `10`},
	{"hide_selectors", "list of strings", "", "CSS selectors", "Elements removed before the capture (display: none !important, inline). As query parameters: repeated.", `[".cookie-banner", "#chat"]`},
	{"click", "string", "", "a CSS selector", "An element clicked before the capture.", `"#accept"`},
	{"scripts", "string", "", "", "JavaScript run in the page after load.", `"document.body.classList.add('print')"`},
	{"styles", "string", "", "", "CSS injected into the page after load.", `"header { display: none }"`},
	{"dark_mode", "boolean", "false", "", "Emulate prefers-color-scheme: dark.", `true`},
	{"reduced_motion", "boolean", "false", "", "Emulate prefers-reduced-motion: reduce.", `true`},
	{"disable_animations", "boolean", "false", "", "CSS animations and transitions jump to their end state; without it the capture waits (bounded) for them and for web fonts.", `true`},
	{"user_agent", "string", "", "no line breaks", "The User-Agent header and navigator.userAgent.", `"Mozilla/5.0 (compatible; pageshot)"`},
	{"headers", "object of strings", "", "header names and values", "Extra request headers for the page. As query parameters: repeated \"Name: value\".", `{"Accept-Language": "de"}`},
	{"cookies", "list of objects", "", "name, value, domain?, path?", "Cookies set before navigation. As query parameters: repeated \"name=value\".", `[{"name": "session", "value": "abc"}]`},
	{"timezone", "string", "", "an IANA time zone", "The time zone the page sees.", `"Europe/Paris"`},
	{"locale", "string", "", "a BCP 47 tag", "The language the page sees (navigator.language, Accept-Language).", `"fr-FR"`},
	{"block_resources", "list of strings", "", strings.Join(ResourceTypes, ", "), "Resource types the page may not load.", `["image", "font"]`},
	{"block_ads", "boolean", "false", "", "Block ad requests and hide ad slots (filter lists).", `true`},
	{"block_trackers", "boolean", "false", "", "Block tracking requests (filter lists).", `true`},
	{"block_cookie_banners", "boolean", "false", "", "Reject consent where a consent platform is recognised, and hide the remaining cookie notices.", `true`},
	{"block_chats", "boolean", "false", "", "Hide chat widgets and block their scripts.", `true`},
	{"ignore_host_errors", "boolean", "false", "", "Capture even when the target answers outside 200–399, instead of failing with host_returned_error.", `true`},
	{"fail_if_content_contains", "list of strings", "", "", "Fail with content_contains_specified_string when the page's text contains one of them.", `["Access denied"]`},
	{"response_type", "string", "binary", "binary, json, empty", "binary: the image; json: its format, size, bytes, target status (and url when stored or cached); empty: 204 with the headers.", `"json"`},
	{"store", "boolean", "false", "", "Keep the capture in the server's storage; the json answer's url says where.", `true`},
	{"cache", "boolean", "false", "", "Serve the same key's capture with the same options from storage when younger than cache_ttl (X-Cache: HIT).", `true`},
	{"cache_ttl", "integer (s)", strconv.Itoa(int(DefaultCacheTTL.Seconds())), fmt.Sprintf("1–%d; with cache only", int(MaxCacheTTL.Seconds())), "How old a cached capture may be.", `3600`},
	{"async", "boolean", "false", "POST only", "Answer 202 at once with a job of one item.", `true`},
	{"webhook_url", "string", "", "an absolute http(s) URL; with async only", "Where the job's end is announced (Standard Webhooks).", `"https://hooks.example.com/pageshot"`},
	{"metadata", "list of strings", "", strings.Join(MetadataFields, ", ") + "; response_type json only", "What the json answer's metadata object carries about the page.", `["title", "final_url", "colors"]`},
	{"colors_count", "integer", strconv.Itoa(DefaultColorsCount), "2–12; with metadata colors only", "How many dominant colours colors lists.", `5`},
	{"pdf_paper", "string", "a4", strings.Join(sortedKeys(PaperSizes), ", ") + "; pdf only", "The paper size of a PDF.", `"letter"`},
	{"pdf_landscape", "boolean", "false", "pdf only", "Landscape orientation.", `true`},
	{"pdf_print_background", "boolean", "true", "pdf only", "Print background colours and images.", `false`},
	{"pdf_margin", "string or number", "0", "a length in px (default unit), in, cm or mm; pdf only", "The margin on every side.", `"10mm"`},
}
