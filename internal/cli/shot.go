package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/browser"
)

// shotOptions are the capture options shot takes as flags: the option name
// with dashes. Each flag's value goes to pageshot.ParseOptions as the
// query parameter of the same name, so the CLI and the API validate alike.
var shotOptions = []struct {
	name, usage string
	bool, list  bool
}{
	{name: "format", usage: "png, jpeg, webp or pdf"},
	{name: "quality", usage: "1-100, jpeg and webp only"},
	{name: "viewport-width", usage: "viewport width in CSS pixels (default 1280)"},
	{name: "viewport-height", usage: "viewport height in CSS pixels (default 800)"},
	{name: "device-scale-factor", usage: "1-4"},
	{name: "full-page", usage: "capture the whole page", bool: true},
	{name: "full-page-max-height", usage: "cut full-page captures at this height"},
	{name: "selector", usage: "capture one element"},
	{name: "error-on-selector-not-found", usage: "fail when selector matches nothing (default true)", bool: true},
	{name: "clip-x", usage: "clip rectangle, with clip-y, clip-width, clip-height"},
	{name: "clip-y", usage: "clip rectangle"},
	{name: "clip-width", usage: "clip rectangle"},
	{name: "clip-height", usage: "clip rectangle"},
	{name: "omit-background", usage: "transparent background (png, webp)", bool: true},
	{name: "wait-until", usage: "load, domcontentloaded, networkidle or networkidle2"},
	{name: "wait-for-selector", usage: "wait until an element is visible"},
	{name: "delay", usage: "milliseconds to wait after load"},
	{name: "timeout", usage: "seconds for the whole capture (default 30)"},
	{name: "navigation-timeout", usage: "seconds for the navigation"},
	{name: "hide-selectors", usage: "elements to hide (repeatable)", list: true},
	{name: "click", usage: "element to click before the capture"},
	{name: "scripts", usage: "JavaScript to run after load"},
	{name: "styles", usage: "CSS to inject after load"},
	{name: "dark-mode", usage: "emulate prefers-color-scheme: dark", bool: true},
	{name: "reduced-motion", usage: "emulate prefers-reduced-motion", bool: true},
	{name: "user-agent", usage: "User-Agent header"},
	{name: "headers", usage: `extra request header "Name: value" (repeatable)`, list: true},
	{name: "cookies", usage: "cookie name=value (repeatable)", list: true},
	{name: "timezone", usage: "IANA time zone"},
	{name: "locale", usage: "BCP 47 language tag"},
	{name: "block-resources", usage: "resource types to block (repeatable)", list: true},
	{name: "ignore-host-errors", usage: "capture even when the target answers 4xx/5xx", bool: true},
	{name: "fail-if-content-contains", usage: "fail when the page contains this string (repeatable)", list: true},
	{name: "pdf-paper", usage: "a3, a4, a5, letter, legal or tabloid"},
	{name: "pdf-landscape", usage: "landscape PDF", bool: true},
	{name: "pdf-print-background", usage: "print backgrounds (default true)", bool: true},
	{name: "pdf-margin", usage: "PDF margin such as 10mm"},
	{name: "device", usage: "device preset such as iphone_15 (GET /v1/devices lists them)"},
	{name: "disable-animations", usage: "CSS animations and transitions jump to their end", bool: true},
	{name: "block-ads", usage: "block ads (filter lists)", bool: true},
	{name: "block-trackers", usage: "block trackers (filter lists)", bool: true},
	{name: "block-chats", usage: "block chat widgets (filter lists)", bool: true},
	{name: "block-cookie-banners", usage: "reject consent and hide cookie banners", bool: true},
}

// aliases are short flags the SPEC names for common options.
var aliases = map[string]string{"width": "viewport-width", "height": "viewport-height"}

// optionFlags are the capture options as flags, shared by shot and batch.
type optionFlags struct {
	values map[string]any
}

func (o *optionFlags) register(fs *pflag.FlagSet) {
	o.values = map[string]any{}
	for _, opt := range shotOptions {
		switch {
		case opt.bool:
			o.values[opt.name] = fs.Bool(opt.name, false, opt.usage)
		case opt.list:
			o.values[opt.name] = fs.StringArray(opt.name, nil, opt.usage)
		default:
			o.values[opt.name] = fs.String(opt.name, "", opt.usage)
		}
	}
	for alias, name := range aliases {
		fs.Var(fs.Lookup(name).Value, alias, "same as --"+name)
	}
}

// query returns the options given on the command line as query
// parameters, the form pageshot.QueryOptions and GET /v1/screenshot take.
func (o *optionFlags) query(fs *pflag.FlagSet) url.Values {
	q := url.Values{}
	fs.Visit(func(f *pflag.Flag) {
		name := f.Name
		if a, ok := aliases[name]; ok {
			name = a
		}
		if _, ok := o.values[name]; !ok {
			return
		}
		key := strings.ReplaceAll(name, "-", "_")
		switch v := o.values[name].(type) {
		case *[]string:
			q[key] = append(q[key], *v...)
		case *bool:
			q.Set(key, fmt.Sprint(*v))
		case *string:
			q.Set(key, *v)
		}
	})
	return q
}

func newShot(stderr io.Writer) *cobra.Command {
	var (
		eng      engineFlags
		opt      optionFlags
		out      string
		htmlFile string
	)
	cmd := &cobra.Command{
		Use:   "shot [URL]",
		Short: "Take one screenshot without a server",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg app.Config
			if err := eng.apply(cmd, &cfg, stderr); err != nil {
				return err
			}
			q := opt.query(cmd.Flags())
			if len(args) == 1 {
				q.Set("url", args[0])
			}
			if htmlFile != "" {
				b, err := os.ReadFile(htmlFile)
				if err != nil {
					return fmt.Errorf("read --html: %w", err)
				}
				q.Set("html", string(b))
			}
			opts, err := pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
			if err != nil {
				return err
			}
			if out == "" {
				out = defaultOutput(opts, htmlFile)
			}
			return shoot(cmd.Context(), cfg, opts, out, stderr)
		},
	}
	fs := cmd.Flags()
	eng.register(fs)
	fs.StringVarP(&out, "output", "o", "", "output file (default: derived from the URL)")
	fs.StringVar(&htmlFile, "html", "", "render this HTML file instead of a URL")
	opt.register(fs)
	return cmd
}

func shoot(ctx context.Context, cfg app.Config, opts *pageshot.Options, out string, stderr io.Writer) error {
	cfg.Concurrency = 1
	cfg.QueueTimeout = opts.Timeout + 30*time.Second
	pool, err := app.NewEngine(cfg)
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	defer pool.Stop(context.Background())
	res, err := pool.Capturer(cfg.Limits).Capture(ctx, &pageshot.CaptureRequest{Options: opts})
	if err != nil {
		return err
	}
	c := res.Capture
	if err := os.WriteFile(out, c.Data, 0o644); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s (%s, %dx%d, %d bytes)\n", out, c.Format, c.Width, c.Height, len(c.Data))
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// defaultOutput names the output file after the target: example.com-docs.png.
func defaultOutput(o *pageshot.Options, htmlFile string) string {
	base := "screenshot"
	if htmlFile != "" {
		base = strings.TrimSuffix(filepath.Base(htmlFile), filepath.Ext(htmlFile))
	} else if u, err := url.Parse(o.URL); err == nil {
		base = strings.Trim(unsafeName.ReplaceAllString(u.Host+u.Path, "-"), "-.")
	}
	if base == "" {
		base = "screenshot"
	}
	return base + "." + o.Format.Extension()
}

func newVersion(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit, Go and Chromium versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chrome := "not found"
			if p, err := browser.FindChrome(); err == nil {
				if v, err := browser.ChromeVersion(cmd.Context(), p); err == nil {
					chrome = v + " (" + p + ")"
				}
			}
			fmt.Fprintf(stdout, "pageshot %s\ncommit %s\n%s %s/%s\n%s\n", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, chrome)
			return nil
		},
	}
}
