package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The capture every engine is asked for.
const (
	viewportWidth  = 1280
	viewportHeight = 800
)

// engine takes screenshots. Capture is safe for concurrent use.
type engine interface {
	// Name is "baseline" or "pageshot".
	Name() string
	// Capture takes one viewportWidth×viewportHeight PNG screenshot of url
	// and returns the image as soon as it is fully received. The latency is
	// measured up to that point. release frees what the capture still holds
	// (the baseline closes its browser context there); it is never nil and
	// is called before the worker starts its next capture, so its cost
	// shows in the throughput but not in the latency.
	Capture(ctx context.Context, url string) (png []byte, release func(), err error)
	// Close stops the engine and frees everything it holds.
	Close() error
}

// result is what one run of captures on one engine measured.
type result struct {
	latencies []time.Duration // of the successful captures, in order of completion
	sizes     []int           // PNG sizes of the successful captures, in bytes
	failures  []error
	wall      time.Duration // from the first capture's start to the last one's release
}

// throughput returns successful captures per wall-clock second.
func (r *result) throughput() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.wall.Seconds()
}

// percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// the successful latencies, or 0 when there are none.
func (r *result) percentile(p float64) time.Duration {
	return percentile(r.latencies, p)
}

// percentile returns the p-th percentile of ds by the nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(float64(len(s)) * p / 100))
	return s[min(max(rank, 1), len(s))-1]
}

// medianSize returns the median PNG size in bytes, or 0.
func (r *result) medianSize() int {
	if len(r.sizes) == 0 {
		return 0
	}
	s := slices.Clone(r.sizes)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// runLoad makes n captures of url on e with conc workers, each worker
// starting its next capture as soon as its last one is released. Each
// capture gets timeout. It stops early when ctx ends.
func runLoad(ctx context.Context, e engine, url string, conc, n int, timeout time.Duration) *result {
	var (
		r    result
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				d, size, err := captureOnce(ctx, e, url, timeout)
				mu.Lock()
				if err != nil {
					r.failures = append(r.failures, err)
				} else {
					r.latencies = append(r.latencies, d)
					r.sizes = append(r.sizes, size)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.wall = time.Since(start)
	return &r
}

// captureOnce makes one capture and checks that it is a PNG of the viewport
// size. It returns the latency and the PNG size.
func captureOnce(ctx context.Context, e engine, url string, timeout time.Duration) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	img, release, err := e.Capture(ctx, url)
	d := time.Since(start)
	release()
	if err == nil {
		err = checkPNG(img, viewportWidth, viewportHeight)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", e.Name(), err)
	}
	return d, len(img), nil
}

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// checkPNG returns an error unless img is a PNG of w×h pixels. It reads the
// IHDR header only, so that checking costs nothing next to a capture.
func checkPNG(img []byte, w, h int) error {
	if len(img) < 24 || !bytes.HasPrefix(img, pngSignature) || string(img[12:16]) != "IHDR" {
		return errors.New("not a PNG image")
	}
	gw, gh := binary.BigEndian.Uint32(img[16:20]), binary.BigEndian.Uint32(img[20:24])
	if int(gw) != w || int(gh) != h {
		return fmt.Errorf("PNG is %d×%d, want %d×%d", gw, gh, w, h)
	}
	return nil
}

// countFailures groups errors by message, most frequent first.
func countFailures(errs []error) []failureCount {
	counts := map[string]int{}
	for _, err := range errs {
		counts[err.Error()]++
	}
	var out []failureCount
	for msg, n := range counts {
		out = append(out, failureCount{msg, n})
	}
	slices.SortFunc(out, func(a, b failureCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.msg, b.msg))
	})
	return out
}

// failureCount is how often one failure message occurred.
type failureCount struct {
	msg string
	n   int
}
