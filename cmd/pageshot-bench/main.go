// Command pageshot-bench compares, in one run and on the same local page, the
// screenshot latency and throughput of two ways of taking screenshots:
//
//   - baseline: a minimal chromedp program — one warm Chromium, and for each
//     capture a new incognito browser context, a 1280×800 viewport, a
//     navigation that waits for the load event, a plain PNG
//     Page.captureScreenshot, and the context closed again;
//   - pageshot: the real pageshot binary, started as a subprocess, driven
//     through POST /v1/screenshot.
//
// The tool serves its own article page (about 100 KB of HTML, a stylesheet,
// PNG images and inline SVG) on 127.0.0.1, warms both up, runs the
// concurrency levels alternately on the two, and prints a Markdown report
// meant for BENCHMARKS.md.
//
// Usage:
//
//	go build -o bin/pageshot ./cmd/pageshot
//	go run ./cmd/pageshot-bench [-bin ./bin/pageshot] [-n 30] [-nc 40] [-o report.md]
//	go run ./cmd/pageshot-bench -only baseline -n 10
//	go run ./cmd/pageshot-bench load [-clients 32] [-duration 10s] [-runs 3] [-o report.md]
//
// The load command measures the requests that never reach the browser
// (a cache hit, an invalid option, an invalid key) against a bare Go
// handler in the same run, then captures of the page; see http.go.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what the flags and the environment ask for.
type config struct {
	// bin is the pageshot binary. Defaults to ./bin/pageshot.
	bin string
	// chrome is the Chromium executable, as given; empty means
	// PAGESHOT_CHROME_PATH, then chromium, chromium-browser or google-chrome
	// on PATH.
	chrome string
	// pageshotChrome is the browser the pageshot server runs; empty lets
	// the server choose, as it does for users.
	pageshotChrome string
	// serveArgs are added to the pageshot serve command line.
	serveArgs []string
	// only restricts the run to "baseline" or "pageshot"; empty runs both.
	only string
	// out is a file that also receives the report; empty means stdout only.
	out string
	// key is sent as "Authorization: Bearer KEY" to pageshot when not empty.
	// Without it the tool tries to create a key of its own (see provisionKey).
	key string
	// levels are the concurrency levels, in the order they run.
	levels []int
	// seqN is the number of captures at concurrency 1. Defaults to 30.
	seqN int
	// concN is the number of captures at every other level. Defaults to 40.
	concN int
	// warmup is the number of sequential captures run on each engine
	// before any measurement. Defaults to 3.
	warmup int
	// timeout bounds one capture. Defaults to 60 s.
	timeout time.Duration
	// verbose copies the output of the pageshot server to stderr.
	verbose bool
	// cache adds the cache engine: pageshot asked for cache: true, whose
	// captures after the first are hits served from storage.
	cache bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "load":
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err := runHTTPLoad(ctx, os.Args[2:])
			stop()
			exit(err)
		case "bare":
			if len(os.Args) != 3 {
				exit(errors.New("usage: pageshot-bench bare FILE"))
			}
			exit(serveBare(os.Args[2]))
		}
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pageshot-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pageshot-bench:", err)
		os.Exit(1)
	}
}

// exit ends the process: 0 without err (or after -h), else 1.
func exit(err error) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "pageshot-bench:", err)
	os.Exit(1)
}

// parseFlags turns the command line and the environment into a config.
func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("pageshot-bench", flag.ContinueOnError)
	fs.StringVar(&cfg.bin, "bin", "./bin/pageshot", "path to the pageshot binary")
	fs.Func("serve-arg", "add an argument to pageshot serve (repeatable), e.g. -serve-arg=--direct-egress", func(v string) error {
		cfg.serveArgs = append(cfg.serveArgs, v)
		return nil
	})
	fs.StringVar(&cfg.pageshotChrome, "pageshot-chrome", "", "browser for the pageshot server (default: the server's own choice)")
	fs.StringVar(&cfg.chrome, "chrome", "", "Chromium executable (default: PAGESHOT_CHROME_PATH or chromium on PATH)")
	fs.StringVar(&cfg.only, "only", "", "run only one `ENGINE`: baseline or pageshot")
	fs.StringVar(&cfg.out, "o", "", "also write the Markdown report to `FILE`")
	fs.StringVar(&cfg.key, "key", "", "pageshot API key (default: env PAGESHOT_BENCH_KEY, else a key the tool creates)")
	levels := fs.String("levels", "1,2,4", "concurrency levels, comma-separated")
	fs.IntVar(&cfg.seqN, "n", 30, "captures at concurrency 1")
	fs.IntVar(&cfg.concN, "nc", 40, "captures at each concurrency level above 1")
	fs.IntVar(&cfg.warmup, "warmup", 3, "warm-up captures per engine")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "time limit of one capture")
	fs.BoolVar(&cfg.verbose, "v", false, "copy the pageshot server's output to stderr")
	fs.BoolVar(&cfg.cache, "cache", true, "also measure cache hits (pageshot with cache: true)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Read here rather than as the flag's default, so that -h does not print it.
	cfg.key = cmp.Or(cfg.key, os.Getenv("PAGESHOT_BENCH_KEY"))
	var err error
	if cfg.levels, err = parseLevels(*levels); err != nil {
		return cfg, fmt.Errorf("-levels: %w", err)
	}
	return cfg, cfg.validate()
}

// validate reports the first setting that cannot work.
func (c config) validate() error {
	switch {
	case c.only != "" && c.only != "baseline" && c.only != "pageshot":
		return fmt.Errorf("-only must be baseline or pageshot, not %q", c.only)
	case c.seqN < 1 || c.concN < 1:
		return fmt.Errorf("-n and -nc must be at least 1")
	case c.warmup < 0:
		return fmt.Errorf("-warmup must not be negative")
	case c.timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	}
	return nil
}

// runs reports whether the engine named name takes part in this run.
func (c config) runs(name string) bool { return c.only == "" || c.only == name }

// captures returns how many captures to measure at a concurrency level.
func (c config) captures(level int) int {
	if level == 1 {
		return c.seqN
	}
	return c.concN
}

// parseLevels parses "1,2,4" into concurrency levels, each at least 1.
func parseLevels(s string) ([]int, error) {
	var levels []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad concurrency level %q", f)
		}
		levels = append(levels, n)
	}
	return levels, nil
}
