package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
)

// logf writes a progress line to stderr; stdout carries the report only.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// run serves the page, starts the engines, warms them up, measures every
// concurrency level on each engine in turn, and prints the report to stdout
// (and to cfg.out).
func run(ctx context.Context, cfg config) error {
	chrome, err := findChromium(ctx, cfg.chrome)
	if err != nil {
		return err
	}
	if chrome.launcher != "" {
		logf("chromium: %s is a launcher script that adds flags; running %s directly", chrome.launcher, chrome.path)
	}
	page, err := startPageServer()
	if err != nil {
		return err
	}
	defer page.Close()
	logf("page: %s (%d KB HTML, %d PNG images of %d KB, %d inline SVGs)",
		page.URL, page.HTMLBytes/1024, page.PNGCount, page.PNGBytes/1024, page.SVGCount)

	rep := &report{date: time.Now().UTC(), chrome: chrome, cpus: runtime.NumCPU(), page: page, cfg: cfg, loadStart: loadAverage()}
	engines, err := startEngines(ctx, cfg, chrome, rep)
	closeAll := sync.OnceFunc(func() {
		for _, e := range engines {
			if err := e.Close(); err != nil {
				rep.warnings = append(rep.warnings, err.Error())
				logf("warning: %v", err)
			}
		}
	})
	defer closeAll()
	if err != nil {
		return err
	}
	if rep.rows, err = measure(ctx, cfg, engines, page.URL); err != nil {
		return err
	}
	rep.loadEnd = loadAverage()
	closeAll() // now, so that a server that does not stop cleanly is in the report

	md := rep.markdown()
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		logf("report written to %s", cfg.out)
	}
	return nil
}

// startEngines starts the engines that cfg asks for, baseline first. It
// returns those it started also with an error, for the caller to close.
func startEngines(ctx context.Context, cfg config, chrome chromium, rep *report) ([]engine, error) {
	var engines []engine
	if cfg.runs("baseline") {
		logf("baseline: starting chromium")
		b, err := startBaseline(ctx, chrome.path)
		if err != nil {
			return engines, err
		}
		engines = append(engines, b)
	}
	if cfg.runs("pageshot") {
		logf("pageshot: starting %s serve", cfg.bin)
		var echo io.Writer
		if cfg.verbose {
			echo = os.Stderr
		}
		p, err := startPageshot(ctx, cfg.bin, cfg.key, cfg.pageshotChrome, cfg.serveArgs, echo)
		if err != nil {
			return engines, err
		}
		engines = append(engines, p)
		if cfg.cache {
			engines = append(engines, p.cached())
		}
		rep.pageshotVersion, rep.keyNote = p.version, p.keyNote
		logf("pageshot: listening on %s; API key: %s", p.srv.baseURL, p.keyNote)
	}
	return engines, nil
}

// measure warms the engines up, then runs every concurrency level on each
// engine in turn. The engine that goes first alternates from level to
// level, so that a drift in the machine's load hits both alike.
func measure(ctx context.Context, cfg config, engines []engine, url string) ([]levelRow, error) {
	for _, e := range engines {
		if err := warmUp(ctx, e, url, cfg); err != nil {
			return nil, err
		}
	}
	var rows []levelRow
	for i, level := range cfg.levels {
		order := slices.Clone(engines)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		row := levelRow{concurrency: level, captures: cfg.captures(level), results: map[string]*result{}}
		for _, e := range order {
			r := runLoad(ctx, e, url, level, row.captures, cfg.timeout)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			logf("%-8s concurrency %d: %d ok, %d failed, p50 %s, p90 %s, %.2f captures/s",
				e.Name(), level, len(r.latencies), len(r.failures), fmtMillis(r.percentile(50)), fmtMillis(r.percentile(90)), r.throughput())
			for _, f := range countFailures(r.failures) {
				logf("    %d× %s", f.n, f.msg)
			}
			row.results[e.Name()] = r
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// warmUp makes cfg.warmup sequential captures on e, which are not measured.
// It fails when every one of them fails, with the first error, because the
// measurements would then be meaningless.
func warmUp(ctx context.Context, e engine, url string, cfg config) error {
	if cfg.warmup == 0 {
		return nil
	}
	logf("%s: %d warm-up captures", e.Name(), cfg.warmup)
	r := runLoad(ctx, e, url, 1, cfg.warmup, cfg.timeout)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, f := range countFailures(r.failures) {
		logf("    warm-up: %d× %s", f.n, f.msg)
	}
	if len(r.latencies) == 0 {
		return fmt.Errorf("every warm-up capture failed: %w", r.failures[0])
	}
	return nil
}
