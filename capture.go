package pageshot

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Format is the output format of a capture.
type Format string

// Output formats.
const (
	FormatPNG  Format = "png"
	FormatJPEG Format = "jpeg"
	FormatWebP Format = "webp"
	FormatPDF  Format = "pdf"
)

// ContentType returns the media type of f.
func (f Format) ContentType() string {
	switch f {
	case FormatJPEG:
		return "image/jpeg"
	case FormatWebP:
		return "image/webp"
	case FormatPDF:
		return "application/pdf"
	default:
		return "image/png"
	}
}

// Extension returns the file name extension of f, without the dot.
func (f Format) Extension() string {
	if f == FormatJPEG {
		return "jpg"
	}
	return string(f)
}

// WaitUntil names the page event a capture waits for after navigation.
type WaitUntil string

// Wait events.
const (
	WaitLoad             WaitUntil = "load"
	WaitDOMContentLoaded WaitUntil = "domcontentloaded"
	WaitNetworkIdle      WaitUntil = "networkidle"  // no request for 500 ms (networkidle0 is read as this)
	WaitNetworkIdle2     WaitUntil = "networkidle2" // at most 2 requests for 500 ms
)

// ResponseType is the shape of a successful answer of the HTTP API.
type ResponseType string

// Response types.
const (
	ResponseBinary ResponseType = "binary"
	ResponseJSON   ResponseType = "json"
	ResponseEmpty  ResponseType = "empty"
)

// Clip is a rectangle of the page in CSS pixels.
type Clip struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Cookie is set in the browser before navigation. Domain and Path default to
// the target URL's host and "/".
type Cookie struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Domain string `json:"domain,omitempty"`
	Path   string `json:"path,omitempty"`
}

// PDFOptions apply to format pdf only.
type PDFOptions struct {
	Paper           string // a key of PaperSizes
	Landscape       bool
	PrintBackground bool
	Margin          float64 // inches, on every side
}

// PaperSizes are the pdf_paper values, width × height in inches (portrait).
var PaperSizes = map[string][2]float64{
	"a3":      {11.69, 16.54},
	"a4":      {8.27, 11.69},
	"a5":      {5.83, 8.27},
	"letter":  {8.5, 11},
	"legal":   {8.5, 14},
	"tabloid": {11, 17},
}

// Options are the options of one capture, validated and with every default
// applied. Build them with ParseOptions; the zero value is not valid.
type Options struct {
	URL  string
	HTML string

	Format  Format
	Quality int // jpeg and webp only, 1–100

	ViewportWidth     int
	ViewportHeight    int
	DeviceScaleFactor float64

	FullPage                bool
	FullPageMaxHeight       int // CSS pixels
	Selector                string
	ErrorOnSelectorNotFound bool
	Clip                    *Clip
	OmitBackground          bool

	WaitUntil         WaitUntil
	WaitForSelector   string
	Delay             time.Duration
	Timeout           time.Duration // the whole budget, from the moment a browser starts on the capture
	NavigationTimeout time.Duration // at most Timeout

	HideSelectors []string
	Click         string
	Scripts       string
	Styles        string
	DarkMode      bool
	ReducedMotion bool

	UserAgent string
	Headers   map[string]string
	Cookies   []Cookie
	Timezone  string
	Locale    string

	BlockResources        []string // resource types, see ResourceTypes
	IgnoreHostErrors      bool
	FailIfContentContains []string

	ResponseType ResponseType
	// Store keeps the capture in blob storage; the json answer carries its
	// URL.
	Store bool
	// Cache serves an identical capture of the same key younger than
	// CacheTTL from blob storage, and keeps a new one there.
	Cache    bool
	CacheTTL time.Duration
	// Async answers at once with a job of one item; WebhookURL, if set,
	// receives the result.
	Async      bool
	WebhookURL string

	// CollectLinks fills Capture.Links; set by crawl jobs, never parsed
	// from a request.
	CollectLinks bool `json:"-"`
	// URLCheck, when set, is asked about every URL the main frame
	// navigates to (the target and each redirect) before the request
	// leaves; an error ends the capture with it. Set from the key's URL
	// lists, never parsed from a request.
	URLCheck func(url string) error `json:"-"`

	PDF PDFOptions

	// Emulation and settling, read by options_quality.go.

	// Device is the preset asked for, "" for none. Its viewport, scale and
	// user agent are already in the fields above, except where the request
	// set them itself.
	Device string
	// Mobile emulates a mobile browser: the meta viewport, overlay
	// scrollbars, text autosizing and mobile client hints.
	Mobile bool
	// Touch emulates a touch screen: touch events and pointer: coarse.
	Touch bool
	// DisableAnimations makes CSS animations and transitions jump to their
	// end state; without it a capture waits, bounded, for running ones.
	DisableAnimations bool
	// BlockCookieBanners rejects consent where a consent platform is
	// recognised and hides the cookie banners that are known by their look.
	BlockCookieBanners bool
	// BlockAds and BlockTrackers block the requests, and hide the
	// elements, that the ad and tracker filter lists name.
	BlockAds, BlockTrackers bool
	// BlockChats blocks the loaders, and hides the launchers, of chat and
	// support widgets.
	BlockChats bool

	// Metadata names the MetadataFields the json answer carries; ColorsCount
	// is the size of the colors palette, 2–12.
	Metadata    []string
	ColorsCount int
}

// Clone returns a copy of o that shares nothing with it.
func (o *Options) Clone() *Options {
	n := *o
	if o.Clip != nil {
		c := *o.Clip
		n.Clip = &c
	}
	n.HideSelectors = slices.Clone(o.HideSelectors)
	n.Headers = maps.Clone(o.Headers)
	n.Cookies = slices.Clone(o.Cookies)
	n.BlockResources = slices.Clone(o.BlockResources)
	n.FailIfContentContains = slices.Clone(o.FailIfContentContains)
	n.Metadata = slices.Clone(o.Metadata)
	return &n
}

// Capture is the result of a successful render.
type Capture struct {
	Data   []byte
	Format Format
	// Width and Height are the image's size in pixels; for PDF, the page
	// size in CSS pixels.
	Width, Height int
	// ReturnedStatusCode is the HTTP status of the target's main document
	// (200 for html input, which is served from memory).
	ReturnedStatusCode int
	FinalURL           string
	// Truncated tells that a full-page capture was cut: at
	// full_page_max_height, or where the pixel limit allowed.
	Truncated bool
	// Metadata is filled when Options.Metadata asks for fields.
	Metadata *Metadata
	// Links are the page's http(s) links, absolute, when Options.CollectLinks.
	Links  []string
	Timing Timing
}

// Timing breaks a capture's duration down for the Server-Timing header.
type Timing struct {
	Queue      time.Duration // waiting for a browser slot
	Navigation time.Duration // navigation until the wait_until event
	Render     time.Duration // waits, scripts, styles, clicks
	Encode     time.Duration // screenshot or PDF encoding
}

// Renderer turns options into a capture.
type Renderer interface {
	// Render captures the page described by opts. It returns an *Error
	// whose code tells what went wrong (timeout, selector_not_found,
	// host_returned_error, service_unavailable, …). ctx bounds the wait for
	// a browser; opts.Timeout bounds the capture itself.
	Render(ctx context.Context, opts *Options) (*Capture, error)
}

// CaptureRequest is a capture asked for by a caller.
type CaptureRequest struct {
	// Caller is who asks; nil captures without a key, quota or concurrency
	// limit (the CLI).
	Caller *Caller
	// Raw are the options as sent; Options, when set, are already parsed
	// (and Raw is ignored).
	Raw     RawOptions
	Options *Options
	// Wait makes the capture wait for a free concurrency slot of the key
	// instead of failing with concurrency_limited (job items).
	Wait bool
	// Prepaid tells that the caller holds the capture's quota unit and
	// settles it itself (a job item's is reserved with its job).
	Prepaid bool
	// ArtifactKey stores the capture under this blob key (job items).
	ArtifactKey string
	// CollectLinks fills Capture.Links (crawl jobs).
	CollectLinks bool
}

// CaptureResult is what a capture request produced. Capture returns it
// also with an error, for what it holds then (Options once parsed, Quota).
type CaptureResult struct {
	Options *Options
	// Capture is nil for an async request, which becomes a job.
	Capture *Capture
	// Made tells that a browser made the capture; Cached that it came from
	// the cache.
	Made, Cached bool
	// BlobKey is where the capture is kept (stored, cached, or the job's
	// artifact), URLTTL how long a link to it should work, ExpiresAt when
	// a cached entry expires.
	BlobKey   string
	URLTTL    time.Duration
	ExpiresAt time.Time
	// Quota is the caller's quota after the request was settled.
	Quota Quota
}

// Quota is a key's quota in the current period.
type Quota struct {
	Limit int64 // 0: unlimited
	Used  int64 // committed plus in flight
	Reset time.Time
}

// Remaining returns what is left of q, at least 0.
func (q Quota) Remaining() int64 { return max(0, q.Limit-q.Used) }

// Capturer is the capture use case: admission, plan limits, the key's URL
// lists, the cache, the render, storage and the charge. The HTTP API, job
// items and the CLI all capture through it.
type Capturer interface {
	// Capture captures for r.Caller. A capture is charged only when it
	// succeeds (and, for a cache hit, only when the server charges hits).
	// Errors are *Error: concurrency_limited (with RetryAfter),
	// quota_exceeded, invalid_request, url_blocked, what the renderer and
	// storage return, or timeout when a waiting capture's ctx ended
	// before a slot freed up.
	Capture(ctx context.Context, r *CaptureRequest) (*CaptureResult, error)
}
