package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// report is everything the Markdown report shows.
type report struct {
	date            time.Time
	chrome          chromium
	cpus            int
	pageshotVersion string // `pageshot version`, its lines joined, or empty
	keyNote         string // where pageshot's API key came from
	page            *pageServer
	cfg             config
	rows            []levelRow
	warnings        []string // problems met while stopping the engines
	loadStart       string   // 1-minute load average when the run started
	loadEnd         string   // and when it ended
}

// levelRow holds the results of one concurrency level, by engine name.
type levelRow struct {
	concurrency int
	captures    int
	results     map[string]*result
}

// markdown renders the report: a header line, the table, failures, and a
// note on the method, ready to paste into BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### pageshot vs a minimal chromedp program\n\n")
	fmt.Fprintf(&b, "%s · %s · %d CPUs · %s %s/%s\n\n",
		r.date.Format("2006-01-02 15:04 UTC"), r.chrome.version, r.cpus, runtime.Version(), runtime.GOOS, runtime.GOARCH)

	b.WriteString("| concurrency | captures | baseline p50 | baseline p90 | baseline captures/s | pageshot p50 | pageshot p90 | pageshot captures/s | p50 pageshot/baseline (lower is better) | throughput pageshot/baseline (higher is better) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.rows {
		base, ps := row.results["baseline"], row.results["pageshot"]
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			row.concurrency, row.captures,
			cell(base, p50), cell(base, p90), cell(base, perSecond),
			cell(ps, p50), cell(ps, p90), cell(ps, perSecond),
			ratio(base, ps, func(x *result) float64 { return x.percentile(50).Seconds() }),
			ratio(base, ps, (*result).throughput))
	}

	if r.hasCache() {
		b.WriteString("\nCache hits (`cache: true`; the warm-up made the one capture, every measured answer is served from storage):\n\n")
		b.WriteString("| concurrency | captures | cache hit p50 | cache hit p90 | hits/s | p50 hit/baseline (lower is better) | throughput hit/baseline (higher is better) |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range r.rows {
			base, hit := row.results["baseline"], row.results["cache"]
			fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s |\n", row.concurrency, row.captures,
				cell(hit, p50), cell(hit, p90), cell(hit, perSecond),
				ratio(base, hit, func(x *result) float64 { return x.percentile(50).Seconds() }),
				ratio(base, hit, (*result).throughput))
		}
	}

	b.WriteString("\nFailed captures: ")
	var parts []string
	for _, row := range r.rows {
		parts = append(parts, fmt.Sprintf("concurrency %d: baseline %s, pageshot %s",
			row.concurrency, failures(row.results["baseline"]), failures(row.results["pageshot"])))
	}
	b.WriteString(strings.Join(parts, "; ") + ".\n")
	for _, row := range r.rows {
		for _, name := range []string{"baseline", "pageshot", "cache"} {
			if res := row.results[name]; res != nil {
				for _, f := range countFailures(res.failures) {
					fmt.Fprintf(&b, "- %s, concurrency %d, %d×: `%s`\n", name, row.concurrency, f.n, strings.ReplaceAll(f.msg, "`", "'"))
				}
			}
		}
	}
	r.writeMethod(&b)
	return b.String()
}

func (r *report) hasCache() bool {
	for _, row := range r.rows {
		if row.results["cache"] != nil {
			return true
		}
	}
	return false
}

// writeMethod writes what was measured and how, so that the numbers can be
// read and reproduced.
func (r *report) writeMethod(b *strings.Builder) {
	p := r.page
	fmt.Fprintf(b, "\nSetup:\n\n")
	fmt.Fprintf(b, "- Page: an article served by the tool on 127.0.0.1 — %d KB of HTML, a %d KB stylesheet, %d PNG images (%d KB), %d inline SVGs, a table; not cacheable. Every capture: viewport %d×%d, PNG.\n",
		p.HTMLBytes/1024, p.CSSBytes/1024, p.PNGCount, p.PNGBytes/1024, p.SVGCount, viewportWidth, viewportHeight)
	chromePath := "`" + r.chrome.path + "`"
	if r.chrome.launcher != "" {
		chromePath += " (behind the launcher script `" + r.chrome.launcher + "`, which adds flags of its own and is therefore bypassed)"
	}
	fmt.Fprintf(b, "- Chromium of the baseline: %s, %s.\n", r.chrome.version, chromePath)
	fmt.Fprintf(b, "- baseline: chromedp %s, one warm Chromium with `--%s` and a fresh `--user-data-dir` (chromedp adds only `--remote-debugging-pipe` and `about:blank`); per capture: a new incognito browser context, `Emulation.setDeviceMetricsOverride`, navigate and wait for `load`, `Page.captureScreenshot` (PNG), close the context.\n",
		moduleVersion("github.com/chromedp/chromedp"), strings.Join(baselineFlags, " --"))
	if r.cfg.runs("pageshot") {
		version := r.pageshotVersion
		if version == "" {
			version = "version unknown"
		}
		fmt.Fprintf(b, "- pageshot: `%s` (%s): `serve --addr 127.0.0.1:0 --data-dir TMPDIR --egress-allow 127.0.0.1/32%s` with the browser %s; `POST /v1/screenshot` `{\"url\", \"format\": \"png\", \"viewport_width\": 1280, \"viewport_height\": 800}`; API key: %s.\n",
			r.cfg.bin, version, extraArgs(r.cfg.serveArgs), browserNote(r.cfg.pageshotChrome), r.keyNote)
	}
	fmt.Fprintf(b, "- Method: %d warm-up captures per engine; then per concurrency level the engines run one after the other, the first alternating from level to level. Latency: client side, from the start of a capture to the whole PNG in hand (the baseline closes its context after that: the close counts in throughput, not in latency). Throughput: successful captures per wall-clock second of the level. Each image is checked to be a %d×%d PNG.\n",
		r.cfg.warmup, viewportWidth, viewportHeight)
	if r.loadStart != "" {
		fmt.Fprintf(b, "- Load average (1 min) of the machine at the start and at the end: %s, %s (other work on the machine shows up here).\n", r.loadStart, r.loadEnd)
	}
	var sizes []string
	for _, name := range []string{"baseline", "pageshot"} {
		var all result
		for _, row := range r.rows {
			if res := row.results[name]; res != nil {
				all.sizes = append(all.sizes, res.sizes...)
			}
		}
		if s := all.medianSize(); s > 0 {
			sizes = append(sizes, fmt.Sprintf("%s %d KB", name, s/1024))
		}
	}
	if len(sizes) > 0 {
		fmt.Fprintf(b, "- Median PNG size: %s.\n", strings.Join(sizes, ", "))
	}
	for _, w := range r.warnings {
		fmt.Fprintf(b, "- Warning: %s\n", w)
	}
}

// The statistics of a table cell.
const (
	p50 = iota
	p90
	perSecond
)

// cell formats one statistic of res, or "—" when the engine did not run or
// had no successful capture.
func cell(res *result, stat int) string {
	if res == nil || len(res.latencies) == 0 {
		return "—"
	}
	switch stat {
	case p50:
		return fmtMillis(res.percentile(50))
	case p90:
		return fmtMillis(res.percentile(90))
	default:
		return fmt.Sprintf("%.2f", res.throughput())
	}
}

// ratio formats f(ps)/f(base), or "—".
func ratio(base, ps *result, f func(*result) float64) string {
	if base == nil || ps == nil || len(base.latencies) == 0 || len(ps.latencies) == 0 || f(base) == 0 {
		return "—"
	}
	r := f(ps) / f(base)
	if r < 0.01 {
		return fmt.Sprintf("%.4f×", r) // a cache hit is hundreds of times faster; keep its digits
	}
	return fmt.Sprintf("%.2f×", r)
}

// failures formats the failure count of res out of its captures.
func failures(res *result) string {
	if res == nil {
		return "—"
	}
	return fmt.Sprintf("%d/%d", len(res.failures), len(res.failures)+len(res.latencies))
}

// fmtMillis formats d in milliseconds.
func fmtMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// moduleVersion returns the version of the module path built into this
// binary, or "(unknown version)".
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or ""
// where there is none.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f, _, _ := strings.Cut(string(data), " ")
	return f
}

func browserNote(path string) string {
	if path == "" {
		return "it chooses itself (named in its version above)"
	}
	return "`" + path + "` (`PAGESHOT_CHROME_PATH`)"
}

func extraArgs(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return " " + strings.Join(args, " ")
}
