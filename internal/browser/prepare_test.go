package browser

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/waittest"
)

// anyURL lets every URL through; the captures here are of html.
type anyURL struct{}

func (anyURL) CheckURL(context.Context, *url.URL) error { return nil }

// TestPrepareBetweenCaptures: with ready full, the browser prepares no tab
// while captures run, and stocks up again once they end; with ready short
// of tabs, it prepares one while captures run. Real Chromium, two captures
// at once.
func TestPrepareBetweenCaptures(t *testing.T) {
	if _, err := FindChrome(); err != nil {
		t.Fatal(err) // make setup installs it
	}
	p, err := New(Config{Guard: anyURL{}, Concurrency: 2, FastPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		starts  []prepareEvent // of p's browser
		ended   int
		changed waittest.Cond
	)
	prepareHook = func(ev prepareEvent) {
		if ev.inst.pool != p {
			return
		}
		mu.Lock()
		if ev.done {
			ended++
		} else {
			starts = append(starts, ev)
		}
		mu.Unlock()
		changed.Changed()
	}
	ctx := t.Context()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Stop(sctx)
		prepareHook = nil // once no filler runs
	})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	inst, err := p.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(starts), ended
	}
	// The stock is full when ready is and each of the two fillers holds a
	// tab it cannot hand over: three tabs prepared after the launch's own,
	// which goes to ready first, none being prepared. A preparation ends
	// (done) once its tab is in ready or waits for room, and the last
	// ones start after the captures are over, so each change to this
	// state comes with an event of the hook.
	full := func(n int) {
		t.Helper()
		ok := changed.Wait(30*time.Second, func() bool {
			s, e := counts()
			return len(inst.ready) == cap(inst.ready) && inst.busy.Load() == 0 && s >= n && e == s
		})
		if !ok {
			s, e := counts()
			t.Fatalf("stock not full: %d of %d ready, %d busy, %d preparations started and %d ended (want %d)", len(inst.ready), cap(inst.ready), inst.busy.Load(), s, e, n)
		}
	}
	full(3)
	before, _ := counts()

	opts, err := pageshot.ParseOptions(pageshot.QueryOptions(url.Values{"html": {`<body style="margin:0;background:#0a0"><p>hello</p>`}}), pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, err := p.Render(ctx, opts)
			if err != nil {
				t.Error(err)
				return
			}
			img, err := png.Decode(bytes.NewReader(c.Data))
			if err != nil {
				t.Error(err)
				return
			}
			if r, g, b, _ := img.At(640, 700).RGBA(); r>>8 != 0 || g>>8 != 0xaa || b>>8 != 0 {
				t.Errorf("pixel at (640, 700) = %d,%d,%d, want the page's green 0,170,0", r>>8, g>>8, b>>8)
			}
		})
	}
	wg.Wait()
	// Both tabs taken are replaced once the captures end.
	full(before + 2)
	mu.Lock()
	for i, s := range starts {
		if s.busy > 0 && s.ready == cap(inst.ready) {
			t.Errorf("preparation %d started while %d captures ran with ready full", i+1, s.busy)
		}
	}
	mu.Unlock()

	// Three tabs taken and held, as by three captures at once: the
	// fillers' two fill ready again, the third leaves it short, and a tab
	// is prepared while the three run.
	before, _ = counts()
	var held []*tab
	t.Cleanup(func() { // before Stop, which waits for them
		for _, tb := range held {
			inst.done(tb)
		}
	})
	for range 3 {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tb, err := inst.take(tctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tb)
	}
	if !changed.Wait(30*time.Second, func() bool { s, _ := counts(); return s > before }) {
		t.Fatalf("no tab prepared with %d of %d ready and %d captures running", len(inst.ready), cap(inst.ready), inst.busy.Load())
	}
	mu.Lock()
	if s := starts[before]; s.busy == 0 || s.ready == cap(inst.ready) {
		t.Errorf("the preparation started with %d busy and %d ready, want captures running and ready short", s.busy, s.ready)
	}
	mu.Unlock()
}
